"""Tests for the figures: every kind is drawn, as PNG and SVG, and listed for the report; and,
on every figure of a realistic results frame, the drawn layout itself (text extents, legend
and data positions in display pixels) is read back from matplotlib and checked."""

import itertools
import re
import struct

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.analysis.report import load_results
from sklearn_attnkernel.analysis.report.figures import _draw, draw_figures
from sklearn_attnkernel.analysis.report.load import _typed

#: The report's column: a PNG wider than this is shown shrunk.
COLUMN_PX = 1100
#: The ε grids of the quick and the default config (by n), the widths of their NTK part.
EPSILONS = {300: (0.03, 0.1, 0.3), 2000: (0.01, 0.03, 0.05, 0.1, 0.2, 0.3)}
WIDTHS = (16, 64, 256, 1024, 4096)
#: The rank at which the synthetic κ of each setting is read.
READ_RANK = {"multiclass": 61, "binary": 55}


def test_every_kind_of_figure_as_png_and_svg(report_run_dir):
    figures = sorted(p.name for p in (report_run_dir / "figures").iterdir())
    stems = {name.rsplit(".", 1)[0] for name in figures}
    assert all(f"{stem}.png" in figures and f"{stem}.svg" in figures for stem in stems)
    kinds = {stem.split("_digits")[0] for stem in stems}
    assert {"ntk_distance", "flip_rates", "spectra", "kappa_rank_curve", "collapse"} <= kinds


