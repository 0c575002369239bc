"""Tests for NTK distances, the function-space distance and the width sweep."""

import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, normalize

from sklearn_attnkernel import (
    LinearizedAttention,
    TwoLayerReLU,
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
    empirical_ntk,
    function_space_distance,
    infinite_width_ntk,
    ntk_distance,
    ntk_width_sweep,
)
from sklearn_attnkernel.ntk.metrics import ZeroKernelError
from tests.conftest import COLUMN_ORDER_MESSAGE, frames


def _readonly(A):
    A = np.array(A)
    A.flags.writeable = False
    return A


def _digits(n, n_classes=10):
    X, y = load_digits(return_X_y=True)
    keep = y < n_classes
    return _readonly(X[keep][:n] / 16.0), _readonly(y[keep][:n])


def _hand_krr(K_train, targets, K_eval, alpha):
    """Kernel ridge regression written out: (K + αI)⁻¹ T, then K_eval α."""
    coef = np.linalg.solve(K_train + alpha * np.eye(len(K_train)), targets)
    return K_eval @ coef


def _hand_forward(W, A, Z):
    return np.maximum(Z @ W.T, 0) @ A / np.sqrt(W.shape[0])


# ----------------------------------------------------------------------------- ntk_distance
def test_ntk_distance_formulas():
    rng = np.random.default_rng(0)
    B = rng.normal(size=(6, 6))
    K_inf = _readonly(B @ B.T)
    K_m = _readonly(K_inf + 0.1 * rng.normal(size=(6, 6)))
    expected = np.sqrt(((K_m - K_inf) ** 2).sum() / (K_inf**2).sum())
    assert ntk_distance(K_m, K_inf) == pytest.approx(expected, rel=1e-12)
    cos = (K_m * K_inf).sum() / np.sqrt((K_m**2).sum() * (K_inf**2).sum())
    assert ntk_distance(K_m, K_inf, metric="cosine") == pytest.approx(1 - cos, rel=1e-10)
    # cosine ignores scale, Frobenius does not
    assert ntk_distance(5 * K_m, K_inf, metric="cosine") == pytest.approx(1 - cos, rel=1e-10)
    assert ntk_distance(2 * K_inf, K_inf) == pytest.approx(1.0)
    assert ntk_distance(K_inf, K_inf) == 0.0
    assert ntk_distance(-K_inf, K_inf, metric="cosine") == pytest.approx(2.0)


def test_ntk_distance_bad_input():
    K = np.eye(3)
    with pytest.raises(ValueError, match="shape"):
        ntk_distance(K, np.eye(4))
    with pytest.raises(ZeroKernelError, match="exactly zero"):
        ntk_distance(K, np.zeros((3, 3)))
    with pytest.raises(ZeroKernelError, match="exactly zero"):
        ntk_distance(np.zeros((3, 3)), K, metric="cosine")
    with pytest.raises(ValueError, match="metric"):
        ntk_distance(K, K, metric="spectral")


