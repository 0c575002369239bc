"""The report of the audit part: its table against paired statistics computed with scipy, its
verdict on hand-made rows, its figure, and its section in a generated report."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_attnkernel.analysis.report.audit import (
    AUDIT_TITLE,
    audit_figures,
    audit_findings,
    audit_tables,
)
from sklearn_attnkernel.analysis.report.load import _typed

from .rows import audit_rows

TRUSTED = {"agreement": [0.6, 0.7, 0.8], "attack": [0.1, 0.1, 0.1], "random": [0.1, 0.12, 0.08]}
MALLEABLE = {
    "agreement": [-0.1, 0.1, 0.0],
    "attack": [0.5, 0.6, 0.55],
    "random": [0.1, 0.1, 0.15],
    "ensemble": [0.2, 0.25, 0.3],
}


def _results(values, **kwargs):
    return _typed(audit_rows(values, **kwargs).assign(key="hand-made"))


def test_excess_and_ensembling_are_paired_t_intervals_of_the_per_seed_differences():
    results = _results({("attention", "trak"): MALLEABLE})
    summary, display = audit_tables(results)["audit"]
    for quantity, a, b in (
        ("excess", MALLEABLE["attack"], MALLEABLE["random"]),
        ("ensembling", MALLEABLE["ensemble"], MALLEABLE["attack"]),
    ):
        expected = stats.ttest_rel(a, b).confidence_interval(0.95)
        row = summary[summary["quantity"] == quantity].iloc[0]
        assert (row["low"], row["high"]) == pytest.approx((expected.low, expected.high))
        assert row["n"] == 3
    assert display.loc[0, "architecture"] == "MLP-Attn"


def test_the_verdict_follows_the_paired_intervals():
    results = _results({("relu", "exact"): TRUSTED, ("relu", "trak"): MALLEABLE})
    (sentence,) = audit_findings(results)
    assert "2L-ReLU (3 seeds)" in sentence
    assert "established (95 % t-interval of ρ over seeds above 0) for exact;" in sentence
    assert "attack − random above 0) for trak;" in sentence
    assert "T=max − T=1 below 0) for trak." in sentence
    assert sentence.endswith("malleability): exact.")


def test_one_seed_says_no_interval_over_seeds_is_possible():
    one = {key: value[:1] for key, value in TRUSTED.items()}
    results = _results({("relu", "exact"): one}, seeds=(0,))
    (sentence,) = audit_findings(results)
    assert "one seed, so no interval over seeds is possible" in sentence
    assert sentence.endswith("above 0 for: exact.")
    _, display = audit_tables(results)["audit"]
    assert display.loc[0, "agreement with retraining ρ"] == "0.6 [0.5, 0.7]"


def test_no_audit_rows_no_table_and_no_sentence():
    empty = _typed(pd.DataFrame())
    assert audit_tables(empty) == {}
    assert audit_findings(empty) == []
    assert list(audit_figures(empty)) == []


def test_figure_draws_flip_rate_by_k_per_architecture():
    rows = [
        {
            "part": "audit",
            "dataset": "digits",
            "setting": "binary",
            "n_train": 100,
            "width": 32,
            "seed": seed,
            "architecture": arch,
            "method": "trak",
            "metric": "flip_rate_at_k",
            "attack": attack,
            "n_checkpoints": "1",
            "k_fraction": str(k),
            "value": 0.1 * seed,
        }
        for seed in (0, 1)
        for arch in ("relu", "attention")
        for attack in ("pgd", "random")
        for k in (0.05, 0.1)
    ]
    ((section, stem, _, fig),) = list(audit_figures(_typed(pd.DataFrame(rows).assign(key="h"))))
    assert (section, stem) == ("audit", "audit_flip_by_k_digits_binary_n100_m32")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["2L-ReLU", "MLP-Attn"]
    line = fig.axes[0].get_lines()[0]
    assert np.allclose(line.get_xdata(), [0.05, 0.1])
    assert np.allclose(line.get_ydata(), [0.05, 0.05])  # mean of 0 and 0.1 over the seeds


def test_table_and_verdict_read_the_paper_epsilon_and_the_figure_draws_the_curve():
    """Two ε cells of the same networks: the table is the one of ε = 0.3 alone, whatever the
    other ε measured; the ε figure plots the per-ε mean flip rates over the seeds."""
    at_small = {**MALLEABLE, "attack": [0.9, 0.9, 0.9], "random": [0.0, 0.0, 0.0]}
    both = pd.concat(
        [
            audit_rows({("attention", "trak"): MALLEABLE}, epsilon=0.3),
            audit_rows({("attention", "trak"): at_small}, epsilon=0.1),
        ]
    )
    results = _typed(both.assign(key="hand-made"))
    only = _results({("attention", "trak"): MALLEABLE})
    pd.testing.assert_frame_equal(audit_tables(results)["audit"][1], audit_tables(only)["audit"][1])
    assert "the attack at ε = 0.3 flips more" in audit_findings(results)[0]
    figures = {stem: fig for _, stem, _, fig in audit_figures(results)}
    fig = figures["audit_flip_by_epsilon_digits_binary_n100_m32"]
    lines = {bars.get_label(): bars.lines[0] for bars in fig.axes[0].containers}
    attack, random = lines["trak"], lines["trak (random ±ε)"]
    assert fig.axes[0].get_title() == "MLP-Attn"
    assert np.allclose(attack.get_xdata(), [0.1, 0.3])
    assert np.allclose(attack.get_ydata(), [0.9, np.mean(MALLEABLE["attack"])])
    assert np.allclose(random.get_ydata(), [0.0, np.mean(MALLEABLE["random"])])


def test_the_report_has_the_audit_section(tmp_path):
    pytest.importorskip("dattri")
    from sklearn_attnkernel.analysis import run_experiment

    from ..parts.test_audit import TINY_AUDIT

    config = {**TINY_AUDIT, "audit": {**TINY_AUDIT["audit"], "methods": ["exact", "trak"]}}
    run_experiment(config, tmp_path, progress=False)
    from sklearn_attnkernel.analysis.report import load_results
    from sklearn_attnkernel.analysis.report.networks import settings_table

    settings = settings_table(load_results(tmp_path)[0]).set_index("part")
    assert settings.loc["audit", "epochs (fixed)"] == "20"  # its own training, listed
    text = (tmp_path / "report.md").read_text()
    assert f"## {AUDIT_TITLE} (part audit)" in text
    assert "one seed, so no interval over seeds is possible" in text
    assert (tmp_path / "tables" / "audit.csv").is_file()
    figures = tmp_path / "figures"
    assert (figures / "audit_flip_by_k_digits_binary_n60_m8.png").is_file()
    assert (figures / "audit_flip_by_epsilon_digits_binary_n60_m8.png").is_file()


def test_the_architecture_gap_is_a_paired_interval_of_rho():
    lower = {**TRUSTED, "agreement": [0.1, 0.25, 0.3]}  # 0.5, 0.45, 0.5 below 2L-ReLU's ρ
    results = _results({("relu", "exact"): TRUSTED, ("attention", "exact"): lower})
    sentence = audit_findings(results)[-1]
    assert "lower on MLP-Attn than on 2L-ReLU for exact and higher for none" in sentence


def test_the_malleability_table_sets_each_metric_beside_its_random_baseline():
    """Spearman's ρ under the attack and under random ±ε, mean and Student-t CI over seeds
    (scipy), shown as 'attack / random'; the flip rates of the main table in %."""
    frame = audit_rows({("attention", "trak"): MALLEABLE})
    extra = frame[frame["metric"] == "flip_rate"].copy()
    extra["metric"] = "spearman"
    extra["value"] = np.where(extra["attack"] == "random", 0.9, 0.2) + 0.01 * extra["seed"]
    results = _typed(pd.concat([frame, extra]).assign(key="hand-made"))
    summary, display = audit_tables(results)["audit_malleability"]
    row = summary[(summary["quantity"] == "spearman") & (summary["baseline"] == "attack")]
    values = [0.2, 0.21, 0.22]
    half = stats.t.ppf(0.975, 2) * stats.sem(values)
    assert row["mean"].iloc[0] == pytest.approx(np.mean(values))
    assert row["ci95"].iloc[0] == pytest.approx(half)
    assert (
        display.loc[0, "Spearman ρ before–after: attack / random"]
        == "0.21 ± 0.0248 / 0.91 ± 0.0248"
    )
    assert display.loc[0, "flip rate: attack / random"].startswith("55.0%")
