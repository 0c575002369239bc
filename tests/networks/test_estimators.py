"""Tests of the two-layer ReLU estimators (sklearn_attnkernel.networks.estimators)."""

import logging
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sklearn_attnkernel import (
    TwoLayerReLU,
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
    make_mlp_attn,
    make_two_layer_relu,
)
from sklearn_attnkernel.networks.estimators import RecordOutputs, SharedReference, _batch_loader

FAST = {"width": 16, "max_epochs": 3, "lr": 1e-2, "reg_lambda": 0.0, "device": "cpu"}
# enough training to learn the toy problems below (still well under a second per fit)
TRAIN = {**FAST, "width": 64, "max_epochs": 50, "batch_size": 16}


def _readonly(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays if len(arrays) > 1 else arrays[0]


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated classes in 5 dimensions, read-only."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 5)) * 3
    y = np.repeat(np.arange(3), 30)
    X = centers[y] + rng.normal(size=(90, 5))
    return _readonly(X, y)


@pytest.fixture(scope="module")
def binary(blobs):
    X, y = blobs
    mask = y < 2
    return _readonly(X[mask].copy(), np.where(y[mask] == 0, "neg", "pos"))


def _numpy_forward(X, W, A):
    """Independent evaluation of Eq. 2: (1/√m) relu(X Wᵀ) A."""
    return np.maximum(X @ W.T, 0.0) @ A / np.sqrt(W.shape[0])


def _state(est):
    return {k: v.detach().cpu().numpy() for k, v in est.net_.module_.state_dict().items()}


# ------------------------------------------------------------------------------------------
# accuracy
# ------------------------------------------------------------------------------------------
def test_digits_accuracy_at_least_95_percent():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    _readonly(X_train, X_test)
    model = make_pipeline(
        Normalizer(),
        TwoLayerReLUClassifier(
            width=1024, lr=1e-2, reg_lambda=0.0, max_epochs=20, device="cpu", random_state=0
        ),
    )
    model.fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.95


# ------------------------------------------------------------------------------------------
# the loss: reg_lambda term
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("train_readout", [False, True])
def test_reg_lambda_gradient_is_two_lambda_theta_minus_theta0(blobs, train_readout):
    X, y = blobs
    lam = 0.37
    est = TwoLayerReLUClassifier(
        width=12,
        max_epochs=4,
        lr=5e-2,
        reg_lambda=lam,
        train_readout=train_readout,
        dtype="float64",
        device="cpu",
        random_state=0,
    ).fit(X, y)
    net, module = est.net_, est.net_.module_
    params = {n: p for n, p in module.named_parameters() if p.requires_grad}
    assert set(params) == ({"W", "A"} if train_readout else {"W"})

    X_t = torch.tensor(np.array(X))
    y_t = torch.as_tensor(np.searchsorted(est.classes_, y))
    y_pred = module(X_t)

    total = net.get_loss(y_pred, y_t, X=X_t, training=True)
    total_grads = torch.autograd.grad(total, list(params.values()), retain_graph=True)
    task = torch.nn.functional.cross_entropy(y_pred, y_t)
    task_grads = torch.autograd.grad(task, list(params.values()))

    penalty = 0.0
    for (name, param), g_total, g_task in zip(params.items(), total_grads, task_grads, strict=True):
        diff = param.detach().numpy() - est.initial_params_[name].numpy()
        assert np.abs(diff).max() > 1e-3  # training moved θ away from θ₀: the test has teeth
        np.testing.assert_allclose(
            (g_total - g_task).numpy(), 2 * lam * diff, rtol=1e-10, atol=1e-12
        )
        penalty += np.sum(diff**2)
    np.testing.assert_allclose(total.item() - task.item(), lam * penalty, rtol=1e-10)


def test_binary_mse_loss_is_mean_squared_error_on_plus_minus_one(binary):
    X, y = binary
    est = TwoLayerReLUClassifier(**{**FAST, "dtype": "float64"}, random_state=0).fit(X, y)
    f = est.decision_function(X)
    target = np.where(y == "pos", 1.0, -1.0)
    y_t = torch.as_tensor(est.encode_targets(y))
    loss = est.net_.get_loss(torch.as_tensor(f[:, None]), y_t, training=True)
    np.testing.assert_allclose(loss.item(), np.mean((f - target) ** 2), rtol=1e-12)


# ------------------------------------------------------------------------------------------
# the network and its initialisation
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_epochs", [0, 3])
def test_forward_matches_numpy(blobs, max_epochs):
    X, y = blobs
    est = TwoLayerReLUClassifier(
        width=20, max_epochs=max_epochs, lr=1e-2, dtype="float64", device="cpu", random_state=1
    ).fit(X, y)
    state = _state(est)
    np.testing.assert_allclose(
        est.decision_function(X), _numpy_forward(X, state["W"], state["A"]), rtol=1e-12
    )
    reg = TwoLayerReLURegressor(
        width=20, max_epochs=max_epochs, dtype="float64", device="cpu", random_state=1
    ).fit(X, X[:, :2])
    state = _state(reg)
    np.testing.assert_allclose(
        reg.predict(X), _numpy_forward(X, state["W"], state["A"]), rtol=1e-12
    )


def test_initialisation_is_torch_seeded_two_layer_relu(blobs):
    X, y = blobs
    est = TwoLayerReLUClassifier(width=24, max_epochs=0, device="cpu", random_state=7).fit(X, y)
    torch.manual_seed(7)
    reference = TwoLayerReLU(X.shape[1], 24, 3)
    for name, value in reference.state_dict().items():
        np.testing.assert_array_equal(est.initial_params_[name].numpy(), value.numpy())
    assert isinstance(est.net_.module_, TwoLayerReLU)
    assert set(np.unique(est.initial_params_["A"].numpy())) <= {-1.0, 1.0}


def test_max_epochs_zero_leaves_initial_params(blobs):
    X, y = blobs
    est = TwoLayerReLUClassifier(
        width=10, max_epochs=0, train_readout=True, device="cpu", random_state=0
    ).fit(X, y)
    state = _state(est)
    assert set(state) == set(est.initial_params_) == {"W", "A"}
    for name in state:
        np.testing.assert_array_equal(state[name], est.initial_params_[name].numpy())
    assert len(est.history_) == 0
    # initial_params_ rebuilds the module exactly
    module = TwoLayerReLU(X.shape[1], 10, 3, train_readout=True)
    module.load_state_dict(est.initial_params_)
    np.testing.assert_array_equal(
        module(torch.tensor(X, dtype=torch.float32)).detach().numpy(),
        est.decision_function(X),
    )


def test_training_moves_params_and_lowers_loss(blobs):
    X, y = blobs
    est = TwoLayerReLUClassifier(**{**FAST, "max_epochs": 10}, random_state=0).fit(X, y)
    assert not np.array_equal(_state(est)["W"], est.initial_params_["W"].numpy())
    np.testing.assert_array_equal(_state(est)["A"], est.initial_params_["A"].numpy())
    losses = est.history_[:, "train_loss"]
    assert len(losses) == 10
    assert losses[-1] < losses[0]


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


# ------------------------------------------------------------------------------------------
# seeds and dtypes
# ------------------------------------------------------------------------------------------
def test_same_seed_identical_different_seed_differs(blobs):
    X, y = blobs
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002

    a = TwoLayerReLUClassifier(**FAST, random_state=3).fit(X, y)
    b = TwoLayerReLUClassifier(**FAST, random_state=3).fit(X, y)
    c = TwoLayerReLUClassifier(**FAST, random_state=4).fit(X, y)

    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    for name, value in _state(a).items():
        np.testing.assert_array_equal(value, _state(b)[name])
    assert not np.array_equal(_state(a)["W"], _state(c)["W"])
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))
    # the global generators were not disturbed
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002


