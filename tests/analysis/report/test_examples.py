"""Tests for the report of the ``examples`` part: the image grids (one per test point, the right
number of image axes), the overlap table against the sets of the score rows, the note for
non-image rows, and the section of the report."""

import itertools

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.analysis.report import build_tables, load_results, write_report
from sklearn_attnkernel.analysis.report.examples import (
    SECTION_TITLE,
    example_grid_figures,
    example_tables,
)


@pytest.fixture(scope="module")
def config(tiny_examples):
    """The tiny examples grid with 2 test points and k = 2: 2 small figures to draw."""
    return {**tiny_examples, "examples": {**tiny_examples["examples"], "n_test_points": 2, "k": 2}}


@pytest.fixture(scope="module")
def run_dir(config, tmp_path_factory):
    from sklearn_attnkernel.analysis import run_experiment

    out = tmp_path_factory.mktemp("examples_run")
    summary = run_experiment(config, out, progress=False, report=False)
    assert summary.n_failed == 0
    return out


@pytest.fixture(scope="module")
def results(run_dir):
    return load_results(run_dir)[0]


def test_one_grid_per_test_point_with_every_image(results, config):
    figures = list(example_grid_figures(results))
    table = config["examples"]
    assert len(figures) == table["n_test_points"]
    k = table["k"]
    for section, stem, caption, fig in figures:
        assert section == "examples"
        assert stem.startswith("examples_digits_multiclass_n80_m32_seed0_test")
        assert f"the {k} most helpful" in caption
        images = [ax for ax in fig.axes if ax.images]
        assert len(images) == 2 * 2 * (1 + 2 * k)  # architectures × stages rows, 1 + 2k columns
        assert all(ax.images[0].get_array().shape == (8, 8) for ax in images)


def test_overlap_table_matches_the_score_rows(results):
    """Mean over test points of |clean ∩ attacked| / k, recomputed from the score rows."""
    scores = results[results["metric"] == "example_score"]
    summary, display = example_tables(results)["examples_overlap"]
    for (architecture, sign), rows in scores.groupby(["architecture", "sign"]):
        shares = []
        for _, point in rows.groupby("test_index"):
            k = int(point["rank"].max())
            clean = set(point.loc[point["stage"] == "clean", "train_index"])
            attacked = set(point.loc[point["stage"] == "attacked", "train_index"])
            shares.append(len(clean & attacked) / k)
        at = summary[(summary["architecture"] == architecture) & (summary["sign"] == sign)]
        assert at["mean"].iloc[0] == pytest.approx(np.mean(shares), abs=1e-12)
        assert at["n"].iloc[0] == len(shares)
    assert list(display["architecture"]) == ["2L-ReLU", "MLP-Attn"]
    assert set(display["image grid"]) == {"drawn"}


def test_non_image_rows_skip_the_grid_and_say_why(results):
    no_pixels = results.assign(pixels=pd.NA)
    assert list(example_grid_figures(no_pixels)) == []
    _, display = example_tables(no_pixels)["examples_overlap"]
    assert all(
        status.startswith("skipped: digits rows are not images") for status in display["image grid"]
    )


def test_results_without_the_part_give_nothing(results):
    other = results[results["part"] != "examples"]
    assert example_tables(other) == {}
    assert list(example_grid_figures(other)) == []


def test_the_report_has_the_section(run_dir, results):
    from sklearn_attnkernel.analysis.report.networks import settings_table

    assert "examples_overlap" in build_tables(results)
    assert list(settings_table(results)["part"]) == ["examples"]
    outcome = write_report(run_dir)
    text = outcome.path.read_text()
    assert f"## {SECTION_TITLE}" in text
    assert "figures/examples_digits_multiclass_n80_m32_seed0_test" in text
    assert (run_dir / "tables" / "examples_overlap.csv").is_file()


def test_colour_images_are_drawn_channels_last():
    """CIFAR-10 rows are channel-first: pixel (i, j) of channel c is row[c·h·w + i·w + j]."""
    from sklearn_attnkernel.analysis.parts.examples import encode_pixels
    from sklearn_attnkernel.analysis.report.examples import _image

    row = np.arange(12) / 255.0  # 3 channels of 2×2, each pixel its own level
    image = _image(encode_pixels(row), "3x2x2")
    assert image.shape == (2, 2, 3)
    for c, i, j in itertools.product(range(3), range(2), range(2)):
        assert image[i, j, c] == pytest.approx(row[c * 4 + i * 2 + j], abs=1e-12)
