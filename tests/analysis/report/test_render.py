"""Tests for the report's outputs: files, markdown, self-contained HTML, rebuilds."""

import os
import shutil

import pandas as pd
import pytest

from sklearn_attnkernel.analysis.report import build_report, write_report


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
    assert "Verdicts on the paper's claims" in md
    assert "(figures/ntk_distance_digits_binary" in md


def test_report_sections_in_order(report_run_dir):
    md = (report_run_dir / "report.md").read_text()
    sections = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert sections == [
        "Verdicts on the paper's claims",
        "Networks",
        "Condition number κ and sufficient width (part kappa)",
        "Feature collapse (part collapse)",
        "NTK distance vs width (part ntk)",
        "Malleability of influence scores (part malleability)",
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


def test_every_output_is_written_atomically(report_run_dir, tmp_path, monkeypatch):
    """Each output file is renamed into place (os.replace), never written where it lies."""
    copy = tmp_path / "copy"
    shutil.copytree(report_run_dir / "cells", copy / "cells")
    shutil.copy(report_run_dir / "run.json", copy / "run.json")
    renamed = []
    real_replace = os.replace

    def recording_replace(src, dst):
        renamed.append(os.path.relpath(dst, copy))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    outcome = write_report(copy)
    monkeypatch.undo()
    outputs = {
        os.path.relpath(path, copy)
        for path in copy.rglob("*")
        if path.is_file() and path.parent.name != "cells" and path.name != "run.json"
    }
    assert {"report.md", "report.html", "results.csv", "cells.csv"} <= outputs
    assert any(name.endswith(".svg") for name in outputs)
    assert outputs == set(renamed)
    assert not list(copy.rglob(".*.tmp"))
    assert outcome.n_incomplete == 0


def test_a_report_killed_while_drawing_leaves_whole_figures(report_run_dir, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    copy = tmp_path / "copy"
    shutil.copytree(report_run_dir, copy)
    before = {p.name: p.read_bytes() for p in (copy / "figures").iterdir()}

    def killed_midway(self, fname, **kwargs):
        target = fname if hasattr(fname, "write") else open(fname, "wb")  # noqa: SIM115
        target.write(b"<svg truncated")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        build_report(copy)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in (copy / "figures").iterdir()}
    assert after == before
