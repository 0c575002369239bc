"""Sufficient width for the NTK regime, ``m* = κᵖ n ln n`` (arXiv 2603.13085, Thm 4.8).

Thm 4.8 gives ``m = Ω(κᵖ n log n)`` as a *sufficient* condition with unknown constants; the
paper leaves a matching lower bound open. The value is an order of magnitude of a sufficient
width, not the width a network needs; the robust quantity is the ratio ``κ⁴`` between the two
architectures, in which ``n ln n`` cancels.

Computed in log space, so the order of magnitude survives where ``m*`` overflows float64.
"""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions, validate_params

from .._utils.vocabulary import WIDTH_EXPONENT

__all__ = ["required_width"]

_LOG10_MAX = math.log10(np.finfo(np.float64).max)


def log_required_width(log10_kappa, n, architecture):
    """``log10(κ^p · n · ln n)`` computed from ``log10 κ``."""
    p = WIDTH_EXPONENT[architecture]
    return p * log10_kappa + (math.log(n) + math.log(math.log(n))) / math.log(10)


def from_log10(log10_value):
    """``10**x`` as a float, inf only when it exceeds the float64 range."""
    if not math.isfinite(log10_value):
        return log10_value if log10_value > 0 else 0.0
    if log10_value > _LOG10_MAX:
        return math.inf
    try:
        return 10.0**log10_value
    except OverflowError:  # within rounding of the largest float
        return math.inf


def required_width(kappa, n, architecture="attention", *, log10=False):
    """Sufficient width ``m*`` for the NTK regime of a two-layer ReLU net (Thm 4.8).

    ``m* = κ⁶ · n · ln n`` with linearized attention in front, ``m* = κ² · n · ln n`` for the
    plain two-layer ReLU net. Thm 4.8 of arXiv 2603.13085 states ``m = Ω(κᵖ n log n)`` as a
    *sufficient* condition with unknown constants, and the paper leaves a lower bound open: a
    smaller width may well suffice. The constant is taken as 1, so read the result as the order
    of magnitude of a sufficient width, never as the width a network needs. The ratio of the two
    architectures, ``κ⁴``, does not depend on ``n`` and is the robust quantity. The value
    depends strongly on the rank at which ``κ`` is read (see :func:`kappa_report`); the same
    rule gives the 2L-ReLU net ``10⁶``–``10¹⁸`` on scikit-learn's digits, depending on that
    rank. Computed in log space.

    Parameters
    ----------
    kappa : float
        Effective condition number ``κ ≥ 1`` (``inf`` is accepted and gives ``inf``), read at a
        rank you should state beside the result.

    n : int
        Number of training samples, ``n ≥ 2``.

    architecture : {"attention", "relu"}, default="attention"
        ``"attention"`` for MLP-Attn (exponent 6), ``"relu"`` for the 2L-ReLU net (exponent 2).

    log10 : bool, default=False
        If True, return ``log10 m*``, which is finite even where ``m*`` exceeds the float range.

    Returns
    -------
    width : float
        The sufficient width ``m*`` (``inf`` for ``kappa=inf``), or ``log10 m*`` when
        ``log10=True``.

    Raises
    ------
    ValueError
        If ``m*`` exceeds the float64 range (about ``1.8·10³⁰⁸``) for a finite κ: the message
        gives ``log10 m*`` and says to pass ``log10=True``.

    See Also
    --------
    kappa_report : Sufficient widths for both architectures, compared with a practical width.

    Examples
    --------
    >>> from sklearn_attnkernel import required_width
    >>> round(required_width(10.0, 100, "relu"), 6)  # 10² · 100 · ln 100
    46051.70186
    >>> round(required_width(1e60, 10_000, log10=True), 3)  # 10³⁶⁰ overflows float64
    364.964
    >>> required_width(1e60, 10_000)
    Traceback (most recent call last):
    ...
    ValueError: required_width: m* = 10^364.96 overflows float64; pass log10=True ...
    """
    log10_width = log_required_width(
        math.log10(kappa) if math.isfinite(kappa) else math.inf, int(n), architecture
    )
    if log10:
        return float(log10_width)
    width = from_log10(log10_width)
    if math.isinf(width) and math.isfinite(kappa):
        raise ValueError(
            f"required_width: m* = 10^{log10_width:.2f} overflows float64; pass log10=True "
            "to get log10 m*, which stays finite."
        )
    return width


# Applied by assignment (not @-syntax, same at runtime) so that mutmut reaches the body.
required_width = validate_params(
    {
        "kappa": [Interval(Real, 1, None, closed="left"), Options(Real, {math.inf})],
        "n": [Interval(Integral, 2, None, closed="left")],
        "architecture": [StrOptions(set(WIDTH_EXPONENT))],
        "log10": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)(required_width)
