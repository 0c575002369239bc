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


def test_table1_shows_each_stopping_rule_and_how_its_networks_trained():
    import pandas as pd

    from tests.analysis.report.rows import ntk_rows

    used = {("relu", 0): (40, 1), ("relu", 1): (55, 1), ("relu", 2): (100, 0)}
    used |= {("attention", s): (100, 0) for s in range(3)}
    converged = ntk_rows({"relu": -0.5, "attention": 0.2}, "convergence", training=used)
    fixed = ntk_rows(
        {"relu": -0.5, "attention": -0.1},
        "fixed",
        training={(a, s): (60, None) for a in ("relu", "attention") for s in range(3)},
    )
    summary, display = build_tables(pd.concat([converged, fixed]))["table1_ntk_distance"]
    assert set(summary["metric"]) == {"cosine"}  # the long form keeps only the distances
    assert "epochs used" not in display  # shown in the networks section, not in Table 1
    rows = display.set_index(["architecture", "stopping"])["converged"]
    # over the 4 widths × 3 seeds of 2L-ReLU: 8 of 12 networks stopped before the cap
    assert rows[("2L-ReLU", "convergence")] == "8/12"
    assert rows[("MLP-Attn", "convergence")] == "0/12"
    assert rows[("MLP-Attn", "fixed")] == "—"  # no rule to meet: no count


def test_table1_of_a_run_before_the_stopping_rule_reads_fixed():
    from tests.analysis.report.rows import ntk_rows

    old = ntk_rows({"relu": -0.5, "attention": 0.2}, "fixed").drop(columns=["stopping"])
    _, display = build_tables(old)["table1_ntk_distance"]
    assert set(display["stopping"]) == {"fixed"}
    assert "converged" not in display  # nothing recorded
