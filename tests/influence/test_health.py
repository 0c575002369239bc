"""A network near chance on its training set is flagged before its influence is read (#11)."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score

from sklearn_attnkernel import TwoLayerReLUClassifier, TwoLayerReLURegressor, make_mlp_attn
from sklearn_attnkernel.influence import NearChanceError, NearChanceWarning
from sklearn_attnkernel.influence.estimators import influence_scores
from sklearn_attnkernel.influence.health import NEAR_CHANCE_SKILL, training_skill
from sklearn_attnkernel.influence.scorer import InfluenceMalleability

FAST = {"width": 16, "reg_lambda": 0.0, "dtype": "float64", "device": "cpu", "random_state": 0}
SCORER = {"attack": "fgsm", "epsilon": 0.1, "alpha": 1e-2}


@pytest.fixture(scope="module")
def untrained(blobs):
    """No training at all: its accuracy on the blobs is chance or worse."""
    X, y = blobs
    return TwoLayerReLUClassifier(**FAST, max_epochs=0).fit(X, y)


@pytest.fixture(scope="module")
def trained(blobs):
    X, y = blobs
    return TwoLayerReLUClassifier(**FAST, lr=5e-2, max_epochs=40).fit(X, y)


def test_training_skill_against_a_hand_computation(blobs, untrained, trained):
    X, y = blobs
    imbalanced = np.r_[y[:30], y[30:60], y[60:70]]  # 30, 30 and 10 points: chance 30/70
    for net in (untrained, trained):
        accuracy = accuracy_score(y, net.predict(X))
        expected = (accuracy, 1 / 3, (accuracy - 1 / 3) / (2 / 3))
        assert training_skill(net) == pytest.approx(expected)
    net = TwoLayerReLUClassifier(**FAST, max_epochs=0).fit(X[:70], imbalanced)
    accuracy = accuracy_score(imbalanced, net.predict(X[:70]))
    chance = 30 / 70
    assert training_skill(net) == pytest.approx(
        (accuracy, chance, (accuracy - chance) / (1 - chance))
    )
    target = X[:, 0]
    reg = TwoLayerReLURegressor(**FAST, max_epochs=1).fit(X, target)
    r2 = r2_score(target, reg.predict(X))
    assert training_skill(reg) == pytest.approx((r2, 0.0, r2))
    # the fixtures are on both sides of the threshold, so the tests below are not vacuous
    assert training_skill(untrained)[2] <= NEAR_CHANCE_SKILL < 0.9 < training_skill(trained)[2]


def test_pipeline_network_is_measured_on_its_training_features(blobs):
    X, y = blobs
    model = make_mlp_attn(**FAST, max_epochs=0).fit(np.abs(X), y)
    accuracy = accuracy_score(y, model.predict(np.abs(X)))
    assert training_skill(model[-1])[0] == pytest.approx(accuracy)


def test_influence_scores_near_chance_warns_raises_or_ignores(blobs, untrained):
    X, y = blobs
    accuracy = accuracy_score(y, untrained.predict(X))
    match = f"training accuracy is {accuracy:.3f}, near the chance level 0.333"
    with pytest.warns(NearChanceWarning, match=match):
        warned = influence_scores(untrained, X[:5], y[:5])
    with pytest.raises(NearChanceError, match=match):
        influence_scores(untrained, X[:5], y[:5], on_near_chance="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NearChanceWarning)
        ignored = influence_scores(untrained, X[:5], y[:5], on_near_chance="ignore")
    np.testing.assert_array_equal(warned, ignored)  # a warning, not a change of the numbers
    with pytest.raises(ValueError, match="'on_near_chance' parameter"):
        influence_scores(untrained, X[:5], y[:5], on_near_chance="maybe")


def test_scorer_near_chance_warns_once_raises_or_ignores(blobs, untrained):
    X, y = blobs
    with pytest.warns(NearChanceWarning, match="InfluenceMalleability: .* near the chance") as w:
        warned = InfluenceMalleability(**SCORER)(untrained, X[:5], y[:5])
    assert sum(issubclass(r.category, NearChanceWarning) for r in w) == 1
    with pytest.raises(NearChanceError, match="training accuracy"):
        InfluenceMalleability(**SCORER, on_near_chance="raise")(untrained, X[:5], y[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("error", NearChanceWarning)
        ignored = InfluenceMalleability(**SCORER, on_near_chance="ignore")(untrained, X[:5], y[:5])
    assert ignored == warned or (np.isnan(ignored) and np.isnan(warned))
    with pytest.raises(ValueError, match="'on_near_chance' parameter"):
        InfluenceMalleability(on_near_chance="maybe")


def test_trained_network_is_not_flagged(blobs, trained):
    X, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error", NearChanceWarning)
        influence_scores(trained, X[:5], y[:5], on_near_chance="raise")
        InfluenceMalleability(**SCORER, on_near_chance="raise")(trained, X[:5], y[:5])


def test_regressor_near_chance_is_judged_by_its_r2(blobs):
    X, _ = blobs
    reg = TwoLayerReLURegressor(**FAST, max_epochs=0).fit(np.ones_like(X), X[:, 0])
    # constant inputs, constant predictions: R² <= 0 whatever the weights
    with pytest.raises(NearChanceError, match="training R² is"):
        influence_scores(reg, X[:5], X[:5, 0], on_near_chance="raise")
