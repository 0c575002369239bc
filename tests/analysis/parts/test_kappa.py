"""Tests for the ``kappa`` part: the measured κ of the attention features."""

import pytest

from sklearn_attnkernel.analysis.config import load_config
from sklearn_attnkernel.analysis.grid import group_tasks, run_task


def test_kappa_cell_records_the_measured_kappa_of_the_attention_features(tiny_grid):
    groups = group_tasks(load_config(tiny_grid).cells())
    task = next([c.settings for c in g] for _, g in groups if g[0].settings["part"] == "kappa")
    (record,) = run_task("kappa", task, {"root": None, "threads": 1})
    rows = {r["metric"]: r["value"] for r in record["rows"] if "rank" not in r}
    # digits at n = 120: κ ≈ 10^5, so κ³ ≈ 10^15 stays far below float64's ≈ 10^30 limit and
    # the SVD of F = X C must find the cube (Thm 4.8) to round-off
    assert rows["log10_kappa^3"] < 25
    assert rows["log10_kappa_attention_measured"] == pytest.approx(rows["log10_kappa^3"], abs=0.01)
