"""Tests of the shared fitting, seeding and persistence (sklearn_attnkernel.networks.base)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_attnkernel import (
    TwoLayerReLU,
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
)
from tests.conftest import FAST_NETWORK, network_state


# ------------------------------------------------------------------------------------------
# initialisation and training
# ------------------------------------------------------------------------------------------
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
    state = network_state(est)
    assert set(state) == set(est.initial_params_) == {"W", "A"}
    for name in state:
        np.testing.assert_array_equal(state[name], est.initial_params_[name].numpy())
    assert len(est.history_) == 0
    # initial_params_ rebuilds the module exactly
    module = TwoLayerReLU(X.shape[1], 10, 3, train_readout=True)
    module.load_state_dict(est.initial_params_)
    # outputs are evaluated in float64 from the float32 weights (cast exactly)
    np.testing.assert_allclose(
        module.double()(torch.tensor(X, dtype=torch.float64)).detach().numpy(),
        est.decision_function(X),
        rtol=1e-13,
        atol=1e-14,
    )


def test_training_moves_params_and_lowers_loss(blobs):
    X, y = blobs
    est = TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 10}, random_state=0).fit(X, y)
    assert not np.array_equal(network_state(est)["W"], est.initial_params_["W"].numpy())
    np.testing.assert_array_equal(network_state(est)["A"], est.initial_params_["A"].numpy())
    losses = est.history_[:, "train_loss"]
    assert len(losses) == 10
    assert losses[-1] < losses[0]


# ------------------------------------------------------------------------------------------
# seeds and dtypes
# ------------------------------------------------------------------------------------------
def test_same_seed_identical_different_seed_differs(blobs):
    X, y = blobs
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002

    a = TwoLayerReLUClassifier(**FAST_NETWORK, random_state=3).fit(X, y)
    b = TwoLayerReLUClassifier(**FAST_NETWORK, random_state=3).fit(X, y)
    c = TwoLayerReLUClassifier(**FAST_NETWORK, random_state=4).fit(X, y)

    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    for name, value in network_state(a).items():
        np.testing.assert_array_equal(value, network_state(b)[name])
    assert not np.array_equal(network_state(a)["W"], network_state(c)["W"])
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))
    # the global generators were not disturbed
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002


def test_shuffling_is_seeded_separately_from_init(blobs):
    """Same θ₀ but batches in a different order must give different trained weights."""
    X, y = blobs
    kw = {**FAST_NETWORK, "batch_size": 16}
    a = TwoLayerReLUClassifier(**kw, random_state=3).fit(X, y)
    b = TwoLayerReLUClassifier(**kw, random_state=3).fit(X[::-1], y[::-1])
    np.testing.assert_array_equal(a.initial_params_["W"], b.initial_params_["W"])
    assert not np.array_equal(network_state(a)["W"], network_state(b)["W"])


def test_float64_and_float32_agree(blobs):
    X, y = blobs
    kw = {**FAST_NETWORK, "max_epochs": 2, "lr": 1e-3}
    e64 = TwoLayerReLUClassifier(**kw, dtype="float64", random_state=0).fit(X, y)
    e32 = TwoLayerReLUClassifier(**kw, dtype="float32", random_state=0).fit(X, y)
    init = TwoLayerReLUClassifier(**{**kw, "max_epochs": 0}, dtype="float64", random_state=0)
    f_init = init.fit(X, y).decision_function(X)
    assert e64.net_.module_.W.dtype == torch.float64
    assert e64.net_.module_.A.dtype == torch.float64
    assert e64.decision_function(X).dtype == np.float64
    assert e32.decision_function(X).dtype == np.float64  # outputs are float64 in any dtype
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
# persistence
# ------------------------------------------------------------------------------------------
def test_save_load_params_round_trip(blobs, monkeypatch, tmp_path):
    X, y = blobs
    trained = TwoLayerReLUClassifier(**FAST_NETWORK, random_state=0).fit(X, y)
    f_params, f_history = tmp_path / "params.pt", tmp_path / "history.json"
    assert trained.save_params(f_params, f_history=f_history) is trained

    receiver = TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 0}, random_state=0).fit(X, y)
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
    for name, value in network_state(trained).items():
        np.testing.assert_array_equal(network_state(receiver)[name], value)
    assert len(receiver.history_) == len(trained.history_) == FAST_NETWORK["max_epochs"]


def test_load_params_shape_mismatch_and_unfitted(blobs, tmp_path):
    X, y = blobs
    path = tmp_path / "params.pt"
    TwoLayerReLUClassifier(**FAST_NETWORK, random_state=0).fit(X, y).save_params(path)
    wider = TwoLayerReLUClassifier(**{**FAST_NETWORK, "width": 32, "max_epochs": 0}).fit(X, y)
    before = network_state(wider)
    with pytest.raises(ValueError, match=r"width=32.*W has shape \(16, 5\), not \(32, 5\)"):
        wider.load_params(path)
    for name, value in before.items():  # checked before loading: nothing was replaced
        np.testing.assert_array_equal(network_state(wider)[name], value)
    readout = TwoLayerReLUClassifier(**{**FAST_NETWORK, "train_readout": True}).fit(X, y)
    readout.save_params(path)
    TwoLayerReLUClassifier(**FAST_NETWORK).fit(X, y).load_params(path)  # A: buffer or parameter
    torch.save([torch.zeros(2)], path)
    with pytest.raises(ValueError, match="holds a list, not a state_dict"):
        wider.load_params(path)
    with pytest.raises(NotFittedError):
        TwoLayerReLUClassifier().load_params(path)


@pytest.mark.parametrize("Estimator", [TwoLayerReLUClassifier, TwoLayerReLURegressor])
def test_pickle_round_trip(blobs, Estimator):
    X, y = blobs
    est = Estimator(**FAST_NETWORK, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    for name, value in est.initial_params_.items():
        np.testing.assert_array_equal(restored.initial_params_[name], value)
    # the restored estimator still trains (the regulariser's θ₀ survived pickling)
    restored.set_params(reg_lambda=1e-2).fit(X, y)


# ------------------------------------------------------------------------------------------
# mixed precision
# ------------------------------------------------------------------------------------------
def test_mixed_precision_warns_on_cpu(blobs):
    X, y = blobs
    with pytest.warns(UserWarning, match="mixed_precision"):
        est = TwoLayerReLUClassifier(**FAST_NETWORK, mixed_precision=True, random_state=0).fit(X, y)
    ref = TwoLayerReLUClassifier(**FAST_NETWORK, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.decision_function(X), ref.decision_function(X))