def _png_width(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", header[16:20])[0]


def test_draw_figures_lists_section_path_and_caption(report_run_dir, tmp_path):
    results, _ = load_results(report_run_dir)
    made = draw_figures(results, tmp_path)
    sections = [section for section, _, _ in made]
    assert set(sections) == {"ntk", "malleability", "kappa", "collapse"}
    assert sorted(path.name for _, path, _ in made) == sorted(
        p.name for p in tmp_path.glob("*.png")
    )
    assert all(caption for _, _, caption in made)
    assert all(_png_width(path) <= COLUMN_PX for _, path, _ in made)


def test_no_rows_no_figures(report_run_dir, tmp_path):
    results, _ = load_results(report_run_dir)
    assert draw_figures(results.iloc[:0], tmp_path) == []
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------- a realistic frame and its figures
def _ntk_rows(rng):
    base = {"relu": 0.3, "attention": 0.1, "softmax": 0.05}
    for arch, stage, metric, seed, width in itertools.product(
        ("relu", "attention", "softmax"),
        ("init", "trained"),
        ("frobenius", "cosine", "function"),
        range(3),
        WIDTHS,
    ):
        value = base[arch] * width**-0.5 * rng.lognormal(0, 0.8) * (2 if stage == "trained" else 1)
        row = dict(part="ntk", dataset="digits", setting="multiclass", n_train=300, width=width)
        row |= dict(stage=stage, metric=metric, seed=seed, value=value)
        # softmax and exponential attention give the same features, hence the same numbers
        yield from (
            {**row, "architecture": a}
            for a in ((arch,) if arch != "softmax" else ("softmax", "exponential"))
        )


def _malleability_rows(rng):
    for n_train, arch, attack, seed in itertools.product(
        EPSILONS, ("relu", "attention"), ("fgsm", "pgd", "mim", "random"), range(3)
    ):
        yield from _malleability_cell(rng, n_train, arch, attack, seed)


def _malleability_cell(rng, n_train, arch, attack, seed):
    for eps in EPSILONS[n_train]:
        scale = (3.0 if arch == "attention" else 1.0) * (0.5 if attack == "random" else 1.0)
        # 2L-ReLU flips nothing on some seeds at small ε: intervals reach below 0
        flips = 0.0 if (arch == "relu" and eps < 0.05 and seed) else min(1.0, scale * eps)
        flips = float(np.clip(flips + rng.normal(0, 0.05) * (flips > 0), 0, 1))
        row = dict(part="malleability", dataset="digits", setting="multiclass", n_train=n_train)
        row |= dict(width=1024, adversarial_training=False, epsilon_space="pixel", epsilon=eps)
        row |= dict(architecture=arch, attack=attack, seed=seed)
        yield {**row, "metric": "flip_rate", "value": flips}
        yield {**row, "metric": "spearman", "value": float(np.clip(1 - 2 * flips, -1, 1))}


def _kappa_rows(rng):
    for setting, rank in READ_RANK.items():
        row = dict(part="kappa", dataset="digits", setting=setting, kappa_rank="numerical")
        row |= dict(n_train=1347 if setting == "multiclass" else 268)
        eigenvalues = np.sort(rng.lognormal(0, 3, 64))[::-1]
        for i, value in enumerate(eigenvalues, start=1):
            yield {**row, "metric": "eigenvalue_G", "rank": i, "value": value}
            yield {**row, "metric": "eigenvalue_G3", "rank": i, "value": value**3}
        for k in sorted({1, 2, 3, 5, 8, 13, 21, 34, rank}):
            value = np.log10(eigenvalues[0] / eigenvalues[k - 1])
            yield {**row, "metric": "curve_log10_kappa", "rank": k, "value": value}
        yield {**row, "metric": "numerical_rank", "value": rank}
        yield {**row, "metric": "rank", "value": rank}


def _collapse_rows():
    row = dict(part="collapse", dataset="digits", setting="multiclass", n_train=1347)
    for transform, (mean, q05, q95) in {
        "raw": (0.48, 0.22, 0.76),
        "linear": (0.99, 0.98, 1.0),
        "softmax": (0.99996, 0.9999, 1.0),
        "exponential": (0.99996, 0.9999, 1.0),
    }.items():
        for metric, value in (("mean_cosine", mean), ("cosine_q05", q05), ("cosine_q95", q95)):
            yield {**row, "transform": transform, "metric": metric, "value": value}


@pytest.fixture(scope="module")
def drawn():
    """Every figure of a frame shaped like a default run's (the default ε grid and widths,
    two n, identical softmax and exponential attention, flip rates of 0), laid out by the Agg
    renderer: ``[(section, stem, caption, figure, renderer)]``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rng = np.random.default_rng(0)
    rows = [*_ntk_rows(rng), *_malleability_rows(rng), *_kappa_rows(rng), *_collapse_rows()]
    results = _typed(pd.DataFrame(rows).assign(key="synthetic"))
    made = []
    for section, stem, caption, fig in _draw(results):
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        made.append((section, stem, caption, fig, canvas.get_renderer()))
    return made


def test_the_frame_draws_every_kind(drawn):
    kinds = {re.sub(r"_digits.*", "", stem) for _, stem, _, _, _ in drawn}
    assert kinds == {
        "ntk_distance",
        "flip_rates",
        "flip_rate_vs_epsilon",
        "spearman_vs_epsilon",
        "ratio_vs_epsilon",
        "ratio_vs_n",
        "spectra",
        "kappa_rank_curve",
        "collapse",
    }


def _tick_labels(fig, renderer):
    """The drawn tick labels of every axes: visible, not empty, on a tick inside the view."""
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for minor in (False, True):
                locs = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
                ticks = (
                    axis.get_minor_ticks(len(locs)) if minor else axis.get_major_ticks(len(locs))
                )
                for loc, tick in zip(locs, ticks, strict=True):
                    label = tick.label1
                    if low <= loc <= high and label.get_visible() and label.get_text().strip():
                        yield label.get_text(), label.get_window_extent(renderer)


def test_no_two_tick_labels_overlap(drawn):
    for _, stem, _, fig, renderer in drawn:
        labels = list(_tick_labels(fig, renderer))
        assert labels, stem
        for (a, box_a), (b, box_b) in itertools.combinations(labels, 2):
            assert not box_a.overlaps(box_b), f"{stem}: tick labels {a!r} and {b!r} overlap"


def _data_points(ax):
    """Display coordinates of every data point drawn in ``ax``: line vertices and markers
    (error-bar caps included), bar corners, error-bar ends and band outlines, those inside
    the axes only."""
    points = [np.empty((0, 2))]
    for line in ax.lines:
        if line.get_visible() and len(line.get_xydata()):
            points.append(line.get_transform().transform(line.get_xydata()))
    for patch in ax.patches:
        points.append(patch.get_verts())
    for collection in ax.collections:
        for path in collection.get_paths():
            points.append(collection.get_transform().transform(path.vertices))
    points = np.concatenate(points)
    box = ax.get_window_extent()
    inside = (
        (points[:, 0] >= box.x0)
        & (points[:, 0] <= box.x1)
        & (points[:, 1] >= box.y0)
        & (points[:, 1] <= box.y1)
    )
    return points[inside]


def test_no_legend_covers_a_data_point(drawn):
    for _, stem, _, fig, renderer in drawn:
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
        assert legends, stem
        for legend, ax in itertools.product(legends, fig.axes):
            box = legend.get_window_extent(renderer)
            points = _data_points(ax)
            covered = (
                (points[:, 0] > box.x0)
                & (points[:, 0] < box.x1)
                & (points[:, 1] > box.y0)
                & (points[:, 1] < box.y1)
            )
            assert not covered.any(), f"{stem}: the legend covers {points[covered][:3]}"


def _labelled_series(ax):
    """``(label, display points)`` of every series listed in a legend."""
    for container in ax.containers:
        label = container.get_label()
        if label and not label.startswith("_") and hasattr(container, "lines"):
            line = container.lines[0]
            yield label, line.get_transform().transform(line.get_xydata())
    for line in ax.lines:
        if not line.get_label().startswith("_"):
            yield line.get_label(), line.get_transform().transform(line.get_xydata())


def test_every_listed_series_is_visible(drawn):
    for _, stem, _, fig, _ in drawn:
        labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
        assert len(labels) == len(set(labels)), stem
        for ax in fig.axes:
            series = list(_labelled_series(ax))
            for (a, xy_a), (b, xy_b) in itertools.combinations(series, 2):
                hidden = xy_a.shape == xy_b.shape and np.allclose(xy_a, xy_b, atol=1.0)
                assert not hidden, f"{stem}: {a!r} lies under {b!r}"


def test_identical_series_share_one_entry(drawn):
    (fig,) = [fig for _, stem, _, fig, _ in drawn if stem.startswith("ntk_distance")]
    labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
    softmax = [label for label in labels if "softmax" in label]
    assert softmax == [
        "MLP-Attn (softmax) = MLP-Attn (exponential), init",
        "MLP-Attn (softmax) = MLP-Attn (exponential), trained",
    ]
    assert not [label for label in labels if "exponential" in label and "softmax" not in label]


def test_flip_rate_axes_start_at_zero(drawn):
    flip_figures = [fig for _, stem, _, fig, _ in drawn if stem.startswith("flip_rate")]
    assert len(flip_figures) == 4
    for fig in flip_figures:
        for ax in (ax for ax in fig.axes if ax.get_visible()):
            assert ax.get_ylim()[0] == 0
            for collection in ax.collections:  # error bars and bands: clipped at 0 for display
                for path in collection.get_paths():
                    assert path.vertices[:, 1].min() >= 0


def test_symbols_are_mathtext(drawn):
    from matplotlib.text import Text

    for _, stem, _, fig, _ in drawn:
        for text in fig.findobj(Text):
            plain = re.sub(r"\$[^$]*\$", "", text.get_text())
            assert not re.search(r"_|\^|log10", plain), f"{stem}: {text.get_text()!r}"


def test_every_figure_fits_the_column(drawn):
    for _, stem, _, fig, renderer in drawn:
        width_in = fig.get_tightbbox(renderer).width + 2 * 0.1  # savefig's pad_inches
        assert width_in * 110 <= COLUMN_PX, stem


def test_kappa_figures_state_the_rank_kappa_is_read_at(drawn):
    captions = {stem: caption for section, stem, caption, _, _ in drawn if section == "kappa"}
    assert set(captions) == {
        "spectra_digits_binary",
        "spectra_digits_multiclass",
        "kappa_rank_curve_digits",
    }
    for setting, rank in READ_RANK.items():
        assert f"r = {rank} (the numerical rank)" in captions[f"spectra_digits_{setting}"]
        assert f"k = {rank} for {setting}" in captions["kappa_rank_curve_digits"]


@pytest.mark.parametrize("width_in", [1.6, 2.4, 4.0, 9.0])
def test_measured_ticks_blank_labels_that_would_touch(width_in):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sklearn_attnkernel.analysis.report.figures import _measured_ticks

    values = [0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3]
    fig = Figure(figsize=(width_in, 2.0), dpi=110, layout="constrained")
    ax = fig.subplots()
    ax.plot(values, np.arange(len(values)))
    ax.set_xscale("log")
    _measured_ticks(ax, values)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    np.testing.assert_array_equal(ax.xaxis.get_majorticklocs(), values)
    assert not ax.xaxis.get_minorticklocs().size
    labels = [label for label in ax.get_xticklabels() if label.get_text()]
    assert [labels[0].get_text(), labels[-1].get_text()] == ["0.01", "0.3"]
    boxes = [label.get_window_extent(renderer) for label in labels]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    # narrow axes blank some labels, a wide one shows every value
    assert (len(labels) < len(values)) == (width_in < 9)
