"""run_intervention: the retraining data are spied on and checked against an independent choice."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from skorch.callbacks import Callback

from sklearn_attnkernel import TwoLayerReLUClassifier, make_mlp_attn, make_two_layer_relu
from sklearn_attnkernel.influence.estimators import influence_scores
from sklearn_attnkernel.influence.interventions import run_intervention
from tests.conftest import COLUMN_ORDER_MESSAGE, frames

FAST = {
    "width": 32,
    "max_epochs": 6,
    "lr": 1e-2,
    "reg_lambda": 0.0,
    "dtype": "float64",
    "device": "cpu",
    "random_state": 0,
}
ATTACK = {"epsilon": 0.1, "steps": 4, "step_size": 0.05, "clip": (0.0, 1.0)}
ALPHA = 1e-2


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    n = 64
    y = np.arange(n) % 3
    centers = rng.uniform(0.2, 0.8, size=(3, 5))
    X = np.clip(centers[y] + 0.15 * rng.normal(size=(n, 5)), 0.0, 1.0)
    X.flags.writeable = False
    y.flags.writeable = False
    return X[:48], y[:48], X[48:], y[48:]


@pytest.fixture
def fit_calls(monkeypatch):
    """Record the (X, y) of every TwoLayerReLUClassifier.fit (the network sees them first-hand
    when it is used without a pipeline)."""
    calls = []
    original = TwoLayerReLUClassifier.fit

    def spy(self, X, y):
        calls.append((np.array(X, copy=True), np.array(y, copy=True), self.max_epochs))
        return original(self, X, y)

    monkeypatch.setattr(TwoLayerReLUClassifier, "fit", spy)
    return calls


def _expected_top(estimator, Xtr, ytr, Xte, yte, fraction):
    baseline = clone(estimator).fit(Xtr, ytr)
    scores = influence_scores(baseline, Xte, yte, alpha=ALPHA)
    k = math.ceil(fraction * len(ytr))
    top = np.argsort(-scores)[:k]
    return np.sort(top[scores[top] > 0]), scores


def test_curated_drops_exactly_the_top_k(data, fit_calls):
    Xtr, ytr, Xte, yte = data
    net = TwoLayerReLUClassifier(**FAST)
    expected, scores = _expected_top(net, Xtr, ytr, Xte, yte, 0.25)
    assert expected.size == 12  # k = ⌈0.25 · 48⌉, all with positive influence
    fit_calls.clear()
    result = run_intervention(
        net, Xtr, ytr, Xte, yte, kind="curated", top_fraction=0.25, alpha=ALPHA
    )
    np.testing.assert_array_equal(result["indices"], expected)
    np.testing.assert_allclose(result["influence"], scores, rtol=1e-12)
    (X_base, _y_base, _), (X_new, y_new, _) = fit_calls  # baseline, then retraining
    np.testing.assert_array_equal(X_base, Xtr)
    keep = np.setdiff1d(np.arange(48), expected)
    np.testing.assert_array_equal(X_new, Xtr[keep])
    np.testing.assert_array_equal(y_new, ytr[keep])
    assert result["n_train"] == 36
    model = result["estimator"]
    assert result["accuracy"] == accuracy_score(yte, model.predict(Xte))
    assert result["baseline_accuracy"] == accuracy_score(
        yte, result["baseline_estimator"].predict(Xte)
    )
    assert 0.0 <= result["accuracy"] <= 1.0


@pytest.mark.parametrize("attack", ["pgd", "random"])
def test_transformed_replaces_only_the_top_k(data, fit_calls, attack):
    Xtr, ytr, Xte, yte = data
    net = TwoLayerReLUClassifier(**FAST)
    result = run_intervention(
        net, Xtr, ytr, Xte, yte, kind="transformed", top_fraction=0.25, attack=attack,
        alpha=ALPHA, random_state=0, **ATTACK,
    )  # fmt: skip
    X_new, y_new, _ = fit_calls[-1]
    assert X_new.shape == Xtr.shape
    assert result["n_train"] == 48
    np.testing.assert_array_equal(y_new, ytr)
    changed = np.flatnonzero((X_new != Xtr).any(axis=1))
    assert set(changed) <= set(result["indices"])
    assert changed.size > 0
    assert np.abs(X_new - Xtr).max() <= ATTACK["epsilon"] + 1e-12
    assert X_new.min() >= 0.0
    assert X_new.max() <= 1.0
    assert 0.0 <= result["accuracy"] <= 1.0
    # the same seed gives the same retraining data
    again = run_intervention(
        net, Xtr, ytr, Xte, yte, kind="transformed", top_fraction=0.25, attack=attack,
        alpha=ALPHA, random_state=0, baseline=result["baseline_estimator"], **ATTACK,
    )  # fmt: skip
    np.testing.assert_array_equal(fit_calls[-1][0], X_new)
    assert again["accuracy"] == result["accuracy"]


def test_adversarial_perturbs_every_point_through_a_pipeline(data):
    Xtr, ytr, Xte, yte = data
    model = make_mlp_attn(**FAST)
    result = run_intervention(model, Xtr, ytr, Xte, yte, kind="adversarial", **ATTACK)
    np.testing.assert_array_equal(result["indices"], np.arange(48))
    assert result["influence"] is None
    X_new = result["estimator"].named_steps["mlp"].X_fit_  # features of the perturbed set
    clean = result["baseline_estimator"].named_steps["mlp"].X_fit_
    assert X_new.shape == clean.shape
    assert np.all(np.any(X_new != clean, axis=1))
    assert 0.0 <= result["accuracy"] <= 1.0


@pytest.mark.parametrize("factory", [make_two_layer_relu, make_mlp_attn, TwoLayerReLUClassifier])
def test_accuracy_by_epoch_is_recorded_during_the_one_training(data, fit_calls, factory):
    Xtr, ytr, Xte, yte = data
    model = factory(**FAST)
    options = {"kind": "curated", "top_fraction": 0.1, "alpha": ALPHA}
    result = run_intervention(model, Xtr, ytr, Xte, yte, eval_epochs=(3, 0, 1, 6), **options)
    # two trainings (baseline, intervention), no extra runs for the recorded epochs
    assert [epochs for _, _, epochs in fit_calls] == [6, 6]
    curated = np.setdiff1d(np.arange(48), result["indices"])
    for key, (X, y) in {
        "baseline_accuracy_by_epoch": (Xtr, ytr),
        "accuracy_by_epoch": (Xtr[curated], ytr[curated]),
    }.items():
        assert list(result[key]) == [0, 1, 3, 6]
        # independent check: a clone trained for e epochs (same seed, so the same trajectory)
        for epochs, recorded in result[key].items():
            short = clone(model).set_params(**{_epochs_name(model): epochs}).fit(X, y)
            assert recorded == accuracy_score(yte, short.predict(Xte))
    assert result["accuracy_by_epoch"][6] == result["accuracy"]
    assert result["baseline_accuracy_by_epoch"][6] == result["baseline_accuracy"]
    # recording changes nothing: the same models as without eval_epochs
    plain = run_intervention(model, Xtr, ytr, Xte, yte, **options)
    for key in ("baseline_estimator", "estimator"):
        np.testing.assert_array_equal(_weights(result[key]), _weights(plain[key]))
    np.testing.assert_array_equal(result["indices"], plain["indices"])
    assert plain["accuracy_by_epoch"] is None
    assert model.get_params()[_epochs_name(model).replace("max_epochs", "callbacks")] is None


def _epochs_name(model):
    return "mlp__max_epochs" if hasattr(model, "steps") else "max_epochs"


def _weights(model):
    network = model[-1] if hasattr(model, "steps") else model
    return network.net_.module_.W.detach().numpy()


class _Marker(Callback):
    """Marks every epoch in the history."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("marked", True)


