"""The paper's tables from the tidy results: one builder per part, each returning
``{name: (summary, display)}``; :func:`build_tables` runs them in report order."""

import numpy as np

from ..._utils.vocabulary import ATTACKS
from .audit import audit_tables
from .complexity import complexity_tables
from .examples import example_tables
from .formatting import label_architectures, wide
from .landscape import landscape_tables
from .load import part_rows
from .networks import CONVERGENCE, convergence_column, ntk_networks, with_stopping
from .sensitivity import sensitivity_displays, sensitivity_tables
from .stats import summarize

__all__ = ["build_tables"]

# What identifies one malleability measurement apart from architecture, attack and seed.
_MALLEABILITY_KEYS = ["dataset", "setting", "n_train", "width", "epsilon_space", "epsilon"]
_FLIP_TABLES = (
    ("flip_rate", "table2_flip_rates"),
    ("spearman", "table2_spearman"),
    ("top_k_stability", "table2_top_k"),
)
_KAPPA_QUANTITIES = [
    "numerical_rank",
    "rank",
    "log10_kappa",
    "log10_kappa^3",
    "log10_kappa_attention_measured",
    "log10_softmax_bound",
    "log10_width_relu",
    "log10_width_attention",
    "orders_above_practical_attention",
    "collapse_raw",
    "collapse_attention",
]


#: The ntk part's distances (Table 1); its other metrics describe the networks' fit.
NTK_DISTANCES = ("frobenius", "cosine", "function")


def _ntk_tables(results):
    """Table 1: distances per architecture × stopping rule × metric × stage, widths as
    columns, and (display only) how the trained networks of each row ended their training."""
    ntk = with_stopping(part_rows(results, "ntk"))
    distances = ntk[ntk["metric"].isin(NTK_DISTANCES)]
    if distances.empty:
        return {}
    keys = ["dataset", "setting", "n_train", "architecture", "stopping", "metric", "stage", "width"]
    summary = summarize(distances, keys)
    display = wide(label_architectures(summary), keys[:-1], "width")
    display = convergence_column(display, ntk_networks(ntk))
    if CONVERGENCE[0] in display:
        # the epochs used are in the networks section (ntk fit table): five widths and the
        # converged count fit one screen width, a sixth column does not
        display = display.drop(columns=CONVERGENCE[1])
        # the networks at initialisation did not train
        display.loc[display["stage"] == "init", CONVERGENCE[0]] = ""
    return {"table1_ntk_distance": (summary, display)}


def _order_attacks(display):
    fixed = [c for c in display.columns if c not in ATTACKS]
    attacks = [c for c in ATTACKS if c in display.columns]
    display = display[fixed + attacks]
    return display.rename(columns={"random": "random (baseline)"})


def _flip_tables(results):
    mal = part_rows(results, "malleability")
    if mal.empty:
        return {}
    standard = mal[mal["adversarial_training"] == False]  # noqa: E712 (nullable boolean)
    tables = {}
    for metric, name in _FLIP_TABLES:
        rows = standard[standard["metric"] == metric]
        if rows.empty:
            continue
        summary = summarize(rows, [*_MALLEABILITY_KEYS, "architecture", "attack"])
        display = wide(
            label_architectures(summary),
            [*_MALLEABILITY_KEYS, "architecture"],
            "attack",
            percent=metric == "flip_rate",
        )
        tables[name] = (summary, _order_attacks(display))
    return tables


def _adversarial_training_tables(results):
    mal = part_rows(results, "malleability")
    if mal.empty:
        return {}
    adv = mal[mal["metric"].isin(["flip_rate", "test_accuracy"])]
    trained = adv["adversarial_training"]
    if not (trained.nunique() > 1 or (trained == True).any()):  # noqa: E712
        return {}
    adv = adv.copy()
    adv["training"] = np.where(adv["adversarial_training"], "adversarial", "standard")
    keys = [*_MALLEABILITY_KEYS, "architecture", "attack", "metric"]
    summary = summarize(adv, [*keys, "training"])
    display = wide(
        label_architectures(summary),
        keys,
        "training",
        percent=True,
        order=["standard", "adversarial"],
    )
    return {"table3_adversarial_training": (summary, display)}


