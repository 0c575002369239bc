"""The report of the ``examples`` part (arXiv 2603.13085, A.10): an image grid per test point
and the overlap of the top-k sets before and after the attack.

Everything is redrawn from the rows alone: the images are the pixels the part stored with each
row (:func:`~sklearn_attnkernel.analysis.parts.examples.encode_pixels`), the attacked training
images included, so neither the data nor the network is needed here.
"""

import numpy as np
import pandas as pd

from .formatting import ARCHITECTURE_ORDER, architecture_label, format_ci
from .load import part_rows
from .stats import summarize

__all__ = [
    "OVERLAP_NOTE",
    "OVERLAP_TITLE",
    "SECTION_TITLE",
    "example_grid_figures",
    "example_tables",
]

SECTION_TITLE = "Most influential training examples (part examples)"
OVERLAP_TITLE = "Most influential examples: share of the top-k kept after the attack"
OVERLAP_NOTE = (
    "For each test point, the share of its k most helpful (and of its k most harmful) training "
    "points that are still among its k most helpful (harmful) after the attack on the top set "
    "T; mean ± 95 % CI over seeds × test points (the test points of one seed share a network, "
    "so the interval is indicative). Image grid: whether the report drew it."
)
_CAPTION = (
    "Test point {test} (seed {seed}) of {dataset}, {setting}, n = {n_train}, width {width}. "
    "Columns: the test image (true → predicted label of the row's network), the {k} most "
    "helpful training images (largest influence first), then the {k} most harmful (most "
    "negative first). Rows: architecture × stage; 'attacked': after the {attack} attack "
    "(ε = {epsilon:g}, {space} units) on the top set T, scored and drawn with the attacked "
    "training images. Titles: label and influence score; a red frame marks an image in T "
    "(attacked: its pixels differ from the clean image). Figures show the first seed; the "
    "CSVs hold every seed."
)
_STAGES = ("clean", "attacked")
_SIGNS = ("helpful", "harmful")
_DATA = ["dataset", "setting", "n_train", "width"]
_INTEGERS = ("test_index", "train_index", "label", "in_attacked_set")


def _typed_rows(results, metric):
    """The part's rows of ``metric``, with its index columns as integers."""
    rows = part_rows(results, "examples")
    rows = rows[rows["metric"] == metric].copy()
    for column in _INTEGERS:
        if column in rows:
            rows[column] = pd.to_numeric(rows[column]).astype("Int64")
    return rows


def _has_pixels(rows):
    return "pixels" in rows and rows["pixels"].notna().any()


def _grid_status(scores):
    """``(dataset, setting) → "drawn" | "skipped: …"`` for the example grid."""
    status = {}
    for (dataset, setting), rows in scores.groupby(["dataset", "setting"], sort=True):
        status[(dataset, setting)] = (
            "drawn"
            if _has_pixels(rows)
            else f"skipped: {dataset} rows are not images (no known image shape)"
        )
    return status


def example_tables(results):
    """``{"examples_overlap": (summary, display)}``, or ``{}`` without overlap rows."""
    overlap = _typed_rows(results, "example_overlap")
    if overlap.empty:
        return {}
    keys = [*_DATA, "attack", "epsilon", "architecture"]
    summary = summarize(overlap, [*keys, "sign"])
    status = _grid_status(_typed_rows(results, "example_score"))
    rows = []
    for group, part in summary.groupby(keys, sort=False):
        row = dict(zip(keys, group, strict=True))
        row["architecture"] = architecture_label(row["architecture"])
        for sign in _SIGNS:
            at = part[part["sign"] == sign]
            row[f"{sign}: top-k kept"] = (
                format_ci(at["mean"].iloc[0], at["ci95"].iloc[0], at["n"].iloc[0])
                if len(at)
                else "—"
            )
        row["seeds × test points"] = int(part["n"].max())
        row["image grid"] = status.get((row["dataset"], row["setting"]), "—")
        rows.append(row)
    display = pd.DataFrame(rows)
    display["_order"] = [ARCHITECTURE_ORDER.get(a, 99) for a in display["architecture"]]
    display = display.sort_values([*_DATA, "_order"], kind="stable").drop(columns="_order")
    return {"examples_overlap": (summary, display.reset_index(drop=True))}