def test_shuffling_is_seeded_separately_from_init(blobs):
    """Same θ₀ but batches in a different order must give different trained weights."""
    X, y = blobs
    kw = {**FAST, "batch_size": 16}
    a = TwoLayerReLUClassifier(**kw, random_state=3).fit(X, y)
    b = TwoLayerReLUClassifier(**kw, random_state=3).fit(X[::-1], y[::-1])
    np.testing.assert_array_equal(a.initial_params_["W"], b.initial_params_["W"])
    assert not np.array_equal(_state(a)["W"], _state(b)["W"])


def test_float64_and_float32_agree(blobs):
    X, y = blobs
    kw = {**FAST, "max_epochs": 2, "lr": 1e-3}
    e64 = TwoLayerReLUClassifier(**kw, dtype="float64", random_state=0).fit(X, y)
    e32 = TwoLayerReLUClassifier(**kw, dtype="float32", random_state=0).fit(X, y)
    init = TwoLayerReLUClassifier(**{**kw, "max_epochs": 0}, dtype="float64", random_state=0)
    f_init = init.fit(X, y).decision_function(X)
    assert e64.net_.module_.W.dtype == torch.float64
    assert e64.net_.module_.A.dtype == torch.float64
    assert e64.decision_function(X).dtype == np.float64
    assert e32.decision_function(X).dtype == np.float32
    # same θ₀ (drawn in float32, then cast) ...
    np.testing.assert_array_equal(
        e64.initial_params_["W"].numpy(), e32.initial_params_["W"].numpy().astype(np.float64)
    )
    # ... and after two Adam steps the precisions agree. Adam's first steps are ≈ lr·sign(g),
    # so a gradient entry near zero can flip sign under float32 round-off and move one weight
    # by 2·lr: the tolerance is a fraction of the change training made, not float32 epsilon.
    f64, f32 = e64.decision_function(X), e32.decision_function(X)
    change = np.abs(f64 - f_init).max()
    assert change > 1e-2
    assert np.abs(f64 - f32).max() < 0.1 * change


