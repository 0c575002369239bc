"""The report of the ``landscape`` part (paper Fig. 5, App. A.11): tables, figures, findings.

- :func:`landscape_tables`: the scalar summaries per architecture (mean ± 95 % CI over seeds),
  and their paired differences MLP-Attn − 2L-ReLU per seed;
- :func:`landscape_figures`: per data set and width, a surface (``mpl_toolkits.mplot3d``) and a
  contour plot of each architecture side by side, on one colour scale;
- :func:`landscape_findings`: one sentence per data set, computed from the paired differences,
  on whether MLP-Attn's minimum is flatter and broader than 2L-ReLU's, as the paper says.
"""

import numpy as np
import pandas as pd

from .formatting import ARCHITECTURE_ORDER, architecture_label, format_ci, wide
from .load import part_rows
from .stats import mean_ci, summarize

__all__ = [
    "landscape_figures",
    "landscape_findings",
    "landscape_tables",
    "paired_differences",
    "paired_direction",
]

_DATA = ["dataset", "setting", "n_train", "width"]
#: The summaries of a cell, and their words in the tables.
_SUMMARY_WORDS = {
    "centre_loss": "training loss at θ*",
    "curvature_d1": "curvature along d₁",
    "curvature_d2": "curvature along d₂",
    "mean_curvature": "mean curvature",
    "area_below": "basin area (share of grid)",
}
_DIFFERENCES = ("mean_curvature", "area_below")
_REFERENCE = "relu"
CAPTION = (
    "Training loss on the plane θ* + a·d₁ + b·d₂ around the trained weights θ* (centre, ×), "
    "d₁, d₂ random Gaussian directions normalised per neuron to the trained weights (Li et al. "
    "2018), so a = 1 moves every neuron by its own norm; the two directions are drawn from the "
    "same seed for both architectures. Top: surface; bottom: contours; one colour scale for "
    "all panels. {which}; the tables summarise every seed."
)


def _summaries(results):
    rows = part_rows(results, "landscape")
    rows = rows[rows["metric"].isin(list(_SUMMARY_WORDS))]
    if rows.empty:
        return rows
    keys = [*_DATA, "architecture", "seed"]
    # a cell on the full split has no replicate seed: one value, paired with the same kind
    rows = rows.assign(seed=rows["seed"].astype("Int64").fillna(-1))
    wide_rows = rows.pivot_table(index=keys, columns="metric", values="value")
    wide_rows["mean_curvature"] = (wide_rows["curvature_d1"] + wide_rows["curvature_d2"]) / 2
    long = wide_rows.reset_index().melt(id_vars=keys, var_name="metric", value_name="value")
    return long.dropna(subset=["value"])


def paired_differences(results):
    """MLP-Attn − 2L-ReLU per seed, for the mean curvature and the basin area.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results with ``landscape`` rows.

    Returns
    -------
    differences : pandas.DataFrame
        One row per data set, width, MLP-Attn architecture, seed and quantity
        (``mean_curvature``: the mean of the two directions' curvatures; ``area_below``):
        ``value`` is the architecture's value minus 2L-ReLU's on the same seed (the same
        directions' seed and training points).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report.landscape import paired_differences
    >>> rows = pd.DataFrame({"part": "landscape", "dataset": "digits", "setting": "binary",
    ...     "n_train": 268, "width": 64, "seed": 0, "architecture": ["relu"] * 3
    ...     + ["attention"] * 3, "metric": ["curvature_d1", "curvature_d2", "area_below"] * 2,
    ...     "value": [4.0, 2.0, 0.2, 1.0, 1.0, 0.5]})
    >>> paired_differences(rows)[["metric", "value"]].to_dict("records")
    [{'metric': 'area_below', 'value': 0.3}, {'metric': 'mean_curvature', 'value': -2.0}]
    """
    long = _summaries(results)
    columns = [*_DATA, "architecture", "seed", "metric", "value"]
    if long.empty:
        return pd.DataFrame(columns=columns)
    long = long[long["metric"].isin(_DIFFERENCES)]
    keys = [*_DATA, "seed", "metric"]
    reference = long.loc[long["architecture"] == _REFERENCE, [*keys, "value"]]
    others = long[long["architecture"] != _REFERENCE]
    joined = others.merge(reference.rename(columns={"value": "reference"}), on=keys)
    joined["value"] = (joined["value"] - joined["reference"]).round(12)
    return joined[columns].sort_values([*_DATA, "architecture", "metric", "seed"], kind="stable")


