"""What the report says, as a list of blocks that :mod:`.render` turns into markdown and HTML.

A block is a tuple: ``("h1" | "h2" | "h3" | "p", text)``, ``("list", items)``,
``("figure", png path, caption)``, ``("table", frame)`` or ``("table", frame, options)`` with
``options`` a dict that may hold ``"id"`` (the HTML id) and ``"collapse"`` (True: a long table,
folded away in HTML ``<details>``).

The report opens with one screen: the verdict on each claim of the paper
(:func:`~sklearn_attnkernel.analysis.report.comparison.compare_with_paper`), then the trained
networks (settings, accuracy, convergence), then one section per part, figures first.
"""

from .audit import AUDIT_MALLEABILITY_NOTE, AUDIT_NOTE, AUDIT_TITLE, audit_findings
from .comparison import compare_with_paper, stopping_sentences
from .complexity import complexity_sentences
from .examples import OVERLAP_NOTE, OVERLAP_TITLE, SECTION_TITLE
from .landscape import landscape_findings
from .networks import (
    CONVERGENCE,
    NEAR_CHANCE,
    convergence_column,
    drop_near_chance,
    near_chance_column,
    network_health,
    networks_table,
    ntk_fit_table,
    settings_table,
)
from .sensitivity import sensitivity_sentences, sensitivity_tables

__all__ = ["report_blocks"]

#: Tables with more rows than this are folded away (``"collapse"``); the CSVs hold them all.
LONG_TABLE = 12

