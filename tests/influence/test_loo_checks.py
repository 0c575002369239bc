"""The numerical checks of the leave-one-out influence, against hand computations (#15).

Each test pins a number or a branch that a one-token change of ``influence/loo.py`` would
move: the fields of ``NumericalCheckError`` for every kind of check, the suggested ridge, the
guards against zero norms, and the default ``alpha``.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.kernel_ridge import KernelRidge

from sklearn_attnkernel import intrinsic_sensitivity, loo_influence, loo_influence_features
from sklearn_attnkernel.influence import loo as loo_module
from sklearn_attnkernel.influence.loo import NumericalCheckError


def _rbf_problem(n=14, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + n_test, 3))
    K = np.exp(-0.5 * np.sum((X[:, None] - X[None]) ** 2, axis=-1))
    y = np.sign(X[:, 0] + 0.1)
    return K[:n, :n], y[:n], K[n:, :n], y[n:]


def _refit_squared_influence(K, y, K_test, y_test, alpha):
    """Mean squared-loss influence from n explicit sklearn KernelRidge refits."""
    n = K.shape[0]
    full = KernelRidge(kernel="precomputed", alpha=alpha).fit(K, y).predict(K_test)
    out = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        model = KernelRidge(kernel="precomputed", alpha=alpha).fit(K[np.ix_(keep, keep)], y[keep])
        out[i] = np.mean((model.predict(K_test[:, keep]) - y_test) ** 2 - (full - y_test) ** 2)
    return out


def _rotation(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


# --------------------------------------------------------------------------------------------
# cross-entropy targets


@pytest.mark.parametrize("bad_row", [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, -1.0]])
def test_cross_entropy_rejects_rows_without_a_single_one(bad_row):
    # one-hot-looking or ±1-looking rows with zero or two 1s name no class
    K, _, K_test, _ = _rbf_problem(n=6, n_test=3)
    Y_train = np.eye(3)[np.arange(6) % 3]
    Y_test = np.array([[0.0, 1.0, 0.0], bad_row, [1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"row 1 is \[") as info:
        loo_influence(K, Y_train, K_test, Y_test, loss="cross_entropy")
    assert str(bad_row) in str(info.value)


def test_logistic_label_error_names_the_first_three_bad_values():
    # one output column: the message lists the first three entries that are not ±1, in order,
    # and none of the valid ±1 entries between them
    K, _, _, _ = _rbf_problem(n=6, n_test=0)
    y_train = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    y_test = np.array([1.0, 0.5, -1.0, 2.0, 0.0, 3.0])
    with pytest.raises(ValueError, match=r"values such as \[0\.5, 2\.0, 0\.0\]\."):
        loo_influence(K, y_train, K, y_test, loss="cross_entropy")


def test_cross_entropy_accepts_one_hot_and_plus_minus_rows_mixed():
    # each row is checked on its own: a ±1-coded row among one-hot rows names the same class
    # as its one-hot form, and the cross-entropy loss only reads the class
    K, _, K_test, _ = _rbf_problem(n=6, n_test=3)
    Y_train = np.eye(3)[np.arange(6) % 3]
    one_hot = np.eye(3)[[2, 0, 1]]
    mixed = one_hot.copy()
    mixed[1] = 2.0 * one_hot[1] - 1.0
    expected = loo_influence(K, Y_train, K_test, one_hot, loss="cross_entropy", reduce=None)
    assert_allclose(
        loo_influence(K, Y_train, K_test, mixed, loss="cross_entropy", reduce=None),
        expected,
        rtol=0,
        atol=0,
    )


# --------------------------------------------------------------------------------------------
# symmetry


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_symmetry_error_fields_match_hand_computation(scale):
    # K − Kᵀ has entries ±ε at (0, 1), (1, 0): ‖K − Kᵀ‖_F = √2 ε, ‖K‖_F = √(4 + 1 + (1 + ε)²)
    eps = 0.25
    K = scale * np.array([[2.0, 1.0 + eps], [1.0, 0.0]])
    expected = math.sqrt(2.0) * eps / math.sqrt(4.0 + 1.0 + (1.0 + eps) ** 2)
    with pytest.raises(NumericalCheckError, match="not symmetric") as info:
        loo_influence(K, [1.0, -1.0], K[:1], [1.0], check=False)
    err = info.value
    assert err.check == "symmetry"
    assert err.value == pytest.approx(expected, rel=1e-12)
    assert err.threshold == 1e-6
    assert err.condition_number is None
    assert err.residual is None
    assert err.suggested_alpha is None


def test_all_zero_kernel_is_symmetric_and_has_zero_influence():
    # K = 0: every prediction is 0 with or without any point, so every influence is 0;
    # S(K) = L ‖y‖ / α² in closed form
    K = np.zeros((4, 4))
    y = np.array([1.0, -1.0, 2.0, 0.5])
    assert_allclose(loo_influence(K, y, K[:2], y[:2], reduce=None), np.zeros((2, 4)), atol=0)
    assert intrinsic_sensitivity(K, y, alpha=0.5, lipschitz=3.0) == pytest.approx(
        3.0 * np.linalg.norm(y) / 0.25, rel=1e-14
    )


# --------------------------------------------------------------------------------------------
# residual


@pytest.mark.parametrize("path", ["dual", "primal"])
def test_object_dtype_targets_are_read_as_floats(path):
    # targets from an object column (e.g. pandas) are numbers like any others
    F = np.random.default_rng(4).normal(size=(8, 3))
    y = np.array([1.0, -1.0, 2.0, 0.5, -2.0, 1.0, 3.0, -1.5])
    if path == "dual":
        args, fn = (F @ F.T, y, F[:3] @ F.T, y[:3]), loo_influence
    else:
        args, fn = (F, y, F[:3], y[:3]), loo_influence_features
    as_objects = [a.astype(object) if a.ndim == 1 else a for a in args]
    assert_allclose(fn(*as_objects, alpha=0.1), fn(*args, alpha=0.1), rtol=0, atol=0)


@pytest.mark.parametrize("path", ["dual", "primal"])
def test_float32_inputs_are_computed_in_float64(path):
    # float32 kernels or features are converted exactly to float64 first: the influence is
    # the one of their float64 copies, bit for bit, not a single-precision solve
    F = np.random.default_rng(5).normal(size=(8, 3)).astype(np.float32)
    y = np.array([1.0, -1.0, 2.0, 0.5, -2.0, 1.0, 3.0, -1.5])
    if path == "dual":
        K = F @ F.T
        K = (K + K.T) / 2
        single, double = (K, K[:3]), (K.astype(np.float64), K[:3].astype(np.float64))
        fn = loo_influence
    else:
        single, double = (F, F[:3]), (F.astype(np.float64), F[:3].astype(np.float64))
        fn = loo_influence_features
    expected = fn(double[0], y, double[1], y[:3], alpha=1e-3, reduce=None)
    result = fn(single[0], y, single[1], y[:3], alpha=1e-3, reduce=None)
    assert result.dtype == np.float64
    assert_allclose(result, expected, rtol=0, atol=0)


@pytest.mark.parametrize("path", ["dual", "primal"])
def test_all_zero_targets_give_zero_influence(path):
    # Y = 0: the ridge fits are 0 with or without any point, so every influence is exactly 0
    # (the relative residual is 0, not 0 / 0)
    F = np.random.default_rng(1).normal(size=(8, 3))
    Y = np.zeros((8, 2))
    if path == "dual":
        result = loo_influence(F @ F.T, Y, F[:3] @ F.T, Y[:3], reduce=None)
    else:
        result = loo_influence_features(F, Y, F[:3], Y[:3], reduce=None)
    assert_allclose(result, np.zeros((3, 8)), atol=0)


@pytest.mark.parametrize("path", ["dual", "primal"])
def test_residual_error_fields(monkeypatch, path):
    # with the tolerance at 0 every solve fails the residual check: the error must carry the
    # relative residual, the threshold and the condition number of the system
    rng = np.random.default_rng(2)
    F = rng.normal(size=(12, 4))
    y = rng.normal(size=12)
    alpha = 0.05
    monkeypatch.setattr(loo_module, "_RESIDUAL_RTOL", 0.0)

    def run(targets):
        if path == "dual":
            args, fn = (F @ F.T, targets, F[:2] @ F.T, targets[:2]), loo_influence
        else:
            args, fn = (F, targets, F[:2], targets[:2]), loo_influence_features
        with pytest.raises(NumericalCheckError, match="residual") as info:
            fn(*args, alpha=alpha)
        return info.value

    err = run(y)
    system = F @ F.T + alpha * np.eye(12)
    assert err.check == "residual"
    assert err.threshold == 0.0
    assert err.value == err.residual
    assert 0.0 < err.residual < 1e3 * np.finfo(np.float64).eps * np.linalg.cond(system)
    assert err.suggested_alpha is None
    exact = np.linalg.cond(system, 1 if path == "dual" else 2)
    if path == "dual":  # LAPACK's estimate: a lower bound, here within a factor of 2
        assert exact / 2.0 <= err.condition_number <= exact * (1.0 + 1e-12)
    else:
        assert_allclose(err.condition_number, exact)
    # the residual is relative: scaling the targets by 2⁴⁰ scales the solve exactly
    assert_allclose(run(y * 2.0**40).residual, err.residual, rtol=0.5)
    assert_allclose(run(y * 2.0**-40).residual, err.residual, rtol=0.5)


@pytest.mark.parametrize("path", ["dual", "primal"])
def test_exact_solve_passes_a_zero_residual_tolerance(monkeypatch, path):
    # F = 2I, α = 5: K + αI = FᵀF + αI = 9I has the exact Cholesky factor 3I, so with Y in
    # 9ℤ the solves A = Y / 9 and W = FᵀY / 9 are exact and the residual is exactly 0, which
    # passes even a zero tolerance (the check is ≤, not <)
    monkeypatch.setattr(loo_module, "_RESIDUAL_RTOL", 0.0)
    F = 2.0 * np.eye(3)
    y = np.array([9.0, -27.0, 45.0])
    if path == "dual":
        _, condition = loo_influence(F @ F.T, y, F, y, alpha=5.0, return_condition=True)
    else:
        _, condition = loo_influence_features(F, y, F, y, alpha=5.0, return_condition=True)
    assert condition == 1.0


# --------------------------------------------------------------------------------------------
# condition number and the suggested ridge


def test_dual_condition_error_suggests_the_hand_computed_alpha():
    # K = diag(4, 0, 0, 0), α = 1e-3: ‖K + αI‖₁ = 4.001, cond₁ = 4001; with max_condition = 20
    # the suggestion is 10^⌈log10(2 · √4 · 4.001 / 20)⌉ = 10^⌈log10(0.8002)⌉ = 1
    K = np.diag([4.0, 0.0, 0.0, 0.0])
    y = np.array([1.0, -1.0, 1.0, -1.0])
    # the message repeats the suggestion and the relative error cond₁ · ε = 4001 · 2⁻⁵²
    message = r"up to ~8\.9e-13\. .* try a larger alpha \(alpha >= 1e\+00\)"
    with pytest.raises(NumericalCheckError, match=message) as info:
        loo_influence(K, y, K[:1], y[:1], alpha=1e-3, max_condition=20.0)
    err = info.value
    assert err.check == "condition_number"
    assert err.value == pytest.approx(4.001 / 1e-3, rel=1e-12)
    assert err.condition_number == err.value
    assert err.threshold == 20.0
    assert err.residual is None
    assert err.suggested_alpha == 1.0


def test_dual_condition_error_suggestion_below_one():
    # K = diag(0.1, 0), α = 1e-5, max_condition = 100: 2 · √2 · 0.10001 / 100 = 2.83e-3 → 1e-2
    K = np.diag([0.1, 0.0])
    y = np.array([1.0, -1.0])
    with pytest.raises(NumericalCheckError) as info:
        loo_influence(K, y, K, y, alpha=1e-5, max_condition=100.0)
    assert info.value.value == pytest.approx(0.10001 / 1e-5, rel=1e-12)
    assert info.value.suggested_alpha == pytest.approx(1e-2, rel=1e-15)


def test_dual_condition_error_suggestion_equal_to_alpha_is_dropped():
    # indefinite K with K + αI positive definite: K = diag(0.9, 1e-4 − 0.1), α = 0.1 gives
    # K + αI = diag(1, 1e-4), cond₁ = 1e4 > 100. The rule 10^⌈log10(2 · √2 · 1 / 100)⌉ = 0.1
    # is not larger than α, so no ridge is suggested
    K = np.diag([0.9, 1e-4 - 0.1])
    y = np.array([1.0, -1.0])
    with pytest.raises(NumericalCheckError, match="K itself is ill-conditioned") as info:
        loo_influence(K, y, K, y, alpha=0.1, max_condition=100.0)
    assert info.value.value == pytest.approx(1e4, rel=1e-9)
    assert info.value.suggested_alpha is None


def test_primal_condition_error_suggests_the_hand_computed_alpha():
    # F = U diag(3, 1) Vᵀ with 5 rows: eigenvalues of F Fᵀ + αI are 9.01, 1.01, 0.01 (×3);
    # cond₂ = 901, and 10^⌈log10(2 · 9.01 / 100)⌉ = 1
    U = _rotation(5, 3)[:, :2]
    F = U @ np.diag([3.0, 1.0]) @ _rotation(2, 4).T
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
    with pytest.raises(NumericalCheckError) as info:
        loo_influence_features(F, y, F[:2], y[:2], alpha=0.01, max_condition=100.0)
    err = info.value
    assert err.check == "condition_number"
    assert err.value == pytest.approx(9.01 / 0.01, rel=1e-10)
    assert err.condition_number == err.value
    assert err.threshold == 100.0
    assert err.suggested_alpha == 1.0


def test_primal_condition_number_of_square_features():
    # n = d: F F ᵀ is full rank, its eigenvalues are the squared singular values 4, 1, 0.25, so
    # cond₂(F Fᵀ + αI) = 4.1 / 0.35 (not 4.1 / α, as it would be for n > d)
    F = _rotation(3, 5) @ np.diag([2.0, 1.0, 0.5]) @ _rotation(3, 6).T
    y = np.array([1.0, -1.0, 1.0])
    _, condition = loo_influence_features(F, y, F, y, alpha=0.1, return_condition=True)
    assert condition == pytest.approx(4.1 / 0.35, rel=1e-10)
    with pytest.raises(NumericalCheckError) as info:
        loo_influence_features(F, y, F, y, alpha=0.1, max_condition=10.0)
    assert info.value.condition_number == pytest.approx(4.1 / 0.35, rel=1e-10)
    assert info.value.suggested_alpha == 1.0  # 10^⌈log10(2 · 4.1 / 10)⌉ = 10^⌈log10(0.82)⌉


# --------------------------------------------------------------------------------------------
# positive definiteness


@pytest.mark.parametrize(
    ("top", "max_condition", "expected"),
    [(2.0, 1e12, 0.1), (3.0, 50.0, 1.0)],
)
def test_indefinite_kernel_suggests_the_hand_computed_alpha(top, max_condition, expected):
    # K = diag(top, −0.05), α = 0.01: λ_min(K + αI) = −0.04; the suggestion is
    # 10^⌈log10(0.05 + ‖K‖₂ / max_condition)⌉: 10^⌈log10(0.05 + 2e-12)⌉ = 0.1 and
    # 10^⌈log10(0.05 + 0.06)⌉ = 1
    K = np.diag([top, -0.05])
    y = np.array([1.0, -1.0])
    options = {"max_condition": max_condition}
    with pytest.raises(NumericalCheckError, match="not positive definite") as info:
        loo_influence(K, y, K, y, alpha=0.01, **options)
    err = info.value
    assert err.check == "positive_definite"
    assert err.value == pytest.approx(-0.04, rel=1e-12)
    assert err.suggested_alpha == pytest.approx(expected, rel=1e-15)
    assert err.threshold is None
    assert err.condition_number is None
    assert err.residual is None
    # the suggestion works
    assert np.all(np.isfinite(loo_influence(K, y, K, y, alpha=err.suggested_alpha, **options)))


def test_intrinsic_sensitivity_refuses_a_zero_smallest_eigenvalue():
    # K + αI = diag(0, 2.5): not positive definite, λ_min exactly 0
    K = np.diag([-0.5, 2.0])
    with pytest.raises(NumericalCheckError, match="not positive definite") as info:
        intrinsic_sensitivity(K, [1.0, 1.0], alpha=0.5, lipschitz=1.0)
    err = info.value
    assert err.check == "positive_definite"
    assert err.value == 0.0
    assert err.threshold is None
    assert err.suggested_alpha is None


# --------------------------------------------------------------------------------------------
# non-finite results


def test_leverage_rounded_to_one_is_refused():
    # point 0 alone spans its direction with ‖f_0‖² = 2⁶⁶: M = FᵀF + αI rounds to
    # diag(2⁶⁶, 2 + α), so f_0ᵀ M⁻¹ f_0 = 1 exactly and H_00 = 0
    F = np.array([[2.0**33, 0.0], [0.0, 1.0], [0.0, 1.0]])
    y = np.array([1.0, -1.0, 1.0])
    with pytest.raises(NumericalCheckError, match="leverage rounded to 1") as info:
        loo_influence_features(F, y, F[1:], y[1:], alpha=2.0**-10, check=False)
    err = info.value
    assert err.check == "finite"
    assert err.value == 0.0
    assert err.threshold is None
    assert err.condition_number is None


@pytest.mark.parametrize("path", ["dual", "primal"])
def test_overflowing_influence_is_refused(path):
    # test rows 1e200 times the training rows: the influence is ~1e400, beyond float64
    F = np.eye(3)
    y = np.array([1.0, -1.0, 1.0])
    F_test = 1e200 * F[:1]
    if path == "dual":
        args, fn = (F @ F.T, y, F_test @ F.T, y[:1]), loo_influence
    else:
        args, fn = (F, y, F_test, y[:1]), loo_influence_features
    with np.errstate(over="ignore"), pytest.raises(NumericalCheckError, match="not finite") as info:
        fn(*args, alpha=1.0)
    err = info.value
    assert err.check == "finite"
    assert math.isnan(err.value)
    assert err.threshold is None
    assert err.suggested_alpha is None


# --------------------------------------------------------------------------------------------
# defaults


def test_default_alpha_is_one_thousandth():
    K, y, K_test, y_test = _rbf_problem()
    expected = _refit_squared_influence(K, y, K_test, y_test, alpha=1e-3)
    assert np.abs(expected).max() > 1e-2
    scale = np.abs(expected).max()
    assert_allclose(loo_influence(K, y, K_test, y_test), expected, rtol=0, atol=1e-7 * scale)
    F = np.random.default_rng(7).normal(size=(18, 4))
    Kf = F @ F.T
    expected = _refit_squared_influence(Kf[:14, :14], y, Kf[14:, :14], y_test, alpha=1e-3)
    assert_allclose(
        loo_influence_features(F[:14], y, F[14:], y_test),
        expected,
        rtol=0,
        atol=1e-7 * np.abs(expected).max(),
    )


# --------------------------------------------------------------------------------------------
# boundaries and edge cases of the primal path and the sensitivity (#15, mutation run)


@pytest.mark.parametrize("path", ["dual", "primal"])
def test_default_max_condition_is_1e12_inclusive(path):
    # F = (10⁶, 0)ᵀ, α = 1: F Fᵀ + αI = diag(10¹² + 1, 1), whose 1- and 2-norm condition
    # numbers are both 10¹² + 1 exactly: refused by the default max_condition = 10¹², accepted
    # at max_condition equal to the reported value. The dual path reports LAPACK's estimate,
    # exact for a diagonal matrix but for the rounding of its reciprocal 1/κ (a few ulp).
    F = np.array([[1e6], [0.0]])
    y = np.array([1.0, -1.0])
    if path == "dual":
        args, fn = (F @ F.T, y, F @ F.T, y), loo_influence
    else:
        args, fn = (F, y, F, y), loo_influence_features
    with pytest.raises(NumericalCheckError) as info:
        fn(*args, alpha=1.0)
    ulps = 4 * np.finfo(np.float64).eps if path == "dual" else 0.0
    assert info.value.value == pytest.approx(1e12 + 1.0, rel=ulps, abs=0)
    assert info.value.threshold == 1e12
    reported = info.value.value
    _, condition = fn(*args, alpha=1.0, max_condition=reported, return_condition=True)
    assert condition == reported


def test_primal_condition_number_of_rank_deficient_features_is_bounded():
    # n = 3 ≤ d = 4 with row 2 = row 0 + row 1: F Fᵀ is singular, so cond₂(F Fᵀ + αI) is
    # (σ₁² + α) / α; round-off in the zero eigenvalue (negative on some BLAS) must not push
    # the reported number above it or below 1
    F = np.random.default_rng(38).normal(size=(2, 4))
    F = np.vstack([F, F[0] + F[1]])
    y = np.array([1.0, -1.0, 1.0])
    alpha = 1e-13
    _, condition = loo_influence_features(
        F, y, F, y, alpha=alpha, check=False, return_condition=True
    )
    bound = (np.linalg.svd(F, compute_uv=False)[0] ** 2 + alpha) / alpha
    assert 1.0 <= condition <= bound * (1.0 + 1e-12)
    assert condition >= 0.5 * bound


def test_primal_cholesky_failure_is_reported():
    # FᵀF = 5 · [[1, 1], [1, 1]] exactly and 5 + 2⁻⁶⁰ rounds to 5: FᵀF + αI is positive
    # definite in exact arithmetic but its second Cholesky pivot is exactly 0 in float64
    F = np.array([[1.0, 1.0], [2.0, 2.0]])
    y = np.array([1.0, -1.0])
    with pytest.raises(NumericalCheckError, match="not numerically positive definite") as info:
        loo_influence_features(F, y, F, y, alpha=2.0**-60, check=False)
    assert info.value.check == "positive_definite"
    assert math.isnan(info.value.value)
    assert info.value.suggested_alpha is None


def test_cross_entropy_label_error_comes_before_the_condition_check():
    # an invalid class encoding is reported as such, even on an ill-conditioned system
    F = np.array([[1e6], [0.0]])
    y_train = np.array([1.0, -1.0])
    y_test = np.array([1.0, 0.5])
    for fn, args in [
        (loo_influence_features, (F, y_train, F, y_test)),
        (loo_influence, (F @ F.T, y_train, F @ F.T, y_test)),
    ]:
        with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
            fn(*args, alpha=1.0, loss="cross_entropy")


def test_overflowing_features_or_targets_raise_numerical_check_errors():
    # ‖f_0‖² = 10⁴⁰⁰ overflows FᵀF, and FᵀY overflows with targets near the float64 maximum:
    # both are reported as NumericalCheckError, not as a bare scipy error
    y = np.array([1.0, -1.0, 1.0])
    F = np.array([[1e200, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with np.errstate(all="ignore"), pytest.raises(NumericalCheckError):
        loo_influence_features(F, y, F, y)
    F = np.array([[10.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    big = np.array([1e308, -1.0, 1.0])
    with np.errstate(all="ignore"), pytest.raises(NumericalCheckError, match="residual"):
        loo_influence_features(F, big, F, big)


def test_overflowing_dual_system_raises_a_numerical_check_error():
    # K + αI overflows at (0, 0) (1.5e308 + 0.5e308): that is reported as NumericalCheckError,
    # not as a bare scipy error or an OverflowError from the suggested ridge
    K = np.diag([1.5e308, 1.0])
    y = np.array([1.0, -1.0])
    with np.errstate(all="ignore"), pytest.raises(NumericalCheckError, match="not finite"):
        loo_influence(K, y, K, y, alpha=0.5e308, check=False)
    # with the checks, the infinite condition number is refused and no ridge is suggested
    with np.errstate(all="ignore"), pytest.raises(NumericalCheckError) as info:
        loo_influence(K, y, K, y, alpha=0.5e308)
    assert info.value.check == "condition_number"
    assert info.value.suggested_alpha is None


def test_indefinite_kernel_suggestion_uses_the_spectral_norm():
    # K = diag(0.4, 0.4, −0.05), α = 0.01, max_condition = 10: ‖K‖₂ = 0.4 gives
    # 10^⌈log10(0.05 + 0.04)⌉ = 0.1 (the Frobenius norm 0.568 would give 1)
    K = np.diag([0.4, 0.4, -0.05])
    y = np.array([1.0, -1.0, 1.0])
    with pytest.raises(NumericalCheckError, match="not positive definite") as info:
        loo_influence(K, y, K, y, alpha=0.01, max_condition=10.0)
    assert info.value.suggested_alpha == pytest.approx(0.1, rel=1e-15)


def test_indefinite_one_by_one_kernel_reports_its_eigenvalue():
    # K = (−1), α = 0.5: K + αI = (−0.5); the suggestion is 10^⌈log10(1 + 1 / 10¹²)⌉ = 10
    with pytest.raises(NumericalCheckError, match="not positive definite") as info:
        loo_influence([[-1.0]], [1.0], [[-1.0]], [1.0], alpha=0.5)
    assert info.value.value == -0.5
    assert info.value.suggested_alpha == 10.0


def test_intrinsic_sensitivity_of_a_one_by_one_kernel():
    # K = (2), α = 0.5, ‖y‖ = 3, L = 1: S = 3 / 2.5² = 0.48
    assert intrinsic_sensitivity([[2.0]], [3.0], alpha=0.5, lipschitz=1.0) == pytest.approx(
        0.48, rel=1e-15
    )


def test_intrinsic_sensitivity_round_off_message_suggests_the_hand_computed_alpha():
    # K = diag(−4e-16, 1), α = 1e-18: λ = −3.99e-16 is within the round-off 2 · ε · ‖K‖₂ =
    # 4.44e-16; the ridge that covers it is 10^⌈log10(4.44e-16 + 4e-16)⌉ = 1e-15
    K = np.diag([-4e-16, 1.0])
    with pytest.raises(NumericalCheckError, match=r"pass alpha >= 1e-15\.") as info:
        intrinsic_sensitivity(K, [1.0, 1.0], alpha=1e-18, lipschitz=1.0)
    assert info.value.value == pytest.approx(-4e-16 + 1e-18, rel=1e-12)


@pytest.mark.parametrize(
    ("loss", "n_outputs", "n_train", "block_elements", "rows"),
    [
        ("squared", 3, 6, 20, 3),  # n entries per test row, whatever C: ⌊20 / 6⌋
        ("squared", 1, 6, 10, 1),  # ⌊10 / 6⌋ = 1
        ("squared", 1, 1, 3, 3),  # one training point: ⌊3 / 1⌋
        ("cross_entropy", 2, 6, 40, 3),  # softmax forms n · C entries per row: ⌊40 / 12⌋
        ("cross_entropy", 1, 6, 13, 2),  # logistic: n per row, ⌊13 / 6⌋
    ],
)
def test_blocks_hold_at_most_the_documented_number_of_entries(
    monkeypatch, loss, n_outputs, n_train, block_elements, rows
):
    # the leave-one-out outputs of a block of b test rows take b · n entries (b · n · C for the
    # softmax): blocks are the largest that fit in _BLOCK_ELEMENTS (at least one row)
    K, y, K_test, y_test = _rbf_problem(n=n_train, n_test=7)
    Y, Y_test = y[:, None], y_test[:, None]
    if n_outputs == 2:
        Y, Y_test = np.hstack([Y, -Y]), np.hstack([Y_test, -Y_test])
    elif n_outputs == 3:
        Y, Y_test = np.hstack([Y, -Y, 2 * Y]), np.hstack([Y_test, -Y_test, 2 * Y_test])
    seen = []
    original = loo_module._block_influence

    def spy(B, *args):
        seen.append(B.shape[0])
        return original(B, *args)

    monkeypatch.setattr(loo_module, "_BLOCK_ELEMENTS", block_elements)
    monkeypatch.setattr(loo_module, "_block_influence", spy)
    loo_influence(K, Y, K_test, Y_test, alpha=0.1, loss=loss, reduce=None)
    assert seen == [rows] * (7 // rows) + ([7 % rows] if 7 % rows else [])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_not_positive_definite_beyond_any_float64_ridge_asks_to_rescale():
    # K + αI has eigenvalues 1e308 + 1 and -1.5e308 + 1: no power of ten up to 1e308 covers
    # α - λ_min + ‖K‖₂/max_condition (> 1.5e308), so no alpha can be suggested.
    K = np.array([[1e308, 0.0], [0.0, -1.5e308]])
    with pytest.raises(NumericalCheckError, match="rescale K") as info:
        loo_influence(K, np.ones(2), np.zeros((1, 2)), np.ones(1), alpha=1.0)
    assert info.value.check == "positive_definite"
    assert info.value.suggested_alpha is None
    assert info.value.value == pytest.approx(-1.5e308)


# the dual path at the cost of one factorisation (#16): condition estimate, inverse diagonal


@pytest.mark.parametrize("diagonal", [[4.0, 1.0, 0.5, 2.0], [1e9, 3.0, 1e-3, 7.0, 1.0]])
def test_dual_condition_estimate_is_exact_for_diagonal_kernels(diagonal):
    # diag(d) + αI has κ₁ = max(d + α) / min(d + α); pocon's estimate is exact there, up to the
    # rounding of its reciprocal
    K = np.diag(diagonal)
    alpha = 0.25
    y = np.arange(1.0, K.shape[0] + 1.0)
    _, condition = loo_influence(
        K, y, K[:2], y[:2], alpha=alpha, check=False, return_condition=True
    )
    shifted = np.asarray(diagonal) + alpha
    assert condition == pytest.approx(shifted.max() / shifted.min(), rel=4 * np.finfo(float).eps)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dual_condition_estimate_of_a_rotated_spectrum(seed):
    # S = Q diag(s) Qᵀ with s from 1 to 1e8: the exact κ₁ = ‖S‖₁ ‖S⁻¹‖₁ from numpy's inverse
    # bounds the estimate from above; pocon's estimate stays within a factor of a few below it
    rng = np.random.default_rng(seed)
    n, alpha = 40, 1e-3
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    K = (Q * np.geomspace(1.0, 1e8, n)) @ Q.T
    K = (K + K.T) / 2.0
    system = K + alpha * np.eye(n)
    exact = np.linalg.norm(system, 1) * np.linalg.norm(np.linalg.inv(system), 1)
    y = rng.normal(size=n)
    _, estimate = loo_influence(K, y, K[:3], y[:3], alpha=alpha, return_condition=True)
    assert exact / 4.0 <= estimate <= exact * (1.0 + 1e-9)
    # max_condition keeps its meaning on the estimate: refused just below it, accepted at it
    with pytest.raises(NumericalCheckError) as info:
        loo_influence(K, y, K[:3], y[:3], alpha=alpha, max_condition=estimate * (1 - 1e-9))
    assert info.value.check == "condition_number"
    assert info.value.condition_number == estimate
    loo_influence(K, y, K[:3], y[:3], alpha=alpha, max_condition=estimate)


def _inverse_formula_influence(K, Y, K_test, Y_test, alpha, loss):
    """Per-pair influence from the explicit inverse H = (K + αI)⁻¹ (numpy), the pre-#16 path."""
    H = np.linalg.inv(K + alpha * np.eye(K.shape[0]))
    A = H @ Y
    f = K_test @ A
    B = K_test @ H
    out_loo = f[:, None, :] - B[:, :, None] * (A / np.diag(H)[:, None])[None]
    if loss == "squared":
        return (
            np.sum((out_loo - Y_test[:, None]) ** 2, axis=2)
            - np.sum((f - Y_test) ** 2, axis=1)[:, None]
        )
    labels = np.argmax(Y_test, axis=1)
    rows = np.arange(f.shape[0])

    def ce(logits, true):
        top = logits.max(axis=-1, keepdims=True)
        return np.log(np.exp(logits - top).sum(axis=-1)) + top[..., 0] - true

    full = ce(f, f[rows, labels])
    return ce(out_loo, out_loo[rows, :, labels]) - full[:, None]


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
@pytest.mark.parametrize("block_elements", [2**22, 40])
def test_dual_influence_equals_the_explicit_inverse_formula(monkeypatch, loss, block_elements):
    # the triangular path (H never formed) against H from numpy's inverse, in one block of test
    # rows and in blocks of one row
    monkeypatch.setattr(loo_module, "_BLOCK_ELEMENTS", block_elements)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(37, 4))
    K_all = np.exp(-0.25 * np.sum((X[:, None] - X[None]) ** 2, axis=-1))
    Y = np.eye(3)[rng.integers(0, 3, 37)]
    K, K_test = K_all[:30, :30], K_all[30:, :30]
    expected = _inverse_formula_influence(K, Y[:30], K_test, Y[30:], 0.05, loss)
    got = loo_influence(K, Y[:30], K_test, Y[30:], alpha=0.05, loss=loss, reduce=None)
    assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * np.max(np.abs(expected)))
    # Fortran-ordered inputs take the same path through the BLAS wrappers
    fortran = loo_influence(
        np.asfortranarray(K),
        Y[:30],
        np.asfortranarray(K_test),
        Y[30:],
        alpha=0.05,
        loss=loss,
        reduce=None,
    )
    assert_allclose(fortran, got, rtol=1e-12, atol=1e-15 * np.max(np.abs(expected)))


@pytest.mark.parametrize("n", [5, 300])
def test_symmetry_error_value_is_numpys_relative_asymmetry(n):
    # the blocked one-pass comparison (several blocks of rows at n = 300) against numpy's
    # ‖K − Kᵀ‖_F / ‖K‖_F on the whole matrix; the 1-norm against numpy's too
    rng = np.random.default_rng(n)
    K = rng.normal(size=(n, n))
    K = K @ K.T + 0.1 * rng.normal(size=(n, n))
    y = rng.normal(size=n)
    with pytest.raises(NumericalCheckError) as info:
        loo_influence(K, y, K[:2], y[:2])
    assert info.value.check == "symmetry"
    assert info.value.value == pytest.approx(np.linalg.norm(K - K.T) / np.linalg.norm(K), rel=1e-12)
    K = (K + K.T) / 2.0
    with pytest.raises(NumericalCheckError) as info:
        loo_influence(K, y, K[:2], y[:2], alpha=0.5, max_condition=1.5)
    shifted = K + 0.5 * np.eye(n)
    suggested = 2.0 * math.sqrt(n) * np.linalg.norm(shifted, 1) / 1.5
    assert info.value.suggested_alpha == 10.0 ** math.ceil(math.log10(suggested))
