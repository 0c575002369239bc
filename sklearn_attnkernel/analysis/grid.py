"""The resumable execution of an experiment grid (issue #5 §2): tasks, executors, resume.

The cells of a config (:meth:`~sklearn_attnkernel.analysis.config.ExperimentConfig.cells`) are
grouped into *tasks* (cells sharing a trained network) and run by :func:`run_task`, in this
process or on workers (joblib, any :class:`concurrent.futures.Executor`, Dask). The driving
process writes each record atomically to ``<run>/cells/<part>-<key[:16]>.json`` as its task
finishes (:mod:`~sklearn_attnkernel.analysis.store`); a rerun skips finished cells, and a
corrupt or partial file is detected, logged, moved aside and recomputed, so killing a run loses
at most the cells in flight. Two runs into one folder claim tasks through lock files
(:class:`_Claims`), so no cell is computed twice.

Seeds come from the settings, never from the order of execution, and cells run with
``run.threads`` BLAS/torch threads each (default 1), so sequential, joblib,
:mod:`concurrent.futures` and Dask runs give identical numbers. The grid knows nothing of the
report: :func:`~sklearn_attnkernel.analysis.runner.run_experiment` builds it afterwards.

This module imports torch only inside the cells that need it.
"""

import concurrent.futures
import contextlib
import dataclasses
import datetime
import functools
import json
import logging
import platform
import sys
import threading
import time
from pathlib import Path

from .._utils.vocabulary import TRAINED_PARTS
from .config import ExperimentConfig, load_config
from .parts import RUNNERS
from .parts.models import model_seed
from .store import (
    CELL_FORMAT,
    CorruptCellError,
    atomic_write,
    cell_key,
    quarantine,
    read_cell,
    remove_stale_temporaries,
    write_cell,
)

__all__ = ["BACKENDS", "RunSummary", "group_tasks", "run_grid", "run_task"]

logger = logging.getLogger(__name__)

#: How tasks can run: see :func:`~sklearn_attnkernel.analysis.runner.run_experiment`.
BACKENDS = ("sequential", "joblib", "executor", "dask")

_TORCH_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------
# One task
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _versions():
    """Versions of the package and its numeric stack (read from metadata, importing nothing)."""
    from importlib import metadata

    from .. import __version__

    versions = {"sklearn_attnkernel": __version__, "python": platform.python_version()}
    for name, dist in (
        ("numpy", "numpy"),
        ("scipy", "scipy"),
        ("sklearn", "scikit-learn"),
        ("torch", "torch"),
        ("skorch", "skorch"),
    ):
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[name] = None
    return versions


def _limit_threads(threads, part):
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    if part in TRAINED_PARTS:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _resolved_device(settings):
    device = settings.get("device", "cpu")
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


def _cell_seeds(s):
    seeds = {"replicate": s.get("seed")}
    if "width" in s:
        seeds["model"] = model_seed(s)
    return seeds


def _record(s, key, status, rows, info, notes, started, wall, error=None):
    return {
        "format": CELL_FORMAT,
        "key": key,
        "part": s["part"],
        "settings": s,
        "status": status,
        "error": error,
        "rows": rows,
        "info": info,
        "notes": notes,
        "seeds": _cell_seeds(s),
        "versions": _versions(),
        "device": _resolved_device(s),
        "platform": platform.platform(),
        "started_at": started,
        "wall_time_s": wall,
    }


def run_task(part, cell_settings, context):
    """Run one task (cells sharing a trained network) and return their records.

    This is what executors run; it is a module-level function so that joblib, process pools
    and Dask workers can pickle it. Exceptions inside a cell become records with
    ``status="error"``; nothing is written here (the driver writes the files). Within one
    process, cells that train networks run one at a time (a lock): the networks seed torch's
    process-wide generator, so concurrent threads would make the numbers depend on timing.
    Thread-based executors therefore parallelise only the numpy parts; use processes (joblib,
    ``ProcessPoolExecutor``, Dask with ``processes=True``) for speed.

    Parameters
    ----------
    part : str
        One of :data:`~sklearn_attnkernel._utils.vocabulary.PARTS`.
    cell_settings : list of dict
        The settings of the task's cells (they differ only in the part's group keys).
    context : dict
        ``root`` (data folder) and ``threads``: things that do not change the numbers.

    Returns
    -------
    records : list of dict
        One record per cell, in the order of ``cell_settings``.
    """
    keys = [cell_key(s) for s in cell_settings]
    # The networks seed torch's process-wide generator (inside fork_rng), so two threads
    # training at once would draw from each other's stream: torch cells take turns per process.
    with _TORCH_LOCK if part in TRAINED_PARTS else contextlib.nullcontext():
        _limit_threads(context["threads"], part)
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        start = time.perf_counter()
        try:
            results = RUNNERS[part](cell_settings, context)
            error = None
        except Exception as exc:  # a failing cell must not stop the grid: it is recorded
            error = exc
        wall = (time.perf_counter() - start) / len(keys)
    if error is not None:
        logger.warning(
            "%s cell(s) %s failed: %s: %s", part, keys[0][:16], type(error).__name__, error
        )
        message = f"{type(error).__name__}: {error}"
        return [
            _record(s, k, "error", [], {}, [], started, wall, message)
            for s, k in zip(cell_settings, keys, strict=True)
        ]
    return [
        _record(s, k, "ok", rows, info, notes, started, wall)
        for (s, rows, info, notes), k in zip(results, keys, strict=True)
    ]


