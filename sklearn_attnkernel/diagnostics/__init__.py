"""Layer 1: the κ diagnostic, sufficient widths and feature collapse (numpy only).

- :mod:`.spectrum`: singular values, numerical rank and ``κ_k`` (one computation for everything);
- :mod:`.kappa`: :func:`effective_condition_number`, :func:`spectral_amplification`,
  :func:`kappa_report`;
- :mod:`.width`: :func:`required_width`, the sufficient width ``m* = κᵖ n ln n`` (order only);
- :mod:`.collapse`: :func:`feature_collapse`;
- :mod:`.report`: :class:`KappaReport`, how a diagnostic is tabulated, serialised and printed.
"""

from .collapse import feature_collapse
from .kappa import effective_condition_number, kappa_report, spectral_amplification
from .report import KappaReport
from .spectrum import NumericalRankWarning
from .width import required_width

__all__ = [
    "KappaReport",
    "NumericalRankWarning",
    "effective_condition_number",
    "feature_collapse",
    "kappa_report",
    "required_width",
    "spectral_amplification",
]
