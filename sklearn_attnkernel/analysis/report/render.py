"""The report of a run folder: blocks of content rendered as markdown and as self-contained
HTML, and :func:`build_report`, which rebuilds every output of a run folder from its cells."""

import dataclasses
import logging
from pathlib import Path

from ..store import atomic_write, remove_stale_temporaries
from .comparison import compare_with_paper
from .figures import draw_figures
from .html import render_html
from .load import load_results
from .markdown import render_markdown
from .sensitivity import sensitivity_sentences
from .tables import build_tables

__all__ = ["ReportOutcome", "build_report", "write_report"]

logger = logging.getLogger(__name__)

_TITLES = {
    "table1_ntk_distance": "Table 1 — NTK distance to the infinite-width limit vs width",
    "table2_flip_rates": "Table 2 — influence flip rates by attack (random ±ε = baseline)",
    "table2_spearman": "Table 2b — Spearman ρ between influence scores before and after",
    "table2_top_k": "Table 2c — top-k stability |T ∩ T′| / k",
    "table3_adversarial_training": "Table 3 — standard vs adversarial training",
    "table5_interventions": "Table 5 — test accuracy after the interventions",
    "kappa": "κ and the width needed for the NTK regime",
    "kappa_rank_curve": "Rank sensitivity: log10 κ_k by rank k",
    "collapse": "Feature collapse: mean pairwise cosine of the rows",
    "sensitivity_baseline": "Each attack against the paired random ±ε baseline",
    "sensitivity_ratio": "MLP-Attn / 2L-ReLU ratio of mean flip rates",
    "sensitivity_diagnostics": "Attack diagnostics on the top-k set",
}
_TABLE_NOTES = {
    "table1_ntk_distance": (
        "Columns: width m. Kernel metrics on the training inputs, function-space distance on "
        "held-out points. For a multi-class network trained by cross-entropy the "
        "function-space distance compares logits with a regressor of one-hot targets, whose "
        'scales differ (set ntk.loss = "mse" for a scale-comparable distance). Softmax and '
        "exponential attention give identical features after the row normalisation (the "
        "softmax denominator is a per-row scale), so their rows coincide."
    ),
    "table2_flip_rates": (
        "Share of the top-k most helpful training points (k = ⌈top_fraction · n⌉) whose "
        "influence changes sign after the attack; the random ±ε column is the null baseline on "
        "the same points. ε in the units of the epsilon_space column (pixel: [0, 1] pixels)."
    ),
    "table3_adversarial_training": (
        "Columns: how the network was trained. Rows: flip rate under each attack, and the "
        "clean test accuracy."
    ),
    "table5_interventions": (
        "Columns: epochs of training; test accuracy recorded at the end of that epoch during "
        "the one training run of each model. The largest column equal to training.epochs is "
        "the final model. baseline_accuracy: the unmodified training set."
    ),
    "sensitivity_baseline": (
        "Flip rate of the attack and of the random ±ε baseline on the same network, seed and "
        "top-k points (mean ± 95 % CI over seeds, %); excess = attack − random, a t-interval of "
        "the per-seed differences; explained by random = random mean / attack mean. Spearman "
        "ρ and top-k stability: attack (random)."
    ),
    "sensitivity_ratio": (
        "Ratio of the mean flip rates of MLP-Attn and 2L-ReLU over the seeds both have, with a "
        "paired percentile bootstrap 95 % CI (scipy.stats.bootstrap, seeds resampled "
        "together; with 3 seeds it is coarse). ∞: 2L-ReLU flips nothing in any seed; "
        "'random' rows compare the two baselines."
    ),
    "sensitivity_diagnostics": (
        "On the clean top-k set T: share the network classifies correctly and mean "
        "cross-entropy, before and after the attack (attention steps use the attacked "
        "training matrix as reference set); input_cosine: mean cosine between clean and "
        "attacked rows of T as they enter the network; condition_*: 1-norm condition number "
        "of K + αI before and after (from the influence computation's own factorisation). "
        "An attack that raises neither the loss nor the flip rate above the random baseline "
        "is weak, not a sign of a stable ranking."
    ),
    "kappa": (
        "log10 values; required widths m* ≍ κ² n log n (2L-ReLU) and κ⁶ n log n (MLP-Attn) "
        "are orders of magnitude: the paper gives no constants."
    ),
}
_SECTION_OF = {
    "table1_ntk_distance": "ntk",
    "table2_flip_rates": "malleability",
    "table2_spearman": "malleability",
    "table2_top_k": "malleability",
    "table3_adversarial_training": "malleability",
    "table5_interventions": "interventions",
    "kappa": "kappa",
    "kappa_rank_curve": "kappa",
    "collapse": "collapse",
    "sensitivity_baseline": "sensitivity",
    "sensitivity_ratio": "sensitivity",
    "sensitivity_diagnostics": "sensitivity",
}
_SECTIONS = [
    ("kappa", "Condition number κ and required width"),
    ("collapse", "Feature collapse"),
    ("ntk", "NTK distance vs width"),
    ("malleability", "Malleability of influence scores"),
    ("sensitivity", "Malleability as a curve: ε, n and the random baseline"),
    ("interventions", "Interventions"),
]
_SENSITIVITY_TABLES = ("baseline", "ratio", "diagnostics")


