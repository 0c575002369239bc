"""Layer 1: the κ diagnostic, required widths and feature collapse (numpy only)."""

from .kappa import (
    KappaReport,
    NumericalRankWarning,
    effective_condition_number,
    feature_collapse,
    kappa_report,
    required_width,
    spectral_amplification,
)

__all__ = [
    "KappaReport",
    "NumericalRankWarning",
    "effective_condition_number",
    "feature_collapse",
    "kappa_report",
    "required_width",
    "spectral_amplification",
]
