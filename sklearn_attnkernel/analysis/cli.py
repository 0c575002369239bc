"""The ``attnkernel`` command line (also ``python -m sklearn_attnkernel``).

Subcommands register themselves in :data:`_SUBCOMMANDS`: each entry is a function that adds its
parser to the subparsers and sets ``handler`` to the function that runs it. A handler takes the
parsed arguments and returns an exit status (0, or 1 when some cells of a run failed or are
unusable); it raises ``_CLIError`` for a user error, which :func:`main` prints on stderr (no
traceback) and turns into exit status 2.

Subcommands::

    attnkernel diagnose --dataset digits
    attnkernel diagnose data.npy --rank 200 --json
    attnkernel run --quick                      # the digits analysis in a few minutes
    attnkernel run --config examples/configs/digits.toml --n-jobs 2
    attnkernel report attnkernel-runs/quick     # rebuild tables, figures and report

``run`` and ``report`` import :mod:`sklearn_attnkernel.analysis.config`,
:mod:`sklearn_attnkernel.analysis.runner` and :mod:`sklearn_attnkernel.analysis.report` inside
their handlers, so importing this module stays light.
"""

import argparse
import contextlib
import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

from .._utils.vocabulary import ATTACKS, PARTS, PRACTICAL_WIDTH

__all__ = ["main"]

logger = logging.getLogger(__name__)

PROG = "attnkernel"
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
_DATASETS = ("digits",)
_FILE_SUFFIXES = (".npy", ".csv", ".parquet")


class _CLIError(Exception):
    """A user error: printed on stderr as ``attnkernel: error: <message>``, exit status 2."""


# ------------------------------------------------------------------------------ data loading
def _load_dataset(name):
    """Load a named dataset as a float64 matrix.

    ``digits``: :func:`sklearn.datasets.load_digits` (1797 × 64), pixels divided by 16 so they lie
    in ``[0, 1]``, then each row ℓ2-normalised (the paper feeds unit-norm rows to the network).
    """
    if name == "digits":
        from sklearn.datasets import load_digits
        from sklearn.preprocessing import normalize

        return normalize(load_digits().data / 16.0)
    raise _CLIError(f"unknown dataset {name!r}; choose one of: {', '.join(_DATASETS)}")


def _first_row_is_data(path):
    """Whether the first row of a CSV is data: every non-empty field of it parses as a number.

    A header of numbers (e.g. pandas' ``0,1,2`` column names) cannot be told from data: the
    caller says which it read on stderr, and ``--header`` / ``--no-header`` decide.
    """
    import pandas as pd

    first = pd.read_csv(path, header=None, nrows=1, dtype=str, skip_blank_lines=True)
    if first.empty:
        return False
    fields = first.iloc[0].dropna()
    return bool(len(fields)) and bool(pd.to_numeric(fields, errors="coerce").notna().all())


def _csv_header(path, header):
    """The ``header`` argument of :func:`pandas.read_csv`: 0 (first row = names) or None."""
    if header is None:
        header = not _first_row_is_data(path)
        if not header:
            print(
                f"{PROG}: note: the first row of {str(path)!r} is all numbers: read as data "
                "(pass --header if it holds column names)",
                file=sys.stderr,
            )
    return 0 if header else None


def _read_table(path, header):
    """The numeric columns of a CSV or parquet file (via pandas); the others are noted."""
    import pandas as pd

    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, header=_csv_header(path, header))
    else:
        frame = pd.read_parquet(path)
    numeric = frame.select_dtypes(include="number")
    dropped = [str(c) for c in frame.columns if c not in numeric.columns]
    if dropped:
        print(
            f"{PROG}: note: ignoring {len(dropped)} non-numeric column(s): "
            f"{', '.join(dropped[:10])}{' ...' if len(dropped) > 10 else ''}",
            file=sys.stderr,
        )
    if numeric.shape[1] == 0:
        raise _CLIError(f"{str(path)!r} has no numeric columns")
    return numeric.to_numpy(dtype=np.float64)


