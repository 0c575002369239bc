"""Malleability as a curve (issue #7): each attack against its paired random ±ε baseline, the
MLP-Attn / 2L-ReLU ratio of flip rates with a bootstrap interval, the attack diagnostics, and
the sentences that read them against the paper's 6–9× headline."""

import math

import numpy as np
import pandas as pd

from ...datasets import PIXEL_STATS
from .formatting import architecture_label, format_ci, label_architectures, wide
from .load import part_rows
from .stats import mean_ci, ratio_ci, summarize

__all__ = [
    "PAPER_RATIO_RANGE",
    "sensitivity_displays",
    "sensitivity_sentences",
    "sensitivity_tables",
]

#: The paper's headline: MLP-Attn flip rates 6–9× those of 2L-ReLU on 10-class data (PGD).
PAPER_RATIO_RANGE = (6.0, 9.0)
_SENSITIVITY_METRICS = ("flip_rate", "spearman", "top_k_stability")
_DIAGNOSTICS = (
    "top_correct_before",
    "top_correct_after",
    "top_loss_before",
    "top_loss_after",
    "input_cosine",
    "condition_before",
    "condition_after",
)
# What identifies one fitted network's measurement, apart from the attack (and the seed).
_CURVE_KEYS = [
    "dataset",
    "setting",
    "n_train",
    "width",
    "adversarial_training",
    "epsilon_space",
    "epsilon",
]
_BASELINE_VALUES = [
    "attack_mean",
    "attack_ci95",
    "n",
    "random_mean",
    "random_ci95",
    "random_n",
    "excess_mean",
    "excess_ci95",
    "excess_n",
    "explained",
]
_RATIO_VALUES = ["attention_mean", "relu_mean", "ratio", "low", "high", "n", "note"]
# The cell columns the wide sensitivity tables keep, before their own columns.
_SHOWN_KEYS = ["dataset", "setting", "n_train", "adversarial_training", "epsilon_space", "epsilon"]


# ------------------------------------------------------------------------------------ tables
def _seeded(frame, metric):
    rows = frame[frame["metric"] == metric]
    return rows[[*_CURVE_KEYS, "architecture", "attack", "seed", "value"]]


def _paired_baseline(group, metric):
    """Attack, random baseline and excess (mean, ci95, n each) and the share explained."""
    mean, half, n = mean_ci(group["value"].to_numpy(dtype=float))
    r_mean, r_half, r_n = mean_ci(group["value_random"].to_numpy(dtype=float))
    e_mean, e_half, e_n = mean_ci((group["value"] - group["value_random"]).to_numpy(dtype=float))
    explained = math.nan
    if metric == "flip_rate" and mean > 0 and not math.isnan(r_mean):
        explained = r_mean / mean
    return [mean, half, n, r_mean, r_half, r_n, e_mean, e_half, e_n, explained]


def _baseline_table(mal):
    keys = [*_CURVE_KEYS, "architecture"]
    out = []
    for metric in _SENSITIVITY_METRICS:
        seeded = _seeded(mal, metric)
        attacks = seeded[seeded["attack"] != "random"]
        random = seeded[seeded["attack"] == "random"].drop(columns="attack")
        paired = attacks.merge(random, on=[*keys, "seed"], how="left", suffixes=("", "_random"))
        for group_keys, group in paired.groupby([*keys, "attack"], dropna=False, sort=True):
            out.append([*group_keys, metric, *_paired_baseline(group, metric)])
    return pd.DataFrame(out, columns=[*keys, "attack", "metric", *_BASELINE_VALUES])


def _ratio_table(mal):
    flips = _seeded(mal, "flip_rate")
    relu = flips[flips["architecture"] == "relu"].drop(columns="architecture")
    attn = flips[flips["architecture"] == "attention"].drop(columns="architecture")
    both = attn.merge(relu, on=[*_CURVE_KEYS, "attack", "seed"], suffixes=("_attn", "_relu"))
    ratios = []
    for group_keys, group in both.groupby([*_CURVE_KEYS, "attack"], dropna=False, sort=True):
        a = group["value_attn"].to_numpy(dtype=float)
        b = group["value_relu"].to_numpy(dtype=float)
        ratio, low, high, note = ratio_ci(a, b)
        n = int(np.sum(~(np.isnan(a) | np.isnan(b))))
        ratios.append(
            [*group_keys, "flip_rate", np.nanmean(a), np.nanmean(b), ratio, low, high, n, note]
        )
    return pd.DataFrame(ratios, columns=[*_CURVE_KEYS, "attack", "quantity", *_RATIO_VALUES])


