"""The report's figures: one function per kind of figure, and :func:`draw_figures` to draw them
all. Each returns ``(section, png path, caption)`` per figure; PNG and SVG are written side by
side. Figures are pyplot-free (:class:`matplotlib.figure.Figure`): no backend switch, no global
state."""

import io

import numpy as np

from ..._utils.vocabulary import ADVERSARIAL_METHODS, ARCHITECTURES, ATTACKS, TRANSFORMS
from ..store import atomic_write
from .formatting import ARCHITECTURE_ORDER, architecture_label
from .load import part_rows
from .sensitivity import PAPER_RATIO_RANGE, sensitivity_tables
from .stats import summarize

__all__ = ["draw_figures"]

_COLORS = {architecture: f"C{i}" for i, architecture in enumerate(ARCHITECTURES)}
_NTK_TITLES = {
    "frobenius": "relative Frobenius",
    "cosine": "cosine distance",
    "function": "function-space ‖f_m − f_NTK‖",
}
_CAPTIONS = {
    "ntk_distance": "Distance of the empirical NTK (and of the network function) to the "
    "infinite-width limit against width; solid: trained, dashed: initialisation; bars: 95 % CI "
    "over seeds.",
    "flip_rates": "Flip rate by attack (bars, 95 % CI) against the random ±ε baseline "
    "(dotted lines, same colour).",
    "curve": "{label} against ε ({space} units, log scale), mean and 95 % CI over seeds; dotted "
    "line and band: the random ±ε baseline on the same points, same colour.",
    "ratio": "MLP-Attn / 2L-ReLU ratio of mean flip rates with its paired bootstrap 95 % CI; "
    "grey band: the paper's 6–9×; line at 1: no gap. Infinite ratios (2L-ReLU flips nothing) "
    "are left out.",
    "spectra": "Normalised eigenvalues of G and of G³ up to the numerical rank: attention cubes "
    "the spread.",
    "kappa_rank_curve": "log10 κ_k against the rank k at which κ is read.",
    "collapse": "Mean pairwise cosine of the rows (≈ 1: collapsed to a rank-one kernel).",
}


def _subplots(*args, figsize, **kwargs):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(*args, **kwargs)


