"""Tests for the ``malleability`` part (issue #7): ε = 0, attack diagnostics, the condition
number of the influence system, the paired random baseline and ε units."""

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from sklearn_attnkernel.analysis.config import load_config
from sklearn_attnkernel.analysis.data import cell_data
from sklearn_attnkernel.analysis.grid import group_tasks, run_task
from sklearn_attnkernel.analysis.parts.malleability import scored
from sklearn_attnkernel.analysis.parts.models import make_model, pixel_epsilon


def _tasks(config):
    """The malleability tasks of a config: one list of cell settings per trained network."""
    cells = load_config(config).cells()
    return [[c.settings for c in cells] for _, cells in group_tasks(cells)]


def _rows(record):
    return {row["metric"]: row["value"] for row in record["rows"]}


@pytest.fixture(scope="module")
def tiny_records(tiny_malleability):
    records = []
    for task in _tasks(tiny_malleability):
        records += run_task("malleability", task, {"root": None, "threads": 1})
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    return records


# ------------------------------------------------------------------------------------- ε = 0
def test_epsilon_zero_changes_nothing_for_every_attack(tiny_records):
    zero = [r for r in tiny_records if r["settings"]["epsilon"] == 0.0]
    seen = {(r["settings"]["architecture"], r["settings"]["attack"]) for r in zero}
    assert seen == {(a, m) for a in ("relu", "attention") for m in ("fgsm", "pgd", "mim", "random")}
    for record in zero:
        rows = _rows(record)
        assert rows["flip_rate"] == 0.0
        assert rows["spearman"] == pytest.approx(1.0, abs=1e-12)
        assert rows["top_k_stability"] == 1.0
        assert rows["linf_perturbation"] == 0.0
        # the diagnostics see the same network inputs and the same kernel system
        assert rows["top_correct_after"] == rows["top_correct_before"]
        assert rows["top_loss_after"] == pytest.approx(rows["top_loss_before"], rel=1e-9)
        assert rows["input_cosine"] == pytest.approx(1.0, abs=1e-12)
        assert rows["condition_after"] == pytest.approx(rows["condition_before"], rel=1e-8)


def test_attack_moves_the_diagnostics(tiny_records):
    """ε > 0: the ℓ∞ size is at most ε (ε for one-shot attacks), the inputs differ, and the
    condition numbers are finite."""
    for record in tiny_records:
        if record["settings"]["epsilon"] == 0.0:
            continue
        rows = _rows(record)
        if record["settings"]["attack"] in ("fgsm", "random"):
            assert rows["linf_perturbation"] == pytest.approx(0.2, abs=1e-6)
        else:  # 2 steps of 0.01 (PGD from a random start within ε)
            assert 0.0 < rows["linf_perturbation"] <= 0.2 + 1e-6
        assert rows["input_cosine"] < 1.0
        assert 1.0 <= rows["condition_before"] < 1e12
        assert 1.0 <= rows["condition_after"] < 1e12
        assert 0.0 <= rows["top_correct_after"] <= 1.0


def test_condition_number_is_the_one_of_the_influence_factorisation(tiny_records):
    """The recorded condition number is the (estimated) 1-norm condition number of K + αI."""
    from sklearn_attnkernel.ntk.empirical import empirical_ntk

    settings = next(
        r["settings"]
        for r in tiny_records
        if r["settings"]["architecture"] == "relu" and r["settings"]["epsilon"] == 0.0
    )
    data = cell_data(settings, None)
    model = make_model(settings).fit(data["X"], data["y"])
    influence = {"kernel": "empirical", "alpha": settings["alpha"], "loss": settings["loss"]}
    _, condition = scored(model, data["X_test"], data["y_test"], influence)
    final = model[-1]
    K = empirical_ntk(final, final.X_fit_) + settings["alpha"] * np.eye(final.X_fit_.shape[0])
    exact = np.linalg.cond(K, 1)  # loo_influence reports LAPACK's lower estimate of it (#16)
    assert exact / 2.0 <= condition <= exact * (1.0 + 1e-9)


