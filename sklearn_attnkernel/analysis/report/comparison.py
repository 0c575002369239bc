"""Our numbers beside the paper's: one small function per claim of the paper, each returning
its rows of the comparison table and the sentences that say where we disagree."""

import math

import pandas as pd

from ..._utils.vocabulary import PRACTICAL_WIDTH
from .formatting import architecture_label, format_ci
from .load import part_rows

__all__ = ["PAPER_NUMBERS", "compare_with_paper"]

#: The paper's headline numbers (PAPER.md §4, §5), for the comparison table.
PAPER_NUMBERS = {
    ("mnist", "multiclass", "relu", "pgd"): 0.033,
    ("mnist", "multiclass", "attention", "pgd"): 0.289,
    ("cifar10", "multiclass", "relu", "pgd"): 0.031,
    ("cifar10", "multiclass", "attention", "pgd"): 0.191,
    "adversarial_relu": 0.40,
    "log10_width_mnist": 24.0,
    "log10_width_cifar10": 29.0,
}
# The ε the paper's flip rates are read at, when the run measured it.
_PAPER_EPSILON = 0.3
# Datasets whose closest figures in the paper are MNIST's.
_MNIST_LIKE = ("digits", "mnist", "fashion-mnist")
# The two architectures whose flip rates the paper compares.
_GAP_PAIR = ("relu", "attention")
_COLUMNS = ["claim", "paper", "ours", "verdict"]


def _table(tables, name):
    return tables.get(name, (pd.DataFrame(),))[0]


def _reference_epsilon(frame):
    """The paper's ε = 0.3 if it was measured, else the largest ε."""
    return _PAPER_EPSILON if (frame["epsilon"] == _PAPER_EPSILON).any() else frame["epsilon"].max()


def _power_of_ten(log10_value):
    """'10^5' for a whole exponent, '10^5.5' otherwise."""
    if float(log10_value).is_integer():
        return f"10^{log10_value:.0f}"
    return f"10^{log10_value:.1f}"


def _gap_verdict(relu, attn):
    """Plain words for a 2L-ReLU vs MLP-Attn comparison of means with CIs."""
    r, a = relu["mean"], attn["mean"]
    if relu["n"] < 2 or attn["n"] < 2:
        return "one seed: no CI, read as indicative"
    if a - attn["ci95"] > r + relu["ci95"]:
        return "MLP-Attn significantly more malleable (CIs disjoint)"
    if r - relu["ci95"] > a + attn["ci95"]:
        return "2L-ReLU more malleable: opposite to the paper"
    return "no clear gap (CIs overlap)"


def _change_verdict(before, after):
    """Plain words for a change of a mean with CIs (before → after)."""
    if before["n"] < 2 or after["n"] < 2:
        return ("raised" if after["mean"] > before["mean"] else "not raised") + " (one seed)"
    if after["mean"] - after["ci95"] > before["mean"] + before["ci95"]:
        return "raised (CIs disjoint)"
    if before["mean"] - before["ci95"] > after["mean"] + after["ci95"]:
        return "lowered (CIs disjoint)"
    return "no clear change (CIs overlap)"


# ------------------------------------------------------------- PGD flip rates: the gap
def _paper_pair(relu, attention):
    return f"{relu:.1%} vs {attention:.1%} ({attention / relu:.1f}×)"


def _paper_flip_rates(dataset, setting):
    """What the paper reports for the 2L-ReLU vs MLP-Attn PGD flip rates of this data."""
    relu = PAPER_NUMBERS.get((dataset, setting, "relu", "pgd"))
    if relu is not None:
        return _paper_pair(relu, PAPER_NUMBERS[(dataset, setting, "attention", "pgd")])
    if setting == "binary" and dataset == "cifar10":
        return "no gap"
    if setting == "multiclass" and dataset in _MNIST_LIKE:
        relu, attention = (PAPER_NUMBERS[("mnist", "multiclass", a, "pgd")] for a in _GAP_PAIR)
        return _paper_pair(relu, attention) + " on MNIST"
    return "not reported"


def _baseline_share_sentences(flips, keys, eps_ref, measured):
    """Where the random ±ε baseline reaches half of an architecture's PGD flip rate or more."""
    dataset, setting, n_train, _ = keys
    baseline = flips[
        (flips["attack"] == "random")
        & (flips["dataset"] == dataset)
        & (flips["setting"] == setting)
        & (flips["n_train"] == n_train)
        & (flips["epsilon"] == eps_ref)
    ]
    sentences = []
    for row in measured:
        base = baseline[baseline["architecture"] == row["architecture"]]
        if base.empty or not row["mean"] > 0:
            continue
        share = base.iloc[0]["mean"] / row["mean"]
        if share >= 0.5:
            sentences.append(
                f"{dataset} {setting}: the random ±ε baseline already reaches {share:.0%} of the "
                f"PGD flip rate of {architecture_label(row['architecture'])}; read that flip "
                "rate as mostly noise sensitivity, not adversarial malleability."
            )
    return sentences


