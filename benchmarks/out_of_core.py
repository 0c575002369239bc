"""Exact leave-one-out influence out of core: ``backend="dask"`` against memory (issue #16).

The kernel is the empirical NTK of a width-1024 two-layer ReLU network (at its seeded
initialisation: the cost does not depend on training) on image rows, 10 one-hot outputs,
200 test points, α = 1e-3. Three measurements, each in a fresh process so that its peak
resident memory (``resource.getrusage``) is its own:

- ``cholesky``: the in-memory kernel, then a bare ``scipy.linalg.cho_factor`` of ``K + αI``
  (on one BLAS thread above 12 000 rows, as ``loo_influence``: :func:`bare_cholesky`);
- ``numpy``: the in-memory kernel, then the default ``loo_influence``;
- ``dask``: the kernel built in blocks and ``loo_influence(backend="dask")`` with a
  ``spill_dir`` (the kernel is computed inside the blocked run, so its time is included).

Goals (issue #16): at n = 40 000 Fashion-MNIST training images, peak RSS ≤ 8 GB and wall time
≤ 60 min on the 2-core 24 GB machine; the scaling at n = 10 000 and 20 000 against the
in-memory path, with the ratio to the bare Cholesky. Run from the repository root::

    python -m benchmarks.out_of_core --n 40000 --what dask --dataset fashion-mnist \\
        --root DATA --spill-dir /scratch/influence            # one measurement, JSON out
    python -m benchmarks.out_of_core --scaling 10000 20000 --dataset mnist --split test \\
        --spill-dir /scratch/influence                        # the table, a row per n

BLAS and torch use two threads in the in-memory runs; in the blocked run each of Dask's two
worker threads uses one, so every run uses the machine's two cores. The asv class below runs
the same comparison at small sizes.
"""

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.linalg import cho_factor
from threadpoolctl import threadpool_limits

from sklearn_attnkernel import TwoLayerReLU, empirical_ntk, load_dataset, loo_influence

from .common import limit_threads, unit_rows

ALPHA = 1e-3
WIDTH = 1024
N_TEST = 200
N_CLASSES = 10
THREADS = 2
#: Rows above which the bare Cholesky runs on one BLAS thread: the limit of ``loo_influence``'s
#: own Cholesky (a private constant of the package, which benchmarks do not import).
ONE_THREAD_ABOVE = 12_000
#: (n_train, chunk_size, width) of the asv comparison; full: the issue's n = 4 000 test size.
SIZES = {"small": (400, 100, 64), "full": (4_000, 500, WIDTH)}


def problem(n, *, dataset=None, root=None, split="train", width=WIDTH, seed=0):
    """``(module, X_train, Y_train, X_test, Y_test)``: rows of unit norm, one-hot targets.

    Without ``dataset``, random pixel-like rows (784 features) with random labels.
    """
    import torch

    if dataset is None:
        X = unit_rows(n + N_TEST, 784, seed)
        labels = np.random.default_rng(seed).integers(0, N_CLASSES, n + N_TEST)
    else:
        X, labels = load_dataset(dataset, root=root, split=split, n_samples=n + N_TEST)
        X = np.asarray(X, dtype=np.float64)
        X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        labels = np.searchsorted(np.unique(labels), labels)
    Y = np.eye(N_CLASSES)[labels % N_CLASSES]
    torch.manual_seed(seed)
    module = TwoLayerReLU(n_features=X.shape[1], width=width, n_outputs=N_CLASSES)
    return module, X[:n], Y[:n], X[n:], Y[n:]


def bare_cholesky(system):
    """A bare ``scipy.linalg.cho_factor`` of ``system`` in place, on one BLAS thread above
    ``ONE_THREAD_ABOVE`` rows like ``loo_influence`` (OpenBLAS's multithreaded ``dpotrf``
    segfaults on this machine at n >= 17 000)."""
    large = system.shape[0] > ONE_THREAD_ABOVE
    with threadpool_limits(limits=1, user_api="blas") if large else contextlib.nullcontext():
        cho_factor(system, lower=True, overwrite_a=True, check_finite=False)


def _disk_bytes(folder):
    return sum(
        os.path.getsize(os.path.join(path, name))
        for path, _, names in os.walk(folder)
        for name in names
    )


