"""InfluenceMalleability: the score against a step-by-step computation, CV, pickling, bad input."""

import math
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline

from sklearn_attnkernel import TwoLayerReLUClassifier, make_mlp_attn, make_two_layer_relu
from sklearn_attnkernel.influence.estimators import influence_scores
from sklearn_attnkernel.influence.scorer import InfluenceMalleability
from sklearn_attnkernel.influence.training_attacks import attack_training_points
from tests.conftest import COLUMN_ORDER_MESSAGE, frames

FAST = {
    "width": 32,
    "max_epochs": 5,
    "lr": 1e-2,
    "reg_lambda": 0.0,
    "dtype": "float64",
    "device": "cpu",
    "random_state": 0,
}
ATTACK = {"epsilon": 0.2, "steps": 5, "step_size": 0.05}
ALPHA = 1e-2


def _mlp_attn(**params):
    return make_mlp_attn(**{**FAST, **params})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 60
    y = np.arange(n) % 3
    centers = rng.uniform(0.2, 0.8, size=(3, 6))
    X = np.clip(centers[y] + 0.15 * rng.normal(size=(n, 6)), 0.0, 1.0)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return _mlp_attn().fit(X[:45], y[:45])


def _top(scores, fraction):
    k = math.ceil(fraction * scores.size)
    top = np.argsort(-scores, kind="stable")[:k]
    return top[scores[top] > 0]


@pytest.mark.parametrize("refit", [False, True])
def test_scores_match_a_step_by_step_computation(data, fitted, refit):
    """FGSM is deterministic, so every step can be redone by hand."""
    X, y = data
    Xtr, ytr, Xte, yte = X[:45], y[:45], X[45:], y[45:]
    before = influence_scores(fitted, Xte, yte, X_train=Xtr, y_train=ytr, alpha=ALPHA)
    top = _top(before, 0.2)
    assert top.size > 0
    X_adv = attack_training_points(fitted, Xtr, ytr, top, method="fgsm", epsilon=0.2)
    model = clone(fitted).fit(X_adv, ytr) if refit else fitted
    after = influence_scores(model, Xte, yte, X_train=X_adv, y_train=ytr, alpha=ALPHA)

    common = {"attack": "fgsm", "epsilon": 0.2, "top_fraction": 0.2, "alpha": ALPHA}
    flip = InfluenceMalleability(**common, refit=refit)(fitted, Xte, yte)
    assert flip == pytest.approx(-np.mean(after[top] <= 0))
    rho = InfluenceMalleability(**common, metric="spearman", refit=refit)(fitted, Xte, yte)
    assert rho == pytest.approx(spearmanr(before, after).statistic)
    overlap = InfluenceMalleability(**common, metric="top_k", refit=refit)(fitted, Xte, yte)
    k = math.ceil(0.2 * 45)
    top_after = np.argsort(-after, kind="stable")[:k]
    expected = len(set(np.argsort(-before, kind="stable")[:k]) & set(top_after)) / k
    assert overlap == pytest.approx(expected)
    # the attack did change the influence, so the test is not trivially passing
    assert not np.allclose(before, after)


@pytest.mark.parametrize("attack", ["pgd", "fgsm", "mim", "random"])
def test_zero_epsilon_leaves_influence_unchanged(data, fitted, attack):
    X, y = data
    for metric, expected in [("flip_rate", 0.0), ("spearman", 1.0), ("top_k", 1.0)]:
        scorer = InfluenceMalleability(
            metric=metric, attack=attack, epsilon=0.0, steps=3, alpha=ALPHA, random_state=0
        )
        # ρ of two identical vectors is 1 up to scipy's round-off
        assert scorer(fitted, X[45:], y[45:]) == pytest.approx(expected, abs=1e-12)


def test_zero_epsilon_with_refit(data):
    X, y = data
    model = TwoLayerReLUClassifier(**FAST).fit(X[:45], y[:45])
    scorer = InfluenceMalleability(metric="spearman", epsilon=0.0, refit=True, alpha=ALPHA)
    assert scorer(model, X[45:], y[45:]) == pytest.approx(1.0, abs=1e-12)


def test_random_attack_is_seeded(data, fitted):
    X, y = data
    scorer = InfluenceMalleability(
        metric="spearman", attack="random", epsilon=0.3, alpha=ALPHA, random_state=7
    )
    first = scorer(fitted, X[45:], y[45:])
    assert first < 1.0  # the perturbation did something
    assert scorer(fitted, X[45:], y[45:]) == first
    assert pickle.loads(pickle.dumps(scorer))(fitted, X[45:], y[45:]) == first


