"""Tests for the report of the ``complexity`` part (issue #13, item 1): the U statistic and
the sentences on hand-made rows, the tables, the figure and the report section."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_attnkernel.analysis.report import build_tables
from sklearn_attnkernel.analysis.report.blocks import report_blocks
from sklearn_attnkernel.analysis.report.complexity import (
    complexity_figures,
    complexity_sentences,
    u_shape_table,
)
from tests.analysis.report.rows import FALLING, U, complexity_rows, jitter


def test_u_statistic_against_a_hand_computation():
    shares = jitter(U)
    table = u_shape_table(complexity_rows(shares, shares))
    per_seed = [min(c[0], c[-1]) - c[1:-1].mean() for c in shares]
    mean = np.mean(per_seed)
    half = stats.t.ppf(0.975, 2) * np.std(per_seed, ddof=1) / np.sqrt(3)
    row = table.iloc[0]
    assert row["u_mean"] == pytest.approx(mean, rel=1e-12)
    assert row["u_ci95"] == pytest.approx(half, rel=1e-9)
    assert row["seeds"] == 3


def test_u_shape_there_and_flip_rate_following_it():
    shares = jitter(U)
    flips = [0.5 * c + 0.1 for c in shares]  # rises exactly with the share
    (sentence,) = complexity_sentences(complexity_rows(shares, flips))
    assert "2L-ReLU, infinite NTK" in sentence
    assert "the U shape of the complexity share is there" in sentence
    assert "concentrates where the complexity does" in sentence
    rho = stats.spearmanr(np.mean(shares, axis=0), np.mean(flips, axis=0)).statistic
    assert f"Spearman ρ = {rho:.2f}" in sentence


def test_no_u_shape_and_flip_rate_against_it():
    shares = jitter(FALLING, scale=0.002)
    flips = [1.0 - c for c in shares]
    (sentence,) = complexity_sentences(complexity_rows(shares, flips))
    assert "is not there" in sentence
    assert "highest where the complexity is lowest" in sentence


def test_undecided_and_one_seed():
    # one seed a U, one inverted, one flat: the interval of u contains 0; with one seed,
    # u = min(0.30, 0.28) − mean(0.10, 0.06, 0.04, 0.02, 0.02, 0.04, 0.06, 0.08) = 0.2275
    shares = [U, 0.2 - U, np.full(10, 0.1)]
    flips = [np.full(10, 0.2), np.full(10, 0.2), np.linspace(0, 1, 10)]
    (sentence,) = complexity_sentences(complexity_rows(shares, flips))
    assert "is undecided" in sentence
    assert "contains 0" in sentence
    (sentence,) = complexity_sentences(complexity_rows([U], [U], seeds=(0,)))
    assert "is there in the one seed (u = 0.228, no interval)" in sentence


def _results():
    frames = [
        complexity_rows(jitter(U), jitter(U), kernel=k, architecture=a)
        for k in ("empirical", "infinite")
        for a in ("relu", "attention")
    ]
    return pd.concat(frames, ignore_index=True)


def test_tables_by_group_architecture_and_kernel():
    tables = build_tables(_results())
    summary, display = tables["complexity_by_group"]
    assert set(summary["group"]) == set(range(1, 11))
    assert list(display.columns[-10:]) == [str(g) for g in range(1, 11)]
    assert len(display) == 4  # 2 kernels × 2 architectures × 1 metric (shares only here)
    assert display["architecture"].tolist()[:2] == ["2L-ReLU", "MLP-Attn"]
    flips = tables["complexity_flip_by_group"][1]
    assert flips.iloc[0, -1].endswith("%")
    shape = tables["complexity_u_shape"][1]
    assert len(shape) == 4
    assert {"U statistic", "Spearman ρ (share, flip rate)"} <= set(shape.columns)


def test_figure_has_a_line_per_architecture_and_a_column_per_kernel():
    ((section, stem, caption, fig),) = list(complexity_figures(_results()))
    assert section == "complexity"
    assert stem == "complexity_digits_multiclass_n500_m256"
    assert "PGD, ε = 0.3" in caption
    axes = fig.axes
    assert len(axes) == 4
    assert [ax.get_title() for ax in axes[:2]] == ["empirical NTK", "infinite NTK"]
    for ax in axes:
        labels = ax.get_legend_handles_labels()[1]
        assert labels == ["2L-ReLU", "MLP-Attn"]


def test_report_section_and_old_runs_without_the_part():
    results = _results()
    cells = pd.DataFrame(
        {"key": ["a"], "part": ["complexity"], "status": ["ok"], "error": [None]}
        | {"wall_time_s": [1.0], "device": ["cpu"], "versions": ["{}"], "notes": [""]}
    )
    blocks = report_blocks(Path("run"), results, cells, build_tables(results), [])
    at = blocks.index(("h2", "Complexity by influence group (part complexity)"))
    assert blocks[at + 1] == ("p", "What the measured cells say:")
    assert len(blocks[at + 2][1]) == 4
    old = results.assign(part="collapse")
    assert not any(name.startswith("complexity") for name in build_tables(old))
    assert list(complexity_figures(old)) == []
    assert complexity_sentences(old) == []
