"""Condition-number diagnostics of linearized attention (PAPER.md §4; Thm 4.8, Appendix A.12).

Pure functions on arrays, numpy/scipy only (importing this module does not import torch):

- :func:`effective_condition_number`: ``κ = λ₁/λ_r`` of ``G = X Xᵀ`` from the singular values of
  ``X`` (``λ_i = σ_i²``); the ``n × n`` matrix ``G`` is never formed.
- :func:`spectral_amplification`: how attention amplifies ``κ`` (``κ³``, ``κ^{2L+1}``, the softmax
  bound), with the value measured on the linearized-attention features.
- :func:`required_width`: the width ``m* ≍ κ^p n ln n`` for NTK convergence, in log space.
- :func:`feature_collapse`: mean pairwise cosine similarity of rows in ``O(n d)``.
- :func:`kappa_report`: all of the above from one singular-value computation, with the
  rank-sensitivity curve ``κ_k`` and a one-line verdict.

The answer depends on the rank ``r`` at which ``κ`` is read: on the MNIST test split (pixels
/255) the numerical rank is 661 of 784 and ``κ ≈ 2·10¹³`` there, but ``κ ≈ 2.7·10³`` at rank 200.
That is why every function takes ``rank`` and the report shows the whole curve.
"""

import dataclasses
import logging
import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions, validate_params
from sklearn.utils.extmath import randomized_svd, row_norms, safe_sparse_dot

__all__ = [
    "KappaReport",
    "NumericalRankWarning",
    "effective_condition_number",
    "feature_collapse",
    "kappa_report",
    "required_width",
    "spectral_amplification",
]

logger = logging.getLogger(__name__)

_EPS = np.finfo(np.float64).eps
_LOG10_MAX = math.log10(np.finfo(np.float64).max)
_ACCEPT_SPARSE = ("csr", "csc")
_MAX_LISTED_ROWS = 10
_DEFAULT_GRID_SIZE = 20
_WIDTH_EXPONENT = {"attention": 6, "relu": 2}

_RANK_CONSTRAINT = [
    Interval(Integral, 1, None, closed="left"),
    StrOptions({"numerical", "full"}),
    Interval(Real, 0, 1, closed="neither"),
]
_METHOD_CONSTRAINT = [StrOptions({"auto", "exact", "gram", "randomized"})]


class NumericalRankWarning(UserWarning):
    """Warning raised when κ is requested at a rank above the numerical rank of ``X``.

    Singular values below the numerical-rank tolerance are round-off, so κ read there measures
    the floating-point format, not the data.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn_attnkernel.diagnostics.kappa import (
    ...     NumericalRankWarning, effective_condition_number)
    >>> X = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0]])  # rank 1
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     kappa = effective_condition_number(X, rank="full")
    >>> kappa, caught[0].category is NumericalRankWarning
    (inf, True)
    """