def _save(fig, figure_dir, name):
    """Write ``name.png`` and ``name.svg`` atomically (drawn in memory, then renamed in place)."""
    paths = []
    for ext in ("png", "svg"):
        buffer = io.BytesIO()
        fig.savefig(
            buffer,
            format=ext,
            dpi=110,
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


# ---------------------------------------------------------------------------- NTK distance
def _ntk_panel(ax, summary, metric):
    rows = summary[summary["metric"] == metric]
    for (arch, stage), line in rows.groupby(["architecture", "stage"], sort=True):
        ax.errorbar(
            line["width"].astype(float),
            line["mean"],
            yerr=line["ci95"].fillna(0),
            color=_COLORS.get(arch),
            linestyle="-" if stage == "trained" else "--",
            marker="o",
            capsize=3,
            label=f"{architecture_label(arch)}, {stage}",
        )
    ax.set_xscale("log", base=2)
    if (rows["mean"] > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("width m")
    ax.set_title(_NTK_TITLES[metric])


def _ntk_distance_figures(results, figure_dir):
    made = []
    ntk = part_rows(results, "ntk")
    for (dataset, setting, n_train), rows in _groups(ntk, ["dataset", "setting", "n_train"]):
        summary = summarize(rows, ["architecture", "metric", "stage", "width"])
        metrics = [m for m in _NTK_TITLES if m in set(summary["metric"])]
        fig, axes = _subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
        for ax, metric in zip(axes[0], metrics, strict=True):
            _ntk_panel(ax, summary, metric)
        axes[0][0].set_ylabel("distance to Θ∞")
        axes[0][-1].legend(fontsize=7)
        fig.suptitle(f"NTK distance vs width — {dataset}, {setting}, n = {n_train}")
        path = _save(fig, figure_dir, f"ntk_distance_{dataset}_{setting}_n{n_train}")
        made.append(("ntk", path, _CAPTIONS["ntk_distance"]))
    return made


# ------------------------------------------------------------------------------ flip rates
def _flip_rate_bars(ax, rows, attacks, arch, offset, width):
    """The bars of one architecture, and its random baseline as a dotted line."""
    heights = [rows.loc[a, "mean"] if a in rows.index else np.nan for a in attacks]
    errs = [rows.loc[a, "ci95"] if a in rows.index else 0 for a in attacks]
    ax.bar(
        np.arange(len(attacks)) + offset,
        heights,
        width,
        yerr=np.nan_to_num(errs),
        capsize=3,
        color=_COLORS.get(arch),
        label=architecture_label(arch),
    )
    if "random" in rows.index:
        ax.axhline(
            rows.loc["random", "mean"],
            color=_COLORS.get(arch),
            linestyle=":",
            label=f"{architecture_label(arch)}, random ±ε",
        )


def _flip_rate_panel(ax, part, eps):
    attacks = [a for a in ADVERSARIAL_METHODS if a in set(part["attack"])]
    archs = _by_paper_order(part["architecture"].unique())
    width = 0.8 / max(len(archs), 1)
    for j, arch in enumerate(archs):
        rows = part[part["architecture"] == arch].set_index("attack")
        _flip_rate_bars(ax, rows, attacks, arch, j * width, width)
    ax.set_xticks(np.arange(len(attacks)) + width * (len(archs) - 1) / 2, attacks)
    ax.set_title(f"ε = {eps:g}")


def _flip_rate_figures(results, figure_dir):
    made = []
    mal = part_rows(results, "malleability")
    flips = mal[(mal["metric"] == "flip_rate") & (mal["adversarial_training"] == False)]  # noqa: E712
    for (dataset, setting, n_train), rows in _groups(flips, ["dataset", "setting", "n_train"]):
        summary = summarize(rows, ["epsilon", "architecture", "attack"])
        epsilons = sorted(summary["epsilon"].unique())
        fig, axes = _subplots(
            1, len(epsilons), figsize=(3.8 * len(epsilons), 3.4), squeeze=False, sharey=True
        )
        for ax, eps in zip(axes[0], epsilons, strict=True):
            _flip_rate_panel(ax, summary[summary["epsilon"] == eps], eps)
        axes[0][0].set_ylabel("flip rate of the top-k set")
        axes[0][0].set_ylim(0, 1)
        axes[0][-1].legend(fontsize=7)
        fig.suptitle(f"Influence flip rates — {dataset}, {setting}, n = {n_train}")
        path = _save(fig, figure_dir, f"flip_rates_{dataset}_{setting}_n{n_train}")
        made.append(("malleability", path, _CAPTIONS["flip_rates"]))
    return made


# ------------------------------------------------------------------- curves against ε
def _curve_lines(ax, summary, arch, attack):
    """One architecture against ε, and its random baseline as a band in the same colour."""
    label = architecture_label(arch)
    line = summary[(summary["architecture"] == arch) & (summary["attack"] == attack)]
    line = line.sort_values("epsilon")
    ax.errorbar(
        line["epsilon"],
        line["mean"],
        yerr=line["ci95"].fillna(0),
        color=_COLORS.get(arch),
        marker="o",
        capsize=2,
        label=label,
    )
    band = summary[(summary["architecture"] == arch) & (summary["attack"] == "random")]
    band = band.sort_values("epsilon")
    if band.empty:
        return
    half = band["ci95"].fillna(0)
    ax.fill_between(
        band["epsilon"],
        band["mean"] - half,
        band["mean"] + half,
        color=_COLORS.get(arch),
        alpha=0.18,
        linewidth=0,
    )
    ax.plot(
        band["epsilon"],
        band["mean"],
        color=_COLORS.get(arch),
        linestyle=":",
        label=f"{label}, random ±ε",
    )


def _curve_panels(summary, metric_label, name, title, figure_dir):
    """One panel per attack: a line per architecture against ε (log x), the random baseline
    of the same architecture as a band (mean ± 95 % CI) in the same colour."""
    summary = summary[summary["epsilon"] > 0]  # ε = 0 has no place on a log axis
    attacks = [a for a in ADVERSARIAL_METHODS if a in set(summary["attack"])]
    if not attacks or summary["epsilon"].nunique() < 2:
        return None
    fig, axes = _subplots(
        1, len(attacks), figsize=(4.2 * len(attacks), 3.4), squeeze=False, sharey=True
    )
    for ax, attack in zip(axes[0], attacks, strict=True):
        for arch in _by_paper_order(summary["architecture"].unique()):
            _curve_lines(ax, summary, arch, attack)
        ax.set_xscale("log")
        ax.set_xlabel("ε")
        ax.set_title(attack.upper())
    axes[0][0].set_ylabel(metric_label)
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, figure_dir, name)


def _epsilon_curve_figures(results, figure_dir):
    made = []
    mal = _standard_malleability(results)
    for metric, label, stem in (
        ("flip_rate", "flip rate of the top-k set", "flip_rate_vs_epsilon"),
        ("spearman", "Spearman ρ before/after", "spearman_vs_epsilon"),
    ):
        rows = mal[mal["metric"] == metric]
        for (dataset, setting, n_train, space), group in _groups(
            rows, ["dataset", "setting", "n_train", "epsilon_space"]
        ):
            path = _curve_panels(
                summarize(group, ["epsilon", "architecture", "attack"]),
                label,
                f"{stem}_{dataset}_{setting}_n{n_train}_{space}",
                f"{label} vs ε ({space}) — {dataset}, {setting}, n = {n_train}",
                figure_dir,
            )
            if path is not None:
                caption = _CAPTIONS["curve"].format(label=label, space=space)
                made.append(("sensitivity", path, caption))
    return made


# -------------------------------------------------------------------------- ratio of flips
def _ratio_panel(ax, ratio, x, line_key, palette):
    ax.axhspan(*PAPER_RATIO_RANGE, color="0.85")
    ax.axhline(1.0, color="0.4", linewidth=0.8)
    for value, line in ratio.groupby(line_key, sort=True):
        line = line.sort_values(x)
        mean = line["ratio"].to_numpy(dtype=float)
        low = np.nan_to_num(mean - line["low"].to_numpy(dtype=float), nan=0.0)
        high = np.nan_to_num(line["high"].to_numpy(dtype=float) - mean, nan=0.0, posinf=0.0)
        ax.errorbar(
            line[x].astype(float),
            mean,
            yerr=[np.clip(low, 0, None), np.clip(high, 0, None)],
            marker="o",
            capsize=2,
            color=palette[value],
        )
    ax.set_xscale("log")
    ax.set_yscale("log")


def _ratio_panels(ratio, x, line_key, name, title, figure_dir):
    """MLP-Attn / 2L-ReLU flip-rate ratio against ``x`` (one panel per attack, a line per
    ``line_key``), bootstrap CIs as error bars, the paper's 6–9× as a grey band."""
    ratio = ratio[np.isfinite(ratio["ratio"].astype(float)) & (ratio[x].astype(float) > 0)]
    attacks = [a for a in ATTACKS if a in set(ratio["attack"])]
    if not attacks or ratio[x].nunique() < 2:
        return None
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    values = sorted(ratio[line_key].dropna().unique())
    palette = {value: f"C{i % 10}" for i, value in enumerate(values)}
    ticks = sorted(ratio[x].astype(float).unique())
    fig, axes = _subplots(
        1, len(attacks), figsize=(4.2 * len(attacks), 3.6), squeeze=False, sharey=True
    )
    for ax, attack in zip(axes[0], attacks, strict=True):
        _ratio_panel(ax, ratio[ratio["attack"] == attack], x, line_key, palette)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks], minor=False)
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
        ax.set_xlabel("ε" if x == "epsilon" else "training-set size n")
        ax.set_title(attack.upper())
    axes[0][0].set_ylabel("flip rate MLP-Attn / 2L-ReLU")
    symbol = "n" if line_key == "n_train" else "ε"
    handles = [Patch(color="0.85", label="paper: 6–9×")] + [
        Line2D([], [], color=palette[v], marker="o", label=f"{symbol} = {v:g}") for v in values
    ]
    axes[0][-1].legend(handles=handles, fontsize=7)
    fig.suptitle(title)
    return _save(fig, figure_dir, name)