def sensitivity_tables(results):
    """Malleability against ε and n, read against the paired random baseline.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results (from :func:`load_results`); only the malleability rows are used.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        ``"baseline"``: per cell (dataset, setting, n, width, training, ε space, ε,
        architecture, attack) and metric (flip rate, Spearman ρ, top-k stability): the attack's
        mean and 95 % CI over seeds, the random ±ε baseline's on the same network and seed,
        and the excess ``attack − random`` (mean and t-interval of the per-seed differences),
        plus ``explained`` = random mean / attack mean (flip rate; NaN for a zero attack mean).
        ``"ratio"``: per cell and attack, the MLP-Attn / 2L-ReLU flip-rate ratio of means with
        its paired bootstrap CI over seeds (:func:`ratio_ci`).
        ``"diagnostics"``: per cell, architecture and attack, the mean and CI of the attack
        diagnostics (accuracy and loss on the top-k set before/after, input cosine, condition
        numbers of ``K + αI``). Empty frames when there is nothing to pair.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report import sensitivity_tables
    >>> rows = [dict(part="malleability", dataset="digits", setting="multiclass", n_train=300,
    ...              width=64, adversarial_training=False, epsilon_space="pixel", epsilon=0.3,
    ...              architecture=arch, attack=attack, seed=seed, metric="flip_rate",
    ...              value=value)
    ...         for arch, attack, values in [("relu", "pgd", [0.1, 0.2, 0.1]),
    ...                                      ("relu", "random", [0.0, 0.1, 0.0]),
    ...                                      ("attention", "pgd", [0.4, 0.5, 0.6]),
    ...                                      ("attention", "random", [0.1, 0.1, 0.1])]
    ...         for seed, value in enumerate(values)]
    >>> tables = sensitivity_tables(pd.DataFrame(rows))
    >>> tables["baseline"][["architecture", "excess_mean"]].round(3).values.tolist()
    [['attention', 0.4], ['relu', 0.1]]
    >>> round(float(tables["ratio"]["ratio"].iloc[0]), 2)
    3.75
    """
    columns = {
        "baseline": [*_CURVE_KEYS, "architecture", "attack", "metric"],
        "ratio": [*_CURVE_KEYS, "attack", "quantity"],
        "diagnostics": [*_CURVE_KEYS, "architecture", "attack", "metric"],
    }
    tables = {name: pd.DataFrame(columns=cols) for name, cols in columns.items()}
    mal = part_rows(results, "malleability") if "part" in results else results.iloc[:0]
    if mal.empty:
        return tables
    mal = mal.copy()
    for name in _CURVE_KEYS:
        if name not in mal:
            mal[name] = pd.NA
    tables["baseline"] = _baseline_table(mal)
    tables["ratio"] = _ratio_table(mal)
    diag = mal[mal["metric"].isin(_DIAGNOSTICS)]
    if not diag.empty:
        tables["diagnostics"] = summarize(diag, [*_CURVE_KEYS, "architecture", "attack", "metric"])
    return tables


# ---------------------------------------------------------------------------------- displays
def _format_ratio(row):
    ratio = row["ratio"]
    if isinstance(ratio, float) and math.isinf(ratio):
        return "∞ (2L-ReLU 0)"
    if ratio is None or math.isnan(ratio):
        return "—"
    text = f"{ratio:.2f}×"
    if not math.isnan(row["low"]):
        high = "∞" if math.isinf(row["high"]) else f"{row['high']:.2f}"
        text += f" [{row['low']:.2f}, {high}]"
    return text


def _ci_column(frame, prefix, n):
    """Flip rates in % from the ``<prefix>_mean``/``<prefix>_ci95`` columns."""
    return [
        format_ci(m, h, k, percent=True)
        for m, h, k in zip(frame[f"{prefix}_mean"], frame[f"{prefix}_ci95"], frame[n], strict=True)
    ]