_TITLES = {
    "table1_ntk_distance": (
        "Table 1 — NTK distance to the infinite-width limit vs width, by stopping rule"
    ),
    "table2_flip_rates": "Table 2 — influence flip rates by attack (random ±ε = baseline)",
    "table2_spearman": "Table 2b — Spearman ρ between influence scores before and after",
    "table2_top_k": "Table 2c — top-k stability |T ∩ T′| / k",
    "table3_adversarial_training": "Table 3 — standard vs adversarial training",
    "table5_interventions": "Table 5 — test accuracy after the interventions",
    "kappa": "κ and the sufficient width for the NTK regime",
    "kappa_rank_curve": "Rank sensitivity: log10 κ_k by rank k",
    "collapse": "Feature collapse: mean pairwise cosine of the rows",
    "sensitivity_baseline": "Each attack against the paired random ±ε baseline",
    "sensitivity_ratio": "MLP-Attn / 2L-ReLU ratio of mean flip rates",
    "sensitivity_diagnostics": "Attack diagnostics on the top-k set",
    "complexity_by_group": "Complexity by influence group: share of ‖f‖²_H and leave-out change",
    "complexity_flip_by_group": "Flip rate by influence group under the attack",
    "complexity_u_shape": "U shape of the complexity and its relation to the flip rate",
    "examples_overlap": OVERLAP_TITLE,
    "landscape": "Loss landscape: curvature and basin area around the trained weights",
    "landscape_difference": "Loss landscape: MLP-Attn − 2L-ReLU, paired per seed",
    "audit": "Influence methods: agreement with retraining, malleability, ensembling",
    "audit_malleability": "Influence methods: malleability, attack against the random baseline",
}
_TABLE_NOTES = {
    "table1_ntk_distance": (
        "Columns: width m. Kernel metrics on the training inputs, function-space distance on "
        "held-out points. For a multi-class network trained by cross-entropy the "
        "function-space distance compares logits with a regressor of one-hot targets, whose "
        'scales differ (set ntk.loss = "mse" for a scale-comparable distance): it carries no '
        "verdict. Softmax and exponential attention give identical features after the row "
        "normalisation (the softmax denominator is a per-row scale), so their rows coincide. "
        "Stopping: 'convergence' networks train until their training loss stops improving "
        "(capped at training.max_epochs), 'fixed' ones for exactly training.epochs, the control "
        "(runs made before the rule existed read 'fixed'); the training column counts the "
        "trained networks of the row over widths and seeds that stopped at convergence, and "
        "gives their mean epochs used (range)."
    ),
    "table2_flip_rates": (
        "Share of the top-k most helpful training points (k = ⌈top_fraction · n⌉) whose "
        "influence changes sign after the attack; the random ±ε column is the null baseline on "
        "the same points. ε in the units of the ε-units column (pixel: [0, 1] pixels)."
    ),
    "table3_adversarial_training": (
        "Columns: how the network was trained. Rows: flip rate under each attack, and the "
        "clean test accuracy."
    ),
    "table5_interventions": (
        "Columns: epochs of training; test accuracy recorded at the end of that epoch during "
        "the one training run of each model. The column equal to the epoch budget "
        "(training.epochs for fixed epochs, training.max_epochs at convergence: a network that "
        "stopped earlier keeps its final accuracy there) is the final model. "
        "baseline_accuracy: the unmodified training set."
    ),
    "sensitivity_baseline": (
        "Flip rate of the attack and of the random ±ε baseline on the same network, seed and "
        "top-k points (mean ± 95 % CI over seeds, %); excess = attack − random, a t-interval of "
        "the per-seed differences; explained by random = random mean / attack mean. Spearman "
        "ρ and top-k stability: attack (random)."
    ),
    "sensitivity_ratio": (
        "Ratio of the mean flip rates of MLP-Attn and 2L-ReLU over the seeds both have, with a "
        "paired percentile bootstrap 95 % CI (scipy.stats.bootstrap, seeds resampled "
        "together; with 3 seeds it is coarse). ∞: 2L-ReLU flips nothing in any seed; "
        "'random' rows compare the two baselines. The verdicts rest on this table."
    ),
    "sensitivity_diagnostics": (
        "On the clean top-k set T: share the network classifies correctly and mean "
        "cross-entropy, before and after the attack (attention steps use the attacked "
        "training matrix as reference set); input cosine: mean cosine between clean and "
        "attacked rows of T as they enter the network; condition: LAPACK's estimate of the "
        "1-norm condition number of K + αI before and after (from the influence "
        "computation's own factorisation). "
        "An attack that raises neither the loss nor the flip rate above the random baseline "
        "is weak, not a sign of a stable ranking."
    ),
    "kappa": (
        "κ_r = λ₁/λ_r of G = X Xᵀ, read at the rank r of its column. Sufficient widths "
        "κ² n ln n (2L-ReLU) and κ⁶ n ln n (MLP-Attn) are sufficient conditions of the proof "
        "with unknown constants (the paper leaves a lower bound open): orders of magnitude; "
        "their ratio, κ⁴, is the informative number. The bound κ · exp(2(λ₁ − λ_r)/τ) is that "
        "of the matrix-exponential model (Prop. 4.11): it does not hold for the entrywise "
        "softmax that softmax attention computes."
    ),
    "complexity_by_group": (
        "Columns: influence group, 1 = most harmful to 10 = most helpful (clean scores, groups "
        "of equal size). Share: the group's part of ‖f‖²_H = βᵀKβ of the kernel ridge fit "
        "(sums to 1). Leave-out change: (‖f_−g‖²_H − ‖f‖²_H) / ‖f‖²_H with the ridge refitted "
        "without the group."
    ),
    "complexity_flip_by_group": (
        "Share of each group's points whose influence changes sign when every training point "
        "is attacked (the part's attack and ε). The middle groups hold the scores nearest 0, "
        "whose sign any small change can flip: read a peak there with that in mind."
    ),
    "complexity_u_shape": (
        "U statistic per seed: min(share of group 1, share of the last group) − mean share of "
        "the middle groups; the U shape is there when its 95 % t-interval over seeds lies "
        "above 0. Spearman ρ between the groups' mean share and mean flip rate, two-sided p."
    ),
    "kappa_rank_curve": (
        "κ_k = λ₁/λ_k at each rank k of the curve: the sufficient widths change by orders of "
        "magnitude with the rank at which κ is read."
    ),
    "examples_overlap": OVERLAP_NOTE,
    "landscape": (
        "The training objective at θ* + a·d₁ + b·d₂ (filter-normalised random directions, grid "
        "[-span, span]², see the cell settings). Curvature: central finite difference "
        "(L(h) − 2L(0) + L(−h))/h² at the grid step h; mean curvature: of d₁ and d₂. Basin "
        "area: share of the grid whose loss is at most the centre's plus rise (0.1 by "
        "default). Lower curvature and larger area: a flatter, broader minimum."
    ),
    "landscape_difference": (
        "Per seed, the MLP-Attn value minus the 2L-ReLU value (same training points, same "
        "directions' seed), then mean ± 95 % Student-t CI over seeds. The sentences above "
        "rest on this table."
    ),
    "audit": AUDIT_NOTE,
    "audit_malleability": AUDIT_MALLEABILITY_NOTE,
}
_SECTION_OF = {
    "table1_ntk_distance": "ntk",
    "table2_flip_rates": "malleability",
    "table2_spearman": "malleability",
    "table2_top_k": "malleability",
    "table3_adversarial_training": "malleability",
    "table5_interventions": "interventions",
    "kappa": "kappa",
    "kappa_rank_curve": "kappa",
    "collapse": "collapse",
    "sensitivity_baseline": "malleability",
    "sensitivity_ratio": "malleability",
    "sensitivity_diagnostics": "malleability",
    "complexity_by_group": "complexity",
    "complexity_flip_by_group": "complexity",
    "complexity_u_shape": "complexity",
    "examples_overlap": "examples",
    "landscape": "landscape",
    "landscape_difference": "landscape",
    "audit": "audit",
    "audit_malleability": "audit",
}
# Figures are drawn per part; the sensitivity figures belong to the malleability part.
_FIGURE_SECTION = {"sensitivity": "malleability"}
_SECTIONS = [
    ("kappa", "Condition number κ and sufficient width (part kappa)"),
    ("collapse", "Feature collapse (part collapse)"),
    ("ntk", "NTK distance vs width (part ntk)"),
    ("malleability", "Malleability of influence scores (part malleability)"),
    ("interventions", "Interventions (part interventions)"),
    ("complexity", "Complexity by influence group (part complexity)"),
    ("examples", SECTION_TITLE),
    ("landscape", "Loss landscape (part landscape)"),
    ("audit", f"{AUDIT_TITLE} (part audit)"),
]
_SENSITIVITY_TABLES = ("baseline", "ratio", "diagnostics")
# Column names in words, with units; columns not listed keep their name.
_WORDS = {
    "n_train": "n (training points)",
    "width": "width m",
    "epsilon": "ε",
    "epsilon_space": "ε units",
    "adversarial_training": "adversarial training",
    "metric": "quantity",
    "n": "seeds",
    "kind": "intervention",
    "numerical_rank": "numerical rank",
    "rank": "rank r (κ read at)",
    "log10_kappa": "log10 κ_r",
    "log10_kappa^3": "log10 κ_r³",
    "log10_kappa_attention_measured": "log10 κ of X C (measured)",
    "log10_softmax_bound": "log10 bound of the matrix-exponential model",
    "log10_width_relu": "log10 sufficient width, 2L-ReLU",
    "log10_width_attention": "log10 sufficient width, MLP-Attn",
    "orders_above_practical_attention": "MLP-Attn: orders above practical width",
    "collapse_raw": "mean cosine, raw rows",
    "collapse_attention": "mean cosine, X C rows",
    "attack flip": "attack flip rate (%)",
    "random flip": "random ±ε flip rate (%)",
    "excess": "excess (% points)",
    "explained by random": "explained by random (%)",
    "top_correct_before": "top-k correct before",
    "top_correct_after": "top-k correct after",
    "top_loss_before": "top-k cross-entropy before",
    "top_loss_after": "top-k cross-entropy after",
    "input_cosine": "input cosine",
    "condition_before": "condition of K + αI before",
    "condition_after": "condition of K + αI after",
    "kernel": "kernel",
}
# Per table: the words of its pivoted value columns (attacks, widths, transforms, epochs).
_VALUE_WORDS = {
    "table1_ntk_distance": "m = {}",
    "table2_flip_rates": "{} flip rate (%)",
    "table2_spearman": "{} Spearman ρ",
    "table2_top_k": "{} top-k stability",
    "table3_adversarial_training": "{} training (%)",
    "table5_interventions": "epoch {} (%)",
    "collapse": "mean cosine, {}",
    "complexity_by_group": "group {}",
    "complexity_flip_by_group": "group {} (%)",
}


