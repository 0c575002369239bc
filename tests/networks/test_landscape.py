"""loss_landscape against independent computations: sklearn's log loss on the estimator's own
predictions, a numpy forward pass, and the closed form of a quadratic loss (issue #13)."""

import numpy as np
import pytest
import torch
from scipy.special import log_softmax
from sklearn.metrics import log_loss

from sklearn_attnkernel import (
    TwoLayerReLU,
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
    loss_landscape,
    make_mlp_attn,
)
from sklearn_attnkernel.networks.landscape import (
    filter_normalized_direction,
    landscape_directions,
    landscape_summaries,
)

from ..conftest import FAST_NETWORK, network_state

# float32 forward passes (sums in float64) against float64 references: a few float32 ulps
RTOL32 = 1e-5


def _numpy_outputs(X, W, A):
    """``relu(X Wᵀ) A / √m`` in float64: the paper's Eq. 2 written out, not the module."""
    return np.maximum(X @ W.T, 0.0) @ A / np.sqrt(W.shape[0])


def _cross_entropy(out, y_index):
    return float(-np.mean(log_softmax(out, axis=1)[np.arange(len(y_index)), y_index]))


def _weights(estimator):
    state = network_state(estimator)
    return state["W"].astype(np.float64), state["A"].astype(np.float64)


@pytest.fixture(scope="module")
def multiclass_fit(blobs):
    X, y = blobs
    clf = TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 20}, random_state=0).fit(X, y)
    return clf, X, y


def test_centre_is_the_log_loss_of_predict_proba(multiclass_fit):
    clf, X, y = multiclass_fit
    out = loss_landscape(clf, X, y, n_points=3, random_state=0)
    assert out.centre_loss == pytest.approx(log_loss(y, clf.predict_proba(X)), rel=RTOL32)
    assert out.losses[1, 1] == out.centre_loss


def test_centre_of_a_pipeline_is_its_log_loss(blobs):
    X, y = blobs
    model = make_mlp_attn(**FAST_NETWORK, random_state=0).fit(X, y)
    out = loss_landscape(model, X, y, n_points=3, random_state=0)
    assert out.centre_loss == pytest.approx(log_loss(y, model.predict_proba(X)), rel=RTOL32)


@pytest.mark.parametrize("binary_loss", ["mse", "cross_entropy"])
def test_centre_of_a_binary_network_with_penalty(binary_blobs, binary_loss):
    X, y = binary_blobs
    clf = TwoLayerReLUClassifier(
        **{**FAST_NETWORK, "reg_lambda": 1e-3}, binary_loss=binary_loss, random_state=0
    ).fit(X, y)
    W, _ = _weights(clf)
    penalty = 1e-3 * np.sum((W - clf.initial_params_["W"].double().numpy()) ** 2)
    assert penalty > 0
    if binary_loss == "mse":
        task = np.mean((clf.decision_function(X) - np.where(y == "pos", 1.0, -1.0)) ** 2)
    else:
        task = log_loss(y, clf.predict_proba(X))
    out = loss_landscape(clf, X, y, n_points=3, random_state=0)
    assert out.centre_loss == pytest.approx(task + penalty, rel=RTOL32)


@pytest.mark.parametrize("train_readout", [False, True])
def test_directions_have_the_weights_neuron_norms(blobs, train_readout):
    X, y = blobs
    clf = TwoLayerReLUClassifier(**FAST_NETWORK, train_readout=train_readout, random_state=0)
    W, A = _weights(clf.fit(X, y))
    d1, d2 = landscape_directions(clf, random_state=0)
    assert set(d1) == ({"W", "A"} if train_readout else {"W"})
    for d in (d1, d2):
        np.testing.assert_allclose(
            np.linalg.norm(d["W"], axis=1), np.linalg.norm(W, axis=1), rtol=1e-12
        )
        if train_readout:  # the weights into each output unit: a column of A
            np.testing.assert_allclose(
                np.linalg.norm(d["A"], axis=0), np.linalg.norm(A, axis=0), rtol=1e-12
            )
    assert not np.allclose(d1["W"], d2["W"])


def test_filter_normalisation_zeroes_biases_and_dead_neurons():
    rs = np.random.RandomState(0)
    np.testing.assert_array_equal(filter_normalized_direction(np.ones(4), rs), np.zeros(4))
    W = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    d = filter_normalized_direction(W, rs)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), [3.0, 0.0], rtol=1e-12)
    d_cols = filter_normalized_direction(W.T, rs, neuron_axis=1)
    np.testing.assert_allclose(np.linalg.norm(d_cols, axis=0), [3.0, 0.0], rtol=1e-12)