# ------------------------------------------------------------------------------------------
# targets, outputs, predict_proba
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("binary_loss", ["mse", "cross_entropy"])
def test_binary_outputs(binary, binary_loss):
    X, y = binary
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
    _readonly(y)
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
    est = TwoLayerReLUClassifier(**FAST, random_state=0).fit(X_list, list(y))
    np.testing.assert_array_equal(est.X_fit_, X)
    np.testing.assert_array_equal(est.y_fit_, y)
    X_mut = X.copy()
    est = TwoLayerReLUClassifier(**FAST, random_state=0).fit(X_mut, y)
    X_mut[:] = 0.0
    np.testing.assert_array_equal(est.X_fit_, X)
    assert est.n_features_in_ == X.shape[1]


# ------------------------------------------------------------------------------------------
# data handling
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_loader_gathers_each_row_once_per_epoch(shuffle):
    from skorch.dataset import Dataset

    X = torch.arange(23.0).reshape(-1, 1)
    y = torch.arange(23)
    loader = _batch_loader(Dataset(X, y), batch_size=5, shuffle=shuffle)
    orders = []
    for _ in range(2):
        rows = []
        for Xb, yb in loader:
            assert len(Xb) <= 5
            np.testing.assert_array_equal(Xb[:, 0].numpy(), yb.numpy())  # X and y stay paired
            rows.append(yb.numpy())
        order = np.concatenate(rows)
        np.testing.assert_array_equal(np.sort(order), np.arange(23))
        orders.append(order)
    if shuffle:
        assert not np.array_equal(orders[0], orders[1])
    else:
        np.testing.assert_array_equal(orders[0], np.arange(23))


# ------------------------------------------------------------------------------------------
# scikit-learn integration
# ------------------------------------------------------------------------------------------
def test_pipeline_grid_search_and_cross_validate(blobs):
    X, y = blobs
    model = make_pipeline(StandardScaler(), TwoLayerReLUClassifier(**FAST, random_state=0))
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
        TwoLayerReLURegressor(**FAST, random_state=0), X, np.abs(X[:, 0]), cv=2, n_jobs=2
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