# --------------------------------------------------------------------- the random baseline
def test_random_baseline_is_seeded_and_shared_by_both_architectures(monkeypatch, tiny_malleability):
    from sklearn_attnkernel.influence import training_attacks as attacks

    calls = []
    original = attacks.attack_training_points

    def recording(model, X, y, indices, **kwargs):
        X_adv = original(model, X, y, indices, **kwargs)
        calls.append(
            {
                "model": model,
                "X": X.copy(),
                "X_adv": X_adv,
                "indices": np.asarray(indices),
                **kwargs,
            }
        )
        return X_adv

    monkeypatch.setattr(attacks, "attack_training_points", recording)
    config = {
        **tiny_malleability,
        "malleability": {
            **tiny_malleability["malleability"],
            "attacks": ["random"],
            "epsilons": [0.1],
        },
    }
    first = [
        r
        for task in _tasks(config)
        for r in run_task("malleability", task, {"root": None, "threads": 1})
    ]
    by_arch = {}
    for call, record in zip(calls, first, strict=True):
        by_arch[record["settings"]["architecture"]] = call
    again = [
        r
        for task in _tasks(config)
        for r in run_task("malleability", task, {"root": None, "threads": 1})
    ]
    # deterministic under the seed: identical numbers on a second run
    assert [r["rows"] for r in first] == [r["rows"] for r in again]
    relu, attn = by_arch["relu"], by_arch["attention"]
    # the same seed goes to both architectures, and the same training rows
    assert relu["random_state"] == attn["random_state"]
    np.testing.assert_array_equal(relu["X"], attn["X"])
    # rows attacked in both networks' top-k sets get the same ±ε draw
    common = np.intersect1d(relu["indices"], attn["indices"])
    np.testing.assert_array_equal(relu["X_adv"][common], attn["X_adv"][common])
    # independent of the model: the same call with the other network gives the same matrix
    y = first[0]["settings"] and cell_data(first[0]["settings"], None)["y"]
    np.testing.assert_array_equal(
        original(attn["model"], relu["X"], y, relu["indices"], **_kw(relu)), relu["X_adv"]
    )
    # another replicate seed draws other signs
    other = {**config, "run": {"seeds": [1]}}
    calls.clear()
    for task in _tasks(other):
        run_task("malleability", task, {"root": None, "threads": 1})
    assert calls[0]["random_state"] != relu["random_state"]


def _kw(call):
    return {k: call[k] for k in ("method", "epsilon", "clip", "random_state")}


# ----------------------------------------------------------------------------- ε units
def test_standardized_epsilon_is_pixel_epsilon_times_the_std():
    """On a pipeline whose only preprocessing is the mean/std step, an attack of ε in
    standardized units moves the network's inputs by exactly ε (ℓ∞), i.e. ε · std pixels."""
    from sklearn_attnkernel import TwoLayerReLUClassifier, dataset_standardizer, load_dataset
    from sklearn_attnkernel.influence.training_attacks import attack_training_points

    X, y = load_dataset("digits", split="train")
    X, y = X[:60], y[:60]
    model = Pipeline(
        [
            ("standardize", dataset_standardizer("digits", normalize_rows=False)),
            ("net", TwoLayerReLUClassifier(width=16, max_epochs=1, random_state=0, device="cpu")),
        ]
    ).fit(X, y)
    scale = model[0].scale_
    eps_std = 0.25
    eps_pixel = pixel_epsilon(model, eps_std, "standardized")
    assert eps_pixel == pytest.approx(eps_std * scale)
    assert pixel_epsilon(model, eps_std, "pixel") == eps_std
    rows = np.arange(10)
    for method in ("fgsm", "random"):
        X_adv = attack_training_points(
            model, X, y, rows, method=method, epsilon=eps_pixel, clip=None, random_state=0
        )
        delta = model[0].transform(X_adv[rows]) - model[0].transform(X[rows])
        moved = np.abs(delta[np.abs(delta) > 0])
        np.testing.assert_allclose(moved, eps_std, rtol=1e-5)