@pytest.mark.parametrize("train_readout", [False, True])
def test_axes_are_one_dimensional_scans_of_a_numpy_forward_pass(blobs, train_readout):
    """The a = 0 column is a scan along d₂ alone and the b = 0 row one along d₁, each point
    the cross-entropy of a numpy forward pass with the moved weights."""
    X, y = blobs
    clf = TwoLayerReLUClassifier(
        **{**FAST_NETWORK, "max_epochs": 10}, train_readout=train_readout, random_state=0
    ).fit(X, y)
    W, A = _weights(clf)
    d1, d2 = landscape_directions(clf, random_state=3)
    out = loss_landscape(clf, X, y, n_points=5, span=0.8, random_state=3, batch_size=7)
    c = 2
    np.testing.assert_allclose(out.alphas, [-0.8, -0.4, 0.0, 0.4, 0.8], rtol=1e-15)
    assert out.alphas[c] == 0.0
    for k, step in enumerate(out.alphas):
        for d, got in ((d2, out.losses[c, k]), (d1, out.losses[k, c])):
            A_moved = A + step * d["A"] if train_readout else A
            expected = _cross_entropy(_numpy_outputs(X, W + step * d["W"], A_moved), y)
            assert got == pytest.approx(expected, rel=RTOL32)
    # and a corner, where both directions move
    corner = _numpy_outputs(X, W - 0.8 * d1["W"] + 0.8 * d2["W"], A)
    if not train_readout:
        assert out.losses[0, 4] == pytest.approx(_cross_entropy(corner, y), rel=RTOL32)


def test_the_estimator_is_left_bit_exactly_as_it_was(multiclass_fit):
    clf, X, y = multiclass_fit
    before, proba = network_state(clf), clf.predict_proba(X)
    rng_state = torch.get_rng_state()
    loss_landscape(clf, X, y, n_points=3, random_state=0)
    after = network_state(clf)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert torch.equal(torch.get_rng_state(), rng_state)


def _linear_regressor(rng, reg_lambda):
    """A float64 regressor whose ReLUs stay active on the whole grid: its outputs are linear
    in W there, so its mean squared error is a quadratic in (a, b)."""
    X = 1.0 + 0.1 * rng.uniform(size=(30, 3))
    y = rng.normal(size=(30, 2))
    reg = TwoLayerReLURegressor(
        width=4,
        max_epochs=0,
        reg_lambda=reg_lambda,
        dtype="float64",
        device="cpu",
        random_state=0,
    ).fit(X, y)
    with torch.no_grad():
        reg.net_.module_.W.copy_(torch.from_numpy(1.0 + 0.1 * rng.uniform(size=(4, 3))))
    return reg, X, y


@pytest.mark.parametrize("reg_lambda", [0.0, 0.05])
def test_a_quadratic_loss_has_its_closed_form_curvature(rng, reg_lambda):
    reg, X, y = _linear_regressor(rng, reg_lambda)
    W, A = _weights(reg)
    W0 = reg.initial_params_["W"].numpy()
    span = 0.2
    out = loss_landscape(reg, X, y, n_points=7, span=span, random_state=1)
    d1, d2 = landscape_directions(reg, random_state=1)
    D1, D2 = d1["W"], d2["W"]
    for sa in (-span, span):  # the assumption: every ReLU active on the whole grid
        for sb in (-span, span):
            assert np.all(X @ (W + sa * D1 + sb * D2).T > 0)
    # f(a, b) = r + a g₁ + b g₂ exactly; MSE = mean((r - y + a g₁ + b g₂)²)
    r = X @ W.T @ A / 2.0 - y
    g1, g2 = X @ D1.T @ A / 2.0, X @ D2.T @ A / 2.0
    curvature = [
        2 * np.mean(g1**2) + 2 * reg_lambda * np.sum(D1**2),
        2 * np.mean(g2**2) + 2 * reg_lambda * np.sum(D2**2),
    ]
    assert out.curvature_d1 == pytest.approx(curvature[0], rel=1e-9)
    assert out.curvature_d2 == pytest.approx(curvature[1], rel=1e-9)
    a, b = np.meshgrid(out.alphas, out.betas, indexing="ij")
    residual = r[None, None] + a[..., None, None] * g1 + b[..., None, None] * g2
    moved = (W - W0)[None, None] + a[..., None, None] * D1 + b[..., None, None] * D2
    expected = np.mean(residual**2, axis=(2, 3)) + reg_lambda * np.sum(moved**2, axis=(2, 3))
    np.testing.assert_allclose(out.losses, expected, rtol=1e-12)


def test_area_below_counts_the_basin():
    steps = np.linspace(-1.0, 1.0, 3)
    losses = np.array([[3.0, 1.05, 2.0], [1.2, 1.0, 1.1], [1.0, 0.5, 9.0]])
    out = landscape_summaries(steps, steps, losses, rise=0.1)
    # at most 1.1: 1.05, 1.0, 1.1, 1.0, 0.5 (a lower point counts too)
    assert out["area_below"] == pytest.approx(5 / 9)
    assert out["curvature_d1"] == pytest.approx(1.05 - 2.0 + 0.5)
    assert out["curvature_d2"] == pytest.approx(1.2 - 2.0 + 1.1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_points": 4}, "n_points must be an odd integer"),
        ({"n_points": 1}, "n_points must be an odd integer"),
        ({"span": 0.0}, "span must be a finite number > 0"),
        ({"rise": float("nan")}, "rise must be a finite number > 0"),
    ],
)
def test_bad_grids_are_refused(multiclass_fit, kwargs, match):
    clf, X, y = multiclass_fit
    with pytest.raises(ValueError, match=match):
        loss_landscape(clf, X, y, **kwargs)


def test_a_bare_module_is_refused(blobs):
    X, y = blobs
    with pytest.raises(TypeError, match="loss_landscape needs a fitted"):
        loss_landscape(TwoLayerReLU(5, 4), X, y)