def in_words(frame, name=None):
    """``frame`` with its column names in words and units (:data:`_WORDS`)."""
    pattern = _VALUE_WORDS.get(name)
    named = set(_WORDS) | {
        "dataset",
        "setting",
        "architecture",
        "attack",
        "stage",
        "transform",
        "stopping",
        NEAR_CHANCE,
        *CONVERGENCE,
    }
    words = {
        c: _WORDS.get(c, pattern.format(c) if pattern and c not in named else c)
        for c in frame.columns
    }
    return frame.rename(columns=words)


def _table(frame, name=None, **options):
    if len(frame) > LONG_TABLE:
        options["collapse"] = True
    frame = in_words(frame, name)
    return ("table", frame, options) if options else ("table", frame)


def _summary_blocks(run_dir, results, cells):
    n_ok = int((cells["status"] == "ok").sum())
    seeds = sorted(int(s) for s in results["seed"].dropna().unique()) if not results.empty else []
    status = cells["status"].value_counts().to_dict()
    text = (
        f"{len(cells)} cells in the grid: {n_ok} finished"
        + "".join(f", {v} {k}" for k, v in sorted(status.items()) if k != "ok")
        + f". Seeds: {seeds or 'none'}. Cells: mean ± half-width of the two-sided 95 % "
        "Student-t interval over seeds; a value without ± comes from one seed (no CI). "
        "Flip rates in %."
    )
    return [("h1", f"attnkernel run — {run_dir.name}"), ("p", text)]


