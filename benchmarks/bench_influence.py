"""Benchmark the exact leave-one-out influence (issue #4, "Speed").

1. Closed-form LOO (``loo_influence``, one Cholesky factorisation) against ``n`` explicit
   :class:`~sklearn.kernel_ridge.KernelRidge` refits on the ``n − 1`` other points, at
   ``n = 1000`` (RBF kernel on digits, 10 one-hot outputs, squared loss). Goal: ≥ 100×, with a
   maximum absolute difference ≤ 1e-8.
2. Primal (``loo_influence_features``, ``O(n d²)``) against dual (``loo_influence`` on
   ``K = F Fᵀ``, ``O(n³)``) at ``n = 20 000``, ``d = 784``. Goal: ≥ 20×. The dual at
   ``n = 20 000`` needs several 3.2 GB matrices and an ``O(n³)`` factorisation, too much for a
   shared 2-core VM, so it is timed at smaller ``n`` and extrapolated; the primal runs at
   ``n = 20 000`` for real. The features are synthetic (non-negative, unit-norm rows like
   normalised pixels: only the shapes matter for the timing). The dual is timed from a given
   ``K``, i.e. without the ``O(n² d)`` cost of forming it, which favours the dual.

BLAS runs single-threaded (``--threads``) so the figures do not depend on the other jobs on
the machine. Run: ``python benchmarks/bench_influence.py`` (about 2 minutes).
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import rbf_kernel
from threadpoolctl import threadpool_limits

from sklearn_attnkernel import loo_influence, loo_influence_features

ALPHA = 1e-3


def _best_time(fn, repeat):
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_refits(n_train, n_test):
    X, labels = load_digits(return_X_y=True)
    X = X / 16.0
    Y = np.eye(10)[labels]
    tr, te = slice(0, n_train), slice(n_train, n_train + n_test)
    K_all = rbf_kernel(X[: n_train + n_test], gamma=1.0 / X.shape[1])
    K, K_test = K_all[tr, tr], K_all[te, tr]

    closed_time, closed = _best_time(
        lambda: loo_influence(K, Y[tr], K_test, Y[te], alpha=ALPHA, reduce=None), repeat=3
    )

    def refits():
        def loss(f):
            return np.sum((f - Y[te]) ** 2, axis=1)

        base = loss(KernelRidge(kernel="precomputed", alpha=ALPHA).fit(K, Y[tr]).predict(K_test))
        out = np.empty((n_test, n_train))
        for i in range(n_train):
            keep = np.arange(n_train) != i
            model = KernelRidge(kernel="precomputed", alpha=ALPHA)
            model.fit(K[np.ix_(keep, keep)], Y[tr][keep])
            out[:, i] = loss(model.predict(K_test[:, keep])) - base
        return out

    refit_time, expected = _best_time(refits, repeat=1)
    delta = float(np.max(np.abs(closed - expected)))
    print(f"[1] closed-form LOO vs {n_train} KernelRidge refits (n_test={n_test}, 10 outputs)")
    print(f"    closed form : {closed_time:9.3f} s")
    print(f"    refits      : {refit_time:9.3f} s")
    print(f"    speed-up    : {refit_time / closed_time:9.1f}x   (goal >= 100x)")
    print(f"    max |delta| : {delta:9.2e}   (goal <= 1e-8)")


def _features(n, d, rng):
    F = rng.random((n, d)) ** 4  # sparse-ish non-negative "pixels"
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return F


def bench_primal_dual(n_primal, d, n_test, dual_sizes):
    rng = np.random.default_rng(0)
    F = _features(n_primal + n_test, d, rng)
    Y = np.eye(10)[rng.integers(0, 10, n_primal + n_test)]
    print(f"[2] primal vs dual, d={d}, n_test={n_test}, 10 outputs, squared loss, alpha={ALPHA}")

    dual_times = []
    for n in dual_sizes:
        F_tr, F_te = F[:n], F[n_primal : n_primal + n_test]
        K, K_test = F_tr @ F_tr.T, F_te @ F_tr.T
        t_dual, dual = _best_time(
            lambda K=K, K_test=K_test, n=n: loo_influence(K, Y[:n], K_test, Y[n_primal:]),
            repeat=1,
        )
        t_primal, primal = _best_time(
            lambda F_tr=F_tr, F_te=F_te, n=n: loo_influence_features(
                F_tr, Y[:n], F_te, Y[n_primal:]
            ),
            repeat=3,
        )
        dual_times.append(t_dual)
        delta = float(np.max(np.abs(primal - dual)))
        print(
            f"    n={n:6d}: dual {t_dual:8.3f} s, primal {t_primal:7.3f} s, "
            f"ratio {t_dual / t_primal:7.1f}x, max |primal - dual| {delta:.1e}"
        )
        del K, K_test

    t_primal, _ = _best_time(
        lambda: loo_influence_features(F[:n_primal], Y[:n_primal], F[n_primal:], Y[n_primal:]),
        repeat=1,
    )
    n0, t0 = dual_sizes[-1], dual_times[-1]
    cubic = t0 * (n_primal / n0) ** 3
    quadratic = t0 * (n_primal / n0) ** 2
    print(f"    n={n_primal:6d}: primal {t_primal:7.3f} s (measured)")
    print(
        f"    dual at n={n_primal} extrapolated from n={n0}: {cubic:8.1f} s by n^3, "
        f"{quadratic:7.1f} s by n^2 (a lower bound)"
    )
    print(
        f"    speed-up at n={n_primal}: {cubic / t_primal:7.1f}x (n^3), "
        f"{quadratic / t_primal:6.1f}x (n^2 lower bound)   (goal >= 20x)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-refit", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--n-primal", type=int, default=20000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--dual-sizes", type=int, nargs="+", default=[2000, 4000, 6000])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with threadpool_limits(limits=args.threads):
        print(f"BLAS threads: {args.threads}")
        bench_refits(args.n_refit, args.n_test)
        bench_primal_dual(args.n_primal, args.d, args.n_test, args.dual_sizes)


if __name__ == "__main__":
    main()