def _gap_sentences(dataset, setting, ours, verdict):
    sentences = []
    if setting == "multiclass" and "significantly more" not in verdict:
        sentences.append(
            f"{dataset} {setting}: the paper reports MLP-Attn far more malleable "
            f"than 2L-ReLU under PGD on 10-class data; we measure {ours} ({verdict})."
        )
    if dataset == "cifar10" and setting == "binary" and "significantly" in verdict:
        sentences.append("cifar10 binary: the paper finds no gap, we find one.")
    return sentences


def _pgd_gap_claim(flips, keys, group, eps_ref):
    """Row and sentences of the PGD gap of one (dataset, setting, n, ε space)."""
    dataset, setting, n_train, space = keys
    group = group[group["epsilon"] == eps_ref]
    relu = group[group["architecture"] == "relu"]
    attn = group[group["architecture"] == "attention"]
    if relu.empty or attn.empty:
        return [], []
    relu, attn = relu.iloc[0], attn.iloc[0]
    ours = (
        f"{format_ci(relu['mean'], relu['ci95'], relu['n'], percent=True)} vs "
        f"{format_ci(attn['mean'], attn['ci95'], attn['n'], percent=True)}"
    )
    ratio = attn["mean"] / relu["mean"] if relu["mean"] > 0 else math.inf
    verdict = _gap_verdict(relu, attn)
    row = {
        "claim": f"PGD flip rate 2L-ReLU vs MLP-Attn ({dataset}, {setting}, "
        f"n = {n_train}, ε = {eps_ref:g} {space})",
        "paper": _paper_flip_rates(dataset, setting),
        "ours": f"{ours} ({ratio:.1f}×)",
        "verdict": verdict,
    }
    sentences = _baseline_share_sentences(flips, keys, eps_ref, (relu, attn))
    return [row], sentences + _gap_sentences(dataset, setting, ours, verdict)


def _pgd_gap_claims(results, tables):
    flips = _table(tables, "table2_flip_rates")
    if flips.empty:
        return [], []
    pgd = flips[flips["attack"] == "pgd"]
    eps_ref = _reference_epsilon(pgd)
    rows, sentences = [], []
    for keys, group in pgd.groupby(["dataset", "setting", "n_train", "epsilon_space"], sort=True):
        claim_rows, claim_sentences = _pgd_gap_claim(flips, keys, group, eps_ref)
        rows += claim_rows
        sentences += claim_sentences
    return rows, sentences


# --------------------------------------------------------------- adversarial training
def _adversarial_training_claims(results, tables):
    adv = _table(tables, "table3_adversarial_training")
    if adv.empty:
        return [], []
    sel = adv[
        (adv["architecture"] == "relu") & (adv["attack"] == "pgd") & (adv["metric"] == "flip_rate")
    ]
    eps_ref = _reference_epsilon(sel)
    sel = sel[sel["epsilon"] == eps_ref]
    paper = f"~{PAPER_NUMBERS['adversarial_relu']:.0%}"
    rows, sentences = [], []
    for (dataset, setting, n_train), group in sel.groupby(["dataset", "setting", "n_train"]):
        std = group[group["training"] == "standard"]
        trained = group[group["training"] == "adversarial"]
        if std.empty or trained.empty:
            continue
        s, t = std.iloc[0], trained.iloc[0]
        verdict = _change_verdict(s, t)
        rows.append(
            {
                "claim": f"adversarial training raises the 2L-ReLU PGD flip rate "
                f"({dataset}, {setting}, n = {n_train}, ε = {eps_ref:g})",
                "paper": f"to {paper}",
                "ours": f"{format_ci(s['mean'], s['ci95'], s['n'], percent=True)} → "
                f"{format_ci(t['mean'], t['ci95'], t['n'], percent=True)}",
                "verdict": verdict,
            }
        )
        if not verdict.startswith("raised"):
            sentences.append(
                f"{dataset} {setting}: adversarial training did not clearly raise the 2L-ReLU "
                f"PGD flip rate at ε = {eps_ref:g} ({verdict}), unlike the paper's lift to "
                f"{paper}."
            )
    return rows, sentences


# ------------------------------------------------------------------- κ: required width
def _practical_widths(results):
    """The configured practical width (``kappa.practical_width``, kept in each κ cell's
    settings) by (dataset, setting, n_train); cells written before it existed have none."""
    kappa = part_rows(results, "kappa")
    if "practical_width" not in kappa:
        return {}
    keys = ["dataset", "setting", "n_train"]
    widths = kappa[keys].assign(width=pd.to_numeric(kappa["practical_width"], errors="coerce"))
    widths = widths.dropna(subset=["width"]).drop_duplicates(keys)
    return {
        (d, s, n): float(w)
        for d, s, n, w in zip(*(widths[c] for c in [*keys, "width"]), strict=True)
    }