def landscape_tables(results):
    """The landscape summaries per architecture, and their paired differences.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results (from :func:`~sklearn_attnkernel.analysis.report.load_results`).

    Returns
    -------
    tables : dict of str to (pandas.DataFrame, pandas.DataFrame)
        ``landscape``: mean ± 95 % CI over seeds of each summary per architecture;
        ``landscape_difference``: of the per-seed differences MLP-Attn − 2L-ReLU. Empty
        without landscape rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report.landscape import landscape_tables
    >>> rows = pd.DataFrame({"part": "landscape", "dataset": "digits", "setting": "binary",
    ...     "n_train": 268, "width": 64, "seed": 0, "architecture": "relu",
    ...     "metric": ["centre_loss", "curvature_d1", "curvature_d2", "area_below"],
    ...     "value": [0.1, 4.0, 2.0, 0.2]})
    >>> landscape_tables(rows)["landscape"][1]["mean curvature"].tolist()
    ['3']
    """
    long = _summaries(results)
    if long.empty:
        return {}
    summary = summarize(long, [*_DATA, "architecture", "metric"])
    display = _in_words(wide(_labelled(summary), [*_DATA, "architecture"], "metric", digits=4))
    tables = {"landscape": (summary, display)}
    differences = paired_differences(results)
    if not differences.empty:
        paired = summarize(differences, [*_DATA, "architecture", "metric"])
        shown = wide(_labelled(paired), [*_DATA, "architecture"], "metric", digits=3)
        shown = _in_words(shown).rename(columns={"architecture": "architecture − 2L-ReLU"})
        tables["landscape_difference"] = (paired, shown)
    return tables


def _labelled(summary):
    frame = summary.copy()
    frame["architecture"] = frame["architecture"].map(architecture_label)
    return frame


def _in_words(display):
    order = [c for c in display.columns if c not in _SUMMARY_WORDS]
    order += [c for c in _SUMMARY_WORDS if c in display.columns]
    return display[order].rename(columns=_SUMMARY_WORDS)


def paired_direction(mean, half, n, *, lower, higher):
    """``lower``, ``higher`` or None (not established) from a paired mean and its CI half-width
    over ``n`` seeds: ``lower`` when the CI lies below 0, ``higher`` above; None with one seed."""
    if n < 2 or np.isnan(half):
        return None
    if mean + half < 0:
        return lower
    if mean - half > 0:
        return higher
    return None


def _finding(key, rows):
    dataset, setting, n_train, width, architecture = key
    stats = {m: mean_ci(rows.loc[rows["metric"] == m, "value"]) for m in _DIFFERENCES}
    curvature, area = stats["mean_curvature"], stats["area_below"]
    n = min(curvature[2], area[2])
    label = architecture_label(architecture)
    where = f"{dataset} {setting}, n = {n_train}, m = {width}"
    numbers = (
        f"paired per seed over {n} seed(s), {label} − 2L-ReLU: mean curvature "
        f"{format_ci(*curvature)}, basin area {format_ci(*area)} of the grid (mean ± 95 % "
        "Student-t CI of the per-seed differences)"
    )
    if n < 2:
        return (
            f"{where}: one seed, no interval, so no verdict on Fig. 5's claim ({label} − "
            f"2L-ReLU: mean curvature {format_ci(*curvature)}, basin area "
            f"{format_ci(*area)} of the grid)."
        )
    flat = paired_direction(*curvature, lower="flatter", higher="sharper")
    broad = paired_direction(*area, lower="narrower", higher="broader")
    said = [word for word in (flat, broad) if word]
    if flat == "flatter" and broad == "broader":
        verdict = "as the paper's Fig. 5 says"
    elif "sharper" in said or "narrower" in said:
        verdict = "the opposite of the paper's Fig. 5"
    else:
        verdict = "not established either way"
    shape = " and ".join(said) if said else "neither flatter nor sharper, broader nor narrower"
    return f"{where}: {label}'s minimum is {shape} than 2L-ReLU's — {verdict} ({numbers})."


def landscape_findings(results):
    """Sentences, one per data set, width and MLP-Attn architecture, on Fig. 5's claim.

    The claim is that MLP-Attn's minimum is broader (and flatter) than 2L-ReLU's. Both are read
    from the per-seed paired differences MLP-Attn − 2L-ReLU: *flatter* when the 95 % Student-t
    CI of the mean-curvature difference lies below 0, *broader* when that of the basin-area
    difference lies above 0 (and *sharper*, *narrower* the other way). It agrees with the paper
    when both hold, is the opposite when either points the other way, and is not established
    otherwise; with one seed there is no interval and no verdict.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results with ``landscape`` rows.

    Returns
    -------
    sentences : list of str
        Empty without both architectures.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report.landscape import landscape_findings
    >>> rows = pd.DataFrame({"part": "landscape", "dataset": "digits", "setting": "binary",
    ...     "n_train": 268, "width": 64, "seed": [0, 0, 1, 1] * 3,
    ...     "architecture": ["relu", "attention"] * 6,
    ...     "metric": ["curvature_d1"] * 4 + ["curvature_d2"] * 4 + ["area_below"] * 4,
    ...     "value": [4.0, 1.0, 5.0, 1.5] * 2 + [0.2, 0.6, 0.3, 0.72]})
    >>> import textwrap
    >>> print(textwrap.fill(landscape_findings(rows)[0], 90))
    digits binary, n = 268, m = 64: MLP-Attn's minimum is flatter and broader than 2L-ReLU's —
    as the paper's Fig. 5 says (paired per seed over 2 seed(s), MLP-Attn − 2L-ReLU: mean
    curvature -3.25 ± 3.18, basin area 0.41 ± 0.127 of the grid (mean ± 95 % Student-t CI of
    the per-seed differences)).
    """
    differences = paired_differences(results)
    keys = [*_DATA, "architecture"]
    groups = sorted(
        differences.groupby(keys, sort=False),
        key=lambda item: (*map(str, item[0][:-1]), ARCHITECTURE_ORDER.get(item[0][-1], 99)),
    )
    return [_finding(key, rows) for key, rows in groups]