# ----------------------------------------------------------------------------------- helpers
def _check_matrix(X, who, *, name="X"):
    """Validate a 2-D real finite matrix with at least two rows; keep scipy sparse as CSR/CSC."""
    if isinstance(X, list | tuple):
        # via numpy first, so that complex entries are reported as such (not as a TypeError)
        X = np.asarray(X)
    if getattr(X, "dtype", None) == np.dtype(object):
        raise ValueError(
            f"{who}: {name} has dtype object. Convert it to a numeric array first, e.g. "
            f"np.asarray({name}, dtype=float)."
        )
    try:
        return check_array(
            X,
            accept_sparse=_ACCEPT_SPARSE,
            dtype=np.float64,
            ensure_min_samples=2,
            ensure_min_features=1,
            input_name=name,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{who}: {exc}") from exc


@dataclasses.dataclass(frozen=True)
class _Spectrum:
    """Singular values of ``X`` (descending) and what is known about its numerical rank."""

    sigma: np.ndarray
    tol: float
    numerical_rank: int | None  # None: above every computed value (randomized path)
    method: str
    n_samples: int
    n_features: int


def _resolve_method(X, method, rank, who):
    """Apply the ``method="auto"`` rule and refuse combinations that cannot work."""
    sparse = sp.issparse(X)
    if method == "auto":
        method = "gram" if sparse else "exact"
    if method == "exact" and sparse:
        raise TypeError(
            f"{who}: method='exact' needs a dense X, got a sparse matrix of shape {X.shape}. Use "
            "method='gram' or method='randomized' (both accept sparse input), or pass X.toarray()."
        )
    if method == "randomized" and not isinstance(rank, Integral):
        raise ValueError(
            f"{who}: method='randomized' computes only the leading singular values and needs an "
            f"integer rank, got rank={rank!r}. Pass rank=k, or use method='exact' or 'gram'."
        )
    return method


def _spectrum(X, method, *, n_components=None, random_state=None):
    """Compute the singular values of ``X`` with one of the three methods.

    ``exact``: LAPACK ``gesdd`` without singular vectors (:func:`scipy.linalg.svdvals`); for tall
    ``X`` LAPACK itself first reduces ``X`` to its ``d × d`` triangular factor by QR. Accurate to
    ``eps·σ₁``. ``gram``: :func:`scipy.linalg.eigvalsh` of the smaller of ``XᵀX`` and ``XXᵀ``.
    ``randomized``: :func:`sklearn.utils.extmath.randomized_svd`, leading ``n_components`` only.
    """
    n, d = X.shape
    if method == "exact":
        sigma = scipy.linalg.svdvals(X, check_finite=False)
        tol = sigma[0] * max(n, d) * _EPS
        numerical_rank = int(np.count_nonzero(sigma > tol))
    elif method == "gram":
        M = safe_sparse_dot(X.T, X, dense_output=True) if n >= d else safe_sparse_dot(X, X.T)
        M = np.asarray(M.toarray() if sp.issparse(M) else M, dtype=np.float64)
        lam = np.clip(scipy.linalg.eigvalsh(M, check_finite=False)[::-1], 0.0, None)
        # numpy.linalg.matrix_rank's tolerance for the matrix actually decomposed.
        tol_lam = lam[0] * M.shape[0] * _EPS
        sigma = np.sqrt(lam)
        tol = math.sqrt(tol_lam)
        numerical_rank = int(np.count_nonzero(lam > tol_lam))
    else:  # randomized
        k = int(n_components)
        n_oversamples = max(0, min(max(10, k // 2), min(n, d) - k))
        _, sigma, _ = randomized_svd(
            X,
            k,
            n_oversamples=n_oversamples,
            random_state=check_random_state(random_state),
        )
        tol = sigma[0] * max(n, d) * _EPS
        below = sigma <= tol
        numerical_rank = int(np.count_nonzero(~below)) if below.any() else None
    logger.debug(
        "singular values of a %d x %d matrix by %s: %d computed, numerical rank %s",
        n,
        d,
        method,
        sigma.size,
        numerical_rank,
    )
    return _Spectrum(np.asarray(sigma, dtype=np.float64), float(tol), numerical_rank, method, n, d)


def _resolve_rank(spec, rank, who):
    """Turn the ``rank`` parameter into an integer ``r``; warn above the numerical rank."""
    if isinstance(rank, bool | np.bool_):
        raise TypeError(f"{who}: rank must be an int, a str or a float, got the bool {rank!r}.")
    full = min(spec.n_samples, spec.n_features)
    if spec.sigma[0] == 0:
        raise ValueError(f"{who}: X is all zeros, so its condition number is undefined.")
    if rank == "numerical":
        r = spec.numerical_rank
    elif rank == "full":
        r = full
    elif isinstance(rank, Integral):
        r = int(rank)
        if r > full:
            raise ValueError(
                f"{who}: rank={r} exceeds min(n_samples, n_features)={full} for X of shape "
                f"({spec.n_samples}, {spec.n_features}). Pass a rank between 1 and {full}."
            )
    else:  # energy fraction in (0, 1)
        cumulative = np.cumsum(spec.sigma**2)
        r = int(np.searchsorted(cumulative, rank * cumulative[-1], side="left")) + 1
        r = min(r, spec.sigma.size)
    if spec.numerical_rank is not None and r > spec.numerical_rank:
        warnings.warn(
            f"{who}: rank={r} exceeds the numerical rank {spec.numerical_rank} of X (singular "
            f"values above {spec.tol:.3g} by method={spec.method!r}); κ at this rank is set by "
            f"round-off, not by the data. Pass rank='numerical' or rank<={spec.numerical_rank}.",
            NumericalRankWarning,
            stacklevel=4,
        )
    return r


def _kappa_from_sigma(sigma, ranks):
    """``κ_k = (σ₁/σ_k)²`` and ``log10 κ_k`` for 1-based ``ranks``; inf where ``σ_k = 0``."""
    s1 = sigma[0]
    sk = sigma[np.asarray(ranks, dtype=np.intp) - 1]
    with np.errstate(divide="ignore", over="ignore"):
        kappa = (s1 / sk) ** 2
        log10_kappa = 2.0 * (np.log10(s1) - np.log10(sk))
    return kappa, log10_kappa


def _power(kappa, log10_kappa, p):
    """``κ^p`` (inf on overflow) and its log10, which stays finite."""
    with np.errstate(over="ignore"):
        value = float(np.float64(kappa) ** p)
    return value, float(p * log10_kappa)


def _log_required_width(log10_kappa, n, architecture):
    """``log10(κ^p · n · ln n)`` computed from ``log10 κ``."""
    p = _WIDTH_EXPONENT[architecture]
    return p * log10_kappa + (math.log(n) + math.log(math.log(n))) / math.log(10)


def _from_log10(log10_value):
    """``10**x`` as a float, inf only when it exceeds the float64 range."""
    if not math.isfinite(log10_value):
        return log10_value if log10_value > 0 else 0.0
    if log10_value > _LOG10_MAX:
        return math.inf
    try:
        return 10.0**log10_value
    except OverflowError:  # within rounding of the largest float
        return math.inf


def _softmax_bound(kappa, log10_kappa, lam_max, lam_min, temperature):
    """``κ · exp(2(λ₁ − λ_r)/τ)`` (inf on overflow) and its log10."""
    exponent = 2.0 * (lam_max - lam_min) / temperature
    log10_bound = log10_kappa + exponent / math.log(10)
    with np.errstate(over="ignore"):
        value = float(np.float64(kappa) * np.exp(np.float64(exponent)))
    return value, float(log10_bound)


def _collapse(F):
    """Mean pairwise cosine of the rows of ``F`` (zero rows must have been excluded)."""
    n = F.shape[0]
    inverse_norms = 1.0 / np.sqrt(row_norms(F, squared=True))
    total = np.asarray(safe_sparse_dot(inverse_norms, F)).ravel()  # Σ_i f_i/‖f_i‖
    return float((total @ total - n) / (n * (n - 1)))


def _attention_features(X):
    """Linearized-attention features ``X C`` with ``C = XᵀX``, as a dense array."""
    C = safe_sparse_dot(X.T, X, dense_output=True)
    return np.asarray(safe_sparse_dot(X, np.asarray(C), dense_output=True))


def _format_pow10(log10_value):
    if math.isnan(log10_value):
        return "nan"
    if not math.isfinite(log10_value):
        return "inf" if log10_value > 0 else "0"
    if float(log10_value).is_integer():
        return f"10^{log10_value:.0f}"
    return f"10^{log10_value:.1f}"


# ------------------------------------------------------------------------------ public API
@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "rank": _RANK_CONSTRAINT,
        "method": _METHOD_CONSTRAINT,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def effective_condition_number(X, rank="numerical", method="auto", random_state=None):
    """Effective condition number ``κ_r = λ₁/λ_r`` of the Gram matrix ``G = X Xᵀ``.

    ``λ_i = σ_i²`` are read from the singular values of ``X``; the ``n × n`` matrix ``G`` is never
    formed. Computed as ``(σ₁/σ_r)²``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data matrix, at least two rows, finite and real. Sparse input is supported by
        ``method="gram"`` and ``method="randomized"`` (``"auto"`` picks ``"gram"``).

    rank : int, {"numerical", "full"} or float in (0, 1), default="numerical"
        Index ``r`` at which ``λ_r`` is read.

        - ``"numerical"``: the numerical rank, the number of singular values above the usual
          matrix-rank tolerance ``σ₁ · max(n, d) · eps`` (for ``method="gram"``: eigenvalues of the
          decomposed ``k × k`` Gram matrix above ``λ₁ · k · eps``).
        - ``"full"``: ``min(n, d)``, the paper's literal definition. If ``X`` is rank-deficient
          ``σ_r`` is round-off and ``κ`` is huge; it is ``inf`` when ``σ_r`` is exactly 0.
        - int ``k``: ``1 ≤ k ≤ min(n, d)``.
        - float ``f``: the smallest ``r`` whose leading eigenvalues keep the fraction ``f`` of the
          spectral energy ``Σ λ_i = ‖X‖_F²``.

        A rank above the numerical rank emits a :class:`NumericalRankWarning` naming it.

    method : {"auto", "exact", "gram", "randomized"}, default="auto"
        How the singular values are computed.

        - ``"exact"``: :func:`scipy.linalg.svdvals` (LAPACK ``gesdd`` without vectors, which for
          tall ``X`` first reduces it to a ``d × d`` triangle by QR). Singular values are
          accurate to ``eps · σ₁``, so ``κ`` is reliable up to about ``1/eps² ≈ 10³¹``. Dense only.
        - ``"gram"``: :func:`scipy.linalg.eigvalsh` of the smaller of ``XᵀX`` (``d × d``) and
          ``XXᵀ``. Fastest, but eigenvalues are only accurate to ``eps · λ₁``: singular values
          below about ``√eps · σ₁ ≈ 1.5·10⁻⁸ σ₁`` are lost, so ``κ`` above ~10¹⁴ is unreliable and
          the numerical rank can come out lower than with ``"exact"``.
        - ``"randomized"``: :func:`sklearn.utils.extmath.randomized_svd` for the leading ``rank``
          singular values only (oversampling ``max(10, rank/2)``, sklearn's default power
          iterations). Needs an integer ``rank``; accurate when the spectrum has a gap after it.
          Worth it only when ``rank ≪ min(n, d)`` and ``d`` is large: at ``d = 784`` the exact
          path is faster (benchmarks/bench_kappa.py).
        - ``"auto"``: ``"exact"`` for dense input, ``"gram"`` for sparse input.

    random_state : int, RandomState instance or None, default=None
        Seed of ``method="randomized"``; ignored otherwise.

    Returns
    -------
    kappa : float
        ``λ₁/λ_r ≥ 1``; ``inf`` when ``σ_r = 0`` or when the ratio exceeds the float64 range.

    Raises
    ------
    ValueError
        If ``X`` is empty, has one row, contains NaN/inf, is complex, has dtype object or is all
        zeros, or if ``rank`` exceeds ``min(n, d)``.
    TypeError
        If ``X`` is sparse and ``method="exact"``.

    See Also
    --------
    kappa_report : The κ diagnostic with the rank-sensitivity curve and required widths.
    spectral_amplification : Amplification of κ by attention layers.

    Notes
    -----
    Thm 4.8 of the paper uses ``r = min(n, d)``. Real data are often rank-deficient at machine
    precision (MNIST: 661 of 784), which makes that definition measure round-off; the default here
    is the numerical rank, and :func:`kappa_report` shows how much the answer moves with ``r``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import effective_condition_number
    >>> X = np.diag([10.0, 1.0, 0.1])
    >>> float(round(effective_condition_number(X), 6))
    10000.0
    >>> float(round(effective_condition_number(X, rank=2), 6))
    100.0
    """
    who = "effective_condition_number"
    X = _check_matrix(X, who)
    method = _resolve_method(X, method, rank, who)
    spec = _spectrum(
        X,
        method,
        n_components=rank if method == "randomized" else None,
        random_state=random_state,
    )
    r = _resolve_rank(spec, rank, who)
    kappa, _ = _kappa_from_sigma(spec.sigma, [r])
    return float(kappa[0])


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "temperature": [None, Interval(Real, 0, None, closed="neither")],
        "rank": _RANK_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def spectral_amplification(X, *, n_layers=1, temperature=None, rank="numerical"):
    """How attention layers amplify the condition number of ``G = X Xᵀ``.

    Linearized attention maps ``X`` to ``F = X C`` (``C = XᵀX``), whose Gram matrix is ``G³``, so
    ``κ(F Fᵀ) = κ³`` (Thm 4.8); ``L`` stacked layers give ``κ^{2L+1}`` (Remark 4.10); unnormalised
    softmax attention with identity projections gives ``κ · exp(2(λ₁ − λ_r)/τ)`` (Prop 4.11).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data matrix (rows usually unit-norm). Dense input uses ``method="exact"``, sparse input
        ``method="gram"`` (see :func:`effective_condition_number`).

    n_layers : int, default=1
        Number ``L`` of stacked linearized-attention layers in ``κ^{2L+1}``.

    temperature : float, default=None
        Softmax temperature ``τ``; None means ``√d`` (PAPER.md §4).

    rank : int, {"numerical", "full"} or float in (0, 1), default="numerical"
        Rank ``r`` at which every κ is read, as in :func:`effective_condition_number`.

    Returns
    -------
    result : dict
        Plain floats and ints, with these keys:

        - ``"rank"``, ``"numerical_rank"``, ``"n_layers"``, ``"temperature"``: the settings used.
        - ``"lambda_max"``, ``"lambda_min"``: ``λ₁`` and ``λ_r`` of ``G``.
        - ``"kappa"``: ``κ = λ₁/λ_r`` of the raw data.
        - ``"kappa_cubed"``: the predicted ``κ³``.
        - ``"kappa_attention"``: ``κ`` measured on the features ``F = X C`` at the same rank.
        - ``"kappa_layers"``: ``κ^{2L+1}``.
        - ``"softmax_bound"``: ``κ · exp(2(λ₁ − λ_r)/τ)``.
        - ``"log10_<name>"`` for each of the five κ values above.

        Values exceeding the float64 range are ``inf``; their ``log10_`` entries stay finite.

    See Also
    --------
    effective_condition_number : The condition number κ of the raw data.
    kappa_report : All diagnostics in one report.

    Notes
    -----
    ``kappa_attention`` is measured, not predicted: ``F`` is formed in floating point, which adds
    errors of order ``eps · σ₁³`` to it, so its smallest singular values cannot go below about
    ``eps · σ₁(F)``. The measured value therefore saturates near ``1/eps² ≈ 10³¹`` (10³³–10³⁴
    observed on 300 × 40 matrices) while ``κ³`` keeps growing; the two agree to round-off while
    ``κ³ ≲ 10³⁰``, i.e. ``κ ≲ 10¹⁰``. A Gram-based computation would saturate much earlier, near
    ``1/eps ≈ 10¹⁶``, which is why the ``"exact"`` method is used on ``F``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import spectral_amplification
    >>> X = np.diag([4.0, 2.0, 1.0])
    >>> out = spectral_amplification(X, temperature=1.0)
    >>> out["kappa"], out["kappa_cubed"], out["kappa_layers"]
    (16.0, 4096.0, 4096.0)
    >>> round(out["kappa_attention"], 6)
    4096.0
    >>> round(out["log10_softmax_bound"], 3)  # log10(16 · e^{2·15})
    14.233
    """
    who = "spectral_amplification"
    X = _check_matrix(X, who)
    method = _resolve_method(X, "auto", rank, who)
    spec = _spectrum(X, method)
    r = _resolve_rank(spec, rank, who)
    kappa, log10_kappa = (float(v[0]) for v in _kappa_from_sigma(spec.sigma, [r]))

    F = _attention_features(X)
    spec_F = _spectrum(F, "exact")
    kappa_attn, log10_kappa_attn = (float(v[0]) for v in _kappa_from_sigma(spec_F.sigma, [r]))

    tau = math.sqrt(spec.n_features) if temperature is None else float(temperature)
    lam_max, lam_min = float(spec.sigma[0] ** 2), float(spec.sigma[r - 1] ** 2)
    kappa_cubed, log10_cubed = _power(kappa, log10_kappa, 3)
    kappa_layers, log10_layers = _power(kappa, log10_kappa, 2 * n_layers + 1)
    bound, log10_bound = _softmax_bound(kappa, log10_kappa, lam_max, lam_min, tau)
    return {
        "rank": r,
        "numerical_rank": spec.numerical_rank,
        "n_layers": int(n_layers),
        "temperature": tau,
        "lambda_max": lam_max,
        "lambda_min": lam_min,
        "kappa": kappa,
        "kappa_cubed": kappa_cubed,
        "kappa_attention": kappa_attn,
        "kappa_layers": kappa_layers,
        "softmax_bound": bound,
        "log10_kappa": log10_kappa,
        "log10_kappa_cubed": log10_cubed,
        "log10_kappa_attention": log10_kappa_attn,
        "log10_kappa_layers": log10_layers,
        "log10_softmax_bound": log10_bound,
    }


@validate_params(
    {
        "kappa": [Interval(Real, 1, None, closed="left"), Options(Real, {math.inf})],
        "n": [Interval(Integral, 2, None, closed="left")],
        "architecture": [StrOptions({"attention", "relu"})],
        "log10": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def required_width(kappa, n, architecture="attention", *, log10=False):
    """Width ``m*`` a two-layer ReLU network needs to reach its NTK regime (PAPER.md §4).

    ``m* = κ⁶ · n · ln n`` with linearized attention in front, ``m* = κ² · n · ln n`` for the
    plain two-layer ReLU net. The paper gives only the order (``≍``), so the constant is 1: read
    the result as an order of magnitude. Computed in log space.

    Parameters
    ----------
    kappa : float
        Effective condition number ``κ ≥ 1`` (``inf`` is accepted and gives ``inf``).

    n : int
        Number of training samples, ``n ≥ 2``.

    architecture : {"attention", "relu"}, default="attention"
        ``"attention"`` for MLP-Attn (exponent 6), ``"relu"`` for the 2L-ReLU net (exponent 2).

    log10 : bool, default=False
        If True, return ``log10 m*``, which is finite even where ``m*`` exceeds the float range.

    Returns
    -------
    width : float
        ``m*``, ``inf`` only when it exceeds the float64 range (about ``1.8·10³⁰⁸``); or
        ``log10 m*`` when ``log10=True``.

    See Also
    --------
    kappa_report : Required widths for both architectures, compared with a practical width.

    Examples
    --------
    >>> from sklearn_attnkernel import required_width
    >>> round(required_width(10.0, 100, "relu"), 6)  # 10² · 100 · ln 100
    46051.70186
    >>> round(required_width(1e60, 10_000, log10=True), 3)  # 10³⁶⁰ overflows float64
    364.964
    >>> required_width(1e60, 10_000)
    inf
    """
    log10_width = _log_required_width(
        math.log10(kappa) if math.isfinite(kappa) else math.inf, int(n), architecture
    )
    return float(log10_width) if log10 else _from_log10(log10_width)


@validate_params({"F": ["array-like", "sparse matrix"]}, prefer_skip_nested_validation=True)
def feature_collapse(F):
    """Mean pairwise cosine similarity of the rows of ``F`` (Fig. 7 of the paper).

    Values near 1 mean every row points the same way: the features have collapsed and the kernel
    they induce is close to rank one.

    Parameters
    ----------
    F : {array-like, sparse matrix} of shape (n_samples, n_features)
        Feature matrix with at least two rows, none of them zero.

    Returns
    -------
    collapse : float
        ``(1/(n(n−1))) Σ_{i≠j} cos(f_i, f_j)``, in ``[−1/(n−1), 1]`` up to round-off.

    Raises
    ------
    ValueError
        If a row of ``F`` is zero (its cosine is undefined), or ``F`` is not a finite real matrix
        with at least two rows.

    Notes
    -----
    Computed in ``O(n d)`` without the ``n × n`` cosine matrix: with unit rows ``u_i``,
    ``Σ_{i≠j} u_iᵀu_j = ‖Σ_i u_i‖² − n``. This identity is applied by hand here (a few lines); no
    library function computes it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import feature_collapse
    >>> feature_collapse(np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]]))  # pairs: 1, 0, 0
    0.333...
    """
    who = "feature_collapse"
    F = _check_matrix(F, who, name="F")
    zero_rows = np.flatnonzero(row_norms(F, squared=True) == 0)
    if zero_rows.size:
        listed = ", ".join(str(i) for i in zero_rows[:_MAX_LISTED_ROWS])
        more = (
            f" and {zero_rows.size - _MAX_LISTED_ROWS} more"
            if zero_rows.size > _MAX_LISTED_ROWS
            else ""
        )
        raise ValueError(
            f"{who}: rows [{listed}{more}] of F are zero, so their cosine similarity is "
            "undefined. Drop them first, e.g. F[np.linalg.norm(F, axis=1) > 0]."
        )
    return _collapse(F)


# ----------------------------------------------------------------------------------- report
_QUANTITY_ROWS = (
    # (quantity label, value field, log10 field or None)
    ("n_samples", "n_samples", None),
    ("n_features", "n_features", None),
    ("numerical_rank", "numerical_rank", None),
    ("rank", "rank", None),
    ("kappa", "kappa", "log10_kappa"),
    ("kappa^3", "kappa_cubed", "log10_kappa_cubed"),
    ("kappa^(2L+1)", "kappa_layers", "log10_kappa_layers"),
    ("softmax_bound", "softmax_bound", "log10_softmax_bound"),
    ("width_relu", "width_relu", "log10_width_relu"),
    ("width_attention", "width_attention", "log10_width_attention"),
    ("practical_width", "practical_width", None),
    ("orders_above_practical_relu", "orders_above_practical_relu", None),
    ("orders_above_practical_attention", "orders_above_practical_attention", None),
    ("collapse_raw", "collapse_raw", None),
    ("collapse_attention", "collapse_attention", None),
)


@dataclasses.dataclass(frozen=True)
class KappaReport:
    """Condition-number diagnostic of a data matrix; built by :func:`kappa_report`.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of ``X``.
    method : str
        Method that computed the singular values (after resolving ``"auto"``).
    numerical_rank : int or None
        Number of singular values above the numerical-rank tolerance; None when unknown
        (``method="randomized"`` with every computed value above it).
    rank : int
        Rank ``r`` at which κ is read.
    kappa, log10_kappa : float
        ``κ = λ₁/λ_r`` of ``G = X Xᵀ``.
    kappa_cubed, log10_kappa_cubed : float
        ``κ³``, the condition number after one linearized-attention layer.
    n_layers : int
        Number ``L`` of attention layers in ``kappa_layers``.
    kappa_layers, log10_kappa_layers : float
        ``κ^{2L+1}``.
    temperature : float
        Softmax temperature ``τ`` used in ``softmax_bound``.
    softmax_bound, log10_softmax_bound : float
        ``κ · exp(2(λ₁ − λ_r)/τ)``.
    width_relu, log10_width_relu : float
        ``κ² n ln n``: width the 2L-ReLU net needs for its NTK regime.
    width_attention, log10_width_attention : float
        ``κ⁶ n ln n``: width MLP-Attn needs.
    practical_width : float
        Largest width considered practical.
    orders_above_practical_relu, orders_above_practical_attention : float
        ``log10(width / practical_width)``; negative when the width is practical.
    collapse_raw, collapse_attention : float
        Mean pairwise cosine of the (nonzero) raw rows and of the attention features ``X C``.
    curve_ranks : tuple of int
        Ranks ``k`` of the rank-sensitivity curve.
    curve_kappa : tuple of float
        ``κ_k = λ₁/λ_k`` at each of ``curve_ranks``.
    verdict : str
        One-line summary.

    See Also
    --------
    kappa_report : Builds this report.

    Notes
    -----
    Values beyond the float64 range are ``inf``; the ``log10_*`` fields stay finite.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import kappa_report
    >>> report = kappa_report(np.diag([10.0, 1.0, 0.1]))
    >>> report.rank, round(report.log10_kappa, 6)
    (3, 4.0)
    >>> list(report.to_frame("rank_curve").columns)
    ['rank', 'kappa', 'log10_kappa', 'log10_width_relu', 'log10_width_attention']
    """

    n_samples: int
    n_features: int
    method: str
    numerical_rank: int | None
    rank: int
    kappa: float
    log10_kappa: float
    kappa_cubed: float
    log10_kappa_cubed: float
    n_layers: int
    kappa_layers: float
    log10_kappa_layers: float
    temperature: float
    softmax_bound: float
    log10_softmax_bound: float
    width_relu: float
    log10_width_relu: float
    width_attention: float
    log10_width_attention: float
    practical_width: float
    orders_above_practical_relu: float
    orders_above_practical_attention: float
    collapse_raw: float
    collapse_attention: float
    curve_ranks: tuple[int, ...]
    curve_kappa: tuple[float, ...]
    verdict: str

    def _curve_log10(self):
        with np.errstate(divide="ignore"):
            return np.log10(np.asarray(self.curve_kappa, dtype=np.float64))

    def to_frame(self, kind="quantities"):
        """Return the report as a pandas DataFrame.

        Parameters
        ----------
        kind : {"quantities", "rank_curve"}, default="quantities"
            ``"quantities"``: one row per scalar quantity, columns ``quantity``, ``value`` and
            ``log10`` (NaN where a log is not meaningful, e.g. ranks and collapse values).
            ``"rank_curve"``: one row per rank ``k`` of the rank-sensitivity curve, columns
            ``rank``, ``kappa``, ``log10_kappa`` and the log10 required widths at that ``k``.

        Returns
        -------
        frame : pandas.DataFrame
            The tidy table.
        """
        import pandas as pd

        if kind == "quantities":
            rows = []
            for label, field, log_field in _QUANTITY_ROWS:
                value = getattr(self, field)
                rows.append(
                    {
                        "quantity": label,
                        "value": np.nan if value is None else float(value),
                        "log10": np.nan if log_field is None else getattr(self, log_field),
                    }
                )
            return pd.DataFrame(rows, columns=["quantity", "value", "log10"])
        if kind == "rank_curve":
            log10_kappa = self._curve_log10()
            return pd.DataFrame(
                {
                    "rank": np.asarray(self.curve_ranks, dtype=np.int64),
                    "kappa": np.asarray(self.curve_kappa, dtype=np.float64),
                    "log10_kappa": log10_kappa,
                    "log10_width_relu": [
                        _log_required_width(v, self.n_samples, "relu") for v in log10_kappa
                    ],
                    "log10_width_attention": [
                        _log_required_width(v, self.n_samples, "attention") for v in log10_kappa
                    ],
                }
            )
        raise ValueError(
            f"KappaReport.to_frame: kind must be 'quantities' or 'rank_curve', got {kind!r}."
        )

    def to_dict(self):
        """Return the report as a JSON-serialisable dict.

        Numbers become Python ``int``/``float``, the curve becomes two lists, and non-finite
        floats (an overflowing width, κ at a zero singular value) become None so that the output
        passes ``json.dumps(..., allow_nan=False)``; the matching ``log10_*`` entry keeps the
        order of magnitude.

        Returns
        -------
        report : dict
            Field name to value.
        """

        def clean(value):
            if isinstance(value, bool | str) or value is None:
                return value
            if isinstance(value, Integral):
                return int(value)
            if isinstance(value, Real):
                value = float(value)
                return value if math.isfinite(value) else None
            if isinstance(value, tuple | list):
                return [clean(v) for v in value]
            return value

        return {f.name: clean(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def __str__(self):
        p10 = _format_pow10
        numerical = "unknown" if self.numerical_rank is None else str(self.numerical_rank)
        practical = p10(math.log10(self.practical_width))
        rows = [
            ("numerical rank", f"{numerical}   (κ read at rank r = {self.rank})"),
            ("κ = λ₁/λ_r of G = XXᵀ", f"{p10(self.log10_kappa)}  ({self.kappa:.4g})"),
            ("κ³ (linearized attention)", p10(self.log10_kappa_cubed)),
            (f"κ^(2L+1), L = {self.n_layers}", p10(self.log10_kappa_layers)),
            (f"softmax bound (τ = {self.temperature:.3g})", p10(self.log10_softmax_bound)),
            (
                "required width, 2L-ReLU",
                f"m ≈ {p10(self.log10_width_relu)}  ({self.orders_above_practical_relu:+.1f} "
                f"orders vs practical {practical})",
            ),
            (
                "required width, attention",
                f"m ≈ {p10(self.log10_width_attention)}  "
                f"({self.orders_above_practical_attention:+.1f} orders vs practical {practical})",
            ),
            (
                "feature collapse (mean cos)",
                f"raw {self.collapse_raw:.4f}, attention {self.collapse_attention:.4f}",
            ),
        ]
        lines = [
            f"κ diagnostic of X: {self.n_samples} samples × {self.n_features} features "
            f"(singular values by method={self.method!r})"
        ]
        lines += [f"  {label:<30} {value}" for label, value in rows]
        lines.append("  rank sensitivity, k: log10 κ_k")
        pairs = [
            f"{k}: {v:.2f}" for k, v in zip(self.curve_ranks, self._curve_log10(), strict=True)
        ]
        for start in range(0, len(pairs), 6):
            lines.append("    " + "   ".join(pairs[start : start + 6]))
        lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines)


def _verdict(log10_attention, log10_relu, log10_practical):
    practical = _format_pow10(log10_practical)
    attention, relu = _format_pow10(log10_attention), _format_pow10(log10_relu)
    relu_note = ", also above it" if log10_relu > log10_practical else ""
    if log10_attention > log10_practical:
        gap = "≫" if log10_attention - log10_practical >= 1 else ">"
        return (
            f"attention cannot reach its NTK regime: needs m ≈ {attention} {gap} {practical} "
            f"(2L-ReLU needs m ≈ {relu}{relu_note})"
        )
    return (
        f"attention can reach its NTK regime at practical width: needs m ≈ {attention} ≤ "
        f"{practical} (2L-ReLU needs m ≈ {relu})"
    )


def _collapse_nonzero_rows(F):
    """Feature collapse over the nonzero rows of ``F``; NaN when fewer than two remain."""
    nonzero = row_norms(F, squared=True) > 0
    if np.count_nonzero(nonzero) < 2:
        return math.nan
    return _collapse(F[nonzero] if not nonzero.all() else F)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "rank": _RANK_CONSTRAINT,
        "ranks": [None, "array-like"],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "temperature": [None, Interval(Real, 0, None, closed="neither")],
        "practical_width": [Interval(Real, 1, None, closed="left")],
        "method": _METHOD_CONSTRAINT,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def kappa_report(
    X,
    *,
    rank="numerical",
    ranks=None,
    n_layers=1,
    temperature=None,
    practical_width=1e5,
    method="auto",
    random_state=None,
):
    """Full condition-number diagnostic of ``X`` from one singular-value computation.

    Reports ``κ`` at the chosen rank, its amplification by attention (``κ³``, ``κ^{2L+1}``, the
    softmax bound), the widths both networks need for their NTK regime against a practical
    width, the rank-sensitivity curve ``κ_k``, feature collapse, and a one-line verdict.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data matrix (rows usually unit-norm), at least two rows, finite and real.

    rank : int, {"numerical", "full"} or float in (0, 1), default="numerical"
        Rank at which κ is read, as in :func:`effective_condition_number`.

    ranks : array-like of int, default=None
        Ranks ``k`` of the rank-sensitivity curve, each in ``[1, min(n, d)]`` (at most ``rank``
        with ``method="randomized"``). None: about 20 log-spaced ranks from 1 to the numerical
        rank, plus ``rank``.

    n_layers : int, default=1
        Number ``L`` of attention layers in ``κ^{2L+1}``.

    temperature : float, default=None
        Softmax temperature ``τ``; None means ``√d``.

    practical_width : float, default=1e5
        Largest width considered practical (PAPER.md §4).

    method : {"auto", "exact", "gram", "randomized"}, default="auto"
        How the singular values are computed; see :func:`effective_condition_number`.
        ``"randomized"`` needs an integer ``rank`` and computes the leading
        ``max(rank, max(ranks))`` values only.

    random_state : int, RandomState instance or None, default=None
        Seed of ``method="randomized"``.

    Returns
    -------
    report : KappaReport
        The diagnostic; ``str(report)`` is readable, ``report.to_frame()`` and
        ``report.to_dict()`` are for tables and JSON.

    See Also
    --------
    effective_condition_number : The condition number κ alone.
    spectral_amplification : Adds κ measured on the attention features.

    Notes
    -----
    Feature collapse is computed on the nonzero rows of ``X`` and of ``X C`` (a zero row has no
    direction), and is NaN when fewer than two rows are nonzero. Computing it costs one
    ``O(n d²)`` product for ``X C``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import normalize
    >>> from sklearn_attnkernel import kappa_report
    >>> X = normalize(load_digits().data / 16.0)
    >>> report = kappa_report(X)
    >>> report.numerical_rank
    61
    >>> report.log10_width_attention > 5
    True
    >>> print(report.verdict)  # doctest: +NORMALIZE_WHITESPACE
    attention cannot reach its NTK regime: needs m ≈ 10^45.1 ≫ 10^5
    (2L-ReLU needs m ≈ 10^17.8, also above it)
    """
    who = "kappa_report"
    X = _check_matrix(X, who)
    n, d = X.shape
    full = min(n, d)
    if ranks is not None:
        ranks_array = np.asarray(ranks)
        if ranks_array.ndim != 1 or ranks_array.size == 0:
            raise ValueError(
                f"{who}: ranks must be a non-empty 1-D sequence of ints, got {ranks!r}."
            )
        if not np.issubdtype(ranks_array.dtype, np.integer):
            raise TypeError(
                f"{who}: ranks must contain ints, got dtype {ranks_array.dtype}. Pass e.g. "
                "ranks=[1, 10, 100]."
            )
    method = _resolve_method(X, method, rank, who)
    n_components = None
    if method == "randomized":
        n_components = int(rank) if ranks is None else int(max(rank, ranks_array.max()))
        n_components = min(n_components, full)
    spec = _spectrum(X, method, n_components=n_components, random_state=random_state)
    r = _resolve_rank(spec, rank, who)
    available = spec.sigma.size

    if ranks is None:
        top = spec.numerical_rank if spec.numerical_rank is not None else available
        grid = np.round(np.geomspace(1, max(top, 1), _DEFAULT_GRID_SIZE)).astype(np.intp)
        grid = np.unique(np.append(grid, r))
    else:
        grid = np.unique(ranks_array.astype(np.intp))
        if grid[0] < 1 or grid[-1] > available:
            raise ValueError(
                f"{who}: every entry of ranks must lie in [1, {available}] (the number of "
                f"singular values computed by method={method!r}), got {ranks!r}."
            )
    curve_kappa, _ = _kappa_from_sigma(spec.sigma, grid)

    kappa, log10_kappa = (float(v[0]) for v in _kappa_from_sigma(spec.sigma, [r]))
    kappa_cubed, log10_cubed = _power(kappa, log10_kappa, 3)
    kappa_layers, log10_layers = _power(kappa, log10_kappa, 2 * n_layers + 1)
    tau = math.sqrt(d) if temperature is None else float(temperature)
    bound, log10_bound = _softmax_bound(
        kappa, log10_kappa, float(spec.sigma[0] ** 2), float(spec.sigma[r - 1] ** 2), tau
    )
    log10_relu = _log_required_width(log10_kappa, n, "relu")
    log10_attention = _log_required_width(log10_kappa, n, "attention")
    log10_practical = math.log10(practical_width)

    return KappaReport(
        n_samples=n,
        n_features=d,
        method=method,
        numerical_rank=spec.numerical_rank,
        rank=r,
        kappa=kappa,
        log10_kappa=log10_kappa,
        kappa_cubed=kappa_cubed,
        log10_kappa_cubed=log10_cubed,
        n_layers=int(n_layers),
        kappa_layers=kappa_layers,
        log10_kappa_layers=log10_layers,
        temperature=tau,
        softmax_bound=bound,
        log10_softmax_bound=log10_bound,
        width_relu=_from_log10(log10_relu),
        log10_width_relu=log10_relu,
        width_attention=_from_log10(log10_attention),
        log10_width_attention=log10_attention,
        practical_width=float(practical_width),
        orders_above_practical_relu=log10_relu - log10_practical,
        orders_above_practical_attention=log10_attention - log10_practical,
        collapse_raw=_collapse_nonzero_rows(X),
        collapse_attention=_collapse_nonzero_rows(_attention_features(X)),
        curve_ranks=tuple(int(k) for k in grid),
        curve_kappa=tuple(float(v) for v in curve_kappa),
        verdict=_verdict(log10_attention, log10_relu, log10_practical),
    )
