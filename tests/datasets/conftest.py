"""Fixtures of the dataset tests."""

import pytest

from sklearn_attnkernel.datasets import files


@pytest.fixture
def synthetic_ok(monkeypatch, tmp_path):
    """Switch off the genuine-file checks (hashes, per-class counts) and system folders."""
    monkeypatch.setattr(files, "_DIGESTS", {})
    monkeypatch.setattr(files, "_LABEL_COUNTS", {})
    monkeypatch.setattr(files, "_SYSTEM_DIRS", {})
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "data_home"))
