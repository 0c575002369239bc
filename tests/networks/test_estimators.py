"""Tests of the two-layer ReLU estimators (sklearn_attnkernel.networks.estimators)."""

import ast
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

from sklearn_attnkernel import (
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
)
from tests.conftest import FAST_NETWORK, network_state, readonly

# enough training to learn the toy problems below (still well under a second per fit)
TRAIN = {**FAST_NETWORK, "width": 64, "max_epochs": 50, "batch_size": 16}


def _numpy_forward(X, W, A):
    """Independent evaluation of Eq. 2: (1/√m) relu(X Wᵀ) A."""
    return np.maximum(X @ W.T, 0.0) @ A / np.sqrt(W.shape[0])


def test_digits_accuracy_at_least_95_percent():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    readonly(X_train, X_test)
    model = make_pipeline(
        Normalizer(),
        TwoLayerReLUClassifier(
            width=1024, lr=1e-2, reg_lambda=0.0, max_epochs=20, device="cpu", random_state=0
        ),
    )
    model.fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.95


@pytest.mark.parametrize("max_epochs", [0, 3])
def test_forward_matches_numpy(blobs, max_epochs):
    X, y = blobs
    est = TwoLayerReLUClassifier(
        width=20, max_epochs=max_epochs, lr=1e-2, dtype="float64", device="cpu", random_state=1
    ).fit(X, y)
    state = network_state(est)
    np.testing.assert_allclose(
        est.decision_function(X), _numpy_forward(X, state["W"], state["A"]), rtol=1e-12
    )
    reg = TwoLayerReLURegressor(
        width=20, max_epochs=max_epochs, dtype="float64", device="cpu", random_state=1
    ).fit(X, X[:, :2])
    state = network_state(reg)
    np.testing.assert_allclose(
        reg.predict(X), _numpy_forward(X, state["W"], state["A"]), rtol=1e-12
    )


def test_constant_readout_units_get_no_cross_entropy_gradient(blobs):
    """Softmax is shift-invariant: a unit whose readout row is equal across classes adds the
    same amount to every logit, so its task gradient is zero up to round-off."""
    X, y = blobs
    est = TwoLayerReLUClassifier(
        width=32, max_epochs=0, dtype="float64", device="cpu", random_state=0
    ).fit(X, y)
    module = est.net_.module_
    constant = np.ptp(est.initial_params_["A"].numpy(), axis=1) == 0
    assert 0 < constant.sum() < len(constant)
    X_t = torch.tensor(np.array(X))
    loss = torch.nn.functional.cross_entropy(module(X_t), torch.tensor(np.array(y)))
    (grad,) = torch.autograd.grad(loss, [module.W])
    grad = grad.numpy()
    assert np.abs(grad[constant]).max() < 1e-14
    assert np.abs(grad[~constant]).max() > 1e-3


@pytest.mark.parametrize("binary_loss", ["mse", "cross_entropy"])
def test_binary_outputs(binary_blobs, binary_loss):
    X, y = binary_blobs
    est = TwoLayerReLUClassifier(**TRAIN, binary_loss=binary_loss, random_state=0).fit(X, y)
    assert est.n_outputs_ == 1
    np.testing.assert_array_equal(est.classes_, ["neg", "pos"])
    f = est.decision_function(X)
    assert f.shape == (len(X),)
    np.testing.assert_array_equal(est.predict(X), np.where(f > 0, "pos", "neg"))
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    if binary_loss == "mse":
        expected = np.clip((f.astype(np.float64) + 1) / 2, 0, 1)
    else:
        expected = 1 / (1 + np.exp(-f.astype(np.float64)))
    np.testing.assert_allclose(proba[:, 1], expected, rtol=1e-6)
    assert est.score(X, y) > 0.9
    Y = est.encode_targets(y)
    assert Y.shape == (len(y), 1)
    assert Y.dtype == np.float64
    np.testing.assert_array_equal(Y[:, 0], np.where(y == "pos", 1.0, -1.0))


