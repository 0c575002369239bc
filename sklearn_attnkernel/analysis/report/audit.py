"""The report of the ``audit`` part: which influence method can you trust on attention?

- :func:`audit_tables`: per data set, architecture and influence method, the agreement with
  retraining, the flip rate under the attack, its excess over the paired random ±ε baseline and
  the effect of checkpoint ensembling on the flip rate;
- :func:`audit_figures`: per method, the flip rate of the attacked set against ε (the ε
  curve) and the flip rate of the top-k set against k;
- :func:`audit_findings`: one sentence per data set and architecture, computed from the paired
  per-seed statistics of the table.

The table, the sentences and the flip rate by k are read at the paper's ε = 0.3 when the run
measured it (else at its largest ε). Every difference is paired per seed (same network, same
attacked points): its interval is the 95 % Student-t interval of the per-seed differences,
never two overlapping unpaired intervals.
"""

import itertools

import numpy as np
import pandas as pd

from .formatting import ARCHITECTURE_ORDER, architecture_label, format_ci, reported_epsilon
from .load import part_rows
from .stats import mean_ci

__all__ = [
    "AUDIT_MALLEABILITY_NOTE",
    "AUDIT_NOTE",
    "AUDIT_TITLE",
    "audit_figures",
    "audit_findings",
    "audit_tables",
]

AUDIT_TITLE = "Which influence method can you trust on attention?"
AUDIT_NOTE = (
    "Agreement: Spearman ρ between each method's scores (mean over the test points) of the "
    "removed points and their measured leave-one-out effects (retraining, same seed), mean ± "
    "95 % Student-t CI over seeds; with one seed, ρ [percentile-bootstrap 95 % CI over the "
    "removed points]. Flip rate: share of the method's own clean top-k set whose sign flips "
    "under the attack. Excess over random: attack − random ±ε on the same points, paired per "
    "seed. Ensembling: flip rate with the largest checkpoint ensemble T minus the final weights "
    "(T = 1), paired per seed (exact NTK influence has no ensemble). The sentences above rest "
    "on these paired intervals."
)
AUDIT_MALLEABILITY_NOTE = (
    "Each method's clean top set attacked (left of the slash) and perturbed by random ±ε on the "
    "same points (right), at the final weights and the paper's ε = 0.3 (or the run's largest "
    "ε), mean ± 95 % Student-t CI over seeds. Flip rate: share of the set whose sign flips; "
    "Spearman ρ: between all scores before and after; top-k stability: |T ∩ T′| / k."
)
_DATA = ["dataset", "setting", "n_train", "width"]
_KEYS = [*_DATA, "architecture", "method"]
_COLUMNS = {
    "agreement": "agreement with retraining ρ",
    "flip_rate": "flip rate",
    "excess": "excess over random",
    "ensembling": "ensembling: T=max − T=1",
}


def _all_rows(results):
    """The audit's method rows at every ε."""
    rows = part_rows(results, "audit")
    if rows.empty or "method" not in rows:
        return pd.DataFrame()
    rows = rows.assign(
        T=pd.to_numeric(rows.get("n_checkpoints"), errors="coerce"),
        seed=rows["seed"].astype("Int64").fillna(-1),
    )
    return rows[rows["method"].notna()]


def _at_reported_epsilon(rows):
    """``rows`` at the reported ε (each ε cell repeats the agreement rows)."""
    eps = reported_epsilon(rows["epsilon"]) if "epsilon" in rows else None
    return rows if eps is None else rows[rows["epsilon"] == eps]


def _rows(results):
    """The audit's method rows at the reported ε."""
    return _at_reported_epsilon(_all_rows(results))