# --------------------------------------------------------------------------------------------
# Executors: each yields ``(task, records_or_exception)`` as tasks finish
# --------------------------------------------------------------------------------------------
def group_tasks(cells):
    """Group cells into tasks: cells of one part with equal non-group settings share a task.

    Returns a list of ``(part, cells)`` in the order of their first cell.
    """
    tasks, index = [], {}
    for cell in cells:
        gid = (cell.part, cell.group_key)
        if gid not in index:
            index[gid] = len(tasks)
            tasks.append((cell.part, []))
        tasks[index[gid]][1].append(cell)
    return tasks


def _execute_sequential(tasks, context):
    for task in tasks:
        yield task, run_task(task[0], [c.settings for c in task[1]], context)


def _joblib_return_as():
    import joblib

    major, minor = (int(p) for p in joblib.__version__.split(".")[:2])
    return "generator_unordered" if (major, minor) >= (1, 4) else "generator"


def _indexed_task(index, part, cell_settings, context):
    return index, run_task(part, cell_settings, context)


def _execute_joblib(tasks, context, n_jobs):
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as=_joblib_return_as())
    dispatched = {}  # joblib draws tasks lazily (pre_dispatch): claim them only as they go

    def jobs():
        for i, task in enumerate(tasks):
            dispatched[i] = task
            yield delayed(_indexed_task)(i, task[0], [c.settings for c in task[1]], context)

    for i, records in parallel(jobs()):
        yield dispatched.pop(i), records


def _execute_futures(tasks, context, executor):
    futures = {
        executor.submit(run_task, part, [c.settings for c in cells], context): (part, cells)
        for part, cells in tasks
    }
    try:
        for future in concurrent.futures.as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as exc:  # the worker died or the task could not run
                yield futures[future], exc
    finally:
        for future in futures:
            future.cancel()


def _execute(tasks, context, *, backend, n_jobs, executor):
    """Yield ``(task, records_or_exception)`` as tasks finish."""
    if backend == "sequential":
        return _execute_sequential(tasks, context)
    if backend == "joblib":
        return _execute_joblib(tasks, context, n_jobs)
    return _execute_futures(tasks, context, executor)


@functools.lru_cache(maxsize=1)
def _dask_available():
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _dask_executor(stack, scheduler, workers, dask_options):
    """An executor on a Dask client; ``stack`` closes the client (and its local cluster)."""
    if not _dask_available():
        raise ImportError(
            "backend='dask' needs dask.distributed; install it with "
            "pip install \"dask[distributed]\" (or the package's 'dask' extra)."
        )
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
    else:
        options = {"n_workers": workers or 2, "threads_per_worker": 1, "dashboard_address": None}
        options.update(dask_options or {})
        cluster = LocalCluster(**options)
        stack.callback(cluster.close)
        client = Client(cluster)
    stack.callback(client.close)
    return client.get_executor()


class _ThreadState:
    """Remember this process's BLAS and torch thread counts, to restore them after a run."""

    def __init__(self, threads):
        from threadpoolctl import threadpool_limits

        self._limiter = threadpool_limits(limits=threads)
        torch = sys.modules.get("torch")
        self._torch = torch.get_num_threads() if torch is not None else None

    def restore(self):
        self._limiter.restore_original_limits()
        torch = sys.modules.get("torch")
        if torch is not None and self._torch is not None:
            torch.set_num_threads(self._torch)


# --------------------------------------------------------------------------------------------
# The run folder: scan, manifest
# --------------------------------------------------------------------------------------------
def _scan(cells, cell_dir, retry_failed):
    """Split the grid into finished and pending cells; quarantine corrupt files.

    Also returns the checksums of the failed records to retry: a record with another checksum
    found later was written by another run.
    """
    done, pending, n_corrupt, retried = {}, [], 0, {}
    for cell in cells:
        path = cell_dir / cell.filename
        if not path.exists():
            pending.append(cell)
            continue
        try:
            record = read_cell(path, expected_key=cell.key)
        except CorruptCellError as exc:
            quarantine(path, exc)
            n_corrupt += 1
            pending.append(cell)
            continue
        if record["status"] == "error" and retry_failed:
            logger.info("retrying failed cell %s (%s)", cell.filename, record.get("error"))
            pending.append(cell)
            retried[cell.key] = record["checksum"]
        else:
            done[cell.key] = record
    remove_stale_temporaries(cell_dir)  # left by runs killed mid-write
    return done, pending, n_corrupt, retried