def test_n_test_subsamples_the_held_out_rows(data, fitted):
    X, y = data
    rows = np.sort(np.random.RandomState(3).choice(15, size=6, replace=False))
    common = {"metric": "spearman", "attack": "fgsm", **ATTACK, "alpha": ALPHA}
    subset = InfluenceMalleability(**common, n_test=6, random_state=3)(fitted, X[45:], y[45:])
    direct = InfluenceMalleability(**common)(fitted, X[45:][rows], y[45:][rows])
    assert subset == direct
    # n_test above the number of rows uses them all
    everything = InfluenceMalleability(**common, n_test=100)(fitted, X[45:], y[45:])
    assert everything == InfluenceMalleability(**common)(fitted, X[45:], y[45:])


def test_pickles_and_repr():
    scorer = InfluenceMalleability(metric="top_k", epsilon=0.1, random_state=1)
    clone_ = pickle.loads(pickle.dumps(scorer))
    assert (
        repr(clone_)
        == repr(scorer)
        == ("InfluenceMalleability(metric='top_k', epsilon=0.1, random_state=1)")
    )
    assert repr(InfluenceMalleability()) == "InfluenceMalleability()"


def test_cross_validate_in_parallel_uses_the_training_fold(data):
    X, y = data
    cv = KFold(3, shuffle=True, random_state=0)
    scoring = {
        "flip": InfluenceMalleability(**ATTACK, alpha=ALPHA, random_state=0),
        "rho": InfluenceMalleability(metric="spearman", **ATTACK, alpha=ALPHA, random_state=0),
        "acc": "accuracy",
    }
    model = _mlp_attn()
    result = cross_validate(model, X, y, cv=cv, scoring=scoring, n_jobs=2, error_score="raise")
    # each fold's score equals the scorer applied, here, to a model fitted on that fold
    for fold, (train, test) in enumerate(cv.split(X)):
        fitted = clone(model).fit(X[train], y[train])
        assert result["test_flip"][fold] == scoring["flip"](fitted, X[test], y[test])
        assert result["test_rho"][fold] == scoring["rho"](fitted, X[test], y[test])
    assert np.all((result["test_flip"] <= 0) & (result["test_flip"] >= -1))
    assert np.all(np.abs(result["test_rho"]) <= 1)


def test_grid_search_in_parallel(data):
    X, y = data
    search = GridSearchCV(
        make_two_layer_relu(**FAST),
        {"mlp__width": [8, 32]},
        scoring=InfluenceMalleability(metric="top_k", **ATTACK, alpha=ALPHA, random_state=0),
        cv=2,
        n_jobs=2,
        error_score="raise",
    )
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores >= 0) & (scores <= 1))
    assert search.best_params_["mlp__width"] == [8, 32][int(np.argmax(scores))]


TRAK = {"method": "trak", "method_params": {"proj_dim": 16}}


def test_a_dattri_method_scores_inside_cross_validate_and_grid_search_in_parallel(data):
    pytest.importorskip("dattri")
    X, y = data
    cv = KFold(3, shuffle=True, random_state=0)
    scorer = InfluenceMalleability(metric="spearman", **ATTACK, **TRAK, random_state=0)
    model = _mlp_attn()
    result = cross_validate(model, X, y, cv=cv, scoring=scorer, n_jobs=2, error_score="raise")
    for fold, (train, test) in enumerate(cv.split(X)):
        fitted = clone(model).fit(X[train], y[train])
        assert result["test_score"][fold] == pytest.approx(scorer(fitted, X[test], y[test]))
    assert np.all(np.abs(result["test_score"]) <= 1)

    search = GridSearchCV(
        make_two_layer_relu(**FAST),
        {"mlp__width": [8, 32]},
        scoring=InfluenceMalleability(metric="top_k", **ATTACK, **TRAK, random_state=0),
        cv=2,
        n_jobs=2,
        error_score="raise",
    )
    scores = search.fit(X, y).cv_results_["mean_test_score"]
    assert np.all((scores >= 0) & (scores <= 1))


