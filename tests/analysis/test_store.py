"""Tests for the cell store: keys, seeds, atomic writes and the detection of damaged files."""

import hashlib
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from sklearn_attnkernel.analysis.store import (
    CELL_FORMAT,
    CorruptCellError,
    atomic_write,
    cell_key,
    derive_seed,
    read_cell,
    remove_stale_temporaries,
    write_cell,
)


def test_cell_key_is_the_sha256_of_sorted_json():
    settings = {"width": 16, "architecture": "relu", "seed": 0}
    expected = hashlib.sha256(b'{"architecture":"relu","seed":0,"width":16}').hexdigest()
    assert cell_key(settings) == expected
    assert cell_key(dict(reversed(settings.items()))) == expected
    assert cell_key({**settings, "width": 17}) != expected


def test_derive_seed_depends_on_the_values_only():
    assert derive_seed("a", 1) == derive_seed("a", 1) != derive_seed("a", 2)
    digest = hashlib.sha256(b'["a",1]').digest()
    assert derive_seed("a", 1) == int.from_bytes(digest[:8], "big") % 2**31


def _record(**extra):
    settings = {"part": "kappa", "dataset": "digits", "seed": 0}
    return {
        "format": CELL_FORMAT,
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
    renamed = path.with_name("kappa-0123456789abcdef.json")
    path.rename(renamed)
    with pytest.raises(CorruptCellError, match="file name does not match"):
        read_cell(renamed)


def test_record_with_a_bad_status_is_detected(tmp_path):
    path = write_cell(tmp_path, _record(status="done"))  # a valid checksum over a bad status
    with pytest.raises(CorruptCellError, match="bad status or rows"):
        read_cell(path)


def test_atomic_write_killed_midway_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "figure.svg"
    atomic_write(path, b"<svg>old</svg>")

    def killed(fd):
        raise KeyboardInterrupt  # the process dies after writing part of the data

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, b"<svg>new, and much longer</svg>")
    monkeypatch.undo()
    assert path.read_bytes() == b"<svg>old</svg>"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.svg"]  # no temporary left behind


def test_atomic_write_is_safe_across_threads(tmp_path):
    """Threads of one process writing one file: every reader sees one whole version."""
    path = tmp_path / "results.csv"
    versions = [f"{i}\n".encode() * 2000 for i in range(8)]
    threads = [threading.Thread(target=atomic_write, args=(path, v)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert path.read_bytes() in versions
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_stale_temporaries_of_dead_writers_only_are_removed(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    gone = tmp_path / f".report.md.{int(dead.stdout)}-1.tmp"
    alive = tmp_path / f".report.md.{os.getppid()}-1.tmp"  # another process, still writing
    mine = tmp_path / f".report.md.{os.getpid()}-{threading.get_ident()}.tmp"  # this thread
    old_style = tmp_path / f".report.md.{int(dead.stdout)}.tmp"  # before the thread suffix
    for stray in (gone, alive, mine, old_style):
        stray.write_text("{")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([gone, old_style])
    assert alive.exists()
    assert mine.exists()
