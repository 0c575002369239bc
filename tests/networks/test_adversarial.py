"""Adversarial training (sklearn_attnkernel.networks.adversarial): the config, and training
alone and through a pipeline."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_attnkernel import (
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
    make_adversarially_trained,
    make_mlp_attn,
    make_two_layer_relu,
    pgd,
)
from sklearn_attnkernel.networks.adversarial import check_adversarial_training
from sklearn_attnkernel.networks.base import BaseTwoLayerReLU
from sklearn_attnkernel.networks.pipelines import NetworkPipeline
from sklearn_attnkernel.networks.skorch_net import RegularizedNet
from sklearn_attnkernel.networks.torch_mirror import TorchPipeline

FAST = {
    "width": 16,
    "max_epochs": 3,
    "lr": 0.05,
    "reg_lambda": 0.0,
    "batch_size": 16,
    "dtype": "float64",
    "device": "cpu",
    "random_state": 0,
}


def _data(n=48, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, d))
    y = np.arange(n) % 3
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


@pytest.fixture
def spy(monkeypatch):
    """Record every (clean, adversarial) batch and the X each training loss was computed on."""
    record = {"attacks": [], "loss_inputs": []}
    attack, get_loss = RegularizedNet._adversarial_batch, RegularizedNet.get_loss

    def spy_attack(self, Xi, yi):
        X_adv = attack(self, Xi, yi)
        record["attacks"].append((Xi.detach().clone(), X_adv.detach().clone()))
        return X_adv

    def spy_loss(self, y_pred, y_true, X=None, training=False):
        if training:
            record["loss_inputs"].append(X.detach().clone())
        return get_loss(self, y_pred, y_true, X=X, training=training)

    monkeypatch.setattr(RegularizedNet, "_adversarial_batch", spy_attack)
    monkeypatch.setattr(RegularizedNet, "get_loss", spy_loss)
    return record


def _check_batches(record, X, epsilon, n_batches, clip=None):
    assert len(record["attacks"]) == n_batches
    assert len(record["loss_inputs"]) == n_batches
    rows = {tuple(row) for row in X.tolist()}
    for (clean, adv), trained_on in zip(record["attacks"], record["loss_inputs"], strict=True):
        assert torch.equal(trained_on, adv)  # the loss is computed on the adversarial batch
        assert all(tuple(row) in rows for row in clean.tolist())  # made from training rows
        delta = (adv - clean).abs().max().item()
        assert 0 < delta <= epsilon + 1e-12
        if clip is not None:
            assert adv.min().item() >= clip[0]
            assert adv.max().item() <= clip[1]


@pytest.mark.parametrize("method", ["pgd", "fgsm", "mim"])
def test_training_batches_are_adversarial_and_in_the_ball(spy, method):
    X, y = _data()
    eps = 0.05
    config = {"epsilon": eps, "steps": 3, "method": method}
    clf = TwoLayerReLUClassifier(**FAST, adversarial_training=config).fit(X, y)
    _check_batches(spy, X, eps, n_batches=3 * 3)
    if method == "fgsm":  # one full step of size ε on every coordinate with a gradient
        clean, adv = spy["attacks"][0]
        assert torch.isclose((adv - clean).abs().max(), torch.tensor(eps, dtype=torch.float64))
    assert clf.adversarial_training == config  # the parameter is left as given


def test_regressor_batches_are_adversarial(spy):
    X, y = _data()
    reg = TwoLayerReLURegressor(**FAST, adversarial_training={"epsilon": 0.1, "steps": 2})
    reg.fit(X, y.astype(float))
    _check_batches(spy, X, 0.1, n_batches=9)


def test_zero_epsilon_without_random_start_is_standard_training():
    # the attack must leave the parameters' gradients and the shuffling generator alone
    X, y = _data()
    standard = TwoLayerReLUClassifier(**FAST).fit(X, y)
    adversarial = TwoLayerReLUClassifier(
        **FAST, adversarial_training={"epsilon": 0.0, "random_start": False}
    ).fit(X, y)
    assert torch.equal(standard.net_.module_.W, adversarial.net_.module_.W)


def test_pipeline_attacks_the_raw_input_through_the_transformers(spy):
    X, y = _data()
    eps = 0.1
    model = make_adversarially_trained(
        make_mlp_attn(**FAST), epsilon=eps, steps=2, clip=(0.0, 1.0)
    ).fit(X, y)
    _check_batches(spy, X, eps, n_batches=9, clip=(0.0, 1.0))  # batches are rows of the raw X
    clf = model[-1]
    assert clf.net_.input_transform is None  # dropped after training: net_ maps features
    np.testing.assert_allclose(clf.X_fit_, model[:-1].transform(X), atol=1e-12)
    tp = TorchPipeline.from_estimator(model)
    np.testing.assert_allclose(tp(torch.tensor(X)).numpy(), model.decision_function(X), atol=1e-10)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_adversarially_trained_model_is_more_robust_on_digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixels in [0, 1]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=600, test_size=300, random_state=0, stratify=y
    )
    eps = 0.2
    params = {
        "width": 128,
        "lr": 1e-2,
        "reg_lambda": 0.0,
        "max_epochs": 30,
        "batch_size": 64,
        "device": "cpu",
        "random_state": 0,
    }

    def robust_accuracy(model):
        tp = TorchPipeline.from_estimator(model)
        x = torch.tensor(X_test)
        target = torch.tensor(np.searchsorted(model[-1].classes_, y_test))

        def loss(z):
            return torch.nn.functional.cross_entropy(tp(z), target, reduction="sum")

        x_adv = pgd(loss, x, epsilon=eps, steps=10, step_size=0.05, clip=(0, 1), random_state=0)
        return (tp(x_adv).argmax(dim=1) == target).double().mean().item()

    standard = make_two_layer_relu(**params).fit(X_train, y_train)
    robust = make_adversarially_trained(
        make_two_layer_relu(**params), epsilon=eps, steps=5, clip=(0, 1)
    ).fit(X_train, y_train)
    assert standard.score(X_test, y_test) > 0.85
    assert robust.score(X_test, y_test) > 0.8
    # measured: 0.04 for the standard model against 0.43 for the adversarially trained one
    assert robust_accuracy(robust) > robust_accuracy(standard) + 0.2


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"eps": 0.1}, r"unknown key\(s\) \['eps'\]"),
        ({"epsilon": -0.1}, r"\['epsilon'\] must be a finite number >= 0"),
        ({"epsilon": float("nan")}, r"\['epsilon'\]"),
        ({"steps": 0}, r"\['steps'\] must be an integer >= 1"),
        ({"steps": 2.0}, r"\['steps'\]"),
        ({"step_size": 0}, r"\['step_size'\]"),
        ({"random_start": "yes"}, r"\['random_start'\]"),
        ({"clip": (1, 0)}, r"\['clip'\]"),
        ({"clip": 1.0}, r"\['clip'\]"),
        ({"method": "cw"}, r"\['method'\] must be one of"),
    ],
)
def test_bad_adversarial_training_dict(config, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        TwoLayerReLUClassifier(**FAST, adversarial_training=config).fit(X, y)
    with pytest.raises(ValueError, match=match):
        make_adversarially_trained(make_two_layer_relu(**FAST), **config)


def test_bad_input():
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="adversarial_training"):
        TwoLayerReLUClassifier(**FAST, adversarial_training=[0.1]).fit(X, y)
    with pytest.raises(ValueError, match=r"outside adversarial_training\['clip'\]"):
        TwoLayerReLUClassifier(**FAST, adversarial_training={"clip": (0.0, 0.5)}).fit(X, y)
    with pytest.raises(TypeError, match="Pipeline ending in"):
        make_adversarially_trained(Normalizer(), epsilon=0.1)
    model = make_adversarially_trained(make_two_layer_relu(**FAST), epsilon=0.1)
    with pytest.raises(TypeError, match="fit parameters"):
        model.fit(X, y, mlp__sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="caching"):
        model.set_params(memory="/tmp/never-used").fit(X, y)
    bad = NetworkPipeline([("norm", Normalizer()), ("last", Normalizer())])
    with pytest.raises(TypeError, match="last step"):
        bad.fit(X, y)


def test_helper_clones_and_plain_fit_without_adversarial_training():
    X, y = _data()
    original = make_two_layer_relu(**FAST)
    model = make_adversarially_trained(original, epsilon=0.1)
    assert original[-1].adversarial_training is None  # not modified
    assert model[-1] is not original[-1]
    bare = make_adversarially_trained(TwoLayerReLUClassifier(**FAST), epsilon=0.1)
    assert bare.adversarial_training == {"epsilon": 0.1}
    # adversarial_training=None: exactly the plain pipeline's fit
    model.set_params(mlp__adversarial_training=None).fit(X, y)
    plain = Pipeline(original.steps).fit(X, y)
    np.testing.assert_array_equal(model.decision_function(X), plain.decision_function(X))


_ADV = {"epsilon": 0.05, "steps": 2}
_CHECK_SETTINGS = {**FAST, "max_epochs": 20, "batch_size": 128}  # as in test_common.py


@parametrize_with_checks(
    [
        TwoLayerReLUClassifier(**_CHECK_SETTINGS, adversarial_training=_ADV),
        TwoLayerReLURegressor(**_CHECK_SETTINGS, adversarial_training=_ADV),
    ]
)
def test_sklearn_checks_with_adversarial_training(estimator, check):
    check(estimator)


def test_check_adversarial_training_completes_the_defaults():
    cfg = check_adversarial_training({"epsilon": 0.2, "steps": 4, "clip": [0, 1]})
    assert cfg == {
        "epsilon": 0.2,
        "steps": 4,
        "step_size": 2.5 * 0.2 / 4,
        "random_start": True,
        "clip": (0.0, 1.0),
        "method": "pgd",
    }
    assert check_adversarial_training({"epsilon": 0})["step_size"] == 1.0
    assert check_adversarial_training({"random_start": np.bool_(False)})["random_start"] is False


def test_pipeline_hands_the_torch_map_of_its_transformers_to_the_network(monkeypatch):
    """NetworkPipeline builds the torch map of its fitted transformers and passes it to the
    network's fit (the network never builds it): the map sends the raw X to the features."""
    X, y = _data()
    seen = {}
    fit_network = BaseTwoLayerReLU._fit_network

    def spy(self, X_features, y_train, n_outputs, criterion, input_space=None):
        seen["features"], seen["input_space"] = X_features, input_space
        return fit_network(self, X_features, y_train, n_outputs, criterion, input_space)

    monkeypatch.setattr(BaseTwoLayerReLU, "_fit_network", spy)
    model = make_adversarially_trained(make_mlp_attn(**FAST), epsilon=0.05, steps=2).fit(X, y)
    X_input, input_map = seen["input_space"]
    np.testing.assert_array_equal(X_input, X)
    mapped = input_map(torch.tensor(X))
    assert mapped.dtype == torch.float64  # the network's dtype
    np.testing.assert_allclose(mapped.numpy(), seen["features"], atol=1e-12)
    np.testing.assert_allclose(mapped.numpy(), model[:-1].transform(X), atol=1e-12)
    seen.clear()
    make_mlp_attn(**FAST).fit(X, y)  # without adversarial training: the plain pipeline's fit
    assert seen["input_space"] is None
