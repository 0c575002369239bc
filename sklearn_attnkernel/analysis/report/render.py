"""The report of a run folder: the blocks of :mod:`.blocks` rendered as markdown and as
self-contained HTML, and :func:`build_report`, which rebuilds every output of a run folder from
its cells."""

import dataclasses
import logging
from pathlib import Path

from ..store import atomic_write, remove_stale_temporaries
from .blocks import report_blocks
from .figures import draw_figures
from .html import render_html
from .load import load_results
from .markdown import render_markdown
from .tables import build_tables

__all__ = ["ReportOutcome", "build_report", "write_report"]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------- writing
def _write_results(run_dir, results, cells):
    try:
        atomic_write(run_dir / "results.parquet", results.to_parquet(index=False))
    except ImportError as exc:  # pyarrow (or fastparquet) is not installed: CSV only
        logger.warning("results.parquet not written (%s); results.csv holds the same table", exc)
    atomic_write(run_dir / "results.csv", results.to_csv(index=False))
    atomic_write(run_dir / "cells.csv", cells.to_csv(index=False))


def _write_tables(run_dir, tables):
    if not tables:
        return
    table_dir = run_dir / "tables"
    table_dir.mkdir(exist_ok=True)
    for name, (summary, display) in tables.items():
        atomic_write(table_dir / f"{name}.csv", summary.to_csv(index=False))
        atomic_write(table_dir / f"{name}.md", display.to_markdown(index=False) + "\n")


def _write_figures(run_dir, results):
    figure_dir = run_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    return draw_figures(results, figure_dir)


@dataclasses.dataclass(frozen=True)
class ReportOutcome:
    """What :func:`write_report` wrote, and how complete the run folder was.

    Parameters
    ----------
    path : pathlib.Path
        ``report.md``; ``report.html`` lies beside it.
    cells : pandas.DataFrame
        One row per cell of the grid (the table of ``cells.csv``), with its ``status``:
        ``"ok"``, ``"error"`` (the cell failed), ``"corrupt"`` (its file fails its checks) or
        ``"missing"`` (the manifest lists it, the folder lacks it).
    """

    path: Path
    cells: object

    @property
    def n_incomplete(self):
        """Cells whose status is not ``"ok"``: failed, corrupt or missing."""
        return int((self.cells["status"] != "ok").sum()) if len(self.cells) else 0


def write_report(run_dir, *, figures=True):
    """Rebuild every output of a run folder, like :func:`build_report`, and say what was found.

    Every file is written atomically (:func:`~sklearn_attnkernel.analysis.store.atomic_write`),
    so a report killed midway leaves the previous version of each file or the new one, never a
    truncated figure or table; temporary files of killed writers are removed first.

    Parameters
    ----------
    run_dir : str or path-like
        A run folder written by :func:`~sklearn_attnkernel.run_experiment`.
    figures : bool, default=True
        Draw the figures (PNG and SVG, matplotlib's Agg backend).

    Returns
    -------
    outcome : ReportOutcome
        The report's path and the status of every cell of the grid.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` has neither ``run.json`` nor a ``cells`` folder.
    sklearn_attnkernel.analysis.store.RunFolderError
        If ``run.json`` is not a run's manifest (e.g. cut short or edited by hand).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_attnkernel.analysis import load_config, run_experiment
    >>> from sklearn_attnkernel.analysis.report import write_report
    >>> config = load_config({"run": {"seeds": [0]}, "data": {"settings": ["binary"]},
    ...                       "collapse": {"enabled": False}, "ntk": {"enabled": False},
    ...                       "malleability": {"enabled": False},
    ...                       "interventions": {"enabled": False},
    ...                       "complexity": {"enabled": False},
    ...                       "examples": {"enabled": False}})
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = run_experiment(config, out, progress=False, report=False)
    ...     outcome = write_report(out, figures=False)
    >>> outcome.path.name, list(outcome.cells["status"]), outcome.n_incomplete
    ('report.md', ['ok'], 0)
    """
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file() and not (run_dir / "cells").is_dir():
        raise FileNotFoundError(
            f"{str(run_dir)!r} is not a run folder: it has neither run.json nor cells/. Pass "
            "the folder given to 'attnkernel run --out'."
        )
    for folder in (run_dir, run_dir / "tables", run_dir / "figures"):
        remove_stale_temporaries(folder)
    results, cells = load_results(run_dir)
    _write_results(run_dir, results, cells)
    tables = build_tables(results)
    _write_tables(run_dir, tables)
    made = _write_figures(run_dir, results) if figures and not results.empty else []
    blocks = report_blocks(run_dir, results, cells, tables, made)
    report = run_dir / "report.md"
    atomic_write(report, render_markdown(blocks, run_dir))
    atomic_write(run_dir / "report.html", render_html(blocks))
    logger.info("report written to %s", report)
    return ReportOutcome(path=report, cells=cells)


def build_report(run_dir, *, figures=True):
    """Rebuild results, tables, figures and the report of a run folder from its cell files.

    Parameters
    ----------
    run_dir : str or path-like
        A run folder written by :func:`~sklearn_attnkernel.run_experiment`.
    figures : bool, default=True
        Draw the figures (PNG and SVG, matplotlib's Agg backend).

    Returns
    -------
    report : pathlib.Path
        ``run_dir/report.md``; ``report.html`` (self-contained) lies beside it.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` has neither ``run.json`` nor a ``cells`` folder.
    sklearn_attnkernel.analysis.store.RunFolderError
        If ``run.json`` is not a run's manifest (e.g. cut short or edited by hand).

    See Also
    --------
    sklearn_attnkernel.analysis.report.write_report : The same, returning the cells' status.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_attnkernel.analysis import load_config, run_experiment
    >>> from sklearn_attnkernel.analysis.report import build_report
    >>> config = load_config({"run": {"seeds": [0]}, "data": {"settings": ["binary"]},
    ...                       "collapse": {"enabled": False}, "ntk": {"enabled": False},
    ...                       "malleability": {"enabled": False},
    ...                       "interventions": {"enabled": False},
    ...                       "complexity": {"enabled": False},
    ...                       "examples": {"enabled": False}})
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = run_experiment(config, out, progress=False, report=False)
    ...     path = build_report(out, figures=False)
    ...     text = path.read_text()
    ...     files = sorted(p.name for p in Path(out).iterdir() if p.is_file())
    >>> "κ and the sufficient width" in text
    True
    >>> files
    ['cells.csv', 'report.html', 'report.md', 'results.csv', 'results.parquet', 'run.json']
    """
    return write_report(run_dir, figures=figures).path
