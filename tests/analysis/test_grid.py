"""Tests for running a grid: cell records, resume, corrupt files, failures and executors.

The grid is tiny (``tiny_grid`` of ``tests/conftest.py``: 14 cells) so the whole file runs in
well under a minute on one core. Results are compared exactly (bit for bit): every cell is
seeded from its settings and runs single-threaded, so the executor must not matter.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import threading
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.analysis import parts
from sklearn_attnkernel.analysis.config import ConfigError, load_config
from sklearn_attnkernel.analysis.grid import run_grid
from sklearn_attnkernel.analysis.report import load_results
from sklearn_attnkernel.analysis.store import cell_key, derive_seed, read_cell

N_TINY = 14


def _results(out):
    results, _ = load_results(out)
    return results


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_grid):
    """An uninterrupted sequential run of the tiny grid."""
    out = tmp_path_factory.mktemp("reference")
    summary = run_grid(tiny_grid, out, progress=False)
    assert (summary.n_cells, summary.n_computed, summary.n_failed) == (N_TINY, N_TINY, 0)
    assert summary.report is None
    return out


@pytest.mark.parametrize(
    "bad",
    [
        {"data": {"datasets": ["imagenet"]}},
        {"ntk": {"widths": [0]}},
        {"malleability": {"epsilons": [-0.1]}},
        {"malleability": {"attacks": ["deepfool"]}},
        {"data": {"n_train": []}},
    ],
)
def test_bad_config_is_rejected_before_any_work(tmp_path, tiny_grid, bad):
    out = tmp_path / "run"
    with pytest.raises(ConfigError):
        run_grid({**tiny_grid, **bad}, out, progress=False)
    assert not out.exists()


def test_missing_data_is_rejected_before_any_work(tmp_path, tiny_grid):
    out = tmp_path / "run"
    data = {**tiny_grid["data"], "datasets": ["mnist"], "root": str(tmp_path)}
    with pytest.raises(ConfigError, match="cannot load 'mnist'") as info:
        run_grid({**tiny_grid, "data": data}, out, progress=False)
    assert info.value.key == "data.datasets"
    assert not out.exists()


def test_cell_records_versions_seed_device_and_time(reference):
    files = sorted((reference / "cells").glob("ntk-*.json"))
    assert len(files) == 4
    record = read_cell(files[0])
    assert record["status"] == "ok"
    assert record["device"] == "cpu"
    assert record["wall_time_s"] > 0
    assert record["seeds"]["replicate"] == 0
    assert record["seeds"]["model"] == derive_seed("model", 0)
    assert {"sklearn_attnkernel", "numpy", "torch", "sklearn"} <= set(record["versions"])
    assert {row["stage"] for row in record["rows"]} == {"init", "trained"}
    distances = {"frobenius", "cosine", "function"}
    fit = {"train_score", "eval_score", "train_loss"}  # the trained network's fit (#12)
    fit |= {"epochs_used", "converged"}  # and how its training ended (#13)
    assert {row["metric"] for row in record["rows"]} == distances | fit


def test_rerun_skips_finished_cells(reference, tiny_grid):
    before = {p.name: p.stat().st_mtime_ns for p in (reference / "cells").iterdir()}
    summary = run_grid(tiny_grid, reference, progress=False)
    assert (summary.n_reused, summary.n_computed, summary.n_corrupt) == (N_TINY, 0, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (reference / "cells").iterdir()} == before


def test_same_seed_gives_identical_results(reference, tiny_grid, tmp_path):
    run_grid(tiny_grid, tmp_path, progress=False)
    pd.testing.assert_frame_equal(_results(tmp_path), _results(reference))


def test_other_seeds_give_other_results(reference, tiny_grid, tmp_path):
    config = {**tiny_grid, "run": {"seeds": [5, 6]}, "ntk": {**tiny_grid["ntk"], "seeds": [5]}}
    run_grid(config, tmp_path, progress=False)
    ours = _results(tmp_path)
    theirs = _results(reference)
    ntk = (ours["part"] == "ntk") & (ours["stage"] == "trained")
    assert not np.allclose(ours.loc[ntk, "value"], theirs.loc[ntk, "value"])


def test_corrupt_cell_file_is_recomputed(reference, tiny_grid, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    victims = sorted((out / "cells").glob("ntk-*.json"))[:2]
    victims[0].write_text(victims[0].read_text()[:100])  # truncated: a partial write
    victims[1].write_text(victims[1].read_text().replace('"value": 0', '"value": 9'))
    summary = run_grid(tiny_grid, out, progress=False)
    assert (summary.n_corrupt, summary.n_computed, summary.n_reused) == (2, 2, N_TINY - 2)
    assert sorted(p.name for p in (out / "cells").glob("*.corrupt")) == sorted(
        f"{v.name}.corrupt" for v in victims
    )
    pd.testing.assert_frame_equal(_results(out), _results(reference))


def test_temporary_files_of_dead_writers_are_removed(reference, tiny_grid, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    gone = out / "cells" / f".ntk-0123.json.{int(dead.stdout)}.tmp"
    alive = out / "cells" / f".ntk-4567.json.{os.getppid()}.tmp"  # another run, still writing
    gone.write_text("{")
    alive.write_text("{")
    run_grid(tiny_grid, out, progress=False)
    assert not gone.exists()
    assert alive.exists()


def test_failed_cell_is_recorded_and_retried(tmp_path, tiny_grid, monkeypatch):
    config = {**tiny_grid, "ntk": {"enabled": False}, "malleability": {"enabled": False}}

    def broken(cells, ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(parts.RUNNERS, "kappa", broken)
    summary = run_grid(config, tmp_path, progress=False)
    assert (summary.n_failed, summary.n_computed) == (2, 6)
    record = read_cell(next((tmp_path / "cells").glob("kappa-*.json")))
    assert (record["status"], record["error"]) == ("error", "RuntimeError: boom")
    summary = run_grid(config, tmp_path, progress=False, retry_failed=False)
    assert (summary.n_failed, summary.n_computed, summary.n_reused) == (2, 0, 6)
    monkeypatch.undo()
    summary = run_grid(config, tmp_path, progress=False)
    assert (summary.n_failed, summary.n_computed, summary.n_reused) == (0, 2, 4)


@pytest.mark.slow
def test_joblib_gives_identical_results(reference, tiny_grid, tmp_path):
    run_grid(tiny_grid, tmp_path, backend="joblib", n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(_results(tmp_path), _results(reference))


def test_any_executor_gives_identical_results(reference, tiny_grid, tmp_path):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as executor:
        run_grid(tiny_grid, tmp_path, backend="executor", executor=executor, progress=False)
    pd.testing.assert_frame_equal(_results(tmp_path), _results(reference))


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_results(reference, tiny_grid, tmp_path):
    pytest.importorskip("distributed")
    summary = run_grid(
        tiny_grid,
        tmp_path,
        backend="dask",
        workers=2,
        dask_options={"processes": False},
        progress=False,
    )
    assert summary.n_computed == N_TINY
    pd.testing.assert_frame_equal(_results(tmp_path), _results(reference))


def test_bad_backend_arguments(tmp_path, tiny_grid):
    with pytest.raises(ValueError, match="backend must be one of"):
        run_grid(tiny_grid, tmp_path, backend="spark")
    with pytest.raises(ValueError, match=r"needs a concurrent\.futures\.Executor"):
        run_grid(tiny_grid, tmp_path, backend="executor")


def test_manifest_lists_the_grid(reference, tiny_grid):
    manifest = json.loads((reference / "run.json").read_text())
    assert len(manifest["cells"]) == N_TINY
    assert manifest["config"] == load_config(tiny_grid).to_dict()
    for entry in manifest["cells"]:
        assert (reference / "cells" / entry["file"]).is_file()


def test_the_grid_does_not_import_the_report():
    code = (
        "import sys, sklearn_attnkernel.analysis.grid; "
        "assert 'sklearn_attnkernel.analysis.report' not in sys.modules; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


class _CountingRunners:
    """Wrap the part runners: count each cell's computations; optionally hold one task back.

    The first task that thread ``hold`` computes waits until ``release`` is set (or ``at`` cells
    have been computed in all). Nothing depends on timing: the events order the runs.
    """

    def __init__(self, monkeypatch, part_names, hold=None, at=None):
        self.calls = Counter()
        self.started, self.release = threading.Event(), threading.Event()
        self.hold, self.at, self._lock = hold, at, threading.Lock()
        for name in part_names:
            monkeypatch.setitem(parts.RUNNERS, name, self._wrap(parts.RUNNERS[name]))

    def _wrap(self, runner):
        def counted(cell_settings, context):
            with self._lock:
                self.calls.update(cell_key(s) for s in cell_settings)
                if self.at is not None and sum(self.calls.values()) >= self.at:
                    self.release.set()
                holding = threading.current_thread().name == self.hold
                if holding:
                    self.hold = None
            if holding:
                self.started.set()
                assert self.release.wait(timeout=300), "the other run never finished its cells"
            return runner(cell_settings, context)

        return counted


def _in_thread(name, target, *args, **kwargs):
    box = {}

    def run():
        box["result"] = target(*args, **kwargs)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread, box


_NUMPY_GRID = {"ntk": {"enabled": False}, "malleability": {"enabled": False}}


def test_two_runs_on_one_folder_compute_each_cell_once(tmp_path, tiny_grid, monkeypatch):
    """Run A holds its first task; run B starts meanwhile. B skips A's task, computes the
    rest, waits for A and reuses what A wrote; A then finds the rest done by B."""
    from threadpoolctl import threadpool_limits

    config = {**tiny_grid, **_NUMPY_GRID}
    n_cells = len(load_config(config).cells())
    counting = _CountingRunners(monkeypatch, ["kappa", "collapse"], hold="A", at=n_cells)
    limits = threadpool_limits(limits=None)  # the runs set BLAS threads; restore them after
    try:
        a, a_box = _in_thread("A", run_grid, config, tmp_path, progress=False)
        assert counting.started.wait(timeout=300)
        b, b_box = _in_thread("B", run_grid, config, tmp_path, progress=False)
        for thread in (a, b):
            thread.join(timeout=600)
            assert not thread.is_alive()
    finally:
        limits.restore_original_limits()
    keys = {cell.key for cell in load_config(config).cells()}
    assert set(counting.calls) == keys
    assert max(counting.calls.values()) == 1, counting.calls
    first, second = a_box["result"], b_box["result"]
    assert first.n_computed + second.n_computed == n_cells
    assert 0 < first.n_computed < n_cells
    for summary in (first, second):
        assert (summary.n_reused + summary.n_computed, summary.n_failed) == (n_cells, 0)
    _, cells = load_results(tmp_path)
    assert list(cells["status"]) == ["ok"] * n_cells


def test_a_task_left_undone_by_another_run_is_computed_after_waiting(
    tmp_path, tiny_grid, monkeypatch
):
    """Another run holds a task's lock and then dies without writing: this run computes
    everything else, waits for the lock, and then computes that task itself."""
    from filelock import FileLock

    from sklearn_attnkernel.analysis.grid import group_tasks

    config = {**tiny_grid, **_NUMPY_GRID}
    cells = load_config(config).cells()
    part, held_cells = group_tasks(cells)[0]
    lock = FileLock(tmp_path / "cells" / f".{part}-{held_cells[0].group_key[:16]}.lock")
    (tmp_path / "cells").mkdir(parents=True)
    lock.acquire()
    counting = _CountingRunners(monkeypatch, ["kappa", "collapse"], at=len(cells) - len(held_cells))
    run, box = _in_thread("run", run_grid, config, tmp_path, progress=False)
    assert counting.release.wait(timeout=300)  # the run computed every other cell
    assert not any(counting.calls[c.key] for c in held_cells)
    lock.release()  # the other run is gone
    run.join(timeout=600)
    assert not run.is_alive()
    assert (box["result"].n_computed, box["result"].n_failed) == (len(cells), 0)
    assert set(counting.calls) == {c.key for c in cells}
    assert max(counting.calls.values()) == 1