# ----------------------------------------------------------------- function_space_distance
@pytest.mark.parametrize("train_readout", [False, True])
def test_function_space_distance_bare_module_against_hand_krr(train_readout):
    rng = np.random.default_rng(1)
    X, X_eval = _readonly(rng.normal(size=(15, 4))), _readonly(rng.normal(size=(6, 4)))
    targets = _readonly(rng.normal(size=(15, 2)))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = TwoLayerReLU(4, 32, 2, sigma_w=1.5, train_readout=train_readout)
    params = {"train_readout": train_readout, "sigma_w": 1.5}
    f_ntk = _hand_krr(
        infinite_width_ntk(X, **params), targets, infinite_width_ntk(X_eval, X, **params), 0.01
    )
    f_m = _hand_forward(net.W.detach().double().numpy(), net.A.detach().double().numpy(), X_eval)
    expected = np.sqrt(((f_m - f_ntk) ** 2).sum())
    got = function_space_distance(net, X, targets, X_eval, alpha=0.01)
    assert got == pytest.approx(expected, rel=1e-9)
    relative = function_space_distance(net, X, targets, X_eval, alpha=0.01, normalize=True)
    assert relative == pytest.approx(expected / np.linalg.norm(f_ntk), rel=1e-9)
    with pytest.raises(ValueError, match="target column"):
        function_space_distance(net, X, targets[:, 0], X_eval)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_function_space_distance_fitted_pipeline_against_hand_krr(n_classes):
    X, y = _digits(60, n_classes)
    X_eval = X[::3]
    clf = TwoLayerReLUClassifier(width=32, max_epochs=3, lr=1e-2, device="cpu", random_state=0)
    model = Pipeline(
        [("normalize", Normalizer()), ("attention", LinearizedAttention()), ("mlp", clf)]
    ).fit(X, y)
    # independent features, targets and forward pass
    ref = normalize(X)
    C = ref.T @ ref
    Z, Z_eval = normalize(ref @ C), normalize(normalize(X_eval) @ C)
    if n_classes == 2:
        targets = np.where(y == clf.classes_[1], 1.0, -1.0)[:, None]
    else:
        targets = np.eye(n_classes)[np.searchsorted(clf.classes_, y)]
    module = model[-1].net_.module_
    f_ntk = _hand_krr(infinite_width_ntk(Z), targets, infinite_width_ntk(Z_eval, Z), 1e-3)
    W, A = module.W.detach().double().numpy(), module.A.detach().double().numpy()
    expected = np.linalg.norm(_hand_forward(W, A, Z_eval) - f_ntk)
    got = function_space_distance(model, X, y, X_eval)
    # the features are float64 in both; the KRR solve on collapsed attention features is
    # ill-conditioned, so allow its round-off
    assert got == pytest.approx(expected, rel=1e-6)
    # the network's outputs are its decision_function (float32 there)
    np.testing.assert_allclose(
        _hand_forward(W, A, Z_eval).reshape(len(X_eval), -1),
        np.asarray(model.decision_function(X_eval)).reshape(len(X_eval), -1),
        rtol=1e-4,
        atol=1e-5,
    )


def test_function_space_distance_regressor_uses_encoded_targets():
    rng = np.random.default_rng(2)
    X = _readonly(normalize(rng.normal(size=(30, 5))))
    y = _readonly(rng.normal(size=30))
    reg = TwoLayerReLURegressor(
        width=16, max_epochs=2, dtype="float64", device="cpu", random_state=0
    ).fit(X, y)
    targets = reg.encode_targets(y)
    module = reg.net_.module_
    f_ntk = _hand_krr(infinite_width_ntk(X), targets, infinite_width_ntk(X), 1e-3)
    expected = np.linalg.norm(reg.predict(X).reshape(30, -1) - f_ntk)
    assert function_space_distance(reg, X, y, X) == pytest.approx(expected, rel=1e-8)
    assert function_space_distance(module, X, targets, X) == pytest.approx(expected, rel=1e-8)


def test_function_space_distance_bad_input():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 3))
    with pytest.raises(TypeError, match="TwoLayerReLU"):
        function_space_distance(torch.nn.Linear(3, 1), X, np.ones(5), X)
    with pytest.raises(ValueError, match="inconsistent"):
        function_space_distance(TwoLayerReLU(3, 4), X, np.ones(4), X)
    with pytest.raises(ValueError, match="expects 3"):
        function_space_distance(TwoLayerReLU(3, 4), X[:, :2], np.ones(5), X[:, :2])
    with pytest.raises(ValueError, match="alpha"):
        function_space_distance(TwoLayerReLU(3, 4), X, np.ones(5), X, alpha=-1.0)


# ------------------------------------------------------------------------ ntk_width_sweep
@pytest.fixture
def tiny():
    X, y = _digits(40, 3)
    return X, y


_FAST = {"max_epochs": 2, "lr": 1e-2, "batch_size": 16, "device": "cpu", "dtype": "float64"}


