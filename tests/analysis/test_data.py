"""Tests for a cell's data: seeded subsets shared by the architectures, disjoint test points."""

import numpy as np

from sklearn_attnkernel.analysis.config import load_config
from sklearn_attnkernel.analysis.data import cell_data
from sklearn_attnkernel.analysis.parts.models import attack_seed


def _malleability_settings(config, architecture):
    return next(
        c.settings
        for c in config.cells()
        if c.part == "malleability" and c.settings["architecture"] == architecture
    )


def test_both_architectures_see_the_same_data_and_draws(tiny_grid):
    config = load_config(tiny_grid)
    relu, attn = (_malleability_settings(config, arch) for arch in ("relu", "attention"))
    a, b = cell_data(relu, None), cell_data(attn, None)
    np.testing.assert_array_equal(a["X"], b["X"])
    np.testing.assert_array_equal(a["X_test"], b["X_test"])
    assert attack_seed(relu, "random", 0.1) == attack_seed(attn, "random", 0.1)
    other_seed = cell_data({**relu, "seed": 1}, None)
    assert not np.array_equal(other_seed["X"], a["X"])


def test_train_and_test_from_one_split_are_disjoint(tiny_grid):
    config = load_config(
        {**tiny_grid, "data": {**tiny_grid["data"], "train_split": "all", "test_split": "all"}}
    )
    data = cell_data(_malleability_settings(config, "relu"), None)
    train = {row.tobytes() for row in data["X"]}
    assert len(data["X"]) == 120
    assert len(data["X_test"]) == 40
    assert not train & {row.tobytes() for row in data["X_test"]}