# ------------------------------------------------------------------------------------------
# persistence
# ------------------------------------------------------------------------------------------
def test_save_load_params_round_trip(blobs, monkeypatch, tmp_path):
    X, y = blobs
    trained = TwoLayerReLUClassifier(**FAST, random_state=0).fit(X, y)
    f_params, f_history = tmp_path / "params.pt", tmp_path / "history.json"
    assert trained.save_params(f_params, f_history=f_history) is trained

    receiver = TwoLayerReLUClassifier(**{**FAST, "max_epochs": 0}, random_state=0).fit(X, y)
    assert not np.array_equal(receiver.decision_function(X), trained.decision_function(X))

    calls = []
    original_load = torch.load

    def spy_load(*args, **kwargs):
        calls.append(kwargs)
        return original_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy_load)
    assert receiver.load_params(f_params, f_history=f_history) is receiver
    assert calls
    assert all(kw.get("weights_only") is True for kw in calls)
    np.testing.assert_array_equal(receiver.decision_function(X), trained.decision_function(X))
    for name, value in _state(trained).items():
        np.testing.assert_array_equal(_state(receiver)[name], value)
    assert len(receiver.history_) == len(trained.history_) == FAST["max_epochs"]


def test_load_params_shape_mismatch_and_unfitted(blobs, tmp_path):
    X, y = blobs
    path = tmp_path / "params.pt"
    TwoLayerReLUClassifier(**FAST, random_state=0).fit(X, y).save_params(path)
    wider = TwoLayerReLUClassifier(**{**FAST, "width": 32, "max_epochs": 0}).fit(X, y)
    with pytest.raises(ValueError, match="width=32"):
        wider.load_params(path)
    with pytest.raises(NotFittedError):
        TwoLayerReLUClassifier().load_params(path)