def test_sweep_frame_and_values(tiny):
    pytest.importorskip("sklearn_attnkernel.networks.pipelines")
    from sklearn_attnkernel import make_two_layer_relu

    X, y = tiny
    X_eval = X[:10]
    table = ntk_width_sweep("relu", X, y, widths=[8, 32], seeds=[0, 1], X_eval=X_eval, **_FAST)
    assert list(table.columns) == ["architecture", "width", "seed", "stage", "metric", "value"]
    assert len(table) == 2 * 2 * 2 * 3
    assert table["width"].dtype == np.int64
    assert table["seed"].dtype == np.int64
    assert table["value"].dtype == np.float64
    assert np.isfinite(table["value"]).all()
    assert set(table["architecture"]) == {"relu"}
    first = table.iloc[:6]
    assert first[["width", "seed"]].drop_duplicates().values.tolist() == [[8, 0]]
    assert first["stage"].tolist() == ["init"] * 3 + ["trained"] * 3
    assert first["metric"].tolist() == ["frobenius", "cosine", "function"] * 2

    # one cell recomputed independently, from the fitted pipeline's own weights
    model = make_two_layer_relu(width=32, random_state=1, **_FAST).fit(X, y)
    Z = normalize(X)
    K_inf = infinite_width_ntk(Z)
    W0 = model[-1].initial_params_["W"].double().numpy()
    S = (Z @ W0.T > 0).astype(float)
    K_0 = (Z @ Z.T) * (S @ S.T) / 32
    cell = table.set_index(["width", "seed", "stage", "metric"])["value"]
    expected = np.linalg.norm(K_0 - K_inf) / np.linalg.norm(K_inf)
    assert cell[(32, 1, "init", "frobenius")] == pytest.approx(expected, rel=1e-9)
    K_t = empirical_ntk(model, X)
    assert cell[(32, 1, "trained", "cosine")] == pytest.approx(
        ntk_distance(K_t, K_inf, metric="cosine"), rel=1e-9
    )
    assert cell[(32, 1, "trained", "function")] == pytest.approx(
        function_space_distance(model, X, y, X_eval), rel=1e-9
    )
    # training moved the kernel: init and trained rows differ
    assert cell[(32, 1, "init", "frobenius")] != cell[(32, 1, "trained", "frobenius")]


def test_sweep_parallel_equals_serial(tiny):
    pytest.importorskip("sklearn_attnkernel.networks.pipelines")
    X, y = tiny
    kwargs = {"widths": [8, 16], "seeds": [0, 1], "metrics": ["frobenius", "function"], **_FAST}
    serial = ntk_width_sweep("attention", X, y, n_jobs=1, **kwargs)
    parallel = ntk_width_sweep("attention", X, y, n_jobs=2, **kwargs)
    pd.testing.assert_frame_equal(serial, parallel)


def test_sweep_init_only_skips_training(tiny):
    pytest.importorskip("sklearn_attnkernel.networks.pipelines")
    X, y = tiny
    table = ntk_width_sweep(
        "softmax", X, y, widths=[8], seeds=[3], stages=["init"], metrics=["cosine"], **_FAST
    )
    assert table[["architecture", "width", "seed", "stage", "metric"]].values.tolist() == [
        ["softmax", 8, 3, "init", "cosine"]
    ]
    assert 0.0 <= table["value"].iloc[0] <= 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"architecture": "transformer"}, "architecture"),
        ({"widths": [16, 0]}, "widths"),
        ({"widths": []}, "widths"),
        ({"widths": [16, 16]}, "duplicates"),
        ({"seeds": [-1]}, "seeds"),
        ({"stages": ["init", "final"]}, "stages"),
        ({"metrics": ["l1"]}, "metrics"),
        ({"width": 8}, "width"),
        ({"attention": "linear"}, "attention"),
        ({"X_eval": np.ones((2, 5))}, "X_eval"),
        ({"widths": 16}, "widths must be a non-empty sequence"),
        ({"widths": [2.5]}, "widths must hold integers"),
        ({"widths": [True]}, "widths must hold integers"),
        ({"seeds": [0.5]}, "seeds must hold integers"),
        ({"seeds": [True]}, "seeds must hold integers"),
        ({"y": np.zeros(3)}, "inconsistent numbers of samples"),
        ({"X": np.full((40, 64), "a")}, "string to float"),
        ({"X_eval": np.full((2, 64), "a")}, "string to float"),
        ({"random_state": 0}, "random_state"),
        ({"lr": -1.0}, "lr"),
        ({"architecture": "attention", "lr": -1.0}, "lr"),
    ],
)
def test_sweep_rejects_bad_arguments_before_any_fit(tiny, kwargs, match, monkeypatch):
    module = sys.modules[ntk_width_sweep.__module__]

    def fail(*args, **kw):  # pragma: no cover - reaching it is the failure
        raise AssertionError("a model was fitted before validation failed")

    monkeypatch.setattr(module, "_sweep_one", fail)
    X, y = tiny
    arguments = {"architecture": "relu", "X": X, "y": y, **kwargs}
    with pytest.raises(ValueError, match=match):
        ntk_width_sweep(
            arguments.pop("architecture"), arguments.pop("X"), arguments.pop("y"), **arguments
        )


