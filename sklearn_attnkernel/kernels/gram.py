"""The Gram-induced kernel of linearized attention (arXiv 2603.13085, Thm 4.2).

Linearized attention maps a point ``x`` to ``φ(x) = C x`` with ``C = X_refᵀ X_ref`` built from a
fixed reference set. The kernel it induces is ``k(x, x') = φ(x)ᵀ φ(x') = xᵀ C² x'``; on the
reference set itself its matrix is ``(X_ref X_refᵀ)³``. Only the ``d × d`` matrix ``C`` is ever
formed, never an ``n × n`` Gram matrix of the reference set.

This module is numpy/scipy only: importing it does not import torch.
"""

import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.gaussian_process.kernels import Kernel
from sklearn.utils import check_array
from sklearn.utils.extmath import row_norms, safe_sparse_dot

from .._utils.memory import DEFAULT_MEMORY_BUDGET, check_allocation
from .._utils.rows import ZeroRowsWarning, list_rows
from .._utils.scale import ldexp_checked, scale_by_pow2, scale_rows_by_pow2

__all__ = ["GramInducedKernel"]

_ACCEPT_SPARSE = ("csr", "csc")


def _check_reference(reference):
    """Validate the reference set: 2-D, numeric, finite, at least one row."""
    if reference is None:
        raise TypeError(
            "GramInducedKernel needs a reference set: got reference=None. Pass the training "
            "matrix, e.g. GramInducedKernel(X_train)."
        )
    if isinstance(reference, list | tuple):
        reference = np.asarray(reference)  # so that complex entries are reported as such
    try:
        return check_array(
            reference,
            accept_sparse=_ACCEPT_SPARSE,
            dtype=np.float64,
            ensure_min_samples=1,
            input_name="reference",
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"GramInducedKernel got an invalid reference set: {exc} Pass a finite, real-valued "
            "2-D array of shape (n_reference, n_features)."
        ) from exc


def _warn_zero_rows(zero_rows, name):
    warnings.warn(
        f"GramInducedKernel(normalize=True): the attention features C x of {name} rows "
        f"[{list_rows(zero_rows)}] are exactly zero, so their cosine is undefined; their kernel "
        "entries are set to 0, as sklearn.preprocessing.normalize leaves a zero row zero. (A "
        "row is mapped to zero when it is orthogonal to every reference row.)",
        ZeroRowsWarning,
        stacklevel=4,
    )


def _to_scale(K_s, shift, what):
    """``K_s · 2^shift``, or a ValueError naming the overflow or underflow."""
    return ldexp_checked(
        K_s,
        shift,
        what=f"GramInducedKernel: {what}",
        fix="rescale X and the reference set, or use normalize=True, which does not depend on "
        "their scale",
    )


