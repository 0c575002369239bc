"""Tests for the report's blocks: the verdict screen, the networks section, the sections."""

import itertools
from pathlib import Path

import pandas as pd
import pytest

from sklearn_attnkernel.analysis.report import build_tables
from sklearn_attnkernel.analysis.report.blocks import LONG_TABLE, report_blocks
from tests.analysis.report.test_networks import _cells

_CELLS = pd.DataFrame(
    {
        "key": ["a"],
        "part": ["malleability"],
        "status": ["ok"],
        "error": [None],
        "wall_time_s": [1.0],
        "device": ["cpu"],
        "versions": ["{}"],
        "notes": [""],
    }
)


def _results():
    """Malleability cells with a ratio curve over 7 ε (a long table) and one network near
    chance, plus a κ cell with the bound of the matrix-exponential model."""
    frames = []
    for i, epsilon in enumerate([0.01 * k for k in range(1, 8)]):
        frame = _cells().assign(epsilon=epsilon, epsilon_space="pixel")
        frame.loc[frame["metric"] == "flip_rate", "value"] = [0.05, 0.06, 0.055, 0.3, 0.35, 0.9]
        frames.append(frame.assign(value=frame["value"] + 0.001 * i))
    kappa = pd.DataFrame(
        {
            "part": "kappa",
            "dataset": "digits",
            "setting": "multiclass",
            "n_train": 500,
            "metric": ["rank", "log10_kappa", "log10_softmax_bound"],
            "value": [40.0, 3.0, 9.9],
        }
    )
    return pd.concat([*frames, kappa], ignore_index=True)


_FIGURES = [("sensitivity", "ratio.png", "ratio"), ("malleability", "flips.png", "flips")]


@pytest.fixture(scope="module")
def blocks():
    """The report's blocks of :func:`_results`, with two (unread) figures."""
    results = _results()
    return report_blocks(Path("run"), results, _CELLS, build_tables(results), _FIGURES)


def test_the_verdict_table_comes_right_after_the_summary(blocks):
    assert [b[0] for b in blocks[:2]] == ["h1", "p"]
    assert blocks[2] == ("h2", "Verdicts on the paper's claims")
    kind, frame, options = blocks[3]
    assert kind == "table"
    assert options == {"id": "verdicts"}
    assert list(frame.columns) == ["claim", "ours [95 % CI]", "paper", "verdict", "statistic"]
    # the near-chance network (MLP-Attn seed 2, flip rate 0.9) is out of every ratio
    first = (0.3 + 0.35) / 2 / ((0.05 + 0.06) / 2)
    curve = frame.loc[frame["claim"].str.startswith("MLP-Attn more"), "ours [95 % CI]"].item()
    assert curve.startswith(f"ε = 0.01: {first:.1f}×")
    texts = " ".join(b[1] for b in blocks if b[0] == "p")
    assert "left out of the verdicts" in texts


def test_the_networks_section_has_settings_and_fit(blocks):
    start = blocks.index(("h2", "Networks"))
    section = blocks[start : start + 8]
    tables = [b[1] for b in section if b[0] == "table"]
    settings, fit = tables[:2]
    assert settings["epochs (fixed)"].tolist() == ["60"]
    assert settings["stopping rule"].tolist() == ["fixed"]  # cells made before the rule
    assert {"train accuracy (%)", "test accuracy (%)", "final training loss"} <= set(fit)
    assert {"converged (seeds)", "near chance (seeds)", "width m"} <= set(fit)


def test_tables_using_near_chance_networks_flag_them_and_long_tables_collapse(blocks):
    tables = {}
    for title, block in itertools.pairwise(blocks):
        if title[0] == "h3" and block[0] == "table":
            tables[title[1]] = block
    flips = tables["Table 2 — influence flip rates by attack (random ±ε = baseline)"]
    assert "near chance" in flips[1]
    assert "1 of 3 networks" in set(flips[1]["near chance"])
    assert len(flips[1]) > LONG_TABLE
    assert flips[2] == {"collapse": True}
    kappa = tables["κ and the sufficient width for the NTK regime"]
    assert len(kappa) == 2  # short: not collapsed, no options
    assert "log10 bound of the matrix-exponential model" in kappa[1]


def test_columns_are_in_words_and_figures_come_first(blocks):
    raw = {"n_train", "epsilon", "epsilon_space", "width", "adversarial_training", "log10_kappa"}
    for block in blocks:
        if block[0] == "table":
            assert not raw & set(block[1].columns), block[1].columns
    start = blocks.index(("h2", "Malleability of influence scores (part malleability)"))
    kinds = [b[0] for b in blocks[start + 1 :]]
    assert kinds[:2] == ["figure", "figure"]
    assert kinds.index("table") > 2


def test_the_plain_word_findings_leave_near_chance_networks_out(blocks):
    texts = [b[1] for b in blocks if b[0] == "p"]
    intro = "What the measured cells say, in plain words (1 network(s) near chance left out):"
    assert intro in texts


def test_the_verdicts_say_whether_training_to_convergence_changes_the_ntk_verdict():
    from tests.analysis.report.rows import ntk_rows

    results = pd.concat(
        [
            ntk_rows({"relu": -0.5, "attention": 0.3}, "convergence"),
            ntk_rows({"relu": -0.5, "attention": 0.3}, "fixed"),
        ],
        ignore_index=True,
    )
    blocks = report_blocks(Path("run"), results, _CELLS, build_tables(results), [])
    at = blocks.index(("h3", "Converged vs fixed-epoch training (NTK distance)"))
    assert at < blocks.index(("h2", "Networks"))  # in the verdict screen
    kind, (sentence,) = blocks[at + 1]
    assert kind == "list"
    assert sentence.endswith("the verdict does not change ('agrees').")
    # one rule alone: no such block
    fixed = results[results["stopping"] == "fixed"]
    blocks = report_blocks(Path("run"), fixed, _CELLS, build_tables(fixed), [])
    titles = [b[1] for b in blocks if b[0] == "h3"]
    assert "Converged vs fixed-epoch training (NTK distance)" not in titles
