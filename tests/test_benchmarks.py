"""The asv suite in ``benchmarks/`` imports and runs, at its smallest size.

Nothing here depends on speed: each benchmark class runs ``setup``, one benchmark method and
``teardown`` at its smallest parameters, and only the kind of the result is checked. When asv is
installed, ``asv check`` also discovers the suite the way ``asv run`` does.
"""

import ast
import importlib
import inspect
import math
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks

ROOT = Path(__file__).resolve().parents[1]
#: asv's prefixes of benchmark methods.
KINDS = ("time_", "timeraw_", "mem_", "peakmem_", "track_")


def benchmark_modules():
    return [
        importlib.import_module(f"benchmarks.{info.name}")
        for info in pkgutil.iter_modules(benchmarks.__path__)
    ]


def benchmark_methods(cls):
    return sorted(name for name in dir(cls) if name.startswith(KINDS))


def benchmark_classes():
    return [
        cls
        for module in benchmark_modules()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and benchmark_methods(cls)
    ]


CLASSES = benchmark_classes()


def test_every_module_has_benchmarks():
    with_benchmarks = {cls.__module__ for cls in CLASSES}
    expected = {
        "attention",
        "kappa",
        "influence",
        "ntk",
        "training",
        "malleability",
        "landscape",
        "out_of_core",
    }
    assert {name.removeprefix("benchmarks.") for name in with_benchmarks} == expected


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_parameters_and_units(cls):
    # the first parameter is the size, and "small" is its first value (`asv run -b small`)
    assert cls.param_names[0] == "size"
    assert cls.params[0][0] == "small"
    assert len(cls.params) == len(cls.param_names)
    for name in benchmark_methods(cls):
        if name.startswith("track_"):
            assert getattr(cls, name).unit in {"ratio", "fraction"}


def smallest_run(cls):
    """A track_ method (it runs the baseline and ours) when there is one, else the first."""
    methods = benchmark_methods(cls)
    tracks = [name for name in methods if name.startswith("track_")]
    return (tracks or methods)[0]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_runs_at_smallest_parameters(cls):
    params = [values[0] for values in cls.params]
    bench = cls()
    bench.setup(*params)
    try:
        result = getattr(bench, smallest_run(cls))(*params)
    finally:
        if hasattr(bench, "teardown"):
            bench.teardown(*params)
    if smallest_run(cls).startswith("track_"):
        assert isinstance(result, float)
        assert math.isfinite(result)
        assert result >= 0


def imports(path):
    """``(module, names)`` of each import statement in the file at `path`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names)


def test_imports_only_public_names():
    """Benchmarks use the package as a user would: no name or module with a leading underscore."""
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for module, names in imports(path):
            if module.split(".")[0] == "sklearn_attnkernel":
                parts = module.split(".") + names
                assert not any(part.startswith("_") for part in parts), (path.name, parts)


@pytest.mark.slow
def test_asv_check():
    pytest.importorskip("asv")
    if shutil.which("git") is None:  # pragma: no cover - asv reads the repository
        pytest.skip("asv needs git")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "asv", "check", "--python=same"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problems found" in result.stdout
