"""influence_scores against a kernel built independently, in numpy, from the trained weights."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

from sklearn_attnkernel import (
    LinearizedAttention,
    TwoLayerReLUClassifier,
    loo_influence,
    make_mlp_attn,
    make_two_layer_relu,
)
from sklearn_attnkernel.influence.estimators import influence_scores
from tests.conftest import COLUMN_ORDER_MESSAGE, frames

FAST = {"width": 32, "max_epochs": 3, "lr": 1e-2, "reg_lambda": 0.0, "device": "cpu"}
N_TRAIN, N_TEST, N_FEATURES = 40, 9, 5
ALPHA = 1e-2


def _data(n_classes, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, N_TRAIN + N_TEST)
    centers = rng.normal(size=(n_classes, N_FEATURES))
    X = np.abs(centers[y] + 0.5 * rng.normal(size=(y.size, N_FEATURES))) + 0.05
    X.flags.writeable = False
    y.flags.writeable = False
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


# --- the independent computation: numpy forward pass and closed-form kernels -----------------


def _unit_rows(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _numpy_features(architecture, X_ref, X):
    """Normalizer, then (for MLP-Attn) φ̃(x) = C x / ‖C x‖ with C from the reference rows."""
    if architecture == "2l-relu":
        return _unit_rows(X)
    R = _unit_rows(X_ref)
    return _unit_rows(_unit_rows(X) @ (R.T @ R))


def _numpy_ntk(kind, net, F, G):
    module = net.net_.module_
    W = module.W.detach().double().numpy()
    width = W.shape[0]
    if kind == "empirical":
        # output-averaged: unit r is weighted by the mean of its squared readout entries
        c = np.mean(module.A.detach().double().numpy() ** 2, axis=1)
        K = (F @ G.T) * ((((F @ W.T) > 0) * c) @ ((G @ W.T) > 0).T) / width
        if module.train_readout:
            K += np.maximum(F @ W.T, 0) @ np.maximum(G @ W.T, 0).T / width
        return K
    norms = np.outer(np.linalg.norm(F, axis=1), np.linalg.norm(G, axis=1))
    theta = np.arccos(np.clip(F @ G.T / norms, -1.0, 1.0))
    K = (F @ G.T) * (np.pi - theta) / (2 * np.pi)
    if module.train_readout:
        s2 = module.sigma_w**2
        K += s2 * norms * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)
    return K


def _encode(y, classes):
    if len(classes) == 2:
        return np.where(y == classes[1], 1.0, -1.0)
    return (y[:, None] == classes[None, :]).astype(float)


def _expected(kind, architecture, model, X_ref, y_ref, X_test, y_test, reduce="mean"):
    net = model[-1] if isinstance(model, Pipeline) else model
    F = _numpy_features(architecture, X_ref, X_ref)
    Ft = _numpy_features(architecture, X_ref, X_test)
    K, Kt = _numpy_ntk(kind, net, F, F), _numpy_ntk(kind, net, Ft, F)
    K = (K + K.T) / 2  # float round-off of F @ F.T
    classes = np.unique(y_ref)
    return loo_influence(
        K, _encode(y_ref, classes), Kt, _encode(y_test, classes), alpha=ALPHA, reduce=reduce
    )


def _assert_close(got, expected, rtol=1e-7):
    # The arccos of the infinite-width kernel amplifies round-off for nearly parallel features
    # (~1e-8 relative, see infinite_width_ntk): compare relative to the largest score.
    assert_allclose(got, expected, rtol=rtol, atol=1e-7 * np.max(np.abs(expected)))


def _model(architecture, **params):
    factory = make_two_layer_relu if architecture == "2l-relu" else make_mlp_attn
    return factory(**{**FAST, "dtype": "float64", "random_state": 0, **params})


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["empirical", "infinite"])
@pytest.mark.parametrize("architecture", ["2l-relu", "mlp-attn"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_matches_independent_kernel(kind, architecture, n_classes):
    X, y, Xt, yt = _data(n_classes)
    model = _model(architecture).fit(X, y)
    got = influence_scores(model, Xt, yt, kernel=kind, alpha=ALPHA)
    assert got.shape == (N_TRAIN,)
    _assert_close(got, _expected(kind, architecture, model, X, y, Xt, yt))


@pytest.mark.parametrize("kind", ["empirical", "infinite"])
def test_trained_readout_and_float32_network(kind):
    """The readout term of both kernels, sigma_w, and a float32 network."""
    X, y, Xt, yt = _data(3, seed=1)
    model = _model("mlp-attn", dtype="float32", train_readout=True, sigma_w=0.7).fit(X, y)
    got = influence_scores(model, Xt, yt, kernel=kind, alpha=ALPHA)
    _assert_close(got, _expected(kind, "mlp-attn", model, X, y, Xt, yt), rtol=1e-6)


def test_bare_network_uses_its_training_data():
    X, y, Xt, yt = _data(3)
    net = TwoLayerReLUClassifier(**FAST, dtype="float64", random_state=0).fit(X, y)
    F, Ft = net.X_fit_, Xt
    K, Kt = _numpy_ntk("empirical", net, F, F), _numpy_ntk("empirical", net, Ft, F)
    classes = np.unique(y)
    expected = loo_influence((K + K.T) / 2, _encode(y, classes), Kt, _encode(yt, classes))
    assert_allclose(influence_scores(net, Xt, yt), expected, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("kind", ["empirical", "infinite"])
def test_returned_condition_number_is_the_one_of_the_kernel_system(kind):
    X, y, Xt, yt = _data(3)
    model = _model("mlp-attn").fit(X, y)
    scores, condition = influence_scores(
        model, Xt, yt, kernel=kind, alpha=ALPHA, return_condition=True
    )
    assert_allclose(scores, influence_scores(model, Xt, yt, kernel=kind, alpha=ALPHA), rtol=0)
    net = model[-1]
    F = _numpy_features("mlp-attn", X, X)
    K = _numpy_ntk(kind, net, F, F)
    system = (K + K.T) / 2 + ALPHA * np.eye(N_TRAIN)
    exact = np.linalg.cond(system, 1)  # loo_influence reports LAPACK's lower estimate (#16)
    assert exact / 2.0 <= condition <= exact * (1.0 + 1e-9)


def test_reduce_none_is_per_test_point():
    X, y, Xt, yt = _data(2)
    model = _model("mlp-attn").fit(X, y)
    full = influence_scores(model, Xt, yt, reduce=None, alpha=ALPHA)
    assert full.shape == (N_TEST, N_TRAIN)
    expected = _expected("empirical", "mlp-attn", model, X, y, Xt, yt, reduce=None)
    assert_allclose(full, expected, rtol=1e-7, atol=1e-12)
    assert_allclose(full.mean(axis=0), influence_scores(model, Xt, yt, alpha=ALPHA))


@pytest.mark.parametrize("kind", ["empirical", "infinite"])
def test_new_training_set_refits_attention_only(kind):
    """Transductive semantics: C comes from the new rows, W from the trained network."""
    X, y, Xt, yt = _data(3)
    model = _model("mlp-attn").fit(X, y)
    operator = model.named_steps["attention"].operator_.copy()
    W = model[-1].net_.module_.W.detach().clone()

    rng = np.random.default_rng(5)
    X_new = X + rng.uniform(0.0, 0.3, size=X.shape)
    y_new = y.copy()
    y_new[:3] = (y_new[:3] + 1) % 3  # relabelled points enter the targets too
    X_new.flags.writeable = False
    got = influence_scores(model, Xt, yt, X_train=X_new, y_train=y_new, kernel=kind, alpha=ALPHA)
    _assert_close(got, _expected(kind, "mlp-attn", model, X_new, y_new, Xt, yt))
    # the fitted estimator is left untouched
    assert_allclose(model.named_steps["attention"].operator_, operator, rtol=0, atol=0)
    assert bool((model[-1].net_.module_.W == W).all())
    # the original training set reproduces the fitted state
    same = influence_scores(model, Xt, yt, X_train=X, y_train=y, kernel=kind, alpha=ALPHA)
    assert_allclose(same, influence_scores(model, Xt, yt, kernel=kind, alpha=ALPHA), rtol=1e-9)


def test_other_steps_keep_their_fitted_state():
    """A StandardScaler before the attention is not refitted on a new training set."""
    X, y, Xt, yt = _data(2)
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("attention", LinearizedAttention()),
            ("mlp", TwoLayerReLUClassifier(**FAST, dtype="float64", random_state=0)),
        ]
    ).fit(X, y)
    scaler = model.named_steps["scale"]
    X_new = X * 2.0 + 1.0
    S, St = scaler.transform(X_new), scaler.transform(Xt)  # the fitted mean and scale
    F = _unit_rows(S @ (S.T @ S))
    Ft = _unit_rows(St @ (S.T @ S))
    net = model[-1]
    K, Kt = _numpy_ntk("empirical", net, F, F), _numpy_ntk("empirical", net, Ft, F)
    classes = np.unique(y)
    expected = loo_influence((K + K.T) / 2, _encode(y, classes), Kt, _encode(yt, classes))
    got = influence_scores(model, Xt, yt, X_train=X_new, y_train=y)
    assert_allclose(got, expected, rtol=1e-7, atol=1e-12)


def test_unfitted_estimator_raises():
    _, _, Xt, yt = _data(2)
    with pytest.raises(NotFittedError):
        influence_scores(_model("mlp-attn"), Xt, yt)
    with pytest.raises(NotFittedError):
        influence_scores(TwoLayerReLUClassifier(), Xt, yt)


def test_bad_inputs_raise():
    X, y, Xt, yt = _data(2)
    model = _model("2l-relu").fit(X, y)
    with pytest.raises(ValueError, match="X_test has 9 rows but y_test has 8"):
        influence_scores(model, Xt, yt[:-1])
    with pytest.raises(ValueError, match="X_train has 40 rows but y_train has 39"):
        influence_scores(model, Xt, yt, X_train=X, y_train=y[:-1])
    with pytest.raises(ValueError, match="X_train was given without y_train"):
        influence_scores(model, Xt, yt, X_train=X)
    with pytest.raises(ValueError, match="y_train was given without X_train"):
        influence_scores(model, Xt, yt, y_train=y)
    with pytest.raises(ValueError, match=r"X_train: X has 4 features, but .* expecting 5"):
        influence_scores(model, Xt, yt, X_train=X[:, :4], y_train=y)
    with pytest.raises(ValueError, match=r"X_test: X has 4 features, but .* expecting 5"):
        influence_scores(model, Xt[:, :4], yt)
    with pytest.raises(ValueError, match="alpha"):
        influence_scores(model, Xt, yt, alpha=0.0)
    with pytest.raises(ValueError, match="kernel"):
        influence_scores(model, Xt, yt, kernel="rbf")
    with pytest.raises(ValueError, match="labels not seen in fit"):
        influence_scores(model, Xt, yt + 5)
    bare_net = TwoLayerReLUClassifier(**FAST, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X_test: X has 4 features, but TwoLayerReLUClassifier"):
        influence_scores(bare_net, Xt[:, :4], yt)
    other = Pipeline([("n", Normalizer()), ("lr", LogisticRegression())]).fit(X, y)
    with pytest.raises(TypeError, match="got Pipeline"):
        influence_scores(other, Xt, yt)


# --- input space: column order, sparse and empty input (issue #11 items 1 and 6) -----------


@pytest.mark.parametrize("architecture", ["2l-relu", "mlp-attn", "bare"])
def test_column_order_is_checked_as_predict_does(architecture):
    X, y, Xt, yt = _data(3)
    df, df_test, permuted, permuted_test = frames(X, Xt)
    if architecture == "bare":
        model = TwoLayerReLUClassifier(**FAST, dtype="float64", random_state=0).fit(df, y)
    else:
        model = _model(architecture).fit(df, y)
    with pytest.raises(ValueError, match=COLUMN_ORDER_MESSAGE):
        model.predict(permuted_test)  # the reference behaviour
    with pytest.raises(ValueError, match=f"(?s)X_test: .*{COLUMN_ORDER_MESSAGE}"):
        influence_scores(model, permuted_test, yt)
    with pytest.raises(ValueError, match=f"(?s)X_train: .*{COLUMN_ORDER_MESSAGE}"):
        influence_scores(model, df_test, yt, X_train=permuted, y_train=y)
    # the frames in the fitted order give the numbers of the same rows as arrays, bit for bit
    # (the same C-ordered float64 values go through the same computation); arrays draw
    # sklearn's warning, as they do in predict
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        expected = influence_scores(model, Xt, yt)
    np.testing.assert_array_equal(influence_scores(model, df_test, yt), expected)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        expected = influence_scores(model, Xt, yt, X_train=X, y_train=y)
    got = influence_scores(model, df_test, yt, X_train=df, y_train=y)
    np.testing.assert_array_equal(got, expected)


def test_sparse_and_empty_input_name_the_cause():
    X, y, Xt, yt = _data(2)
    model = _model("2l-relu").fit(X, y)
    with pytest.raises(TypeError, match=r"X_test is a sparse matrix .* X_test\.toarray\(\)"):
        influence_scores(model, sp.csr_matrix(Xt), yt)
    with pytest.raises(TypeError, match=r"X_train is a sparse matrix .* X_train\.toarray\(\)"):
        influence_scores(model, Xt, yt, X_train=sp.csr_matrix(X), y_train=y)
    for empty in ([], np.empty((0, N_FEATURES))):
        with pytest.raises(ValueError, match=r"X_train \(the training set\) is empty"):
            influence_scores(model, Xt, yt, X_train=empty, y_train=[])
    with pytest.raises(ValueError, match="X_test is empty"):
        influence_scores(model, Xt[:0], yt[:0])
