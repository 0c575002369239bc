"""Tests for the experiment grid: config validation, cell files, resume and executors.

The grid is tiny (digits, a few cells, width ≤ 64, ≤ 3 epochs, n ≤ 150) so the whole file runs
in well under a minute on one core. Results are compared exactly (bit for bit): every cell is
seeded from its settings and runs single-threaded, so the executor must not matter.
"""

import concurrent.futures
import json
import os

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.analysis import experiments
from sklearn_attnkernel.analysis.experiments import (
    ConfigError,
    CorruptCellError,
    cell_key,
    derive_seed,
    load_config,
    read_cell,
    run_experiment,
    write_cell,
)
from sklearn_attnkernel.analysis.report import load_results

# 2 kappa + 4 collapse + 4 ntk + 4 malleability (2 tasks) = 14 cells
TINY = {
    "run": {"seeds": [0, 1]},
    "data": {"settings": ["binary"], "n_train": [120], "n_test": 40},
    "training": {"epochs": 3, "lr": 0.01},
    "collapse": {"transforms": ["raw", "linear"], "n_train": [120]},
    "kappa": {"n_train": [120]},
    "ntk": {
        "architectures": ["relu", "attention"],
        "widths": [16, 64],
        "seeds": [0],
        "n_train": [80],
        "n_eval": 30,
    },
    "malleability": {
        "architectures": ["relu", "attention"],
        "widths": [32],
        "seeds": [0],
        "attacks": ["fgsm", "random"],
        "epsilons": [0.1],
        "steps": 2,
        "adversarial_training": [False],
    },
    "interventions": {"enabled": False},
}
N_TINY = 14