def test_accuracy_by_epoch_keeps_the_template_callbacks(data):
    Xtr, ytr, Xte, yte = data
    own = _Marker()
    model = make_two_layer_relu(**FAST, callbacks=[own])
    result = run_intervention(model, Xtr, ytr, Xte, yte, kind="curated", eval_epochs=[2])
    assert model.get_params()["mlp__callbacks"] == [own]  # the template is left as it was
    history = result["estimator"][-1].history_
    assert len(history[:, "marked"]) == FAST["max_epochs"]  # its own callback still ran
    assert set(result["accuracy_by_epoch"]) == {2}


def test_accuracy_by_epoch_with_max_epochs_zero(data):
    Xtr, ytr, Xte, yte = data
    net = TwoLayerReLUClassifier(**{**FAST, "max_epochs": 0})
    result = run_intervention(net, Xtr, ytr, Xte, yte, kind="curated", eval_epochs=[0])
    assert result["accuracy_by_epoch"] == {0: result["accuracy"]}
    assert result["baseline_accuracy_by_epoch"] == {0: result["baseline_accuracy"]}


def test_bad_inputs(data):
    Xtr, ytr, Xte, yte = data
    net = TwoLayerReLUClassifier(**FAST)
    with pytest.raises(ValueError, match="X_train has 48 rows but y_train has 47"):
        run_intervention(net, Xtr, ytr[:-1], Xte, yte)
    with pytest.raises(ValueError, match="X_test has 16 rows but y_test has 15"):
        run_intervention(net, Xtr, ytr, Xte, yte[:-1])
    with pytest.raises(ValueError, match="X_train has 5 features but X_test has 4"):
        run_intervention(net, Xtr, ytr, Xte[:, :4], yte)
    with pytest.raises(ValueError, match="'kind' parameter"):
        run_intervention(net, Xtr, ytr, Xte, yte, kind="pruned")
    with pytest.raises(ValueError, match="'top_fraction' parameter"):
        run_intervention(net, Xtr, ytr, Xte, yte, top_fraction=0.0)
    with pytest.raises(ValueError, match="'epsilon' parameter"):
        run_intervention(net, Xtr, ytr, Xte, yte, epsilon=-1.0)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        run_intervention(net, Xtr, ytr, Xte, yte, alpha=0.0)
    with pytest.raises(ValueError, match="eval_epochs must hold"):
        run_intervention(net, Xtr, ytr, Xte, yte, eval_epochs=[-1])
    with pytest.raises(ValueError, match="eval_epochs must hold"):
        run_intervention(net, Xtr, ytr, Xte, yte, eval_epochs=[1.5])
    with pytest.raises(ValueError, match="eval_epochs must hold"):
        run_intervention(net, Xtr, ytr, Xte, yte, eval_epochs=["ten"])
    with pytest.raises(ValueError, match="asks for epoch 7, but the network trains for max_e"):
        run_intervention(net, Xtr, ytr, Xte, yte, eval_epochs=[1, 7])
    with pytest.raises(ValueError, match="eval_epochs records accuracy during the training"):
        run_intervention(LogisticRegression(), Xtr, ytr, Xte, yte, eval_epochs=[1])
    with pytest.raises(ValueError, match="needs a classifier"):
        run_intervention(make_two_layer_relu(task="regression"), Xtr, ytr, Xte, yte)
    with pytest.raises(NotFittedError):
        run_intervention(net, Xtr, ytr, Xte, yte, baseline=TwoLayerReLUClassifier())