def _ratio_figures(results, figure_dir):
    made = []
    mal = _standard_malleability(results)
    if mal.empty:
        return made
    ratio = sensitivity_tables(mal)["ratio"]
    ratio = ratio[ratio["quantity"] == "flip_rate"]
    for (dataset, setting, space), group in _groups(ratio, ["dataset", "setting", "epsilon_space"]):
        for x, line_key, stem in (
            ("epsilon", "n_train", "ratio_vs_epsilon"),
            ("n_train", "epsilon", "ratio_vs_n"),
        ):
            path = _ratio_panels(
                group,
                x,
                line_key,
                f"{stem}_{dataset}_{setting}_{space}",
                f"Flip-rate ratio vs {'ε' if x == 'epsilon' else 'n'} ({space} ε) — "
                f"{dataset}, {setting}",
                figure_dir,
            )
            if path is not None:
                made.append(("sensitivity", path, _CAPTIONS["ratio"]))
    return made


# ------------------------------------------------------------------------------ κ figures
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


def _spectra_figures(results, figure_dir):
    made = []
    for (dataset, setting), rows in _groups(part_rows(results, "kappa"), ["dataset", "setting"]):
        eig, n_max = _spectrum_rows(rows)
        fig, ax = _subplots(figsize=(5, 3.6))
        for metric, label in (("eigenvalue_G", "G = XXᵀ"), ("eigenvalue_G3", "G³ (attention)")):
            line = eig[eig["metric"] == metric].sort_values("rank")
            values = line["value"].to_numpy(dtype=float)
            if values.size:
                ax.plot(line["rank"].astype(float), values / values[0], marker=".", label=label)
        ax.set_yscale("log")
        ax.set_xlabel("index i")
        ax.set_ylabel("λ_i / λ_1")
        ax.legend()
        ax.set_title(f"Spectra — {dataset}, {setting}, n = {n_max}")
        path = _save(fig, figure_dir, f"spectra_{dataset}_{setting}")
        made.append(("kappa", path, _CAPTIONS["spectra"]))
    return made


