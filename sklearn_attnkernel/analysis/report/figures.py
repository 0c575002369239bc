"""The report's figures: one function per kind of figure, and :func:`draw_figures` to draw them
all. Each kind yields ``(section, file stem, caption, figure)``; :func:`draw_figures` writes PNG
and SVG side by side. Figures are pyplot-free (:class:`matplotlib.figure.Figure`): no backend
switch, no global state.

Every figure fits the report's column (at most :data:`_MAX_WIDTH_IN` inches at :data:`_DPI`),
keeps its legend outside the axes, labels only the measured ε, width or n values that fit side
by side, draws series that cannot be told apart once under one label, and writes symbols in
mathtext."""

import io
from dataclasses import dataclass, replace

import numpy as np

from ..._utils.vocabulary import ADVERSARIAL_METHODS, ARCHITECTURES, ATTACKS, TRANSFORMS
from ..store import atomic_write
from .audit import audit_figures
from .complexity import complexity_figures
from .examples import example_grid_figures
from .formatting import ARCHITECTURE_ORDER, architecture_label
from .landscape import landscape_figures
from .load import part_rows
from .networks import with_stopping
from .sensitivity import PAPER_RATIO_RANGE, sensitivity_tables
from .stats import summarize

__all__ = ["draw_figures"]

#: Resolution of the PNGs, and the widest figure (inches) that the report's 1100 px column shows
#: at full size: 10 in × 110 dpi, less the 0.1 in that ``bbox_inches="tight"`` pads each side.
_DPI = 110
_MAX_WIDTH_IN = 9.7
#: Relative tolerance under which two series are drawn as one (0.1 %: no plot tells them apart).
_SAME = 1e-3

_COLORS = {architecture: f"C{i}" for i, architecture in enumerate(ARCHITECTURES)}
_MARKERS = dict(zip(ARCHITECTURES, "osD^v<>", strict=False))
_NTK_TITLES = {
    "frobenius": "relative Frobenius",
    "cosine": "cosine distance",
    "function": r"function space $\|f_m - f_{\mathrm{NTK}}\|$",
}
_ONE_LINE = "Series that agree within 0.1 % are drawn once, labelled with all their names."
_DODGE = "Points are offset slightly along x so that overlapping series stay visible."
_CAPTIONS = {
    "ntk_distance": "Distance of the empirical NTK (and of the network function) to the "
    "infinite-width limit against width; solid: trained, dashed: initialisation; bars: 95 % CI "
    "over seeds (on a log axis, an interval that reaches 0 runs to the bottom edge). "
    f"{_DODGE} {_ONE_LINE}",
    "flip_rates": "Flip rate by attack (bars, 95 % CI, shown clipped to [0, 1]) against the "
    "random ±ε baseline (dotted lines, same colour).",
    "curve": "{label} against ε ({space} units, log scale), mean and 95 % CI over seeds; dotted "
    "line and band: the random ±ε baseline on the same points, same colour. Intervals are "
    "shown clipped to {bounds}. " + f"{_DODGE} {_ONE_LINE}",
    "ratio": "MLP-Attn / 2L-ReLU ratio of mean flip rates with its paired bootstrap 95 % CI; "
    "grey band: the paper's 6–9×; line at 1: no gap. Infinite ratios (2L-ReLU flips nothing) "
    f"are left out. {_DODGE}",
    "spectra": "Normalised eigenvalues of G and of G³ up to the numerical rank: attention cubes "
    "the spread. κ = λ₁/λᵣ is read at rank r = {rank} ({how}), the dashed line.",
    "kappa_rank_curve": "log₁₀ κₖ = log₁₀ λ₁/λₖ against the rank k at which κ is read; the "
    "tables read κ at the circled rank: {ranks}.",
    "collapse": "Mean pairwise cosine of the rows (≈ 1: collapsed to a rank-one kernel).",
}


# ------------------------------------------------------------------------------- plumbing
def _subplots(nrows=1, ncols=1, *, figsize, **kwargs):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=_DPI, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kwargs)


