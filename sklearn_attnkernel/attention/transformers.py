"""Attention transforms over a fixed reference set (arXiv 2603.13085; :ref:`theory_attention`).

Two transformers and one pure function:

- :func:`linearized_attention_operator` builds the ``d × d`` operator ``M`` of linearized attention
  (softmax linearised as ``exp(a) ≈ 1 + a``) so that the attention output of any row ``x`` is
  ``x @ M``. The reference set only enters through ``C = X_refᵀ X_ref``: the ``n × n`` Gram matrix
  is never formed, so fit and transform cost ``O(n d²)`` instead of ``O(n² d)``. The linearisation
  keeps only the ``a`` of ``1 + a``: it drops the constant term and the softmax normaliser (see
  :class:`LinearizedAttention`).
- :class:`LinearizedAttention` stores that operator at ``fit`` and applies it (then ℓ2-normalises
  the rows) at ``transform``.
- :class:`SoftmaxAttention` keeps the reference set and computes softmax (or exponential)
  attention in row blocks, so memory stays ``O(block_size × n_ref)``.

The reference set is the training data passed to ``fit``: in a pipeline evaluated by
cross-validation it is the training fold only, so nothing leaks from the test fold.
"""

import logging
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.stats import ortho_group
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from .._utils.memory import DEFAULT_MEMORY_BUDGET, check_allocation
from .._utils.rows import ZeroRowsWarning, list_rows
from .._utils.scale import max_abs, scale_by_pow2, scale_rows_by_pow2

__all__ = ["LinearizedAttention", "SoftmaxAttention", "linearized_attention_operator"]

logger = logging.getLogger(__name__)

_ACCEPT_SPARSE = ("csr", "csc")
# block × n_ref float64 arrays alive at once in SoftmaxAttention: the scores (exponentiated in
# place) and the result of the sparse/dense product that produced them.
_SCORE_ARRAYS = 2

