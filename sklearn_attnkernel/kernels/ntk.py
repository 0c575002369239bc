"""Infinite-width neural tangent kernel of the two-layer ReLU network (arXiv 2603.13085, Thm 4.3).

numpy only: this module must not import torch.

Derivation for :class:`~sklearn_attnkernel.TwoLayerReLU`,
``f(x) = (1/√m) Σ_r a_r relu(w_rᵀ x)`` with ``w_r ~ N(0, σ_w² I)`` trained directly and
``a_r = ±1``:

* ``∂f/∂w_r = a_r 1[w_rᵀx > 0] x / √m``, so the first-layer NTK is
  ``(1/m) Σ_r a_r² 1[w_rᵀx > 0] 1[w_rᵀx' > 0] ⟨x, x'⟩``. With ``a_r² = 1`` it converges to
  ``⟨x, x'⟩ P(wᵀx > 0, wᵀx' > 0) = ⟨x, x'⟩ (π − θ) / (2π)``, θ the angle between x and x'
  (the probability that a Gaussian half-space contains two vectors at angle θ). The scale of w
  does not enter: ``1[wᵀx > 0]`` is scale-free.
* ``∂f/∂a_r = relu(w_rᵀ x) / √m``, so a trained readout adds
  ``(1/m) Σ_r relu(w_rᵀx) relu(w_rᵀx') → E[relu(wᵀx) relu(wᵀx')]
  = σ_w² ‖x‖ ‖x'‖ (sin θ + (π − θ) cos θ) / (2π)``, the first-order arc-cosine kernel (the NNGP
  kernel of the hidden layer).

Both limits are the same for every output column, so the output-averaged NTK of a network with
several outputs has the same limit. The constants are checked against the empirical NTK at large
width in ``tests/kernels/test_ntk.py``.
"""

from numbers import Real

import numpy as np
from sklearn.gaussian_process.kernels import Kernel
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array

from .._utils.memory import DEFAULT_MEMORY_BUDGET, check_allocation
from .._utils.scale import ldexp_checked, scale_by_pow2

__all__ = ["TwoLayerReLUNTK", "infinite_width_ntk"]

# n_X × n_Y float64 arrays alive at once in _ntk: gram, norm product, cos/θ, π − θ, kernel, sin θ.
_NTK_ARRAYS = 6


def _row_norms(X):
    return np.sqrt(np.einsum("ij,ij->i", X, X))


def _ntk(X, Y, norms_x, norms_y, train_readout, sigma_w, symmetric):
    """Closed form on validated float64 arrays; written by hand (no library ships this kernel)."""
    gram = X @ Y.T
    if symmetric:
        # BLAS need not round (X Xᵀ)ᵢⱼ and (X Xᵀ)ⱼᵢ alike; (a + b)/2 is, so K is exactly symmetric
        gram += gram.T
        gram *= 0.5
    norm_prod = np.multiply.outer(norms_x, norms_y)
    cos = np.zeros_like(gram)
    np.divide(gram, norm_prod, out=cos, where=norm_prod > 0)
    np.clip(cos, -1.0, 1.0, out=cos)
    if symmetric:
        # the angle of a nonzero row with itself is exactly 0 (round-off would give ~1e-8)
        np.fill_diagonal(cos, np.where(norms_x > 0, 1.0, 0.0))
    theta = np.arccos(cos)
    pi_minus_theta = np.pi - theta
    kernel = gram * pi_minus_theta
    if train_readout:
        # σ_w² ‖x‖‖x'‖ (sin θ + (π − θ) cos θ); ‖x‖‖x'‖ cos θ is the Gram entry itself
        kernel += sigma_w**2 * (norm_prod * np.sin(theta) + pi_minus_theta * gram)
    kernel /= 2.0 * np.pi
    return kernel