def _results(out):
    results, _ = load_results(out)
    return results


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted sequential run of the tiny grid."""
    out = tmp_path_factory.mktemp("reference")
    summary = run_experiment(TINY, out, progress=False, report=False)
    assert (summary.n_cells, summary.n_computed, summary.n_failed) == (N_TINY, N_TINY, 0)
    return out


# ------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"data": {"datasets": ["mnsit"]}}, "data.datasets[0]"),
        ({"ntk": {"widths": [16, 0]}}, "ntk.widths[1]"),
        ({"malleability": {"widths": [0]}}, "malleability.widths[0]"),
        ({"malleability": {"epsilons": [0.1, -0.3]}}, "malleability.epsilons[1]"),
        ({"malleability": {"attacks": ["pgd", "cw"]}}, "malleability.attacks[1]"),
        ({"data": {"n_train": []}}, "data.n_train"),
        ({"ntk": {"n_train": []}}, "ntk.n_train"),
        ({"data": {"n_train": [1]}}, "data.n_train[0]"),
        ({"run": {"seeds": [0, 0]}}, "run.seeds"),
        ({"run": {"seeds": [True]}}, "run.seeds[0]"),
        ({"ntk": {"widht": [16]}}, "ntk.widht"),
        ({"training": {"lr": 0}}, "training.lr"),
        ({"ntk": {"training": {"epochs": 0}}}, "ntk.training.epochs"),
        ({"malleability": {"top_fraction": 1.5}}, "malleability.top_fraction"),
        (
            {"malleability": {"adversarial": {"method": "random"}}},
            "malleability.adversarial.method",
        ),
        ({"interventions": {"kinds": ["cured"]}}, "interventions.kinds[0]"),
        ({"kappa": {"rank": "most"}}, "kappa.rank"),
        ({"run": {"device": "gpu"}}, "run.device"),
        ({"malleability": {"epsilons": 0.3}}, "malleability.epsilons"),
    ],
)
def test_bad_config_names_the_key(config, key):
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == key
    assert repr(key) in str(info.value)


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match="Did you mean 'widths'"):
        load_config({"ntk": {"widht": [16]}})


def test_every_part_disabled_is_rejected():
    parts = {part: {"enabled": False} for part in experiments.PARTS}
    with pytest.raises(ConfigError, match="every part is disabled"):
        load_config(parts)


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
def test_bad_config_is_rejected_before_any_work(tmp_path, bad):
    out = tmp_path / "run"
    with pytest.raises(ConfigError):
        run_experiment({**TINY, **bad}, out, progress=False)
    assert not out.exists()


def test_missing_data_is_rejected_before_any_work(tmp_path):
    out = tmp_path / "run"
    config = {**TINY, "data": {**TINY["data"], "datasets": ["mnist"], "root": str(tmp_path)}}
    with pytest.raises(ConfigError, match="cannot load 'mnist'") as info:
        run_experiment(config, out, progress=False)
    assert info.value.key == "data.datasets"
    assert not out.exists()


def test_toml_file_and_overrides(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        "[run]\nseeds = [3]\n[ntk]\nwidths = [8, 32]\n[malleability]\nepsilons = [0.05]\n"
        'adversarial = { method = "fgsm", epsilon = 0.1 }\n'
    )
    config = load_config(path, overrides={"malleability.epsilons": [0.2, 0.4]})
    assert config["run"]["seeds"] == [3]
    assert config["ntk"]["widths"] == [8, 32]
    assert config["malleability"]["epsilons"] == [0.2, 0.4]
    assert config["malleability"]["adversarial"] == {"method": "fgsm", "epsilon": 0.1, "steps": 10}
    bad = tmp_path / "bad.toml"
    bad.write_text("[ntk\nwidths = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize("name", ["quick.toml", "digits.toml", "mnist-test-split.toml"])
def test_example_configs_are_valid(name):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "configs", name)
    config = load_config(path)
    assert config.to_dict() == load_config(config.to_dict()).to_dict()


def test_quick_example_is_the_quick_preset():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "configs", "quick.toml")
    from_file = [c.key for c in load_config(path).cells()]
    preset = [c.key for c in load_config(quick=True).cells()]
    assert from_file == preset
    parts = {c.part for c in load_config(quick=True).cells()}
    assert {"kappa", "ntk", "malleability"} <= parts


def test_epsilon_and_n_grids_are_axes():
    config = load_config(
        {
            **TINY,
            "data": {**TINY["data"], "n_train": [60, 120]},
            "malleability": {**TINY["malleability"], "epsilons": [0.0, 0.1, 0.3]},
        }
    )
    cells = [c for c in config.cells() if c.part == "malleability"]
    grid = {(c.settings["n_train"], c.settings["epsilon"]) for c in cells}
    assert grid == {(n, e) for n in (60, 120) for e in (0.0, 0.1, 0.3)}
    # 2 n × 2 architectures share one fit per (n, architecture): 4 tasks for 24 cells
    assert len(experiments._tasks(cells)) == 4
    assert len(cells) == 2 * 2 * 2 * 3


def test_n_train_beyond_the_split_becomes_all():
    config = load_config({**TINY, "data": {**TINY["data"], "n_train": [100, 5000, "all"]}})
    sizes = {c.settings["n_train"] for c in config.cells() if c.part == "malleability"}
    assert sizes == {100, "all"}  # 5000 > the 268 binary digits: the same cells as "all"


# -------------------------------------------------------------------------- keys, seeds
def test_cell_key_is_the_sha256_of_sorted_json():
    import hashlib

    settings = {"width": 16, "architecture": "relu", "seed": 0}
    expected = hashlib.sha256(b'{"architecture":"relu","seed":0,"width":16}').hexdigest()
    assert cell_key(settings) == expected
    assert cell_key(dict(reversed(settings.items()))) == expected
    assert cell_key({**settings, "width": 17}) != expected


def test_seeds_come_from_settings_not_order():
    config = load_config(TINY)
    cells = config.cells()
    shuffled = load_config(
        {**TINY, "malleability": {**TINY["malleability"], "architectures": ["attention", "relu"]}}
    ).cells()
    assert {c.key for c in cells} == {c.key for c in shuffled}
    assert derive_seed("a", 1) == derive_seed("a", 1) != derive_seed("a", 2)
    # both architectures train on the same subset and see the same random draws
    relu, attn = (
        next(
            c.settings
            for c in cells
            if c.part == "malleability" and c.settings["architecture"] == arch
        )
        for arch in ("relu", "attention")
    )
    a, b = experiments._cell_data(relu, None), experiments._cell_data(attn, None)
    np.testing.assert_array_equal(a["X"], b["X"])
    np.testing.assert_array_equal(a["X_test"], b["X_test"])
    seed = experiments._attack_seed
    assert seed(relu, "random", 0.1) == seed(attn, "random", 0.1)


def test_train_and_test_from_one_split_are_disjoint():
    config = load_config(
        {**TINY, "data": {**TINY["data"], "train_split": "all", "test_split": "all"}}
    )
    cell = next(c for c in config.cells() if c.part == "malleability")
    data = experiments._cell_data(cell.settings, None)
    train = {row.tobytes() for row in data["X"]}
    assert len(data["X"]) == 120
    assert len(data["X_test"]) == 40
    assert not train & {row.tobytes() for row in data["X_test"]}


# ---------------------------------------------------------------------------- cell files
def _record(**extra):
    settings = {"part": "kappa", "dataset": "digits", "seed": 0}
    return {
        "format": experiments.CELL_FORMAT,
        "key": cell_key(settings),
        "part": "kappa",
        "settings": settings,
        "status": "ok",
        "rows": [{"metric": "kappa", "value": 2.5}, {"metric": "nan", "value": float("nan")}],
        "info": {},
        "seeds": {"replicate": 0},
        "versions": {"numpy": np.__version__},
        "device": "cpu",
        "wall_time_s": 0.1,
        **extra,
    }


def test_write_then_read_round_trips(tmp_path):
    path = write_cell(tmp_path, _record())
    record = read_cell(path)
    assert record["rows"][0] == {"metric": "kappa", "value": 2.5}
    assert record["rows"][1]["value"] is None  # non-finite numbers are stored as null
    assert path.name == f"kappa-{record['key'][:16]}.json"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace("2.5", "2.6"), "checksum"),
        (lambda text: text.replace('"seed": 0', '"seed": 1'), "key does not match"),
        (lambda text: text.replace('"wall_time_s"', '"wall_time"'), "missing field"),
        (lambda text: "[]", "not a JSON object"),
        (lambda text: text.replace('"format": 1', '"format": 0'), "format"),
    ],
)
def test_damaged_cell_files_are_detected(tmp_path, damage, match):
    path = write_cell(tmp_path, _record())
    path.write_text(damage(path.read_text()))
    with pytest.raises(CorruptCellError, match=match):
        read_cell(path)


def test_cell_under_another_name_is_detected(tmp_path):
    path = write_cell(tmp_path, _record())
    with pytest.raises(CorruptCellError, match="holds cell"):
        read_cell(path, expected_key="0" * 64)


# -------------------------------------------------------------------------------- running
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
    assert {row["metric"] for row in record["rows"]} == {"frobenius", "cosine", "function"}


def test_rerun_skips_finished_cells(reference):
    before = {p.name: p.stat().st_mtime_ns for p in (reference / "cells").iterdir()}
    summary = run_experiment(TINY, reference, progress=False, report=False)
    assert (summary.n_reused, summary.n_computed, summary.n_corrupt) == (N_TINY, 0, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (reference / "cells").iterdir()} == before


def test_same_seed_gives_identical_results(reference, tmp_path):
    run_experiment(TINY, tmp_path, progress=False, report=False)
    pd.testing.assert_frame_equal(_results(tmp_path), _results(reference))


def test_other_seeds_give_other_results(reference, tmp_path):
    config = {**TINY, "run": {"seeds": [5, 6]}, "ntk": {**TINY["ntk"], "seeds": [5]}}
    run_experiment(config, tmp_path, progress=False, report=False)
    ours = _results(tmp_path)
    theirs = _results(reference)
    ntk = (ours["part"] == "ntk") & (ours["stage"] == "trained")
    assert not np.allclose(ours.loc[ntk, "value"], theirs.loc[ntk, "value"])


def test_corrupt_cell_file_is_recomputed(reference, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    victims = sorted((out / "cells").glob("ntk-*.json"))[:2]
    victims[0].write_text(victims[0].read_text()[:100])  # truncated: a partial write
    victims[1].write_text(victims[1].read_text().replace('"value": 0', '"value": 9'))
    summary = run_experiment(TINY, out, progress=False, report=False)
    assert (summary.n_corrupt, summary.n_computed, summary.n_reused) == (2, 2, N_TINY - 2)
    assert sorted(p.name for p in (out / "cells").glob("*.corrupt")) == sorted(
        f"{v.name}.corrupt" for v in victims
    )
    pd.testing.assert_frame_equal(_results(out), _results(reference))


def test_temporary_files_of_dead_writers_are_removed(reference, tmp_path):
    import shutil
    import subprocess
    import sys

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
    run_experiment(TINY, out, progress=False, report=False)
    assert not gone.exists()
    assert alive.exists()


def test_failed_cell_is_recorded_and_retried(tmp_path, monkeypatch):
    config = {**TINY, "ntk": {"enabled": False}, "malleability": {"enabled": False}}

    def broken(cells, ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(experiments._RUNNERS, "kappa", broken)
    summary = run_experiment(config, tmp_path, progress=False, report=False)
    assert (summary.n_failed, summary.n_computed) == (2, 6)
    record = read_cell(next((tmp_path / "cells").glob("kappa-*.json")))
    assert (record["status"], record["error"]) == ("error", "RuntimeError: boom")
    monkeypatch.undo()
    summary = run_experiment(config, tmp_path, progress=False, report=False)
    assert (summary.n_failed, summary.n_computed, summary.n_reused) == (0, 2, 4)


def test_undefined_cosine_distance_is_nan_not_a_failed_cell(tmp_path, monkeypatch):
    """A zero empirical NTK (every unit dead) leaves that metric NaN; the rest is measured."""
    from sklearn_attnkernel.ntk import metrics as ntk_metrics

    real = ntk_metrics.ntk_width_sweep

    def dead_after_training(architecture, X, y, **kwargs):
        if "cosine" in kwargs["metrics"] and "trained" in kwargs["stages"]:
            raise ntk_metrics.ZeroKernelError(
                "K_m is all zeros, so the cosine distance is undefined."
            )
        return real(architecture, X, y, **kwargs)

    monkeypatch.setattr(ntk_metrics, "ntk_width_sweep", dead_after_training)
    config = {**TINY, "ntk": {**TINY["ntk"], "widths": [16], "architectures": ["relu"]}}
    config = {**config, "malleability": {"enabled": False}, "kappa": {"enabled": False}}
    config = {**config, "collapse": {"enabled": False}}
    summary = run_experiment(config, tmp_path, progress=False, report=False)
    assert summary.n_failed == 0
    record = read_cell(next((tmp_path / "cells").glob("ntk-*.json")))
    values = {(r["stage"], r["metric"]): r["value"] for r in record["rows"]}
    assert len(values) == 6
    assert values[("trained", "cosine")] is None  # NaN, stored as null
    assert values[("init", "cosine")] > 0
    assert values[("trained", "frobenius")] > 0
    assert "trained: cosine distance undefined" in record["notes"][0]


@pytest.mark.slow
def test_joblib_gives_identical_results(reference, tmp_path):
    run_experiment(TINY, tmp_path, backend="joblib", n_jobs=2, progress=False, report=False)
    pd.testing.assert_frame_equal(_results(tmp_path), _results(reference))


def test_any_executor_gives_identical_results(reference, tmp_path):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as executor:
        run_experiment(
            TINY, tmp_path, backend="executor", executor=executor, progress=False, report=False
        )
    pd.testing.assert_frame_equal(_results(tmp_path), _results(reference))


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_results(reference, tmp_path):
    pytest.importorskip("distributed")
    summary = run_experiment(
        TINY,
        tmp_path,
        backend="dask",
        workers=2,
        dask_options={"processes": False},
        progress=False,
        report=False,
    )
    assert summary.n_computed == N_TINY
    pd.testing.assert_frame_equal(_results(tmp_path), _results(reference))


def test_bad_backend_arguments(tmp_path):
    with pytest.raises(ValueError, match="backend must be one of"):
        run_experiment(TINY, tmp_path, backend="spark")
    with pytest.raises(ValueError, match=r"needs a concurrent\.futures\.Executor"):
        run_experiment(TINY, tmp_path, backend="executor")


def test_manifest_lists_the_grid(reference):
    manifest = json.loads((reference / "run.json").read_text())
    assert len(manifest["cells"]) == N_TINY
    assert manifest["config"] == load_config(TINY).to_dict()
    for entry in manifest["cells"]:
        assert (reference / "cells" / entry["file"]).is_file()
