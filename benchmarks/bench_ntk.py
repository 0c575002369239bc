"""Empirical NTK of the two-layer ReLU network: closed form against the torch.func Jacobian.

Three ways to compute the same ``n × n`` float64 NTK ``Θ = (X Xᵀ) ⊙ (S Sᵀ) / m``:

* ``analytic``: :func:`empirical_ntk` with ``method="analytic"`` (torch, blocked rows), the
  closed form; O(n² (d + m)) flops, memory O(n² + n m);
* ``numpy``: the same closed form in four lines of numpy, all at once;
* ``jacobian``: :func:`empirical_ntk` with ``method="jacobian"``: per-sample Jacobians from
  ``torch.func`` (``functional_call`` + ``vmap`` + ``jacrev``) contracted block by block;
  O(n² m d) flops, and the full Jacobian would be n m d floats (it is built in row blocks).

Each case runs in its own subprocess so that its peak resident memory (``ru_maxrss``, minus the
process's size before the computation) can be read; times are the best of ``--repeats`` runs.
The script prints the speed-up of the closed form against the Jacobian baseline, then times the
analytic NTK at n = 10 000, d = 784, m = 4096.

Run with ``python benchmarks/bench_ntk.py`` (about 3 minutes on a 2-core machine; ``--quick``
times the Jacobian at n = 250 and scales it by (1000/250)², its flop ratio).
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def _data(n, d, m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))  # pixel-like non-negative rows, unit-norm as in the paper
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    W = rng.normal(size=(m, d))
    return X, W


def _numpy_closed_form(X, W):
    S = (X @ W.T > 0).astype(np.float64)
    gram = X @ np.ascontiguousarray(X.T)  # a plain GEMM (see bench_attention.py on SYRK)
    return gram * (S @ np.ascontiguousarray(S.T)) / W.shape[0]


def _rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _run_case(case, n, d, m, threads, repeats):
    """Body of a subprocess: time one case, print a JSON line."""
    import torch

    from sklearn_attnkernel import TwoLayerReLU, empirical_ntk

    torch.set_num_threads(threads)
    X, W = _data(n, d, m)
    net = TwoLayerReLU(d, m).double()
    with torch.no_grad():
        net.W.copy_(torch.from_numpy(W))
    if case == "numpy":
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
        func = lambda: _numpy_closed_form(X, W)  # noqa: E731
    else:
        method = case
        func = lambda: empirical_ntk(net, X, method=method)  # noqa: E731
    base = _rss_bytes()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        K = func()
        best = min(best, time.perf_counter() - start)
    checksum = float(np.linalg.norm(K))
    print(json.dumps({"time": best, "peak": _rss_bytes() - base, "checksum": checksum}))


def _case(case, n, d, m, threads, repeats):
    cmd = [sys.executable, __file__, "--case", case, "--n", str(n), "--d", str(d)]
    cmd += ["--m", str(m), "--threads", str(threads), "--repeats", str(repeats)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--m", type=int, default=1024)
    parser.add_argument("--n-large", type=int, default=10_000)
    parser.add_argument("--m-large", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="Jacobian at n/4, scaled by 16")
    parser.add_argument("--case", choices=["analytic", "numpy", "jacobian"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        _run_case(args.case, args.n, args.d, args.m, args.threads, args.repeats)
        return

    n, d, m, t = args.n, args.d, args.m, args.threads
    gib = 1 / 2**30
    print(f"empirical NTK, n={n}, d={d}, m={m}, float64, {t} thread(s)")
    analytic = _case("analytic", n, d, m, t, args.repeats)
    numpy_cf = _case("numpy", n, d, m, t, args.repeats)
    n_jac = n // 4 if args.quick else n
    jacobian = _case("jacobian", n_jac, d, m, t, 1)
    scale = (n / n_jac) ** 2
    jac_time = jacobian["time"] * scale
    if not np.isclose(analytic["checksum"], numpy_cf["checksum"], rtol=1e-10):
        raise RuntimeError("analytic and numpy closed forms disagree")
    if n_jac == n and not np.isclose(analytic["checksum"], jacobian["checksum"], rtol=1e-10):
        raise RuntimeError("analytic and Jacobian NTKs disagree")
    rows = [("analytic (torch)", analytic), ("closed form (numpy)", numpy_cf)]
    rows.append((f"jacobian (torch.func){' x16 from n/4' if args.quick else ''}", jacobian))
    for name, res in rows:
        seconds = jac_time if name.startswith("jacobian") else res["time"]
        print(f"  {name:34s} {seconds:9.3f} s   peak +{res['peak'] * gib:6.2f} GiB")
    print(f"  speed-up analytic vs jacobian:  {jac_time / analytic['time']:8.0f}x")
    print(f"  speed-up numpy    vs jacobian:  {jac_time / numpy_cf['time']:8.0f}x")
    print(
        f"  memory: n² + n m floats = {(n * n + n * m) * 8 * gib:.3f} GiB;"
        f" full Jacobian n m d floats = {n * m * d * 8 * gib:.2f} GiB"
    )

    nl, ml = args.n_large, args.m_large
    large = _case("analytic", nl, d, ml, t, 1)
    print(
        f"empirical NTK (analytic), n={nl}, d={d}, m={ml}, float64: {large['time']:.1f} s, "
        f"peak +{large['peak'] * gib:.2f} GiB"
    )


if __name__ == "__main__":
    main()
