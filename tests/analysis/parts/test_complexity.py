"""Tests for the ``complexity`` part (issue #13, item 1): rows for every architecture and
kernel, and the recorded numbers against a direct computation on the same network."""

import numpy as np
import pytest

from sklearn_attnkernel.analysis.config import ConfigError, load_config
from sklearn_attnkernel.analysis.data import cell_data
from sklearn_attnkernel.analysis.grid import group_tasks, run_task
from sklearn_attnkernel.analysis.parts.models import make_model

TINY_COMPLEXITY = {
    "run": {"seeds": [0]},
    "data": {"settings": ["multiclass"], "n_train": [80], "n_test": 30},
    "training": {"stopping": "fixed", "epochs": 5, "lr": 0.01},
    "kappa": {"enabled": False},
    "collapse": {"enabled": False},
    "ntk": {"enabled": False},
    "malleability": {"enabled": False},
    "interventions": {"enabled": False},
    "examples": {"enabled": False},
    "complexity": {"n_train": [80], "width": 32, "steps": 2, "epsilon": 0.2},
}


@pytest.fixture(scope="module")
def records():
    cells = load_config(TINY_COMPLEXITY).cells()
    tasks = group_tasks(cells)
    assert len(tasks) == 2  # one trained network per architecture, both kernels in its task
    out = []
    for _, task in tasks:
        out += run_task("complexity", [c.settings for c in task], {"root": None, "threads": 1})
    assert all(r["status"] == "ok" for r in out), [r["error"] for r in out]
    return out


def _by_group(record, metric):
    rows = [r for r in record["rows"] if r["metric"] == metric]
    return np.array([r["value"] for r in sorted(rows, key=lambda r: r["group"])])


def test_rows_for_both_architectures_and_kernels(records):
    seen = {(r["settings"]["architecture"], r["settings"]["kernel"]) for r in records}
    assert seen == {(a, k) for a in ("relu", "attention") for k in ("empirical", "infinite")}
    for record in records:
        for metric in ("contribution_share", "leave_out_change", "flip_rate", "mean_score"):
            groups = [r["group"] for r in record["rows"] if r["metric"] == metric]
            assert groups == list(range(1, 11))
        assert _by_group(record, "contribution_share").sum() == pytest.approx(1.0, rel=1e-9)
        flips = _by_group(record, "flip_rate")
        assert ((flips >= 0) & (flips <= 1)).all()
        # groups hold 8 points each: the overall rate is the mean of the group rates
        overall = next(r["value"] for r in record["rows"] if r["metric"] == "flip_rate_all")
        assert flips.mean() == pytest.approx(overall, rel=1e-12)
        scores = _by_group(record, "mean_score")
        assert (np.diff(scores) >= 0).all()  # group 1 most harmful, group 10 most helpful
        assert (_by_group(record, "leave_out_change") >= -1.0).all()


def test_recorded_complexity_equals_a_direct_computation(records):
    """Retrain the 2L-ReLU network (same seed), score it, group by sorting, and compute the
    shares and one leave-group-out change with numpy's solver on the infinite-width NTK."""
    from sklearn_attnkernel import infinite_width_ntk
    from sklearn_attnkernel.influence.estimators import influence_scores, split_network

    record = next(
        r
        for r in records
        if r["settings"]["architecture"] == "relu" and r["settings"]["kernel"] == "infinite"
    )
    s = record["settings"]
    data = cell_data(s, None)
    model = make_model(s).fit(data["X"], data["y"])
    scores = influence_scores(
        model, data["X_test"], data["y_test"], kernel="infinite", alpha=s["alpha"]
    )
    _, final = split_network(model)
    F = np.asarray(final.X_fit_, dtype=np.float64)
    K = infinite_width_ntk(F, train_readout=bool(final.net_.module_.train_readout))
    Y = final.encode_targets(final.y_fit_)
    system = K + s["alpha"] * np.eye(K.shape[0])
    beta = np.linalg.solve(system, Y)
    contributions = np.sum(beta * (K @ beta), axis=1)
    norm = contributions.sum()
    deciles = np.argsort(scores, kind="stable").reshape(10, -1)  # 80 points: 8 per group
    shares = np.array([contributions[members].sum() / norm for members in deciles])
    np.testing.assert_allclose(_by_group(record, "contribution_share"), shares, atol=1e-6)
    rest = np.setdiff1d(np.arange(K.shape[0]), deciles[-1])
    refit = np.linalg.solve(system[np.ix_(rest, rest)], Y[rest])
    change = (np.sum(refit * (K[np.ix_(rest, rest)] @ refit)) - norm) / norm
    assert _by_group(record, "leave_out_change")[-1] == pytest.approx(change, abs=1e-6)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"kernels": ["ntk"]}, "complexity.kernels[0]"),
        ({"n_groups": 0}, "complexity.n_groups"),
        ({"width": [64]}, "complexity.width"),
        ({"attack": "cw"}, "complexity.attack"),
    ],
)
def test_bad_config_names_the_key(table, key):
    with pytest.raises(ConfigError) as info:
        load_config({"complexity": table})
    assert info.value.key == key