def _per_seed(rows):
    """Per seed and method: agreement (and its bootstrap bounds), flip rates, differences."""
    keys = [*_KEYS, "seed"]
    adversarial = rows["attack"] != "random"
    final = rows["T"] == 1

    def pick(mask, name):
        return rows.loc[mask, [*keys, "value"]].groupby(keys)["value"].first().rename(name)

    flips = rows[(rows["metric"] == "flip_rate") & adversarial]
    largest = flips.loc[flips.groupby(keys)["T"].idxmax(), [*keys, "T", "value"]]
    parts = [
        pick((rows["metric"] == "agreement") & final, "agreement"),
        pick((rows["metric"] == "agreement_low") & final, "agreement_low"),
        pick((rows["metric"] == "agreement_high") & final, "agreement_high"),
        pick((rows["metric"] == "flip_rate") & adversarial & final, "flip_rate"),
        pick((rows["metric"] == "flip_rate") & ~adversarial & final, "random"),
        largest.set_index(keys)["value"].rename("flip_largest"),
        largest.set_index(keys)["T"].rename("T_max"),
    ]
    frame = pd.concat(parts, axis=1).reset_index()
    frame["excess"] = frame["flip_rate"] - frame["random"]
    has_ensemble = frame["T_max"] > 1
    frame["ensembling"] = (frame["flip_largest"] - frame["flip_rate"]).where(has_ensemble)
    return frame


def _summary(per_seed):
    """Mean, CI half-width and seeds of each quantity per method (long form).

    With one seed the agreement's ``low`` and ``high`` are the percentile-bootstrap interval
    over the removed points of that seed (the only interval there is).
    """
    records = []
    for key, group in per_seed.groupby(_KEYS, sort=False):
        for name in _COLUMNS:
            mean, half, n = mean_ci(group[name].astype(float))
            low, high = mean - half, mean + half
            if name == "agreement" and len(group) == 1:
                low, high = (float(group[f"agreement_{end}"].iloc[0]) for end in ("low", "high"))
            where = dict(zip(_KEYS, key, strict=True))
            record = {"quantity": name, "mean": mean, "ci95": half, "n": n}
            records.append({**where, **record, "low": low, "high": high})
    return pd.DataFrame(records)


def _cell(row):
    percent = row.quantity != "agreement"
    if row.quantity == "agreement" and row.n == 1 and not np.isnan(row.low):
        return f"{row.mean:.3g} [{row.low:.3g}, {row.high:.3g}]"
    return format_ci(row.mean, row.ci95, row.n, percent=percent)


def audit_tables(results):
    """The audit table: methods × architectures.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results (from :func:`~sklearn_attnkernel.analysis.report.load_results`).

    Returns
    -------
    tables : dict of str to (pandas.DataFrame, pandas.DataFrame)
        ``audit``: ``(summary, display)``, the long summary (``quantity``, ``mean``, ``ci95``,
        ``n`` seeds, ``low``, ``high``) and the display table; ``audit_malleability``: the flip
        rate, Spearman's ρ and the top-k stability under the attack and under the random ±ε
        baseline, at the final weights (``quantity``, ``baseline``, ``mean``, ``ci95``, ``n``).
        Both at the reported ε; empty without audit rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report.audit import audit_tables
    >>> rows = pd.DataFrame({"part": "audit", "dataset": "digits", "setting": "binary",
    ...     "n_train": 100, "width": 32, "seed": 0, "architecture": "relu", "method": "trak",
    ...     "metric": ["agreement", "agreement_low", "agreement_high", "flip_rate", "flip_rate"],
    ...     "attack": [None, None, None, "pgd", "random"], "n_checkpoints": "1",
    ...     "value": [0.5, 0.2, 0.7, 0.3, 0.1]})
    >>> audit_tables(rows)["audit"][1].iloc[0].tolist()[-4:]
    ['0.5 [0.2, 0.7]', '30.0%', '20.0%', '—']
    """
    rows = _rows(results)
    if rows.empty:
        return {}
    summary = _summary(_per_seed(rows))
    cells = summary.assign(
        cell=[_cell(row) for row in summary.itertuples()],
        column=summary["quantity"].map(_COLUMNS),
    )
    return {
        "audit": (summary, _display(cells, _COLUMNS.values())),
        **_malleability_tables(rows),
    }