def test_sweep_accepts_width_one(tiny):
    X, y = tiny
    table = ntk_width_sweep(
        "relu", X, y, widths=[1], seeds=[0], stages=["init"], metrics=["frobenius"], **_FAST
    )
    assert table["width"].tolist() == [1]
    assert np.isfinite(table["value"]).all()


def test_sweep_softmax_architecture_uses_softmax_attention_features(tiny):
    pytest.importorskip("sklearn_attnkernel.networks.pipelines")
    from sklearn_attnkernel import make_mlp_attn

    X, y = tiny
    params = {**_FAST, "train_readout": True}
    table = ntk_width_sweep(
        "softmax", X, y, widths=[8], seeds=[2], stages=["init"], metrics=["frobenius"], **params
    )
    # the network's input features written out: row-normalise, softmax attention at τ = √d
    # over the training rows, row-normalise again
    X_n = normalize(X)
    scores = X_n @ X_n.T / np.sqrt(X.shape[1])
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    Z = normalize((weights / weights.sum(axis=1, keepdims=True)) @ X_n)
    # Θ at initialisation with a trained readout: the W part plus the relu(Z W₀ᵀ) part
    model = make_mlp_attn(attention="softmax", width=8, random_state=2, **params).fit(X, y)
    W0 = model[-1].initial_params_["W"].double().numpy()
    H = Z @ W0.T
    K_0 = (
        (Z @ Z.T) * ((H > 0).astype(float) @ (H > 0).T) + np.maximum(H, 0) @ np.maximum(H, 0).T
    ) / 8
    K_inf = infinite_width_ntk(Z, train_readout=True)
    expected = np.linalg.norm(K_0 - K_inf) / np.linalg.norm(K_inf)
    assert table["value"].iloc[0] == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------------------ scale (#11)
@pytest.mark.parametrize(("e_m", "e_inf"), [(-1000, 0), (900, -900), (5, 5)])
def test_cosine_distance_is_bit_invariant_to_power_of_two_scales(e_m, e_inf):
    rng = np.random.default_rng(4)
    K_m, K_inf = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    expected = ntk_distance(K_m, K_inf, metric="cosine")
    scaled = ntk_distance(np.ldexp(K_m, e_m), np.ldexp(K_inf, e_inf), metric="cosine")
    assert scaled == expected


@pytest.mark.parametrize("factor", [1e-300, 1e-200, 1e200, 1e300])
def test_distances_are_invariant_to_any_common_scale(factor):
    rng = np.random.default_rng(5)
    K_m, K_inf = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    # independent: the definitions, on the unscaled kernels
    frobenius = np.sqrt(((K_m - K_inf) ** 2).sum() / (K_inf**2).sum())
    cosine = 1 - (K_m * K_inf).sum() / np.sqrt((K_m**2).sum() * (K_inf**2).sum())
    got = ntk_distance(K_m * factor, K_inf * factor)
    np.testing.assert_allclose(got, frobenius, rtol=1e-12)
    got_cos = ntk_distance(K_m * factor, K_inf, metric="cosine")
    np.testing.assert_allclose(got_cos, cosine, rtol=1e-12)


@pytest.mark.parametrize("exponent", [-500, -300, 300, 500])
def test_empirical_ntk_analytic_shifts_exactly_with_power_of_two_scale(exponent):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(7, 3))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = TwoLayerReLU(3, 64, 1, train_readout=True)
    expected = empirical_ntk(net, X, method="analytic")
    K = empirical_ntk(net, np.ldexp(X, exponent), method="analytic")
    # homogeneous of degree 2 in the inputs, patterns unchanged: exactly 2^(2·exponent)
    np.testing.assert_array_equal(K, np.ldexp(expected, 2 * exponent))


def test_empirical_ntk_overflow_is_named():
    X = np.random.default_rng(7).normal(size=(5, 3))
    net = TwoLayerReLU(3, 16, 1)
    with pytest.raises(ValueError, match=r"kernel overflows float64.*rescale X"):
        empirical_ntk(net, X * 1e200, method="analytic")
    with pytest.raises(ValueError, match=r"not finite.*overflowed float64"):
        empirical_ntk(net, X * 1e200, method="jacobian")


