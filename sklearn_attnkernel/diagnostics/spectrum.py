"""Singular values of a data matrix, its numerical rank, and ``κ_k`` read from them.

Every κ diagnostic starts here: one singular-value computation (``exact``, ``gram`` or
``randomized``), the rank ``r`` it is read at, and ``κ_k = (σ₁/σ_k)²``. The ``n × n`` matrix
``G = X Xᵀ`` is never formed.
"""

import dataclasses
import logging
import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import randomized_svd, safe_sparse_dot

__all__ = ["NumericalRankWarning"]

logger = logging.getLogger(__name__)

_EPS = np.finfo(np.float64).eps

#: ``validate_params`` constraints of the ``rank`` and ``method`` parameters.
RANK_CONSTRAINT = [
    Interval(Integral, 1, None, closed="left"),
    StrOptions({"numerical", "full"}),
    Interval(Real, 0, 1, closed="neither"),
]
METHOD_CONSTRAINT = [StrOptions({"auto", "exact", "gram", "randomized"})]


class NumericalRankWarning(UserWarning):
    """Warning raised when κ is requested at a rank above the numerical rank of ``X``.

    Singular values below the numerical-rank tolerance are round-off, so κ read there measures
    the floating-point format, not the data.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn_attnkernel.diagnostics import (
    ...     NumericalRankWarning, effective_condition_number)
    >>> X = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0]])  # rank 1
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     kappa = effective_condition_number(X, rank="full")
    >>> kappa, caught[0].category is NumericalRankWarning
    (inf, True)
    """


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Singular values of ``X`` (descending) and what is known about its numerical rank."""

    sigma: np.ndarray
    tol: float
    numerical_rank: int | None  # None: above every computed value (randomized path)
    method: str
    n_samples: int
    n_features: int


def resolve_method(X, method, rank, who):
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


def _exact_singular_values(X, n_components, random_state):
    """LAPACK ``gesdd`` without singular vectors; tolerance ``σ₁ · max(n, d) · eps``."""
    sigma = scipy.linalg.svdvals(X, check_finite=False)
    tol = sigma[0] * max(X.shape) * _EPS
    return sigma, tol, int(np.count_nonzero(sigma > tol))


def _gram_singular_values(X, n_components, random_state):
    """Square roots of the eigenvalues of the smaller of ``XᵀX`` and ``XXᵀ``."""
    n, d = X.shape
    M = safe_sparse_dot(X.T, X, dense_output=True) if n >= d else safe_sparse_dot(X, X.T)
    M = np.asarray(M.toarray() if sp.issparse(M) else M, dtype=np.float64)
    lam = np.clip(scipy.linalg.eigvalsh(M, check_finite=False)[::-1], 0.0, None)
    # numpy.linalg.matrix_rank's tolerance for the matrix actually decomposed.
    tol_lam = lam[0] * M.shape[0] * _EPS
    return np.sqrt(lam), math.sqrt(tol_lam), int(np.count_nonzero(lam > tol_lam))


def _randomized_singular_values(X, n_components, random_state):
    """The leading ``n_components`` only; the numerical rank is None when all are above it."""
    n, d = X.shape
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
    return sigma, tol, int(np.count_nonzero(~below)) if below.any() else None


_SINGULAR_VALUES = {
    "exact": _exact_singular_values,
    "gram": _gram_singular_values,
    "randomized": _randomized_singular_values,
}


def compute_spectrum(X, method, *, n_components=None, random_state=None):
    """Compute the singular values of ``X`` with one of the three methods.

    ``exact``: LAPACK ``gesdd`` without singular vectors (:func:`scipy.linalg.svdvals`); for tall
    ``X`` LAPACK itself first reduces ``X`` to its ``d × d`` triangular factor by QR. Accurate to
    ``eps·σ₁``. ``gram``: :func:`scipy.linalg.eigvalsh` of the smaller of ``XᵀX`` and ``XXᵀ``.
    ``randomized``: :func:`sklearn.utils.extmath.randomized_svd`, leading ``n_components`` only.
    """
    n, d = X.shape
    try:
        sigma, tol, numerical_rank = _SINGULAR_VALUES[method](X, n_components, random_state)
    except np.linalg.LinAlgError as exc:  # scipy.linalg's LinAlgError is numpy's
        raise ValueError(
            f"The singular values of X ({n}×{d}) could not be computed by method={method!r}: "
            f"LAPACK reported {exc!r}. Try method='exact' (dense X), or check X for extreme "
            "entries."
        ) from exc
    logger.debug(
        "singular values of a %d x %d matrix by %s: %d computed, numerical rank %s",
        n,
        d,
        method,
        sigma.size,
        numerical_rank,
    )
    return Spectrum(np.asarray(sigma, dtype=np.float64), float(tol), numerical_rank, method, n, d)


def resolve_rank(spec, rank, who):
    """Turn the ``rank`` parameter into an integer ``r``; warn above the numerical rank."""
    if isinstance(rank, bool | np.bool_):
        raise TypeError(f"{who}: rank must be an int, a str or a float, got the bool {rank!r}.")
    full = min(spec.n_samples, spec.n_features)
    if spec.sigma[0] == 0:
        raise ValueError(
            f"{who}: every entry of X is exactly zero (not an underflow: X is rescaled by a "
            "power of two first), so its condition number is undefined."
        )
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


def kappa_from_sigma(sigma, ranks):
    """``κ_k = (σ₁/σ_k)²`` and ``log10 κ_k`` for 1-based ``ranks``; inf where ``σ_k = 0``."""
    s1 = sigma[0]
    sk = sigma[np.asarray(ranks, dtype=np.intp) - 1]
    with np.errstate(divide="ignore", over="ignore"):
        kappa = (s1 / sk) ** 2
        log10_kappa = 2.0 * (np.log10(s1) - np.log10(sk))
    return kappa, log10_kappa
