"""scikit-learn's common estimator checks over every public estimator of the package.

The estimators are discovered from the package namespace (every exported class that derives from
``BaseEstimator``), so a new estimator cannot silently skip these checks: it must get a fast
constructor setting in ``FAST_SETTINGS`` or the discovery test fails. Expected failures are data,
each with its written reason, in ``EXPECTED_FAILURES``.
"""

import inspect

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_global_output_transform_pandas,
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

import sklearn_attnkernel

# Constructor settings per estimator class: the defaults, with a fixed seed for the networks.
FAST_SETTINGS = {
    "DatasetStandardizer": {},
    "LinearizedAttention": {},
    "SoftmaxAttention": {},
    # The networks are checked at their defaults (float32, default width and epochs, the stop
    # at convergence); only the seed is fixed.
    "TwoLayerReLUClassifier": {"random_state": 0},
    "TwoLayerReLURegressor": {"random_state": 0},
}

# check name -> reason, per estimator class.
EXPECTED_FAILURES = {}


def _public_estimator_classes():
    classes = []
    for name in sklearn_attnkernel.__all__:
        obj = getattr(sklearn_attnkernel, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            classes.append(obj)
    return classes


def _fast_instances():
    return [cls(**FAST_SETTINGS[cls.__name__]) for cls in _public_estimator_classes()]


def _expected_failures(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


def test_linearized_attention_without_normalisation_passes_dtype_check():
    from sklearn.utils.estimator_checks import check_estimators_dtypes

    check_estimators_dtypes(
        "LinearizedAttention", sklearn_attnkernel.LinearizedAttention(normalize=False)
    )


def test_every_public_estimator_has_fast_settings():
    names = {cls.__name__ for cls in _public_estimator_classes()}
    assert names == set(FAST_SETTINGS), (
        "add the estimator's fast constructor settings to FAST_SETTINGS"
    )


@parametrize_with_checks(_fast_instances(), expected_failed_checks=_expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# Checks that parametrize_with_checks does not run by itself.
@pytest.mark.parametrize("estimator", _fast_instances(), ids=lambda e: type(e).__name__)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", _fast_instances(), ids=lambda e: type(e).__name__)
def test_dataframe_column_names_consistency(estimator):
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


_TRANSFORMERS = [e for e in _fast_instances() if isinstance(e, TransformerMixin)]


@pytest.mark.parametrize(
    "check",
    [
        check_set_output_transform,
        check_set_output_transform_pandas,
        check_global_output_transform_pandas,
        check_transformer_get_feature_names_out,
        check_transformer_get_feature_names_out_pandas,
    ],
    ids=lambda check: check.__name__,
)
@pytest.mark.parametrize("transformer", _TRANSFORMERS, ids=lambda e: type(e).__name__)
def test_transformer_output_api(transformer, check):
    check(type(transformer).__name__, transformer)


@pytest.mark.parametrize("transformer", _TRANSFORMERS, ids=lambda e: type(e).__name__)
def test_pandas_output_column_names(transformer):
    """Attention outputs mix all columns (prefixed names); elementwise steps keep the names."""
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(6, 3)), columns=["a", "b", "c"])
    out = transformer.set_output(transform="pandas").fit(X).transform(X)
    if isinstance(transformer, ClassNamePrefixFeaturesOutMixin):
        prefix = type(transformer).__name__.lower()
        assert list(out.columns) == [f"{prefix}{i}" for i in range(3)]
    else:
        assert list(out.columns) == ["a", "b", "c"]
    assert list(out.index) == list(X.index)
