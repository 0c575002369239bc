"""RKHS complexity of kernel ridge regression by influence group (arXiv 2603.13085, Fig. 3, A.8).

numpy/scipy only: this module must not import torch.

Kernel ridge regression with kernel matrix ``K`` (n × n), ridge ``α`` and targets ``Y`` (n × C)
has dual coefficients ``β = (K + αI)⁻¹ Y`` and learns ``f = K β``, whose squared norm in the
kernel's reproducing kernel Hilbert space is ``‖f‖²_H = tr(βᵀ K β)``. It splits over the
training points as ``c_i = Σ_k β_ik (K β)_ik`` (``Σ_i c_i = ‖f‖²_H``), the point-wise
contributions. Grouping the points by their influence score (:func:`influence_groups`) gives each
group's share of the complexity and, refitting without the group, the change of ``‖f‖²_H`` when
it is left out (:func:`complexity_by_group`).

The refit without a group ``g`` comes from the factorisation of the full system: with
``H = (K + αI)⁻¹``, the dual coefficients of the ridge fitted on the other points ``r`` are
``β_r − H_rg H_gg⁻¹ β_g`` (the block form of the leave-one-out identity of
:mod:`~sklearn_attnkernel.influence.loo`: a Schur complement of ``H``). No library ships it, so
it is written out here and checked against explicit refits in
``tests/influence/test_complexity.py``.
"""

from numbers import Integral, Real

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array

from . import _linalg
from .loo import NumericalCheckError

__all__ = ["complexity_by_group", "influence_groups", "rkhs_contributions"]

# Relative Frobenius asymmetry above which K is refused (as in loo_influence).
_SYMMETRY_RTOL = 1e-6


def _check_kernel_targets(K, Y):
    """``K`` (n × n, symmetric, float64) and ``Y`` as an (n × C) float64 array."""
    K = check_array(K, dtype=np.float64, input_name="K")
    n = K.shape[0]
    if K.shape[1] != n:
        raise ValueError(f"K must be a square kernel matrix; got shape {K.shape}.")
    asym = _linalg.relative_asymmetry(K)
    if not asym <= _SYMMETRY_RTOL:
        raise NumericalCheckError(
            f"K is not symmetric: relative asymmetry ‖K − Kᵀ‖_F / ‖K‖_F = {asym:.3e} exceeds "
            f"{_SYMMETRY_RTOL:.0e}. Pass a symmetric kernel matrix, e.g. (K + K.T) / 2.",
            check="symmetry",
            value=float(asym),
            threshold=_SYMMETRY_RTOL,
        )
    Y = check_array(Y, dtype=np.float64, ensure_2d=False, input_name="Y")
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(
            f"Y must have shape ({n},) or ({n}, n_outputs), one target row per row of K; got "
            f"shape {Y.shape}."
        )
    return K, Y


def _factor(K, alpha):
    """The upper Cholesky factor of ``K + αI``; NumericalCheckError if it is not definite."""
    n = K.shape[0]
    system = K.copy()
    system.flat[:: n + 1] += alpha
    U, info = _linalg.cholesky_upper(system)
    if info != 0:
        raise NumericalCheckError(
            f"K + αI (alpha={alpha!r}) is not positive definite (the Cholesky factorisation "
            f"failed at column {info}); K must be positive semi-definite. Pass a larger alpha.",
            check="positive_definite",
            value=float("nan"),
        )
    return U


def _dual(K, Y, alpha):
    """``(U, β, c)``: the factor of ``K + αI``, ``β = (K + αI)⁻¹ Y`` and ``c_i``."""
    U = _factor(K, alpha)
    beta = _linalg.solve(U, Y)
    return U, beta, np.einsum("ik,ik->i", beta, K @ beta)