def _paper_width(dataset):
    log10_width = PAPER_NUMBERS.get(f"log10_width_{dataset}")
    if log10_width is None:
        return f"m* ≫ 10^{PAPER_NUMBERS['log10_width_mnist']:.0f} (MNIST)"
    return f"m* ≫ 10^{log10_width:.0f}"


def _kappa_width_claims(results, tables):
    kappa = _table(tables, "kappa")
    if kappa.empty:
        return [], []
    practical = _practical_widths(results)
    rows, sentences = [], []
    for _, row in kappa[kappa["metric"] == "log10_width_attention"].iterrows():
        key = (row["dataset"], row["setting"], row["n_train"])
        log10_practical = math.log10(practical.get(key, PRACTICAL_WIDTH))
        beyond = row["mean"] > log10_practical
        rows.append(
            {
                "claim": f"width MLP-Attn needs for its NTK regime ({row['dataset']}, "
                f"{row['setting']}, n = {row['n_train']})",
                "paper": _paper_width(row["dataset"]),
                "ours": f"m* ≈ 10^{row['mean']:.1f}",
                "verdict": (
                    f"beyond practical width ({_power_of_ten(log10_practical)})"
                    if beyond
                    else "practical"
                ),
            }
        )
        if row["mean"] <= log10_practical:
            sentences.append(
                f"{row['dataset']} {row['setting']}: κ gives a practical required width "
                f"(10^{row['mean']:.1f}), against the paper's claim."
            )
    return rows, sentences


# ------------------------------------------------------------- NTK distance vs width
def _width_trend(line):
    from scipy.stats import spearmanr

    rho = spearmanr(line["width"].astype(float), line["mean"]).statistic
    return "falls" if rho <= -0.8 else "rises" if rho >= 0.8 else "non-monotone"


def _ntk_trend_claims(results, tables):
    ntk = _table(tables, "table1_ntk_distance")
    if ntk.empty:
        return [], []
    trained = ntk[ntk["stage"] == "trained"]
    rows, sentences = [], []
    for (dataset, setting, n_train, metric), group in trained.groupby(
        ["dataset", "setting", "n_train", "metric"], sort=True
    ):
        trends = {
            arch: _width_trend(line)
            for arch, line in group.groupby("architecture")
            if line["width"].nunique() >= 3
        }
        if "relu" not in trends or "attention" not in trends:
            continue
        agree = trends["relu"] == "falls" and trends["attention"] != "falls"
        rows.append(
            {
                "claim": f"trained NTK {metric} distance vs width ({dataset}, {setting}, "
                f"n = {n_train})",
                "paper": "2L-ReLU falls; MLP-Attn does not",
                "ours": f"2L-ReLU {trends['relu']}; MLP-Attn {trends['attention']}",
                "verdict": "agrees" if agree else "disagrees",
            }
        )
        if not agree:
            sentences.append(
                f"{dataset} {setting}, {metric} distance after training: 2L-ReLU "
                f"{trends['relu']}, MLP-Attn {trends['attention']} with width — the "
                "paper has MLP-Attn not converging while 2L-ReLU does."
            )
    return rows, sentences


# ----------------------------------------------------------------------- feature collapse
def _collapse_claims(results, tables):
    collapse = _table(tables, "collapse")
    if collapse.empty:
        return [], []
    rows, sentences = [], []
    for _, row in collapse[collapse["transform"].isin(["softmax", "exponential"])].iterrows():
        rows.append(
            {
                "claim": f"{row['transform']} attention features collapse "
                f"({row['dataset']}, {row['setting']})",
                "paper": "mean cosine ≈ 1",
                "ours": f"{row['mean']:.3f}",
                "verdict": "collapsed (≈ 1)" if row["mean"] > 0.9 else "not collapsed",
            }
        )
        if row["mean"] <= 0.9:
            sentences.append(
                f"{row['dataset']} {row['setting']}: {row['transform']} attention features "
                f"are not collapsed (mean cosine {row['mean']:.3f}), unlike Fig. 7."
            )
    return rows, sentences


# The claims of the paper, in the order the comparison table lists them.
_CLAIMS = (
    _pgd_gap_claims,
    _adversarial_training_claims,
    _kappa_width_claims,
    _ntk_trend_claims,
    _collapse_claims,
)


def compare_with_paper(results, tables):
    """The paper-vs-ours table, and plain sentences where they disagree.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results (the κ claim reads the configured practical width from them).
    tables : dict
        The output of :func:`~sklearn_attnkernel.analysis.report.build_tables`.

    Returns
    -------
    comparison : pandas.DataFrame
        Columns ``claim``, ``paper``, ``ours``, ``verdict``.
    sentences : list of str
        Where we disagree with the paper, or the random baseline explains much.
    """
    rows, sentences = [], []
    for claims in _CLAIMS:
        claim_rows, claim_sentences = claims(results, tables)
        rows += claim_rows
        sentences += claim_sentences
    return pd.DataFrame(rows, columns=_COLUMNS), sentences