def test_function_space_distance_names_overflow_at_large_scale():
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    net = TwoLayerReLU(3, 16, 1)
    with pytest.raises(ValueError, match="overflows float64"):
        function_space_distance(net, X * 1e200, y, X * 1e200)


@pytest.mark.parametrize("pipeline", [False, True])
def test_function_space_distance_checks_the_column_order(pipeline):
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(20, 4))
    y = np.arange(20) % 2
    df, permuted = frames(X)
    net = TwoLayerReLUClassifier(
        width=16, max_epochs=2, dtype="float64", device="cpu", random_state=0
    )
    model = Pipeline([("norm", Normalizer()), ("net", net)]) if pipeline else net
    model.fit(df, y)
    for X_train, X_eval, name in ((permuted, df, "X_train"), (df, permuted, "X_eval")):
        with pytest.raises(ValueError, match=f"(?s){name}: .*{COLUMN_ORDER_MESSAGE}"):
            function_space_distance(model, X_train, y, X_eval)
    # in the fitted order: the distance of the same rows as arrays (which draw sklearn's
    # warning, as predict does), exactly
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        expected = function_space_distance(model, X, y, X)
    assert function_space_distance(model, df, y, df) == expected


def test_sweep_passes_n_jobs_to_joblib(tiny, monkeypatch):
    import joblib

    module = sys.modules[ntk_width_sweep.__module__]
    asked = []

    def recording_parallel(n_jobs=None, **kwargs):
        asked.append(n_jobs)
        return joblib.Parallel(n_jobs=1, **kwargs)

    monkeypatch.setattr(module, "Parallel", recording_parallel)
    X, y = tiny
    ntk_width_sweep(
        "relu", X, y, widths=[4], seeds=[0], stages=["init"], metrics=["cosine"], n_jobs=3, **_FAST
    )
    assert asked == [3]


def test_cosine_distance_to_a_kernel_of_norm_one():
    K_inf = _readonly(np.eye(4) / 2)  # ‖K_inf‖_F = 1 exactly
    K_m = _readonly(np.diag([1.0, 1.0, 1.0, 0.0]))
    expected = 1 - 1.5 / (np.sqrt(3.0) * 1.0)  # ⟨K_m, K_inf⟩ = 3/2, ‖K_m‖ = √3
    assert ntk_distance(K_m, K_inf, metric="cosine") == pytest.approx(expected, rel=1e-14)
    assert ntk_distance(K_m, K_inf) == pytest.approx(np.sqrt(3 * 0.25 + 0.25), rel=1e-14)


@pytest.mark.filterwarnings("error")
def test_output_distance_overflow_is_one_error_and_no_warning():
    """Overflows are named by a ValueError, with no RuntimeWarning before it (private helper)."""
    from sklearn_attnkernel.ntk.metrics import _distance

    with pytest.raises(ValueError, match="f_m − f_NTK overflows"):  # 1e308 − (−1e308)
        _distance(np.array([1e308]), np.array([-1e308]), False)
    with pytest.raises(ValueError, match="‖f_m − f_NTK‖ overflows"):  # √2 · 1.5e308 > max
        _distance(np.array([1.5e308, 1.5e308]), np.zeros(2), False)
    # the relative distance 1e300 / 1e-300 = 1e600 is beyond float64: +inf, without a warning
    assert _distance(np.array([1e300]), np.array([1e-300]), True) == np.inf
    assert _distance(np.array([1e-300]), np.array([1e300]), True) == pytest.approx(1.0)


def test_function_space_distance_frozen_readout_and_float32_module_untouched():
    """A readout parameter with requires_grad=False is not trained: Θ∞ without its term."""
    rng = np.random.default_rng(9)
    X, X_eval = _readonly(rng.normal(size=(12, 3))), _readonly(rng.normal(size=(5, 3)))
    targets = _readonly(rng.normal(size=12))
    with torch.random.fork_rng():
        torch.manual_seed(1)
        net = TwoLayerReLU(3, 24, 1, train_readout=True)
    net.A.requires_grad_(False)
    W_before, A_before = net.W.detach().clone(), net.A.detach().clone()
    params = {"train_readout": False, "sigma_w": 1.0}
    f_ntk = _hand_krr(
        infinite_width_ntk(X, **params), targets, infinite_width_ntk(X_eval, X, **params), 0.01
    )
    f_m = _hand_forward(net.W.detach().double().numpy(), net.A.detach().double().numpy(), X_eval)
    expected = np.sqrt(((f_m[:, 0] - f_ntk) ** 2).sum())
    got = function_space_distance(net, X, targets, X_eval, alpha=0.01)
    assert got == pytest.approx(expected, rel=1e-9)
    assert net.W.dtype == torch.float32
    assert net.A.dtype == torch.float32
    assert torch.equal(net.W.detach(), W_before)
    assert torch.equal(net.A.detach(), A_before)


