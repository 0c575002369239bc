"""Tests for the display helpers: 'mean ± ci' strings and wide tables in the paper's order."""

import math

import pandas as pd

from sklearn_attnkernel._utils.vocabulary import ARCHITECTURE_LABELS
from sklearn_attnkernel.analysis.report.formatting import (
    architecture_label,
    format_ci,
    label_architectures,
    wide,
)


def test_format_ci():
    assert format_ci(0.1234, 0.01, 3) == "0.123 ± 0.01"
    assert format_ci(0.1234, 0.01, 3, percent=True) == "12.3% ± 1.0%"
    assert format_ci(0.5, math.nan, 1) == "0.5"  # one seed: no interval
    assert format_ci(math.nan, math.nan, 0) == "—"


def test_labels_come_from_the_vocabulary():
    assert architecture_label("attention") == ARCHITECTURE_LABELS["attention"]
    assert architecture_label("unknown") == "unknown"
    frame = label_architectures(pd.DataFrame({"architecture": ["relu", None]}))
    assert frame["architecture"].tolist()[0] == "2L-ReLU"
    assert pd.isna(frame["architecture"].iloc[1])


def test_wide_puts_the_paper_architectures_first_and_sorts_columns_numerically():
    summary = pd.DataFrame(
        {
            "architecture": ["MLP-Attn", "2L-ReLU", "MLP-Attn", "2L-ReLU"],
            "width": [16, 16, 128, 128],
            "mean": [0.5, 0.25, 0.75, 0.125],
            "ci95": [math.nan] * 4,
            "n": [1] * 4,
        }
    )
    table = wide(summary, ["architecture"], "width")
    assert table.columns.tolist() == ["architecture", "16", "128"]
    assert table["architecture"].tolist() == ["2L-ReLU", "MLP-Attn"]
    assert table["128"].tolist() == ["0.125", "0.75"]
