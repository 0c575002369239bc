"""Malleability as a curve (issue #7): the ε and n sweeps of the config, ratio CIs, the
sensitivity tables and sentences, and the report's section."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_attnkernel.analysis import load_config, run_experiment
from sklearn_attnkernel.analysis.config import ConfigError
from sklearn_attnkernel.analysis.report import ratio_ci, sensitivity_sentences, sensitivity_tables


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
def test_bad_sweep_is_rejected_before_any_work(tmp_path, tiny_malleability, bad, key):
    out = tmp_path / "run"
    tiny = tiny_malleability
    config = {**tiny, **{k: {**tiny.get(k, {}), **v} for k, v in bad.items()}}
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


def test_report_has_the_sensitivity_figures_and_section(tmp_path, tiny_malleability):
    config = {
        **tiny_malleability,
        "run": {"seeds": [0, 1]},
        "malleability": {
            **tiny_malleability["malleability"],
            "attacks": ["fgsm", "random"],
            "epsilons": [0.1, 0.3],
        },
        "data": {**tiny_malleability["data"], "n_train": [60, 80]},
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
    assert "MLP-Attn / 2L-ReLU ratio of mean flip rates" in text
    assert "What the measured cells say, in plain words" in text
    assert "Attack diagnostics on the top-k set" in text
    for name in ("sensitivity_baseline", "sensitivity_ratio", "sensitivity_diagnostics"):
        assert (tmp_path / "tables" / f"{name}.csv").is_file()


def test_missing_random_baseline_is_said_not_hidden():
    frame = _synthetic(
        {("relu", "pgd", 0.3, 300): [0.1, 0.2, 0.1], ("attention", "pgd", 0.3, 300): [0.3] * 3}
    )
    tables = sensitivity_tables(frame)
    assert tables["baseline"]["random_mean"].isna().all()
    assert tables["baseline"]["explained"].isna().all()
    assert any("No random ±ε baseline" in s for s in sensitivity_sentences(tables))