def _display(cells, order):
    """The display table of ``cells`` (``_KEYS``, ``column``, ``cell``): one column per name of
    ``order`` that has cells, rows in the paper's architecture order."""
    display = cells.pivot_table(
        index=_KEYS, columns="column", values="cell", aggfunc="first", sort=False
    ).reset_index()
    display.columns.name = None
    display["_order"] = display["architecture"].map(ARCHITECTURE_ORDER).fillna(99)
    display = display.sort_values([*_DATA, "_order", "method"], kind="stable")
    display["architecture"] = display["architecture"].map(architecture_label)
    return display[[*_KEYS, *(c for c in order if c in display)]].reset_index(drop=True)


#: The malleability metrics of the second table, and whether each is a share (shown in %).
_MALLEABILITY = {
    "flip_rate": ("flip rate: attack / random", True),
    "spearman": ("Spearman ρ before–after: attack / random", False),
    "top_k_stability": ("top-k stability: attack / random", True),
}


def _malleability_tables(rows):
    """Per method × architecture at T = 1: each metric under the attack and under the random
    ±ε baseline on the same points, mean ± 95 % Student-t CI over seeds."""
    final = rows[(rows["T"] == 1) & rows["metric"].isin(list(_MALLEABILITY))]
    if final.empty:
        return {}
    final = final.assign(baseline=np.where(final["attack"] == "random", "random", "attack"))
    records = []
    for key, group in final.groupby([*_KEYS, "metric", "baseline"], sort=False):
        mean, half, n = mean_ci(group["value"].astype(float))
        where = dict(zip([*_KEYS, "quantity", "baseline"], key, strict=True))
        records.append({**where, "mean": mean, "ci95": half, "n": n})
    summary = pd.DataFrame(records)
    text = summary.assign(
        cell=[
            format_ci(r.mean, r.ci95, r.n, percent=_MALLEABILITY[r.quantity][1])
            for r in summary.itertuples()
        ]
    )
    pairs = text.pivot_table(
        index=[*_KEYS, "quantity"], columns="baseline", values="cell", aggfunc="first", sort=False
    )
    pairs = pairs.reindex(columns=["attack", "random"]).fillna("—").reset_index()
    cells = pairs.assign(
        cell=pairs["attack"] + " / " + pairs["random"],
        column=pairs["quantity"].map(lambda q: _MALLEABILITY[q][0]),
    )
    order = [label for label, _ in _MALLEABILITY.values()]
    return {"audit_malleability": (summary, _display(cells, order))}


def _established(summary, quantity, sign):
    """Methods whose interval of ``quantity`` lies above 0 (``sign`` 1) or below (−1)."""
    rows = summary[summary["quantity"] == quantity]
    bound = rows["low"] if sign > 0 else -rows["high"]
    return sorted(rows.loc[bound > 0, "method"])


def _say(methods):
    return ", ".join(methods) if methods else "none"


def _finding(key, summary, at):
    dataset, setting, n_train, width, architecture = key
    where = f"{dataset} {setting}, n = {n_train}, m = {width}, {architecture_label(architecture)}"
    seeds = int(summary["n"].max())
    agree = _established(summary, "agreement", 1)
    if seeds < 2:
        return (
            f"{where}: one seed, so no interval over seeds is possible and no verdict on the "
            "excess over random or on ensembling; the bootstrap interval over the removed "
            f"points of that seed puts ρ with retraining above 0 for: {_say(agree)}."
        )
    excess = _established(summary, "excess", 1)
    lowers = _established(summary, "ensembling", -1)
    trusted = [m for m in agree if m not in excess]
    return (
        f"{where} ({seeds} seeds): agreement with retraining established (95 % t-interval of ρ "
        f"over seeds above 0) for {_say(agree)}; the attack{at} flips more than random ±ε (paired "
        f"per-seed interval of attack − random above 0) for {_say(excess)}; checkpoint "
        f"ensembling lowers the flip rate (paired interval of T=max − T=1 below 0) for "
        f"{_say(lowers)}. Trust on these numbers (agreement established, no established excess "
        f"malleability): {_say(trusted)}."
    )


