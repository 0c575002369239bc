"""influence_scores: skipped pipeline steps, the loss, targets and column names (#15).

Each test fails under a mutant of ``influence/estimators.py`` that the tests of
``test_estimators.py`` let through (docs/mutation/influence.inc); the expected numbers come from
the numpy kernels of ``test_estimators.py`` and a direct :func:`loo_influence` call.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

from sklearn_attnkernel import TwoLayerReLUClassifier, loo_influence
from sklearn_attnkernel.influence.estimators import influence_scores
from tests.influence.test_estimators import (
    ALPHA,
    FAST,
    N_FEATURES,
    _data,
    _encode,
    _model,
    _numpy_ntk,
    _unit_rows,
)

NET = {**FAST, "dtype": "float64", "random_state": 0}


def _expected(net, F, y, Ft, yt, **params):
    K, Kt = _numpy_ntk("empirical", net, F, F), _numpy_ntk("empirical", net, Ft, F)
    classes = np.unique(y)
    return loo_influence(
        (K + K.T) / 2, _encode(y, classes), Kt, _encode(yt, classes), alpha=ALPHA, **params
    )


def test_passthrough_and_none_steps_are_skipped():
    X, y, Xt, yt = _data(3)
    steps = [("skip", "passthrough"), ("none", None), ("norm", Normalizer())]
    model = Pipeline([*steps, ("mlp", TwoLayerReLUClassifier(**NET))]).fit(X, y)
    got = influence_scores(model, Xt, yt, alpha=ALPHA, on_near_chance="ignore")
    expected = _expected(model[-1], _unit_rows(X), y, _unit_rows(Xt), yt)
    assert_allclose(got, expected, rtol=1e-7, atol=1e-12)


def test_feature_count_at_the_network_is_checked():
    """A pipeline of skipped steps has no n_features_in_: the network's count is the check."""
    X, y, Xt, yt = _data(2)
    model = Pipeline([("skip", "passthrough"), ("mlp", TwoLayerReLUClassifier(**NET))]).fit(X, y)
    with pytest.raises(ValueError, match="X_test gives 4 features at the network but it was fi"):
        influence_scores(model, Xt[:, :4], yt, on_near_chance="ignore")
    for kernel in ("empirical", "infinite"):
        with pytest.raises(ValueError, match="X_train gives 4 features at the network but it"):
            influence_scores(
                model, Xt, yt, X_train=X[:, :4], y_train=y, kernel=kernel, on_near_chance="ignore"
            )


def test_cross_entropy_loss_is_passed_on():
    X, y, Xt, yt = _data(3)
    model = _model("2l-relu").fit(X, y)
    got = influence_scores(
        model, Xt, yt, alpha=ALPHA, loss="cross_entropy", on_near_chance="ignore"
    )
    F, Ft = _unit_rows(X), _unit_rows(Xt)
    expected = _expected(model[-1], F, y, Ft, yt, loss="cross_entropy")
    assert_allclose(got, expected, rtol=1e-7, atol=1e-12)
    # the two losses differ here, so the comparison above tells them apart
    assert not np.allclose(expected, _expected(model[-1], F, y, Ft, yt), rtol=1e-3)


def test_zero_dimensional_target_is_counted_as_no_entries():
    X, y, Xt, yt = _data(2)
    model = _model("2l-relu").fit(X, y)
    with pytest.raises(ValueError, match="X_test has 1 rows but y_test has 0 entries"):
        influence_scores(model, Xt[:1], np.asarray(yt[0]), on_near_chance="ignore")


@pytest.mark.parametrize("architecture", ["2l-relu", "mlp-attn"])
def test_frames_in_fit_order_reach_the_steps_with_their_names(architecture):
    """No "X does not have valid feature names" warning from the pipeline's own steps."""
    X, y, Xt, yt = _data(3)
    columns = [f"x{j}" for j in range(N_FEATURES)]
    df, df_test = pd.DataFrame(X, columns=columns), pd.DataFrame(Xt, columns=columns)
    model = _model(architecture).fit(df, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        influence_scores(model, df_test, yt, on_near_chance="ignore")
        influence_scores(model, df_test, yt, X_train=df, y_train=y, on_near_chance="ignore")
