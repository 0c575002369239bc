"""The report of the ``complexity`` part (arXiv 2603.13085, Fig. 3, A.8): tables, a figure and
sentences on the complexity and malleability of the training points by influence group.

**U shape.** For one seed, with contribution shares ``c_1, …, c_G`` of the groups (1 = most
harmful, ``G`` = most helpful), the U statistic is ``u = min(c_1, c_G) − mean(c_2, …, c_{G−1})``:
positive when *both* end groups carry more of ``‖f‖²_H`` than the middle groups on average. The
U shape is "there" when the Student-t 95 % interval of the per-seed ``u`` lies above 0, "not
there" when it lies below, "undecided" when it contains 0; with one seed the sign of ``u`` is
reported, marked as one seed.

**Concentration.** Whether malleability concentrates where complexity does is Spearman's ρ
between the groups' contribution share and their flip rate (each averaged over seeds, ``G``
points), with its two-sided p-value (:func:`scipy.stats.spearmanr`): "concentrates" when
ρ > 0 at p < 0.05, "the opposite" when ρ < 0 at p < 0.05, "no clear relation" otherwise.
"""

import math

import numpy as np
import pandas as pd

from .formatting import ARCHITECTURE_ORDER, architecture_label, format_ci, label_architectures, wide
from .load import part_rows
from .stats import mean_ci, summarize

__all__ = ["complexity_figures", "complexity_sentences", "complexity_tables", "u_shape_table"]

#: What identifies one complexity measurement apart from architecture, kernel and seed.
KEYS = ["dataset", "setting", "n_train", "width"]
_GROUP_METRICS = {
    "contribution_share": "share of ‖f‖²_H",
    "leave_out_change": "relative change of ‖f‖²_H, group left out",
    "flip_rate": "flip rate under the attack",
}
#: Level of the Spearman test of the concentration sentence.
_LEVEL = 0.05
_CAPTION = (
    "Per influence group (1 = most harmful, {groups} = most helpful; groups of equal size by "
    "clean influence score): top, the group's share of the RKHS complexity ‖f‖²_H = βᵀKβ of "
    "the kernel ridge fit; bottom, the share of its points whose influence changes sign when "
    "every training point is attacked ({attack}, ε = {epsilon:g}). One line per architecture, "
    "mean and 95 % CI over seeds; one column per kernel."
)


def _group_rows(results):
    """The complexity part's per-group rows, ``group`` as int (None when there are none)."""
    rows = part_rows(results, "complexity") if "part" in results else results.iloc[:0]
    if rows.empty or "group" not in rows:
        return None
    rows = rows[rows["group"].notna() & rows["metric"].isin(list(_GROUP_METRICS))].copy()
    if rows.empty:
        return None
    rows["group"] = pd.to_numeric(rows["group"]).astype(int)
    return rows


def _per_seed_shape(rows):
    """Per seed: the U statistic of the contribution shares (NaN with fewer than 3 groups)."""
    shares = rows[rows["metric"] == "contribution_share"]
    values = []
    for _, seed in shares.groupby("seed", dropna=False):
        c = seed.sort_values("group")["value"].to_numpy(dtype=float)
        values.append(min(c[0], c[-1]) - c[1:-1].mean() if c.size >= 3 else math.nan)
    return np.asarray(values, dtype=float)


def _concentration(rows):
    """Spearman ρ and p between the seed-mean share and the seed-mean flip rate by group."""
    from scipy.stats import spearmanr

    means = rows.groupby(["metric", "group"])["value"].mean().unstack("metric")
    if not {"contribution_share", "flip_rate"} <= set(means) or len(means) < 3:
        return math.nan, math.nan
    pair = means[["contribution_share", "flip_rate"]].dropna()
    if len(pair) < 3 or pair.nunique().min() < 2:
        return math.nan, math.nan
    result = spearmanr(pair["contribution_share"], pair["flip_rate"])
    return float(result.statistic), float(result.pvalue)


