"""Malleability as a curve (issue #7): ε and n sweeps, paired random baseline, ratio CIs,
attack diagnostics, ε units."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.pipeline import Pipeline

from sklearn_attnkernel.analysis import experiments
from sklearn_attnkernel.analysis.experiments import (
    ConfigError,
    load_config,
    run_experiment,
    run_task,
)
from sklearn_attnkernel.analysis.report import ratio_ci, sensitivity_sentences, sensitivity_tables

# one tiny malleability grid: digits 10-class, n = 80, width 32, 2 epochs, 2-step attacks
TINY = {
    "run": {"seeds": [0]},
    "data": {"settings": ["multiclass"], "n_train": [80], "n_test": 30},
    "training": {"epochs": 2},
    "kappa": {"enabled": False},
    "collapse": {"enabled": False},
    "ntk": {"enabled": False},
    "interventions": {"enabled": False},
    "malleability": {
        "widths": [32],
        "attacks": ["fgsm", "pgd", "mim", "random"],
        "epsilons": [0.0, 0.2],
        "steps": 2,
        "adversarial_training": [False],
    },
}


def _tasks(config):
    """The malleability tasks of a config: one list of cell settings per trained network."""
    cells = load_config(config).cells()
    return [[c.settings for c in cells] for _, cells in experiments._tasks(cells)]


def _rows(record):
    return {row["metric"]: row["value"] for row in record["rows"]}


@pytest.fixture(scope="module")
def tiny_records():
    records = []
    for task in _tasks(TINY):
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
    """The captured condition number equals the 1-norm condition number of K + αI."""
    from sklearn_attnkernel.ntk.empirical import empirical_ntk

    settings = next(
        r["settings"]
        for r in tiny_records
        if r["settings"]["architecture"] == "relu" and r["settings"]["epsilon"] == 0.0
    )
    data = experiments._cell_data(settings, None)
    model = experiments._make_model(settings).fit(data["X"], data["y"])
    influence = {"kernel": "empirical", "alpha": settings["alpha"], "loss": settings["loss"]}
    _, captured = experiments._scored(model, data["X_test"], data["y_test"], influence)
    final = model[-1]
    K = empirical_ntk(final, final.X_fit_) + settings["alpha"] * np.eye(final.X_fit_.shape[0])
    assert captured == pytest.approx(np.linalg.cond(K, 1), rel=1e-6)


# --------------------------------------------------------------------- the random baseline
def test_random_baseline_is_seeded_and_shared_by_both_architectures(monkeypatch):
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
        **TINY,
        "malleability": {**TINY["malleability"], "attacks": ["random"], "epsilons": [0.1]},
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
    y = first[0]["settings"] and experiments._cell_data(first[0]["settings"], None)["y"]
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
    eps_pixel = experiments._pixel_epsilon(model, eps_std, "standardized")
    assert eps_pixel == pytest.approx(eps_std * scale)
    assert experiments._pixel_epsilon(model, eps_std, "pixel") == eps_std
    rows = np.arange(10)
    for method in ("fgsm", "random"):
        X_adv = attack_training_points(
            model, X, y, rows, method=method, epsilon=eps_pixel, clip=None, random_state=0
        )
        delta = model[0].transform(X_adv[rows]) - model[0].transform(X[rows])
        moved = np.abs(delta[np.abs(delta) > 0])
        np.testing.assert_allclose(moved, eps_std, rtol=1e-5)


def test_standardized_and_pixel_runs_agree_for_a_deterministic_attack():
    """FGSM (no randomness) at ε_std in standardized units = FGSM at ε_std · std in pixels."""
    from sklearn_attnkernel.datasets.loaders import PIXEL_STATS

    eps_std = 0.3
    common = {**TINY["malleability"], "attacks": ["fgsm"], "architectures": ["relu"]}
    standard = {**TINY, "malleability": {**common, "epsilons": [eps_std]}}
    standard["malleability"]["epsilon_space"] = "standardized"
    pixel = {
        **TINY,
        "malleability": {**common, "epsilons": [eps_std * PIXEL_STATS["digits"][1]]},
    }
    (task_s,), (task_p,) = _tasks(standard), _tasks(pixel)
    (rec_s,) = run_task("malleability", task_s, {"root": None, "threads": 1})
    (rec_p,) = run_task("malleability", task_p, {"root": None, "threads": 1})
    assert rec_s["info"]["epsilon_pixel"] == pytest.approx(rec_p["info"]["epsilon_pixel"])
    assert _rows(rec_s) == pytest.approx(_rows(rec_p), rel=1e-9)


# ------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"malleability": {"epsilons": [0.01, 0.03, -0.05]}}, "malleability.epsilons[2]"),
        ({"malleability": {"n_train": []}}, "malleability.n_train"),
        ({"data": {"n_train": []}}, "data.n_train"),
        ({"malleability": {"epsilon_space": "std"}}, "malleability.epsilon_space"),
    ],
)
def test_bad_sweep_is_rejected_before_any_work(tmp_path, bad, key):
    out = tmp_path / "run"
    config = {**TINY, **{k: {**TINY.get(k, {}), **v} for k, v in bad.items()}}
    with pytest.raises(ConfigError) as info:
        run_experiment(config, out, progress=False)
    assert info.value.key == key
    assert not out.exists()


def test_default_sweeps():
    config = load_config()
    assert config["malleability"]["epsilons"] == [0.01, 0.03, 0.05, 0.1, 0.2, 0.3]
    assert config["malleability"]["epsilon_space"] == "pixel"
    assert config["data"]["n_train"] == [300, 1000, 2000]
    # digits has 1347 training images: 2000 means all of them, listed once
    sizes = {c.settings["n_train"] for c in config.cells() if c.part == "malleability"}
    assert sizes == {300, 1000, "all"}
    quick = load_config(quick=True)
    mal = [c.settings for c in quick.cells() if c.part == "malleability"]
    assert sorted({s["epsilon"] for s in mal}) == [0.03, 0.1, 0.3]
    assert {(s["setting"], s["n_train"]) for s in mal} == {("multiclass", 500), ("binary", "all")}


# ------------------------------------------------------------------------ ratio bootstrap
def test_ratio_ci_agrees_with_scipy_bootstrap():
    a = np.array([0.31, 0.22, 0.28, 0.35])
    b = np.array([0.04, 0.05, 0.02, 0.06])
    ratio, low, high, note = ratio_ci(a, b, n_resamples=2000, random_state=7)
    expected = stats.bootstrap(
        (a, b),
        lambda x, z: np.mean(x) / np.mean(z),
        paired=True,
        vectorized=False,
        n_resamples=2000,
        method="percentile",
        random_state=np.random.default_rng(7),
    ).confidence_interval
    assert ratio == pytest.approx(a.mean() / b.mean())
    assert (low, high) == pytest.approx((expected.low, expected.high), rel=1e-12)
    assert note == ""
    assert low < ratio < high


def test_ratio_ci_handles_zero_denominators_and_missing_seeds():
    ratio, low, high, note = ratio_ci([0.2, 0.1, 0.3], [0.0, 0.0, 0.0])
    assert math.isinf(ratio)
    assert math.isnan(low)
    assert math.isnan(high)
    assert "denominator is 0" in note
    ratio, low, high, note = ratio_ci([0.0, 0.0], [0.0, 0.0])
    assert math.isnan(ratio)
    assert "undefined" in note
    ratio, low, high, note = ratio_ci([0.2, 0.4, np.nan], [0.1, 0.1, 0.3])  # NaN pair dropped
    assert ratio == pytest.approx(3.0)
    assert "<= 0" not in note
    ratio, low, high, note = ratio_ci([0.2, 0.4, 0.3], [0.1, 0.0, 0.2])  # a zero in one seed
    assert ratio == pytest.approx(3.0)
    assert "<= 0" in note
    with pytest.raises(ValueError, match="paired"):
        ratio_ci([0.1, 0.2], [0.1])


# ------------------------------------------------------------------------ sensitivity tables
def _synthetic(values):
    """values[(architecture, attack, epsilon, n_train)] = per-seed flip rates."""
    rows = []
    for (arch, attack, eps, n), flips in values.items():
        for seed, value in enumerate(flips):
            rows.append(
                dict(
                    part="malleability",
                    dataset="mnist",
                    setting="multiclass",
                    n_train=n,
                    width=64,
                    adversarial_training=False,
                    epsilon_space="pixel",
                    epsilon=eps,
                    architecture=arch,
                    attack=attack,
                    seed=seed,
                    metric="flip_rate",
                    value=value,
                )
            )
    frame = pd.DataFrame(rows)
    frame["adversarial_training"] = frame["adversarial_training"].astype("boolean")
    return frame


def test_excess_and_ratio_are_paired_by_seed():
    relu_pgd, relu_rnd = [0.05, 0.02, 0.08], [0.01, 0.02, 0.03]
    attn_pgd, attn_rnd = [0.3, 0.5, 0.2], [0.1, 0.05, 0.0]
    frame = _synthetic(
        {
            ("relu", "pgd", 0.3, 300): relu_pgd,
            ("relu", "random", 0.3, 300): relu_rnd,
            ("attention", "pgd", 0.3, 300): attn_pgd,
            ("attention", "random", 0.3, 300): attn_rnd,
        }
    )
    tables = sensitivity_tables(frame)
    base = tables["baseline"].set_index("architecture")
    diff = np.subtract(attn_pgd, attn_rnd)
    # paired: the t-interval of the per-seed differences, not of the difference of means
    expected = stats.t.interval(0.95, 2, loc=diff.mean(), scale=stats.sem(diff))
    assert base.loc["attention", "excess_mean"] == pytest.approx(diff.mean())
    assert base.loc["attention", "excess_ci95"] == pytest.approx(diff.mean() - expected[0])
    assert base.loc["relu", "explained"] == pytest.approx(np.mean(relu_rnd) / np.mean(relu_pgd))
    ratio = tables["ratio"].set_index("attack")
    assert ratio.loc["pgd", "ratio"] == pytest.approx(np.mean(attn_pgd) / np.mean(relu_pgd))
    assert ratio.loc["pgd", "n"] == 3


def test_sentences_say_where_the_headline_ratio_holds():
    values = {}
    flips = {
        0.03: ([0.10, 0.11, 0.09], [0.12, 0.08, 0.11]),  # no gap: the CI holds 1
        0.3: ([0.036, 0.04, 0.044], [0.285, 0.30, 0.315]),  # 7.5×
    }
    for eps, (relu, attn) in flips.items():
        values[("relu", "pgd", eps, 300)] = relu
        values[("attention", "pgd", eps, 300)] = attn
        values[("relu", "random", eps, 300)] = [0.02, 0.02, 0.02]
        values[("attention", "random", eps, 300)] = [0.03, 0.03, 0.03]
    sentences = sensitivity_sentences(sensitivity_tables(_synthetic(values)))
    (headline,) = [s for s in sentences if s.startswith("mnist multiclass, PGD")]
    assert "reproduced at ε = 0.3 at n = 300" in headline
    assert "no clear gap (the CI includes 1) at ε = 0.03 at n = 300" in headline
    assert "pixel units" in headline
    baseline = [s for s in sentences if "2L-ReLU, PGD" in s]
    assert len(baseline) == 1
    assert "random ±ε baseline" in baseline[0]


def test_report_has_the_sensitivity_figures_and_section(tmp_path):
    config = {
        **TINY,
        "run": {"seeds": [0, 1]},
        "malleability": {
            **TINY["malleability"],
            "attacks": ["fgsm", "random"],
            "epsilons": [0.1, 0.3],
        },
        "data": {**TINY["data"], "n_train": [60, 80]},
    }
    summary = run_experiment(config, tmp_path, progress=False)
    assert summary.n_failed == 0
    names = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    for stem in (
        "flip_rate_vs_epsilon_digits_multiclass_n60_pixel",
        "spearman_vs_epsilon_digits_multiclass_n80_pixel",
        "ratio_vs_epsilon_digits_multiclass_pixel",
        "ratio_vs_n_digits_multiclass_pixel",
    ):
        assert stem in names
    text = summary.report.read_text()
    assert "Malleability as a curve" in text
    assert "What the measured cells say, in plain words" in text
    assert "Attack diagnostics on the top-k set" in text
    for name in ("sensitivity_baseline", "sensitivity_ratio", "sensitivity_diagnostics"):
        assert (tmp_path / "tables" / f"{name}.csv").is_file()


def test_condition_capture_does_not_leak_info_records():
    """Reading the condition number must not surface INFO records the user did not ask for:
    a root handler without a level of its own, under a WARNING root, sees none."""
    import logging

    from sklearn_attnkernel.influence.loo import loo_influence

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__()
            self.records = []

        def emit(self, record):
            self.records.append(record)

    root, collect = logging.getLogger(), Collect()
    level = root.level
    root.addHandler(collect)
    root.setLevel(logging.WARNING)
    try:
        K = np.eye(4) + 0.5
        with experiments._capture_condition() as conditions:
            loo_influence(K, np.ones(4), K[:2], np.ones(2), alpha=1e-3)
    finally:
        root.removeHandler(collect)
        root.setLevel(level)
    assert conditions == [pytest.approx(np.linalg.cond(K + 1e-3 * np.eye(4), 1))]
    assert not [r for r in collect.records if r.name == "sklearn_attnkernel.influence.loo"]
    target = logging.getLogger("sklearn_attnkernel.influence.loo")
    assert target.propagate
    assert not target.handlers


def test_missing_random_baseline_is_said_not_hidden():
    frame = _synthetic(
        {("relu", "pgd", 0.3, 300): [0.1, 0.2, 0.1], ("attention", "pgd", 0.3, 300): [0.3] * 3}
    )
    tables = sensitivity_tables(frame)
    assert tables["baseline"]["random_mean"].isna().all()
    assert tables["baseline"]["explained"].isna().all()
    assert any("No random ±ε baseline" in s for s in sensitivity_sentences(tables))