def _kappa_rank_curve_figures(results, figure_dir):
    made = []
    kappa = part_rows(results, "kappa")
    curve = kappa[kappa["metric"] == "curve_log10_kappa"]
    for (dataset,), rows in _groups(curve, ["dataset"]):
        summary = summarize(rows, ["setting", "n_train", "rank"])
        fig, ax = _subplots(figsize=(5, 3.6))
        for (setting, n_train), line in summary.groupby(["setting", "n_train"], sort=True):
            ax.errorbar(
                line["rank"].astype(float),
                line["mean"],
                yerr=line["ci95"].fillna(0),
                marker=".",
                capsize=2,
                label=f"{setting}, n = {n_train}",
            )
        ax.set_xscale("log")
        ax.set_xlabel("rank k")
        ax.set_ylabel("log10 κ_k = log10 λ_1/λ_k")
        ax.legend(fontsize=7)
        ax.set_title(f"Rank sensitivity of κ — {dataset}")
        path = _save(fig, figure_dir, f"kappa_rank_curve_{dataset}")
        made.append(("kappa", path, _CAPTIONS["kappa_rank_curve"]))
    return made


# ------------------------------------------------------------------------------- collapse
def _collapse_figures(results, figure_dir):
    made = []
    collapse = part_rows(results, "collapse")
    for (dataset, setting, n_train), rows in _groups(collapse, ["dataset", "setting", "n_train"]):
        summary = summarize(rows, ["transform", "metric"])
        order = [t for t in TRANSFORMS if t in set(summary["transform"])]
        pick = summary.set_index(["transform", "metric"])["mean"]
        fig, ax = _subplots(figsize=(5, 3.4))
        x = np.arange(len(order))
        cosine = [pick.get((t, "mean_cosine"), np.nan) for t in order]
        ax.bar(x, cosine, color="C7", label="mean pairwise cosine")
        low = [pick.get((t, "cosine_q05"), np.nan) for t in order]
        high = [pick.get((t, "cosine_q95"), np.nan) for t in order]
        ax.vlines(x, low, high, color="k", label="5–95 % of pairs")
        ax.set_xticks(x, order)
        ax.set_ylim(min(0.0, np.nanmin(low) if order else 0.0), 1.05)
        ax.set_ylabel("cosine similarity")
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title(f"Feature collapse — {dataset}, {setting}, n = {n_train}")
        path = _save(fig, figure_dir, f"collapse_{dataset}_{setting}_n{n_train}")
        made.append(("collapse", path, _CAPTIONS["collapse"]))
    return made


# The kinds of figure, in the order the report lists them within a section.
_FIGURE_KINDS = (
    _ntk_distance_figures,
    _flip_rate_figures,
    _epsilon_curve_figures,
    _ratio_figures,
    _spectra_figures,
    _kappa_rank_curve_figures,
    _collapse_figures,
)


def draw_figures(results, figure_dir):
    """Draw every figure of the results into ``figure_dir``.

    Returns
    -------
    made : list of (str, pathlib.Path, str)
        ``(report section, PNG path, caption)`` per figure.
    """
    made = []
    for draw in _FIGURE_KINDS:
        made += draw(results, figure_dir)
    return made
