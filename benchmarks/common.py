"""Shared pieces of the suite: thread limits, one-shot timing of slow baselines, the speed-up.

asv times the ``time_*`` methods itself. The ``track_speedup`` methods need two timings in one
process (the baseline's and ours), so they take them with :func:`timeit.repeat`, one call per
sample, and return the ratio of the best samples.
"""

import sys
import timeit

import numpy as np
from threadpoolctl import threadpool_limits


class SingleRun:
    """Base of the baseline classes: asv runs each ``time_*`` once per process.

    The baselines take tens of seconds at the full sizes (up to about 100 s), where asv's
    default sampling (two rounds, a warm-up, up to ten samples) would repeat them for minutes.
    """

    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 900.0


def limit_threads(threads):
    """Limit BLAS, and torch when it is loaded, to `threads` threads (``None``: leave them).

    Returns the function that restores the previous limits, for ``teardown``.
    """
    if threads is None:
        return lambda: None
    blas = threadpool_limits(limits=threads)
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)

    def restore():
        blas.restore_original_limits()
        if torch is not None:
            torch.set_num_threads(torch_threads)

    return restore


def best_seconds(func, repeat):
    """Best wall time in seconds of `repeat` calls of `func`."""
    return min(timeit.repeat(func, number=1, repeat=repeat))


def speedup(baseline, ours, *, baseline_repeat=1, ours_repeat=3):
    """Best time of `baseline` over best time of `ours` (above 1: ours is faster)."""
    return best_seconds(baseline, baseline_repeat) / best_seconds(ours, ours_repeat)


def unit_rows(n, d, seed=0):
    """``n`` non-negative pixel-like rows of unit norm (the paper's normalised inputs)."""
    X = np.random.default_rng(seed).random((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X