def _panels(n, height=3.0, **kwargs):
    """A figure of ``n`` panels, up to three a row, as wide as the report's column; the
    panels in reading order (extra grid cells hidden)."""
    ncols = n if n <= 3 else (2 if n == 4 else 3)
    nrows = -(-n // ncols)
    width = min(_MAX_WIDTH_IN, 3.4 * ncols + 0.4)
    fig, axes = _subplots(nrows, ncols, figsize=(width, height * nrows + 0.8), **kwargs)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _save(fig, figure_dir, name):
    """Write ``name.png`` and ``name.svg`` atomically (drawn in memory, then renamed in place)."""
    paths = []
    for ext in ("png", "svg"):
        buffer = io.BytesIO()
        fig.savefig(
            buffer,
            format=ext,
            dpi=_DPI,
            bbox_inches="tight",
            metadata={"Date": None} if ext == "svg" else None,
        )
        paths.append(atomic_write(figure_dir / f"{name}.{ext}", buffer.getvalue()))
    return paths[0]


def _groups(frame, keys):
    if frame.empty:
        return []
    return list(frame.groupby(keys, dropna=False, sort=True))


def _by_paper_order(architectures):
    return sorted(architectures, key=lambda a: ARCHITECTURE_ORDER.get(a, 99))


def _standard_malleability(results):
    mal = part_rows(results, "malleability")
    return mal[mal["adversarial_training"] != True]  # noqa: E712 (nullable boolean)


def _legend_below(fig, fontsize=8):
    """One legend for the whole figure, under the panels where it covers no data; each label
    once, in as many columns as the figure's width holds."""
    entries = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    if not entries:
        return
    longest = max(len(label) for label in entries) * fontsize * 0.6 / 72 + 0.8  # inches
    ncols = int(max(1, min(len(entries), fig.get_figwidth() // longest)))
    fig.legend(
        list(entries.values()),
        list(entries),
        loc="outside lower center",
        ncols=ncols,
        fontsize=fontsize,
        frameon=False,
    )


def _label_fits(positions, labels, i, j, char_in):
    gap = abs(positions[j] - positions[i])
    return gap >= (len(labels[i]) + len(labels[j])) / 2 * char_in + 0.1


def _fitting_labels(values, length_in, char_in):
    """Labels of the positive ``values`` on a log axis ``length_in`` inches long, those that
    would touch a kept neighbour blanked, left to right (the first and last are kept)."""
    labels = [f"{v:g}" for v in values]
    logs = np.log10(values)
    span = logs[-1] - logs[0] if len(values) > 1 else 1.0
    positions = (logs - logs[0]) / span * length_in / 1.1  # matplotlib's 5 % margins each side
    kept, last = [0], len(values) - 1
    for i in range(1, last):
        if _label_fits(positions, labels, kept[-1], i, char_in) and _label_fits(
            positions, labels, i, last, char_in
        ):
            kept.append(i)
    if last > 0 and _label_fits(positions, labels, kept[-1], last, char_in):
        kept.append(last)
    return [label if i in kept else "" for i, label in enumerate(labels)]


def _measured_ticks(ax, values):
    """Ticks of a log x axis at the measured ``values`` only, labelled as plain numbers, a
    label that would touch its neighbour left blank.

    Written here because matplotlib's locators know nothing of the measured values, nor avoid
    colliding labels; the labels' widths are estimated from their length (a digit is about
    0.62 em in the default DejaVu Sans)."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import NullLocator

    values = np.unique(np.asarray(values, dtype=float))
    values = values[values > 0]
    length_in = ax.get_position().width * ax.get_figure().get_figwidth()
    size = FontProperties(size=rcParams["xtick.labelsize"]).get_size_in_points()
    ax.xaxis.set_ticks(values, _fitting_labels(values, length_in, size * 0.62 / 72))
    ax.xaxis.set_minor_locator(NullLocator())


def _label_first_column(axes, label):
    for ax in axes:
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel(label)


# ------------------------------------------------------------------- series with error bars
@dataclass(frozen=True)
class _Series:
    """One line with error bars: points ``(x, y)``, error lengths below and above, its label
    and its matplotlib style."""

    label: str
    x: np.ndarray
    y: np.ndarray
    below: np.ndarray
    above: np.ndarray
    style: dict

    @classmethod
    def of(cls, label, x, y, half, style, bounds=(-np.inf, np.inf)):
        """Series of means ``y`` ± ``half``, the interval shown clipped to ``bounds``."""
        y = np.asarray(y, dtype=float)
        half = np.nan_to_num(np.asarray(half, dtype=float), nan=0.0)
        below = y - np.clip(y - half, *bounds)
        above = np.clip(y + half, *bounds) - y
        return cls(label, np.asarray(x, dtype=float), y, below, above, style)


def _same(a, b):
    if a.x.shape != b.x.shape or not np.array_equal(a.x, b.x):
        return False
    scale = _SAME * max(np.nanmax(np.abs(a.y), initial=0.0), np.nanmax(np.abs(b.y), initial=0.0))
    return all(
        np.allclose(u, v, rtol=_SAME, atol=scale, equal_nan=True)
        for u, v in ((a.y, b.y), (a.below, b.below), (a.above, b.above))
    )


def _joined(first, second):
    """'A = B, stage' from 'A, stage' and 'B, stage'; 'first = second' otherwise."""
    head, _, tail = first.rpartition(", ")
    other, _, other_tail = second.rpartition(", ")
    if head and other and tail == other_tail:
        return f"{head} = {other}, {tail}"
    return f"{first} = {second}"


def _merge_identical(series):
    """The series, those that agree within :data:`_SAME` merged into the first of them under
    a label that names both."""
    merged = []
    for item in series:
        match = next((i for i, kept in enumerate(merged) if _same(kept, item)), None)
        if match is None:
            merged.append(item)
        else:
            merged[match] = replace(merged[match], label=_joined(merged[match].label, item.label))
    return merged


def _draw_series(ax, series, dodge):
    """Draw the merged series, the i-th shifted by a factor ``dodge**(i − centre)`` along a
    log x axis so that coinciding points stay visible."""
    series = _merge_identical(series)
    centre = (len(series) - 1) / 2
    for i, item in enumerate(series):
        ax.errorbar(
            item.x * dodge ** (i - centre),
            item.y,
            yerr=[item.below, item.above],
            capsize=2,
            label=item.label,
            **item.style,
        )


# ---------------------------------------------------------------------------- NTK distance
def _ntk_panel(ax, summary, metric):
    rows = summary[summary["metric"] == metric]
    series = [
        _Series.of(
            f"{architecture_label(arch)}, {stage}",
            line["width"].astype(float),
            line["mean"],
            line["ci95"],
            {
                "color": _COLORS.get(arch),
                "marker": _MARKERS.get(arch, "o"),
                "markersize": 4,
                "linestyle": "-" if stage == "trained" else "--",
            },
        )
        for (arch, stage), line in sorted(
            rows.groupby(["architecture", "stage"]),
            key=lambda group: (ARCHITECTURE_ORDER.get(group[0][0], 99), group[0][1]),
        )
    ]
    _draw_series(ax, series, dodge=2**0.04)
    ax.set_xscale("log")
    if (rows["mean"] > 0).all():
        ax.set_yscale("log")
    _measured_ticks(ax, rows["width"].astype(float))
    ax.set_xlabel("width $m$")
    ax.set_title(_NTK_TITLES[metric])


def _ntk_distance_figures(results):
    """One figure per data and stopping rule: converged and fixed-epoch networks apart."""
    ntk = with_stopping(part_rows(results, "ntk"))
    ntk = ntk[ntk["metric"].isin(_NTK_TITLES)]
    keys = ["dataset", "setting", "n_train", "stopping"]
    for (dataset, setting, n_train, stopping), rows in _groups(ntk, keys):
        summary = summarize(rows, ["architecture", "metric", "stage", "width"])
        metrics = [m for m in _NTK_TITLES if m in set(summary["metric"])]
        fig, axes = _panels(len(metrics))
        for ax, metric in zip(axes, metrics, strict=True):
            _ntk_panel(ax, summary, metric)
        _label_first_column(axes, r"distance to $\Theta_\infty$")
        _legend_below(fig)
        words = "trained to convergence" if stopping == "convergence" else "fixed epochs"
        fig.suptitle(f"NTK distance vs width — {dataset}, {setting}, n = {n_train}, {words}")
        name = f"ntk_distance_{dataset}_{setting}_n{n_train}_{stopping}"
        yield "ntk", name, _CAPTIONS["ntk_distance"], fig


# ------------------------------------------------------------------------------ flip rates
def _flip_rate_bars(ax, rows, attacks, arch, offset, width):
    """The bars of one architecture (CIs clipped to [0, 1]), its random baseline dotted."""
    heights = np.array([rows.loc[a, "mean"] if a in rows.index else np.nan for a in attacks])
    half = np.nan_to_num([rows.loc[a, "ci95"] if a in rows.index else 0 for a in attacks])
    ax.bar(
        np.arange(len(attacks)) + offset,
        heights,
        width,
        yerr=[heights - np.clip(heights - half, 0, 1), np.clip(heights + half, 0, 1) - heights],
        capsize=3,
        color=_COLORS.get(arch),
        label=architecture_label(arch),
    )
    if "random" in rows.index:
        ax.axhline(
            rows.loc["random", "mean"],
            color=_COLORS.get(arch),
            linestyle=":",
            clip_on=False,
            zorder=3,
            label=f"{architecture_label(arch)}, random ±ε",
        )


def _flip_rate_panel(ax, part, eps):
    attacks = [a for a in ADVERSARIAL_METHODS if a in set(part["attack"])]
    archs = _by_paper_order(part["architecture"].unique())
    width = 0.8 / max(len(archs), 1)
    for j, arch in enumerate(archs):
        rows = part[part["architecture"] == arch].set_index("attack")
        _flip_rate_bars(ax, rows, attacks, arch, j * width, width)
    ticks = np.arange(len(attacks)) + width * (len(archs) - 1) / 2
    ax.set_xticks(ticks, [a.upper() for a in attacks])
    ax.set_title(f"ε = {eps:g}")


def _flip_rate_figures(results):
    mal = part_rows(results, "malleability")
    flips = mal[(mal["metric"] == "flip_rate") & (mal["adversarial_training"] == False)]  # noqa: E712
    for (dataset, setting, n_train), rows in _groups(flips, ["dataset", "setting", "n_train"]):
        summary = summarize(rows, ["epsilon", "architecture", "attack"])
        epsilons = sorted(summary["epsilon"].unique())
        fig, axes = _panels(len(epsilons), sharey=True)
        for ax, eps in zip(axes, epsilons, strict=True):
            _flip_rate_panel(ax, summary[summary["epsilon"] == eps], eps)
        _label_first_column(axes, "flip rate of the top-k set")
        axes[0].set_ylim(0, 1)
        _legend_below(fig)
        fig.suptitle(f"Influence flip rates — {dataset}, {setting}, n = {n_train}")
        name = f"flip_rates_{dataset}_{setting}_n{n_train}"
        yield "malleability", name, _CAPTIONS["flip_rates"], fig


# ------------------------------------------------------------------- curves against ε
def _curve_series(summary, arch, attack, bounds):
    label = architecture_label(arch)
    line = summary[(summary["architecture"] == arch) & (summary["attack"] == attack)]
    line = line.sort_values("epsilon")
    style = {"color": _COLORS.get(arch), "marker": _MARKERS.get(arch, "o"), "markersize": 4}
    return _Series.of(label, line["epsilon"], line["mean"], line["ci95"], style, bounds)


def _random_band(ax, summary, arch, bounds):
    """The random ±ε baseline of one architecture: a dotted line and its CI as a band."""
    band = summary[(summary["architecture"] == arch) & (summary["attack"] == "random")]
    band = band.sort_values("epsilon")
    if band.empty:
        return
    mean = band["mean"].to_numpy(dtype=float)
    half = band["ci95"].fillna(0).to_numpy(dtype=float)
    color = _COLORS.get(arch)
    low, high = np.clip(mean - half, *bounds), np.clip(mean + half, *bounds)
    ax.fill_between(band["epsilon"], low, high, color=color, alpha=0.18, linewidth=0)
    label = f"{architecture_label(arch)}, random ±ε"
    ax.plot(band["epsilon"], mean, color=color, linestyle=":", label=label)


def _curve_figure(summary, metric_label, title, bounds):
    """One panel per attack: a line per architecture against ε (log x), the random baseline
    of the same architecture as a band (mean ± 95 % CI) in the same colour; None when there
    is no curve to draw."""
    summary = summary[summary["epsilon"] > 0]  # ε = 0 has no place on a log axis
    attacks = [a for a in ADVERSARIAL_METHODS if a in set(summary["attack"])]
    if not attacks or summary["epsilon"].nunique() < 2:
        return None
    fig, axes = _panels(len(attacks), sharey=True)
    archs = _by_paper_order(summary["architecture"].unique())
    for ax, attack in zip(axes, attacks, strict=True):
        for arch in archs:
            _random_band(ax, summary, arch, bounds)
        series = [_curve_series(summary, arch, attack, bounds) for arch in archs]
        _draw_series(ax, series, dodge=10**0.012)
        ax.set_xscale("log")
        _measured_ticks(ax, summary["epsilon"])
        ax.set_xlabel("ε")
        ax.set_title(attack.upper())
    if bounds[0] == 0:
        axes[0].set_ylim(bottom=0)
    _label_first_column(axes, metric_label)
    _legend_below(fig)
    fig.suptitle(title)
    return fig


def _epsilon_curve_figures(results):
    mal = _standard_malleability(results)
    for metric, label, stem, bounds, shown in (
        ("flip_rate", "flip rate of the top-k set", "flip_rate_vs_epsilon", (0, 1), "[0, 1]"),
        ("spearman", "Spearman ρ before/after", "spearman_vs_epsilon", (-1, 1), "[−1, 1]"),
    ):
        rows = mal[mal["metric"] == metric]
        for (dataset, setting, n_train, space), group in _groups(
            rows, ["dataset", "setting", "n_train", "epsilon_space"]
        ):
            fig = _curve_figure(
                summarize(group, ["epsilon", "architecture", "attack"]),
                label,
                f"{label} vs ε ({space}) — {dataset}, {setting}, n = {n_train}",
                bounds,
            )
            if fig is not None:
                caption = _CAPTIONS["curve"].format(label=label, space=space, bounds=shown)
                yield "sensitivity", f"{stem}_{dataset}_{setting}_n{n_train}_{space}", caption, fig


# -------------------------------------------------------------------------- ratio of flips
def _ratio_panel(ax, ratio, x, line_key, palette):
    ax.axhspan(*PAPER_RATIO_RANGE, color="0.85", label="paper: 6–9×")
    ax.axhline(1.0, color="0.4", linewidth=0.8)
    symbol = "n" if line_key == "n_train" else "ε"
    series = []
    for value, line in ratio.groupby(line_key, sort=True):
        line = line.sort_values(x)
        mean = line["ratio"].to_numpy(dtype=float)
        below = np.nan_to_num(mean - line["low"].to_numpy(dtype=float), nan=0.0)
        above = np.nan_to_num(line["high"].to_numpy(dtype=float) - mean, nan=0.0, posinf=0.0)
        series.append(
            _Series(
                f"{symbol} = {value:g}",
                line[x].to_numpy(dtype=float),
                mean,
                np.clip(below, 0, None),
                np.clip(above, 0, None),
                {"color": palette[value], "marker": "o", "markersize": 4},
            )
        )
    _draw_series(ax, series, dodge=10**0.012)
    ax.set_xscale("log")
    ax.set_yscale("log")


def _ratio_figure(ratio, x, line_key, title):
    """MLP-Attn / 2L-ReLU flip-rate ratio against ``x`` (one panel per attack, a line per
    ``line_key``), bootstrap CIs as error bars, the paper's 6–9× as a grey band; None when
    there is no curve to draw."""
    ratio = ratio[np.isfinite(ratio["ratio"].astype(float)) & (ratio[x].astype(float) > 0)]
    attacks = [a for a in ATTACKS if a in set(ratio["attack"])]
    if not attacks or ratio[x].nunique() < 2:
        return None
    values = sorted(ratio[line_key].dropna().unique())
    palette = {value: f"C{i % 10}" for i, value in enumerate(values)}
    fig, axes = _panels(len(attacks), sharey=True)
    for ax, attack in zip(axes, attacks, strict=True):
        _ratio_panel(ax, ratio[ratio["attack"] == attack], x, line_key, palette)
        _measured_ticks(ax, ratio[x].astype(float))
        ax.set_xlabel("ε" if x == "epsilon" else "training-set size $n$")
        ax.set_title(attack.upper())
    _label_first_column(axes, "flip rate MLP-Attn / 2L-ReLU")
    _legend_below(fig)
    fig.suptitle(title)
    return fig


def _ratio_figures(results):
    mal = _standard_malleability(results)
    if mal.empty:
        return
    ratio = sensitivity_tables(mal)["ratio"]
    ratio = ratio[ratio["quantity"] == "flip_rate"]
    for (dataset, setting, space), group in _groups(ratio, ["dataset", "setting", "epsilon_space"]):
        for x, line_key, stem in (
            ("epsilon", "n_train", "ratio_vs_epsilon"),
            ("n_train", "epsilon", "ratio_vs_n"),
        ):
            fig = _ratio_figure(
                group,
                x,
                line_key,
                f"Flip-rate ratio vs {'ε' if x == 'epsilon' else 'n'} ({space} ε) — "
                f"{dataset}, {setting}",
            )
            if fig is not None:
                yield "sensitivity", f"{stem}_{dataset}_{setting}_{space}", _CAPTIONS["ratio"], fig


# ------------------------------------------------------------------------------ κ figures
def _read_rank(rows, n_train):
    """The rank at which the κ of the tables is read for ``n_train``, and how it was chosen
    (the part's ``kappa_rank`` setting)."""
    at = rows[(rows["metric"] == "rank") & (rows["n_train"] == n_train)]
    if at.empty:
        return None, ""
    setting = at["kappa_rank"].iloc[0] if "kappa_rank" in at else "numerical"
    how = "the numerical rank" if str(setting) == "numerical" else f"kappa_rank = {setting}"
    return int(at["value"].min()), how


def _spectrum_rows(rows):
    """Eigenvalue rows of the largest n and first seed, up to the numerical rank."""
    eig = rows[rows["metric"].isin(["eigenvalue_G", "eigenvalue_G3"])]
    n_max = eig["n_train"].max()
    eig = eig[(eig["n_train"] == n_max)]
    first_seed = eig["seed"].dropna().min() if eig["seed"].notna().any() else None
    if first_seed is not None:
        eig = eig[eig["seed"] == first_seed]
    ranks = rows[(rows["metric"] == "numerical_rank") & (rows["n_train"] == n_max)]
    if not ranks.empty:  # below the numerical rank the eigenvalues are round-off
        eig = eig[eig["rank"] <= ranks["value"].min()]
    return eig, n_max


def _spectra_figures(results):
    for (dataset, setting), rows in _groups(part_rows(results, "kappa"), ["dataset", "setting"]):
        eig, n_max = _spectrum_rows(rows)
        rank, how = _read_rank(rows, n_max)
        fig, axes = _subplots(figsize=(6.0, 4.2))
        ax = axes[0][0]
        for metric, label in (
            ("eigenvalue_G", r"$G = XX^{\mathsf{T}}$"),
            ("eigenvalue_G3", r"$G^3$ (attention)"),
        ):
            line = eig[eig["metric"] == metric].sort_values("rank")
            values = line["value"].to_numpy(dtype=float)
            if values.size:
                ax.plot(line["rank"].astype(float), values / values[0], marker=".", label=label)
        if rank is not None:
            ax.axvline(rank, color="0.3", linestyle="--", label=rf"$\kappa$ read at $r = {rank}$")
        ax.set_yscale("log")
        ax.set_xlabel("index $i$")
        ax.set_ylabel(r"$\lambda_i / \lambda_1$")
        _legend_below(fig)
        ax.set_title(f"Spectra — {dataset}, {setting}, n = {n_max}")
        caption = _CAPTIONS["spectra"].format(rank=rank if rank is not None else "—", how=how)
        yield "kappa", f"spectra_{dataset}_{setting}", caption, fig


def _kappa_rank_curve_figures(results):
    kappa = part_rows(results, "kappa")
    curve = kappa[kappa["metric"] == "curve_log10_kappa"]
    for (dataset,), rows in _groups(curve, ["dataset"]):
        summary = summarize(rows, ["setting", "n_train", "rank"])
        fig, axes = _subplots(figsize=(6.0, 4.2))
        ax = axes[0][0]
        read = []
        for i, ((setting, n_train), line) in enumerate(
            summary.groupby(["setting", "n_train"], sort=True)
        ):
            rank, how = _read_rank(kappa[kappa["setting"] == setting], n_train)
            label = f"{setting}, n = {n_train}"
            ax.errorbar(
                line["rank"].astype(float),
                line["mean"],
                yerr=line["ci95"].fillna(0),
                marker=".",
                capsize=2,
                color=f"C{i % 10}",
                label=label if rank is None else f"{label}, κ read at k = {rank}",
            )
            at = line[line["rank"] == rank]
            if not at.empty:
                ax.plot(
                    at["rank"].astype(float), at["mean"], "o", mfc="none", ms=10, c=f"C{i % 10}"
                )
                read.append(f"k = {rank} for {label} ({how})")
        ax.set_xscale("log")
        ax.set_xlabel("rank $k$")
        ax.set_ylabel(r"$\log_{10}\kappa_k = \log_{10}(\lambda_1/\lambda_k)$")
        _legend_below(fig)
        ax.set_title(f"Rank sensitivity of κ — {dataset}")
        caption = _CAPTIONS["kappa_rank_curve"].format(ranks="; ".join(read) or "none recorded")
        yield "kappa", f"kappa_rank_curve_{dataset}", caption, fig


# ------------------------------------------------------------------------------- collapse
def _collapse_figures(results):
    collapse = part_rows(results, "collapse")
    for (dataset, setting, n_train), rows in _groups(collapse, ["dataset", "setting", "n_train"]):
        summary = summarize(rows, ["transform", "metric"])
        order = [t for t in TRANSFORMS if t in set(summary["transform"])]
        pick = summary.set_index(["transform", "metric"])["mean"]
        fig, axes = _subplots(figsize=(6.0, 4.0))
        ax = axes[0][0]
        x = np.arange(len(order))
        cosine = [pick.get((t, "mean_cosine"), np.nan) for t in order]
        ax.bar(x, cosine, color="C7", label="mean pairwise cosine")
        low = [pick.get((t, "cosine_q05"), np.nan) for t in order]
        high = [pick.get((t, "cosine_q95"), np.nan) for t in order]
        ax.vlines(x, low, high, color="k", label="5–95 % of pairs")
        ax.set_xticks(x, order)
        ax.set_ylim(min(0.0, np.nanmin(low) if order else 0.0), 1.05)
        ax.set_ylabel("cosine similarity")
        _legend_below(fig)
        ax.set_title(f"Feature collapse — {dataset}, {setting}, n = {n_train}")
        yield "collapse", f"collapse_{dataset}_{setting}_n{n_train}", _CAPTIONS["collapse"], fig


# The kinds of figure, in the order the report lists them within a section.
_FIGURE_KINDS = (
    _ntk_distance_figures,
    _flip_rate_figures,
    _epsilon_curve_figures,
    _ratio_figures,
    _spectra_figures,
    _kappa_rank_curve_figures,
    _collapse_figures,
    complexity_figures,
    example_grid_figures,
    landscape_figures,
    audit_figures,
)


def _draw(results):
    """Yield ``(section, file stem, caption, figure)`` for every figure of the results, one
    at a time."""
    for kind in _FIGURE_KINDS:
        yield from kind(results)


def draw_figures(results, figure_dir):
    """Draw every figure of the results into ``figure_dir``.

    Returns
    -------
    made : list of (str, pathlib.Path, str)
        ``(report section, PNG path, caption)`` per figure.
    """
    return [
        (section, _save(fig, figure_dir, stem), caption)
        for section, stem, caption, fig in _draw(results)
    ]
