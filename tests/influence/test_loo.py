"""Exact leave-one-out influence against explicit kernel ridge refits."""

import logging

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import log_softmax
from sklearn.kernel_ridge import KernelRidge

from sklearn_attnkernel import intrinsic_sensitivity, loo_influence, loo_influence_features
from sklearn_attnkernel.influence import loo as influence_module
from sklearn_attnkernel.influence.loo import NumericalCheckError

N_TRAIN, N_TEST, N_CLASSES = 24, 7, 3
ALPHA = 1e-2


def _read_only(*arrays):
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _targets(kind, labels):
    if kind == "binary":
        return np.where(labels % 2 == 0, -1.0, 1.0)
    one_hot = np.eye(N_CLASSES)[labels % N_CLASSES]
    return one_hot if kind == "one_hot" else 2.0 * one_hot - 1.0


def _problem(kind, seed=0, n_features=None):
    """RBF kernel (or thin features when ``n_features``) with targets of the given kind."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    labels = rng.integers(0, 6, n)
    Y = _targets(kind, labels)
    if n_features is None:
        X = rng.normal(size=(n, 4)) + labels[:, None] * 0.3
        K = np.exp(-0.2 * np.sum((X[:, None] - X[None]) ** 2, axis=-1))
        F = None
    else:
        F = rng.normal(size=(n, n_features)) + labels[:, None] * 0.3
        K = F @ F.T
    return K, F, Y


def _loss(f, Y, loss):
    """Loss per row, written independently of the module under test."""
    if Y.ndim == 1:
        f = f.reshape(-1)
        if loss == "squared":
            return (f - Y) ** 2
        return np.log1p(np.exp(-Y * f))
    if loss == "squared":
        return np.sum((f - Y) ** 2, axis=1)
    return -log_softmax(f, axis=1)[np.arange(len(Y)), np.argmax(Y, axis=1)]


def _refit_influence(K, Y_train, K_test, Y_test, alpha, loss):
    """Influence by n explicit sklearn KernelRidge refits on the n − 1 other points."""
    n = K.shape[0]
    full = KernelRidge(kernel="precomputed", alpha=alpha).fit(K, Y_train).predict(K_test)
    base = _loss(full, Y_test, loss)
    out = np.empty((K_test.shape[0], n))
    for i in range(n):
        keep = np.arange(n) != i
        model = KernelRidge(kernel="precomputed", alpha=alpha)
        model.fit(K[np.ix_(keep, keep)], Y_train[keep])
        out[:, i] = _loss(model.predict(K_test[:, keep]), Y_test, loss) - base
    return out


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
@pytest.mark.parametrize("kind", ["binary", "one_hot", "plus_minus"])
@pytest.mark.parametrize("path", ["dual", "primal"])
def test_loo_matches_explicit_refits(loss, kind, path):
    K, F, Y = _problem(kind, n_features=None if path == "dual" else 5)
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    expected = _refit_influence(K[tr, tr], Y[tr], K[te, tr], Y[te], ALPHA, loss)
    if path == "dual":
        args = _read_only(K[tr, tr].copy(), Y[tr].copy(), K[te, tr].copy(), Y[te].copy())
        fn = loo_influence
    else:
        args = _read_only(F[tr].copy(), Y[tr].copy(), F[te].copy(), Y[te].copy())
        fn = loo_influence_features
    full = fn(*args, alpha=ALPHA, loss=loss, reduce=None)
    mean = fn(*args, alpha=ALPHA, loss=loss)
    assert full.shape == (N_TEST, N_TRAIN)
    assert mean.shape == (N_TRAIN,)
    assert full.dtype == np.float64
    assert_allclose(full, expected, rtol=0, atol=1e-8)
    assert_allclose(mean, expected.mean(axis=0), rtol=0, atol=1e-8)
    # the refits are not trivially zero: the comparison has teeth
    assert np.abs(expected).max() > 1e-3


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_primal_equals_dual_on_a_larger_problem(loss):
    rng = np.random.default_rng(1)
    n, m, d = 300, 40, 12
    F = rng.normal(size=(n + m, d)) / np.sqrt(d)
    Y = np.eye(4)[rng.integers(0, 4, n + m)]
    primal = loo_influence_features(F[:n], Y[:n], F[n:], Y[n:], alpha=1e-3, loss=loss, reduce=None)
    dual = loo_influence(
        F[:n] @ F[:n].T, Y[:n], F[n:] @ F[:n].T, Y[n:], alpha=1e-3, loss=loss, reduce=None
    )
    assert_allclose(primal, dual, rtol=0, atol=1e-8)


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
@pytest.mark.parametrize("path", ["dual", "primal"])
def test_blocked_computation_matches_single_block(monkeypatch, loss, path):
    K, F, Y = _problem("one_hot", seed=3, n_features=6)
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    if path == "dual":
        args = (K[tr, tr], Y[tr], K[te, tr], Y[te])
        fn = loo_influence
    else:
        args = (F[tr], Y[tr], F[te], Y[te])
        fn = loo_influence_features
    single_full = fn(*args, loss=loss, reduce=None)
    single_mean = fn(*args, loss=loss)
    monkeypatch.setattr(influence_module, "_BLOCK_ELEMENTS", 2 * N_TRAIN * N_CLASSES)
    # blocks change only the BLAS round-off (K = F Fᵀ with α = 1e-2 amplifies it)
    assert_allclose(fn(*args, loss=loss, reduce=None), single_full, rtol=0, atol=1e-9)
    assert_allclose(fn(*args, loss=loss), single_mean, rtol=0, atol=1e-9)


def test_one_column_targets_match_flat_targets():
    K, _, Y = _problem("binary", seed=4)
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    for loss in ("squared", "cross_entropy"):
        flat = loo_influence(K[tr, tr], Y[tr], K[te, tr], Y[te], loss=loss)
        column = loo_influence(K[tr, tr], Y[tr, None], K[te, tr], Y[te, None], loss=loss)
        assert_allclose(column, flat, rtol=1e-13)


def test_duplicate_of_the_test_point_is_helpful():
    # a hand-made case with a known sign: the training copy of the test point helps it
    X = np.array([[0.0], [0.1], [5.0], [5.1]])
    K = np.exp(-((X - X.T) ** 2))
    y = np.array([1.0, 1.0, -1.0, -1.0])
    scores = loo_influence(K, y, K[:1], y[:1], alpha=0.1)
    assert scores[0] > 0
    assert scores[0] == scores.max()
    assert abs(scores[2]) < 1e-3  # far away: almost no influence


def test_condition_number_and_residual_are_logged(caplog):
    """For users: the numbers are logged (nothing in the package reads the log)."""
    K, _, Y = _problem("binary", seed=5)
    with caplog.at_level(logging.INFO, logger="sklearn_attnkernel.influence.loo"):
        loo_influence(K[:N_TRAIN, :N_TRAIN], Y[:N_TRAIN], K[N_TRAIN:, :N_TRAIN], Y[N_TRAIN:])
    assert "condition number" in caplog.text
    assert "residual" in caplog.text


# --------------------------------------------------------------------------------------------
# numerical checks


def _assert_condition_estimate(estimate, exact):
    # pocon's estimate never exceeds the exact 1-norm condition number (up to round-off) and is
    # typically within a factor of a few below it
    assert exact / 2.0 <= estimate <= exact * (1.0 + 1e-12)


@pytest.mark.parametrize("reduce", ["mean", None])
def test_returned_condition_numbers_match_numpy(reduce):
    """return_condition=True gives the scores unchanged and the condition number of K + αI:
    LAPACK's estimate of the 1-norm one on the dual path (a lower bound, here within a factor
    of 2 of numpy's exact value), the exact 2-norm one on the primal path."""
    K, F, Y = _problem("one_hot", seed=6, n_features=5)
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    system = K[tr, tr] + ALPHA * np.eye(N_TRAIN)
    options = {"alpha": ALPHA, "reduce": reduce}
    dual, condition = loo_influence(
        K[tr, tr], Y[tr], K[te, tr], Y[te], **options, return_condition=True
    )
    assert isinstance(condition, float)
    _assert_condition_estimate(condition, np.linalg.cond(system, 1))
    assert_allclose(dual, loo_influence(K[tr, tr], Y[tr], K[te, tr], Y[te], **options), rtol=0)
    primal, condition = loo_influence_features(
        F[tr], Y[tr], F[te], Y[te], **options, return_condition=True
    )
    assert isinstance(condition, float)
    assert_allclose(condition, np.linalg.cond(system, 2), rtol=1e-6)
    assert_allclose(primal, loo_influence_features(F[tr], Y[tr], F[te], Y[te], **options), rtol=0)