def test_standardized_and_pixel_runs_agree_for_a_deterministic_attack(tiny_malleability):
    """FGSM (no randomness) at ε_std in standardized units = FGSM at ε_std · std in pixels."""
    from sklearn_attnkernel.datasets.loaders import PIXEL_STATS

    eps_std = 0.3
    common = {**tiny_malleability["malleability"], "attacks": ["fgsm"], "architectures": ["relu"]}
    standard = {**tiny_malleability, "malleability": {**common, "epsilons": [eps_std]}}
    standard["malleability"]["epsilon_space"] = "standardized"
    pixel = {
        **tiny_malleability,
        "malleability": {**common, "epsilons": [eps_std * PIXEL_STATS["digits"][1]]},
    }
    (task_s,), (task_p,) = _tasks(standard), _tasks(pixel)
    (rec_s,) = run_task("malleability", task_s, {"root": None, "threads": 1})
    (rec_p,) = run_task("malleability", task_p, {"root": None, "threads": 1})
    assert rec_s["info"]["epsilon_pixel"] == pytest.approx(rec_p["info"]["epsilon_pixel"])
    assert _rows(rec_s) == pytest.approx(_rows(rec_p), rel=1e-9)


# ------------------------------------------------------------------ how well the network fits
def test_each_cell_records_the_networks_fit_of_its_training_set(tiny_malleability, tiny_records):
    """train_accuracy is the refitted pipeline's accuracy on the cell's training data (same
    seed, same settings), chance_accuracy the majority-class share of its labels."""
    from sklearn.metrics import accuracy_score

    task = _tasks(tiny_malleability)[0]
    s = task[0]
    data = cell_data(s, None)
    model = make_model(s).fit(data["X"], data["y"])
    record = next(r for r in tiny_records if r["settings"] == s)
    rows = _rows(record)
    expected = accuracy_score(data["y"], model.predict(data["X"]))
    assert rows["train_accuracy"] == pytest.approx(expected, abs=1e-12)
    _, counts = np.unique(data["y"], return_counts=True)
    assert rows["chance_accuracy"] == counts.max() / counts.sum()
    assert rows["train_loss"] > 0
    # 2 epochs cannot show 10 epochs without improvement: never counted as converged
    assert rows["converged"] == 0.0
    for other in tiny_records:  # every cell of a task shares its network's fit
        if other["settings"]["architecture"] == s["architecture"]:
            assert _rows(other)["train_accuracy"] == rows["train_accuracy"]


# ------------------------------------------------------------ the influence backend (#16)
def test_dask_backend_gives_the_same_cells_and_keys(tiny_malleability):
    """``malleability.backend`` changes how the influence is factorised, not the numbers, and
    not the cells' keys (a run resumes whichever backend computed its cells)."""
    common = {**tiny_malleability["malleability"], "attacks": ["fgsm"], "architectures": ["relu"]}
    config = {**tiny_malleability, "malleability": {**common, "epsilons": [0.2]}}
    blocked = {**config, "malleability": {**config["malleability"], "backend": "dask"}}
    blocked["malleability"]["chunk_size"] = 32
    assert [c.key for c in load_config(blocked).cells()] == [
        c.key for c in load_config(config).cells()
    ]
    (task,) = _tasks(config)
    (reference,) = run_task("malleability", task, {"root": None, "threads": 1})
    context = {"root": None, "threads": 1, "influence": {"backend": "dask", "chunk_size": 32}}
    (record,) = run_task("malleability", task, context)
    assert record["status"] == "ok", record["error"]
    assert _rows(record) == pytest.approx(_rows(reference), rel=1e-8, abs=1e-12)
