"""Benchmark the κ diagnostic against the naive eigenvalues of the n × n Gram matrix.

Goal (issue #2): ``effective_condition_number`` on a 60 000 × 784 matrix in ≤ 5 s on 2 cores.
Baseline: ``numpy.linalg.eigvalsh(X @ X.T)`` at n = 5 000 (the naive route; at n = 60 000 the Gram
matrix alone would take 29 GB). Our method is timed at n = 5 000 too and the ratio printed.

The test matrix is ``Z diag(s) Vᵀ`` with Gaussian ``Z`` (n × d), ``V`` orthogonal and ``s`` decaying
geometrically over four decades, so ``κ`` is about 10⁸ and well defined.

Run: ``python benchmarks/bench_kappa.py`` (about a minute on a 2-core VM; BLAS uses every core).
"""

import argparse
import platform
import time

import numpy as np
from threadpoolctl import threadpool_info

from sklearn_attnkernel.diagnostics.kappa import effective_condition_number


def decaying_matrix(n, d, seed=0):
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s = np.geomspace(1.0, 1e-4, d)
    return (rng.normal(size=(n, d)) * s) @ V.T


def best_time(func, repeats):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-large", type=int, default=60_000)
    parser.add_argument("--n-small", type=int, default=5_000)
    parser.add_argument("--n-features", type=int, default=784)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    d = args.n_features

    threads = {info["internal_api"]: info["num_threads"] for info in threadpool_info()}
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; BLAS threads {threads}")

    X = decaying_matrix(args.n_large, d)
    print(f"\nκ diagnostic at n = {args.n_large}, d = {d}")
    for method, kwargs in (
        ("exact", {}),
        ("gram", {}),
        ("randomized", {"rank": 200, "random_state": 0}),
    ):
        seconds, kappa = best_time(
            lambda method=method, kwargs=kwargs: effective_condition_number(
                X, method=method, **kwargs
            ),
            args.repeats,
        )
        rank = kwargs.get("rank", "numerical")
        print(f"  method={method:<11} rank={rank!s:<10} {seconds:7.2f} s   κ = {kappa:.4g}")
        if method == "exact":
            goal = "met" if seconds <= 5.0 else "NOT met"
            print(f"  goal ≤ 5 s with the default method (auto = exact): {goal}")
    del X

    X = decaying_matrix(args.n_small, d, seed=1)
    print(f"\nn = {args.n_small}, d = {d}: naive eigvalsh(X @ X.T) vs ours")

    def naive():
        eigenvalues = np.linalg.eigvalsh(X @ X.T)[::-1]
        return eigenvalues[0] / eigenvalues[d - 1]

    naive_seconds, naive_kappa = best_time(naive, 1)
    ours_seconds, ours_kappa = best_time(lambda: effective_condition_number(X), args.repeats)
    gram_seconds, _ = best_time(lambda: effective_condition_number(X, method="gram"), args.repeats)
    print(f"  naive eigvalsh(X Xᵀ)    {naive_seconds:7.2f} s   κ_d = {naive_kappa:.6g}")
    print(f"  ours, method=exact      {ours_seconds:7.2f} s   κ   = {ours_kappa:.6g}")
    print(f"  ours, method=gram       {gram_seconds:7.2f} s")
    print(f"  relative difference of κ: {abs(ours_kappa - naive_kappa) / naive_kappa:.1e}")
    print(
        f"  speed-up, exact: {naive_seconds / ours_seconds:.0f}x; gram: "
        f"{naive_seconds / gram_seconds:.0f}x"
    )


if __name__ == "__main__":
    main()