def test_reported_condition_numbers_match_numpy():
    K, F, Y = _problem("binary", seed=6, n_features=5)
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    system = K[tr, tr] + ALPHA * np.eye(N_TRAIN)
    with pytest.raises(NumericalCheckError) as dual:
        loo_influence(K[tr, tr], Y[tr], K[te, tr], Y[te], alpha=ALPHA, max_condition=2.0)
    assert dual.value.check == "condition_number"
    _assert_condition_estimate(dual.value.condition_number, np.linalg.cond(system, 1))
    with pytest.raises(NumericalCheckError) as primal:
        loo_influence_features(F[tr], Y[tr], F[te], Y[te], alpha=ALPHA, max_condition=2.0)
    assert_allclose(primal.value.condition_number, np.linalg.cond(system, 2), rtol=1e-6)


@pytest.mark.parametrize("path", ["dual", "primal"])
def test_nearly_singular_kernel_reports_condition_and_suggests_alpha(path):
    rng = np.random.default_rng(7)
    F = rng.normal(size=(40, 3))  # K = F Fᵀ has rank 3 < 40
    y = np.sign(rng.normal(size=40))
    if path == "dual":
        K = F @ F.T
        K = (K + K.T) / 2

        def fn(alpha, **kw):
            return loo_influence(K, y, K[:5], y[:5], alpha=alpha, **kw)
    else:

        def fn(alpha, **kw):
            return loo_influence_features(F, y, F[:5], y[:5], alpha=alpha, **kw)

    with pytest.raises(NumericalCheckError, match=r"condition number .* larger alpha") as info:
        fn(1e-11)
    err = info.value
    assert err.check == "condition_number"
    assert isinstance(err, ValueError)
    assert err.condition_number > 1e12
    assert f"{err.condition_number:.3e}" in str(err)
    assert err.suggested_alpha is not None
    assert err.suggested_alpha > 1e-11
    # the suggestion is good enough to pass every check
    assert np.all(np.isfinite(fn(err.suggested_alpha)))
    # check=False accepts the risk and still returns finite numbers
    assert np.all(np.isfinite(fn(1e-11, check=False)))


