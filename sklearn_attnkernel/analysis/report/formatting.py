"""Display helpers shared by the tables, figures and comparison: 'mean ± ci' strings, wide
tables in the paper's row order, and the display labels of the architectures."""

import math

import pandas as pd

from ..._utils.vocabulary import ARCHITECTURE_LABELS, PAPER_EPSILON

__all__ = [
    "ARCHITECTURE_ORDER",
    "architecture_label",
    "format_ci",
    "label_architectures",
    "reported_epsilon",
    "wide",
]

#: Rank of each architecture (key or display label) in the paper's order: 2L-ReLU first.
ARCHITECTURE_ORDER = {label: i for i, label in enumerate(ARCHITECTURE_LABELS.values())} | {
    name: i for i, name in enumerate(ARCHITECTURE_LABELS)
}


def architecture_label(architecture):
    """The display label of an architecture key ("relu" → "2L-ReLU"); unknown keys unchanged."""
    return ARCHITECTURE_LABELS.get(architecture, architecture)


def label_architectures(frame):
    """A copy of ``frame`` with its ``architecture`` column in display labels."""
    if "architecture" in frame:
        frame = frame.copy()
        frame["architecture"] = frame["architecture"].map(architecture_label, na_action="ignore")
    return frame


def format_ci(mean, half, n, digits=3, percent=False):
    """'mean ± half' with ``digits`` significant digits, or in % with one decimal; '—' for
    a missing mean and no '±' with fewer than two seeds."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    scale, unit = (100.0, "%") if percent else (1.0, "")
    text = f"{mean * scale:.{digits}g}{unit}" if not percent else f"{mean * scale:.1f}{unit}"
    if n >= 2 and not math.isnan(half):
        text += f" ± {half * scale:.1f}{unit}" if percent else f" ± {half * scale:.{digits}g}"
    return text


def _sort_key(value):
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def wide(summary, index, column, percent=False, digits=3, order=None):
    """A wide table of formatted 'mean ± ci' strings; columns in ``order`` or sorted."""
    if summary.empty:
        return pd.DataFrame()
    frame = summary.copy()
    frame["cell"] = [
        format_ci(m, h, n, digits=digits, percent=percent)
        for m, h, n in zip(frame["mean"], frame["ci95"], frame["n"], strict=True)
    ]
    values = sorted(frame[column].dropna().unique(), key=_sort_key)
    if order is not None:
        values = [v for v in order if v in values] + [v for v in values if v not in order]
    order = list(dict.fromkeys(values))
    frame[column] = frame[column].astype(str)
    if "architecture" in index:  # keep rows in a readable order: the paper's architectures first
        frame["_arch_order"] = frame["architecture"].map(ARCHITECTURE_ORDER).fillna(99)
    sort_by = ["_arch_order" if n == "architecture" else n for n in index]
    frame = frame.sort_values(sort_by, kind="stable")
    wide_frame = frame.pivot_table(
        index=index, columns=column, values="cell", aggfunc="first", sort=False
    ).reset_index()
    wide_frame.columns.name = None
    columns = [str(c) for c in order if str(c) in wide_frame.columns]
    return wide_frame[[*index, *columns]].fillna("—")


def reported_epsilon(epsilons):
    """The ε a table reads flip rates at: the paper's (0.3) if measured, else the largest;
    None without any ε.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.report.formatting import reported_epsilon
    >>> reported_epsilon([0.03, 0.1, 0.3]), reported_epsilon([0.03, 0.1]), reported_epsilon([])
    (0.3, 0.1, None)
    """
    values = pd.to_numeric(pd.Series(list(epsilons), dtype=object), errors="coerce").dropna()
    if values.empty:
        return None
    return PAPER_EPSILON if (values == PAPER_EPSILON).any() else float(values.max())
