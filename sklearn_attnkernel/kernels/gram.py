"""The Gram-induced kernel of linearized attention (PAPER.md §2, Thm 4.2).

Linearized attention maps a point ``x`` to ``φ(x) = C x`` with ``C = X_refᵀ X_ref`` built from a
fixed reference set. The kernel it induces is ``k(x, x') = φ(x)ᵀ φ(x') = xᵀ C² x'``; on the
reference set itself its matrix is ``(X_ref X_refᵀ)³``. Only the ``d × d`` matrix ``C`` is ever
formed, never an ``n × n`` Gram matrix of the reference set.

This module is numpy/scipy only: importing it does not import torch.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.gaussian_process.kernels import Kernel
from sklearn.utils import check_array
from sklearn.utils.extmath import row_norms, safe_sparse_dot

from .._utils.rows import list_rows

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


def _zero_rows_message(zero_rows, name):
    return (
        f"GramInducedKernel(normalize=True): the attention features C x of {name} rows "
        f"[{list_rows(zero_rows)}] are zero, so their cosine is undefined. Remove those rows (a "
        "row is mapped to zero when it is orthogonal to every reference row) or use "
        "normalize=False."
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
    and allocates no ``n_ref × n_ref`` matrix. Computations are done in float64.

    Parameters
    ----------
    reference : {array-like, sparse matrix} of shape (n_reference, n_features)
        The reference set (usually the training matrix). It is stored as given and validated
        (2-D, real, finite) each time the kernel is evaluated.

    normalize : bool, default=False
        If True, return the cosine similarity of the attention features ``C x`` instead of their
        inner product. Rows whose features are zero then raise a ValueError naming them.

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

    def __init__(self, reference, *, normalize=False):
        self.reference = reference
        self.normalize = normalize

    # ----------------------------------------------------------------------------- internals
    def _operator(self):
        """Return the validated reference set's ``d × d`` matrix ``C = referenceᵀ reference``."""
        if not isinstance(self.normalize, bool | np.bool_):
            raise TypeError(
                f"GramInducedKernel: normalize must be a bool, got {self.normalize!r} "
                f"({type(self.normalize).__name__}). Pass normalize=True or normalize=False."
            )
        reference = _check_reference(self.reference)
        C = safe_sparse_dot(reference.T, reference, dense_output=True)
        return np.asarray(C, dtype=np.float64)

    def _features(self, X, C, name):
        """Validate ``X`` against ``C`` and return its (optionally normalised) features ``X C``."""
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
        # C is symmetric, so the row-wise features C x are the rows of X C.
        F = np.asarray(safe_sparse_dot(X, C, dense_output=True))
        if self.normalize:
            norms = np.sqrt(row_norms(F, squared=True))
            zero_rows = np.flatnonzero(norms == 0)
            if zero_rows.size:
                raise ValueError(_zero_rows_message(zero_rows, name))
            F = F / norms[:, np.newaxis]
        return F

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
        C = self._operator()
        F_X = self._features(X, C, "X")
        F_Y = F_X if Y is None else self._features(Y, C, "Y")
        K = F_X @ F_Y.T
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
            Diagonal of ``k(X, X)``: ``‖C x‖²`` per row, or ones when ``normalize=True``.
        """
        F = self._features(X, self._operator(), "X")
        if self.normalize:
            return np.ones(F.shape[0])
        return row_norms(F, squared=True)

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