# ---------------------------------------------------------------------------------- blocks
# A block is a tuple: ("h1" | "h2" | "h3" | "p", text), ("list", items), ("table", frame),
# ("table", frame, options) or ("figure", png path, caption); .markdown and .html render them.
def _summary_blocks(run_dir, results, cells):
    n_ok = int((cells["status"] == "ok").sum())
    seeds = sorted(int(s) for s in results["seed"].dropna().unique()) if not results.empty else []
    status = cells["status"].value_counts().to_dict()
    text = (
        f"{len(cells)} cells in the grid: {n_ok} finished"
        + "".join(f", {v} {k}" for k, v in sorted(status.items()) if k != "ok")
        + f". Seeds: {seeds or 'none'}. Cells: mean ± half-width of the two-sided 95 % "
        "Student-t interval over seeds; a value without ± comes from one seed (no CI). "
        "Flip rates in %."
    )
    return [("h1", f"attnkernel run — {run_dir.name}"), ("p", text)]


def _comparison_blocks(results, comparison, sentences):
    blocks = [("h2", "Our numbers beside the paper's")]
    if comparison.empty:
        blocks.append(("p", "No measured cell matches a claim of the paper yet."))
    else:
        blocks.append(("table", comparison))
    if sentences:
        blocks.append(("h3", "Where we disagree with the paper, or the baseline explains much"))
        blocks.append(("list", sentences))
    else:
        blocks.append(("p", "No disagreement with the paper was found in the measured cells."))
    if "dataset" in results and "digits" in set(results["dataset"].dropna()):
        blocks.append(
            (
                "p",
                "digits (8×8, 64 features) is not MNIST: its paper comparisons are against the "
                "paper's MNIST figures and show direction, not exact agreement.",
            )
        )
    return blocks


def _sensitivity_findings(tables):
    found = sensitivity_sentences(
        {
            short: tables[f"sensitivity_{short}"][0]
            for short in _SENSITIVITY_TABLES
            if f"sensitivity_{short}" in tables
        }
    )
    if not found:
        return []
    return [("p", "What the measured cells say, in plain words:"), ("list", found)]


def _table_blocks(name, display):
    note = _TABLE_NOTES.get(name, "")
    return [
        ("h3", _TITLES[name]),
        ("table", display),
        ("p", f"{note} CSV: tables/{name}.csv (long form with mean, ci95, n).".strip()),
    ]


def _section_blocks(section, title, tables, figures):
    names = [n for n in tables if _SECTION_OF[n] == section]
    figs = [f for f in figures if f[0] == section]
    if not names and not figs:
        return []
    blocks = [("h2", title)]
    if section == "sensitivity":
        blocks += _sensitivity_findings(tables)
    for name in names:
        blocks += _table_blocks(name, tables[name][1])
    blocks += [("figure", path, caption) for _, path, caption in figs]
    return blocks


def _failure_blocks(cells):
    notes = cells[cells["notes"].fillna("") != ""]
    failed = cells[cells["status"].isin(["error", "corrupt"])]
    if failed.empty and notes.empty:
        return []
    items = [f"{r.part} {r.key}: {r.status} — {r.error}" for r in failed.itertuples()]
    items += sorted({f"{r.part}: {r.notes}" for r in notes.itertuples()})
    return [("h2", "Failed cells and notes"), ("list", items)]


def _compute_blocks(cells):
    timing = (
        cells.dropna(subset=["wall_time_s"]).groupby("part")["wall_time_s"].agg(["count", "sum"])
    )
    if timing.empty:
        return []
    frame = timing.reset_index().rename(columns={"count": "cells", "sum": "cell seconds"})
    frame["cell seconds"] = frame["cell seconds"].round(1)
    versions = sorted(cells["versions"].dropna().unique())
    devices = sorted(cells["device"].dropna().unique())
    return [
        ("h2", "Compute"),
        ("table", frame),
        ("p", f"Devices: {', '.join(devices)}. Versions: {'; '.join(versions)}."),
    ]


def _blocks(run_dir, results, cells, tables, figures):
    comparison, sentences = compare_with_paper(results, tables)
    blocks = _summary_blocks(run_dir, results, cells)
    blocks += _comparison_blocks(results, comparison, sentences)
    for section, title in _SECTIONS:
        blocks += _section_blocks(section, title, tables, figures)
    return blocks + _failure_blocks(cells) + _compute_blocks(cells)


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
    ...                       "interventions": {"enabled": False}})
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
    blocks = _blocks(run_dir, results, cells, tables, made)
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
    ...                       "interventions": {"enabled": False}})
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = run_experiment(config, out, progress=False, report=False)
    ...     path = build_report(out, figures=False)
    ...     text = path.read_text()
    ...     files = sorted(p.name for p in Path(out).iterdir() if p.is_file())
    >>> "κ and the width needed" in text
    True
    >>> files
    ['cells.csv', 'report.html', 'report.md', 'results.csv', 'results.parquet', 'run.json']
    """
    return write_report(run_dir, figures=figures).path