def _verdict_notes(results, health):
    notes = [
        "Each verdict names the statistic it rests on; no verdict compares two unpaired "
        "intervals. Malleability: 'gap' when the paired bootstrap CI of the MLP-Attn / 2L-ReLU "
        "ratio lies above 1, 'no gap' when it contains 1, 'opposite' below 1, at every ε "
        "measured. NTK distance: the cosine distance carries the verdict (it is "
        "scale-invariant); the relative Frobenius distance is shown in its section without a "
        "verdict, and the function-space distance carries one only for networks trained by "
        "MSE (under cross-entropy it compares quantities of different scale)."
    ]
    n_near = int(health["near_chance"].sum())
    if n_near:
        notes.append(
            f"{n_near} trained network(s) are near chance on their training set (see "
            "Networks): their cells are left out of the verdicts and flagged in the tables."
        )
    if "dataset" in results and "digits" in set(results["dataset"].dropna()):
        notes.append(
            "digits (8×8, 64 features) is not MNIST: its paper comparisons are against the "
            "paper's MNIST figures and show direction, not exact agreement."
        )
    return [("p", note) for note in notes]


def _verdict_blocks(results, verdicts, sentences, health):
    blocks = [("h2", "Verdicts on the paper's claims")]
    if verdicts.empty:
        blocks.append(("p", "No measured cell matches a claim of the paper yet."))
    else:
        blocks.append(("table", verdicts, {"id": "verdicts"}))
    blocks += _verdict_notes(results, health)
    stopping = stopping_sentences(results)
    if stopping:
        blocks.append(("h3", "Converged vs fixed-epoch training (NTK distance)"))
        blocks.append(("list", stopping))
    if sentences:
        blocks.append(("h3", "Where we disagree with the paper"))
        blocks.append(("list", sentences))
    else:
        blocks.append(("p", "No disagreement with the paper was found in the measured cells."))
    return blocks


def _network_blocks(results, health):
    settings = settings_table(results)
    if settings.empty:
        return []
    blocks = [
        ("h2", "Networks"),
        ("h3", "Training settings per part"),
        _table(settings),
        (
            "p",
            "As the cells recorded them, with Adam. Stopping rule 'convergence': training "
            "stops once the training loss has not fallen by the tolerance below its best for "
            "'patience' epochs in a row, at most max epochs; 'fixed': exactly the given epochs "
            "(runs made before the rule existed: every network).",
        ),
    ]
    ntk_fit = ntk_fit_table(results)
    if not ntk_fit.empty:
        blocks += [
            ("h3", "Fit of the ntk networks (Table 1)"),
            _table(ntk_fit),
            (
                "p",
                "Mean ± 95 % CI over seeds, per stopping rule and width m of the NTK-distance "
                "sweep. Converged: the network stopped at convergence before or at max epochs "
                "('—' under fixed epochs, which have no rule to meet).",
            ),
        ]
    elif "ntk" in set(settings["part"]):
        blocks.append(
            (
                "p",
                "The ntk cells of this run record kernel and function distances only, not the "
                "fit of the networks they train (runs made before that was recorded).",
            )
        )
    if health.empty:
        return blocks
    blocks += [
        ("h3", "Fit of the malleability networks"),
        _table(networks_table(health)),
        (
            "p",
            "Mean ± 95 % CI over seeds. Converged: the stop at convergence of the settings' "
            "tolerance and patience fired by the last epoch (training to convergence: the "
            "network stopped there; fixed epochs: it would have; runs made before the rule "
            "existed: tol = 1e-3 over 10 epochs). Near chance: training accuracy closes "
            "at most 10 % of the gap between the majority-class share and a perfect fit "
            "(NearChanceWarning). '—': not recorded by this run (cells written before "
            "train accuracy, training loss and convergence were recorded).",
        ),
    ]
    return blocks


