"""Tests for the expansion of a config into cells: axes, sizes, keys independent of order."""

from sklearn_attnkernel.analysis.cells import Cell
from sklearn_attnkernel.analysis.config import load_config
from sklearn_attnkernel.analysis.grid import group_tasks
from sklearn_attnkernel.analysis.store import cell_key


def test_epsilon_and_n_grids_are_axes(tiny_grid):
    config = load_config(
        {
            **tiny_grid,
            "data": {**tiny_grid["data"], "n_train": [60, 120]},
            "malleability": {**tiny_grid["malleability"], "epsilons": [0.0, 0.1, 0.3]},
        }
    )
    cells = [c for c in config.cells() if c.part == "malleability"]
    grid = {(c.settings["n_train"], c.settings["epsilon"]) for c in cells}
    assert grid == {(n, e) for n in (60, 120) for e in (0.0, 0.1, 0.3)}
    # 2 n × 2 architectures share one fit per (n, architecture): 4 tasks for 24 cells
    assert len(group_tasks(cells)) == 4
    assert len(cells) == 2 * 2 * 2 * 3


def test_n_train_beyond_the_split_becomes_all(tiny_grid):
    config = load_config(
        {**tiny_grid, "data": {**tiny_grid["data"], "n_train": [100, 5000, "all"]}}
    )
    sizes = {c.settings["n_train"] for c in config.cells() if c.part == "malleability"}
    assert sizes == {100, "all"}  # 5000 > the 268 binary digits: the same cells as "all"


def test_keys_do_not_depend_on_the_order_of_the_axes(tiny_grid):
    cells = load_config(tiny_grid).cells()
    shuffled = load_config(
        {
            **tiny_grid,
            "malleability": {**tiny_grid["malleability"], "architectures": ["attention", "relu"]},
        }
    ).cells()
    assert {c.key for c in cells} == {c.key for c in shuffled}
    assert len(cells) == 14


def test_cell_key_and_group_key():
    a = Cell("malleability", {"part": "malleability", "attack": "pgd", "w": 1}, group=("attack",))
    b = Cell("malleability", {"part": "malleability", "attack": "fgsm", "w": 1}, group=("attack",))
    assert a.key == cell_key(a.settings) != b.key
    assert a.group_key == b.group_key == cell_key({"part": "malleability", "w": 1})
    assert a.filename == f"malleability-{a.key[:16]}.json"