@pytest.mark.parametrize("Estimator", [TwoLayerReLUClassifier, TwoLayerReLURegressor])
def test_pickle_round_trip(blobs, Estimator):
    X, y = blobs
    est = Estimator(**FAST, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    for name, value in est.initial_params_.items():
        np.testing.assert_array_equal(restored.initial_params_[name], value)
    # the restored estimator still trains (the regulariser's θ₀ survived pickling)
    restored.set_params(reg_lambda=1e-2).fit(X, y)


# ------------------------------------------------------------------------------------------
# verbosity and warnings
# ------------------------------------------------------------------------------------------
def test_verbose_shows_progress_and_logs(blobs, capsys, caplog):
    X, y = blobs
    with caplog.at_level(logging.INFO, logger="sklearn_attnkernel.networks.estimators"):
        est = TwoLayerReLUClassifier(**FAST, verbose=1, random_state=0).fit(X, y)
    assert sum("train_loss" in r.message for r in caplog.records) == FAST["max_epochs"]
    captured = capsys.readouterr()
    assert captured.out == ""  # no print in library code
    assert "epochs" in captured.err
    restored = pickle.loads(pickle.dumps(est))  # the closed bar does not stay on the net
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sklearn_attnkernel.networks.estimators"):
        TwoLayerReLUClassifier(**FAST, random_state=0).fit(X, y)
    assert not caplog.records
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_mixed_precision_warns_on_cpu(blobs):
    X, y = blobs
    with pytest.warns(UserWarning, match="mixed_precision"):
        est = TwoLayerReLUClassifier(**FAST, mixed_precision=True, random_state=0).fit(X, y)
    ref = TwoLayerReLUClassifier(**FAST, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.decision_function(X), ref.decision_function(X))


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("Estimator", [TwoLayerReLUClassifier, TwoLayerReLURegressor])
def test_non_finite_input_raises(blobs, Estimator, bad):
    X, y = blobs
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        Estimator(**FAST).fit(X_bad, y)
    est = Estimator(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains"):
        est.predict(X_bad)


def test_wrong_n_features_raises(blobs):
    X, y = blobs
    est = TwoLayerReLUClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but TwoLayerReLUClassifier"):
        est.decision_function(X[:, :4])


def test_one_class_raises(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="only one class"):
        TwoLayerReLUClassifier(**FAST).fit(X, np.zeros(len(X)))


def test_continuous_targets_rejected_by_classifier(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="Unknown label type"):
        TwoLayerReLUClassifier(**FAST).fit(X, X[:, 0])


def test_non_numeric_regression_targets_raise(blobs):
    X, _ = blobs
    y = np.array(["a", "b", "c"] * 30)
    with pytest.raises(ValueError, match="numeric targets y"):
        TwoLayerReLURegressor(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="numeric targets y"):
        TwoLayerReLURegressor(**FAST).fit(X, y.astype(object))


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
        TwoLayerReLUClassifier(**{**FAST, param: value}).fit(X, y)


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x", "mps", ""])
def test_unknown_device_raises(blobs, device):
    X, y = blobs
    with pytest.raises(ValueError, match=r"device must be .* got device="):
        TwoLayerReLUClassifier(**{**FAST, "device": device}).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_device_without_cuda_raises(blobs, device):
    X, y = blobs
    with pytest.raises(ValueError, match=r"torch\.cuda\.is_available"):
        TwoLayerReLUClassifier(**{**FAST, "device": device}).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks CUDA there")
def test_auto_and_torch_device_resolve_to_cpu(blobs):
    X, y = blobs
    for device in ("auto", torch.device("cpu"), "cpu"):
        est = TwoLayerReLUClassifier(**{**FAST, "device": device}, random_state=0).fit(X, y)
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


# ------------------------------------------------------------------------------------------
# callbacks
# ------------------------------------------------------------------------------------------
class _CountEpochs(Callback):
    """Counts the epochs it saw and records the count in the history (picklable)."""

    def __init__(self, start=0, key="n_seen"):
        self.start = start
        self.key = key

    def __repr__(self):  # a stable test id (pytest-xdist compares them across workers)
        return f"_CountEpochs(start={self.start}, key={self.key!r})"

    def initialize(self):
        self.n_epochs_ = self.start
        return self

    def on_epoch_end(self, net, **kwargs):
        self.n_epochs_ += 1
        net.history.record(self.key, self.n_epochs_)


# The common checks once more, with a callback set: it must not break cloning, refitting,
# pickling or the "fit does not change the parameters" checks (it is cloned for each fit).
_COMMON = {"width": 16, "max_epochs": 20, "lr": 0.05, "reg_lambda": 0.0, "dtype": "float64"}
_WITH_CALLBACK = [
    Estimator(**_COMMON, device="cpu", random_state=0, callbacks=[_CountEpochs()])
    for Estimator in (TwoLayerReLUClassifier, TwoLayerReLURegressor)
]


@parametrize_with_checks(_WITH_CALLBACK)
def test_common_checks_with_callbacks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("Estimator", [TwoLayerReLUClassifier, TwoLayerReLURegressor])
def test_callbacks_are_cloned_for_each_fit(blobs, Estimator):
    X, y = blobs
    counter, named = _CountEpochs(), _CountEpochs(start=10, key="named_seen")
    est = Estimator(**FAST, random_state=0, callbacks=[counter, ("named", named)])
    for _ in range(2):  # a refit starts from fresh clones, not from the last fit's state
        est.fit(X, y)
        ran = dict(est.net_.callbacks_)
        assert ran["_CountEpochs"] is not counter
        assert ran["_CountEpochs"].n_epochs_ == FAST["max_epochs"]
        assert ran["named"] is not named
        assert ran["named"].n_epochs_ == 10 + FAST["max_epochs"]
        assert est.history_[:, "n_seen"] == [1, 2, 3]
        assert est.history_[:, "named_seen"] == [11, 12, 13]
    assert not hasattr(counter, "n_epochs_")  # the parameter's instances never ran
    assert est.get_params()["callbacks"][0] is counter
    cloned = clone(est).get_params()["callbacks"]
    assert type(cloned[0]) is _CountEpochs
    assert cloned[0] is not counter
    assert cloned[1][0] == "named"
    assert cloned[1][1].get_params() == named.get_params()
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))