def _sensitivity_findings(tables, results):
    """The sensitivity sentences, from the cells of networks that are not near chance."""
    kept, n_dropped = drop_near_chance(results)
    if n_dropped:
        found = sensitivity_sentences(sensitivity_tables(kept))
    else:
        found = sensitivity_sentences(
            {
                short: tables[f"sensitivity_{short}"][0]
                for short in _SENSITIVITY_TABLES
                if f"sensitivity_{short}" in tables
            }
        )
    intro = "What the measured cells say, in plain words"
    if n_dropped:
        intro += f" ({n_dropped} network(s) near chance left out)"
    if not found and n_dropped:
        return [("p", f"{intro}: nothing, the cells left have nothing to pair.")]
    if not found:
        return []
    return [("p", intro + ":"), ("list", found)]


# Malleability tables that do not repeat the networks' convergence: the attack diagnostics are
# per attack and already 12 columns wide (the other malleability tables show it).
_WITHOUT_CONVERGENCE = ("sensitivity_diagnostics",)


def _table_blocks(name, display, health):
    note = _TABLE_NOTES.get(name, "")
    if _SECTION_OF[name] == "malleability":
        display = near_chance_column(display, health)
        if name not in _WITHOUT_CONVERGENCE:
            display = convergence_column(display, health)
    return [
        ("h3", _TITLES[name]),
        _table(display, name),
        ("p", f"{note} CSV: tables/{name}.csv (long form with mean, ci95, n).".strip()),
    ]


# Parts whose section lists its plain-words findings before its tables.
_FINDINGS = {"landscape": landscape_findings, "audit": audit_findings}


def _section_blocks(section, title, tables, figures, health, results):
    names = [n for n in tables if _SECTION_OF[n] == section]
    figs = [f for f in figures if _FIGURE_SECTION.get(f[0], f[0]) == section]
    if not names and not figs:
        return []
    blocks = [("h2", title)]
    blocks += [("figure", path, caption) for _, path, caption in figs]
    if section == "malleability":
        blocks += _sensitivity_findings(tables, results)
    if section == "complexity" and complexity_sentences(results):
        blocks += [("p", "What the measured cells say:"), ("list", complexity_sentences(results))]
    if section in _FINDINGS and (found := _FINDINGS[section](results)):
        blocks.append(("list", found))
    for name in names:
        blocks += _table_blocks(name, tables[name][1], health)
    return blocks


def _failure_blocks(cells):
    notes = cells[cells["notes"].fillna("") != ""]
    failed = cells[cells["status"].isin(["error", "corrupt"])]
    if failed.empty and notes.empty:
        return []
    items = [f"{r.part} {r.key}: {r.status} — {r.error}" for r in failed.itertuples()]
    items += sorted({f"{r.part}: {r.notes}" for r in notes.itertuples()})
    return [("h2", "Failed cells and notes"), ("list", items)]


def _compute_blocks(cells):
    timing = (
        cells.dropna(subset=["wall_time_s"]).groupby("part")["wall_time_s"].agg(["count", "sum"])
    )
    if timing.empty:
        return []
    frame = timing.reset_index().rename(columns={"count": "cells", "sum": "cell time (s)"})
    frame["cell time (s)"] = frame["cell time (s)"].round(1)
    versions = sorted(cells["versions"].dropna().unique())
    devices = sorted(cells["device"].dropna().unique())
    return [
        ("h2", "Compute"),
        ("table", frame),
        ("p", f"Devices: {', '.join(devices)}. Versions: {'; '.join(versions)}."),
    ]


def report_blocks(run_dir, results, cells, tables, figures):
    """The blocks of the report of a run folder, in reading order.

    Parameters
    ----------
    run_dir : pathlib.Path
        The run folder (its name titles the report).
    results, cells : pandas.DataFrame
        From :func:`~sklearn_attnkernel.analysis.report.load_results`.
    tables : dict
        From :func:`~sklearn_attnkernel.analysis.report.build_tables`.
    figures : list of (str, path, str)
        ``(part, png path, caption)`` of each drawn figure.

    Returns
    -------
    blocks : list of tuple
        See the module docstring.
    """
    verdicts, sentences = compare_with_paper(results, tables)
    health = network_health(results)
    blocks = _summary_blocks(run_dir, results, cells)
    blocks += _verdict_blocks(results, verdicts, sentences, health)
    blocks += _network_blocks(results, health)
    for section, title in _SECTIONS:
        blocks += _section_blocks(section, title, tables, figures, health, results)
    return blocks + _failure_blocks(cells) + _compute_blocks(cells)
