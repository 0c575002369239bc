"""Linearized attention: the d × d operator path against the naive ``(X Xᵀ) X``.

Both compute the same attention outputs of the training rows over themselves. The naive form
forms the ``n × n`` Gram matrix (O(n² d) flops, n² floats of memory); ``LinearizedAttention``
only forms ``C = Xᵀ X`` (O(n d²) flops, d² floats). Both are matmul-bound, so the best possible
speed-up is the flop ratio ``n / d``; the script prints the measured speed-up as a fraction of it,
and the peak traced memory of each (numpy reports its allocations to tracemalloc).

Run with ``python benchmarks/bench_attention.py`` (about a minute on a 2-core machine); both
sides run under the same BLAS thread limit (``--threads``, default 2).
"""

import argparse
import os
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from sklearn_attnkernel import LinearizedAttention


def _measure(func, repeats):
    """Return (best wall time in s over `repeats` untraced runs, peak traced bytes of one run)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak


def _naive(X):
    # ``X @ X.T`` would take numpy's SYRK shortcut, which segfaults in the bundled OpenBLAS
    # (0.3.31, 2 threads) for n >= 16 000 (the numpy#19685 family of bugs); the explicit copy
    # makes it a plain GEMM (2 n² d flops instead of n² d, accounted for below).
    return (X @ np.ascontiguousarray(X.T)) @ X


def _linearized(X, normalize):
    return LinearizedAttention(normalize=normalize).fit_transform(X)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--n-large", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, d = args.n, args.d
    rng = np.random.default_rng(0)
    X = rng.random((n, d))  # pixel-like non-negative data, float64
    mb = 1 / 2**20

    with threadpool_limits(limits=args.threads):
        print(
            f"threads={args.threads}, X: {n} × {d} float64 ({X.nbytes * mb:.0f} MiB), "
            f"load average before: {os.getloadavg()[0]:.2f}"
        )
        t_lin, m_lin = _measure(lambda: _linearized(X, False), args.repeats)
        t_norm, m_norm = _measure(lambda: _linearized(X, True), args.repeats)
        t_naive, m_naive = _measure(lambda: _naive(X), 1)
        F_naive = _naive(X[:2000])  # correctness check on a subset (same formula, smaller n)
        F_lin = _linearized(X[:2000], False)
        rel_err = np.linalg.norm(F_lin - F_naive) / np.linalg.norm(F_naive)

        speedup = t_naive / t_lin
        flop_ratio = n / d
        # flops actually executed: naive GEMM 2n²d + GEMM 2n²d; linearized SYRK n·d² + GEMM 2n·d²
        executed_ratio = (4 * n * n * d) / (3 * n * d * d)
        print(
            f"naive (X Xᵀ) X                       : {t_naive:8.2f} s, peak {m_naive * mb:7.0f} MiB"
        )
        print(f"LinearizedAttention(normalize=False)  : {t_lin:8.2f} s, peak {m_lin * mb:7.0f} MiB")
        print(
            f"LinearizedAttention(normalize=True)   : {t_norm:8.2f} s, peak {m_norm * mb:7.0f} MiB"
        )
        print(f"relative difference (n = 2000 subset): {rel_err:.1e}")
        print(
            f"speed-up {speedup:.1f}× vs flop ratio n/d = {flop_ratio:.1f}: "
            f"{100 * speedup / flop_ratio:.0f}% of the physical limit"
        )
        print(
            f"  (vs the executed-flop ratio {executed_ratio:.1f}, GEMM naive against SYRK+GEMM: "
            f"{100 * speedup / executed_ratio:.0f}%)"
        )
        print(f"n × n Gram would be {n * n * 8 * mb:.0f} MiB; linearized peak {m_lin * mb:.0f} MiB")

        n_large = args.n_large
        X_large = rng.random((n_large, d))
        t_large, m_large = _measure(lambda: _linearized(X_large, True), args.repeats)
        print(
            f"n = {n_large}: LinearizedAttention fit_transform {t_large:.2f} s, peak "
            f"{m_large * mb:.0f} MiB (naive Gram alone: {n_large**2 * 8 / 1e9:.1f} GB, not run)"
        )


if __name__ == "__main__":
    main()