def test_non_symmetric_kernel_is_rejected_even_without_checks():
    K, _, Y = _problem("binary", seed=8)
    K = K[:N_TRAIN, :N_TRAIN].copy()
    K[0, 1] += 0.5
    for check in (True, False):
        with pytest.raises(NumericalCheckError, match="not symmetric") as info:
            loo_influence(K, Y[:N_TRAIN], K[:3], Y[:3], check=check)
        assert info.value.check == "symmetry"
        assert info.value.value > 1e-6


def test_round_off_asymmetry_is_accepted():
    K, _, Y = _problem("binary", seed=9)
    K = K[:N_TRAIN, :N_TRAIN]
    noisy = K * (1.0 + 1e-9 * np.random.default_rng(0).standard_normal(K.shape))
    assert not np.array_equal(noisy, noisy.T)
    assert_allclose(
        loo_influence(noisy, Y[:N_TRAIN], K[:3], Y[:3]),
        loo_influence(K, Y[:N_TRAIN], K[:3], Y[:3]),
        rtol=0,
        atol=1e-6,
    )


def test_indefinite_kernel_reports_smallest_eigenvalue():
    K = np.diag([2.0, 1.0, -0.5])
    K[0, 1] = K[1, 0] = 0.3
    y = np.array([1.0, -1.0, 1.0])
    with pytest.raises(NumericalCheckError, match="not positive definite") as info:
        loo_influence(K, y, K[:1], y[:1], alpha=0.1, check=False)
    assert info.value.check == "positive_definite"
    assert_allclose(info.value.value, np.linalg.eigvalsh(K)[0] + 0.1, rtol=1e-10)
    assert info.value.suggested_alpha > 0.5