def _write_manifest(out, config, cells):
    from .. import __version__

    manifest = {
        "format": CELL_FORMAT,
        "package_version": __version__,
        "config": config.to_dict(),
        "cells": [{"key": c.key, "part": c.part, "file": c.filename} for c in cells],
    }
    atomic_write(out / "run.json", json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False))


# --------------------------------------------------------------------------------------------
# Two runs on one folder: a lock per task
# --------------------------------------------------------------------------------------------
class _Claims:
    """The tasks this run has claimed, through one lock file per task in ``cells/``.

    A task (cells sharing one trained network) is claimed by taking its lock
    ``cells/.<part>-<group key[:16]>.lock`` (:class:`filelock.FileLock`) without waiting; the
    lock is held until the task's records are written. A task whose lock another run holds is
    set aside (:attr:`busy`): this run computes everything else first, then waits for those
    locks and reads what the other run wrote, computing only what it left undone (e.g. it was
    killed: the operating system releases its locks). After taking a lock, the task's cells
    are read again, so a cell that another run finished since the scan is reused, not
    recomputed. One lock per task rather than per cell keeps the open files to the tasks in
    flight (hundreds, where a grid has thousands of cells); the group key does not depend on
    which cells of the group a config lists, so runs of different configs still exclude each
    other on the cells they share.
    """

    def __init__(self, cell_dir, seen):
        self.cell_dir = cell_dir
        self.seen = seen  # key -> checksum of the file at the scan (None: no usable file)
        self.held = {}
        self.busy = []
        self.found = {}  # key -> record another run wrote after the scan

    def _lock(self, part, cells):
        from filelock import FileLock

        name = f".{part}-{cells[0].group_key[:16]}.lock"
        # thread_local=False: joblib may claim in its dispatch thread, the driver releases
        return FileLock(self.cell_dir / name, thread_local=False)

    def _finished_elsewhere(self, cell):
        path = self.cell_dir / cell.filename
        if not path.is_file():
            return False
        try:
            record = read_cell(path, expected_key=cell.key)
        except CorruptCellError:
            return False  # recomputed and overwritten
        if record["checksum"] == self.seen.get(cell.key):
            return False  # the failed record this run means to retry
        self.found[cell.key] = record
        return True

    def claim(self, tasks):
        """Yield the claimed tasks, with only their cells nobody has finished meanwhile."""
        from filelock import Timeout

        for part, cells in tasks:
            lock = self._lock(part, cells)
            try:
                lock.acquire(blocking=False)
            except Timeout:
                self.busy.append((part, cells))
                continue
            try:
                todo = [cell for cell in cells if not self._finished_elsewhere(cell)]
            except BaseException:  # e.g. a folder where a cell file belongs
                lock.release()
                raise
            if not todo:
                lock.release()
                continue
            self.held[(part, cells[0].group_key)] = lock
            yield part, todo

    def release(self, part, cells):
        lock = self.held.pop((part, cells[0].group_key), None)
        if lock is not None:
            lock.release()

    def release_all(self):
        for lock in self.held.values():
            lock.release()
        self.held.clear()

    def wait_for_busy(self):
        """Wait, holding no lock, until the runs computing the busy tasks release them.

        Returns the cells of those tasks, to claim again.
        """
        busy, self.busy = self.busy, []
        if busy:
            logger.info("waiting for another run computing %d task(s) in this folder", len(busy))
        for part, cells in busy:
            with self._lock(part, cells):
                pass
        return [cell for _, cells in busy for cell in cells]


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class RunSummary:
    """What :func:`~sklearn_attnkernel.analysis.runner.run_experiment` did.

    Parameters
    ----------
    out : pathlib.Path
        The run folder.
    n_cells : int
        Cells in the grid.
    n_reused : int
        Cells found finished on disk and skipped, including those another run into the same
        folder finished while this one ran.
    n_computed : int
        Cells computed (successfully or not) by this call.
    n_failed : int
        Cells whose record has ``status="error"`` after this call.
    n_corrupt : int
        Cell files found corrupt and recomputed.
    wall_time_s : float
        Wall time of the call.
    report : pathlib.Path or None
        ``report.md``, when the report was built.

    Examples
    --------
    >>> from pathlib import Path
    >>> from sklearn_attnkernel.analysis.grid import RunSummary
    >>> RunSummary(out=Path("runs/x"), n_cells=4, n_reused=4).n_computed
    0
    """

    out: Path
    n_cells: int = 0
    n_reused: int = 0
    n_computed: int = 0
    n_failed: int = 0
    n_corrupt: int = 0
    wall_time_s: float = 0.0
    report: Path | None = None