def _attack_and_random(base, metric, frame):
    """'attack (random)' of another metric, aligned with the rows of ``frame``."""
    keys = [*_CURVE_KEYS, "architecture", "attack"]
    other = base[base["metric"] == metric].set_index(keys)
    values = []
    for key in frame.set_index(keys).index:
        if key not in other.index:
            values.append("—")
            continue
        row = other.loc[key]
        row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
        values.append(
            f"{format_ci(row['attack_mean'], row['attack_ci95'], row['n'])} "
            f"({format_ci(row['random_mean'], row['random_ci95'], row['random_n'])})"
        )
    return values


def _baseline_display(base):
    frame = base[base["metric"] == "flip_rate"].copy()
    frame["attack flip"] = _ci_column(frame, "attack", "n")
    frame["random flip"] = _ci_column(frame, "random", "random_n")
    frame["excess"] = _ci_column(frame, "excess", "excess_n")
    explained = frame["explained"]
    frame["explained by random"] = ["—" if math.isnan(v) else f"{v:.0%}" for v in explained]
    frame["Spearman ρ (random)"] = _attack_and_random(base, "spearman", frame)
    frame["top-k (random)"] = _attack_and_random(base, "top_k_stability", frame)
    shown = [
        "architecture",
        "attack",
        "attack flip",
        "random flip",
        "excess",
        "explained by random",
        "Spearman ρ (random)",
        "top-k (random)",
    ]
    return label_architectures(frame)[[*_SHOWN_KEYS, *shown]].reset_index(drop=True)


def _ratio_display(ratio):
    frame = ratio.copy()
    label = "MLP-Attn / 2L-ReLU [95 % CI]"
    frame[label] = [_format_ratio(r) for _, r in frame.iterrows()]
    shown = [*_SHOWN_KEYS, "attack", "quantity", label, "n", "note"]
    return frame[shown].reset_index(drop=True)


def _diagnostics_display(diag):
    index = [*_SHOWN_KEYS, "architecture", "attack"]
    return wide(label_architectures(diag), index, "metric", digits=3, order=list(_DIAGNOSTICS))


_DISPLAYS = (
    ("baseline", "sensitivity_baseline", _baseline_display),
    ("ratio", "sensitivity_ratio", _ratio_display),
    ("diagnostics", "sensitivity_diagnostics", _diagnostics_display),
)


def sensitivity_displays(tables):
    """Wide, readable versions of :func:`sensitivity_tables`' frames, by report table name."""
    return {
        name: display(tables[short])
        for short, name, display in _DISPLAYS
        if not tables[short].empty
    }


# --------------------------------------------------------------------------------- sentences
def _verdict_ratio(row, paper=PAPER_RATIO_RANGE):
    low, high, ratio = row["low"], row["high"], row["ratio"]
    if math.isinf(ratio):
        return "unbounded"
    if math.isnan(ratio):
        return "undefined"
    if math.isnan(low):
        return "in range (no CI)" if paper[0] <= ratio <= paper[1] else "out of range (no CI)"
    if paper[0] <= ratio <= paper[1]:
        return "reproduced"
    if high >= paper[0] and low <= paper[1]:
        return "consistent"
    if low > 1:
        return "gap, smaller" if high < paper[0] else "gap, larger"
    if high < 1:
        return "opposite"
    return "no gap"


# Verdicts of :func:`_verdict_ratio` and how a sentence names the cells that have them.
_RATIO_BUCKETS = (
    (("reproduced", "in range (no CI)"), "the paper's 6–9× ratio is reproduced at"),
    (("consistent",), "the ratio is outside 6–9× but its CI reaches into it at"),
    (("gap, smaller",), "MLP-Attn is more malleable, but by less than 6×, at"),
    (("gap, larger",), "the gap exceeds 9× at"),
    (("no gap",), "there is no clear gap (the CI includes 1) at"),
    (("opposite",), "2L-ReLU is the more malleable (CI below 1) at"),
    (("unbounded",), "2L-ReLU flips nothing while MLP-Attn does (ratio ∞) at"),
    (("undefined",), "neither flips anything at"),
    (("out of range (no CI)",), "outside 6–9× (one seed, no CI) at"),
)


def _where(rows):
    """'ε = 0.3 at n = 300 (4.1× [3.0, 8.0])', ... for ratio rows."""
    items = []
    for _, row in rows.iterrows():
        text = f"ε = {row['epsilon']:g} at n = {row['n_train']}"
        if math.isfinite(row["ratio"]):
            text += f" ({row['ratio']:.1f}×"
            high = "∞" if math.isinf(row["high"]) else f"{row['high']:.1f}"
            text += f" [{row['low']:.1f}, {high}])" if math.isfinite(row["low"]) else ")"
        items.append(text)
    return ", ".join(items)


