"""Tests for the report's outputs: files, markdown, self-contained HTML, rebuilds."""

import shutil

import pandas as pd
import pytest

from sklearn_attnkernel.analysis.report import build_report


def test_run_folder_outputs(report_run_dir):
    for name in ("results.parquet", "results.csv", "cells.csv", "report.md", "report.html"):
        assert (report_run_dir / name).is_file(), name
    tables = {p.name for p in (report_run_dir / "tables").iterdir()}
    assert {"table1_ntk_distance.csv", "table2_flip_rates.md", "kappa.csv", "collapse.md"} <= tables


def test_html_report_is_self_contained(report_run_dir):
    html = (report_run_dir / "report.html").read_text()
    n_figures = len(list((report_run_dir / "figures").glob("*.png")))
    assert html.count("data:image/png;base64,") == n_figures
    assert 'src="figures' not in html
    assert "<table" in html
    md = (report_run_dir / "report.md").read_text()
    assert "Our numbers beside the paper's" in md
    assert "(figures/ntk_distance_digits_binary" in md


def test_report_sections_in_order(report_run_dir):
    md = (report_run_dir / "report.md").read_text()
    sections = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert sections == [
        "Our numbers beside the paper's",
        "Condition number κ and required width",
        "Feature collapse",
        "NTK distance vs width",
        "Malleability of influence scores",
        "Malleability as a curve: ε, n and the random baseline",
        "Compute",
    ]


def test_report_rebuilds_from_cells_alone(report_run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(report_run_dir / "cells", copy / "cells")
    shutil.copy(report_run_dir / "run.json", copy / "run.json")
    build_report(copy)
    pd.testing.assert_frame_equal(
        pd.read_parquet(copy / "results.parquet"),
        pd.read_parquet(report_run_dir / "results.parquet"),
    )
    for table in (report_run_dir / "tables").glob("*.csv"):
        assert (copy / "tables" / table.name).read_text() == table.read_text()
    assert not list(copy.rglob("*.tmp"))  # atomic writes leave no temporary file


def test_not_a_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        build_report(tmp_path)
