"""Blocked dual path of the exact leave-one-out influence on :mod:`dask.array` (issue #16).

numpy/scipy/dask only: this module must not import torch.

:func:`~sklearn_attnkernel.influence.loo.loo_influence` with ``backend="dask"`` needs from
``S = K + αI`` what the in-memory path takes from one LAPACK factorisation (:mod:`._linalg`):
the dual coefficients ``A = S⁻¹ Y``, the diagonal ``h`` of ``H = S⁻¹``, the rows ``k(x, X) H``
of the test points, a condition estimate and the solve residual. Here every ``n × n`` quantity
is a grid of ``c × c`` blocks that the active Dask scheduler computes (threads by default, or
the cluster of a ``distributed.Client``):

- ``S = L Lᵀ`` in square blocks of one size, so ``K`` is padded to a multiple of ``c`` with an
  identity block (``diag(S, I)`` has the factor ``diag(L, I)``, and the padded rows decouple
  exactly): in memory by :func:`dask.array.linalg.cholesky`; with ``spill_dir`` block column
  by block column into a zarr store (:func:`_cholesky_into`), because dask's one-graph
  factorisation holds every block of the factor in memory until its last use;
- ``A`` and ``H k(x, X)ᵀ`` by two blocked triangular sweeps (``L``, then ``Lᵀ``) on the
  right-hand sides ``[Y, K_testᵀ]``, one block row at a time (:func:`_sweep`);
- ``h_i = Σ_k (L⁻¹)_ki²``: block column ``j`` of ``L⁻¹`` solves ``L[j:, j:] X = I[j:, j]``
  (zero above the diagonal block), about ``n³/3`` flops in all, as LAPACK's ``trtri``;
- the checks of Appendix A.9 of arXiv 2603.13085 in blocks: finiteness and the relative
  Frobenius asymmetry ``‖K − Kᵀ‖_F / ‖K‖_F`` in one pass over the blocks, positive
  definiteness from the factorisation (a block whose Cholesky fails, or a non-finite or
  non-positive pivot), the residual ``‖S A − Y‖_F / ‖Y‖_F`` from one blocked product, and the
  condition estimate described in :func:`condition_estimate`.

With ``spill_dir`` the kernel and its factor are written to zarr stores there and read back
block by block, so no stage holds an ``n × n`` array; without it they stay in the scheduler's
memory (a ``distributed`` worker spills to its own disk when it runs short). A store is written
under a temporary name and renamed when complete, so a killed run never leaves a store that a
later call takes for a finished one. Written by hand: Dask offers the blocked factorisation and
solves, not kernel ridge leave-one-out.
"""

import functools
import math
import os
import shutil
import tempfile
import uuid

import dask
import dask.array as da
import numpy as np
import psutil
from dask.base import tokenize
from scipy.linalg import solve_triangular
from scipy.sparse.linalg import LinearOperator, onenormest

from .._utils.memory import format_bytes
from ._checks import NumericalCheckError, check_asymmetry, relative_residual

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "as_blocks",
    "check_resources",
    "condition_estimate",
    "dual_solve",
]

#: Rows per block when ``chunk_size=None``: 32 MiB per float64 block, large enough that BLAS
#: runs at full speed and the graph stays small (400 blocks at n = 40 000).
DEFAULT_CHUNK_SIZE = 2048
_FLOAT64_BYTES = 8
# Blocks one task holds at once, beyond the list of products it sums: the target, its result
# and the factor block it solves with (dask.array.linalg's Cholesky and solves sum the products
# of a whole block row in one task).
_TASK_EXTRA_BLOCKS = 3


def as_blocks(K, chunk_size):
    """``K`` (array-like or dask array) as a float64 dask array in square blocks.

    Returns ``(K, n)``; raises the ValueError of the in-memory path for a non-square matrix.
    """
    if not isinstance(K, da.Array):
        K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"K_train must be square; got shape {K.shape}.")
    n = K.shape[0]
    c = min(chunk_size, n)
    if isinstance(K, da.Array):
        return K.astype(np.float64).rechunk((c, c)), n
    return da.from_array(K, chunks=(c, c)), n


