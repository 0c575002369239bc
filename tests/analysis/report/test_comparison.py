"""Tests for the comparison with the paper: the verdicts and the sentences where we disagree."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_attnkernel.analysis.report import build_report, build_tables, load_results
from sklearn_attnkernel.analysis.report.comparison import compare_with_paper
from sklearn_attnkernel.analysis.store import CELL_FORMAT, cell_key, write_cell
from tests.analysis.report.rows import malleability_rows


def _write(cells, settings, rows, info=None):
    write_cell(
        cells,
        {
            "format": CELL_FORMAT,
            "key": cell_key(settings),
            "part": settings["part"],
            "settings": settings,
            "status": "ok",
            "rows": rows,
            "info": info or {},
            "seeds": {},
            "versions": {},
            "device": "cpu",
            "wall_time_s": 0.0,
        },
    )


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return None if value is pd.NA else value


def _report_text(tmp_path, results):
    """Write synthetic results as cell files and build the report."""
    settings_columns = [c for c in results.columns if c not in ("metric", "value")]
    for _, group in results.groupby(settings_columns, dropna=False):
        first = group.iloc[0]
        rows = [
            {"metric": m, "value": float(v)}
            for m, v in zip(group["metric"], group["value"], strict=True)
        ]
        _write(tmp_path / "cells", {c: _plain(first[c]) for c in settings_columns}, rows)
    return build_report(tmp_path, figures=False).read_text()


# ------------------------------------------------------------ malleability: paired verdicts
_curve = malleability_rows


def _verdicts(results):
    verdicts, sentences = compare_with_paper(results, build_tables(results))
    return verdicts, sentences


def _unpaired_intervals_overlap(a, b):
    (la, ha), (lb, hb) = (
        stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x)) for x in (a, b)
    )
    return la <= hb and lb <= ha


def test_a_paired_ratio_whose_ci_excludes_1_is_a_gap_even_when_unpaired_cis_overlap():
    # the case: the seeds move both flip rates together, the ratio stays ~1.7
    relu, attn = [0.10, 0.35, 0.60], [0.17, 0.60, 1.00]
    assert _unpaired_intervals_overlap(relu, attn)  # what the old verdict called "no gap"
    results = _curve({("relu", "pgd", 0.3): relu, ("attention", "pgd", 0.3): attn})
    verdicts, _ = _verdicts(results)
    row = verdicts.iloc[0]
    # a resampled ratio of means is a mediant of the per-seed ratios: it cannot leave them
    per_seed = np.divide(attn, relu)
    assert per_seed.min() > 1
    assert row["verdict"].startswith("gap at ε = 0.3")
    assert "paired percentile bootstrap" in row["statistic"]
    assert f"{np.mean(attn) / np.mean(relu):.1f}×" in row["ours [95 % CI]"]


def test_a_paired_ratio_whose_ci_contains_1_is_no_gap():
    # per-seed ratios 1.5, 0.67 and 1.025: with 3 seeds each all-one-seed resample has mass
    # 1/27 > 2.5 %, so the percentile CI reaches the extreme ratios on both sides of 1
    results = _curve(
        {("relu", "pgd", 0.3): [0.2, 0.3, 0.4], ("attention", "pgd", 0.3): [0.3, 0.2, 0.41]}
    )
    verdicts, sentences = _verdicts(results)
    verdict = verdicts["verdict"].item()
    assert verdict.startswith("no gap at ε = 0.3")
    assert "disagrees" in verdict  # 10-class data: the paper has a gap
    assert len(sentences) == 1


def test_a_paired_ratio_whose_ci_lies_below_1_is_opposite_and_a_disagreement():
    results = _curve(
        {("relu", "pgd", 0.3): [0.30, 0.32, 0.31], ("attention", "pgd", 0.3): [0.02, 0.03, 0.04]}
    )
    verdicts, sentences = _verdicts(results)
    assert verdicts["verdict"].item().startswith("opposite at ε = 0.3")
    assert "3.3% vs 28.9%" in verdicts["paper"].item()
    assert len(sentences) == 1
    assert "opposite" in sentences[0]


def test_the_headline_shows_the_whole_eps_curve_and_where_it_matches_6_to_9():
    relu = {0.03: [0.0, 0.01, 0.0], 0.1: [0.02, 0.03, 0.025], 0.3: [0.3, 0.35, 0.32]}
    attn = {0.03: [0.01, 0.0, 0.01], 0.1: [0.16, 0.24, 0.19], 0.3: [0.5, 0.6, 0.55]}
    flips = {("relu", "fgsm", e): v for e, v in relu.items()}
    flips |= {("attention", "fgsm", e): v for e, v in attn.items()}
    verdicts, _ = _verdicts(_curve(flips))
    row = verdicts.iloc[0]
    for epsilon in relu:  # every ε of the curve, with its ratio
        ratio = np.mean(attn[epsilon]) / np.mean(relu[epsilon])
        assert f"ε = {epsilon:g}: {ratio:.1f}×" in row["ours [95 % CI]"]
    ratio_01 = np.mean(attn[0.1]) / np.mean(relu[0.1])
    assert 6 <= ratio_01 <= 9
    assert "matches the paper's 6–9× at ε = 0.1" in row["verdict"]
    assert "FGSM" in row["claim"]


def test_binary_digits_is_not_held_to_the_papers_binary_cifar10():
    results = _curve(
        {("relu", "pgd", 0.3): [0.1, 0.12, 0.11], ("attention", "pgd", 0.3): [0.3, 0.33, 0.31]},
        dataset="digits",
        setting="binary",
    )
    verdicts, sentences = _verdicts(results)
    assert verdicts["verdict"].item() == "gap at ε = 0.3"
    assert sentences == []


def test_no_verdict_compares_overlapping_intervals(tmp_path, malleability_results):
    results = malleability_results(
        {
            ("relu", "pgd"): [0.10, 0.35, 0.60],
            ("attention", "pgd"): [0.17, 0.60, 1.00],
            ("relu", "random"): [0.05, 0.1, 0.2],
            ("attention", "random"): [0.1, 0.2, 0.3],
        }
    )
    text = _report_text(tmp_path, results)
    assert "Verdicts on the paper's claims" in text
    assert "overlap" not in text
    assert "disjoint" not in text


def test_near_chance_networks_are_left_out_of_the_verdicts():
    relu, attn = [0.03, 0.04, 0.035], [0.28, 0.30, 0.90]
    results = _curve({("relu", "pgd", 0.3): relu, ("attention", "pgd", 0.3): attn})
    # seed 2 of MLP-Attn learned nothing: 10 % training accuracy on 10 balanced classes
    health = results[results["architecture"] == "attention"].copy()
    health = pd.concat(
        [
            health.assign(metric="train_accuracy", value=[0.9, 0.9, 0.1]),
            health.assign(metric="chance_accuracy", value=0.1),
        ]
    )
    kept = np.mean(attn[:2]) / np.mean(relu[:2])
    assert f"{np.mean(attn) / np.mean(relu):.1f}" != f"{kept:.1f}"
    verdicts, _ = _verdicts(pd.concat([results, health], ignore_index=True))
    assert f"ε = 0.3: {kept:.1f}×" in verdicts["ours [95 % CI]"].item()


def test_adversarial_training_verdict_is_a_paired_difference():
    standard = _curve({("relu", "pgd", 0.3): [0.03, 0.05, 0.04]})
    trained = _curve({("relu", "pgd", 0.3): [0.38, 0.41, 0.40]})
    trained["adversarial_training"] = trained["adversarial_training"].map(lambda _: True)
    results = pd.concat([standard, trained], ignore_index=True)
    results["adversarial_training"] = results["adversarial_training"].astype("boolean")
    verdicts, _ = _verdicts(results)
    row = verdicts[verdicts["claim"].str.startswith("adversarial training")].iloc[0]
    assert row["verdict"] == "raised"
    assert row["ours [95 % CI]"].startswith(f"{100 * (0.3967 - 0.04):+.1f} points")
    assert "paired difference" in row["statistic"]


def test_digits_is_compared_with_the_papers_mnist(malleability_results):
    results = malleability_results(
        {("relu", "pgd"): [0.03, 0.04, 0.035], ("attention", "pgd"): [0.28, 0.30, 0.29]},
        dataset="digits",
    )
    comparison, _ = compare_with_paper(results, build_tables(results))
    assert comparison["paper"].tolist() == [
        "6–9× on 10-class data (PGD 3.3% vs 28.9% on MNIST, ε = 0.3)"
    ]


# --------------------------------------------------------------------- NTK: per-seed slopes
def _ntk(slopes, metrics=("cosine", "function"), loss="cross_entropy", seeds=(0, 1, 2)):
    rows = []
    for arch, slope in slopes.items():
        for seed in seeds:
            for width in (16, 64, 256, 1024):
                # per-seed slopes slope − 0.02, slope, slope + 0.02: their mean is slope
                value = 10 ** ((slope + 0.02 * (seed - 1)) * np.log10(width) + 0.1 * seed)
                rows += [
                    {
                        "part": "ntk",
                        "dataset": "digits",
                        "setting": "binary",
                        "n_train": 100,
                        "architecture": arch,
                        "width": width,
                        "seed": seed,
                        "stage": "trained",
                        "metric": metric,
                        "loss": loss,
                        "value": value,
                    }
                    for metric in metrics
                ]
    return pd.DataFrame(rows)


def test_ntk_verdict_rests_on_the_cosine_distance_per_seed_slopes():
    verdicts, sentences = _verdicts(_ntk({"relu": -0.5, "attention": 0.3}))
    # under cross-entropy the function-space distance carries no verdict
    assert verdicts["claim"].tolist() == [
        "trained NTK cosine distance vs width (digits, binary, n = 100)"
    ]
    row = verdicts.iloc[0]
    assert row["verdict"] == "agrees"
    assert "2L-ReLU -0.50" in row["ours [95 % CI]"]
    assert "(falls)" in row["ours [95 % CI]"]
    assert "scale-invariant" in row["statistic"]
    assert sentences == []


def test_ntk_verdict_says_when_mlp_attn_shows_only_no_clear_trend():
    # per-seed slopes -0.02, 0, +0.02: the t-interval of their mean contains 0
    verdicts, _ = _verdicts(_ntk({"relu": -0.5, "attention": 0.0}))
    assert verdicts.iloc[0]["verdict"] == "agrees: MLP-Attn's slope CI contains 0"
    assert "(no clear trend)" in verdicts.iloc[0]["ours [95 % CI]"]


def test_ntk_verdict_disagrees_when_mlp_attn_also_falls_and_judges_mse_function_distance():
    verdicts, sentences = _verdicts(_ntk({"relu": -0.5, "attention": -0.4}, loss="mse"))
    assert verdicts["verdict"].tolist() == ["disagrees: MLP-Attn's distance also falls"] * 2
    assert any("function distance" in c for c in verdicts["claim"])
    assert len(sentences) == 2


# ------------------------------------------------------------ κ: the configured width
def _kappa_cell(cells, log10_width, **settings):
    """A κ cell needing m* = 10^log10_width; ``settings`` as the cell stores them."""
    settings = {"part": "kappa", "dataset": "digits", "setting": "binary", **settings}
    rows = [
        {"metric": "log10_width_attention", "value": log10_width},
        {"metric": "curve_log10_kappa", "rank": 1, "value": 0.0},
    ]
    _write(cells, settings, rows, info={"n_train": 100})


def _kappa_verdict(run_dir):
    results, _ = load_results(run_dir)
    comparison, sentences = compare_with_paper(results, build_tables(results))
    return comparison["verdict"].item(), sentences


@pytest.mark.parametrize(
    ("log10_width", "practical_width", "verdict"),
    [
        (7.0, 1e5, "beyond practical width (10^5)"),
        (7.0, 1e8, "within practical width (10^8)"),  # beyond 10^5, but 10^8 was practical
        (4.0, 1e5, "within practical width (10^5)"),
        (4.0, 1e3, "beyond practical width (10^3)"),
        (5.6, 3e5, "beyond practical width (10^5.5)"),
        (7.0, None, "beyond practical width (10^5)"),  # a cell from before the setting
        (4.0, None, "within practical width (10^5)"),
    ],
)
def test_kappa_verdict_uses_the_configured_practical_width(
    tmp_path, log10_width, practical_width, verdict
):
    settings = {} if practical_width is None else {"practical_width": practical_width}
    _kappa_cell(tmp_path / "cells", log10_width, **settings)
    found, _ = _kappa_verdict(tmp_path)
    assert found == f"{verdict} for MLP-Attn"


def test_kappa_verdict_in_the_report_names_the_configured_width(tmp_path):
    _kappa_cell(tmp_path / "cells", 4.0, practical_width=1e3)
    text = build_report(tmp_path, figures=False).read_text()
    assert "beyond practical width (10^3)" in text
    assert "10^5" not in text


def _full_kappa_cell(cells, log10_kappa, measured, rank=40):
    n = 100
    log_nlogn = np.log10(n * np.log(n))
    rows = [
        {"metric": "rank", "value": rank},
        {"metric": "numerical_rank", "value": rank},
        {"metric": "log10_kappa", "value": log10_kappa},
        {"metric": "log10_width_relu", "value": 2 * log10_kappa + log_nlogn},
        {"metric": "log10_width_attention", "value": 6 * log10_kappa + log_nlogn},
        {"metric": "log10_kappa_attention_measured", "value": measured},
    ]
    settings = {"part": "kappa", "dataset": "digits", "setting": "binary"}
    _write(cells, settings, rows, info={"n_train": n})


@pytest.mark.parametrize(
    ("measured", "verdict"),
    [(9.0, "agrees"), (9.3, "disagrees by +0.30 orders"), (None, "not measured")],
)
def test_kappa_cubing_verdict_rests_on_the_measured_kappa_of_the_features(
    tmp_path, measured, verdict
):
    _full_kappa_cell(tmp_path / "cells", 3.0, np.nan if measured is None else measured)
    results, _ = load_results(tmp_path)
    verdicts, _ = compare_with_paper(results, build_tables(results))
    cubing = verdicts[verdicts["claim"].str.contains("cubes κ")].iloc[0]
    assert cubing["verdict"].startswith(verdict)
    assert "at rank r = 40 (numerical rank)" in cubing["statistic"]


def test_width_claim_says_sufficient_and_heads_with_the_kappa4_ratio(tmp_path):
    _full_kappa_cell(tmp_path / "cells", 3.0, 9.0)
    results, _ = load_results(tmp_path)
    verdicts, _ = compare_with_paper(results, build_tables(results))
    width = verdicts[verdicts["claim"].str.contains("width")].iloc[0]
    assert width["claim"].startswith("sufficient width")
    assert width["ours [95 % CI]"].startswith("κ⁴ = 10^12.0")  # 4 · log10 κ
    assert "rank r = 40" in width["statistic"]
    assert "lower bound" in width["statistic"]
    # the paper's 10^24 for MNIST (n = 60 000) implies κ = 10^((24 − log10(n ln n)) / 6)
    implied = (24 - np.log10(60000 * np.log(60000))) / 6
    assert f"κ ≈ 10^{implied:.1f}" in width["paper"]


# ------------------------------------------------------------------------ feature collapse
def test_collapsed_linearized_features_are_a_measured_disagreement():
    results = pd.DataFrame(
        {
            "part": "collapse",
            "dataset": "digits",
            "setting": "binary",
            "n_train": 100,
            "transform": ["raw", "linear", "softmax", "exponential"],
            "seed": pd.NA,
            "metric": "mean_cosine",
            "value": [0.6, 0.999, 0.9999, 0.9999],
        }
    )
    verdicts, sentences = compare_with_paper(results, build_tables(results))
    linear = verdicts.iloc[0]
    assert linear["verdict"] == "measured disagreement: nearly collapsed"
    assert linear["ours [95 % CI]"] == "mean cosine 0.999 (raw inputs 0.600)"
    assert "diverse" in linear["paper"]
    assert verdicts.iloc[1]["claim"].startswith("softmax and exponential")
    assert verdicts.iloc[1]["verdict"] == "agrees: collapsed"
    assert len(sentences) == 1


def test_ntk_verdict_with_one_seed_is_indicative_and_undecided_without_a_relu_trend():
    verdicts, _ = _verdicts(_ntk({"relu": -0.5, "attention": 0.3}, seeds=(0,)))
    assert verdicts["verdict"].item() == "agrees (one seed: no CI, indicative)"
    verdicts, _ = _verdicts(_ntk({"relu": 0.0, "attention": 0.3}))
    assert verdicts["verdict"].item().startswith("undecided")


# ------------------------------------------------------- NTK: converged vs fixed-epoch control
def _two_rules(attn_converged, attn_fixed):
    from tests.analysis.report.rows import ntk_rows

    converged = ntk_rows(
        {"relu": -0.5, "attention": attn_converged},
        "convergence",
        max_epochs=500,
        training={("attention", s): (e, 1) for s, e in enumerate((120, 180, 240))},
    )
    fixed = ntk_rows({"relu": -0.5, "attention": attn_fixed}, "fixed", epochs=60)
    return pd.concat([converged, fixed], ignore_index=True)


def test_the_report_says_when_the_mlp_attn_verdict_changes_with_convergence():
    from sklearn_attnkernel.analysis.report.comparison import stopping_sentences

    results = _two_rules(attn_converged=-0.4, attn_fixed=0.3)
    verdicts, _ = _verdicts(results)
    claims = verdicts.set_index("claim")["verdict"]
    data = "digits, multiclass, n = 300"
    claim = "trained NTK cosine distance vs width"
    converged = f"{claim} ({data}; trained to convergence (≤ 500 epochs))"
    fixed = f"{claim} ({data}; trained for 60 fixed epochs)"
    assert claims[converged] == "disagrees: MLP-Attn's distance also falls"
    assert claims[fixed] == "agrees"
    (sentence,) = stopping_sentences(results)
    assert sentence.startswith(f"{data}, cosine distance: after training to convergence")
    # MLP-Attn's per-seed slopes -0.42, -0.40, -0.38 (sd 0.02): the t-interval of their mean
    half = stats.t.ppf(0.975, 2) * 0.02 / np.sqrt(3)
    assert f"falls with width (slope -0.40 [{-0.4 - half:+.2f}, {-0.4 + half:+.2f}]" in sentence
    assert "its networks: 12/12 converged, 180 epochs (120–240)" in sentence
    assert "after training for 60 fixed epochs, MLP-Attn's distance rises with width" in sentence
    assert sentence.endswith(
        "the verdict changes: 'disagrees: MLP-Attn's distance also falls' converged, "
        "'agrees' with fixed epochs."
    )


def test_the_report_says_when_the_verdict_does_not_change():
    from sklearn_attnkernel.analysis.report.comparison import stopping_sentences

    (sentence,) = stopping_sentences(_two_rules(attn_converged=0.25, attn_fixed=0.3))
    assert sentence.endswith("the verdict does not change ('agrees').")
    # one rule alone: nothing to compare, and the claim keeps its words
    only_fixed = _two_rules(0.25, 0.3).query("stopping == 'fixed'")
    assert stopping_sentences(only_fixed) == []
    claims = _verdicts(only_fixed)[0]["claim"].tolist()
    assert claims == ["trained NTK cosine distance vs width (digits, multiclass, n = 300)"]