def rkhs_contributions(K, Y, *, alpha=1e-3):
    """Point-wise contributions to the RKHS norm of a kernel ridge regression fit.

    With ``β = (K + αI)⁻¹ Y`` the fit is ``f = K β`` and ``‖f‖²_H = tr(βᵀ K β)``; training point
    ``i`` contributes ``c_i = Σ_k β_ik (K β)_ik``, so that ``Σ_i c_i = ‖f‖²_H``
    (arXiv 2603.13085, A.8). One Cholesky factorisation of ``K + αI``.

    Parameters
    ----------
    K : array-like of shape (n_samples, n_samples)
        Symmetric positive semi-definite kernel matrix of the training points.
    Y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Real targets of the ridge fit (e.g. ±1, or one-hot columns).
    alpha : float, default=1e-3
        Ridge ``α > 0`` (the paper's λ = 1e-3).

    Returns
    -------
    contributions : ndarray of shape (n_samples,)
        ``c_i`` (float64). A contribution can be negative: ``c_i = β_iᵀ Y_i − α ‖β_i‖²``.
    norm : float
        ``‖f‖²_H = Σ_i c_i``.

    Raises
    ------
    NumericalCheckError
        If ``K`` is not symmetric or ``K + αI`` is not positive definite.

    See Also
    --------
    complexity_by_group : The contributions summed over influence groups.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import rkhs_contributions
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> K = np.exp(-((X - X.T) ** 2))
    >>> c, norm = rkhs_contributions(K, [1.0, -1.0, 1.0, 1.0], alpha=0.1)
    >>> c.round(3)
    array([1.284, 1.523, 1.165, 0.466])
    >>> bool(np.isclose(c.sum(), norm))
    True
    """
    K, Y = _check_kernel_targets(K, Y)
    _, _, contributions = _dual(K, Y, alpha)
    return contributions, float(contributions.sum())


def influence_groups(scores, n_groups=10):
    """Split the training points into groups of equal size by their influence score.

    The points are ordered by score (ties by index) and cut into ``n_groups`` consecutive
    groups whose sizes differ by at most one (the first ``n mod n_groups`` groups hold one
    point more): group 1 holds the lowest scores (most harmful), group ``n_groups`` the highest
    (most helpful), as in arXiv 2603.13085, Fig. 3 (positive = helpful, the sign convention of
    :func:`~sklearn_attnkernel.loo_influence`). With the default 10 they are deciles.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        One influence score per training point, e.g. the mean over test points of
        :func:`~sklearn_attnkernel.loo_influence` (``reduce="mean"``).
    n_groups : int, default=10
        Number of groups, ``1 ≤ n_groups ≤ n_samples``.

    Returns
    -------
    groups : ndarray of shape (n_samples,)
        The group of each point, in ``1, …, n_groups`` (int64).

    See Also
    --------
    complexity_by_group : The RKHS complexity of each group.

    Examples
    --------
    >>> from sklearn_attnkernel import influence_groups
    >>> influence_groups([0.3, -2.0, 0.1, 5.0, -0.5], n_groups=2)
    array([2, 1, 1, 2, 1])
    """
    scores = check_array(scores, dtype=np.float64, ensure_2d=False, input_name="scores")
    if scores.ndim != 1:
        raise ValueError(
            f"scores must be a 1-d vector, one score per training point; got shape "
            f"{scores.shape}. Average over test points first (reduce='mean')."
        )
    n = scores.shape[0]
    if n_groups > n:
        raise ValueError(
            f"n_groups={n_groups} exceeds the {n} scores: every group needs a point. Pass "
            f"n_groups <= {n}."
        )
    groups = np.empty(n, dtype=np.int64)
    order = np.argsort(scores, kind="stable")
    for label, members in enumerate(np.array_split(order, n_groups), start=1):
        groups[members] = label
    return groups


def _left_out_norm(K, U, beta, members):
    """``‖f‖²_H`` of the ridge refitted without the points ``members`` (see the module)."""
    n = K.shape[0]
    unit = np.zeros((n, members.size))
    unit[members, np.arange(members.size)] = 1.0
    H_g = _linalg.solve(U, unit)  # the columns g of H = (K + αI)⁻¹
    correction = H_g @ cho_solve(cho_factor(H_g[members]), beta[members])
    kept = beta - correction  # zero (to round-off) on the rows of the group
    kept[members] = 0.0
    return float(np.einsum("ik,ik->", kept, K @ kept))


