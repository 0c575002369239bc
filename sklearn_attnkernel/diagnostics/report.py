"""How a κ diagnostic is shown: :class:`KappaReport` (table, dict, text) and its verdict.

The numbers are computed by :func:`~sklearn_attnkernel.diagnostics.kappa.kappa_report`; this module
only holds and presents them.
"""

import dataclasses
import math
from numbers import Integral, Real

import numpy as np

from .width import log_required_width

__all__ = ["KappaReport"]

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


def _format_pow10(log10_value):
    """``"10^x"`` with one decimal unless ``x`` is whole; ``"inf"``, ``"0"`` or ``"nan"``."""
    if math.isnan(log10_value):
        return "nan"
    if not math.isfinite(log10_value):
        return "inf" if log10_value > 0 else "0"
    if float(log10_value).is_integer():
        return f"10^{log10_value:.0f}"
    return f"10^{log10_value:.1f}"


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
                        log_required_width(v, self.n_samples, "relu") for v in log10_kappa
                    ],
                    "log10_width_attention": [
                        log_required_width(v, self.n_samples, "attention") for v in log10_kappa
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


def format_verdict(log10_attention, log10_relu, log10_practical):
    """The one-line verdict: can attention reach its NTK regime at the practical width?"""
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
