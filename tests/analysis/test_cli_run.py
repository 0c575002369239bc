"""Tests for ``attnkernel run`` and ``attnkernel report``, including a SIGKILL midway."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from sklearn_attnkernel.analysis.cli import main
from sklearn_attnkernel.analysis.report import load_results

# 1 kappa + 2 collapse + 12 ntk cells; the ntk cells come last and take most of the time
GRID = """
[run]
seeds = [0, 1]
[data]
settings = ["binary"]
n_train = [150]
n_test = 40
[training]
stopping = "fixed"
epochs = 5
[kappa]
n_train = ["all"]
[collapse]
n_train = ["all"]
transforms = ["raw", "linear"]
[ntk]
stopping = ["fixed"]
architectures = ["relu", "attention"]
widths = [16, 32, 64]
n_train = [150]
n_eval = 30
[malleability]
enabled = false
[interventions]
enabled = false
[complexity]
enabled = false
[examples]
enabled = false
"""
N_GRID = 15


@pytest.fixture
def grid(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path


def _run(capsys, argv):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _module_command(*args):
    return [sys.executable, "-m", "sklearn_attnkernel", *map(str, args)]


def test_sigkill_midway_then_rerun_equals_an_uninterrupted_run(tmp_path, grid, capsys):
    reference = tmp_path / "reference"
    status, out, err = _run(
        capsys, ["run", "--config", str(grid), "--out", str(reference), "--no-progress"]
    )
    assert status == 0, err
    assert f"{N_GRID} cells: 0 reused, {N_GRID} computed, 0 failed" in out

    killed = tmp_path / "killed"
    command = _module_command(
        "run", "--config", grid, "--out", killed, "--no-progress", "--no-report"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    cells = killed / "cells"
    deadline = time.monotonic() + 120
    while len(list(cells.glob("*.json"))) < 5:  # κ, collapse and two ntk cells are done
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the run wrote no cell in 120 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    survivors = len(list(cells.glob("*.json")))
    assert 5 <= survivors < N_GRID

    status, out, err = _run(capsys, ["run", "--config", str(grid), "--out", str(killed)])
    assert status == 0, err
    assert f"{survivors} reused, {N_GRID - survivors} computed, 0 failed" in out
    assert not list(cells.glob(".*.tmp"))
    expected, _ = load_results(reference)
    resumed, _ = load_results(killed)
    pd.testing.assert_frame_equal(resumed, expected)
    pd.testing.assert_frame_equal(
        pd.read_parquet(killed / "results.parquet"), pd.read_parquet(reference / "results.parquet")
    )
    for table in (reference / "tables").glob("*.csv"):
        assert (killed / "tables" / table.name).read_text() == table.read_text()


def test_rerun_reuses_every_cell_and_report_rebuilds(tmp_path, grid, capsys):
    out_dir = tmp_path / "run"
    argv = ["run", "--config", str(grid), "--out", str(out_dir), "--no-progress", "--parts"]
    status, out, _ = _run(capsys, [*argv, "kappa,collapse"])
    assert status == 0
    assert "3 cells: 0 reused, 3 computed" in out
    status, out, _ = _run(capsys, [*argv, "kappa,collapse"])
    assert "3 cells: 3 reused, 0 computed" in out
    (out_dir / "report.md").unlink()
    status, out, _ = _run(capsys, ["report", str(out_dir)])
    assert status == 0
    assert (out_dir / "report.md").is_file()
    assert "report.md" in out


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[data]\ndatasets = ["imagenet"]\n', "data.datasets[0]"),
        ("[ntk]\nwidths = [0, 16]\n", "ntk.widths[0]"),
        ("[malleability]\nepsilons = [-0.3]\n", "malleability.epsilons[0]"),
        ('[malleability]\nattacks = ["pgd", "boundary"]\n', "malleability.attacks[1]"),
        ("[data]\nn_train = []\n", "data.n_train"),
        ("[ntk]\nwidth = [16]\n", "ntk.width"),
    ],
)
def test_bad_config_file_is_rejected_before_any_work(tmp_path, capsys, toml, key):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    out_dir = tmp_path / "run"
    status, out, err = _run(capsys, ["run", "--config", str(path), "--out", str(out_dir)])
    assert status == 2
    assert f"config key {key!r}" in err
    assert str(path) in err
    assert "Traceback" not in err
    assert out == ""
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--epsilons=-0.1"],
            "'malleability.epsilons[0]': must be a finite number >= 0.0, "
            "got -0.1. (set by --epsilons)",
        ),
        (["--dataset", "mnsit"], "Did you mean 'mnist'?"),
        (["--n-train", "all,1"], "'data.n_train[1]'"),
        (["--attacks", "pgd,cw"], "'malleability.attacks[1]'"),
        (["--parts", "ntk,malleabilty"], "--parts: unknown part(s) ['malleabilty']"),
        (["--workers", "2"], "--scheduler and --workers need --backend dask"),
        (["--n-jobs", "0"], "--n-jobs must be >= 1"),
        (["--seeds", "0,x"], "cannot parse '0,x'"),
    ],
)
def test_bad_flags_are_rejected_before_any_work(tmp_path, capsys, flags, message):
    out_dir = tmp_path / "run"
    argv = ["run", "--quick", "--out", str(out_dir), *flags]
    if flags == ["--workers", "2"]:
        argv += ["--backend", "joblib"]
    status, _, err = _run(capsys, argv)
    assert status == 2
    assert message in err
    assert not out_dir.exists()


def test_missing_dataset_files_are_rejected(tmp_path, capsys):
    out_dir = tmp_path / "run"
    argv = ["run", "--dataset", "mnist", "--data-root", str(tmp_path), "--out", str(out_dir)]
    status, _, err = _run(capsys, argv)
    assert status == 2
    assert "cannot load 'mnist'" in err
    assert "was not found" in err
    assert not out_dir.exists()


def test_dry_run_counts_cells(tmp_path, capsys):
    status, out, _ = _run(capsys, ["run", "--quick", "--dry-run", "--out", str(tmp_path / "q")])
    assert status == 0
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[1:]}
    assert {"kappa", "ntk", "malleability", "total"} <= set(counts)
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert not (tmp_path / "q").exists()


def test_report_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    status, _, err = _run(capsys, ["report", str(tmp_path)])
    assert status == 2
    assert "is not a run folder" in err


def test_cli_import_stays_torch_free():
    code = (
        "import sys, sklearn_attnkernel.analysis.cli; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'sklearn_attnkernel.analysis.grid' not in sys.modules; "
        "assert 'sklearn_attnkernel.analysis.config' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_entry_point_lists_run_and_report():
    done = subprocess.run(_module_command("--help"), capture_output=True, text=True, check=True)
    for command in ("run", "report", "diagnose"):
        assert command in done.stdout


def test_sweep_flags_set_the_epsilon_grid_units_and_sizes(tmp_path, capsys):
    """--epsilons, --epsilon-space and --n-train span the malleability grid."""
    argv = ["run", "--quick", "--dry-run", "--parts", "malleability", "--out", str(tmp_path)]
    _, out, _ = _run(capsys, argv)
    base = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[1:]}
    flags = ["--epsilons", "0.05", "--epsilon-space", "standardized", "--n-train", "100,200"]
    status, out, _ = _run(capsys, [*argv, *flags])
    assert status == 0
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[1:]}
    # quick: 3 ε and one size; now 1 ε and 2 sizes (multiclass 100, 200; binary 100, 200 < 268)
    assert counts["malleability"] == base["malleability"] // 3 * 2
    status, _, err = _run(capsys, [*argv, "--epsilon-space", "pixels"])
    assert status == 2
    assert "malleability.epsilon_space" in err
    assert "--epsilon-space" in err


@pytest.fixture
def small_run(tmp_path, grid, capsys):
    """A finished run of the grid's κ and collapse cells (3 cells), without its report."""
    out_dir = tmp_path / "run"
    argv = ["run", "--config", str(grid), "--out", str(out_dir), "--no-progress", "--no-report"]
    status, _, err = _run(capsys, [*argv, "--parts", "kappa,collapse"])
    assert status == 0, err
    return out_dir


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # cut short
        lambda text: "[]",
        lambda text: '{"cells": 5}',
        lambda text: text.replace('"key"', '"kee"'),
        lambda text: text.replace('"file": "', '"file": "../'),
    ],
)
def test_report_of_a_corrupt_manifest_exits_2_without_traceback(small_run, capsys, damage):
    manifest = small_run / "run.json"
    manifest.write_text(damage(manifest.read_text()))
    status, out, err = _run(capsys, ["report", str(small_run)])
    assert status == 2
    assert "run.json" in err
    assert "rerun 'attnkernel run'" in err
    assert out == ""
    assert not (small_run / "report.md").exists()


