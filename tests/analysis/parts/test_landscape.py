"""The ``landscape`` part on a tiny grid: its rows, and its centre against the trained
network's log loss computed from scratch (a second fit of the same seeded pipeline)."""

import numpy as np
import pytest

from sklearn_attnkernel.analysis.config import ConfigError, load_config
from sklearn_attnkernel.analysis.data import cell_data
from sklearn_attnkernel.analysis.grid import run_grid
from sklearn_attnkernel.analysis.parts.landscape import SUMMARIES
from sklearn_attnkernel.analysis.parts.models import make_model
from sklearn_attnkernel.analysis.store import read_cell

TINY_LANDSCAPE = {
    "run": {"seeds": [0]},
    "data": {"settings": ["binary"], "n_train": [60]},
    "training": {"stopping": "fixed", "epochs": 3},
    "kappa": {"enabled": False},
    "collapse": {"enabled": False},
    "ntk": {"enabled": False},
    "malleability": {"enabled": False},
    "interventions": {"enabled": False},
    "landscape": {"enabled": True, "width": 16, "n_points": 5, "span": 0.5, "n_train": None},
}


@pytest.fixture(scope="module")
def landscape_cells(tmp_path_factory):
    out = tmp_path_factory.mktemp("landscape")
    summary = run_grid(TINY_LANDSCAPE, out, progress=False)
    assert summary.n_failed == 0
    return [read_cell(path) for path in sorted((out / "cells").glob("landscape-*.json"))]


def test_one_cell_per_architecture_with_the_grid_and_its_summaries(landscape_cells):
    assert sorted(r["settings"]["architecture"] for r in landscape_cells) == ["attention", "relu"]
    for record in landscape_cells:
        grid = [r for r in record["rows"] if r["metric"] == "loss"]
        steps = np.linspace(-0.5, 0.5, 5)
        assert sorted({r["d1_step"] for r in grid}) == pytest.approx(steps)
        assert sorted({r["d2_step"] for r in grid}) == pytest.approx(steps)
        assert len(grid) == 25
        summaries = {r["metric"]: r["value"] for r in record["rows"] if r["metric"] != "loss"}
        assert set(summaries) == set(SUMMARIES)
        centre = next(r["value"] for r in grid if r["d1_step"] == 0 and r["d2_step"] == 0)
        assert summaries["centre_loss"] == centre
        at_most = sum(r["value"] <= centre + 0.1 for r in grid)
        assert summaries["area_below"] == pytest.approx(at_most / 25)


def test_centre_is_the_log_loss_of_the_cells_network(landscape_cells):
    for record in landscape_cells:
        s = record["settings"]
        data = cell_data(s, None)
        model = make_model(s).fit(data["X"], data["y"])
        summaries = {r["metric"]: r["value"] for r in record["rows"]}
        # binary digits: MSE on ±1 targets, the classifier's default loss
        target = np.where(data["y"] == model.classes_[1], 1.0, -1.0)
        expected = np.mean((model.decision_function(data["X"]) - target) ** 2)
        assert summaries["centre_loss"] == pytest.approx(expected, rel=1e-5)


def test_quick_preset_has_a_small_landscape():
    config = load_config(quick=True)
    cells = [c for c in config.cells() if c.part == "landscape"]
    assert {c.settings["n_points"] for c in cells} == {9}
    assert len(cells) == 4  # 2 settings × 2 architectures × one seed
    assert {c.settings["seed"] for c in cells} <= {0, None}  # None: all of binary digits
    assert {c.settings["architecture"] for c in cells} == {"relu", "attention"}


@pytest.mark.parametrize("n_points", [4, 1, 2.0])
def test_an_even_grid_is_refused(n_points):
    with pytest.raises(ConfigError, match=r"landscape\.n_points"):
        load_config({"landscape": {"n_points": n_points}})