def _gap_findings(per_seed):
    """Per data set and attention architecture: which methods' ρ with retraining is lower (or
    higher) than on 2L-ReLU, from the paired per-seed differences."""
    keys = [*_DATA, "method", "seed"]
    relu = per_seed.loc[per_seed["architecture"] == "relu", [*keys, "agreement"]]
    others = per_seed[per_seed["architecture"] != "relu"]
    joined = others.merge(relu, on=keys, suffixes=("", "_relu"))
    joined["gap"] = joined["agreement"] - joined["agreement_relu"]
    sentences = []
    for key, group in joined.groupby([*_DATA, "architecture"], sort=True):
        gaps = {m: mean_ci(g["gap"].astype(float)) for m, g in group.groupby("method")}
        if max(n for _, _, n in gaps.values()) < 2:
            continue
        lower = sorted(m for m, (mean, half, n) in gaps.items() if n > 1 and mean + half < 0)
        higher = sorted(m for m, (mean, half, n) in gaps.items() if n > 1 and mean - half > 0)
        label = architecture_label(key[4])
        sentences.append(
            f"{key[0]} {key[1]}, n = {key[2]}, m = {key[3]}: ρ with retraining is lower on "
            f"{label} than on 2L-ReLU for {_say(lower)} and higher for {_say(higher)} (95 % "
            "t-interval of the per-seed difference, same seed and training points); the paper "
            "expects lower for every method."
        )
    return sentences


def audit_findings(results):
    """Plain-words verdict per data set and architecture, from the paired statistics.

    A method is *trusted* where its agreement with retraining is established (the 95 %
    Student-t interval of Spearman's ρ over seeds lies above 0) and the attack is not
    established to flip its top set more than the random ±ε baseline (the paired per-seed
    interval of attack − random does not lie above 0). With one seed no interval over seeds
    exists: the sentence says so and names only the methods whose bootstrap interval of ρ over
    the removed points lies above 0.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results with ``audit`` rows.

    Then, per data set and attention architecture with two seeds or more, the methods whose
    agreement is lower (higher) than on 2L-ReLU: the 95 % t-interval of the per-seed difference
    of ρ lies below (above) 0; the paper expects lower.

    Returns
    -------
    sentences : list of str
        One per data set, width and architecture, then one per data set and attention
        architecture; empty without audit rows.
    """
    rows = _rows(results)
    if rows.empty:
        return []
    per_seed = _per_seed(rows)
    summary = _summary(per_seed)
    groups = summary.groupby([*_DATA, "architecture"], sort=False)
    ordered = sorted(
        groups, key=lambda item: (*map(str, item[0][:4]), ARCHITECTURE_ORDER.get(item[0][4], 99))
    )
    eps = reported_epsilon(rows["epsilon"]) if "epsilon" in rows else None
    at = "" if eps is None else f" at ε = {eps:g}"
    return [_finding(key, group, at) for key, group in ordered] + _gap_findings(per_seed)


def _curve(rows, metric, x):
    """Mean and 95 % CI half-width over seeds of ``metric`` at T = 1, against column ``x``."""
    curve = rows[(rows["metric"] == metric) & (rows["T"] == 1)]
    curve = curve.assign(x=pd.to_numeric(curve[x], errors="coerce"))
    stats = curve.groupby(["architecture", "method", "attack", "x"])["value"]
    return stats.apply(lambda v: mean_ci(v)[:2]).reset_index()


