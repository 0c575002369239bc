"""Ground truth by retraining, checked where influence is exact: kernel ridge regression."""

import numpy as np
import pytest
from joblib import parallel_config
from scipy.stats import spearmanr
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics import mean_squared_error

from sklearn_attnkernel import TwoLayerReLUClassifier, loo_influence
from sklearn_attnkernel.influence.retraining import (
    RetrainingEffects,
    network_loss,
    retraining_agreement,
    retraining_effects,
)

ALPHA = 0.5


def _mse(model, X, y):
    return mean_squared_error(y, model.predict(X))


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    y = X @ rng.normal(size=4) + 0.5 * rng.normal(size=40)
    return X[:30], y[:30], X[30:], y[30:]


def test_loo_effects_equal_the_closed_form_and_exact_scores_rank_them_perfectly(linear):
    Xtr, ytr, Xte, yte = linear
    with parallel_config(backend="threading"):  # joblib's loky workers take seconds to start
        measured = retraining_effects(
            KernelRidge(alpha=ALPHA),
            Xtr,
            ytr,
            Xte,
            yte,
            n_retrains=12,
            loss=_mse,
            n_jobs=2,
            random_state=0,
        )
    exact = loo_influence(Xtr @ Xtr.T, ytr, Xte @ Xtr.T, yte, alpha=ALPHA)
    assert measured.indices.shape == (12,)
    assert len(set(measured.indices)) == 12
    np.testing.assert_allclose(measured.effects, exact[measured.indices], rtol=1e-8, atol=1e-12)
    agreement = retraining_agreement(measured, exact, random_state=0)
    assert agreement.statistic == pytest.approx(1.0)
    assert agreement.low <= agreement.statistic <= agreement.high
    assert agreement.low > 0.9


def test_lds_is_the_spearman_correlation_of_the_additive_prediction(linear):
    Xtr, ytr, Xte, yte = linear
    measured = retraining_effects(
        KernelRidge(alpha=ALPHA),
        Xtr,
        ytr,
        Xte,
        yte,
        mode="lds",
        n_retrains=20,
        loss=_mse,
        random_state=1,
    )
    assert measured.subsets.shape == (20, 30)
    assert np.all(measured.subsets.sum(axis=1) == 15)
    for row, loss in zip(measured.subsets, measured.losses, strict=True):  # brute force
        model = KernelRidge(alpha=ALPHA).fit(Xtr[row], ytr[row])
        assert loss == pytest.approx(_mse(model, Xte, yte), rel=1e-10)
    scores = loo_influence(Xtr @ Xtr.T, ytr, Xte @ Xtr.T, yte, alpha=ALPHA)
    lds = retraining_agreement(measured, scores, random_state=0)
    brute = spearmanr([scores[row].sum() for row in measured.subsets], -measured.losses)
    assert lds.statistic == pytest.approx(brute.statistic)
    assert lds.statistic > 0.5  # ridge is near-additive in its training points
    assert lds.low <= lds.statistic <= lds.high


def test_opposite_scores_disagree_and_constant_scores_are_undefined(linear):
    measured = RetrainingEffects(
        "loo", 1.0, np.arange(5), None, np.ones(5), np.array([0.1, 0.4, -0.2, 0.3, 0.0])
    )
    assert retraining_agreement(measured, -measured.effects).statistic == pytest.approx(-1.0)
    assert np.isnan(retraining_agreement(measured, np.zeros(5)).statistic)
    with pytest.raises(ValueError, match="one influence per training point"):
        retraining_agreement(measured, np.zeros((2, 5)))


def test_network_loss_is_the_training_criterion(blobs, binary_blobs):
    torch = pytest.importorskip("torch")
    X, y = blobs
    model = TwoLayerReLUClassifier(width=8, max_epochs=2, device="cpu", random_state=0).fit(X, y)
    logits = torch.as_tensor(model.decision_function(X))
    index = torch.as_tensor(np.searchsorted(model.classes_, y))
    expected = torch.nn.functional.cross_entropy(logits, index).item()
    assert network_loss(model, X, y) == pytest.approx(expected, rel=1e-12)
    Xb, yb = binary_blobs
    for binary_loss in ("mse", "cross_entropy"):
        model = TwoLayerReLUClassifier(
            width=8, max_epochs=2, device="cpu", random_state=0, binary_loss=binary_loss
        ).fit(Xb, yb)
        f = torch.as_tensor(model.decision_function(Xb))
        t = torch.as_tensor((yb == "pos").astype(float))
        expected = (
            torch.nn.functional.mse_loss(f, 2 * t - 1)
            if binary_loss == "mse"
            else torch.nn.functional.binary_cross_entropy_with_logits(f, t)
        ).item()
        assert network_loss(model, Xb, yb) == pytest.approx(expected, rel=1e-12)


def test_same_seed_retrains_of_a_network_reproduce_the_base_model(blobs):
    """With an int random_state, removing nothing leaves the loss unchanged: any effect is
    the removed point's (and the reshuffling it causes)."""
    X, y = blobs[0][::2], blobs[1][::2]
    model = TwoLayerReLUClassifier(width=8, max_epochs=2, device="cpu", random_state=0)
    measured = retraining_effects(model, X[::2], y[::2], X[1::2], y[1::2], n_retrains=2)
    refit = network_loss(model.fit(X[::2], y[::2]), X[1::2], y[1::2])
    assert measured.base_loss == refit
    assert measured.effects.shape == (2,)
