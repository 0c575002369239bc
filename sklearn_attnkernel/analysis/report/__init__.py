"""Tables, figures and the report of a run folder (issue #5 §3).

Everything here is rebuilt from the cell files alone (``attnkernel report DIR``), one module
per concern, each importing only those above it:

- :mod:`.load`: :func:`load_results` reads the cells listed in ``run.json`` (or every cell file
  when there is no manifest) and returns the tidy results, one row per measured number;
- :mod:`.stats`: :func:`mean_ci`, :func:`summarize` (mean and a two-sided 95 % Student-t
  interval over seeds; with one seed there is no interval and the tables say so) and
  :func:`ratio_ci` (a ratio of means with a paired bootstrap interval);
- :mod:`.formatting`: 'mean ± ci' strings, wide tables, architecture labels;
- :mod:`.sensitivity`: malleability against ε and n, read against the random baseline
  (:func:`sensitivity_tables`, :func:`sensitivity_sentences`);
- :mod:`.tables`: :func:`build_tables`, the paper's tables;
- :mod:`.figures`: one function per kind of figure;
- :mod:`.verdicts`: the paired statistics every verdict rests on (a ratio with its paired
  bootstrap CI, a mean of per-seed differences, per-seed log-log slopes) and their words;
- :mod:`.networks`: the trained networks' settings, train/test accuracy, final loss and
  convergence, and which are near chance (left out of the verdicts, flagged in the tables);
- :mod:`.examples`: the image grids and the top-k overlap table of the ``examples`` part;
- :mod:`.comparison`: the verdict on each claim of the paper beside the paper's numbers
  (:data:`PAPER_NUMBERS`), one function per claim;
- :mod:`.blocks`: what the report says, as blocks (headings, paragraphs, tables, figures):
  the verdict table first, then the networks, then one section per part, figures first;
- :mod:`.markdown` and :mod:`.html`: the report's blocks as ``report.md`` and as one
  self-contained HTML page (a Jinja2 template, tables through pandas' Styler, figures
  embedded as base64 PNG);
- :mod:`.render`: :func:`build_report` (and :func:`write_report`, which also returns the
  status of every cell) writes ``results.parquet``, ``results.csv``,
  ``cells.csv``, ``tables/*.csv|md``, ``figures/*.png|svg``, ``report.md`` and
  ``report.html``.

numpy/pandas/matplotlib/Jinja2 only: no torch.
"""

from .comparison import PAPER_NUMBERS
from .load import load_results
from .render import ReportOutcome, build_report, write_report
from .sensitivity import PAPER_RATIO_RANGE, sensitivity_sentences, sensitivity_tables
from .stats import mean_ci, ratio_ci, summarize
from .tables import build_tables

__all__ = [
    "PAPER_NUMBERS",
    "PAPER_RATIO_RANGE",
    "ReportOutcome",
    "build_report",
    "build_tables",
    "load_results",
    "mean_ci",
    "ratio_ci",
    "sensitivity_sentences",
    "sensitivity_tables",
    "summarize",
    "write_report",
]
