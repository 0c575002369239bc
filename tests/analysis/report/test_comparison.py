"""Tests for the comparison with the paper: the verdicts and the sentences where we disagree."""

import re

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.analysis.report import build_report, build_tables, load_results
from sklearn_attnkernel.analysis.report.comparison import compare_with_paper
from sklearn_attnkernel.analysis.store import CELL_FORMAT, cell_key, write_cell


def _write(cells, settings, rows, info=None):
    write_cell(
        cells,
        {
            "format": CELL_FORMAT,
            "key": cell_key(settings),
            "part": settings["part"],
            "settings": settings,
            "status": "ok",
            "rows": rows,
            "info": info or {},
            "seeds": {},
            "versions": {},
            "device": "cpu",
            "wall_time_s": 0.0,
        },
    )


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return None if value is pd.NA else value


def _report_text(tmp_path, results):
    """Write synthetic results as cell files and build the report."""
    settings_columns = [c for c in results.columns if c not in ("metric", "value")]
    for _, group in results.groupby(settings_columns, dropna=False):
        first = group.iloc[0]
        rows = [
            {"metric": m, "value": float(v)}
            for m, v in zip(group["metric"], group["value"], strict=True)
        ]
        _write(tmp_path / "cells", {c: _plain(first[c]) for c in settings_columns}, rows)
    return build_report(tmp_path, figures=False).read_text()


def test_report_says_where_we_disagree_with_the_paper(tmp_path, malleability_results):
    # MNIST, 10 classes: the paper has 3.3 % vs 28.9 %; here 2L-ReLU is the malleable one
    results = malleability_results(
        {
            ("relu", "pgd"): [0.30, 0.32, 0.31],
            ("attention", "pgd"): [0.02, 0.03, 0.04],
            ("relu", "random"): [0.25, 0.26, 0.27],
            ("attention", "random"): [0.01, 0.0, 0.02],
        }
    )
    text = _report_text(tmp_path, results)
    assert "3.3% vs 28.9%" in text
    assert "2L-ReLU more malleable: opposite to the paper" in text
    assert "Where we disagree with the paper" in text
    pattern = r"random ±ε baseline already reaches \d+% of the PGD flip rate of 2L-ReLU"
    assert re.search(pattern, text)


def test_report_agrees_when_the_gap_is_reproduced(tmp_path, malleability_results):
    results = malleability_results(
        {
            ("relu", "pgd"): [0.03, 0.04, 0.035],
            ("attention", "pgd"): [0.28, 0.30, 0.29],
            ("relu", "random"): [0.0, 0.01, 0.0],
            ("attention", "random"): [0.02, 0.01, 0.03],
        }
    )
    text = _report_text(tmp_path, results)
    assert "MLP-Attn significantly more malleable (CIs disjoint)" in text
    assert "opposite to the paper" not in text


def test_digits_is_compared_with_the_papers_mnist(malleability_results):
    results = malleability_results(
        {("relu", "pgd"): [0.03, 0.04, 0.035], ("attention", "pgd"): [0.28, 0.30, 0.29]},
        dataset="digits",
    )
    comparison, _ = compare_with_paper(results, build_tables(results))
    assert comparison["paper"].tolist() == ["3.3% vs 28.9% (8.8×) on MNIST"]


# ------------------------------------------------------------ κ: the configured width
def _kappa_cell(cells, log10_width, **settings):
    """A κ cell needing m* = 10^log10_width; ``settings`` as the cell stores them."""
    settings = {"part": "kappa", "dataset": "digits", "setting": "binary", **settings}
    rows = [
        {"metric": "log10_width_attention", "value": log10_width},
        {"metric": "curve_log10_kappa", "rank": 1, "value": 0.0},
    ]
    _write(cells, settings, rows, info={"n_train": 100})


def _kappa_verdict(run_dir):
    results, _ = load_results(run_dir)
    comparison, sentences = compare_with_paper(results, build_tables(results))
    return comparison["verdict"].item(), sentences


@pytest.mark.parametrize(
    ("log10_width", "practical_width", "verdict"),
    [
        (7.0, 1e5, "beyond practical width (10^5)"),
        (7.0, 1e8, "practical"),  # beyond 10^5, but the run took 10^8 as practical
        (4.0, 1e5, "practical"),
        (4.0, 1e3, "beyond practical width (10^3)"),
        (5.6, 3e5, "beyond practical width (10^5.5)"),
        (7.0, None, "beyond practical width (10^5)"),  # a cell from before the setting
        (4.0, None, "practical"),
    ],
)
def test_kappa_verdict_uses_the_configured_practical_width(
    tmp_path, log10_width, practical_width, verdict
):
    settings = {} if practical_width is None else {"practical_width": practical_width}
    _kappa_cell(tmp_path / "cells", log10_width, **settings)
    found, sentences = _kappa_verdict(tmp_path)
    assert found == verdict
    assert bool(sentences) == (verdict == "practical")


def test_kappa_verdict_in_the_report_names_the_configured_width(tmp_path):
    _kappa_cell(tmp_path / "cells", 4.0, practical_width=1e3)
    text = build_report(tmp_path, figures=False).read_text()
    assert "beyond practical width (10^3)" in text
    assert "10^5" not in text
