"""TorchPipeline against the fitted numpy pipeline, refits on perturbed data, finite differences."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

from sklearn_attnkernel import (
    DatasetStandardizer,
    LinearizedAttention,
    SoftmaxAttention,
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
)
from sklearn_attnkernel.attention.transformers import _truncate_rank
from sklearn_attnkernel.networks.torch_mirror import (
    TorchPipeline,
    _TopEigenTruncation,
    transformers_map,
)
from tests.conftest import COLUMN_ORDER_MESSAGE, frames

N_TRAIN, N_TEST, D = 25, 7, 5
ATOL = 1e-10


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(N_TRAIN + N_TEST, D))
    y = np.arange(N_TRAIN + N_TEST) % 3
    for a in (X, y):
        a.flags.writeable = False
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:]


def _network(**kwargs):
    params = {"width": 8, "max_epochs": 0, "dtype": "float64", "device": "cpu", "random_state": 0}
    return TwoLayerReLUClassifier(**{**params, **kwargs})


_W = tuple(np.random.default_rng(7).normal(size=(D, D)) for _ in range(3))

STEP_LISTS = {
    "normalizer": [Normalizer()],
    "scaler": [StandardScaler()],
    "scaler-no-mean": [StandardScaler(with_mean=False)],
    "scaler-no-std": [StandardScaler(with_std=False)],
    "dataset-standardizer": [DatasetStandardizer()],
    "dataset-standardizer-raw": [DatasetStandardizer(normalize_rows=False)],
    "linear": [Normalizer(), LinearizedAttention()],
    "linear-2-layers-raw": [Normalizer(), LinearizedAttention(normalize=False, n_layers=2)],
    "linear-he": [Normalizer(), LinearizedAttention(projection="he", n_layers=2, random_state=0)],
    "linear-orthogonal": [
        Normalizer(),
        LinearizedAttention(projection="orthogonal", random_state=1),
    ],
    "linear-tuple": [Normalizer(), LinearizedAttention(projection=_W)],
    "linear-rank": [Normalizer(), LinearizedAttention(rank=3)],
    "softmax": [Normalizer(), SoftmaxAttention()],
    "exponential": [Normalizer(), SoftmaxAttention(normalize_weights=False, temperature=0.5)],
    "softmax-raw": [Normalizer(), SoftmaxAttention(normalize=False)],
    "stacked": [DatasetStandardizer(), LinearizedAttention(rank=4), SoftmaxAttention()],
    "scaler-softmax-linear": [
        StandardScaler(),
        Normalizer(),
        SoftmaxAttention(temperature=0.3),
        LinearizedAttention(projection="he", random_state=3),
    ],
}


def _pipeline(steps, **network):
    named = [(f"s{i}", clone(step)) for i, step in enumerate(steps)]
    return Pipeline([*named, ("mlp", _network(**network))])


@pytest.mark.parametrize("name", list(STEP_LISTS))
def test_features_equal_the_fitted_numpy_pipeline(name):
    X, y, X_test = _data()
    pipe = _pipeline(STEP_LISTS[name]).fit(X, y)
    tp = TorchPipeline.from_estimator(pipe)
    X_t, X_test_t = torch.tensor(X), torch.tensor(X_test)
    np.testing.assert_allclose(tp.training_features(X_t).numpy(), pipe[:-1].transform(X), atol=ATOL)
    expected_test = pipe[:-1].transform(X_test)
    np.testing.assert_allclose(tp.features(X_test_t).numpy(), expected_test, atol=ATOL)
    np.testing.assert_allclose(
        tp.features(X_test_t, reference=X_t).numpy(), expected_test, atol=ATOL
    )
    np.testing.assert_allclose(
        tp(X_test_t, reference=X_t).numpy(), pipe.decision_function(X_test), atol=ATOL
    )
    assert tp.transductive == any(
        isinstance(s, LinearizedAttention | SoftmaxAttention) for s in STEP_LISTS[name]
    )


# Steps whose refit on perturbed data keeps every non-transductive constant: a refitted clone of
# the numpy pipeline is then an independent computation of the transductive semantics.
REFITTABLE = {
    "linear": [Normalizer(), LinearizedAttention()],
    "stacked": [
        DatasetStandardizer(mean=0.4, std=0.3),
        LinearizedAttention(rank=3, projection="he", random_state=0),
        SoftmaxAttention(),
    ],
    "softmax": [Normalizer(), SoftmaxAttention(normalize_weights=False)],
}


@pytest.mark.parametrize("name", list(REFITTABLE))
def test_reference_is_rebuilt_from_the_perturbed_training_matrix(name):
    X, y, X_test = _data()
    pipe = _pipeline(REFITTABLE[name]).fit(X, y)
    tp = TorchPipeline.from_estimator(pipe)
    X_moved = X + 0.1 * np.random.default_rng(1).normal(size=X.shape)
    refit = clone(pipe[:-1]).fit(X_moved)
    np.testing.assert_allclose(
        tp.training_features(torch.tensor(X_moved)).numpy(), refit.transform(X_moved), atol=ATOL
    )
    np.testing.assert_allclose(
        tp.features(torch.tensor(X_test), reference=torch.tensor(X_moved)).numpy(),
        refit.transform(X_test),
        atol=ATOL,
    )
    # and the features differ from the unperturbed reference's
    assert not np.allclose(refit.transform(X_test), pipe[:-1].transform(X_test), atol=1e-6)


def test_non_transductive_constants_stay_fitted():
    X, y, _ = _data()
    pipe = _pipeline([StandardScaler(), LinearizedAttention()]).fit(X, y)
    scaler = pipe[0]
    X_moved = X + 0.2
    Z = (X_moved - scaler.mean_) / scaler.scale_  # not re-estimated from X_moved
    expected = LinearizedAttention().fit(Z).transform(Z)
    tp = TorchPipeline.from_estimator(pipe)
    np.testing.assert_allclose(
        tp.training_features(torch.tensor(X_moved)).numpy(), expected, atol=ATOL
    )


def test_nested_pipeline_and_passthrough_are_flattened():
    X, y, X_test = _data()
    inner = Pipeline([("scale", StandardScaler()), ("skip", "passthrough")])
    pipe = Pipeline(
        [("pre", inner), ("none", None), ("attn", LinearizedAttention()), ("mlp", _network())]
    ).fit(X, y)
    tp = TorchPipeline.from_estimator(pipe)
    assert tp.step_names == ["pre__scale", "attn"]
    np.testing.assert_allclose(
        tp.features(torch.tensor(X_test), reference=torch.tensor(X)).numpy(),
        pipe[:-1].transform(X_test),
        atol=ATOL,
    )


def test_bare_estimator_and_regressor():
    X, y, X_test = _data()
    clf = _network().fit(X, y)
    tp = TorchPipeline.from_estimator(clf)
    assert tp.step_names == []
    assert not tp.transductive
    np.testing.assert_allclose(
        tp(torch.tensor(X_test)).numpy(), clf.decision_function(X_test), atol=ATOL
    )
    reg = TwoLayerReLURegressor(width=8, max_epochs=0, dtype="float64", device="cpu").fit(X, y)
    out = TorchPipeline.from_estimator(reg)(torch.tensor(X_test)).numpy()[:, 0]
    np.testing.assert_allclose(out, reg.predict(X_test), atol=ATOL)


def test_float32_network_is_copied_frozen_and_cast():
    X, y, X_test = _data()
    pipe = _pipeline([Normalizer(), SoftmaxAttention()], dtype="float32", max_epochs=2, lr=0.1)
    pipe.fit(X, y)
    W_before = pipe[-1].net_.module_.W.detach().clone()
    grad_before = pipe[-1].net_.module_.W.grad.clone()  # left by the last training step
    tp = TorchPipeline.from_estimator(pipe)
    assert tp.dtype == torch.float64
    assert tp.network.W.dtype == torch.float64
    assert not any(p.requires_grad for p in tp.network.parameters())
    assert pipe[-1].net_.module_.W.dtype == torch.float32
    assert pipe[-1].net_.module_.W.requires_grad
    np.testing.assert_allclose(
        tp(torch.tensor(X_test)).numpy(), pipe.decision_function(X_test), rtol=1e-5, atol=1e-5
    )
    # gradients flow to the input, not to the weights
    X_t = torch.tensor(X, requires_grad=True)
    tp(X_t[:3], reference=X_t).sum().backward()
    assert torch.count_nonzero(X_t.grad[3:]) > 0  # the reference rows, through attention
    assert torch.equal(pipe[-1].net_.module_.W.detach(), W_before)
    assert torch.equal(pipe[-1].net_.module_.W.grad, grad_before)
    tp32 = TorchPipeline.from_estimator(pipe, dtype="float32")
    assert tp32.features(torch.tensor(X_test)).dtype == torch.float32


def test_rank_truncation_gradient_matches_finite_differences():
    # Always-zero columns (like MNIST's border pixels) give C = ZᵀZ exactly repeated zero
    # eigenvalues, where autograd's own eigh backward returns NaN.
    gen = torch.Generator().manual_seed(0)
    Z = torch.randn(10, 7, generator=gen, dtype=torch.float64)
    Z[:, 4:] = 0
    Z.requires_grad_(True)

    def truncated(Z):
        return _TopEigenTruncation.apply(Z.T @ Z, 2)

    np.testing.assert_allclose(
        truncated(Z).detach().numpy(), _truncate_rank((Z.T @ Z).detach().numpy(), 2), atol=1e-12
    )
    assert torch.autograd.gradcheck(truncated, (Z,), eps=1e-6, atol=1e-6)
    # a generic matrix with n < d (numerically zero eigenvalues) too
    Z_wide = torch.randn(4, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(truncated, (Z_wide,), eps=1e-6, atol=1e-6)
    eigvals, eigvecs = torch.linalg.eigh(Z.T @ Z)
    plain = (eigvecs[:, -2:] * eigvals[-2:]) @ eigvecs[:, -2:].T
    (grad_plain,) = torch.autograd.grad(plain.sum(), Z)
    assert not torch.isfinite(grad_plain).all()  # why the hand-written backward exists


def test_rank_truncation_at_a_repeated_eigenvalue_refuses_to_differentiate():
    C = torch.eye(3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match=r"rank=1.*equal"):
        _TopEigenTruncation.apply(C, 1)


def test_unsupported_steps_raise_naming_them():
    X, y, _ = _data()
    pipe = Pipeline([("pca", PCA(n_components=3)), ("mlp", _network())]).fit(X, y)
    with pytest.raises(TypeError, match=r"'pca' \(PCA\).*Supported steps.*SoftmaxAttention"):
        TorchPipeline.from_estimator(pipe)
    pipe = Pipeline([("norm", Normalizer(norm="l1")), ("mlp", _network())]).fit(X, y)
    with pytest.raises(ValueError, match=r"'norm' is Normalizer\(norm='l1'\)"):
        TorchPipeline.from_estimator(pipe)


@pytest.mark.parametrize(
    "random_state", [np.random.RandomState(0), None], ids=["RandomState", "None"]
)
@pytest.mark.parametrize("projection", ["he", "orthogonal"])
def test_random_projections_are_reused_whatever_the_random_state(projection, random_state):
    """The mirror reuses the projections fit drew (``projections_``) instead of drawing again,
    so the rebuilt operator equals the fitted one for any random_state, not only an int."""
    X, y, X_test = _data()
    attention = LinearizedAttention(projection=projection, n_layers=2, random_state=random_state)
    pipe = _pipeline([Normalizer(), attention]).fit(X, y)
    tp = TorchPipeline.from_estimator(pipe)
    X_t = torch.tensor(X)
    np.testing.assert_allclose(tp.training_features(X_t).numpy(), pipe[:-1].transform(X), atol=ATOL)
    expected_test = pipe[:-1].transform(X_test)
    np.testing.assert_allclose(tp.features(torch.tensor(X_test)).numpy(), expected_test, atol=ATOL)
    np.testing.assert_allclose(
        tp.features(torch.tensor(X_test), reference=X_t).numpy(), expected_test, atol=ATOL
    )


def test_bad_input():
    X, y, _ = _data()
    with pytest.raises(NotFittedError):
        TorchPipeline.from_estimator(_pipeline([Normalizer()]))
    pipe = _pipeline([DatasetStandardizer(), LinearizedAttention()]).fit(X, y)
    tp = TorchPipeline.from_estimator(pipe)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 5\)"):
        tp.features(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="floating-point"):
        tp.features(torch.zeros(3, 5, dtype=torch.long))
    rows = np.full((2, D), pipe[0].mean_)  # standardise to zero: cannot be normalised
    with pytest.raises(ValueError, match=r"row\(s\) 0, 1"):
        tp.features(torch.tensor(rows))


@pytest.mark.parametrize("bare", [False, True])
def test_column_order_is_checked_as_predict_does(bare):
    X, y, X_test = _data()
    df, df_test, permuted, permuted_test = frames(X, X_test)
    model = _network() if bare else _pipeline(STEP_LISTS["linear"])
    tp = TorchPipeline.from_estimator(model.fit(df, y))
    with pytest.raises(ValueError, match=COLUMN_ORDER_MESSAGE):
        model.predict(permuted_test)  # the reference behaviour
    for call in (tp, tp.features, tp.training_features):
        with pytest.raises(ValueError, match=COLUMN_ORDER_MESSAGE):
            call(permuted_test)
    if not bare:  # a bare network has no reference set: the reference is not used
        with pytest.raises(ValueError, match=COLUMN_ORDER_MESSAGE):
            tp.features(df_test, reference=permuted)
    # in the fitted order: exactly the tensor result (tensors carry no names: not checked)
    X_t, X_test_t = torch.tensor(X), torch.tensor(X_test)
    assert torch.equal(tp(df_test), tp(X_test_t))
    assert torch.equal(tp.features(df_test, reference=df), tp.features(X_test_t, reference=X_t))
    assert torch.equal(tp.training_features(df), tp.training_features(X_t))


def test_transformers_map_checks_the_first_steps_columns():
    X, _, X_test = _data()
    df, _, permuted, _ = frames(X, X_test)
    steps = [("norm", Normalizer().fit(df)), ("attention", LinearizedAttention())]
    steps[1][1].fit(steps[0][1].transform(df))
    mirror = transformers_map(steps, n_features_in=D, dtype="float64", device="cpu")
    with pytest.raises(ValueError, match=COLUMN_ORDER_MESSAGE):
        mirror.features(permuted)
    assert torch.equal(mirror.features(df), mirror.features(torch.tensor(X)))