def test_column_order_is_checked_before_any_training(data, fit_calls):
    Xtr, ytr, Xte, yte = data
    df, df_test, permuted, permuted_test = frames(Xtr, Xte)
    net = TwoLayerReLUClassifier(**FAST)
    with pytest.raises(ValueError, match=f"(?s)X_test: .*{COLUMN_ORDER_MESSAGE}"):
        run_intervention(net, df, ytr, permuted_test, yte)
    assert fit_calls == []  # refused before the baseline was trained
    baseline = clone(net).fit(df, ytr)
    fit_calls.clear()
    for X_train, X_test, name in ((permuted, df_test, "X_train"), (df, permuted_test, "X_test")):
        with pytest.raises(ValueError, match=f"(?s){name}: .*{COLUMN_ORDER_MESSAGE}"):
            run_intervention(net, X_train, ytr, X_test, yte, baseline=baseline)
    assert fit_calls == []


@pytest.mark.parametrize("kind", ["curated", "transformed"])
def test_frames_in_the_fitted_order_give_the_array_result(data, kind):
    Xtr, ytr, Xte, yte = data
    df, df_test, _, _ = frames(Xtr, Xte)
    net = TwoLayerReLUClassifier(**FAST)
    options = {"kind": kind, "attack": "fgsm", **ATTACK, "alpha": ALPHA, "top_fraction": 0.25}
    expected = run_intervention(net, Xtr, ytr, Xte, yte, **options)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*feature names", UserWarning)  # none inside
        got = run_intervention(net, df, ytr, df_test, yte, **options)
    for key in ("indices", "influence", "baseline_accuracy", "accuracy", "n_train"):
        np.testing.assert_array_equal(got[key], expected[key])
    for key in ("baseline_estimator", "estimator"):  # the models know the columns
        assert got[key].feature_names_in_.tolist() == df.columns.tolist()


def test_sparse_and_empty_sets_name_the_cause(data):
    Xtr, ytr, Xte, yte = data
    net = TwoLayerReLUClassifier(**FAST)
    with pytest.raises(TypeError, match=r"X_train is a sparse matrix .* X_train\.toarray\(\)"):
        run_intervention(net, sp.csr_matrix(Xtr), ytr, Xte, yte)
    with pytest.raises(TypeError, match=r"X_test is a sparse matrix .* X_test\.toarray\(\)"):
        run_intervention(net, Xtr, ytr, sp.csr_matrix(Xte), yte)
    with pytest.raises(ValueError, match=r"X_train \(the training set\) is empty"):
        run_intervention(net, [], [], Xte, yte)
    with pytest.raises(ValueError, match=r"X_test \(the test set\) is empty"):
        run_intervention(net, Xtr, ytr, Xte[:0], yte[:0])
