"""Tests for the networks of a run: settings per part, fit over seeds, near-chance flags."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_attnkernel.analysis.report.networks import (
    drop_near_chance,
    near_chance_column,
    network_health,
    networks_table,
    ntk_fit_table,
    settings_table,
)

TRAIN = {"relu": [0.99, 0.98, 1.0], "attention": [0.80, 0.76, 0.12]}
TEST = {"relu": [0.95, 0.96, 0.94], "attention": [0.78, 0.74, 0.10]}
LOSS = {"relu": [0.03, 0.04, 0.035], "attention": [1.1, 1.2, 2.3]}


def _cells(with_health=True):
    """Malleability rows of two architectures × 3 seeds; MLP-Attn seed 2 at chance."""
    rows = []
    for arch in ("relu", "attention"):
        for seed in range(3):
            base = {
                "part": "malleability",
                "dataset": "digits",
                "setting": "multiclass",
                "n_train": 500,
                "architecture": arch,
                "width": 1024,
                "adversarial_training": False,
                "seed": seed,
                "attack": "pgd",
                "epsilon": 0.3,
                "epochs": 60,
                "lr": 0.01,
                "batch_size": 128,
                "reg_lambda": 0.0,
            }
            values = {"flip_rate": 0.1, "test_accuracy": TEST[arch][seed]}
            if with_health:
                values |= {
                    "train_accuracy": TRAIN[arch][seed],
                    "chance_accuracy": 0.1,
                    "train_loss": LOSS[arch][seed],
                    "converged": float(arch == "relu"),
                }
            rows += [{**base, "metric": m, "value": v} for m, v in values.items()]
    frame = pd.DataFrame(rows)
    frame["adversarial_training"] = frame["adversarial_training"].astype("boolean")
    return frame


def test_network_health_flags_the_network_near_chance():
    health = network_health(_cells())
    assert len(health) == 6
    flagged = health.loc[health["near_chance"], ["architecture", "seed"]]
    # skill = (0.12 − 0.1) / 0.9 = 0.022 ≤ 0.1; the next lowest is (0.76 − 0.1) / 0.9
    assert flagged.values.tolist() == [["attention", 2]]


def test_networks_table_reports_accuracy_loss_and_convergence_over_seeds():
    table = networks_table(network_health(_cells())).set_index("architecture")
    for arch, label in (("relu", "2L-ReLU"), ("attention", "MLP-Attn")):
        x = np.array(TRAIN[arch])
        half = stats.t.ppf(0.975, 2) * stats.sem(x)
        expected = f"{100 * x.mean():.1f}% ± {100 * half:.1f}%"
        assert table.loc[label, "train accuracy (%)"] == expected
        test_mean = f"{100 * np.mean(TEST[arch]):.1f}%"
        assert table.loc[label, "test accuracy (%)"].startswith(test_mean)
    assert table.loc["2L-ReLU", "converged (seeds)"] == "3 of 3"
    assert table.loc["MLP-Attn", "converged (seeds)"] == "0 of 3"
    assert table.loc["MLP-Attn", "near chance (seeds)"] == "1 of 3"
    loss = f"{np.mean(LOSS['attention']):.3g}"
    assert table.loc["MLP-Attn", "final training loss"].startswith(loss)


def test_networks_of_old_runs_show_what_was_recorded():
    table = networks_table(network_health(_cells(with_health=False)))
    assert (table["train accuracy (%)"] == "—").all()
    assert (table["converged (seeds)"] == "—").all()
    assert table["test accuracy (%)"].str.endswith("%").all()


def test_settings_table_lists_each_parts_training_settings():
    settings = settings_table(_cells()).set_index("part")
    row = settings.loc["malleability"]
    assert row["epochs (fixed)"] == "60"
    assert row["stopping rule"] == "fixed"  # cells made before the rule trained fixed epochs
    assert row["learning rate"] == "0.01"
    assert row["λ (weight of ‖θ − θ₀‖²)"] == "0"
    assert row["widths m"] == "1024"


def test_drop_near_chance_removes_only_that_networks_cells():
    results = _cells()
    kept, n_dropped = drop_near_chance(results)
    assert n_dropped == 1
    gone = results[(results["architecture"] == "attention") & (results["seed"] == 2)]
    assert len(kept) == len(results) - len(gone)
    assert not ((kept["architecture"] == "attention") & (kept["seed"] == 2)).any()


@pytest.mark.parametrize("columns", [["architecture"], ["setting"]])
def test_near_chance_column_flags_the_rows_that_use_the_network(columns):
    health = network_health(_cells())
    display = pd.DataFrame(
        {
            "dataset": ["digits", "digits"],
            "setting": ["multiclass", "multiclass"],
            "n_train": [500, 500],
            "architecture": ["2L-ReLU", "MLP-Attn"],
            "width": [1024, 1024],
        }
    )
    if columns == ["setting"]:  # a table of both architectures (e.g. the ratios)
        display = display.drop(columns="architecture").iloc[:1]
        assert near_chance_column(display, health)["near chance"].tolist() == ["1 of 6 networks"]
    else:
        flagged = near_chance_column(display, health)["near chance"].tolist()
        assert flagged == ["", "1 of 3 networks"]


def _ntk_rows(architectures=("relu", "attention"), scores=True):
    rows = []
    for arch in architectures:
        for seed in range(3):
            metrics = [("cosine", "init", 0.5), ("cosine", "trained", 0.4)]
            metrics += [("train_loss", "trained", LOSS[arch][seed])]
            if scores:
                metrics += [("train_score", "trained", TRAIN[arch][seed])]
                metrics += [("eval_score", "trained", TEST[arch][seed])]
            rows += [
                {
                    "part": "ntk",
                    "dataset": "digits",
                    "setting": "multiclass",
                    "n_train": 300,
                    "architecture": arch,
                    "width": 64,
                    "seed": seed,
                    "stage": stage,
                    "metric": metric,
                    "value": value,
                }
                for metric, stage, value in metrics
            ]
    return pd.DataFrame(rows)


def test_ntk_fit_table_reports_the_sweep_networks_fit_over_seeds():
    table = ntk_fit_table(_ntk_rows()).set_index("architecture")
    for arch, label in (("relu", "2L-ReLU"), ("attention", "MLP-Attn")):
        for values, column in ((TRAIN, "train accuracy (%)"), (TEST, "test accuracy (%)")):
            x = np.array(values[arch])
            half = stats.t.ppf(0.975, 2) * stats.sem(x)
            assert table.loc[label, column] == f"{100 * x.mean():.1f}% ± {100 * half:.1f}%"
        assert table.loc[label, "final training loss"].startswith(f"{np.mean(LOSS[arch]):.3g}")
    # a one-hot MSE regressor records no accuracy; a run without fit rows gives no table
    regressor = ntk_fit_table(_ntk_rows(scores=False))
    assert set(regressor["train accuracy (%)"]) == {"—"}
    assert ntk_fit_table(_ntk_rows().query("metric == 'cosine'")).empty


def test_table1_keeps_only_the_distances():
    from sklearn_attnkernel.analysis.report.tables import build_tables

    summary, _ = build_tables(_ntk_rows())["table1_ntk_distance"]
    assert set(summary["metric"]) == {"cosine"}


EPOCHS = {"relu": [41, 47, 62], "attention": [500, 500, 500]}


def _cells_with_epochs():
    cells = _cells()
    health = cells[cells["metric"] == "converged"].copy()
    health["metric"] = "epochs_used"
    pairs = zip(health["architecture"], health["seed"], strict=True)
    health["value"] = [EPOCHS[arch][seed] for arch, seed in pairs]
    return pd.concat([cells, health], ignore_index=True)


def test_malleability_tables_and_networks_show_how_training_ended():
    from sklearn_attnkernel.analysis.report import build_tables
    from sklearn_attnkernel.analysis.report.networks import CONVERGENCE, convergence_column

    results = _cells_with_epochs()
    health = network_health(results)
    table = networks_table(health).set_index("architecture")
    x = np.array(EPOCHS["relu"], dtype=float)
    half = stats.t.ppf(0.975, 2) * stats.sem(x)
    assert table.loc["2L-ReLU", "epochs used"] == f"{x.mean():.3g} ± {half:.3g}"
    assert table.loc["2L-ReLU", "converged (seeds)"] == "3 of 3"
    display = build_tables(results.assign(epsilon_space="pixel"))["table2_flip_rates"][1]
    column = convergence_column(display, health).set_index("architecture")[list(CONVERGENCE)]
    assert tuple(column.loc["2L-ReLU"]) == ("3/3", f"{x.mean():.0f} (41–62)")
    assert tuple(column.loc["MLP-Attn"]) == ("0/3", "500")
    # a run that recorded neither number gets no column
    old = network_health(_cells(with_health=False))
    assert not set(CONVERGENCE) & set(convergence_column(display, old))