def _image(text, shape):
    """The image of a row's stored pixels, channels last for colour images."""
    from ..parts.examples import decode_pixels

    size = tuple(int(s) for s in shape.split("x"))
    image = decode_pixels(text).reshape(size)
    return np.moveaxis(image, 0, -1) if image.ndim == 3 else image


def _show(ax, text, shape, title, framed=False):
    image = _image(text, shape)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=6, pad=2)
    for spine in ax.spines.values():
        spine.set_color("red" if framed else "0.6")
        spine.set_linewidth(1.5 if framed else 0.5)


def _grid_rows(scores):
    """The figure's rows: ``(architecture, stage)`` in the paper's order, those measured."""
    present = set(zip(scores["architecture"], scores["stage"], strict=True))
    architectures = sorted({a for a, _ in present}, key=lambda a: ARCHITECTURE_ORDER.get(a, 99))
    return [(a, stage) for a in architectures for stage in _STAGES if (a, stage) in present]


def _draw_row(axes, scores, test, header):
    """One row of the grid: the test image, then the helpful and the harmful images."""
    predicted = int(test["value"])
    title = f"test\n{test['label']} → {predicted}" if header else f"{test['label']} → {predicted}"
    _show(axes[0], test["pixels"], test["image_shape"], title)
    column = 1
    for sign in _SIGNS:
        for row in scores[scores["sign"] == sign].sort_values("rank").itertuples():
            title = f"{row.label}: {row.value:+.2g}"
            if header:
                title = f"{sign} {row.rank}\n{title}"
            _show(axes[column], row.pixels, row.image_shape, title, row.in_attacked_set == 1)
            column += 1


def _grid_figure(scores, tests, k):
    """The image grid of one test point: rows architecture × stage, 1 + 2k columns."""
    from matplotlib.figure import Figure

    from .figures import _DPI, _MAX_WIDTH_IN

    layout = _grid_rows(scores)
    ncols = 1 + 2 * k
    width = min(_MAX_WIDTH_IN, 0.82 * ncols + 0.9)
    height = 1.05 * len(layout) + 0.7
    # a fixed layout: matplotlib's constrained layout costs seconds on this many axes
    fig = Figure(figsize=(width, height), dpi=_DPI)
    axes = fig.subplots(
        len(layout),
        ncols,
        squeeze=False,
        gridspec_kw={
            "left": 0.75 / width,
            "right": 1 - 0.05 / width,
            "bottom": 0.05 / height,
            "top": 1 - 0.7 / height,
            "wspace": 0.12,
            "hspace": 0.55,
        },
    )
    for r, (architecture, stage) in enumerate(layout):
        rows = scores[(scores["architecture"] == architecture) & (scores["stage"] == stage)]
        test = tests[tests["architecture"] == architecture].iloc[0]
        _draw_row(axes[r], rows, test, header=r == 0)
        axes[r][0].set_ylabel(f"{architecture_label(architecture)}\n{stage}", fontsize=7)
    return fig


def example_grid_figures(results):
    """Yield ``("examples", stem, caption, figure)``: one image grid per test point of the
    first seed of each (dataset, setting, n, width) with stored pixels."""
    scores = _typed_rows(results, "example_score")
    if not _has_pixels(scores):
        return
    tests = _typed_rows(results, "test_prediction")
    for (dataset, setting, n_train, width), rows in scores.groupby(_DATA, sort=True):
        if not _has_pixels(rows):
            continue
        seed = rows["seed"].min()
        rows = rows[rows["seed"] == seed]
        first = rows.iloc[0]
        k = int(rows["rank"].max())
        for test_index, points in rows.groupby("test_index", sort=True):
            at = tests[
                (tests[_DATA] == [dataset, setting, n_train, width]).all(axis=1)
                & (tests["seed"] == seed)
                & (tests["test_index"] == test_index)
            ]
            fig = _grid_figure(points, at, k)
            fig.suptitle(
                f"Most influential training images — {dataset}, {setting}, test point {test_index}",
                fontsize=9,
            )
            caption = _CAPTION.format(
                test=test_index,
                seed=seed,
                dataset=dataset,
                setting=setting,
                n_train=n_train,
                width=width,
                k=k,
                attack=str(first["attack"]).upper(),
                epsilon=float(first["epsilon"]),
                space=first["epsilon_space"],
            )
            stem = f"examples_{dataset}_{setting}_n{n_train}_m{width}_seed{seed}_test{test_index}"
            yield "examples", stem, caption, fig
