"""Tests of the estimators' callbacks (sklearn_attnkernel.networks.callbacks)."""

import logging
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sklearn_attnkernel import (
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
    make_mlp_attn,
    make_two_layer_relu,
)
from sklearn_attnkernel.networks.callbacks import (
    RecordCheckpoints,
    RecordOutputs,
    SharedReference,
    convergence_epoch,
    recorded_checkpoints,
)
from tests.conftest import FAST_NETWORK, network_state, readonly


# ------------------------------------------------------------------------------------------
# the progress bar
# ------------------------------------------------------------------------------------------
def test_verbose_shows_progress_and_logs(blobs, capsys, caplog):
    X, y = blobs
    with caplog.at_level(logging.INFO, logger="sklearn_attnkernel.networks.callbacks"):
        est = TwoLayerReLUClassifier(**FAST_NETWORK, verbose=1, random_state=0).fit(X, y)
    assert sum("train_loss" in r.message for r in caplog.records) == FAST_NETWORK["max_epochs"]
    captured = capsys.readouterr()
    assert captured.out == ""  # no print in library code
    assert "epochs" in captured.err
    restored = pickle.loads(pickle.dumps(est))  # the closed bar does not stay on the net
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sklearn_attnkernel.networks.callbacks"):
        TwoLayerReLUClassifier(**FAST_NETWORK, random_state=0).fit(X, y)
    assert not caplog.records
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


# ------------------------------------------------------------------------------------------
# the callbacks parameter
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
    est = Estimator(**FAST_NETWORK, random_state=0, callbacks=[counter, ("named", named)])
    for _ in range(2):  # a refit starts from fresh clones, not from the last fit's state
        est.fit(X, y)
        ran = dict(est.net_.callbacks_)
        assert ran["_CountEpochs"] is not counter
        assert ran["_CountEpochs"].n_epochs_ == FAST_NETWORK["max_epochs"]
        assert ran["named"] is not named
        assert ran["named"].n_epochs_ == 10 + FAST_NETWORK["max_epochs"]
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
        TwoLayerReLUClassifier(**FAST_NETWORK, callbacks=[bad]).fit(X, y)


# ------------------------------------------------------------------------------------------
# RecordOutputs
# ------------------------------------------------------------------------------------------
def _uniform(n=48, d=6, n_classes=3):
    rng = np.random.default_rng(3)
    y = np.arange(n) % n_classes
    centers = rng.uniform(0.2, 0.8, size=(n_classes, d))
    X = np.clip(centers[y] + 0.15 * rng.normal(size=(n, d)), 0.0, 1.0)
    return readonly(X[:36], y[:36], X[36:], y[36:])


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

    assert network_state(network(recorded)).keys() == network_state(network(plain)).keys()
    for key, value in network_state(network(plain)).items():
        np.testing.assert_array_equal(network_state(network(recorded))[key], value)
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


# ------------------------------------------------------------------------------------------
# the stop at convergence, replayed on a finished history
# ------------------------------------------------------------------------------------------
def _skorch_stop(losses, tol, patience):
    """Where skorch's own EarlyStopping stops these losses: driven epoch by epoch over a
    skorch History, the independent reference of convergence_epoch."""
    from types import SimpleNamespace

    from skorch.callbacks import EarlyStopping
    from skorch.history import History

    stopper = EarlyStopping(
        monitor="train_loss", patience=patience, threshold=tol, threshold_mode="abs"
    )
    net = SimpleNamespace(history=History(), verbose=0)
    stopper.on_train_begin(net)
    for epoch, loss in enumerate(losses, start=1):
        net.history.new_epoch()
        net.history.record("epoch", epoch)
        net.history.record("train_loss", loss)
        try:
            stopper.on_epoch_end(net)
        except KeyboardInterrupt:
            return epoch
    return None


@pytest.mark.parametrize("seed", range(20))
def test_convergence_epoch_is_where_skorch_stops(seed):
    rng = np.random.default_rng(seed)
    # a falling loss with noise and plateaus, and the odd NaN
    losses = np.exp(-np.cumsum(rng.exponential(0.05, size=60))) + rng.normal(0, 0.01, size=60)
    losses[rng.random(60) < 0.03] = np.nan
    tol, patience = float(rng.choice([0.0, 1e-3, 1e-2])), int(rng.integers(1, 8))
    assert convergence_epoch(losses.tolist(), tol, patience) == _skorch_stop(
        losses.tolist(), tol, patience
    )


def test_a_network_stopped_at_convergence_replays_to_its_last_epoch(blobs):
    X, y = blobs
    params = {**FAST_NETWORK, "max_epochs": 300, "tol": 0.05, "n_iter_no_change": 2}
    est = TwoLayerReLUClassifier(**params, random_state=0).fit(X, y)
    losses = [epoch["train_loss"] for epoch in est.history_]
    assert len(losses) < 300  # an easy problem: it stops well before the cap
    assert convergence_epoch(losses, 0.05, 2) == len(losses)
    stopper = dict(est.net_.callbacks_)["early_stopping"]
    assert stopper.misses_ == 2  # skorch's own record of why it stopped


def test_recorded_checkpoints_are_the_weights_of_shorter_trainings(blobs):
    """Weights recorded at epoch e equal those of a separate run of e epochs (same seed); an
    epoch past an early stop records the final weights."""
    X, y = blobs
    model = make_mlp_attn(**{**FAST_NETWORK, "max_epochs": 4}, random_state=0)
    recorded = clone(model).set_params(mlp__callbacks=[RecordCheckpoints([0, 2, 4, 9])])
    checkpoints = recorded_checkpoints(recorded.fit(X, y))
    assert len(checkpoints) == 4
    for epochs, checkpoint in zip([0, 2, 4, 4], checkpoints, strict=True):
        short = network_state(clone(model).set_params(mlp__max_epochs=epochs).fit(X, y)[-1])
        assert checkpoint.keys() == short.keys()
        for key, value in short.items():
            np.testing.assert_array_equal(checkpoint[key], value)
    with pytest.raises(ValueError, match="trained without a RecordCheckpoints callback"):
        recorded_checkpoints(clone(model).fit(X, y))