def test_a_dattri_method_with_epsilon_zero_is_perfectly_stable(data, fitted):
    pytest.importorskip("dattri")
    X, y = data
    scorer = InfluenceMalleability(metric="spearman", epsilon=0.0, steps=1, **TRAK)
    assert scorer(fitted, X[45:], y[45:]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"method": "trak", "method_params": {"damping": 1.0}}, r"\['damping'\] that method"),
        ({"method": "ekfac", "kernel": "infinite"}, "kernel='infinite' applies to method='exact'"),
        ({"method_params": {"proj_dim": 8}}, "method='exact' takes none"),
        ({"method": "lissa"}, "The 'method' parameter of InfluenceMalleability must be"),
    ],
)
def test_method_settings_are_checked_when_the_scorer_is_built(options, match):
    with pytest.raises(ValueError, match=match):
        InfluenceMalleability(**options)


def test_no_positive_influence_gives_nan(data, fitted, monkeypatch):
    from sklearn_attnkernel.influence import scorer as malleability

    monkeypatch.setattr(malleability, "influence_scores", lambda *a, **k: -np.ones(45))
    X, y = data
    with pytest.warns(UndefinedMetricWarning, match="no training point has a positive"):
        assert math.isnan(InfluenceMalleability()(fitted, X[45:], y[45:]))


def test_pipeline_without_training_data_is_refused(data):
    X, y = data
    plain = Pipeline(make_mlp_attn(**FAST).steps).fit(X[:45], y[:45])
    with pytest.raises(ValueError, match="X_fit_ and y_fit_"):
        InfluenceMalleability()(plain, X[45:], y[45:])


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("top_fraction", 0.0),
        ("top_fraction", 1.5),
        ("epsilon", -0.1),
        ("alpha", 0.0),
        ("steps", 0),
        ("metric", "kendall"),
        ("attack", "cw"),
        ("kernel", "rbf"),
        ("n_test", 0),
        ("backend", "spark"),
        ("chunk_size", 0),
    ],
)
def test_bad_parameters(data, fitted, param, value):
    match = f"'{param}' parameter of InfluenceMalleability"
    with pytest.raises(ValueError, match=match):
        InfluenceMalleability(**{param: value})
    scorer = InfluenceMalleability()
    setattr(scorer, param, value)  # set after construction: caught at call time
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=match):
            scorer(fitted, X[45:], y[45:])


def test_unfitted_estimator(data):
    X, y = data
    with pytest.raises(NotFittedError):
        InfluenceMalleability()(TwoLayerReLUClassifier(), X, y)
    with pytest.raises(NotFittedError):
        InfluenceMalleability()(_mlp_attn(), X, y)


@pytest.mark.parametrize("refit", [False, True])
def test_column_order_is_checked_as_predict_does(data, refit):
    X, y = data
    df, df_test, _, permuted_test = frames(X[:45], X[45:])
    model = _mlp_attn().fit(df, y[:45])
    scorer = InfluenceMalleability(
        metric="spearman", attack="fgsm", epsilon=0.2, alpha=ALPHA, refit=refit
    )
    with pytest.raises(ValueError, match=f"(?s)X: .*{COLUMN_ORDER_MESSAGE}"):
        scorer(model, permuted_test, y[45:])
    # in the fitted order: the score of the same rows as an array (which draws sklearn's
    # warning, as predict does), exactly; the steps inside draw no warning
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        expected = scorer(model, X[45:], y[45:])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*feature names", UserWarning)
        assert scorer(model, df_test, y[45:]) == expected


def test_sparse_input_is_refused_with_its_cause(data, fitted):
    X, y = data
    with pytest.raises(TypeError, match=r"X is a sparse matrix .* X\.toarray\(\)"):
        InfluenceMalleability()(fitted, sp.csr_matrix(X[45:]), y[45:])


def test_dask_backend_gives_the_in_memory_score(data, fitted, tmp_path):
    # the influence before and after agrees to round-off (tests/influence/test_dask.py), so the
    # Spearman ρ of the two does too
    X, y = data
    common = {"attack": "fgsm", "epsilon": 0.2, "metric": "spearman", "alpha": ALPHA}
    reference = InfluenceMalleability(**common)(fitted, X[45:], y[45:])
    blocked = InfluenceMalleability(
        **common, backend="dask", chunk_size=16, spill_dir=str(tmp_path)
    )(fitted, X[45:], y[45:])
    assert blocked == pytest.approx(reference, rel=1e-9)