def test_report_of_an_unreadable_manifest_exits_2(small_run, capsys):
    (small_run / "run.json").write_bytes(b"\xff\xfe not utf-8")
    status, _, err = _run(capsys, ["report", str(small_run)])
    assert status == 2
    assert "is not a run manifest" in err


def test_report_exits_1_when_cells_are_corrupt_or_missing(small_run, capsys):
    status, _, err = _run(capsys, ["report", str(small_run), "--no-figures"])
    assert status == 0, err
    cells = sorted((small_run / "cells").glob("collapse-*.json"))
    cells[0].write_text(cells[0].read_text()[:50])
    status, out, err = _run(capsys, ["report", str(small_run), "--no-figures"])
    assert status == 1
    assert "1 of 3 cell(s) are not usable (1 corrupt)" in err
    assert "report.md" in out  # the report is still written, and lists the cell
    assert "corrupt" in pd.read_csv(small_run / "cells.csv")["status"].tolist()
    cells[1].unlink()
    status, _, err = _run(capsys, ["report", str(small_run), "--no-figures"])
    assert status == 1
    assert "2 of 3 cell(s) are not usable (1 corrupt, 1 missing)" in err


def test_run_with_a_folder_at_a_cell_path_exits_2(small_run, grid, capsys):
    victim = next((small_run / "cells").glob("kappa-*.json"))
    victim.unlink()
    victim.mkdir()
    argv = ["run", "--config", str(grid), "--out", str(small_run), "--no-progress"]
    status, out, err = _run(capsys, [*argv, "--parts", "kappa,collapse"])
    assert status == 2
    assert f"{victim.name} is a folder, not a cell file" in err
    assert out == ""
    assert victim.is_dir()  # a user's folder is never moved or removed


def test_run_into_a_file_exits_2(tmp_path, grid, capsys):
    target = tmp_path / "file"
    target.write_text("mine")
    argv = ["run", "--config", str(grid), "--out", str(target), "--parts", "kappa"]
    status, _, err = _run(capsys, argv)
    assert status == 2
    assert "cannot write the run folder" in err
    assert target.read_text() == "mine"