def u_shape_table(results):
    """The U statistic (mean, CI, seeds) and the concentration ρ per measurement.

    One row per dataset, setting, n_train, width, kernel and architecture: ``u_mean``,
    ``u_ci95``, ``u_low``, ``u_high``, ``seeds``, ``spearman`` and ``p_value`` (see the module
    docstring); empty when the run has no complexity rows.
    """
    columns = [*KEYS, "kernel", "architecture", "u_mean", "u_ci95", "u_low", "u_high", "seeds"]
    columns += ["spearman", "p_value"]
    rows = _group_rows(results)
    if rows is None:
        return pd.DataFrame(columns=columns)
    out = []
    for keys, group in rows.groupby([*KEYS, "kernel", "architecture"], sort=True):
        mean, half, n = mean_ci(_per_seed_shape(group))
        rho, p = _concentration(group)
        out.append([*keys, mean, half, mean - half, mean + half, n, rho, p])
    table = pd.DataFrame(out, columns=columns)
    table["_order"] = table["architecture"].map(ARCHITECTURE_ORDER).fillna(99)
    table = table.sort_values([*KEYS, "kernel", "_order"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def _u_verdict(row):
    if math.isnan(row.u_mean):
        return None
    if row.seeds < 2 or math.isnan(row.u_ci95):
        there = "there" if row.u_mean > 0 else "not there"
        return f"{there} in the one seed (u = {row.u_mean:.3g}, no interval)"
    interval = f"u = {row.u_mean:.3g}, 95 % CI [{row.u_low:.3g}, {row.u_high:.3g}]"
    if row.u_low > 0:
        return f"there ({interval}, {row.seeds} seeds)"
    if row.u_high < 0:
        return f"not there ({interval}, {row.seeds} seeds)"
    return f"undecided ({interval} contains 0, {row.seeds} seeds)"


def _concentration_words(row):
    if math.isnan(row.spearman):
        return "flip rate and contribution: no relation computable"
    stat = f"Spearman ρ = {row.spearman:.2f} over the groups, p = {row.p_value:.2g}"
    if row.p_value < _LEVEL and row.spearman > 0:
        return f"the flip rate concentrates where the complexity does ({stat})"
    if row.p_value < _LEVEL:
        return f"the flip rate is highest where the complexity is lowest ({stat})"
    return f"no clear relation between flip rate and complexity ({stat})"


def complexity_sentences(results):
    """One sentence per measurement: is the U shape there, and does the flip rate follow the
    complexity (see the module docstring for both statistics)."""
    sentences = []
    for row in u_shape_table(results).itertuples(index=False):
        verdict = _u_verdict(row)
        if verdict is None:
            continue
        where = (
            f"{architecture_label(row.architecture)}, {row.kernel} NTK ({row.dataset}, "
            f"{row.setting}, n = {row.n_train}, width {row.width})"
        )
        sentences.append(
            f"{where}: the U shape of the complexity share is {verdict}; "
            f"{_concentration_words(row)}."
        )
    return sentences


def complexity_tables(results):
    """``complexity_by_group`` (share and leave-out change), ``complexity_flip_by_group`` (flip
    rate, %) and ``complexity_u_shape`` (the statistics of the sentences)."""
    rows = _group_rows(results)
    if rows is None:
        return {}
    index = [*KEYS, "kernel", "architecture", "metric"]
    tables = {}
    for name, metrics, percent in (
        ("complexity_by_group", ["contribution_share", "leave_out_change"], False),
        ("complexity_flip_by_group", ["flip_rate"], True),
    ):
        summary = summarize(rows[rows["metric"].isin(metrics)], [*index, "group"])
        display = wide(label_architectures(summary), index, "group", percent=percent)
        if not display.empty:
            display["metric"] = display["metric"].map(_GROUP_METRICS).fillna(display["metric"])
        tables[name] = (summary, display)
    shape = u_shape_table(results)
    display = label_architectures(shape[[*KEYS, "kernel", "architecture"]])
    display["U statistic"] = [
        format_ci(r.u_mean, r.u_ci95, r.seeds) for r in shape.itertuples(index=False)
    ]
    display["Spearman ρ (share, flip rate)"] = [
        "—" if math.isnan(r.spearman) else f"{r.spearman:.2f} (p = {r.p_value:.2g})"
        for r in shape.itertuples(index=False)
    ]
    tables["complexity_u_shape"] = (shape, display)
    return tables


def _panel(ax, summary, metric, dodge):
    from .figures import _COLORS, _MARKERS

    rows = summary[summary["metric"] == metric]
    archs = sorted(rows["architecture"].unique(), key=lambda a: ARCHITECTURE_ORDER.get(a, 99))
    for i, arch in enumerate(archs):
        line = rows[rows["architecture"] == arch].sort_values("group")
        ax.errorbar(
            line["group"].to_numpy(dtype=float) + dodge * (i - (len(archs) - 1) / 2),
            line["mean"],
            yerr=line["ci95"].fillna(0.0),
            capsize=2,
            marker=_MARKERS.get(arch, "o"),
            markersize=4,
            color=_COLORS.get(arch),
            label=architecture_label(arch),
        )
    groups = sorted(rows["group"].unique())
    ax.set_xticks(groups, [str(g) for g in groups])
    if metric == "flip_rate":
        ax.set_ylim(0, 1)
        ax.set_xlabel("influence group (1 = most harmful)")


def complexity_figures(results):
    """Yield ``(section, file stem, caption, figure)``: per dataset, setting, n and width, the
    contribution share (top) and the flip rate (bottom) by group, a column per kernel."""
    from .figures import _legend_below, _subplots

    rows = _group_rows(results)
    if rows is None:
        return
    for (dataset, setting, n_train, width), group in rows.groupby(KEYS, sort=True):
        summary = summarize(group, ["kernel", "architecture", "metric", "group"])
        kernels = sorted(summary["kernel"].unique())
        fig, axes = _subplots(
            2, len(kernels), figsize=(min(9.7, 3.6 * len(kernels) + 0.6), 5.6), sharex=True
        )
        for column, kernel in enumerate(kernels):
            at = summary[summary["kernel"] == kernel]
            for row, metric in enumerate(("contribution_share", "flip_rate")):
                _panel(axes[row][column], at, metric, dodge=0.08)
            axes[0][column].set_title(f"{kernel} NTK")
            axes[0][column].axhline(1 / max(group["group"].max(), 1), color="0.6", lw=0.8)
        axes[0][0].set_ylabel(r"share of $\|f\|^2_{\mathcal{H}}$")
        axes[1][0].set_ylabel("flip rate")
        _legend_below(fig)
        fig.suptitle(f"Complexity by influence group — {dataset}, {setting}, n = {n_train}")
        caption = _CAPTION.format(
            groups=int(group["group"].max()),
            attack=str(group["attack"].iloc[0]).upper(),
            epsilon=float(group["epsilon"].iloc[0]),
        )
        caption += " Grey line: the share of a group of equal complexity (1 / groups)."
        yield "complexity", f"complexity_{dataset}_{setting}_n{n_train}_m{width}", caption, fig