def _ratio_sentence(dataset, setting, space, attack, group):
    group = group.sort_values(["n_train", "epsilon"])
    group = group.assign(verdict=[_verdict_ratio(r) for _, r in group.iterrows()])
    std = PIXEL_STATS.get(dataset, (None, None))[1]
    units = f"standardized units (ε_pixel = ε · {std})"
    if space == "pixel":
        units = "pixel units ([0, 1])"
    parts = []
    for verdicts, text in _RATIO_BUCKETS:
        chosen = group[group["verdict"].isin(verdicts)]
        if not chosen.empty:
            parts.append(f"{text} {_where(chosen)}")
    if setting != "multiclass":
        parts.append("the paper's headline is for 10-class data (binary CIFAR-10: no gap)")
    if space == "pixel" and std:
        top = float(group["epsilon"].max())
        parts.append(f"ε = {top:g} pixels is {top / std:.2f} in standardized units")
    return f"{dataset} {setting}, {attack.upper()}, ε in {units}: " + "; ".join(parts) + "."


def _ratio_sentences(ratio):
    flips = ratio[
        (ratio["quantity"] == "flip_rate") & (ratio["attack"] != "random") & (ratio["epsilon"] > 0)
    ]
    flips = flips[flips["adversarial_training"] != True]  # noqa: E712 (nullable boolean)
    return [
        _ratio_sentence(*keys, group)
        for keys, group in flips.groupby(
            ["dataset", "setting", "epsilon_space", "attack"], sort=True
        )
    ]


def _explained_sentence(dataset, setting, space, arch, attack, group):
    share = group["explained"].to_numpy(dtype=float)
    at_max = group.loc[group["epsilon"] == group["epsilon"].max(), "explained"]
    end = (
        ". At 100 % or more the attack flips no more than noise of the same size."
        if share.max() >= 1
        else "."
    )
    return (
        f"{dataset} {setting}, {architecture_label(arch)}, {attack.upper()} "
        f"({space} ε): the random ±ε baseline on the same points already reaches a "
        f"median {np.median(share):.0%} (range {share.min():.0%}–{share.max():.0%}) "
        f"of the attack's flip rate over the measured ε > 0 and n; "
        f"{at_max.median():.0%} at the largest ε ({group['epsilon'].max():g})" + end
    )


def _explained_sentences(base):
    flips = base[base["metric"] == "flip_rate"]
    flips = flips[flips["explained"].notna() & (flips["epsilon"] > 0)]
    flips = flips[flips["adversarial_training"] != True]  # noqa: E712
    return [
        _explained_sentence(*keys, group)
        for keys, group in flips.groupby(
            ["dataset", "setting", "epsilon_space", "architecture", "attack"], sort=True
        )
    ]


def sensitivity_sentences(tables):
    """Plain-words findings of :func:`sensitivity_tables`, for the report.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The output of :func:`sensitivity_tables`.

    Returns
    -------
    sentences : list of str
        Where (ε, its units, n) the paper's 6–9× headline ratio is or is not reproduced, and
        how much of each flip rate the random baseline already explains. "Reproduced": the
        MLP-Attn / 2L-ReLU ratio of mean flip rates lies in 6–9×; a ratio outside it whose
        bootstrap CI overlaps 6–9× is reported apart, as are ratios whose CI lies above 1
        (a smaller or larger gap) or includes 1 (no clear gap).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report import sensitivity_sentences
    >>> empty = {"baseline": pd.DataFrame(), "ratio": pd.DataFrame(),
    ...          "diagnostics": pd.DataFrame()}
    >>> sensitivity_sentences(empty)
    []
    """
    sentences = []
    ratio = tables.get("ratio", pd.DataFrame())
    if not ratio.empty:
        sentences += _ratio_sentences(ratio)
    base = tables.get("baseline", pd.DataFrame())
    if base.empty:
        return sentences
    if base["random_mean"].isna().all():
        sentences.append(
            'No random ±ε baseline was measured (add "random" to malleability.attacks): '
            "these flip rates cannot be read against noise of the same size."
        )
    return sentences + _explained_sentences(base)
