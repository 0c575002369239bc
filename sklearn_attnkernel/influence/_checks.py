"""The numerical checks of the kernel ridge system (arXiv 2603.13085, Appendix A.9) and their error.

numpy/scipy only: this module must not import torch. Shared by the in-memory dual and primal
paths (:mod:`.loo`), the GPU path (:mod:`._torch_linalg`) and the blocked path (:mod:`._dask`),
so that every path refuses the same systems with the same :class:`NumericalCheckError`.
"""

import math

import numpy as np
from scipy.linalg import eigvalsh

__all__ = [
    "SYMMETRY_RTOL",
    "NumericalCheckError",
    "check_asymmetry",
    "condition_error",
    "not_positive_definite",
    "relative_residual",
    "round_up_pow10",
]


# Relative Frobenius asymmetry ‖K − Kᵀ‖_F / ‖K‖_F above which K is rejected. Kernels computed in
# float64 are symmetric to ~1e-15; ones computed in float32 to ~1e-7.
SYMMETRY_RTOL = 1e-6


class NumericalCheckError(ValueError):
    """A numerical check on a kernel ridge system failed.

    Raised by :func:`loo_influence`, :func:`loo_influence_features` and
    :func:`intrinsic_sensitivity` instead of returning numbers that cannot be trusted.

    Parameters
    ----------
    message : str
        Human-readable description that repeats the numbers below.
    check : {"symmetry", "positive_definite", "condition_number", "residual", "finite"}
        Which check failed.
    value : float
        The measured quantity (relative asymmetry, smallest eigenvalue of ``K + αI``,
        condition number, relative residual; NaN for ``"finite"``).
    threshold : float or None
        The limit that ``value`` violated.
    condition_number : float or None
        Condition number of ``K + αI`` when it was computed.
    residual : float or None
        Relative residual of the solved system when it was computed:
        ``‖(K + αI)A − Y‖_F / ‖Y‖_F`` (dual) or ``‖(FᵀF + αI)W − FᵀY‖_F / ‖FᵀY‖_F``
        (primal).
    suggested_alpha : float or None
        A ridge that would pass the check, when one can be given.

    Attributes
    ----------
    check : str
        Which check failed.
    value : float
        The measured quantity.
    threshold : float or None
        The limit that ``value`` violated.
    condition_number : float or None
        Condition number of ``K + αI``, if computed.
    residual : float or None
        Relative solve residual, if computed.
    suggested_alpha : float or None
        Suggested larger ridge, if any.

    See Also
    --------
    loo_influence : Raises it when a numerical check fails.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.influence.loo import NumericalCheckError, loo_influence
    >>> K = np.array([[1.0, 2.0], [0.0, 1.0]])
    >>> try:
    ...     loo_influence(K, np.ones(2), K, np.ones(2))
    ... except NumericalCheckError as exc:
    ...     print(exc.check)
    symmetry
    """

    def __init__(
        self,
        message,
        *,
        check,
        value,
        threshold=None,
        condition_number=None,
        residual=None,
        suggested_alpha=None,
    ):
        super().__init__(message)
        self.check = check
        self.value = value
        self.threshold = threshold
        self.condition_number = condition_number
        self.residual = residual
        self.suggested_alpha = suggested_alpha


def check_asymmetry(asym):
    """Raise the ``"symmetry"`` error when ``asym = ‖K − Kᵀ‖_F / ‖K‖_F`` exceeds the limit."""
    if not asym <= SYMMETRY_RTOL:
        raise NumericalCheckError(
            f"K_train is not symmetric: relative asymmetry ‖K − Kᵀ‖_F / ‖K‖_F = {asym:.3e} "
            f"exceeds {SYMMETRY_RTOL:.0e}. Pass a symmetric kernel matrix (if the asymmetry is "
            "round-off from float32 arithmetic, pass (K + K.T) / 2).",
            check="symmetry",
            value=float(asym),
            threshold=SYMMETRY_RTOL,
        )


def round_up_pow10(x):
    # 10^⌈log10 x⌉, or None where float64 has no such power (x ≤ 0, x > 1e308, inf or NaN)
    return float(10.0 ** math.ceil(math.log10(x))) if 0 < x <= 1e308 else None


def condition_error(condition, norm_name, matrix_norm, alpha, max_condition, inverse_factor):
    # For positive semi-definite K, ‖(K + α'I)⁻¹‖ ≤ inverse_factor / α' (1 in the 2-norm, √n in
    # the 1-norm), so α' = 2 · inverse_factor · ‖K + αI‖ / max_condition brings the condition
    # number below max_condition (for max_condition ≥ 2 · inverse_factor).
    suggested = round_up_pow10(2.0 * inverse_factor * matrix_norm / max_condition)
    if suggested is not None and suggested <= alpha:
        suggested = None
    hint = (
        f"K is nearly singular for this ridge; try a larger alpha (alpha >= {suggested:.0e})"
        if suggested is not None
        else "K itself is ill-conditioned; a larger alpha regularises it"
    )
    return NumericalCheckError(
        f"K + αI (alpha={alpha!r}) has condition number {condition:.3e} ({norm_name}) above "
        f"max_condition={max_condition:.1e}: the influence scores would carry relative errors "
        f"up to ~{condition * np.finfo(np.float64).eps:.1e}. {hint}, or raise max_condition / "
        "pass check=False to accept them.",
        check="condition_number",
        value=float(condition),
        threshold=float(max_condition),
        condition_number=float(condition),
        suggested_alpha=suggested,
    )


def not_positive_definite(K, alpha, max_condition):
    """The error for a failed Cholesky factorisation, with the smallest eigenvalue of K + αI."""
    lam_min = float(eigvalsh(K, subset_by_index=[0, 0], check_finite=False)[0]) + alpha
    norm2 = float(np.linalg.norm(K, 2))
    suggested = round_up_pow10(max(alpha - lam_min, 0.0) + norm2 / max_condition)
    return NumericalCheckError(
        f"K_train + αI (alpha={alpha!r}) is not positive definite: its smallest eigenvalue "
        f"is {lam_min:.3e}. K_train must be positive semi-definite; if its negative "
        "eigenvalues are round-off, "
        + (
            f"try a larger alpha (alpha >= {suggested:.0e})."
            if suggested is not None
            else "rescale K: no float64 alpha is large enough for its scale."
        ),
        check="positive_definite",
        value=lam_min,
        suggested_alpha=suggested,
    )


def relative_residual(R, Y):
    norm_y = np.linalg.norm(Y)
    norm_r = np.linalg.norm(R)
    return float(norm_r / norm_y) if norm_y > 0 else float(norm_r)
