"""The landscape report: tables and sentences on hand-made rows against numpy and scipy, the
figure's shared colour scale, and the whole report of a tiny run."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_attnkernel.analysis.report.landscape import (
    landscape_figures,
    landscape_findings,
    landscape_tables,
    paired_differences,
)
from sklearn_attnkernel.analysis.report.load import _typed

DATA = {"part": "landscape", "dataset": "digits", "setting": "multiclass", "n_train": 1347}


def summary_rows(values, width=1024):
    """``values[architecture] = [(curvature_d1, curvature_d2, area_below), ...]`` per seed."""
    rows = []
    for architecture, per_seed in values.items():
        for seed, (c1, c2, area) in enumerate(per_seed):
            for metric, value in (
                ("centre_loss", 0.05),
                ("curvature_d1", c1),
                ("curvature_d2", c2),
                ("area_below", area),
            ):
                rows.append(
                    {**DATA, "width": width, "architecture": architecture, "seed": seed}
                    | {"metric": metric, "value": value}
                )
    return _typed(pd.DataFrame(rows).assign(key="hand-made"))


RELU = [(4.0, 6.0, 0.20), (5.0, 5.0, 0.25), (6.0, 4.0, 0.22)]


def _t_interval(x):
    x = np.asarray(x, dtype=float)
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return x.mean(), half


def test_paired_differences_are_per_seed_subtractions():
    attention = [(1.0, 2.0, 0.5), (2.0, 1.0, 0.6), (1.5, 1.5, 0.55)]
    diffs = paired_differences(summary_rows({"relu": RELU, "attention": attention}))
    curvature = diffs[diffs["metric"] == "mean_curvature"].sort_values("seed")["value"]
    expected = [
        (a1 + a2) / 2 - (r1 + r2) / 2
        for (a1, a2, _), (r1, r2, _) in zip(attention, RELU, strict=True)
    ]
    np.testing.assert_allclose(curvature, expected, rtol=1e-12)
    area = diffs[diffs["metric"] == "area_below"].sort_values("seed")["value"]
    np.testing.assert_allclose(area, [0.3, 0.35, 0.33], rtol=1e-9)


def test_tables_give_the_mean_and_student_t_interval_over_seeds():
    attention = [(1.0, 2.0, 0.5), (2.0, 1.0, 0.6), (1.5, 1.5, 0.58)]
    tables = landscape_tables(summary_rows({"relu": RELU, "attention": attention}))
    summary, display = tables["landscape"]
    row = summary[(summary["architecture"] == "attention") & (summary["metric"] == "area_below")]
    mean, half = _t_interval([0.5, 0.6, 0.58])
    assert float(row["mean"].iloc[0]) == pytest.approx(mean)
    assert float(row["ci95"].iloc[0]) == pytest.approx(half)
    assert list(display["architecture"]) == ["2L-ReLU", "MLP-Attn"]
    assert "basin area (share of grid)" in display
    paired, shown = tables["landscape_difference"]
    mean, half = _t_interval([-3.5, -3.5, -3.5])
    row = paired[paired["metric"] == "mean_curvature"]
    assert float(row["mean"].iloc[0]) == pytest.approx(mean)
    assert float(row["ci95"].iloc[0]) == pytest.approx(half, abs=1e-12)
    assert list(shown["architecture − 2L-ReLU"]) == ["MLP-Attn"]


@pytest.mark.parametrize(
    ("attention", "words", "verdict"),
    [
        # lower curvature and a larger basin on every seed: the paper's claim
        (
            [(1.0, 2.0, 0.5), (2.0, 1.0, 0.6), (1.5, 1.5, 0.58)],
            "flatter and broader",
            "as the paper's Fig. 5 says",
        ),
        # higher curvature: the opposite, even with a larger basin
        (
            [(8.0, 9.0, 0.5), (9.0, 8.0, 0.6), (8.5, 8.5, 0.58)],
            "sharper and broader",
            "the opposite of the paper's Fig. 5",
        ),
        # curvature differences of both signs, area unchanged within its interval
        (
            [(1.0, 1.0, 0.1), (9.0, 9.0, 0.4), (5.0, 5.0, 0.2)],
            "neither flatter nor sharper",
            "not established either way",
        ),
        # flatter, but the basin difference straddles 0
        (
            [(1.0, 2.0, 0.1), (2.0, 1.0, 0.5), (1.5, 1.5, 0.2)],
            "is flatter than",
            "not established either way",
        ),
    ],
)
def test_the_sentence_follows_the_paired_intervals(attention, words, verdict):
    (sentence,) = landscape_findings(summary_rows({"relu": RELU, "attention": attention}))
    assert sentence.startswith("digits multiclass, n = 1347, m = 1024: MLP-Attn's minimum")
    assert words in sentence
    assert verdict in sentence
    assert "paired per seed over 3 seed(s)" in sentence
    assert "Student-t CI of the per-seed differences" in sentence


def test_one_seed_gives_no_verdict():
    (sentence,) = landscape_findings(
        summary_rows({"relu": RELU[:1], "attention": [(1.0, 1.0, 0.9)]})
    )
    assert "one seed, no interval, so no verdict" in sentence
    assert "MLP-Attn − 2L-ReLU: mean curvature -4, basin area 0.7 of the grid" in sentence
    assert "as the paper" not in sentence


def test_no_pair_no_sentence_and_no_landscape_no_table():
    assert landscape_findings(summary_rows({"relu": RELU})) == []
    assert "landscape_difference" not in landscape_tables(summary_rows({"relu": RELU}))
    assert landscape_tables(summary_rows({"relu": RELU}).iloc[:0]) == {}


def _grid_rows(architecture, seed, losses):
    steps = np.linspace(-1.0, 1.0, losses.shape[0])
    return [
        {**DATA, "width": 64, "architecture": architecture, "seed": seed, "metric": "loss"}
        | {"d1_step": a, "d2_step": b, "value": losses[i, j]}
        for i, a in enumerate(steps)
        for j, b in enumerate(steps)
    ]


def test_figure_draws_surface_and_contour_per_architecture_on_one_scale():
    a = np.linspace(-1.0, 1.0, 5)
    bowl = 0.1 + a[:, None] ** 2 + 2 * a[None, :] ** 2
    rows = [
        *_grid_rows("relu", 0, 3 * bowl),
        *_grid_rows("attention", 0, bowl),
        *_grid_rows("relu", 1, 100 * bowl),  # a later seed: not drawn
    ]
    results = _typed(pd.DataFrame(rows).assign(key="hand-made"))
    ((section, stem, caption, fig),) = list(landscape_figures(results))
    assert (section, stem) == ("landscape", "landscape_digits_multiclass_n1347_m64")
    assert "Seed 0" in caption
    surfaces = [ax for ax in fig.axes if ax.name == "3d"]
    contours = [
        ax for ax in fig.axes if ax.name == "rectilinear" and ax.get_label() != "<colorbar>"
    ]
    assert [ax.get_title() for ax in surfaces] == ["2L-ReLU", "MLP-Attn"]
    assert len(contours) == 2
    limits = {(c.norm.vmin, c.norm.vmax) for ax in contours for c in ax.collections}
    assert limits == {(bowl.min(), 3 * bowl.max())}  # min and max of the values drawn


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    from sklearn_attnkernel.analysis import run_experiment

    from ..parts.test_landscape import TINY_LANDSCAPE

    out = tmp_path_factory.mktemp("landscape-report")
    config = {**TINY_LANDSCAPE, "run": {"seeds": [0, 1]}}
    run_experiment(config, out, progress=False)
    return out


def test_the_report_has_the_landscape_section(tiny_report):
    text = (tiny_report / "report.md").read_text()
    assert "## Loss landscape (part landscape)" in text
    assert "Loss landscape: MLP-Attn − 2L-ReLU, paired per seed" in text
    assert "MLP-Attn's minimum is" in text
    assert (tiny_report / "figures" / "landscape_digits_binary_n60_m16.png").is_file()
    assert (tiny_report / "tables" / "landscape_difference.csv").is_file()


def test_a_full_split_cell_is_captioned_as_such():
    a = np.linspace(-1.0, 1.0, 3)
    rows = _grid_rows("relu", None, 1 + a[:, None] ** 2 + a[None, :] ** 2)
    results = _typed(pd.DataFrame(rows).assign(key="hand-made"))
    ((_, _, caption, _),) = list(landscape_figures(results))
    assert "The full training split" in caption