def _draw(curve, title, xlabel, ylabel):
    from .figures import _legend_below, _measured_ticks, _subplots

    order = sorted(curve["architecture"].unique(), key=lambda a: ARCHITECTURE_ORDER.get(a, 99))
    fig, axes = _subplots(1, len(order), figsize=(3.6 * len(order) + 0.4, 3.4))
    methods = sorted(curve["method"].unique())
    for ax, architecture in zip(axes[0], order, strict=True):
        for (i, method), baseline in itertools.product(enumerate(methods), (False, True)):
            part = curve[(curve["architecture"] == architecture) & (curve["method"] == method)]
            part = part[(part["attack"] == "random") == baseline]
            if part.empty:
                continue
            mean, half = (np.array([v[j] for v in part["value"]]) for j in (0, 1))
            ax.errorbar(
                part["x"],
                mean,
                yerr=np.nan_to_num(half),
                ls=":" if baseline else "-",
                marker="o",
                ms=3,
                capsize=2,
                color=f"C{i}",
                label=f"{method} (random ±ε)" if baseline else method,
            )
        ax.set(title=architecture_label(architecture), xlabel=xlabel, ylabel=ylabel, xscale="log")
        _measured_ticks(ax, curve["x"])  # ticks at the measured values only
    fig.suptitle(title, fontsize=10)
    _legend_below(fig)
    return fig


def _epsilon_figures(rows):
    """The ε curve per data set: the flip rate of the attacked set against ε."""
    if "epsilon" not in rows:
        return
    for (dataset, setting, n_train, width), group in rows.groupby(_DATA, sort=True):
        curve = _curve(group, "flip_rate", "epsilon").dropna(subset=["x"])
        if curve.empty or curve["x"].nunique() < 2:
            continue
        title = f"Flip rate by ε — {dataset}, {setting}, n = {n_train}, m = {width}"
        caption = (
            "Share of each method's clean top set whose influence changes sign under the "
            "attack on that set (solid) and under the random ±ε baseline on the same points "
            "(dotted), against ε (pixel units), at the final weights; mean ± 95 % CI over seeds."
        )
        figure = _draw(curve, title, "ε (pixel units)", "flip rate of the attacked set")
        stem = f"audit_flip_by_epsilon_{dataset}_{setting}_n{n_train}_m{width}"
        yield ("audit", stem, caption, figure)


def _k_figures(rows):
    """The flip rate of the top-k set against k per data set, at the reported ε."""
    if "k_fraction" not in rows:
        return
    for (dataset, setting, n_train, width), group in rows.groupby(_DATA, sort=True):
        curve = _curve(group, "flip_rate_at_k", "k_fraction")
        if curve.empty:
            continue
        eps = reported_epsilon(group["epsilon"]) if "epsilon" in group else None
        at = "" if eps is None else f", ε = {eps:g}"
        title = f"Flip rate by k — {dataset}, {setting}, n = {n_train}, m = {width}{at}"
        caption = (
            "Share of each method's clean top-k set whose influence changes sign under the "
            "attack on its top set (solid) and under the random ±ε baseline on the same "
            "points (dotted), mean ± 95 % CI over seeds. k above the attacked share reaches "
            "points the attack left alone: a lower threshold is a smaller k."
        )
        figure = _draw(
            curve, title, "k (share of points in the top set)", "flip rate of the top-k set"
        )
        stem = f"audit_flip_by_k_{dataset}_{setting}_n{n_train}_m{width}"
        yield ("audit", stem, caption, figure)


def audit_figures(results):
    """The ε curve and the flip rate of the top-k set against k, per method and architecture.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results with ``audit`` rows.

    Yields
    ------
    figure : tuple
        ``("audit", file stem, caption, matplotlib.figure.Figure)``: per data set, the flip rate
        against ε (when the run measured two ε or more), then the flip rate against k at the
        reported ε.
    """
    rows = _all_rows(results)
    if rows.empty:
        return
    yield from _epsilon_figures(rows)
    yield from _k_figures(_at_reported_epsilon(rows))
