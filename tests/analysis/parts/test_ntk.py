"""Tests for the ``ntk`` part: a zero empirical NTK leaves one metric undefined, not the cell."""

from sklearn_attnkernel.analysis.grid import run_grid
from sklearn_attnkernel.analysis.store import read_cell


def test_undefined_cosine_distance_is_nan_not_a_failed_cell(tmp_path, tiny_grid, monkeypatch):
    """A zero empirical NTK (every unit dead) leaves that metric NaN; the rest is measured."""
    from sklearn_attnkernel.ntk import metrics as ntk_metrics

    real = ntk_metrics.ntk_width_sweep

    def dead_after_training(architecture, X, y, **kwargs):
        if "cosine" in kwargs["metrics"] and "trained" in kwargs["stages"]:
            raise ntk_metrics.ZeroKernelError(
                "K_m is all zeros, so the cosine distance is undefined."
            )
        return real(architecture, X, y, **kwargs)

    monkeypatch.setattr(ntk_metrics, "ntk_width_sweep", dead_after_training)
    config = {
        **tiny_grid,
        "ntk": {**tiny_grid["ntk"], "widths": [16], "architectures": ["relu"]},
        "malleability": {"enabled": False},
        "kappa": {"enabled": False},
        "collapse": {"enabled": False},
    }
    summary = run_grid(config, tmp_path, progress=False)
    assert summary.n_failed == 0
    record = read_cell(next((tmp_path / "cells").glob("ntk-*.json")))
    values = {(r["stage"], r["metric"]): r["value"] for r in record["rows"]}
    # 6 distances (3 metrics × 2 stages) and the trained network's fit (accuracy on the
    # training and test points, final loss, epochs used, converged): the zero kernel leaves the
    # rest of the cell whole
    assert len(values) == 11
    assert {m for stage, m in values if stage == "trained"} >= {"train_score", "train_loss"}
    assert values[("trained", "cosine")] is None  # NaN, stored as null
    assert values[("init", "cosine")] > 0
    assert values[("trained", "frobenius")] > 0
    assert "trained: cosine distance undefined" in record["notes"][0]


def test_each_stopping_rule_is_a_cell_that_records_its_epochs(tmp_path, tiny_grid):
    """ntk.stopping is an axis: the converged network stops before its cap on an easy problem
    (a loose tolerance), the fixed-epoch control trains exactly training.epochs."""
    config = {
        **tiny_grid,
        "training": {"epochs": 7, "max_epochs": 300, "tol": 0.05, "n_iter_no_change": 2},
        "ntk": {
            **tiny_grid["ntk"],
            "widths": [16],
            "architectures": ["relu"],
            "stages": ["trained"],
            "metrics": ["cosine"],
            "stopping": ["convergence", "fixed"],
        },
        "malleability": {"enabled": False},
        "kappa": {"enabled": False},
        "collapse": {"enabled": False},
    }
    summary = run_grid(config, tmp_path, progress=False)
    assert (summary.n_cells, summary.n_failed) == (2, 0)
    by_rule = {}
    for path in (tmp_path / "cells").glob("ntk-*.json"):
        record = read_cell(path)
        by_rule[record["settings"]["stopping"]] = (
            record["settings"],
            {r["metric"]: r["value"] for r in record["rows"]},
        )
    settings, values = by_rule["convergence"]
    assert "epochs" not in settings
    assert settings["max_epochs"] == 300
    assert values["converged"] == 1.0
    assert 2 < values["epochs_used"] < 300
    settings, values = by_rule["fixed"]
    assert "max_epochs" not in settings
    assert values["epochs_used"] == 7
    assert values["converged"] is None  # no stopping rule: NaN, stored as null