def _grids(rows):
    """Seed → architecture → (steps a, steps b, losses[a, b]) of the lowest seed's cells."""
    grid = rows[rows["metric"] == "loss"]
    seed = grid["seed"].min()
    grid = grid[grid["seed"] == seed] if pd.notna(seed) else grid
    out = {}
    for architecture, cells in grid.groupby("architecture", sort=False):
        table = cells.pivot_table(index="d1_step", columns="d2_step", values="value")
        out[architecture] = (
            table.index.to_numpy(float),
            table.columns.to_numpy(float),
            table.to_numpy(float),
        )
    return seed, dict(sorted(out.items(), key=lambda item: ARCHITECTURE_ORDER.get(item[0], 99)))


def _landscape_figure(grids, title):
    from matplotlib import colors
    from matplotlib.figure import Figure

    from .figures import _DPI, _MAX_WIDTH_IN

    n = len(grids)
    fig = Figure(figsize=(min(_MAX_WIDTH_IN, 3.6 * n + 1.0), 6.6), dpi=_DPI, layout="constrained")
    values = np.concatenate([g[2].ravel() for g in grids.values()])
    norm = colors.Normalize(vmin=float(np.nanmin(values)), vmax=float(np.nanmax(values)))
    levels = np.linspace(norm.vmin, norm.vmax, 15) if norm.vmax > norm.vmin else 15
    for i, (architecture, (a, b, losses)) in enumerate(grids.items()):
        A, B = np.meshgrid(a, b, indexing="ij")
        surface = fig.add_subplot(2, n, i + 1, projection="3d")
        surface.plot_surface(A, B, losses, cmap="viridis", norm=norm, linewidth=0)
        surface.set_xlabel("a (d₁)", fontsize=8)
        surface.set_ylabel("b (d₂)", fontsize=8)
        surface.set_zlim(norm.vmin, norm.vmax)
        surface.set_title(architecture_label(architecture))
        contour = fig.add_subplot(2, n, n + i + 1)
        filled = contour.contourf(A, B, losses, levels=levels, cmap="viridis", norm=norm)
        contour.plot([0.0], [0.0], "kx")
        contour.set_xlabel("a (along d₁)")
        contour.set_ylabel("b (along d₂)")
        contour.set_aspect("equal")
    fig.colorbar(filled, ax=fig.axes, shrink=0.6, label="training loss")
    fig.suptitle(title)
    return fig


def landscape_figures(results):
    """Surface and contour plots of the loss grids, per data set and width.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results with ``landscape`` rows.

    Yields
    ------
    figure : tuple
        ``("landscape", file stem, caption, matplotlib.figure.Figure)``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn_attnkernel.analysis.report.landscape import landscape_figures
    >>> a = np.repeat([-1.0, 0.0, 1.0], 3)
    >>> rows = pd.DataFrame({"part": "landscape", "dataset": "digits", "setting": "binary",
    ...     "n_train": 268, "width": 64, "seed": 0, "architecture": "relu", "metric": "loss",
    ...     "d1_step": a, "d2_step": np.tile([-1.0, 0.0, 1.0], 3), "value": 1 + a**2})
    >>> [stem for _, stem, _, _ in landscape_figures(rows)]
    ['landscape_digits_binary_n268_m64']
    """
    rows = part_rows(results, "landscape")
    rows = rows[rows["metric"] == "loss"]
    if rows.empty:
        return
    for (dataset, setting, n_train, width), group in rows.groupby(_DATA, sort=True):
        seed, grids = _grids(group)
        title = f"Loss landscape — {dataset}, {setting}, n = {n_train}, m = {width}"
        stem = f"landscape_{dataset}_{setting}_n{n_train}_m{width}"
        which = "The full training split" if pd.isna(seed) else f"Seed {seed} (the lowest)"
        yield "landscape", stem, CAPTION.format(which=which), _landscape_figure(grids, title)