_OPERATOR_CONSTRAINTS = {
    "projection": [None, StrOptions({"orthogonal", "he"}), tuple],
    "n_layers": [Interval(Integral, 1, None, closed="left")],
    "rank": [None, Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
}


def _reference_covariance(X_ref):
    """Return ``C = X_refᵀ X_ref`` as a dense, exactly symmetric float64 ``(d, d)`` array."""
    C = safe_sparse_dot(X_ref.T, X_ref, dense_output=True)
    C = np.asarray(C, dtype=np.float64)
    # Dense numpy already uses a symmetric rank-k update here; sparse products may differ in the
    # last bit between (i, j) and (j, i), which eigh would silently ignore. Symmetrise once.
    return (C + C.T) / 2.0


def _truncate_rank(C, rank):
    """Best rank-``rank`` approximation of the PSD matrix ``C`` from its top eigenpairs.

    ``C_k = V_k Λ_k V_kᵀ`` equals ``X_kᵀ X_k`` where ``X_k`` is the truncated SVD of the reference
    set, so this is the paper's rank truncation computed on the ``d × d`` matrix.
    """
    d = C.shape[0]
    eigvals, eigvecs = scipy.linalg.eigh(C, subset_by_index=(d - rank, d - 1))
    # C is positive semi-definite; round-off can make its smallest eigenvalues slightly negative.
    eigvals = np.clip(eigvals, 0.0, None)
    return (eigvecs * eigvals) @ eigvecs.T


def _projection_weights(projection, n_features, n_layers, random_state):
    """Return one ``(W_Q, W_K, W_V)`` triple per layer, or None for identity projections.

    A tuple is validated and copied (the caller's arrays are not kept) and reused by every layer.
    """
    if projection is None:
        return None
    d = n_features
    if isinstance(projection, tuple):
        if len(projection) != 3:
            raise ValueError(
                "projection must be None, 'orthogonal', 'he' or a tuple of three "
                f"({d}, {d}) arrays (W_Q, W_K, W_V); got a tuple of length {len(projection)}."
            )
        weights = []
        for i, (name, W) in enumerate(zip(("W_Q", "W_K", "W_V"), projection, strict=True)):
            W = check_array(W, dtype=np.float64, copy=True, input_name=f"projection[{i}] ({name})")
            if W.shape != (d, d):
                raise ValueError(
                    f"projection[{i}] ({name}) must have shape ({d}, {d}) to match the reference "
                    f"set's n_features={d}; got shape {W.shape}. Pass square n_features × "
                    "n_features matrices."
                )
            weights.append(W)
        return [tuple(weights)] * n_layers
    rng = check_random_state(random_state)
    layers = []
    for _ in range(n_layers):
        if projection == "orthogonal":
            triple = tuple(
                np.atleast_2d(ortho_group.rvs(dim=d, random_state=rng)) for _ in range(3)
            )
        else:  # "he"
            triple = tuple(rng.normal(0.0, np.sqrt(2.0 / d), size=(d, d)) for _ in range(3))
        layers.append(triple)
    return layers


def _linearized_operator(X_ref, *, projection, n_layers, rank, random_state):
    """Compute the operator from an already validated float64 reference set.

    Returns ``(operator, weights)``: the ``d × d`` operator and the per-layer ``(W_Q, W_K, W_V)``
    projections it was built with (None for identity projections). Refuses an operator that
    overflowed float64.
    """
    weights = _projection_weights(projection, X_ref.shape[1], n_layers, random_state)
    operator = _operator_from_weights(X_ref, weights, n_layers=n_layers, rank=rank)
    _check_finite_operator(operator, X_ref, n_layers)
    return operator, weights


def _operator_from_weights(X_ref, weights, *, n_layers, rank):
    """The ``d × d`` operator of `X_ref` with projections already drawn (may be non-finite)."""
    n_samples, n_features = X_ref.shape
    max_rank = min(n_samples, n_features)
    if rank is not None and rank > max_rank:
        raise ValueError(
            f"rank={rank} exceeds min(n_samples, n_features)={max_rank} of the reference set "
            f"(shape {X_ref.shape}); pass rank <= {max_rank}, or rank=None for no truncation."
        )
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        C = _reference_covariance(X_ref)
        if rank is not None and np.all(np.isfinite(C)):
            C = _truncate_rank(C, rank)
        if weights is None:
            operator = np.linalg.matrix_power(C, n_layers)
        else:
            operator = np.eye(n_features)
            for W_Q, W_K, W_V in weights:
                operator = operator @ (W_Q @ (W_K.T @ (C @ W_V)))
    logger.debug(
        "linearized attention operator from a %d×%d reference set: projections=%s, "
        "n_layers=%d, rank=%r",
        n_samples,
        n_features,
        weights is not None,
        n_layers,
        rank,
    )
    return operator


def _check_finite_operator(operator, X_ref, n_layers):
    if not np.all(np.isfinite(operator)):
        raise ValueError(
            "The linearized attention operator is not finite: X_refᵀ X_ref or its power for "
            f"n_layers={n_layers} overflowed float64 (largest |X_ref| entry "
            f"{max_abs(X_ref):.3g}). Rescale the input, e.g. with "
            "sklearn.preprocessing.Normalizer."
        )


def _out_of_range(operator, X_ref):
    """Whether the operator overflowed, or underflowed into subnormals, at this scale of X_ref."""
    if not np.all(np.isfinite(operator)):
        return True
    largest = np.max(np.abs(operator), initial=0.0)
    return largest < np.finfo(np.float64).tiny and max_abs(X_ref) > 0


def _direction_operator(X_ref, *, projection, n_layers, rank, random_state):
    """``(operator, weights, log2_scale)`` for a transformer whose rows are ℓ2-normalised.

    Their output depends only on the direction of ``X @ M``, so when ``M`` leaves the float64
    range (``X_ref`` near 1e±300) the operator of ``X_ref · 2⁻ᵉ`` is kept instead: it is exactly
    ``M · 2^(−2eL)`` (each layer is linear in ``C = X_refᵀ X_ref``), and ``log2_scale = 2eL``.
    """
    weights = _projection_weights(projection, X_ref.shape[1], n_layers, random_state)
    operator = _operator_from_weights(X_ref, weights, n_layers=n_layers, rank=rank)
    if not _out_of_range(operator, X_ref):
        return operator, weights, 0
    X_scaled, e = scale_by_pow2(X_ref)
    operator = _operator_from_weights(X_scaled, weights, n_layers=n_layers, rank=rank)
    _check_finite_operator(operator, X_scaled, n_layers)
    return operator, weights, 2 * e * n_layers


def linearized_attention_operator(
    X_ref, *, projection=None, n_layers=1, rank=None, random_state=None
):
    """Return the ``d × d`` operator ``M`` of linearized attention over a reference set.

    Linearized attention of a row ``x`` over the reference rows ``x_k`` (identity projections) is
    ``φ(x) = Σ_k ⟨x, x_k⟩ x_k = x · X_refᵀ X_ref`` (softmax linearised as ``exp(a) ≈ 1 + a``, with
    the constant term and the normaliser dropped, as in the paper), so for a whole matrix it is ``X
    @ M`` with ``M = C = X_refᵀ X_ref``. Only the ``d × d`` matrix ``C`` is formed, never the ``n ×
    n`` Gram matrix, so the cost is ``O(n d²)``.

    Parameters
    ----------
    X_ref : {array-like, sparse matrix} of shape (n_samples, n_features)
        Reference set (keys and values of the attention), usually the training rows. Sparse
        input is accepted; the returned operator is always dense.

    projection : {None, "orthogonal", "he"} or tuple of three ndarrays, default=None
        Query/key/value projections (arXiv 2603.13085, Prop 4.13). With ``W_Q, W_K, W_V`` of shape
        ``(d, d)`` the attention is ``(x W_Q)(X_ref W_K)ᵀ(X_ref W_V)``, i.e. the operator is
        ``W_Q W_Kᵀ C W_V``.

        - None: identity projections, ``M = C``.
        - ``"orthogonal"``: three independent random orthogonal matrices (Haar distributed, drawn
          with :data:`scipy.stats.ortho_group` from `random_state`). The singular values of
          ``M`` are then exactly those of ``C``, so ``κ(M) = κ(C)`` (see Notes for the
          transformed features).
        - ``"he"``: entries drawn i.i.d. from ``N(0, 2/d)`` (He initialisation).
        - ``(W_Q, W_K, W_V)``: your own finite ``(d, d)`` matrices.

        With ``n_layers > 1`` the random choices draw fresh matrices for every layer; a tuple is
        reused by every layer.

    n_layers : int, default=1
        Number ``L`` of stacked attention layers. Each layer attends from the previous layer's
        output to the *original* reference set: every layer reuses the same ``C = X_refᵀ X_ref``,
        so the operator is the product of the ``L`` layer operators (``C^L`` without
        projections). The transformed reference set ``X_ref C^L`` then has Gram
        matrix ``G^{2L+1}`` and condition number ``κ^{2L+1}``, the model of Remark 4.10 of arXiv
        2603.13085.

    rank : int, default=None
        If given, replace the reference set by its best rank-`rank` approximation (truncated SVD),
        computed as the top eigenpairs of ``C`` (``C_k = V_k Λ_k V_kᵀ``). Must not exceed
        ``min(n_samples, n_features)``.

    random_state : int, RandomState instance or None, default=None
        Seeds the random projections (``"orthogonal"`` and ``"he"``); ignored otherwise. Pass an
        int for reproducible output across calls.

    Returns
    -------
    operator : ndarray of shape (n_features, n_features), dtype=float64
        The operator ``M``; the attention output of rows ``X`` is ``X @ M`` (before any row
        normalisation).

    Raises
    ------
    ValueError
        If `rank` exceeds ``min(n_samples, n_features)``, if a projection tuple does not hold
        three finite ``(d, d)`` arrays, or if `X_ref` is empty or not finite.

    See Also
    --------
    LinearizedAttention : Transformer that fits this operator and normalises the output rows.

    Notes
    -----
    Stacking follows the paper's ``κ^{2L+1}`` model: every layer reuses the ``C`` of the original
    reference set. Full self-attention stacking would instead re-form ``C`` from the already
    transformed reference set at every layer (``C_{l+1} = M_lᵀ C_l M_l``), which gives a condition
    number of ``κ^{3^L}``; that variant is not implemented here.

    Orthogonal projections preserve the singular values of the operator, but not in general the
    ``κ³`` of the transformed reference features: their Gram matrix is
    ``X_ref W_Q W_Kᵀ C² W_K W_Qᵀ X_refᵀ``, which equals ``G³`` only when ``W_Q W_Kᵀ`` commutes
    with ``C`` (for example tied ``W_Q = W_K``, any orthogonal ``W_V``). For independent
    orthogonal ``W_Q, W_K`` and ``n_samples >= n_features`` its condition number lies between
    ``κ`` and ``κ³``. Likewise, with projections and ``n_layers > 1`` the product of layer
    operators is not normal, so the ``κ^{2L+1}`` law holds exactly only for identity (or tied
    orthogonal query/key) projections.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import linearized_attention_operator
    >>> X_ref = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    >>> M = linearized_attention_operator(X_ref)
    >>> M
    array([[2., 1.],
           [1., 5.]])
    >>> bool(np.allclose(X_ref @ M, X_ref @ X_ref.T @ X_ref))
    True
    >>> linearized_attention_operator(X_ref, n_layers=2)
    array([[ 5.,  7.],
           [ 7., 26.]])
    """
    X_ref = check_array(X_ref, accept_sparse=_ACCEPT_SPARSE, dtype=np.float64, input_name="X_ref")
    operator, _ = _linearized_operator(
        X_ref, projection=projection, n_layers=n_layers, rank=rank, random_state=random_state
    )
    return operator


# Applied by assignment, not with @-syntax, which is the same thing at runtime: mutmut 3 skips
# decorated functions, and this keeps the function body in its reach (docs/testing.rst).
linearized_attention_operator = validate_params(
    {"X_ref": ["array-like", "sparse matrix"], **_OPERATOR_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)(linearized_attention_operator)


def _as_float64(X):
    """Return X (dense or sparse) in float64 without copying when it already is."""
    return X.astype(np.float64, copy=False)


def _finish_rows(F, *, normalize, who):
    """Check the attention output rows and, if asked, ℓ2-normalise them.

    Raises a ValueError naming the offending rows when an output row is not finite (overflow).
    With ``normalize=True`` each row is first scaled by a power of two (exact) so that its
    largest entry lies in ``[0.5, 1)``: the norm can then neither overflow nor underflow, and the
    result is unchanged when a row is multiplied by a power of two. A row that is exactly zero
    stays zero, as in :func:`sklearn.preprocessing.normalize`, with a :class:`ZeroRowsWarning`
    naming it.
    """
    finite = np.isfinite(F).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        raise ValueError(
            f"{who} cannot produce {rows.size} output row(s) (row indices {list_rows(rows)}): "
            "they are not finite (the attention output overflowed float64: rescale the input, "
            "e.g. with sklearn.preprocessing.Normalizer)."
        )
    if not normalize:
        return F
    F = scale_rows_by_pow2(F)
    norms = np.sqrt(np.einsum("ij,ij->i", F, F))
    zero = norms == 0
    if zero.any():
        rows = np.flatnonzero(zero)
        warnings.warn(
            f"{who}: {rows.size} output row(s) (row indices {list_rows(rows)}) are exactly zero "
            "(an all-zero input row, or one orthogonal to every reference row) and are left "
            "zero instead of being ℓ2-normalised, as sklearn.preprocessing.normalize does.",
            ZeroRowsWarning,
            stacklevel=4,  # _finish_rows, transform, sklearn's set_output wrapper: the caller
        )
        norms[zero] = 1.0
    F /= norms[:, np.newaxis]
    return F


class LinearizedAttention(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Linearized attention over the training rows, as a transformer.

    Each row ``x`` is mapped to ``φ(x) = Σ_k ⟨x, x_k⟩ x_k = C x`` with ``C = X_trainᵀ X_train``
    (arXiv 2603.13085: softmax linearised as ``exp(a) ≈ 1 + a``, identity Q/K/V projections), then
    ℓ2-normalised, ``φ̃(x) = C x / ‖C x‖``. The linearisation keeps only the ``a`` terms: with
    ``a_k = ⟨x, x_k⟩`` it would give ``(Σ_k x_k + C x) / (n + Σ_k a_k)``, and ``φ`` drops both the
    constant term ``Σ_k x_k`` (the same vector for every ``x``) and the normaliser
    ``n + Σ_k a_k``. Where the normaliser is positive, the ℓ2 normalisation would cancel it
    anyway; the constant term it does not. The training set fixed at :term:`fit` is the reference
    set (transductive attention); the ``d × d`` operator is computed once by
    :func:`linearized_attention_operator`, so fit and transform cost ``O(n d²)`` and the
    ``n × n`` Gram matrix is never formed.

    Parameters
    ----------
    normalize : bool, default=True
        Whether to ℓ2-normalise each output row, as the paper does before its MLP. A row whose
        attention output is exactly zero (an all-zero input row, or one orthogonal to every
        training row) is left zero, as in :func:`sklearn.preprocessing.normalize`, with a
        ``UserWarning`` naming it. The normalised output does not change when `X` is
        rescaled by any positive factor (bit-identical for a power of two): `X` is scaled by a
        power of two internally first.

    projection : {None, "orthogonal", "he"} or tuple of three ndarrays, default=None
        Query/key/value projections: identity (None), random orthogonal, He-initialised
        ``N(0, 2/d)``, or your own ``(W_Q, W_K, W_V)`` of shape ``(n_features, n_features)``.
        See :func:`linearized_attention_operator`.

    n_layers : int, default=1
        Number of stacked attention layers, each reusing the ``C`` of the original training set
        (the operator is ``C^L``); the reference features then have condition number
        ``κ^{2L+1}`` (arXiv 2603.13085, Remark 4.10). Normalisation is applied only to the final
        output.

    rank : int, default=None
        If given, use the best rank-`rank` approximation of the training set as reference. Must
        not exceed ``min(n_samples, n_features)`` of the training set.

    random_state : int, RandomState instance or None, default=None
        Seeds the random projections; ignored when `projection` is None or a tuple. Pass an int
        for reproducible output across multiple function calls.
        See :term:`Glossary <random_state>`.

    Attributes
    ----------
    operator_ : ndarray of shape (n_features, n_features), dtype=float64
        The attention operator ``M``; :meth:`transform` returns ``X @ operator_`` (row-normalised
        when `normalize` is True). With `normalize` True and a training set so large or small
        (entries near 1e±300) that ``M`` leaves the float64 range, ``operator_`` is ``M``
        divided by ``2 ** operator_log2_scale_``, which leaves the normalised output unchanged.

    operator_log2_scale_ : int
        0, unless ``operator_`` was rescaled as above; then
        ``M = operator_ · 2**operator_log2_scale_``.

    projections_ : list of tuple of three ndarrays of shape (n_features, n_features), or None
        The query, key and value projections ``(W_Q, W_K, W_V)`` of each of the `n_layers`
        layers, as drawn from `random_state` (or copied from a `projection` tuple, the same
        triple for every layer) at :term:`fit`; None when `projection` is None (identity
        projections). ``operator_`` is built from them, and
        :class:`~sklearn_attnkernel.networks.torch_mirror.TorchPipeline` reuses them to rebuild
        the operator from a perturbed reference set.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names that
        are all strings.

    See Also
    --------
    linearized_attention_operator : The pure function computing `operator_`.
    SoftmaxAttention : Softmax or exponential attention over the same reference set.
    sklearn.preprocessing.Normalizer : Row ℓ2-normalisation alone.

    Notes
    -----
    Computation is done in float64; the output has the input's floating dtype (float32 input
    gives float32 output, integer input gives float64). Sparse CSR/CSC input is accepted in
    :meth:`fit` and :meth:`transform`; the output is always a dense array.

    :meth:`transform` raises a ValueError naming the offending row indices (the first 10) when
    an output row is not finite, or, with ``normalize=True``, when its norm is zero. A zero row
    occurs for an all-zero input row or one orthogonal to the span of the training rows (or to
    the kept subspace with `rank`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import LinearizedAttention
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    >>> attn = LinearizedAttention(normalize=False).fit(X)
    >>> attn.operator_
    array([[2., 1.],
           [1., 5.]])
    >>> attn.transform([[1.0, 0.0]])
    array([[2., 1.]])
    >>> LinearizedAttention().fit_transform(X).round(3)
    array([[0.894, 0.447],
           [0.447, 0.894],
           [0.196, 0.981]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "normalize": ["boolean"],
        **_OPERATOR_CONSTRAINTS,
    }

    def __init__(
        self, *, normalize=True, projection=None, n_layers=1, rank=None, random_state=None
    ):
        self.normalize = normalize
        self.projection = projection
        self.n_layers = n_layers
        self.rank = rank
        self.random_state = random_state

    def fit(self, X, y=None):
        """Compute the attention operator from the training rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows; they become the reference set. At least 2 samples.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X = validate_data(
            self,
            X,
            accept_sparse=_ACCEPT_SPARSE,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
        )
        params = {
            "projection": self.projection,
            "n_layers": self.n_layers,
            "rank": self.rank,
            "random_state": self.random_state,
        }
        if self.normalize:
            self.operator_, self.projections_, self.operator_log2_scale_ = _direction_operator(
                _as_float64(X), **params
            )
        else:
            self.operator_, self.projections_ = _linearized_operator(_as_float64(X), **params)
            self.operator_log2_scale_ = 0
        self._n_features_out = X.shape[1]
        return self

    # Wrapped by assignment so that mutmut reaches the body (see linearized_attention_operator).
    fit = _fit_context(prefer_skip_nested_validation=True)(fit)

    def transform(self, X):
        """Apply linearized attention over the training rows to `X`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            ``X @ operator_``, each row ℓ2-normalised when `normalize` is True. Same floating
            dtype as `X` (float64 for integer input).

        Raises
        ------
        ValueError
            If an output row is not finite (overflow); the message lists the row indices.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=_ACCEPT_SPARSE, dtype=[np.float64, np.float32], reset=False
        )
        X64 = _as_float64(X)
        if self.normalize:
            # ℓ2-normalised rows do not depend on the scale of X: divide it by a power of two
            # (exact) so that X @ operator_ cannot overflow or underflow because of that scale.
            X64, _ = scale_by_pow2(X64)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            F = np.asarray(safe_sparse_dot(X64, self.operator_, dense_output=True))
        F = _finish_rows(F, normalize=self.normalize, who=type(self).__name__)
        return F.astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class SoftmaxAttention(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Softmax (or exponential) attention over the training rows, as a transformer.

    Each row ``x`` is mapped to ``φ(x) = Σ_k softmax_k(⟨x, x_k⟩ / τ) x_k`` over the training rows
    ``x_k`` fixed at :term:`fit` (arXiv 2603.13085, Appendix A.13), then ℓ2-normalised. With
    ``normalize_weights=False`` the softmax denominator is dropped, giving exponential attention
    ``Σ_k exp(⟨x, x_k⟩ / τ − s(x)) x_k`` with the per-row shift ``s(x) = max_k ⟨x, x_k⟩ / τ``.

    The cost is ``O(n_new · n_ref · d)``. Rows are processed in blocks of `block_size`, so at most
    a ``block_size × n_ref`` score matrix is held at once, never the full ``n_new × n_ref`` one.

    Parameters
    ----------
    temperature : float, default=None
        Softmax temperature ``τ > 0``. None uses ``√n_features`` (scaled dot-product attention),
        stored in `temperature_`.

    normalize_weights : bool, default=True
        True gives softmax attention (the weights of each row sum to 1). False gives exponential
        attention, whose weights ``exp(⟨x, x_k⟩/τ − s(x))`` are shifted by the row maximum
        ``s(x)`` so that they lie in ``(0, 1]`` and cannot overflow. Under ``normalize=True`` the
        shift cancels exactly (the output equals softmax attention's); with ``normalize=False``
        it scales each output row by ``exp(−s(x))``, a factor that depends on the row.

    normalize : bool, default=True
        Whether to ℓ2-normalise each output row. A row whose attention output is exactly zero
        (the attention-weighted mean of the training rows is zero) is left zero, as in
        :func:`sklearn.preprocessing.normalize`, with a ``UserWarning`` naming it.

    block_size : int, default=1024
        Number of rows of `X` processed at once in :meth:`transform`; memory is
        ``O(block_size × n_ref)``.

    memory_budget : int or float, default=4 * 2**30
        Bytes the score blocks of :meth:`transform` may take (two ``block_size × n_ref`` float64
        arrays; 4 GiB by default). A larger request raises a ValueError naming the size and
        the largest `block_size` that fits, before anything is allocated.

    Attributes
    ----------
    X_ref_ : {ndarray, sparse matrix} of shape (n_ref, n_features), dtype=float64
        A float64 copy of the training rows (the reference set); CSR when the input was sparse.

    temperature_ : float
        The temperature used: `temperature`, or ``√n_features`` when it is None.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names that
        are all strings.

    See Also
    --------
    LinearizedAttention : The linearised (``exp(a) ≈ 1 + a``) version, ``O(n d²)``.

    Notes
    -----
    At ``τ = √d`` on unit-norm data the attention weights are nearly uniform, so every output row
    is close to the mean of the reference set: the features collapse (mean pairwise cosine ≈ 1,
    arXiv 2603.13085, Fig. 7).

    Computation is done in float64; the output has the input's floating dtype (float32 input
    gives float32 output). Sparse CSR/CSC input is accepted in :meth:`fit` and :meth:`transform`:
    the reference set is kept sparse, each block's score matrix and output are dense, and the
    returned array is dense.

    :meth:`transform` raises a ValueError naming the offending row indices (the first 10) when an
    output row is not finite (overflow for very large inputs). A zero output row is left zero.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import SoftmaxAttention
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> attn = SoftmaxAttention(temperature=1.0, normalize=False).fit(X)
    >>> attn.transform([[0.0, 0.0], [1.0, 0.0]]).round(3)
    array([[0.5  , 0.5  ],
           [0.731, 0.269]])
    >>> SoftmaxAttention().fit_transform(X).round(3)
    array([[0.897, 0.442],
           [0.442, 0.897]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "temperature": [None, Interval(Real, 0, None, closed="neither")],
        "normalize_weights": ["boolean"],
        "normalize": ["boolean"],
        "block_size": [Interval(Integral, 1, None, closed="left")],
        "memory_budget": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        temperature=None,
        normalize_weights=True,
        normalize=True,
        block_size=1024,
        memory_budget=DEFAULT_MEMORY_BUDGET,
    ):
        self.temperature = temperature
        self.normalize_weights = normalize_weights
        self.normalize = normalize
        self.block_size = block_size
        self.memory_budget = memory_budget

    def fit(self, X, y=None):
        """Store a float64 copy of the training rows as the reference set.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows; they become the reference set. At least 2 samples.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X = validate_data(
            self,
            X,
            accept_sparse=_ACCEPT_SPARSE,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
        )
        if sp.issparse(X):
            self.X_ref_ = sp.csr_matrix(X, dtype=np.float64, copy=True)
        else:
            self.X_ref_ = np.array(X, dtype=np.float64, copy=True)
        n_features = X.shape[1]
        self.temperature_ = (
            float(np.sqrt(n_features)) if self.temperature is None else float(self.temperature)
        )
        self._n_features_out = n_features
        return self

    # Wrapped by assignment so that mutmut reaches the body (see linearized_attention_operator).
    fit = _fit_context(prefer_skip_nested_validation=True)(fit)

    def transform(self, X):
        """Apply attention over the training rows to `X`, block by block.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            Attention outputs, each row ℓ2-normalised when `normalize` is True. Same floating
            dtype as `X` (float64 for integer input).

        Raises
        ------
        ValueError
            If an output row is not finite (overflow); the message lists the row indices.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=_ACCEPT_SPARSE, dtype=[np.float64, np.float32], reset=False
        )
        self._check_block_memory(X.shape[0])
        X_rows = X.tocsr() if sp.issparse(X) else X
        F = np.empty(X.shape, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            self._attend_blocks(X_rows, F)
        F = _finish_rows(F, normalize=self.normalize, who=type(self).__name__)
        return F.astype(X.dtype, copy=False)

    def _check_block_memory(self, n_samples):
        """Refuse a score block that does not fit `memory_budget`, before allocating it."""
        n_ref = self.X_ref_.shape[0]
        block = min(self.block_size, n_samples)
        row_bytes = _SCORE_ARRAYS * n_ref * np.dtype(np.float64).itemsize
        largest = int(self.memory_budget // row_bytes)
        check_allocation(
            block * row_bytes,
            self.memory_budget,
            what=f"{type(self).__name__}: {_SCORE_ARRAYS} float64 score blocks of {block}×{n_ref}",
            way_out=(
                f"pass block_size <= {largest}"
                if largest >= 1
                else "use a smaller reference set (fewer training rows)"
            ),
        )

    def _attend_blocks(self, X, F):
        """Write the attention outputs of the rows of `X` into `F`, `block_size` rows at a time."""
        X_ref = self.X_ref_
        n_samples = X.shape[0]
        for start in range(0, n_samples, self.block_size):
            stop = min(start + self.block_size, n_samples)
            block = _as_float64(X[start:stop])
            scores = np.asarray(safe_sparse_dot(block, X_ref.T, dense_output=True))
            # Written out in place rather than with scipy.special.softmax, which allocates three
            # more block × n_ref temporaries; both variants share the max shift s(x).
            scores /= self.temperature_
            scores -= scores.max(axis=1, keepdims=True)
            weights = np.exp(scores, out=scores)
            if self.normalize_weights:
                weights /= weights.sum(axis=1, keepdims=True)
            F[start:stop] = safe_sparse_dot(weights, X_ref, dense_output=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