@pytest.mark.parametrize(
    "bad",
    [_CountEpochs, object(), ("name", _CountEpochs), ("a", "b", _CountEpochs())],
    ids=["class", "object", "named_class", "triple"],
)
def test_bad_callbacks_raise(blobs, bad):
    X, y = blobs
    with pytest.raises(ValueError, match="callbacks must hold skorch Callback instances"):
        TwoLayerReLUClassifier(**FAST, callbacks=[bad]).fit(X, y)


def _uniform(n=48, d=6, n_classes=3):
    rng = np.random.default_rng(3)
    y = np.arange(n) % n_classes
    centers = rng.uniform(0.2, 0.8, size=(n_classes, d))
    X = np.clip(centers[y] + 0.15 * rng.normal(size=(n, d)), 0.0, 1.0)
    return _readonly(X[:36], y[:36], X[36:], y[36:])


_RECORD = {"width": 16, "max_epochs": 5, "lr": 2e-2, "batch_size": 8, "device": "cpu"}
_RECORD_CASES = {
    "network": TwoLayerReLUClassifier(**_RECORD, random_state=0),
    "binary_float64": TwoLayerReLUClassifier(**_RECORD, dtype="float64", random_state=1),
    "mlp_attn": make_mlp_attn(**_RECORD, random_state=2),
    "adversarial_pipeline": make_two_layer_relu(
        **_RECORD, random_state=3, adversarial_training={"epsilon": 0.05, "steps": 2}
    ),
}


@pytest.mark.parametrize("case", list(_RECORD_CASES))
def test_recorded_outputs_are_those_of_shorter_trainings(case):
    """Outputs recorded at epoch e of one run equal those of a separate run of e epochs (same
    seed, same trajectory), and recording leaves the trained network bit-identical."""
    model = _RECORD_CASES[case]
    Xtr, ytr, Xte, _ = _uniform(n_classes=2 if case == "binary_float64" else 3)
    epochs = [0, 1, 3, 5]
    recorded = clone(model)
    pipeline = SharedReference(recorded) if hasattr(recorded, "steps") else None
    recorder = RecordOutputs(Xte, epochs, pipeline=pipeline)
    name = "mlp__callbacks" if pipeline is not None else "callbacks"
    recorded.set_params(**{name: [recorder]}).fit(Xtr, ytr)
    plain = clone(model).fit(Xtr, ytr)

    def network(m):
        return m[-1] if hasattr(m, "steps") else m

    assert _state(network(recorded)).keys() == _state(network(plain)).keys()
    for key, value in _state(network(plain)).items():
        np.testing.assert_array_equal(_state(network(recorded))[key], value)
    np.testing.assert_array_equal(
        network(recorded).history_[:, "train_loss"], network(plain).history_[:, "train_loss"]
    )
    assert network(recorded).net_.module_.training  # left in training mode, as skorch leaves it

    (ran,) = [cb for _, cb in network(recorded).net_.callbacks_ if isinstance(cb, RecordOutputs)]
    assert sorted(ran.outputs_) == epochs
    assert not hasattr(ran, "X_t_")  # the cached test tensor is dropped after training
    for e in epochs:
        params = {"mlp__max_epochs" if pipeline is not None else "max_epochs": e}
        short = clone(model).set_params(**params).fit(Xtr, ytr)
        expected = np.asarray(short.decision_function(Xte)).reshape(len(Xte), -1)
        np.testing.assert_array_equal(ran.outputs_[e], expected)
