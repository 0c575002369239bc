"""Exact leave-one-out influence against explicit refits, and primal against dual (issue #4).

1. The closed form (:func:`loo_influence`, one Cholesky factorisation) against ``n`` explicit
   :class:`~sklearn.kernel_ridge.KernelRidge` refits on the ``n − 1`` other points: RBF kernel
   on digits, 10 one-hot outputs, squared loss, α = 1e-3. Goal: ≥ 100× at n = 1 000.
2. Primal (:func:`loo_influence_features`, O(n d²)) against dual (:func:`loo_influence` on
   ``K = F Fᵀ``, O(n³)) with d = 784. The goal (≥ 20×) is at n = 20 000, where the dual needs
   several 3.2 GB matrices: the dual runs up to n = 6 000 (the recorded figures extrapolate it),
   the primal at 20 000 too. The dual is timed from a given K, which favours it.

3. The dual path against one bare Cholesky factorisation (issue #16): ``scipy.linalg.cho_factor``
   of ``K + αI``, ``loo_influence(check=False)`` and the default ``loo_influence`` on a random
   positive semi-definite ``K``, 10 outputs, 200 test points, two BLAS threads. Goal: the
   default ≤ 3× and ``check=False`` ≤ 2× the bare factorisation, at n = 4 000 and 10 000.

BLAS runs on one thread (two for 3.) so the figures do not depend on the other jobs on the
machine.
"""

import numpy as np
from scipy.linalg import cho_factor
from sklearn.datasets import load_digits
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import rbf_kernel

from sklearn_attnkernel import loo_influence, loo_influence_features

from .common import SingleRun, limit_threads, speedup

ALPHA = 1e-3
THREADS = 1
#: (n_train, n_test) of the comparison with refits (digits).
REFIT_SIZES = {"small": (200, 50), "full": (1_000, 200)}
#: n_train of the primal/dual comparison; the dual is not run at "large".
PRIMAL_SIZES = {"small": 2_000, "full": 6_000, "large": 20_000}
D = 784
N_TEST = 200
#: n_train of the comparison with one bare factorisation (#16); 10 000 needs about 4 GB.
FACTOR_SIZES = {"small": 1_000, "full": 4_000, "large": 10_000}
FACTOR_THREADS = 2


def digits_kernels(n_train, n_test):
    """RBF Gram matrices of the first digits and one-hot targets: ``K, Y, K_test, Y_test``."""
    X, labels = load_digits(return_X_y=True)
    X = X[: n_train + n_test] / 16.0
    Y = np.eye(10)[labels[: n_train + n_test]]
    K_all = rbf_kernel(X, gamma=1.0 / X.shape[1])
    tr, te = slice(0, n_train), slice(n_train, n_train + n_test)
    return K_all[tr, tr], Y[tr], K_all[te, tr], Y[te]


def refit_influence(K, Y, K_test, Y_test):
    """The LOO influence by brute force: one ``KernelRidge`` refit per left-out point."""

    def loss(f):
        return np.sum((f - Y_test) ** 2, axis=1)

    n_train = K.shape[0]
    base = loss(KernelRidge(kernel="precomputed", alpha=ALPHA).fit(K, Y).predict(K_test))
    out = np.empty((K_test.shape[0], n_train))
    for i in range(n_train):
        keep = np.arange(n_train) != i
        model = KernelRidge(kernel="precomputed", alpha=ALPHA)
        model.fit(K[np.ix_(keep, keep)], Y[keep])
        out[:, i] = loss(model.predict(K_test[:, keep])) - base
    return out


def features(n, seed=0):
    """``n + N_TEST`` sparse-ish non-negative unit-norm rows and one-hot targets: F, Y."""
    rng = np.random.default_rng(seed)
    F = rng.random((n + N_TEST, D)) ** 4
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    Y = np.eye(10)[rng.integers(0, 10, n + N_TEST)]
    return F, Y


class RefitProblem:
    """Setup shared by the closed form and the refits: digits kernels, one BLAS thread."""

    params = (list(REFIT_SIZES),)
    param_names = ("size",)

    def setup(self, size):
        self.restore = limit_threads(THREADS)
        self.K, self.Y, self.K_test, self.Y_test = digits_kernels(*REFIT_SIZES[size])

    def teardown(self, size):
        self.restore()

    def closed_form(self):
        return loo_influence(self.K, self.Y, self.K_test, self.Y_test, alpha=ALPHA, reduce=None)