def test_multiclass_outputs_and_encoding(blobs):
    X, y = blobs
    est = TwoLayerReLUClassifier(**TRAIN, random_state=0).fit(X, y)
    f = est.decision_function(X)
    assert f.shape == (len(X), 3)
    np.testing.assert_array_equal(est.predict(X), est.classes_[np.argmax(f, axis=1)])
    proba = est.predict_proba(X)
    expected = np.exp(f - f.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True), rtol=1e-6)
    Y = est.encode_targets(y)
    assert Y.shape == (len(y), 3)
    np.testing.assert_array_equal(Y, np.eye(3)[y])
    with pytest.raises(ValueError, match="not seen in fit"):
        est.encode_targets(np.array([0, 5]))


@pytest.mark.parametrize("two_d", [False, True])
def test_regressor_shapes_and_encoding(blobs, two_d):
    X, _ = blobs
    y = np.abs(X[:, :2]) if two_d else np.abs(X[:, 0])
    readonly(y)
    est = TwoLayerReLURegressor(**TRAIN, random_state=0).fit(X, y)
    assert est.n_outputs_ == (2 if two_d else 1)
    assert est.predict(X).shape == y.shape
    Y = est.encode_targets(y)
    assert Y.shape == (len(y), est.n_outputs_)
    assert Y.dtype == np.float64
    np.testing.assert_array_equal(Y, y.reshape(len(y), -1))
    assert est.score(X, y) > 0.8
    with pytest.raises(ValueError, match="n_outputs_"):
        est.encode_targets(np.ones((3, 5)))


def test_fit_keeps_copies_of_training_data(blobs):
    X, y = blobs
    X_list = X.tolist()
    est = TwoLayerReLUClassifier(**FAST_NETWORK, random_state=0).fit(X_list, list(y))
    np.testing.assert_array_equal(est.X_fit_, X)
    np.testing.assert_array_equal(est.y_fit_, y)
    X_mut = X.copy()
    est = TwoLayerReLUClassifier(**FAST_NETWORK, random_state=0).fit(X_mut, y)
    X_mut[:] = 0.0
    np.testing.assert_array_equal(est.X_fit_, X)
    assert est.n_features_in_ == X.shape[1]


def test_pipeline_grid_search_and_cross_validate(blobs):
    X, y = blobs
    model = make_pipeline(StandardScaler(), TwoLayerReLUClassifier(**FAST_NETWORK, random_state=0))
    grid = GridSearchCV(model, {"twolayerreluclassifier__width": [4, 8]}, cv=2).fit(X, y)
    assert grid.best_params_["twolayerreluclassifier__width"] in (4, 8)
    assert grid.predict(X).shape == y.shape

    cv = cross_validate(
        TwoLayerReLUClassifier(**TRAIN, random_state=0),
        X,
        y,
        cv=3,
        n_jobs=2,
    )
    assert cv["test_score"].shape == (3,)
    assert cv["test_score"].mean() > 0.85

    reg = cross_validate(
        TwoLayerReLURegressor(**FAST_NETWORK, random_state=0), X, np.abs(X[:, 0]), cv=2, n_jobs=2
    )
    assert np.all(np.isfinite(reg["test_score"]))


def test_clone_and_params():
    est = TwoLayerReLUClassifier(width=7, binary_loss="cross_entropy", device="cpu")
    params = clone(est).get_params()
    assert params["width"] == 7
    assert params["binary_loss"] == "cross_entropy"
    assert params["device"] == "cpu"
    assert "binary_loss" not in TwoLayerReLURegressor().get_params()
    with pytest.raises(TypeError):
        TwoLayerReLUClassifier(16)  # keyword-only


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("Estimator", [TwoLayerReLUClassifier, TwoLayerReLURegressor])
def test_non_finite_input_raises(blobs, Estimator, bad):
    X, y = blobs
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        Estimator(**FAST_NETWORK).fit(X_bad, y)
    est = Estimator(**FAST_NETWORK).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains"):
        est.predict(X_bad)


def test_wrong_n_features_raises(blobs):
    X, y = blobs
    est = TwoLayerReLUClassifier(**FAST_NETWORK).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but TwoLayerReLUClassifier"):
        est.decision_function(X[:, :4])


def test_one_class_raises(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="only one class"):
        TwoLayerReLUClassifier(**FAST_NETWORK).fit(X, np.zeros(len(X)))


def test_continuous_targets_rejected_by_classifier(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="Unknown label type"):
        TwoLayerReLUClassifier(**FAST_NETWORK).fit(X, X[:, 0])


