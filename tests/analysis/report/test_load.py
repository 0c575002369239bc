"""Tests for reading a run folder: typed tidy rows, missing and corrupt cells, old folders."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.analysis.cli import main
from sklearn_attnkernel.analysis.report import build_report, load_results

#: A run folder (cells and run.json, no report) written by the code before the layering (#10).
RUN_BEFORE_LAYERS = Path(__file__).parents[1] / "data" / "run_before_layers"


def test_parquet_and_csv_hold_the_cell_rows(report_run_dir):
    results = pd.read_parquet(report_run_dir / "results.parquet")
    from_cells, _ = load_results(report_run_dir)
    pd.testing.assert_frame_equal(results, from_cells)
    csv = pd.read_csv(report_run_dir / "results.csv")
    np.testing.assert_allclose(csv["value"], results["value"].to_numpy(dtype=float))
    assert set(results["part"]) == {"kappa", "collapse", "ntk", "malleability"}
    # n_train is the size actually used, never the string "all"
    assert results["n_train"].notna().all()
    assert results["n_train"].dtype == "Int64"
    assert results["epsilon"].dtype == "float64"


def test_missing_and_corrupt_cells_are_reported_not_fatal(report_run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(report_run_dir, copy)
    files = sorted((copy / "cells").glob("ntk-*.json"))
    files[0].unlink()
    files[1].write_text("{")
    build_report(copy, figures=False)
    _, cells = load_results(copy)
    assert sorted(cells["status"].value_counts().items()) == [
        ("corrupt", 1),
        ("missing", 1),
        ("ok", len(cells) - 2),
    ]
    finished = f"{len(cells) - 2} finished, 1 corrupt, 1 missing"
    assert finished in (copy / "report.md").read_text()


def test_without_manifest_every_cell_file_is_read(report_run_dir, tmp_path):
    shutil.copytree(report_run_dir / "cells", tmp_path / "cells")
    results, cells = load_results(tmp_path)
    expected, _ = load_results(report_run_dir)
    assert (cells["status"] == "ok").all()
    assert len(results) == len(expected)


def _without_figures(text):
    return [line for line in text.splitlines() if line and not line.startswith(("![", "*"))]


@pytest.mark.slow
def test_a_run_folder_from_before_the_layers_still_reports(tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(RUN_BEFORE_LAYERS, run_dir)
    n_cells = len(json.loads((run_dir / "run.json").read_text())["cells"])

    assert main(["report", str(run_dir)]) == 0
    assert "report.md" in capsys.readouterr().out
    for name in ("report.md", "report.html", "results.parquet", "results.csv", "cells.csv"):
        assert (run_dir / name).is_file(), name
    results, cells = load_results(run_dir)
    assert len(cells) == n_cells
    assert (cells["status"] == "ok").all(), cells["status"].value_counts()
    assert set(results["part"]) == {"kappa", "collapse", "ntk", "malleability"}
    text = (run_dir / "report.md").read_text()
    assert f"{n_cells} cells in the grid: {n_cells} finished." in text

    # build_report itself: the same report, less the figures
    rebuilt = build_report(run_dir, figures=False).read_text()
    assert _without_figures(rebuilt) == _without_figures(text)
    assert "![" in text
    assert "![" not in rebuilt