def infinite_width_ntk(
    X, Y=None, *, train_readout=False, sigma_w=1.0, memory_budget=DEFAULT_MEMORY_BUDGET
):
    """Infinite-width NTK of the two-layer ReLU network, in closed form.

    ``Θ∞(x, x') = ⟨x, x'⟩ (π − θ) / (2π)`` with ``θ = arccos(⟨x, x'⟩ / (‖x‖ ‖x'‖))``, plus
    ``σ_w² ‖x‖ ‖x'‖ (sin θ + (π − θ) cos θ) / (2π)`` when the readout layer is trained
    (arXiv 2603.13085, Thm 4.3; :ref:`theory_ntk`). The constants are those of
    :class:`~sklearn_attnkernel.TwoLayerReLU` (``w ~ N(0, σ_w² I)`` trained directly, ``1/√m``
    outside the sum); the module docstring derives them.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Left argument. Rows need not be unit-norm.
    Y : array-like of shape (n_samples_Y, n_features), default=None
        Right argument; ``None`` (or ``X`` itself) means ``Y = X``: the angle of each row with
        itself is then set to exactly 0.
    train_readout : bool, default=False
        Whether the readout layer is trained too; adds the arc-cosine (NNGP) term.
    sigma_w : float, default=1.0
        Standard deviation of the first-layer weights. Only the readout term depends on it.
    memory_budget : int or float, default=4 * 2**30
        Bytes the ``n_X × n_Y`` output and its ``n_X × n_Y`` temporaries may take (4 GiB by
        default). A larger request raises a ValueError naming the size before anything is
        allocated: compute the kernel for row blocks of ``X`` instead.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y), dtype float64
        The kernel matrix. A zero row gives a zero row/column (θ is undefined there, and every
        term carries a factor ``‖x‖``).

    See Also
    --------
    TwoLayerReLUNTK : The same kernel as a scikit-learn ``Kernel``.
    empirical_ntk : The finite-width NTK of a network, which converges to this one.

    Notes
    -----
    ``X`` and ``Y`` are divided by powers of two (exact) before the products and the result is
    multiplied back (exact), so the kernel is right wherever its entries fit float64, whatever
    the scale of the inputs; a ValueError names an overflow or underflow of the kernel itself
    (e.g. ``max|x| ≈ 1e200``). Cosines are clipped to ``[-1, 1]`` before ``arccos``. Near
    ``θ = 0`` the arccos amplifies the round-off of the cosine (``δθ ≈ √(2 δu)``), so entries for
    distinct but nearly parallel rows carry a relative error up to about 1e-8; the diagonal of
    ``k(X, X)`` is exact. The cost is O(n_X n_Y d) for the Gram matrix plus a few elementwise
    passes over the ``n_X × n_Y`` output.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import infinite_width_ntk
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> infinite_width_ntk(X)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    symmetric = Y is None or Y is X
    X = check_array(X, dtype=np.float64, input_name="X")
    if symmetric:
        Y = X
    else:
        Y = check_array(Y, dtype=np.float64, input_name="Y")
        if Y.shape[1] != X.shape[1]:
            raise ValueError(
                f"Y has {Y.shape[1]} features but X has {X.shape[1]}; pass arrays with the same "
                "number of columns."
            )
    n_x, n_y = X.shape[0], Y.shape[0]
    check_allocation(
        _NTK_ARRAYS * n_x * n_y * np.dtype(np.float64).itemsize,
        memory_budget,
        what=f"infinite_width_ntk: the {n_x}×{n_y} float64 kernel with its {_NTK_ARRAYS - 1} "
        f"temporaries of that size",
        way_out="compute it for row blocks of X (infinite_width_ntk(X[i:j], Y)), or on fewer rows",
    )
    X, e_x = scale_by_pow2(X)  # exact; every term is homogeneous of degree 1 in x and in y
    Y, e_y = (X, e_x) if symmetric else scale_by_pow2(Y)
    norms_x = _row_norms(X)
    norms_y = norms_x if symmetric else _row_norms(Y)
    K = _ntk(X, Y, norms_x, norms_y, bool(train_readout), float(sigma_w), symmetric)
    return ldexp_checked(
        K, e_x + e_y, what="infinite_width_ntk: the kernel", fix="rescale X (and Y)"
    )


# Applied by assignment, not with @-syntax (the same at runtime), so that mutmut mutates the body
# (docs/testing.rst).
infinite_width_ntk = validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like", None],
        "train_readout": ["boolean"],
        "sigma_w": [Interval(Real, 0, None, closed="neither")],
        "memory_budget": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)(infinite_width_ntk)


class TwoLayerReLUNTK(Kernel):
    """Infinite-width NTK of the two-layer ReLU network as a scikit-learn kernel.

    Wraps :func:`infinite_width_ntk` so that it can be passed to
    :class:`~sklearn.kernel_ridge.KernelRidge` or
    :class:`~sklearn.gaussian_process.GaussianProcessRegressor`. For example
    ``make_pipeline(Normalizer(), LinearizedAttention(), KernelRidge(kernel=TwoLayerReLUNTK()))``
    is kernel ridge regression with MLP-Attn's infinite-width NTK, and the same without the
    attention step that of 2L-ReLU. It equals the infinite-width network's prediction only for
    squared loss under gradient flow (with the ridge as the penalty), not for the networks as the
    paper trains them (Adam, cross-entropy for several classes).

    Parameters
    ----------
    train_readout : bool, default=False
        Whether the readout layer is trained too (adds the arc-cosine term).
    sigma_w : float, default=1.0
        Standard deviation of the first-layer weights; only the readout term depends on it.
        Fixed: it is not a tunable hyperparameter (the kernel has none).

    See Also
    --------
    infinite_width_ntk : The function behind this kernel.

    Notes
    -----
    The kernel has no hyperparameters, so ``theta`` is empty and ``eval_gradient=True`` returns a
    gradient of shape ``(n, n, 0)``. ``diag`` costs O(n d): ``Θ∞(x, x) = ‖x‖² / 2``, plus
    ``σ_w² ‖x‖² / 2`` with a trained readout. The kernel is not stationary.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.kernel_ridge import KernelRidge
    >>> from sklearn_attnkernel import TwoLayerReLUNTK
    >>> X = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> y = np.array([1.0, 0.0, -1.0])
    >>> krr = KernelRidge(kernel=TwoLayerReLUNTK(), alpha=1e-3).fit(X, y)
    >>> krr.predict(X).round(2)
    array([ 1.,  0., -1.])
    """

    def __init__(self, *, train_readout=False, sigma_w=1.0):
        self.train_readout = train_readout
        self.sigma_w = sigma_w

    def _checked_params(self):
        if not isinstance(self.train_readout, bool | np.bool_):
            raise TypeError(
                f"train_readout must be a bool, got {self.train_readout!r}; pass True or False."
            )
        sigma_w = self.sigma_w
        if (
            isinstance(sigma_w, bool | np.bool_)
            or not isinstance(sigma_w, Real)
            or not np.isfinite(sigma_w)
            or sigma_w <= 0
        ):
            raise ValueError(f"sigma_w must be a finite number > 0, got {sigma_w!r}.")
        return bool(self.train_readout), float(sigma_w)

    def __call__(self, X, Y=None, eval_gradient=False):
        """Return the kernel ``k(X, Y)`` and optionally its (empty) gradient.

        Parameters
        ----------
        X : ndarray of shape (n_samples_X, n_features)
            Left argument.
        Y : ndarray of shape (n_samples_Y, n_features), default=None
            Right argument; ``None`` evaluates ``k(X, X)``.
        eval_gradient : bool, default=False
            Also return the gradient with respect to the (zero) hyperparameters. Only allowed
            when ``Y`` is None.

        Returns
        -------
        K : ndarray of shape (n_samples_X, n_samples_Y)
            Kernel matrix.
        K_gradient : ndarray of shape (n_samples_X, n_samples_X, 0)
            Only returned when ``eval_gradient`` is True.
        """
        train_readout, sigma_w = self._checked_params()
        if eval_gradient and Y is not None:
            raise ValueError(
                "eval_gradient=True is only supported when Y is None; call the kernel with Y=None."
            )
        K = infinite_width_ntk(X, Y, train_readout=train_readout, sigma_w=sigma_w)
        if eval_gradient:
            return K, np.empty((K.shape[0], K.shape[0], 0))
        return K

    def diag(self, X):
        """Return the diagonal ``k(x, x)`` for each row of ``X`` in O(n d).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        K_diag : ndarray of shape (n_samples,)
            ``‖x‖² / 2`` (plus ``σ_w² ‖x‖² / 2`` with a trained readout).
        """
        train_readout, sigma_w = self._checked_params()
        X, e = scale_by_pow2(check_array(X, dtype=np.float64, input_name="X"))
        sq_norms = np.einsum("ij,ij->i", X, X)
        scale = 0.5 * (1.0 + sigma_w**2) if train_readout else 0.5
        return ldexp_checked(
            scale * sq_norms, 2 * e, what="TwoLayerReLUNTK: the diagonal", fix="rescale X"
        )

    def is_stationary(self):
        """Whether the kernel is stationary (it is not).

        Returns
        -------
        stationary : bool
            Always False: the kernel depends on the norms of its arguments, not only on their
            difference.
        """
        return False

    def __repr__(self):
        return f"{type(self).__name__}(train_readout={self.train_readout}, sigma_w={self.sigma_w})"
