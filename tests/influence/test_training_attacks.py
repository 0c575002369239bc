"""Attacks on training points through the pipeline, against numpy refits and finite differences.

The independent computation of the transductive objective refits the numpy pipeline's
transformers on the perturbed training matrix (Normalizer has no constants, so a refit changes
only the attention reference set) and applies the network in numpy.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_attnkernel import make_mlp_attn, make_two_layer_relu
from sklearn_attnkernel.influence.training_attacks import (
    _attacked_loss,
    _task_loss,
    attack_training_points,
)
from sklearn_attnkernel.networks.torch_mirror import TorchPipeline
from tests.conftest import COLUMN_ORDER_MESSAGE, frames

N, D = 24, 5
FAST = {
    "width": 16,
    "lr": 0.05,
    "reg_lambda": 0.0,
    "max_epochs": 10,
    "dtype": "float64",
    "device": "cpu",
    "random_state": 0,
}
ATTACKED = np.array([2, 7, 11])


def _data(n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.05, 0.95, size=(N, D))
    y = np.arange(N) % n_classes
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


_MODELS = {}


def _model(kind, n_classes=3, **params):
    """Fitted model, cached per configuration (fits are deterministic under the seed)."""
    key = (kind, n_classes, tuple(sorted(params.items())))
    if key not in _MODELS:
        X, y = _data(n_classes)
        if kind == "2l-relu":
            model = make_two_layer_relu(**FAST, **params)
        else:
            model = make_mlp_attn(attention=kind, **FAST, **params)
        _MODELS[key] = model.fit(X, y)
    return _MODELS[key]


def _numpy_network(model, F):
    net = model[-1].net_.module_
    W, A = net.W.detach().numpy(), net.A.detach().numpy()
    return np.maximum(F @ W.T, 0) @ A / np.sqrt(W.shape[0])


def _numpy_loss(model, X_full, y, rows):
    """Summed task loss of `rows`, the transformers refitted on X_full (transductive)."""
    transformers = clone(model[:-1]).fit(X_full)
    out = _numpy_network(model, transformers.transform(X_full[rows]))
    est, labels = model[-1], y[rows]
    if est.n_outputs_ > 1:  # cross-entropy
        shifted = out - out.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -log_p[np.arange(len(rows)), np.searchsorted(est.classes_, labels)].sum()
    target = est.encode_targets(labels)
    if getattr(est, "binary_loss", "mse") == "cross_entropy":
        z, t = out, (target + 1) / 2
        return (np.logaddexp(0, z) - t * z).sum()
    return ((out - target) ** 2).sum()


def _torch_loss(model, X_full, y, rows, *, detach_reference=False):
    tp = TorchPipeline.from_estimator(model)
    loss = _task_loss(model[-1], y[rows], torch.float64, torch.device("cpu"))
    rows_t = torch.as_tensor(rows)
    positions = torch.arange(len(rows))
    if detach_reference:  # the "local" gradient: reference held fixed at X_full
        out = tp(X_full[rows_t], reference=X_full.detach())
        return loss(out, positions)
    return _attacked_loss(tp, lambda out: loss(out, positions), X_full, rows_t)


@pytest.mark.parametrize(
    ("kind", "n_classes", "params"),
    [
        ("linear", 3, {}),
        ("softmax", 3, {}),
        ("exponential", 2, {"binary_loss": "cross_entropy"}),
        ("2l-relu", 2, {}),
    ],
)
def test_task_loss_equals_numpy_loss(kind, n_classes, params):
    model = _model(kind, n_classes, **params)
    X, y = _data(n_classes)
    value = _torch_loss(model, torch.tensor(X), y, ATTACKED).item()
    np.testing.assert_allclose(value, _numpy_loss(model, X, y, ATTACKED), rtol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "softmax"])
def test_transductive_gradient_matches_central_differences(kind):
    model = _model(kind)
    X, y = _data()
    X_leaf = torch.tensor(X, requires_grad=True)
    (grad,) = torch.autograd.grad(_torch_loss(model, X_leaf, y, ATTACKED), X_leaf)
    grad = grad.numpy()
    h = 1e-6
    clean_row = 0  # not attacked: it acts only through the reference set C(X′)
    checked = [(ATTACKED[0], j) for j in range(D)] + [(clean_row, j) for j in range(D)]
    fd = np.empty(len(checked))
    for k, (i, j) in enumerate(checked):
        plus, minus = X.copy(), X.copy()
        plus[i, j] += h
        minus[i, j] -= h
        fd[k] = (_numpy_loss(model, plus, y, ATTACKED) - _numpy_loss(model, minus, y, ATTACKED)) / (
            2 * h
        )
    autograd = np.array([grad[i, j] for i, j in checked])
    np.testing.assert_allclose(autograd, fd, rtol=1e-5, atol=1e-8)
    # the reference-set contribution is real: a clean row moves the attacked rows' loss ...
    assert np.abs(grad[clean_row]).max() > 1e-4
    # ... and the local gradient (reference held fixed) misses part of the attacked rows' one
    X_leaf2 = torch.tensor(X, requires_grad=True)
    (local,) = torch.autograd.grad(
        _torch_loss(model, X_leaf2, y, ATTACKED, detach_reference=True), X_leaf2
    )
    assert not np.allclose(local.numpy()[ATTACKED], grad[ATTACKED], rtol=1e-3, atol=1e-6)
    np.testing.assert_array_equal(local.numpy()[clean_row], 0.0)


@pytest.mark.parametrize("kind", ["linear", "2l-relu"])
@pytest.mark.parametrize("method", ["pgd", "fgsm", "mim", "random"])
@pytest.mark.parametrize("clip", [None, (0.0, 1.0)])
def test_attack_stays_in_ball_and_clip_and_increases_loss(kind, method, clip):
    model = _model(kind)
    X, y = _data()
    eps = 0.1
    X_adv = attack_training_points(
        model,
        X,
        y,
        ATTACKED,
        method=method,
        epsilon=eps,
        steps=10,
        step_size=0.02,
        clip=clip,
        random_state=0,
    )
    assert X_adv.dtype == X.dtype
    assert X_adv.shape == X.shape
    untouched = np.setdiff1d(np.arange(N), ATTACKED)
    np.testing.assert_array_equal(X_adv[untouched], X[untouched])
    assert np.abs(X_adv - X).max() <= eps + 1e-12
    if clip is not None:
        assert X_adv.min() >= clip[0]
        assert X_adv.max() <= clip[1]
    if method != "random":
        before = _numpy_loss(model, X, y, ATTACKED)
        after = _numpy_loss(model, X_adv, y, ATTACKED)
        assert after > before * 1.01


@pytest.mark.parametrize("method", ["pgd", "fgsm", "mim"])
def test_independent_equals_attacking_each_point_alone(method):
    model = _model("linear")
    X, y = _data()
    kwargs = {"method": method, "epsilon": 0.1, "steps": 5, "random_state": 3}
    independent = attack_training_points(model, X, y, ATTACKED, mode="independent", **kwargs)
    alone = X.copy()
    for i in ATTACKED:
        alone[i] = attack_training_points(model, X, y, [i], **kwargs)[i]
    np.testing.assert_array_equal(independent, alone)


@pytest.mark.parametrize("method", ["fgsm", "mim"])
def test_joint_equals_independent_without_attention(method):
    # 2L-ReLU has no reference set: the summed loss is separable across points
    model = _model("2l-relu")
    X, y = _data()
    joint = attack_training_points(model, X, y, ATTACKED, method=method, epsilon=0.1, steps=5)
    indep = attack_training_points(
        model, X, y, ATTACKED, method=method, epsilon=0.1, steps=5, mode="independent"
    )
    np.testing.assert_allclose(joint, indep, atol=1e-12)


def test_random_baseline_is_seeded_signs_of_size_epsilon():
    model = _model("linear")
    X, y = _data()
    eps = 0.25
    a = attack_training_points(model, X, y, ATTACKED, method="random", epsilon=eps, random_state=5)
    b = attack_training_points(model, X, y, ATTACKED, method="random", epsilon=eps, random_state=5)
    c = attack_training_points(model, X, y, ATTACKED, method="random", epsilon=eps, random_state=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rows = a[ATTACKED]
    plus, minus = rows == X[ATTACKED] + eps, rows == X[ATTACKED] - eps
    assert np.all(plus | minus)
    assert plus.any()
    assert minus.any()
    indep = attack_training_points(
        model, X, y, ATTACKED, method="random", epsilon=eps, random_state=5, mode="independent"
    )
    np.testing.assert_array_equal(indep, a)
    clipped = attack_training_points(
        model, X, y, ATTACKED, method="random", epsilon=eps, random_state=5, clip=(0.0, 1.0)
    )
    np.testing.assert_array_equal(clipped, np.clip(a, 0.0, 1.0))


@pytest.mark.parametrize("method", ["pgd", "fgsm", "mim", "random"])
def test_zero_epsilon_returns_a_copy(method):
    model = _model("softmax")
    X, y = _data()
    X_adv = attack_training_points(model, X, y, ATTACKED, method=method, epsilon=0.0)
    np.testing.assert_array_equal(X_adv, X)
    assert X_adv.flags.writeable


def test_float32_input_keeps_its_dtype():
    model = _model("linear")
    X, y = _data()
    X32 = X.astype(np.float32)
    X_adv = attack_training_points(model, X32, y, ATTACKED, method="fgsm", epsilon=0.1)
    assert X_adv.dtype == np.float32
    assert np.abs(X_adv - X32).max() <= 0.1 + 1e-6


def test_bad_input():
    model = _model("linear")
    X, y = _data()
    with pytest.raises(NotFittedError):
        attack_training_points(make_mlp_attn(**FAST), X, y, ATTACKED)
    with pytest.raises(InvalidParameterError, match="epsilon"):
        attack_training_points(model, X, y, ATTACKED, epsilon=-0.1)
    with pytest.raises(InvalidParameterError, match="method"):
        attack_training_points(model, X, y, ATTACKED, method="cw")
    with pytest.raises(InvalidParameterError, match="mode"):
        attack_training_points(model, X, y, ATTACKED, mode="pairwise")
    with pytest.raises(ValueError, match=r"outside \[0, 24\)"):
        attack_training_points(model, X, y, [3, 24])
    with pytest.raises(ValueError, match=r"outside \[0, 24\)"):
        attack_training_points(model, X, y, [-1])
    with pytest.raises(ValueError, match=r"duplicates \[3\]"):
        attack_training_points(model, X, y, [3, 3])
    with pytest.raises(ValueError, match="non-empty 1-D array of integer"):
        attack_training_points(model, X, y, [])
    with pytest.raises(ValueError, match="non-empty 1-D array of integer"):
        attack_training_points(model, X, y, [1.0, 2.0])
    with pytest.raises(ValueError, match="X_train: X has 4 features"):
        attack_training_points(model, X[:, :4], y, ATTACKED)
    with pytest.raises(ValueError, match="y_train has shape"):
        attack_training_points(model, X, y[:-1], ATTACKED)
    with pytest.raises(ValueError, match="outside clip"):
        attack_training_points(model, X, y, ATTACKED, clip=(0.0, 0.5))
    with pytest.raises(ValueError, match="lo < hi"):
        attack_training_points(model, X, y, ATTACKED, clip=(1.0, 0.0))
    with pytest.raises(TypeError, match="bare"):
        attack_training_points(model[-1].net_.module_, X, y, ATTACKED)


@pytest.mark.parametrize("method", ["fgsm", "random"])
def test_column_order_is_checked_as_predict_does(method):
    X, y = _data()
    df, permuted = frames(X)
    model = make_mlp_attn(**FAST).fit(df, y)
    options = {"method": method, "epsilon": 0.1, "random_state": 0}
    with pytest.raises(ValueError, match=f"(?s)X_train: .*{COLUMN_ORDER_MESSAGE}"):
        attack_training_points(model, permuted, y, ATTACKED, **options)
    # in the fitted order: the rows of the same array, exactly (the array draws sklearn's
    # warning, as predict does); the attack moved the rows, so the check is not empty
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        expected = attack_training_points(model, X, y, ATTACKED, **options)
    got = attack_training_points(model, df, y, ATTACKED, **options)
    np.testing.assert_array_equal(got, expected)
    assert not np.array_equal(got[ATTACKED], X[ATTACKED])


def test_sparse_and_empty_training_set_name_the_cause():
    X, y = _data()
    model = _model("linear")
    with pytest.raises(TypeError, match=r"X_train is a sparse matrix .* X_train\.toarray\(\)"):
        attack_training_points(model, sp.csr_matrix(X), y, ATTACKED)
    with pytest.raises(ValueError, match=r"X_train \(the training set\) is empty"):
        attack_training_points(model, X[:0], y[:0], ATTACKED)
