"""Tests for run_experiment: the grid, then (unless report=False) the report of its cells."""

from sklearn_attnkernel.analysis import run_experiment

KAPPA_ONLY = {
    "run": {"seeds": [0]},
    "data": {"settings": ["binary"], "n_train": [100]},
    "kappa": {"n_train": [100]},
    "collapse": {"enabled": False},
    "ntk": {"enabled": False},
    "malleability": {"enabled": False},
    "interventions": {"enabled": False},
    "complexity": {"enabled": False},
    "examples": {"enabled": False},
}


def test_report_is_built_after_the_grid_unless_asked_not_to(tmp_path):
    summary = run_experiment(KAPPA_ONLY, tmp_path, progress=False, report=False)
    assert (summary.n_cells, summary.n_computed, summary.report) == (1, 1, None)
    assert not (tmp_path / "report.md").exists()
    summary = run_experiment(KAPPA_ONLY, tmp_path, progress=False)
    assert (summary.n_reused, summary.n_computed) == (1, 0)
    assert summary.report == tmp_path / "report.md"
    assert summary.report.is_file()
    assert (tmp_path / "results.parquet").is_file()
    assert summary.wall_time_s > 0