class GramInducedKernel(Kernel):
    r"""Kernel induced by linearized attention over a fixed reference set.

    With ``C = referenceᵀ reference`` (``d × d``), the kernel is

    .. math::
        k(x, x') = φ(x)^\top φ(x') = x^\top C^2 x',
        \qquad φ(x) = C x = \sum_k \langle x, x_k\rangle x_k .

    On the reference set itself its matrix is ``G³`` with ``G = reference referenceᵀ``. With
    ``normalize=True`` it is the cosine of the attention features,
    ``φ(x)ᵀφ(x') / (‖φ(x)‖ ‖φ(x')‖)``, which is the linear kernel of
    ``LinearizedAttention(normalize=True)`` features.

    The kernel has no tunable hyperparameters (``theta`` is empty), so a Gaussian process optimiser
    leaves it unchanged; combine it with e.g. ``WhiteKernel`` or ``ConstantKernel`` for tunable
    noise or scale. Evaluating ``k(X, Y)`` costs ``O(n_ref d² + (n_X + n_Y) d² + n_X n_Y d)``
    and allocates no ``n_ref × n_ref`` matrix. Computations are done in float64, on inputs
    divided by powers of two (exact), so the kernel is right wherever its values fit float64;
    where they overflow or underflow it a ValueError names the cause.

    Parameters
    ----------
    reference : {array-like, sparse matrix} of shape (n_reference, n_features)
        The reference set (usually the training matrix). It is stored as given and validated
        (2-D, real, finite) each time the kernel is evaluated.

    normalize : bool, default=False
        If True, return the cosine similarity of the attention features ``C x`` instead of their
        inner product. It does not change when `X`, `Y` or the reference set are rescaled by
        positive factors (bit-identical for powers of two): all three are divided by a power of
        two internally. A row whose features are exactly zero gets zero kernel entries (and a
        zero diagonal entry), as :func:`sklearn.preprocessing.normalize` leaves a zero row zero,
        with a ``UserWarning`` naming it.

    memory_budget : int or float, default=4 * 2**30
        Bytes the ``n_X × n_Y`` kernel matrix may take (4 GiB by default). A larger request
        raises a ValueError naming the size before anything is allocated; evaluate the kernel on
        row blocks instead.

    See Also
    --------
    sklearn_attnkernel.LinearizedAttention : The feature map ``x ↦ C x`` as a transformer; use it
        in a pipeline for cross-validation (see Notes).
    sklearn.gaussian_process.kernels.DotProduct : The linear kernel ``xᵀx' + σ₀²``.

    Notes
    -----
    **Cross-validation leaks with this kernel.** The reference set is fixed when the kernel is
    constructed. ``cross_validate(KernelRidge(kernel=GramInducedKernel(X)), X, y)`` therefore
    builds ``C`` from *all* of ``X``, test folds included, in every fold. The leak-free equivalent
    re-fits the reference set on each training fold::

        make_pipeline(LinearizedAttention(normalize=False), KernelRidge(kernel="linear"))

    It gives the same predictions as ``KernelRidge(kernel=GramInducedKernel(X_train))`` when
    fitted on ``X_train``: the transformer maps every row to ``x C`` with ``C`` from the training
    rows, and the linear kernel of those features is ``x C² x'``.

    ``Kernel.__eq__`` compares parameters with ``!=``, which is ambiguous for array parameters;
    this class compares the reference sets with :func:`numpy.array_equal` instead.

    References
    ----------
    .. [1] "Linearized Attention Cannot Enter the Kernel Regime at Any Practical Width",
       arXiv:2603.13085, Theorem 4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.kernel_ridge import KernelRidge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_attnkernel import GramInducedKernel, LinearizedAttention
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    >>> kernel = GramInducedKernel(X)
    >>> K = kernel(X)
    >>> G = X @ X.T
    >>> bool(np.allclose(K, G @ G @ G))
    True
    >>> krr = KernelRidge(kernel=kernel, alpha=1.0).fit(X, y)
    >>> leak_free = make_pipeline(
    ...     LinearizedAttention(normalize=False), KernelRidge(kernel="linear", alpha=1.0)
    ... ).fit(X, y)
    >>> bool(np.allclose(krr.predict(X[:5]), leak_free.predict(X[:5])))
    True
    """

    def __init__(self, reference, *, normalize=False, memory_budget=DEFAULT_MEMORY_BUDGET):
        self.reference = reference
        self.normalize = normalize
        self.memory_budget = memory_budget

    # ----------------------------------------------------------------------------- internals
    def _operator(self):
        """Return ``(C_s, e)``: ``C = referenceᵀ reference = 2^e · C_s``, scaled to avoid overflow.

        The reference set is divided by a power of two (exact) before the product, so ``C_s``
        is finite for any finite reference set and ``e`` carries the scale.
        """
        if not isinstance(self.normalize, bool | np.bool_):
            raise TypeError(
                f"GramInducedKernel: normalize must be a bool, got {self.normalize!r} "
                f"({type(self.normalize).__name__}). Pass normalize=True or normalize=False."
            )
        budget = self.memory_budget
        if isinstance(budget, bool | np.bool_) or not isinstance(budget, Real) or not budget > 0:
            raise ValueError(
                f"GramInducedKernel: memory_budget must be a number of bytes > 0, got {budget!r}."
            )
        reference, e = scale_by_pow2(_check_reference(self.reference))
        C = safe_sparse_dot(reference.T, reference, dense_output=True)
        return np.asarray(C, dtype=np.float64), 2 * e

    def _features(self, X, C, name):
        """Validate ``X`` against ``C``; return ``(F_s, e)`` with features ``X C = 2^e · F_s``.

        With ``normalize=True`` the rows of ``F_s`` are unit-norm (zero rows stay zero, with a
        warning) and ``e = 0``.
        """
        if isinstance(X, list | tuple):
            X = np.asarray(X)  # so that complex entries are reported as such
        try:
            X = check_array(
                X,
                accept_sparse=_ACCEPT_SPARSE,
                dtype=np.float64,
                ensure_min_samples=1,
                input_name=name,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"GramInducedKernel got an invalid {name}: {exc}") from exc
        if X.shape[1] != C.shape[0]:
            raise ValueError(
                f"GramInducedKernel: {name} has {X.shape[1]} features but the reference set has "
                f"{C.shape[0]}. Pass rows with the reference set's {C.shape[0]} columns."
            )
        X, e = scale_by_pow2(X)
        # C is symmetric, so the row-wise features C x are the rows of X C.
        F = np.asarray(safe_sparse_dot(X, C, dense_output=True))
        if not self.normalize:
            return F, e
        F = scale_rows_by_pow2(F)
        norms = np.sqrt(row_norms(F, squared=True))
        zero_rows = np.flatnonzero(norms == 0)
        if zero_rows.size:
            _warn_zero_rows(zero_rows, name)
            norms[zero_rows] = 1.0
        return F / norms[:, np.newaxis], 0

    # --------------------------------------------------------------------------- Kernel API
    def __call__(self, X, Y=None, eval_gradient=False):
        """Return the kernel ``k(X, Y)`` and optionally its (empty) gradient.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
            Left argument of the returned kernel ``k(X, Y)``.

        Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
            Right argument of the returned kernel ``k(X, Y)``. If None, ``k(X, X)`` is evaluated.

        eval_gradient : bool, default=False
            Whether to also return the gradient with respect to the log-hyperparameters. The
            kernel has none, so the gradient has shape ``(n_samples_X, n_samples_X, 0)``. Only
            supported when ``Y`` is None.

        Returns
        -------
        K : ndarray of shape (n_samples_X, n_samples_Y)
            Kernel ``k(X, Y)``.

        K_gradient : ndarray of shape (n_samples_X, n_samples_X, 0), optional
            The (empty) gradient; only returned when ``eval_gradient`` is True.
        """
        if eval_gradient and Y is not None:
            raise ValueError(
                "GramInducedKernel: the gradient can only be evaluated when Y is None; got "
                "eval_gradient=True together with Y. Call kernel(X, eval_gradient=True)."
            )
        C, e_C = self._operator()
        F_X, e_X = self._features(X, C, "X")
        F_Y, e_Y = (F_X, e_X) if Y is None else self._features(Y, C, "Y")
        n_X, n_Y = F_X.shape[0], F_Y.shape[0]
        check_allocation(
            n_X * n_Y * np.dtype(np.float64).itemsize,
            self.memory_budget,
            what=f"GramInducedKernel: the {n_X}×{n_Y} float64 kernel matrix",
            way_out="evaluate it on row blocks of X (or of Y), or on fewer rows",
        )
        K = F_X @ F_Y.T
        if Y is None:
            # BLAS need not round K[i, j] and K[j, i] alike; (a + b)/2 is exactly symmetric
            K += K.T
            K *= 0.5
        if not self.normalize:
            K = _to_scale(K, e_X + e_Y + 2 * e_C, "the kernel X C² Yᵀ")
        if eval_gradient:
            return K, np.empty((K.shape[0], K.shape[0], 0))
        return K

    def diag(self, X):
        """Return the diagonal of ``k(X, X)`` in ``O(n d²)``, without the ``n × n`` matrix.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
            Argument of the kernel.

        Returns
        -------
        K_diag : ndarray of shape (n_samples_X,)
            Diagonal of ``k(X, X)``: ``‖C x‖²`` per row; with ``normalize=True`` one per row,
            zero for a row whose features are zero.
        """
        C, e_C = self._operator()
        F, e_X = self._features(X, C, "X")
        if self.normalize:
            return (row_norms(F, squared=True) > 0).astype(np.float64)
        return _to_scale(row_norms(F, squared=True), 2 * (e_X + e_C), "the diagonal ‖C x‖²")

    def is_stationary(self):
        """Return False: the kernel depends on the points, not only on their difference.

        Returns
        -------
        stationary : bool
            Always False.
        """
        return False

    def __eq__(self, b):
        if type(self) is not type(b):
            return False
        if bool(self.normalize) != bool(b.normalize):
            return False
        ref_a, ref_b = self.reference, b.reference
        if ref_a is ref_b:
            return True
        if sp.issparse(ref_a) or sp.issparse(ref_b):
            if not (sp.issparse(ref_a) and sp.issparse(ref_b)) or ref_a.shape != ref_b.shape:
                return False
            return (ref_a != ref_b).nnz == 0
        return bool(np.array_equal(np.asarray(ref_a), np.asarray(ref_b)))

    __hash__ = None

    def __repr__(self):
        shape = getattr(self.reference, "shape", None)
        if shape is None:
            try:
                shape = np.shape(self.reference)
            except (TypeError, ValueError):
                shape = None
        described = (
            f"<array of shape {tuple(shape)}>"
            if shape is not None
            else type(self.reference).__name__
        )
        return f"{type(self).__name__}(reference={described}, normalize={self.normalize!r})"
