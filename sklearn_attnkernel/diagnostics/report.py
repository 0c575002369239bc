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
        ``κ^{2L+1}``: ``L`` stacked layers that all reuse the original ``C`` (Remark 4.10).
    temperature : float
        Temperature ``τ`` used in ``softmax_bound``.
    softmax_bound, log10_softmax_bound : float
        ``κ · exp(2(λ₁ − λ_r)/τ)``: the bound of the matrix-exponential model (Prop 4.11 of
        arXiv 2603.13085), i.e. the condition number of ``e^{G/τ} G e^{G/τ}`` with the matrix
        exponential ``e^{G/τ} = U e^{Λ/τ} Uᵀ``. It is not the condition number of the entrywise
        softmax or exponential attention that
        :class:`~sklearn_attnkernel.SoftmaxAttention` computes, which can differ from it by
        orders of magnitude, in either direction. The field keeps its historical name.
    width_relu, log10_width_relu : float
        ``κ² n ln n``: sufficient width for the 2L-ReLU net's NTK regime (Thm 4.8; a sufficient
        condition with unknown constants, so an order of magnitude, not a requirement).
    width_attention, log10_width_attention : float
        ``κ⁶ n ln n``: the same sufficient width for MLP-Attn. Its ratio to ``width_relu`` is
        ``κ⁴``, free of ``n``.
    practical_width : float
        Largest width considered practical *(ours)*.
    orders_above_practical_relu, orders_above_practical_attention : float
        ``log10(width / practical_width)`` of the sufficient width; negative when it is
        practical.
    collapse_raw, collapse_attention : float
        Mean pairwise cosine of the (nonzero) raw rows and of the attention features ``X C``.
    curve_ranks : tuple of int
        Ranks ``k`` of the rank-sensitivity curve.
    curve_kappa : tuple of float
        ``κ_k = λ₁/λ_k`` at each of ``curve_ranks``.
    verdict : str
        One-line summary: the ``κ⁴`` ratio of the two sufficient widths, the rank at which κ is
        read, and both widths against the practical one.

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
        # κ_k ≥ 1 (or inf) by construction: no zero reaches the logarithm
        return np.log10(np.asarray(self.curve_kappa, dtype=np.float64))

    def to_frame(self, kind="quantities"):
        """Return the report as a pandas DataFrame.

        Parameters
        ----------
        kind : {"quantities", "rank_curve"}, default="quantities"
            ``"quantities"``: one row per scalar quantity, columns ``quantity``, ``value`` and
            ``log10`` (NaN where a log is not meaningful, e.g. ranks and collapse values).
            ``"rank_curve"``: one row per rank ``k`` of the rank-sensitivity curve, columns
            ``rank``, ``kappa``, ``log10_kappa`` and the log10 sufficient widths at that ``k``.

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
            (
                f"κ = λ₁/λ_r of G = XXᵀ, r = {self.rank}",
                f"{p10(self.log10_kappa)}  ({self.kappa:.4g})",
            ),
            ("κ³ (linearized attention)", p10(self.log10_kappa_cubed)),
            (f"κ^(2L+1), L = {self.n_layers}, same C", p10(self.log10_kappa_layers)),
            (
                "bound of the matrix-exponential model",
                f"{p10(self.log10_softmax_bound)}  (τ = {self.temperature:.3g}; not the entrywise "
                "softmax)",
            ),
            (
                "sufficient width, 2L-ReLU",
                f"m ≈ {p10(self.log10_width_relu)}  ({self.orders_above_practical_relu:+.1f} "
                f"orders vs practical {practical})",
            ),
            (
                "sufficient width, MLP-Attn",
                f"m ≈ {p10(self.log10_width_attention)}  "
                f"({self.orders_above_practical_attention:+.1f} orders vs practical {practical})",
            ),
            (
                "width ratio MLP-Attn / 2L-ReLU",
                f"κ⁴ = {p10(self.log10_width_attention - self.log10_width_relu)}",
            ),
            (
                "feature collapse (mean cos)",
                f"raw {self.collapse_raw:.4f}, attention {self.collapse_attention:.4f}",
            ),
        ]
        width = max(len(label) for label, _ in rows)
        lines = [
            f"κ diagnostic of X: {self.n_samples} samples × {self.n_features} features "
            f"(singular values by method={self.method!r})"
        ]
        lines += [f"  {label:<{width}}  {value}" for label, value in rows]
        lines.append(
            "  widths: the sufficient condition m = Ω(κᵖ n log n) of Thm 4.8 with constant 1;\n"
            "          its constants are unknown and no lower bound is known: orders of magnitude"
        )
        lines.append("  rank sensitivity, k: log10 κ_k")
        pairs = [
            f"{k}: {v:.2f}" for k, v in zip(self.curve_ranks, self._curve_log10(), strict=True)
        ]
        for start in range(0, len(pairs), 6):
            lines.append("    " + "   ".join(pairs[start : start + 6]))
        lines.append(f"verdict: {self.verdict}")
        return "\n".join(lines)


def format_verdict(log10_attention, log10_relu, log10_practical, rank=None):
    """The one-line verdict: the ``κ⁴`` ratio of the sufficient widths, and both against practical.

    The widths are the sufficient condition of Thm 4.8 (constants unknown), so the verdict leads
    with their ratio, which does not depend on the constant, and says at which rank κ was read.
    """
    p10 = _format_pow10
    practical = p10(log10_practical)
    attention, relu = p10(log10_attention), p10(log10_relu)
    at_rank = "" if rank is None else f" (κ read at rank {rank})"
    above_attention = log10_attention > log10_practical
    above_relu = log10_relu > log10_practical
    if above_attention and above_relu:
        against = f"both above the practical {practical}"
    elif above_attention:
        against = f"MLP-Attn's above the practical {practical}, 2L-ReLU's within it"
    elif above_relu:
        against = f"2L-ReLU's above the practical {practical}, MLP-Attn's within it"
    else:
        against = f"both within the practical {practical}"
    return (
        f"MLP-Attn's sufficient width is κ⁴ = {p10(log10_attention - log10_relu)} times "
        f"2L-ReLU's{at_rank}: m ≈ {attention} vs {relu}, {against} (Thm 4.8: a sufficient "
        "condition with unknown constants, not a required width)"
    )