def test_non_numeric_regression_targets_raise(blobs):
    X, _ = blobs
    y = np.array(["a", "b", "c"] * 30)
    with pytest.raises(ValueError, match="numeric targets y"):
        TwoLayerReLURegressor(**FAST_NETWORK).fit(X, y)
    with pytest.raises(ValueError, match="numeric targets y"):
        TwoLayerReLURegressor(**FAST_NETWORK).fit(X, y.astype(object))


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("width", 0, "'width' parameter"),
        ("width", 2.5, "'width' parameter"),
        ("max_epochs", -1, "'max_epochs' parameter"),
        ("lr", 0.0, "'lr' parameter"),
        ("reg_lambda", -1e-3, "'reg_lambda' parameter"),
        ("binary_loss", "hinge", "'binary_loss' parameter"),
        ("dtype", "float16", "'dtype' parameter"),
        ("device", 3, "'device' parameter"),
        ("callbacks", "progress", "'callbacks' parameter"),
    ],
)
def test_invalid_parameters_raise(blobs, param, value, match):
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        TwoLayerReLUClassifier(**{**FAST_NETWORK, param: value}).fit(X, y)


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x", "mps", ""])
def test_unknown_device_raises(blobs, device):
    X, y = blobs
    with pytest.raises(ValueError, match=r"device must be .* got device="):
        TwoLayerReLUClassifier(**{**FAST_NETWORK, "device": device}).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_device_without_cuda_raises(blobs, device):
    X, y = blobs
    with pytest.raises(ValueError, match=r"torch\.cuda\.is_available"):
        TwoLayerReLUClassifier(**{**FAST_NETWORK, "device": device}).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks CUDA there")
def test_auto_and_torch_device_resolve_to_cpu(blobs):
    X, y = blobs
    for device in ("auto", torch.device("cpu"), "cpu"):
        est = TwoLayerReLUClassifier(**{**FAST_NETWORK, "device": device}, random_state=0).fit(X, y)
        assert est.net_.module_.W.device.type == "cpu"
        assert est.device == device  # the parameter itself is not overwritten


@pytest.mark.parametrize("method", ["predict", "decision_function", "predict_proba", "score"])
def test_predict_before_fit_raises(blobs, method):
    X, y = blobs
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(TwoLayerReLUClassifier(), method)(*args)
    with pytest.raises(NotFittedError):
        TwoLayerReLUClassifier().encode_targets(y)
    with pytest.raises(NotFittedError):
        TwoLayerReLURegressor().predict(X)


def test_importing_the_estimators_leaves_the_torch_mirror_out():
    """The pipeline hands the network its torch map: the estimators import neither the torch
    mirror of pipelines nor the datasets or the NTK."""
    code = (
        "import sys, sklearn_attnkernel.networks.estimators; "
        "print(sorted(k for k in sys.modules if k.startswith('sklearn_attnkernel')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = set(ast.literal_eval(out.stdout))
    assert "sklearn_attnkernel.networks.torch_mirror" not in loaded
    for layer in ("attention", "preprocessing", "datasets", "ntk", "influence"):
        assert not any(name.startswith(f"sklearn_attnkernel.{layer}") for name in loaded), layer
    assert "sklearn_attnkernel.attacks.gradient_sign" in loaded  # adversarial training


def test_float32_network_outputs_are_float64_and_batch_independent(blobs):
    X, y = blobs
    clf = TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 5}, random_state=0).fit(X, y)
    assert clf.net_.module_.W.dtype == torch.float32
    state = network_state(clf)
    # independent: NumPy's float64 forward pass on the float32 weights, cast exactly
    expected = _numpy_forward(X, state["W"].astype(np.float64), state["A"].astype(np.float64))
    full = clf.decision_function(X)
    assert full.dtype == np.float64
    assert clf.predict_proba(X).dtype == np.float64
    np.testing.assert_allclose(full, expected, rtol=1e-12, atol=1e-14)
    one_by_one = np.vstack([clf.decision_function(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(one_by_one, full, rtol=1e-12, atol=1e-14)
    reg = TwoLayerReLURegressor(**FAST_NETWORK, random_state=0).fit(X, X[:, :2])
    assert reg.predict(X).dtype == np.float64