def _intervention_tables(results):
    itv = part_rows(results, "interventions")
    if itv.empty:
        return {}
    itv = itv.copy()
    itv["epoch"] = itv["epoch"].astype("string").fillna("final")
    keys = ["dataset", "setting", "n_train", "architecture", "width", "kind", "metric"]
    summary = summarize(itv, [*keys, "epoch"])
    display = wide(label_architectures(summary), keys, "epoch", percent=True)
    return {"table5_interventions": (summary, display)}


def _kappa_tables(results):
    kappa = part_rows(results, "kappa")
    if kappa.empty:
        return {}
    data = ["dataset", "setting", "n_train"]
    summary = summarize(kappa[kappa["metric"].isin(_KAPPA_QUANTITIES)], [*data, "metric"])
    display = wide(summary, data, "metric", digits=4)
    display = display[[c for c in [*display.columns[:3], *_KAPPA_QUANTITIES] if c in display]]
    tables = {"kappa": (summary, display)}
    curve = summarize(kappa[kappa["metric"] == "curve_log10_kappa"], [*data, "rank"])
    # long, not pivoted: each data set has its own ranks, so a wide table would be half empty
    display = curve[[*data, "rank"]].assign(**{"log10 κ_k": [f"{v:.3g}" for v in curve["mean"]]})
    display = display.rename(columns={"rank": "rank k"}).sort_values([*data, "rank k"])
    display = display.reset_index(drop=True)
    tables["kappa_rank_curve"] = (curve, display)
    return tables


def _collapse_tables(results):
    collapse = part_rows(results, "collapse")
    if collapse.empty:
        return {}
    rows = collapse[collapse["metric"] == "mean_cosine"]
    summary = summarize(rows, ["dataset", "setting", "n_train", "transform"])
    display = wide(summary, ["dataset", "setting", "n_train"], "transform", digits=4)
    return {"collapse": (summary, display)}


def _sensitivity_tables(results):
    if part_rows(results, "malleability").empty:
        return {}
    sensitivity = sensitivity_tables(results)
    return {
        name: (sensitivity[name.removeprefix("sensitivity_")], display)
        for name, display in sensitivity_displays(sensitivity).items()
    }


# In the order the report shows the tables of one section.
_BUILDERS = (
    _ntk_tables,
    _flip_tables,
    _adversarial_training_tables,
    _intervention_tables,
    _kappa_tables,
    _collapse_tables,
    _sensitivity_tables,
    complexity_tables,
    example_tables,
    landscape_tables,
    audit_tables,
)


def build_tables(results):
    """Build the paper's tables from tidy results.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results from :func:`load_results`.

    Returns
    -------
    tables : dict of str to (pandas.DataFrame, pandas.DataFrame)
        Name → ``(summary, display)``: the long summary (mean, ci95, n, low, high per group)
        and a wide table of ``mean ± ci95`` strings. Names: ``table1_ntk_distance``,
        ``table2_flip_rates``, ``table2_spearman``, ``table2_top_k``,
        ``table3_adversarial_training``, ``table5_interventions``, ``kappa``,
        ``kappa_rank_curve``, ``collapse``, ``complexity_by_group``,
        ``complexity_flip_by_group``, ``complexity_u_shape``, ``examples_overlap``. Tables
        whose part was not run are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report import build_tables
    >>> results = pd.DataFrame({
    ...     "part": "collapse", "dataset": "digits", "setting": "binary", "n_train": 268,
    ...     "transform": ["raw", "raw", "linear", "linear"], "seed": [0, 1, 0, 1],
    ...     "metric": "mean_cosine", "value": [0.62, 0.64, 0.99, 0.99]})
    >>> build_tables(results)["collapse"][1]
      dataset setting  n_train    linear            raw
    0  digits  binary      268  0.99 ± 0  0.63 ± 0.1271
    """
    tables = {}
    for builder in _BUILDERS:
        tables.update(builder(results))
    return tables
