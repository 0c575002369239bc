"""Tests for the paper's tables built from tidy results."""

import pytest

from sklearn_attnkernel.analysis.report import build_tables, mean_ci


def test_flip_rate_table_has_ci_and_the_random_baseline(malleability_results):
    results = malleability_results(
        {
            ("relu", "pgd"): [0.03, 0.04, 0.05],
            ("relu", "random"): [0.01, 0.02, 0.0],
            ("attention", "pgd"): [0.3, 0.28, 0.29],
            ("attention", "random"): [0.05, 0.06, 0.04],
        }
    )
    summary, display = build_tables(results)["table2_flip_rates"]
    assert list(display.columns[-2:]) == ["pgd", "random (baseline)"]
    assert display["architecture"].tolist() == ["2L-ReLU", "MLP-Attn"]  # paper's order
    relu_pgd = summary[(summary["architecture"] == "relu") & (summary["attack"] == "pgd")]
    assert relu_pgd["mean"].item() == pytest.approx(0.04)
    assert display.loc[0, "pgd"] == f"4.0% ± {100 * mean_ci([0.03, 0.04, 0.05])[1]:.1f}%"


def test_one_seed_gives_no_ci(malleability_results):
    results = malleability_results(
        {("relu", "pgd"): [0.1], ("attention", "pgd"): [0.3]}, seeds=(0,)
    )
    _, display = build_tables(results)["table2_flip_rates"]
    assert display["pgd"].tolist() == ["10.0%", "30.0%"]


def test_tables_of_the_parts_run_and_in_report_order(malleability_results):
    flips = {
        (architecture, attack): [0.1, 0.2]
        for architecture in ("relu", "attention")
        for attack in ("pgd", "random")
    }
    tables = build_tables(malleability_results(flips, seeds=(0, 1)))
    assert list(tables) == [
        "table2_flip_rates",
        "sensitivity_baseline",
        "sensitivity_ratio",
    ]