def test_function_space_distance_ignores_torch_default_device():
    """Under ``torch.device("meta")`` the forward pass still runs on the network's device."""
    rng = np.random.default_rng(11)
    X, targets = _readonly(rng.normal(size=(6, 3))), _readonly(rng.normal(size=(6, 2)))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = TwoLayerReLU(3, 8, 2)
    expected = function_space_distance(net, X, targets, X)
    with torch.device("meta"):
        assert function_space_distance(net, X, targets, X) == expected


def test_sweep_fit_metrics_match_an_explicit_refit(tiny):
    pytest.importorskip("sklearn_attnkernel.networks.pipelines")
    from sklearn.metrics import accuracy_score

    from sklearn_attnkernel import make_two_layer_relu

    X, y = tiny
    X_eval, y_eval = X[::3], y[::3]
    fit_metrics = ["train_score", "eval_score", "train_loss"]
    table = ntk_width_sweep(
        "relu",
        X,
        y,
        widths=[16],
        seeds=[2],
        metrics=fit_metrics,
        X_eval=X_eval,
        y_eval=y_eval,
        **_FAST,
    )
    assert table["stage"].tolist() == ["trained"] * 3
    assert table["metric"].tolist() == fit_metrics
    got = dict(zip(table["metric"], table["value"], strict=True))
    model = make_two_layer_relu(width=16, random_state=2, **_FAST).fit(X, y)
    assert got["train_score"] == pytest.approx(accuracy_score(y, model.predict(X)), abs=1e-12)
    assert got["eval_score"] == pytest.approx(
        accuracy_score(y_eval, model.predict(X_eval)), abs=1e-12
    )
    assert got["train_loss"] == pytest.approx(model[-1].history_[-1]["train_loss"], rel=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stages": ["init"], "metrics": ["train_loss"]}, "add 'trained' to stages"),
        ({"X_eval": "X3", "metrics": ["eval_score"]}, "pass y_eval"),
        ({"X_eval": "X3", "y_eval": [0, 1], "metrics": ["eval_score"]}, "y_eval has"),
    ],
)
def test_sweep_fit_metrics_refused_without_what_they_need(tiny, kwargs, match):
    X, y = tiny
    kwargs = {k: (X[:3] if v == "X3" else v) for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=match):
        ntk_width_sweep("relu", X, y, widths=[4], seeds=[0], **kwargs, **_FAST)


def test_sweep_records_the_epochs_used_and_whether_training_converged(tiny):
    pytest.importorskip("sklearn_attnkernel.networks.pipelines")
    from sklearn_attnkernel import make_two_layer_relu

    X, y = tiny
    metrics = ["epochs_used", "converged"]
    stop = {**_FAST, "max_epochs": 300, "tol": 0.05, "n_iter_no_change": 2}
    table = ntk_width_sweep("relu", X, y, widths=[16], seeds=[1], metrics=metrics, **stop)
    got = dict(zip(table["metric"], table["value"], strict=True))
    model = make_two_layer_relu(width=16, random_state=1, **stop).fit(X, y)
    assert got["epochs_used"] == len(model[-1].history_) < 300  # stopped before the cap
    assert got["converged"] == 1.0
    capped = {**stop, "max_epochs": 2, "n_iter_no_change": 5}  # the cap comes first
    table = ntk_width_sweep("relu", X, y, widths=[16], seeds=[1], metrics=metrics, **capped)
    assert table["value"].tolist() == [2.0, 0.0]
    fixed = {**_FAST, "max_epochs": 2, "tol": None}  # no rule to meet: NaN
    table = ntk_width_sweep("relu", X, y, widths=[16], seeds=[1], metrics=metrics, **fixed)
    assert table["value"].iloc[0] == 2.0
    assert np.isnan(table["value"].iloc[1])
