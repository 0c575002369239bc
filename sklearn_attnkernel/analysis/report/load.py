"""Read the cells of a run folder into a typed tidy frame, one row per measured number.

The cells are read through the cell store (:func:`~sklearn_attnkernel.analysis.store.read_cell`):
a file that fails its checks is listed as ``corrupt`` and skipped, a file the manifest names but
the folder lacks as ``missing``; neither stops the report.
"""

import json
import logging
from pathlib import Path

import pandas as pd

from ..store import CorruptCellError, RunFolderError, read_cell

__all__ = ["load_results", "part_rows"]

logger = logging.getLogger(__name__)

#: The dimensions a result row can carry (settings or row fields), in display order.
_DIMENSIONS = [
    "part",
    "dataset",
    "setting",
    "n_train",
    "n_test",
    "architecture",
    "width",
    "stopping",
    "transform",
    "adversarial_training",
    "attack",
    "epsilon",
    "epsilon_space",
    "kind",
    "stage",
    "metric",
    "rank",
    "epoch",
    "seed",
]
_INT_COLUMNS = (
    "n_train",
    "n_test",
    "width",
    "rank",
    "epoch",
    "seed",
    "epochs",
    "n_points",
    "max_epochs",
    "n_iter_no_change",
    "batch_size",
)
_FLOAT_COLUMNS = ("epsilon", "value", "lr", "reg_lambda", "sigma_w", "alpha", "top_fraction", "tol")
_FLOAT_COLUMNS += ("d1_step", "d2_step", "span", "rise")  # landscape
_BOOL_COLUMNS = ("adversarial_training", "clip")
_CELL_COLUMNS = ["key", "part", "status", "error", "wall_time_s", "device", "versions", "notes"]


def part_rows(results, name):
    """The rows of ``results`` that belong to the part ``name`` (e.g. ``"kappa"``)."""
    return results[results["part"] == name]


def _manifest_entries(manifest):
    """The ``(file, key)`` of every cell ``run.json`` lists; RunFolderError if it is not one."""
    fix = (
        "restore it, rerun 'attnkernel run' with the same config to rewrite it, or delete it "
        "to report every cell file in cells/"
    )
    try:
        entries = json.loads(manifest.read_bytes().decode("utf-8"))["cells"]
        files = [(str(e["file"]), str(e["key"])) for e in entries]
    except OSError as exc:
        raise RunFolderError(
            f"cannot read {str(manifest)!r} ({exc.strerror or exc}); {fix}"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON or UTF-8, or not a manifest
        raise RunFolderError(
            f"{str(manifest)!r} is not a run manifest ({type(exc).__name__}: {exc}); {fix}"
        ) from exc
    if any(Path(name).name != name for name, _ in files):
        raise RunFolderError(f"{str(manifest)!r} names cell files outside cells/; {fix}")
    return files


def _cell_entries(run_dir):
    manifest = run_dir / "run.json"
    if manifest.is_file():
        return [(run_dir / "cells" / name, key) for name, key in _manifest_entries(manifest)]
    logger.info("%s has no run.json: reading every cell file in cells/", run_dir)
    return [(path, None) for path in sorted((run_dir / "cells").glob("*.json"))]


def _read_entry(path, key):
    """One grid entry: its row of the cell table, and its verified record (None if unread)."""
    meta = {"key": (key or path.stem.split("-")[-1])[:16], "part": path.stem.split("-")[0]}
    if not path.is_file():
        return {**meta, "status": "missing"}, None
    try:
        record = read_cell(path, expected_key=key)
    except (CorruptCellError, RunFolderError) as exc:  # e.g. unreadable: listed, not fatal
        logger.warning("skipping corrupt cell file %s: %s", path, exc)
        return {**meta, "status": "corrupt", "error": str(exc)}, None
    cell = {
        **meta,
        "status": record["status"],
        "error": record.get("error"),
        "wall_time_s": record["wall_time_s"],
        "device": record["device"],
        "versions": json.dumps(record["versions"], sort_keys=True),
        "notes": "; ".join(record.get("notes") or []),
    }
    return cell, record


def load_results(run_dir):
    """Read a run folder's cell files into tidy tables.

    Parameters
    ----------
    run_dir : str or path-like
        A run folder written by :func:`~sklearn_attnkernel.run_experiment`.

    Returns
    -------
    results : pandas.DataFrame
        One row per measured number: the cell's settings (``part``, ``dataset``, ``setting``,
        ``n_train`` — the size actually used —, ``architecture``, ``width``, ``attack``,
        ``epsilon``, ``seed``, the training parameters, ...), the row's own fields
        (``metric``, ``stage``, ``rank``, ``epoch``), ``value`` and ``key`` (the cell key's
        first 16 hex digits). Rows are in the order of the grid, so the table does not depend on
        the order in which cells finished.
    cells : pandas.DataFrame
        One row per cell of the grid: ``key``, ``part``, ``status`` ("ok", "error",
        "missing", "corrupt"), ``error``, ``wall_time_s``, ``device``, ``versions`` and
        ``notes``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_attnkernel.analysis import load_config, run_experiment
    >>> from sklearn_attnkernel.analysis.report import load_results
    >>> config = load_config({"run": {"seeds": [0]}, "data": {"settings": ["binary"]},
    ...                       "collapse": {"transforms": ["raw"]}, "ntk": {"enabled": False},
    ...                       "malleability": {"enabled": False},
    ...                       "interventions": {"enabled": False},
    ...                       "complexity": {"enabled": False},
    ...                       "examples": {"enabled": False}})
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = run_experiment(config, out, progress=False, report=False)
    ...     results, cells = load_results(out)
    >>> sorted(results["part"].unique()), list(cells["status"])
    (['collapse', 'kappa'], ['ok', 'ok'])
    """
    rows, cells = [], []
    for path, key in _cell_entries(Path(run_dir)):
        cell, record = _read_entry(path, key)
        cells.append(cell)
        if record is None or record["status"] != "ok":
            continue
        base = _flat_settings(record)
        rows.extend({**base, **row, "key": cell["key"]} for row in record["rows"])
    return _typed(pd.DataFrame(rows)), pd.DataFrame(cells, columns=_CELL_COLUMNS)


def _flat_settings(record):
    flat = {}
    for name, value in record["settings"].items():
        if isinstance(value, list):
            continue  # echoes of the config (stages, metrics, ranks): not dimensions
        flat[name] = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
    for name in ("n_train", "n_test"):  # "all" → the size actually used
        if name in record["info"]:
            flat[name] = record["info"][name]
    return flat


def _typed_column(name, column):
    if name in _INT_COLUMNS:
        return pd.to_numeric(column).astype("Int64")
    if name in _FLOAT_COLUMNS:
        return pd.to_numeric(column).astype("float64")
    if name in _BOOL_COLUMNS:
        return column.astype("boolean")
    return column.astype("string")


def _typed(frame):
    if frame.empty:
        return pd.DataFrame(columns=[*_DIMENSIONS, "value", "key"])
    for column in _DIMENSIONS:
        if column not in frame:
            frame[column] = pd.NA
    for column in frame.columns:
        frame[column] = _typed_column(column, frame[column])
    rest = [c for c in frame.columns if c not in _DIMENSIONS and c not in ("value", "key")]
    return frame[[*_DIMENSIONS, *sorted(rest), "value", "key"]].reset_index(drop=True)
