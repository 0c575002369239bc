"""Validation of ``method`` and ``method_params``: clear errors, before any dattri import."""

import pytest

from sklearn_attnkernel import TwoLayerReLUClassifier
from sklearn_attnkernel.influence.attribution_params import (
    ATTRIBUTION_METHODS,
    DEFAULT_METHOD_PARAMS,
    check_method_params,
)
from sklearn_attnkernel.influence.estimators import influence_scores


def test_every_method_has_its_defaults_and_they_pass_their_own_checks():
    assert set(DEFAULT_METHOD_PARAMS) == set(ATTRIBUTION_METHODS)
    for method, defaults in DEFAULT_METHOD_PARAMS.items():
        assert check_method_params(method, None) == defaults
        assert check_method_params(method, dict(defaults)) == defaults


def test_a_setting_overrides_only_itself():
    params = check_method_params("trak", {"proj_dim": 64})
    assert params == {**DEFAULT_METHOD_PARAMS["trak"], "proj_dim": 64}


@pytest.mark.parametrize(
    ("method", "params", "match"),
    [
        ("lissa", None, r"method must be 'exact' or one of \['trak'.*got method='lissa'"),
        ("trak", {"damping": 1.0}, r"\['damping'\] that method='trak' does not take.*proj_dim"),
        ("trak", [("proj_dim", 3)], "method_params must be a dict or None; got list"),
        ("trak", {"proj_dim": 0}, r"method_params\['proj_dim'\].*integer >= 1; got 0"),
        ("trak", {"proj_dim": 2.5}, r"method_params\['proj_dim'\].*integer >= 1; got 2.5"),
        ("ekfac", {"damping": -1.0}, r"method_params\['damping'\].*number >= 0.0; got -1.0"),
        ("datainf", {"regularization": float("nan")}, r"\['regularization'\].*got nan"),
        ("tracin", {"learning_rate": 0.0}, r"\['learning_rate'\].*number > 0.0; got 0.0"),
        ("tracin", {"normalized_grad": 1}, r"\['normalized_grad'\] must be a bool; got 1"),
        ("trak", {"proj_type": "sjlt"}, r"\['proj_type'\] must be one of \['normal'"),
        ("ekfac", {"checkpoints": []}, r"\['checkpoints'\] must be None or a non-empty list"),
        ("trak", {"checkpoints": [{"W": 1}]}, r"\['checkpoints'\].*got list"),
    ],
)
def test_bad_method_or_settings_raise_naming_the_parameter(method, params, match):
    with pytest.raises(ValueError, match=match):
        check_method_params(method, params)


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return TwoLayerReLUClassifier(width=8, max_epochs=2, device="cpu", random_state=0).fit(X, y)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"method": "trak", "kernel": "infinite"}, "kernel='infinite' applies to method='exact'"),
        ({"method": "trak", "loss": "cross_entropy"}, "loss='cross_entropy' applies to method="),
        ({"method": "tracin", "return_condition": True}, "return_condition=True applies to"),
        ({"method_params": {"proj_dim": 8}}, "method='exact' takes none"),
        ({"method": "trak", "method_params": {"bad": 1}}, r"\['bad'\] that method='trak'"),
        ({"method": "influence"}, "The 'method' parameter of influence_scores must be"),
    ],
)
def test_influence_scores_refuses_options_of_another_method(fitted, blobs, options, match):
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        influence_scores(fitted, X[:3], y[:3], on_near_chance="ignore", **options)