def _cluster():
    """``(threads per worker, memory per worker, total memory)`` of the active scheduler."""
    available = psutil.virtual_memory().available
    try:
        from distributed import default_client

        workers = list(default_client().scheduler_info()["workers"].values())
    except (ImportError, ValueError):
        threads = dask.config.get("num_workers", None) or os.cpu_count() or 1
        return threads, available, available
    limits = [w.get("memory_limit") or available for w in workers]
    return max(w["nthreads"] for w in workers), min(limits), sum(limits)


def _working_set(n, c, threads, n_rhs):
    """Bytes a worker holds: each thread sums a padded block row, plus the right-hand sides."""
    n_pad = -(-n // c) * c
    per_task = (n_pad * c + _TASK_EXTRA_BLOCKS * c * c) * _FLOAT64_BYTES
    return threads * per_task + 3 * n_pad * n_rhs * _FLOAT64_BYTES


def _largest_chunk(n, threads, n_rhs, memory):
    # threads · (n c + extra · c²) · 8 ≤ memory solved for c, then lowered until the padded
    # working set fits (padding to a multiple of c can add up to c - 1 rows)
    per_thread = memory / (threads * _FLOAT64_BYTES)
    extra = _TASK_EXTRA_BLOCKS
    c = max(1, int((-n + math.sqrt(n * n + 4 * extra * per_thread)) / (2 * extra)))
    while c > 1 and _working_set(n, c, threads, n_rhs) > memory:
        c -= 1
    return c


def _refuse(needed, available, what, way_out):
    if needed > available:
        raise ValueError(
            f"{what} needs {format_bytes(needed)}, more than the {format_bytes(available)} "
            f"available; {way_out}."
        )


def check_resources(n, n_rhs, chunk_size, spill_dir):
    """Refuse, before any work, a ``chunk_size`` or ``spill_dir`` the run cannot use.

    A task of the blocked Cholesky factorisation sums the products of a whole block row
    (``n / c`` blocks of ``c × c``), and each thread of a worker runs one such task: that must
    fit the memory of a worker (of this machine under the threaded scheduler), with the
    ``n × n_rhs`` right-hand sides. Without ``spill_dir`` the kernel and its factor
    (``2 n²`` float64) stay in memory; with it, the folder must be writable and have room for
    both stores (``1.5 n²`` float64 at most).
    """
    c = min(chunk_size, n)
    n_pad = -(-n // c) * c
    threads, worker_memory, total_memory = _cluster()
    _refuse(
        _working_set(n, c, threads, n_rhs),
        worker_memory,
        f"chunk_size={chunk_size} at n={n} ({threads} thread(s) per worker, each summing a "
        f"block row of {n_pad // c} blocks of {c}×{c} float64)",
        f"pass chunk_size <= {_largest_chunk(n, threads, n_rhs, worker_memory)}",
    )
    if spill_dir is None:
        _refuse(
            2 * n_pad * n_pad * _FLOAT64_BYTES,
            total_memory,
            f"Holding K_train and its Cholesky factor (n={n}) in memory",
            "pass spill_dir, a folder on a disk with room for them",
        )
        return
    _check_spill_dir(spill_dir, int(1.5 * n_pad * n_pad * _FLOAT64_BYTES))


def _check_spill_dir(spill_dir, needed):
    try:
        os.makedirs(spill_dir, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=spill_dir):
            pass
    except OSError as exc:
        raise ValueError(
            f"spill_dir={os.fspath(spill_dir)!r} cannot be written ({exc.strerror or exc}); the "
            f"zarr stores of K_train and its factor need {format_bytes(needed)} there. Pass a "
            "writable folder, or spill_dir=None to keep them in memory."
        ) from None
    free = shutil.disk_usage(spill_dir).free
    if needed > free:
        raise ValueError(
            f"spill_dir={os.fspath(spill_dir)!r} has {format_bytes(free)} free, but the zarr "
            f"stores of K_train and its factor need up to {format_bytes(needed)}; pass a folder "
            "on a larger disk or free space there."
        )


# --------------------------------------------------------------------------------------------
# stages: persisted in memory, or spilled to a zarr store that is complete once it has its name


def _spill(write, spill_dir, key):
    """``spill_dir/<key>.zarr`` as a dask array, written by ``write(path)`` unless it exists.

    A store under the final name is complete (it is renamed only after ``write`` returns) and is
    read as it is: the same ``key`` means the same content. A killed run leaves at most a
    ``<key>.zarr.partial-*`` folder, which is never read (delete it at leisure).
    """
    final = os.path.join(spill_dir, f"{key}.zarr")
    if not os.path.isdir(final):
        partial = f"{final}.partial-{uuid.uuid4().hex}"
        try:
            write(partial)
        except BaseException:  # an error, not a kill: leave nothing behind
            shutil.rmtree(partial, ignore_errors=True)
            raise
        try:
            os.rename(partial, final)
        except OSError:  # another run completed the same store first: keep that one
            if not os.path.isdir(final):
                raise
            shutil.rmtree(partial, ignore_errors=True)
    return da.from_zarr(final)


def stage(array, spill_dir, key):
    """``array`` computed once: persisted, or written to and read back from
    ``spill_dir/<key>.zarr`` (see :func:`_spill`)."""
    if spill_dir is None:
        return array.persist()
    return _spill(functools.partial(da.to_zarr, array), spill_dir, key)


# --------------------------------------------------------------------------------------------
# blocked linear algebra


def _pad(K, n, c):
    """``K`` padded with zeros to a multiple of ``c``, in ``c × c`` blocks."""
    pad = -(-n // c) * c - n
    if pad == 0:
        return K.rechunk((c, c))
    return da.pad(K, ((0, pad), (0, pad)), mode="constant").rechunk((c, c))


def _shift_block(block, alpha, n, block_info=None):
    """Add ``alpha`` to the diagonal of a diagonal block (``1`` on the padded rows)."""
    (r0, r1), (c0, _) = block_info[0]["array-location"]
    if r0 != c0:
        return block
    out = block.copy()
    index = np.arange(r1 - r0)
    out[index, index] += np.where(r0 + index < n, alpha, 1.0)
    return out


def _padded(M, n_pad):
    """``M`` with zero rows appended up to ``n_pad`` rows (in memory)."""
    out = np.zeros((n_pad, M.shape[1]))
    out[: M.shape[0]] = M
    return out


def _lower_block(block, diagonal):
    """``block · L_jj⁻ᵀ``: a block of the factor's column below its diagonal block."""
    return solve_triangular(diagonal, block.T, lower=True, check_finite=False).T


def _cholesky_into(S, path):
    """``S = L Lᵀ`` block column by block column (left-looking), ``L`` written to a new zarr
    store at ``path``.

    Column ``j`` is ``S[j:, j] − L[j:, :j] L[j, :j]ᵀ``, read from the columns already in the
    store; its diagonal block is factorised and the blocks below are solved against it. Each
    column is one computation on the active scheduler, so the memory held is one block column
    and the products being summed, not the factor: :func:`dask.array.linalg.cholesky` builds
    one graph for the whole factor, whose blocks all stay in memory until their last use
    (measured: 9–10 GiB while factorising at n = 40 000, for a 6.4 GB factor). The blocks
    above the diagonal are never written and read as zeros.
    """
    import zarr

    n_pad, c = S.shape[0], S.chunksize[0]
    store = zarr.create_array(
        store=path, shape=S.shape, chunks=(c, c), dtype="float64", fill_value=0.0
    )
    for j in range(0, n_pad, c):
        column = S[j:, j : j + c]
        if j:
            L = da.from_zarr(path)
            column = column - L[j:, :j] @ L[j : j + c, :j].T
        diagonal = column[:c].map_blocks(np.linalg.cholesky, dtype=np.float64)
        below = column[c:].map_blocks(_lower_block, diagonal, dtype=np.float64)
        factor = da.concatenate([diagonal, below]).rechunk((c, c))
        da.store(factor, store, regions=(slice(j, n_pad), slice(j, j + c)), lock=False)


def _factor(S, spill_dir, key):
    """The lower Cholesky factor of the blocked ``S``: persisted (dask's blocked Cholesky) or,
    with ``spill_dir``, written column by column to a zarr store (:func:`_cholesky_into`)."""
    if spill_dir is None:
        return da.linalg.cholesky(S, lower=True).persist()
    return _spill(functools.partial(_cholesky_into, S), spill_dir, key)


def _sweep(L, B, lower):
    """``L X = B`` (``lower``) or ``Lᵀ X = B``, block row by block row of ``X``.

    ``B`` is in memory (``n_pad × r``, ``r`` small). Each block row is one computation, which
    reads one block row (or column) of ``L``: one graph for the whole sweep let the scheduler
    read many blocks of a spilled ``L`` at once (8.2 GiB at n = 40 000,
    ``benchmarks/README.md``).
    """
    c = L.chunksize[0]
    X = np.zeros_like(B)
    starts = range(0, L.shape[0], c)
    for start in starts if lower else reversed(starts):
        rows = slice(start, start + c)
        done = slice(0, start) if lower else slice(start + c, L.shape[0])
        panel = L[rows, done] if lower else L[done, rows].T
        diagonal = L[rows, rows]
        known = panel @ X[done] if panel.size else da.zeros((c, B.shape[1]))
        product, block = da.compute(known, diagonal)
        X[rows] = solve_triangular(
            block, B[rows] - product, lower=True, trans=0 if lower else 1, check_finite=False
        )
    return X


def _solve(L, R):
    """``(L Lᵀ)⁻¹ R`` by two blocked triangular sweeps (``R`` in memory, ``n_pad`` rows)."""
    return _sweep(L, _sweep(L, R, lower=True), lower=False)


def _product(K, M):
    """``K M`` for the blocked ``K`` and an in-memory ``M``, one block row of ``K`` at a time."""
    c = K.chunksize[0]
    return np.vstack([(K[start : start + c] @ M).compute() for start in range(0, K.shape[0], c)])


def _inverse_diagonal(L, c):
    """``h_i = Σ_k (L⁻¹)_ki²``, block column by block column of ``L⁻¹``.

    One computation per block column, so only that column's blocks are held: one graph for
    every column let the scheduler hold the solved blocks of many columns at once (9.9 GiB at
    n = 40 000, ``benchmarks/README.md``).
    """
    n_pad = L.shape[0]
    parts = []
    for start in range(0, n_pad, c):
        unit = da.eye(n_pad - start, chunks=c)[:, :c]
        column = da.linalg.solve_triangular(L[start:, start:], unit, lower=True)
        parts.append((column * column).sum(axis=0).compute())
    return np.concatenate(parts)


def condition_estimate(L, n, norm1):
    """``‖S‖₁ · est(‖S⁻¹‖₁)`` from the blocked factor ``L`` (``S = L Lᵀ``, first ``n`` rows).

    ``‖S⁻¹‖₁`` is estimated as LAPACK's ``pocon`` does (Hager's method, refined by Higham):
    the larger of :func:`scipy.sparse.linalg.onenormest` with one column (Higham and Tisseur's
    block algorithm with ``t = 1``, which is Hager's iteration, at most 5 steps) and Higham's
    extra test vector ``x_i = (−1)^i (1 + i / (n − 1))``, estimate ``2 ‖S⁻¹ x‖₁ / (3 n)``. Each
    product with ``S⁻¹`` is two blocked triangular solves (``O(n²)``). Like ``pocon`` it is a
    lower bound of the true 1-norm condition number; it differs from ``pocon`` only in the
    iteration's stopping and tie-breaking details (scipy's implementation, not LAPACK's
    ``lacn2``), so the two estimates can differ where both are below the true value.
    """
    n_pad = L.shape[0]

    def apply(X):
        X = np.asarray(X, dtype=np.float64).reshape(n, -1)
        return _solve(L, _padded(X, n_pad))[:n]

    operator = LinearOperator((n, n), matvec=apply, rmatvec=apply, matmat=apply, dtype=float)
    estimate = onenormest(operator, t=1) if n > 1 else float(abs(apply(np.ones(1))[0, 0]))
    if n > 1:
        index = np.arange(n)
        x = (-1.0) ** index * (1.0 + index / (n - 1))
        estimate = max(estimate, 2.0 * np.abs(apply(x)).sum() / (3.0 * n))
    return float(norm1 * estimate)


# --------------------------------------------------------------------------------------------
# the dual path


def _check_kernel(K, alpha):
    """Finiteness, asymmetry and ``‖K + αI‖₁`` of ``K``, in one pass over its blocks."""
    finite, difference, norm, column_sums, diagonal = da.compute(
        da.isfinite(K).all(),
        da.linalg.norm(K - K.T),
        da.linalg.norm(K),
        abs(K).sum(axis=0),
        da.diagonal(K),
    )
    if not finite:
        raise ValueError("K_train contains NaN or infinity; pass a finite kernel matrix.")
    check_asymmetry(float(difference / norm) if norm > 0 else 0.0)
    return float(np.max(column_sums - np.abs(diagonal) + np.abs(diagonal + alpha)))


def _not_positive_definite(alpha):
    return NumericalCheckError(
        f"K_train + αI (alpha={alpha!r}) is not positive definite: the blocked Cholesky "
        "factorisation met a non-positive pivot (its smallest eigenvalue is not computed out "
        "of core). K_train must be positive semi-definite; if its negative eigenvalues are "
        "round-off, try a larger alpha (backend='numpy' reports the smallest eigenvalue and a "
        "ridge that passes, where the matrix fits in memory).",
        check="positive_definite",
        value=float("nan"),
    )


def _factor_and_solve(K, n, Y, K_test, alpha, spill_dir):
    """Factor, solve and invert: ``(L, X, h)`` with ``X = H [Y, K_testᵀ]`` (first ``n`` rows)."""
    c = K.chunksize[0]
    S = K.map_blocks(_shift_block, alpha, n, dtype=np.float64)
    L = _factor(S, spill_dir, f"factor-{tokenize(K.name, alpha)}")
    pivots = da.diagonal(L).compute()
    if not np.all(np.isfinite(pivots) & (pivots > 0)):
        raise _not_positive_definite(alpha)
    X = _solve(L, _padded(np.hstack([Y, K_test.T]), K.shape[0]))
    return L, X[:n], _inverse_diagonal(L, c)[:n]


def dual_solve(K, Y, K_test, alpha, spill_dir):
    """The blocked counterpart of the in-memory dual factorisation.

    ``K`` is the dask array of :func:`as_blocks`; ``Y`` (n × C) and ``K_test`` (n_test × n) are
    in memory. Returns ``(A, h, rows, condition, residual, norm1)``: the dual coefficients, the
    diagonal of ``H``, a function giving ``k(x, X) H`` for a slice of test rows, the condition
    estimate of :func:`condition_estimate`, the relative residual ``‖S A − Y‖_F / ‖Y‖_F`` and
    ``‖S‖₁``. Raises :class:`NumericalCheckError` for an asymmetric or non positive definite
    ``K``, as the in-memory path does.
    """
    n, c = K.shape[0], K.chunksize[0]
    K = stage(_pad(K, n, c), spill_dir, f"kernel-{tokenize(K.name, c)}")
    norm1 = _check_kernel(K[:n, :n], alpha)  # read from the stage: the kernel is built once
    try:
        L, X, h = _factor_and_solve(K, n, Y, K_test, alpha, spill_dir)
        C = Y.shape[1]
        A = X[:, :C]
        product = _product(K, _padded(A, K.shape[0]))[:n]
        residual = relative_residual(product + alpha * A - Y, Y)
        condition = condition_estimate(L, n, norm1)
    except np.linalg.LinAlgError:  # a diagonal block's Cholesky (or a solve) failed
        raise _not_positive_definite(alpha) from None
    B = X[:, C:].T
    return A, h, (lambda sl: B[sl]), condition, residual, norm1