def test_residual_check_reports_the_residual(monkeypatch):
    K, _, Y = _problem("binary", seed=10)
    monkeypatch.setattr(influence_module, "_RESIDUAL_RTOL", 0.0)
    with pytest.raises(NumericalCheckError, match="residual") as info:
        loo_influence(K[:N_TRAIN, :N_TRAIN], Y[:N_TRAIN], K[:2, :N_TRAIN], Y[:2])
    assert info.value.check == "residual"
    assert 0 < info.value.residual < 1e-10
    # check=False skips it
    loo_influence(K[:N_TRAIN, :N_TRAIN], Y[:N_TRAIN], K[:2, :N_TRAIN], Y[:2], check=False)


# --------------------------------------------------------------------------------------------
# bad input

K0, F0, Y0 = _problem("one_hot", seed=11, n_features=4)
KTR, KTE = K0[:N_TRAIN, :N_TRAIN], K0[N_TRAIN:, :N_TRAIN]
YTR, YTE = Y0[:N_TRAIN], Y0[N_TRAIN:]


@pytest.mark.parametrize("alpha", [0.0, -1.0, np.inf, np.nan])
def test_non_positive_alpha_is_rejected(alpha):
    with pytest.raises(ValueError, match="'alpha'"):
        loo_influence(KTR, YTR, KTE, YTE, alpha=alpha)
    with pytest.raises(ValueError, match="'alpha'"):
        loo_influence_features(F0[:N_TRAIN], YTR, F0[N_TRAIN:], YTE, alpha=alpha)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((KTR[:, :-1], YTR, KTE[:, :-1], YTE), "must be square"),
        ((KTR, YTR, KTE[:, :-1], YTE), "K_test_train has 23 columns"),
        ((KTR, YTR[:-1], KTE, YTE), "Y_train has 23 rows"),
        ((KTR, YTR, KTE, YTE[:-1]), "Y_test has 6 rows"),
        ((KTR, YTR, KTE, YTE[:, :2]), "Y_test has 2 output column"),
        ((KTR, YTR[:, :, None], KTE, YTE), "shape \\(n,\\) or \\(n, C\\)"),
        ((np.where(np.eye(N_TRAIN) > 0, np.nan, KTR), YTR, KTE, YTE), "NaN"),
        ((KTR, YTR, KTE, np.full_like(YTE, np.inf)), "infinity"),
    ],
)
def test_bad_shapes_and_values_are_rejected(args, match):
    with pytest.raises(ValueError, match=match):
        loo_influence(*args)


def test_bad_feature_shapes_are_rejected():
    with pytest.raises(ValueError, match="F_test has 3 features but F_train has 4"):
        loo_influence_features(F0[:N_TRAIN], YTR, F0[N_TRAIN:, :3], YTE)
    with pytest.raises(ValueError, match="Y_train has 31 rows"):
        loo_influence_features(F0[:N_TRAIN], Y0, F0[N_TRAIN:], YTE)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "hinge"}, "'loss'"),
        ({"reduce": "sum"}, "'reduce'"),
        ({"check": "yes"}, "'check'"),
        ({"max_condition": 0.5}, "'max_condition'"),
    ],
)
def test_bad_options_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        loo_influence(KTR, YTR, KTE, YTE, **kwargs)


def test_cross_entropy_needs_class_encoded_targets():
    soft = np.full_like(YTE, 1.0 / N_CLASSES)
    with pytest.raises(ValueError, match=r"one-hot .* row 0"):
        loo_influence(KTR, YTR, KTE, soft, loss="cross_entropy")
    binary = np.linspace(-1, 1, N_TRAIN)
    almost = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 0.5])
    with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
        loo_influence(KTR, binary, KTE, almost, loss="cross_entropy")
    # the squared loss takes any real targets
    assert np.all(np.isfinite(loo_influence(KTR, binary, KTE, np.zeros(N_TEST))))


