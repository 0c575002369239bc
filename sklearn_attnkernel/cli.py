"""The ``attnkernel`` command line (also ``python -m sklearn_attnkernel``).

Subcommands register themselves in :data:`_SUBCOMMANDS`: each entry is a function that adds its
parser to the subparsers and sets ``handler`` to the function that runs it. A handler takes the
parsed arguments and returns an exit status; it raises ``_CLIError`` for a user error, which
:func:`main` prints on stderr (no traceback) and turns into exit status 2.

Only ``diagnose`` exists so far::

    attnkernel diagnose --dataset digits
    attnkernel diagnose data.npy --rank 200 --json
"""

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

__all__ = ["main"]

logger = logging.getLogger(__name__)

PROG = "attnkernel"
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


def _load_matrix(path):
    """Load a numeric matrix from ``.npy``, ``.csv`` (with a header row) or ``.parquet``.

    For CSV and parquet the numeric columns are kept (via pandas) and the others dropped, with a
    note on stderr.
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
    try:
        if suffix == ".npy":
            X = np.load(path, allow_pickle=False)
        else:
            import pandas as pd

            frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
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
            X = numeric.to_numpy(dtype=np.float64)
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
            "amplification by attention, the widths needed for the NTK regime and the "
            "rank-sensitivity curve. Give a FILE (.npy, .csv with a header row, .parquet; numeric "
            "columns only) or --dataset. --dataset digits is sklearn's digits, pixels / 16, rows "
            "ℓ2-normalised."
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
        "--temperature", type=float, default=None, help="softmax temperature (default: √d)"
    )
    parser.add_argument(
        "--practical-width",
        type=float,
        default=1e5,
        help="largest practical network width (default: 1e5)",
    )
    parser.add_argument(
        "--normalize-rows",
        action="store_true",
        help="ℓ2-normalise the rows of FILE before the diagnostic (datasets are already)",
    )
    parser.add_argument(
        "--random-state", type=int, default=None, help="seed for --method randomized"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_run_diagnose)


def _run_diagnose(args):
    from sklearn.preprocessing import normalize

    from .diagnostics import kappa_report

    if args.dataset is not None:
        X = _load_dataset(args.dataset)
        source = f"dataset {args.dataset}"
    else:
        X = _load_matrix(args.file)
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


# Add a subcommand by writing ``_add_<name>(subparsers)`` and listing it here.
_SUBCOMMANDS = (_add_diagnose,)


def _build_parser():
    """Return the ``attnkernel`` argument parser with every registered subcommand."""
    from . import __version__

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
        0 on success, 2 on a usage or input error (message on stderr, no traceback).

    Examples
    --------
    >>> from sklearn_attnkernel.cli import main
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
