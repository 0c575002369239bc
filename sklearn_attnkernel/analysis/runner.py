"""The analysis end to end: run (or resume) the grid, then rebuild the report from its cells.

The grid (:mod:`~sklearn_attnkernel.analysis.grid`) and the report
(:mod:`~sklearn_attnkernel.analysis.report`) share only the cell store; this module is the one
place that calls both.
"""

import time

from .grid import run_grid

__all__ = ["run_experiment"]


def run_experiment(
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
    report=True,
):
    """Run (or resume) an experiment grid into a run folder.

    The config is validated and the data checked before any cell runs. Finished cells found in
    ``out/cells`` are skipped; corrupt ones are moved aside (``*.corrupt``) and recomputed. Each
    task's records are written as soon as it finishes, atomically, by this (the driving)
    process, so killing the run loses at most the tasks in flight. Two runs into one folder
    share the work: each task is claimed with a lock file, the tasks another run holds are
    skipped and, once everything else is done, waited for and reused (or computed, if that run
    died without them), so no cell is computed twice. At the end the tidy results,
    tables, figures and report are rebuilt from the cell files
    (:func:`~sklearn_attnkernel.analysis.report.build_report`).

    Parameters
    ----------
    config : ExperimentConfig, dict, str or path-like
        A config, or what :func:`~sklearn_attnkernel.analysis.config.load_config` accepts.
    out : str or path-like
        The run folder (created if missing).
    backend : {"sequential", "joblib", "executor", "dask"}, default="sequential"
        ``"joblib"`` runs tasks with :class:`joblib.Parallel` (``n_jobs`` workers, unordered
        results); ``"executor"`` submits them to ``executor``; ``"dask"`` uses a
        ``distributed.Client`` on ``scheduler`` or, without it, on a ``LocalCluster`` of
        ``workers`` single-threaded workers.
    n_jobs : int, default=None
        Number of joblib workers; None means 1 unless inside :func:`joblib.parallel_config`.
    executor : concurrent.futures.Executor, default=None
        Any executor, for ``backend="executor"`` (e.g. ``ProcessPoolExecutor(2)`` or a Dask
        client's ``get_executor()``). It is not shut down here.
    scheduler : str, default=None
        Address of a running Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"``.
    workers : int, default=None
        Workers of the local Dask cluster (default 2).
    dask_options : dict, default=None
        Extra ``LocalCluster`` arguments, e.g. ``{"processes": False}``.
    retry_failed : bool, default=True
        Recompute cells whose record says ``status="error"``.
    progress : bool, default=True
        Show a tqdm bar over cells.
    report : bool, default=True
        Rebuild results, tables, figures and the report at the end.

    Returns
    -------
    summary : RunSummary
        Counts of reused, computed, failed and corrupt cells, wall time and the report path
        (:class:`~sklearn_attnkernel.analysis.grid.RunSummary`).

    See Also
    --------
    sklearn_attnkernel.analysis.grid.run_grid : The same run without the report.

    Notes
    -----
    **Run folder.** ``run.json`` (the config and the list of the grid's cells), ``cells/``
    (one JSON file per cell, and an empty ``.<part>-<key>.lock`` per task), then, from the
    report, ``results.parquet``, ``results.csv``,
    ``cells.csv``, ``tables/``, ``figures/``, ``report.md`` and ``report.html``.

    **Cell file.** A JSON object with ``format`` (1), ``key`` (sha256 of the canonical
    settings), ``part``, ``settings``, ``status`` ("ok" or "error"), ``error``, ``rows`` (tidy
    result rows: ``metric``, ``value`` and row-specific fields such as ``stage``, ``rank``,
    ``epoch``), ``info`` (sizes actually used, accuracy, ...), ``notes``, ``seeds``
    (replicate and derived model seed), ``versions`` (package, python, numpy, scipy, sklearn,
    torch), ``device``, ``platform``, ``started_at``, ``wall_time_s`` and ``checksum``
    (sha256 of the rest). Non-finite numbers are stored as null.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_attnkernel.analysis import load_config, run_experiment
    >>> config = load_config({
    ...     "run": {"seeds": [0]},
    ...     "data": {"settings": ["binary"]},
    ...     "ntk": {"enabled": False}, "malleability": {"enabled": False},
    ...     "interventions": {"enabled": False}, "complexity": {"enabled": False},
    ...     "examples": {"enabled": False},
    ...     "collapse": {"transforms": ["raw", "linear"]},
    ... })
    >>> with tempfile.TemporaryDirectory() as out:
    ...     first = run_experiment(config, out, progress=False, report=False)
    ...     again = run_experiment(config, out, progress=False, report=False)
    >>> (first.n_computed, again.n_reused, again.n_computed)
    (3, 3, 0)
    """
    start = time.perf_counter()
    summary = run_grid(
        config,
        out,
        backend=backend,
        n_jobs=n_jobs,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        dask_options=dask_options,
        retry_failed=retry_failed,
        progress=progress,
    )
    if report:
        from .report import build_report

        summary.report = build_report(summary.out)
        summary.wall_time_s = time.perf_counter() - start
    return summary