# --------------------------------------------------------------------------------------------
# intrinsic sensitivity


def test_intrinsic_sensitivity_hand_made():
    # eigenvalues 1 and 3, λ_min(K + αI) = 1.5, ‖y‖ = 5
    K = np.array([[2.0, 1.0], [1.0, 2.0]])
    assert intrinsic_sensitivity(K, [3.0, 4.0], alpha=0.5, lipschitz=2.0) == pytest.approx(
        2.0 * 5.0 / 1.5**2, rel=1e-12
    )
    # rank-deficient K: λ = α (the paper's "λ = ridge" reading)
    K_rank1 = np.ones((3, 3))
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert intrinsic_sensitivity(K_rank1, y, alpha=1e-2, lipschitz=3.0) == pytest.approx(
        3.0 * np.sqrt(3.0) / 1e-4, rel=1e-8
    )


def test_intrinsic_sensitivity_against_eigendecomposition_and_bound():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(30, 40))
    K = X @ X.T / 40
    y = rng.normal(size=30)
    y.flags.writeable = False
    value = intrinsic_sensitivity(K, y, alpha=0.1, lipschitz=1.5)
    lam = np.linalg.eigvalsh(K)[0] + 0.1
    assert value == pytest.approx(1.5 * np.linalg.norm(y) / lam**2, rel=1e-8)
    assert value <= 1.5 * np.linalg.norm(y) / 0.1**2


@pytest.mark.parametrize(
    ("K", "kwargs", "match"),
    [
        (np.eye(2), {"alpha": 0.0, "lipschitz": 1.0}, "'alpha'"),
        (np.eye(2), {"alpha": 0.1, "lipschitz": -1.0}, "'lipschitz'"),
        (np.eye(2), {"alpha": 0.1, "lipschitz": np.inf}, "'lipschitz'"),
        (np.array([[1.0, 1.0], [0.0, 1.0]]), {"alpha": 0.1, "lipschitz": 1.0}, "not symmetric"),
        (-np.eye(2), {"alpha": 0.1, "lipschitz": 1.0}, "not positive definite"),
        (np.ones((2, 3)), {"alpha": 0.1, "lipschitz": 1.0}, "must be square"),
    ],
)
def test_intrinsic_sensitivity_bad_input(K, kwargs, match):
    with pytest.raises(ValueError, match=match):
        intrinsic_sensitivity(K, [1.0, 2.0], **kwargs)


def test_primal_condition_number_with_more_features_than_points():
    # n < d: K = F Fᵀ is full rank and its smallest eigenvalue is the n-th largest of FᵀF
    F = np.random.default_rng(13).normal(size=(10, 30))
    y = np.sign(np.arange(10) - 4.5)
    with pytest.raises(NumericalCheckError) as info:
        loo_influence_features(F, y, F[:2], y[:2], alpha=ALPHA, max_condition=2.0)
    expected = np.linalg.cond(F @ F.T + ALPHA * np.eye(10), 2)
    assert_allclose(info.value.condition_number, expected, rtol=1e-6)
    assert_allclose(
        loo_influence_features(F, y, F[:2], y[:2], alpha=ALPHA, reduce=None),
        loo_influence(F @ F.T, y, F[:2] @ F.T, y[:2], alpha=ALPHA, reduce=None),
        rtol=0,
        atol=1e-8,
    )


def test_intrinsic_sensitivity_names_round_off_at_a_large_scale():
    # K = A Aᵀ at 1e200 is PSD, but its rounding errors (~1e187) dwarf alpha = 1e-3: the
    # message must say so, not call K indefinite
    A = np.random.default_rng(3).normal(size=(20, 4)) * 1e100
    with (
        np.errstate(over="ignore"),
        pytest.raises(NumericalCheckError, match="round-off at the scale of K"),
    ):
        intrinsic_sensitivity(A @ A.T, np.ones(20), alpha=1e-3, lipschitz=1.0)
    with pytest.raises(NumericalCheckError, match="Pass a positive semi-definite K"):
        intrinsic_sensitivity(-np.eye(3), np.ones(3), alpha=1e-3, lipschitz=1.0)