def measure(what, n, *, chunk_size=2048, spill_dir=None, **data):
    """One measurement in this process: wall times, peak RSS and disk used, as a dict."""
    import dask

    # imported here: `asv check` discovers the suite against the installed package
    from sklearn_attnkernel.ntk.blocked import empirical_ntk_blocks

    module, X, Y, X_test, Y_test = problem(n, **data)
    blocked = what == "dask"
    restore = limit_threads(1 if blocked else THREADS)
    start = time.perf_counter()
    record = {"what": what, "n": n, "chunk_size": chunk_size if blocked else None}
    try:
        K_test = empirical_ntk(module, X_test, X)
        if blocked:
            K = empirical_ntk_blocks(module, X, chunk_size)
            with dask.config.set(scheduler="threads", num_workers=THREADS):
                loo_influence(
                    K,
                    Y,
                    K_test,
                    Y_test,
                    alpha=ALPHA,
                    backend="dask",
                    chunk_size=chunk_size,
                    spill_dir=spill_dir,
                )
        else:
            K = empirical_ntk(module, X)
            record["kernel_s"] = time.perf_counter() - start
            solve_start = time.perf_counter()
            if what == "cholesky":
                K.flat[:: n + 1] += ALPHA
                bare_cholesky(K)
            else:
                loo_influence(K, Y, K_test, Y_test, alpha=ALPHA)
            record["solve_s"] = time.perf_counter() - solve_start
    finally:
        restore()
    record["total_s"] = time.perf_counter() - start
    # ru_maxrss is in KiB on Linux
    record["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    record["disk_bytes"] = _disk_bytes(spill_dir) if spill_dir else 0
    record["load_average"] = os.getloadavg()
    return record


def _in_subprocess(args, what, n, spill_dir):
    command = [sys.executable, "-m", "benchmarks.out_of_core", "--what", what, "--n", str(n)]
    command += ["--chunk-size", str(args.chunk_size), "--split", args.split]
    command += ["--dataset", args.dataset] if args.dataset else []
    command += ["--root", args.root] if args.root else []
    command += ["--spill-dir", spill_dir] if spill_dir else []
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def scaling(args):
    """One markdown row per n: the three measurements, each in a fresh process."""
    print(
        "| n | bare cho_factor | in memory (ratio) | dask, spilled (ratio) | peak RSS mem / dask |"
    )
    print("|---|---|---|---|---|")
    for n in args.scaling:
        spill_dir = tempfile.mkdtemp(prefix=f"loo-{n}-", dir=args.spill_dir)
        runs = {what: _in_subprocess(args, what, n, None) for what in ("cholesky", "numpy")}
        runs["dask"] = _in_subprocess(args, "dask", n, spill_dir)
        shutil.rmtree(spill_dir, ignore_errors=True)
        bare = runs["cholesky"]["solve_s"]
        # the blocked run builds its kernel inside: take the in-memory kernel time off it
        dask_solve = runs["dask"]["total_s"] - runs["numpy"]["kernel_s"]
        print(
            f"| {n} | {bare:.1f} s | {runs['numpy']['solve_s']:.1f} s "
            f"({runs['numpy']['solve_s'] / bare:.1f}×) | {runs['dask']['total_s']:.1f} s total, "
            f"≈ {dask_solve:.1f} s without the kernel ({dask_solve / bare:.1f}×) | "
            f"{runs['numpy']['peak_rss_bytes'] / 2**30:.2f} / "
            f"{runs['dask']['peak_rss_bytes'] / 2**30:.2f} GiB |",
            flush=True,
        )
        print(json.dumps(runs), file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("cholesky", "numpy", "dask"), default="dask")
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--scaling", type=int, nargs="+", help="n values: the table, one row each")
    parser.add_argument("--chunk-size", type=int, default=2048)
    parser.add_argument("--spill-dir", default=None)
    parser.add_argument("--dataset", default=None, help="e.g. fashion-mnist (default: random)")
    parser.add_argument("--root", default=None)
    parser.add_argument("--split", default="train")
    args = parser.parse_args(argv)
    if args.scaling:
        scaling(args)
        return
    data = {"dataset": args.dataset, "root": args.root, "split": args.split}
    record = measure(
        args.what, args.n, chunk_size=args.chunk_size, spill_dir=args.spill_dir, **data
    )
    print(json.dumps(record))


class LooOutOfCore:
    """``loo_influence(backend="dask")`` with small blocks against the in-memory path."""

    params = (list(SIZES),)
    param_names = ("size",)
    timeout = 900.0

    def setup(self, size):
        n, self.chunk_size, width = SIZES[size]
        module, X, self.Y, X_test, self.Y_test = problem(n, width=width)
        self.K = empirical_ntk(module, X)
        self.K_test = empirical_ntk(module, X_test, X)
        self.restore = limit_threads(THREADS)

    def teardown(self, size):
        self.restore()

    def time_in_memory(self, size):
        loo_influence(self.K, self.Y, self.K_test, self.Y_test, alpha=ALPHA)

    def time_dask(self, size):
        loo_influence(
            self.K,
            self.Y,
            self.K_test,
            self.Y_test,
            alpha=ALPHA,
            backend="dask",
            chunk_size=self.chunk_size,
        )

    def track_ratio(self, size):
        """Blocked time over in-memory time (above 1: the blocked path is slower)."""
        start = time.perf_counter()
        self.time_in_memory(size)
        middle = time.perf_counter()
        self.time_dask(size)
        return (time.perf_counter() - middle) / (middle - start)

    track_ratio.unit = "ratio"


if __name__ == "__main__":
    main()