def complexity_by_group(K, Y, scores, *, alpha=1e-3, n_groups=10):
    """RKHS complexity of a kernel ridge fit by influence group (arXiv 2603.13085, Fig. 3).

    The training points are split into ``n_groups`` groups by influence score
    (:func:`influence_groups`: 1 = most harmful, ``n_groups`` = most helpful). For each group
    it returns its share of ``‖f‖²_H = tr(βᵀ K β)`` (the sum of its points' contributions
    ``c_i = Σ_k β_ik (K β)_ik``, :func:`rkhs_contributions`, over ``‖f‖²_H``) and the relative
    change of ``‖f‖²_H`` when the ridge is refitted without the group. One Cholesky
    factorisation of ``K + αI`` serves every group: the refit without group ``g`` has dual
    coefficients ``β_r − H_rg H_gg⁻¹ β_g`` on the other points ``r`` (``H = (K + αI)⁻¹``,
    the block form of the leave-one-out identity; written by hand, no library ships it).

    Parameters
    ----------
    K : array-like of shape (n_samples, n_samples)
        Symmetric positive semi-definite kernel matrix of the training points.
    Y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Real targets of the ridge fit.
    scores : array-like of shape (n_samples,)
        Influence score of each training point (positive = helpful).
    alpha : float, default=1e-3
        Ridge ``α > 0``.
    n_groups : int, default=10
        Number of groups (deciles by default).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``groups`` (n_samples,): the group of each point, in ``1, …, n_groups``;
        ``contributions`` (n_samples,): ``c_i``; ``norm``: ``‖f‖²_H``;
        ``share`` (n_groups,): ``Σ_{i∈g} c_i / ‖f‖²_H`` (sums to 1);
        ``leave_out_change`` (n_groups,): ``(‖f_{−g}‖²_H − ‖f‖²_H) / ‖f‖²_H`` with
        ``f_{−g}`` the ridge refitted without group ``g``;
        ``mean_score`` (n_groups,): the mean influence score of each group.

    Raises
    ------
    NumericalCheckError
        If ``K`` is not symmetric or ``K + αI`` is not positive definite.
    ValueError
        If the shapes disagree or ``n_groups`` exceeds ``n_samples``.

    See Also
    --------
    rkhs_contributions : The point-wise contributions alone.
    influence_groups : The grouping.
    loo_influence : Influence scores of kernel ridge regression.

    Notes
    -----
    Cost: one factorisation (``n³/3``), then for each group ``g`` a solve with ``|g|``
    right-hand sides and one product with ``K`` (``O(n² (|g| + C))``): about ``2 n³`` in all,
    every group together. Memory ``O(n² + n |g|)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import complexity_by_group
    >>> X = np.linspace(0.0, 3.0, 6)[:, None]
    >>> K = np.exp(-((X - X.T) ** 2))
    >>> y = np.array([1.0, 1.0, -1.0, 1.0, -1.0, -1.0])
    >>> scores = np.array([0.2, -0.1, 0.4, 0.0, -0.3, 0.1])
    >>> result = complexity_by_group(K, y, scores, alpha=0.1, n_groups=3)
    >>> result.groups
    array([3, 1, 3, 2, 1, 2])
    >>> result.share.round(3), bool(np.isclose(result.share.sum(), 1.0))
    (array([0.674, 0.163, 0.163]), True)
    >>> result.leave_out_change.round(3)
    array([-0.065, -0.46 , -0.46 ])
    """
    K, Y = _check_kernel_targets(K, Y)
    scores = check_array(scores, dtype=np.float64, ensure_2d=False, input_name="scores")
    if scores.shape != (K.shape[0],):
        raise ValueError(
            f"scores must hold one score per row of K ({K.shape[0]}); got shape {scores.shape}."
        )
    groups = influence_groups(scores, n_groups)
    U, beta, contributions = _dual(K, Y, alpha)
    norm = float(contributions.sum())
    labels = np.arange(1, n_groups + 1)
    share = np.array([contributions[groups == g].sum() for g in labels]) / norm
    left_out = np.array([_left_out_norm(K, U, beta, np.flatnonzero(groups == g)) for g in labels])
    return Bunch(
        groups=groups,
        contributions=contributions,
        norm=norm,
        share=share,
        leave_out_change=(left_out - norm) / norm,
        mean_score=np.array([scores[groups == g].mean() for g in labels]),
    )


_KERNEL_TARGETS = {"K": ["array-like"], "Y": ["array-like"]}
_ALPHA = {"alpha": [Interval(Real, 0, None, closed="neither")]}
_N_GROUPS = {"n_groups": [Interval(Integral, 1, None, closed="left")]}

# Applied by assignment, not with @-syntax (mutmut 3 skips decorated functions; see loo.py).
rkhs_contributions = validate_params(
    {**_KERNEL_TARGETS, **_ALPHA}, prefer_skip_nested_validation=True
)(rkhs_contributions)
influence_groups = validate_params(
    {"scores": ["array-like"], **_N_GROUPS}, prefer_skip_nested_validation=True
)(influence_groups)
complexity_by_group = validate_params(
    {**_KERNEL_TARGETS, "scores": ["array-like"], **_ALPHA, **_N_GROUPS},
    prefer_skip_nested_validation=True,
)(complexity_by_group)