class LooClosedForm(RefitProblem):
    """``loo_influence`` on a precomputed RBF kernel, every (test, train) pair."""

    def time_loo_influence(self, size):
        self.closed_form()


class LooRefits(RefitProblem, SingleRun):
    """The baseline of ``n`` ``KernelRidge`` refits, and the speed-up of the closed form."""

    def time_refits(self, size):
        refit_influence(self.K, self.Y, self.K_test, self.Y_test)

    def track_speedup(self, size):
        return speedup(
            lambda: refit_influence(self.K, self.Y, self.K_test, self.Y_test), self.closed_form
        )

    track_speedup.unit = "ratio"


class FeatureProblem:
    """Setup shared by primal and dual: synthetic unit-norm features, one BLAS thread."""

    params = (list(PRIMAL_SIZES),)
    param_names = ("size",)

    def setup(self, size):
        self.restore = limit_threads(THREADS)
        self.n = PRIMAL_SIZES[size]
        self.F, self.Y = features(self.n)

    def teardown(self, size):
        self.restore()

    def primal(self):
        n = self.n
        return loo_influence_features(self.F[:n], self.Y[:n], self.F[n:], self.Y[n:])


class LooPrimal(FeatureProblem):
    """``loo_influence_features`` (primal, O(n d²)), d = 784, 200 test points, 10 outputs."""

    def time_loo_influence_features(self, size):
        self.primal()


class LooDual(FeatureProblem, SingleRun):
    """The dual ``loo_influence`` on ``K = F Fᵀ`` (given), and the primal's speed-up over it."""

    params = (["small", "full"],)

    def setup(self, size):
        super().setup(size)
        F_train, F_test = self.F[: self.n], self.F[self.n :]
        self.K, self.K_test = F_train @ F_train.T, F_test @ F_train.T

    def dual(self):
        n = self.n
        return loo_influence(self.K, self.Y[:n], self.K_test, self.Y[n:])

    def time_loo_influence_dual(self, size):
        self.dual()

    def track_speedup(self, size):
        return speedup(self.dual, self.primal)

    track_speedup.unit = "ratio"


def random_psd_problem(n, n_test=N_TEST, n_outputs=10, seed=0):
    """Random positive semi-definite ``K = X Xᵀ`` (rank n / 2), one-hot targets, test kernel."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + n_test, n // 2)) / np.sqrt(n)
    K_all = X @ X.T
    Y = np.eye(n_outputs)[rng.integers(0, n_outputs, n + n_test)]
    return K_all[:n, :n].copy(), Y[:n], K_all[n:, :n].copy(), Y[n:]


def bare_factorisation(K):
    """The reference cost: LAPACK's Cholesky of ``K + αI`` through scipy, nothing else."""
    return cho_factor(K + ALPHA * np.eye(K.shape[0]), lower=True, overwrite_a=True)


class LooOneFactorisation:
    """``loo_influence`` (default and ``check=False``) against one bare ``cho_factor`` (#16).

    Compare ``time_loo_influence`` and ``time_loo_influence_unchecked`` with
    ``time_cho_factor`` at the same size: the ratios are the goals of issue #16. The
    ``track_*`` methods give them from one process.
    """

    params = (list(FACTOR_SIZES),)
    param_names = ("size",)
    timeout = 900.0

    def setup(self, size):
        self.restore = limit_threads(FACTOR_THREADS)
        self.K, self.Y, self.K_test, self.Y_test = random_psd_problem(FACTOR_SIZES[size])

    def teardown(self, size):
        self.restore()

    def loo(self, check=True):
        return loo_influence(self.K, self.Y, self.K_test, self.Y_test, alpha=ALPHA, check=check)

    def time_cho_factor(self, size):
        bare_factorisation(self.K)

    def time_loo_influence(self, size):
        self.loo()

    def time_loo_influence_unchecked(self, size):
        self.loo(check=False)

    def track_ratio_default(self, size):
        return 1.0 / speedup(lambda: bare_factorisation(self.K), self.loo, baseline_repeat=3)

    track_ratio_default.unit = "ratio"

    def track_ratio_unchecked(self, size):
        return 1.0 / speedup(
            lambda: bare_factorisation(self.K), lambda: self.loo(check=False), baseline_repeat=3
        )

    track_ratio_unchecked.unit = "ratio"