def _load_matrix(path, header=None):
    """Load a numeric matrix from ``.npy``, ``.csv`` or ``.parquet``.

    For CSV and parquet the numeric columns are kept (via pandas) and the others dropped, with a
    note on stderr. ``header`` (CSV only): True when the first row holds column names, False when
    it is data, None to decide by :func:`_first_row_is_data`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FILE_SUFFIXES:
        raise _CLIError(
            f"cannot read {str(path)!r}: unknown extension {suffix or '(none)'!r}; "
            f"use one of {', '.join(_FILE_SUFFIXES)}"
        )
    if not path.is_file():
        raise _CLIError(f"no such file: {str(path)!r}")
    if header is not None and suffix != ".csv":
        raise _CLIError(
            f"--header/--no-header apply to .csv files only, not {suffix!r}; leave them out"
        )
    try:
        X = np.load(path, allow_pickle=False) if suffix == ".npy" else _read_table(path, header)
    except _CLIError:
        raise
    except Exception as exc:  # any reader failure is a bad file, reported without a traceback
        raise _CLIError(f"cannot read {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    if X.ndim != 2:
        raise _CLIError(f"{str(path)!r} holds an array of shape {X.shape}; need a 2-D matrix")
    return X


# ------------------------------------------------------------------------------- diagnose
def _rank_argument(text):
    """Parse ``--rank``: 'numerical', 'full', an int ≥ 1 or a float in (0, 1)."""
    if text in ("numerical", "full"):
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid rank {text!r}: use 'numerical', 'full', an int >= 1 or a float in (0, 1)"
        ) from None
    return value


def _add_diagnose(subparsers):
    parser = subparsers.add_parser(
        "diagnose",
        help="condition-number (κ) diagnostic of a data matrix",
        description=(
            "Print the κ diagnostic of a data matrix: κ of G = XXᵀ at the chosen rank, its "
            "amplification by attention (κ³, κ^(2L+1) with the same C in every layer, and the "
            "bound of the matrix-exponential model, which is not the entrywise softmax), the "
            "sufficient widths for the NTK regime (Thm 4.8 of arXiv 2603.13085: orders of "
            "magnitude, constants unknown) with their κ⁴ ratio, and the rank-sensitivity "
            "curve. Give a FILE (.npy, .csv, .parquet; numeric columns only) or --dataset. "
            "--dataset digits is sklearn's digits, pixels / 16, rows ℓ2-normalised."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", metavar="FILE", help="data matrix to diagnose")
    source.add_argument("--dataset", help=f"a bundled dataset: {', '.join(_DATASETS)}")
    parser.add_argument(
        "--rank",
        type=_rank_argument,
        default="numerical",
        help="rank at which κ is read: 'numerical' (default), 'full', an int, or a float in "
        "(0, 1) = fraction of spectral energy kept",
    )
    parser.add_argument(
        "--method",
        choices=("auto", "exact", "gram", "randomized"),
        default="auto",
        help="how singular values are computed (default: auto)",
    )
    parser.add_argument(
        "--n-layers", type=int, default=1, help="attention layers L in κ^(2L+1) (default: 1)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="temperature τ of the matrix-exponential bound (default: √d)",
    )
    parser.add_argument(
        "--practical-width",
        type=float,
        default=PRACTICAL_WIDTH,
        help=f"largest practical network width (default: {PRACTICAL_WIDTH:.0e})",
    )
    parser.add_argument(
        "--normalize-rows",
        action="store_true",
        help="ℓ2-normalise the rows of FILE before the diagnostic (datasets are already)",
    )
    parser.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="CSV only: --header reads the first row as column names, --no-header as data. "
        "Default: the first row is data when every field of it is a number (said on stderr), "
        "column names otherwise; pass --header for numeric column names such as 0,1,2",
    )
    parser.add_argument(
        "--random-state", type=int, default=None, help="seed for --method randomized"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_run_diagnose)


def _run_diagnose(args):
    from sklearn.preprocessing import normalize

    from ..diagnostics import kappa_report

    if args.dataset is not None:
        if args.header is not None:
            raise _CLIError("--header/--no-header apply to a .csv FILE, not to --dataset")
        X = _load_dataset(args.dataset)
        source = f"dataset {args.dataset}"
    else:
        X = _load_matrix(args.file, header=args.header)
        source = args.file
        if args.normalize_rows:
            norms = np.linalg.norm(X, axis=1) if X.size else np.zeros(0)
            zero = np.flatnonzero(norms == 0)
            if zero.size:
                raise _CLIError(
                    f"--normalize-rows: rows {zero[:10].tolist()} of {source!r} are zero and "
                    "cannot be normalised; drop them or leave out --normalize-rows"
                )
            X = normalize(X)
    logger.info("diagnosing %s, shape %s", source, X.shape)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = kappa_report(
                X,
                rank=args.rank,
                n_layers=args.n_layers,
                temperature=args.temperature,
                practical_width=args.practical_width,
                method=args.method,
                random_state=args.random_state,
            )
    except (ValueError, TypeError) as exc:
        raise _CLIError(str(exc)) from exc
    for warning in caught:
        print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
    if args.json:
        print(json.dumps({"source": source, **report.to_dict()}, indent=2, allow_nan=False))
    else:
        print(f"source: {source}")
        print(report)
    return 0


# ------------------------------------------------------------------------------------ run
# flag → (config key, parser of the comma-separated text)
def _csv(item_type):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        try:
            return [item_type(t) for t in items]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"cannot parse {text!r}: expected comma-separated {item_type.__name__} values"
            ) from None

    parse.__name__ = f"list of {item_type.__name__}"
    return parse


def _n_value(text):
    return text if text == "all" else int(text)


_n_value.__name__ = "int or 'all'"

_RUN_OVERRIDES = {
    # dest: (config key, flag)
    "dataset": ("data.datasets", "--dataset"),
    "settings": ("data.settings", "--settings"),
    "seeds": ("run.seeds", "--seeds"),
    "n_train": ("data.n_train", "--n-train"),
    "epochs": ("training.epochs", "--epochs"),
    "stopping": ("training.stopping", "--stopping"),
    "max_epochs": ("training.max_epochs", "--max-epochs"),
    "epsilons": ("malleability.epsilons", "--epsilons"),
    "epsilon_space": ("malleability.epsilon_space", "--epsilon-space"),
    "attacks": ("malleability.attacks", "--attacks"),
    "device": ("run.device", "--device"),
    "data_root": ("data.root", "--data-root"),
}


def _add_run(subparsers):
    parser = subparsers.add_parser(
        "run",
        help="run (or resume) the analysis grid and write tables, figures and a report",
        description=(
            "Run the experiment grid of a TOML config (defaults: the digits analysis) into a run "
            "folder, then rebuild its results, tables, figures and report. Finished cells in the "
            "folder are reused, so rerunning resumes an interrupted run. Flags override config "
            "keys (named in each flag's help). Two runs into one folder share the work: a cell "
            "that one run is computing is skipped by the other, which computes the rest and then "
            "waits for it (a lock file per task, in cells/), so no cell is computed twice. "
            "Exit status: 0 when every cell succeeded, 1 when some failed (listed in the "
            "report), 2 for bad input (a bad config, or a run folder that cannot be used as it "
            "is, e.g. a folder where a cell file belongs)."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="TOML config (see examples/configs)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="start from the quick preset: digits, 3 seeds, 3 ε, one n, fewer widths (minutes)",
    )
    parser.add_argument("--out", metavar="DIR", help="run folder (default attnkernel-runs/NAME)")
    parser.add_argument(
        "--dataset",
        type=_csv(str),
        help="datasets, comma-separated: digits, mnist, fashion-mnist, cifar10 (data.datasets)",
    )
    parser.add_argument("--settings", type=_csv(str), help="multiclass,binary (data.settings)")
    parser.add_argument("--seeds", type=_csv(int), help="replicate seeds, e.g. 0,1,2 (run.seeds)")
    parser.add_argument(
        "--n-train", type=_csv(_n_value), help="training-set sizes, e.g. 300,1000 (data.n_train)"
    )
    parser.add_argument("--stopping", help="convergence or fixed (training.stopping)")
    parser.add_argument(
        "--max-epochs", type=int, help="epoch cap at convergence (training.max_epochs)"
    )
    parser.add_argument("--epochs", type=int, help="epochs when fixed (training.epochs)")
    parser.add_argument(
        "--epsilons", type=_csv(float), help="ε grid, e.g. 0.03,0.1,0.3 (malleability.epsilons)"
    )
    parser.add_argument(
        "--epsilon-space",
        help="pixel or standardized (malleability.epsilon_space)",
    )
    parser.add_argument(
        "--attacks", type=_csv(str), help=f"{','.join(ATTACKS)} (malleability.attacks)"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:N or auto (run.device)")
    parser.add_argument("--data-root", metavar="DIR", help="folder of the data files (data.root)")
    parser.add_argument(
        "--parts",
        type=_csv(str),
        help=f"run only these parts: {','.join(PARTS)} (sets <part>.enabled)",
    )
    parser.add_argument(
        "--backend",
        choices=("sequential", "joblib", "dask"),
        default=None,
        help="how cells run (default: sequential, or joblib with --n-jobs > 1, or dask with "
        "--scheduler/--workers)",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help="joblib workers")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address")
    parser.add_argument("--workers", type=int, help="workers of a local Dask cluster")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the config and count the cells (finished / to run), then stop",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the report at the end")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=_run_run)


def _part_overrides(parts):
    """``--parts``: enable the parts listed, disable the others."""
    if parts is None:
        return {}
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise _CLIError(
            f"--parts: unknown part(s) {unknown or parts}; choose from {', '.join(PARTS)}"
        )
    return {f"{part}.enabled": part in parts for part in PARTS}


def _config_error(args, exc):
    """The message of a bad config value: the flag that set it, or the config file."""
    flags = [
        flag
        for dest, (key, flag) in _RUN_OVERRIDES.items()
        if exc.key.startswith(key) and getattr(args, dest) is not None
    ]
    hint = f" (set by {flags[0]})" if flags else ""
    source = f" in {args.config}" if args.config and not hint else ""
    return f"{exc}{hint}{source}"


def _config_from_args(args):
    from .config import ConfigError, load_config

    overrides = {
        key: getattr(args, dest)
        for dest, (key, _) in _RUN_OVERRIDES.items()
        if getattr(args, dest) is not None
    }
    overrides.update(_part_overrides(args.parts))
    try:
        return load_config(args.config, quick=args.quick, overrides=overrides)
    except ConfigError as exc:
        raise _CLIError(_config_error(args, exc)) from exc
    except FileNotFoundError as exc:
        raise _CLIError(str(exc)) from exc


def _backend(args):
    """The backend of ``run``: as given, or implied by --scheduler, --workers and --n-jobs."""
    backend = args.backend
    if backend is None:
        if args.scheduler or args.workers:
            backend = "dask"
        elif args.n_jobs is not None and args.n_jobs != 1:
            backend = "joblib"
        else:
            backend = "sequential"
    if backend != "dask" and (args.scheduler or args.workers):
        raise _CLIError(f"--scheduler and --workers need --backend dask, not {backend!r}")
    for name in ("n_jobs", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1 and not (name == "n_jobs" and value == -1):
            raise _CLIError(
                f"--{name.replace('_', '-')} must be >= 1 (or -1 for --n-jobs), got {value}"
            )
    return backend


def _print_summary(summary, out):
    """Print what the run did; return the exit status (1 when some cell failed)."""
    print(
        f"{summary.n_cells} cells: {summary.n_reused} reused, {summary.n_computed} computed, "
        f"{summary.n_failed} failed, {summary.n_corrupt} corrupt file(s) recomputed; "
        f"{summary.wall_time_s:.1f} s"
    )
    print(f"run folder: {out}")
    if summary.report is not None:
        print(f"report: {summary.report} (and {summary.report.with_suffix('.html')})")
    if summary.n_failed:
        print(
            f"{PROG}: {summary.n_failed} cell(s) failed; see the report's 'Failed cells' "
            "section, fix the cause and rerun to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _run_run(args):
    from .config import ConfigError
    from .runner import run_experiment
    from .store import RunFolderError

    config = _config_from_args(args)
    out = Path(args.out) if args.out else Path("attnkernel-runs") / config["run"]["name"]
    backend = _backend(args)
    try:
        config.check_data()
    except ConfigError as exc:
        raise _CLIError(str(exc)) from exc
    if args.dry_run:
        _print_dry_run(config, out)
        return 0
    logger.info("running %s into %s with backend %s", config["run"]["name"], out, backend)
    try:
        summary = run_experiment(
            config,
            out,
            backend=backend,
            n_jobs=args.n_jobs,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=not args.no_progress,
            report=not args.no_report,
        )
    except (ImportError, RunFolderError) as exc:  # e.g. --backend dask without dask installed
        raise _CLIError(str(exc)) from exc
    except OSError as exc:  # e.g. --out names a file, or the folder is read-only
        raise _CLIError(_os_error_message(exc, "write the run folder", out)) from exc
    return _print_summary(summary, out)


def _print_dry_run(config, out):
    from collections import Counter

    from .store import CorruptCellError, RunFolderError, read_cell

    cells = config.cells()
    finished = Counter()
    for cell in cells:
        path = out / "cells" / cell.filename
        if path.is_file():
            with contextlib.suppress(CorruptCellError, RunFolderError):
                finished[cell.part] += read_cell(path, cell.key)["status"] == "ok"
    total = Counter(cell.part for cell in cells)
    print(f"config {config['run']['name']!r}, run folder {out}")
    for part, count in total.items():
        print(f"  {part:<14} {count:>5} cells, {finished[part]:>5} finished")
    print(f"  {'total':<14} {len(cells):>5} cells, {sum(finished.values()):>5} finished")


# --------------------------------------------------------------------------------- report
def _add_report(subparsers):
    parser = subparsers.add_parser(
        "report",
        help="rebuild tables, figures and the report of a run folder from its cell files",
        description=(
            "Rebuild results.parquet/csv, tables/, figures/, report.md and report.html of a run "
            "folder from its cell files alone (no computation). Every file is replaced "
            "atomically, so an interrupted report leaves each file whole. Exit status: 0 when "
            "every cell of the grid is there and succeeded, 1 when some cells failed, are "
            "corrupt or missing (the report is still written and lists them; 'run' recomputes "
            "them), 2 for bad input (not a run folder, an unreadable or corrupt run.json, a "
            "folder that cannot be written)."
        ),
    )
    parser.add_argument("run_dir", metavar="DIR", help="a run folder written by 'run'")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    parser.set_defaults(handler=_run_report)


def _run_report(args):
    from .report import write_report
    from .store import RunFolderError

    try:
        outcome = write_report(args.run_dir, figures=not args.no_figures)
    except (FileNotFoundError, RunFolderError) as exc:
        raise _CLIError(str(exc)) from exc
    except OSError as exc:  # e.g. a read-only run folder, or a file where tables/ belongs
        raise _CLIError(_os_error_message(exc, "write the report of", args.run_dir)) from exc
    print(f"report: {outcome.path} (and {outcome.path.with_suffix('.html')})")
    if outcome.n_incomplete:
        counts = outcome.cells["status"].value_counts()
        found = ", ".join(
            f"{counts[s]} {s}" for s in ("error", "corrupt", "missing") if s in counts
        )
        print(
            f"{PROG}: {outcome.n_incomplete} of {len(outcome.cells)} cell(s) are not usable "
            f"({found}); see the report's 'Failed cells' section and rerun 'attnkernel run' "
            "with the same config to compute them",
            file=sys.stderr,
        )
        return EXIT_INCOMPLETE
    return 0


def _os_error_message(exc, doing, folder):
    where = f" {str(exc.filename)!r}" if exc.filename else ""
    return f"cannot {doing} {str(folder)!r}:{where} {exc.strerror or exc}"


# Add a subcommand by writing ``_add_<name>(subparsers)`` and listing it here.
_SUBCOMMANDS = (_add_diagnose, _add_run, _add_report)


def _build_parser():
    """Return the ``attnkernel`` argument parser with every registered subcommand."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Linearized-attention kernels, κ diagnostics and NTK tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress to stderr (-vv: debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_subcommand in _SUBCOMMANDS:
        add_subcommand(subparsers)
    return parser


def main(argv=None):
    """Run the ``attnkernel`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success; 1 when some cells of the grid failed (``run``) or failed, are corrupt or
        missing (``report``); 2 on a usage or input error (message on stderr, no traceback).

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.cli import main
    >>> main(["diagnose", "--dataset", "digits", "--json"])  # doctest: +ELLIPSIS
    {
      "source": "dataset digits",
      "n_samples": 1797,
    ...
    0
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help already
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
            format=f"{PROG}: %(name)s: %(message)s",
        )
    try:
        return args.handler(args)
    except _CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