def _check_backend(backend, executor):
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if backend == "executor" and not isinstance(executor, concurrent.futures.Executor):
        raise ValueError(
            f"backend='executor' needs a concurrent.futures.Executor, got executor={executor!r}."
        )


def _write_results(results, cell_dir, summary, bar, claims):
    """Write each task's records as it finishes, then release its lock; return the failures."""
    failed = 0
    for (part, task_cells), records in results:
        try:
            failed += _write_task(part, task_cells, records, cell_dir, summary, bar)
        finally:
            claims.release(part, task_cells)
    return failed


def _write_task(part, task_cells, records, cell_dir, summary, bar):
    """Write one task's records (or log why it could not run); return its failed cells."""
    if isinstance(records, BaseException):
        logger.error(
            "%s task of %d cell(s) could not run: %s: %s (rerun to retry)",
            part,
            len(task_cells),
            type(records).__name__,
            records,
        )
        bar.update(len(task_cells))
        return len(task_cells)
    failed = 0
    for record in records:
        write_cell(cell_dir, record)
        failed += record["status"] == "error"
    summary.n_computed += len(records)
    bar.update(len(records))
    logger.debug("%s: %d cell(s) written", part, len(records))
    return failed


def _run_pending(pending, scanned, summary, context, *, progress, backend, n_jobs, executor, dask):
    """Run the pending cells' tasks with the backend; return the number of failed cells.

    Rounds: claim and run every task no other run holds; then wait for the others and claim
    what they left undone (:class:`_Claims`). ``scanned`` is ``(done, retried)`` of
    :func:`_scan`; records other runs wrote meanwhile join ``done`` and count as reused.
    ``dask``: the ``scheduler``, ``workers`` and ``dask_options`` of the Dask backend.
    """
    from tqdm.auto import tqdm

    done, retried = scanned
    claims = _Claims(summary.out / "cells", retried)
    failed = 0
    with contextlib.ExitStack() as stack:
        if backend == "dask":
            executor = _dask_executor(stack, **dask)
        stack.callback(_ThreadState(context["threads"]).restore)  # cells may run here
        stack.callback(claims.release_all)
        bar = stack.enter_context(
            tqdm(total=len(pending), unit="cell", disable=not progress, desc="attnkernel")
        )
        remaining = pending
        while remaining:
            tasks = claims.claim(group_tasks(remaining))
            results = _execute(tasks, context, backend=backend, n_jobs=n_jobs, executor=executor)
            failed += _write_results(results, claims.cell_dir, summary, bar, claims)
            bar.update(len(claims.found) + len(done) - summary.n_reused)
            summary.n_reused = len(done) + len(claims.found)
            remaining = claims.wait_for_busy()
    done.update(claims.found)
    return failed


def run_grid(
    config,
    out,
    *,
    backend="sequential",
    n_jobs=None,
    executor=None,
    scheduler=None,
    workers=None,
    dask_options=None,
    retry_failed=True,
    progress=True,
):
    """Run (or resume) an experiment grid into a run folder, without the report.

    The parameters are those of :func:`~sklearn_attnkernel.analysis.runner.run_experiment`
    (which calls this, then builds the report), ``report`` aside.

    Returns
    -------
    summary : RunSummary
        Counts of reused, computed, failed and corrupt cells and the wall time;
        ``summary.report`` is None.
    """
    start = time.perf_counter()
    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    _check_backend(backend, executor)
    config.check_data()
    cells = config.cells()
    out = Path(out)
    cell_dir = out / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, config, cells)

    done, pending, n_corrupt, retried = _scan(cells, cell_dir, retry_failed)
    summary = RunSummary(out=out, n_cells=len(cells), n_reused=len(done), n_corrupt=n_corrupt)
    logger.info(
        "%d cells: %d finished on disk, %d to run (%d corrupt)",
        len(cells),
        len(done),
        len(pending),
        n_corrupt,
    )
    context = {"root": config["data"]["root"], "threads": config["run"]["threads"]}
    # how the malleability part factorises the influence system (#16): the same numbers
    table = config["malleability"]
    context["influence"] = {key: table[key] for key in ("backend", "chunk_size") if key in table}
    failed = _run_pending(
        pending,
        (done, retried),
        summary,
        context,
        progress=progress,
        backend=backend,
        n_jobs=n_jobs,
        executor=executor,
        dask={"scheduler": scheduler, "workers": workers, "dask_options": dask_options},
    )
    summary.n_failed = failed + sum(1 for r in done.values() if r["status"] == "error")
    summary.wall_time_s = time.perf_counter() - start
    return summary
