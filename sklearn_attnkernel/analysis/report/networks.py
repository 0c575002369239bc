"""The trained networks of a run: their settings, how well they fit, and which are near chance.

A flip rate cannot be read without knowing how well the network fits, so the report shows, per
part, the training settings its cells recorded, and per architecture × width the train and
test accuracy, the final training loss and whether training had converged (mean ± 95 % CI over
seeds). A network whose training accuracy is near chance
(:data:`~sklearn_attnkernel.influence.health.NEAR_CHANCE_SKILL`, the rule of
:class:`~sklearn_attnkernel.influence.health.NearChanceWarning`) learned nothing: its influence
scores mean nothing, so :func:`drop_near_chance` leaves its cells out of the verdicts and
:func:`near_chance_column` flags them in every table that uses them.
"""

import pandas as pd

from ..._utils.vocabulary import TRAINED_PARTS
from ...influence.health import NEAR_CHANCE_SKILL
from .formatting import format_ci, label_architectures
from .load import part_rows
from .stats import mean_ci

__all__ = [
    "CONVERGENCE",
    "NEAR_CHANCE",
    "NETWORK_KEYS",
    "convergence_column",
    "convergence_text",
    "drop_near_chance",
    "near_chance_column",
    "network_health",
    "networks_table",
    "ntk_fit_table",
    "ntk_networks",
    "settings_table",
    "with_stopping",
]

#: What identifies one trained network of the malleability part (its cells share it).
NETWORK_KEYS = [
    "dataset",
    "setting",
    "n_train",
    "architecture",
    "width",
    "adversarial_training",
    "seed",
]
_HEALTH = [
    "train_accuracy",
    "chance_accuracy",
    "test_accuracy",
    "train_loss",
    "epochs_used",
    "converged",
]
# Training settings shown per part, with their words; a setting no cell recorded is left out.
_SETTINGS = (
    ("stopping", "stopping rule"),
    ("max_epochs", "max epochs (convergence)"),
    ("epochs", "epochs (fixed)"),
    ("lr", "learning rate"),
    ("batch_size", "batch size"),
    ("reg_lambda", "λ (weight of ‖θ − θ₀‖²)"),
    ("sigma_w", "σ_w"),
    ("width", "widths m"),
    ("tol", "tolerance"),
    ("n_iter_no_change", "patience (epochs)"),
    ("loss", "loss (ntk: training; the other parts: exact influence)"),
    ("dtype", "dtype"),
)
#: The column that flags rows whose networks include some near chance.
NEAR_CHANCE = "near chance"
#: The two columns that say how the training of a row's networks ended: how many converged
#: (e.g. "2/3"), and the epochs they used (mean, with the range when they differ). Two short
#: columns rather than one sentence keep wide tables such as Table 1 to one line per row.
CONVERGENCE = ("converged", "epochs used")
# What a convergence column may match a table's rows on (besides the network's seed).
_CONVERGENCE_KEYS = [*(key for key in NETWORK_KEYS if key != "seed"), "stopping"]


def with_stopping(frame):
    """A copy of ``frame`` whose ``stopping`` column names every row's rule.

    Cells written before the stopping rule existed have none: they trained a fixed number of
    epochs, so they read ``"fixed"``.
    """
    frame = frame.copy()
    rule = frame["stopping"] if "stopping" in frame else pd.Series(pd.NA, index=frame.index)
    frame["stopping"] = rule.astype("string").fillna("fixed")
    return frame


def _convergence_counts(converged, epochs_used):
    """``(converged, epochs)`` texts of a group of networks, e.g. ``("2/3", "61 (38–100)")``;
    each is '—' when nothing of it was recorded."""
    flags = pd.Series(converged, dtype=float).dropna()
    epochs = pd.Series(epochs_used, dtype=float).dropna()
    count = f"{int(flags.sum())}/{flags.size}" if not flags.empty else "—"
    if epochs.empty:
        return count, "—"
    low, high = epochs.min(), epochs.max()
    spread = f" ({low:.0f}–{high:.0f})" if low != high else ""
    return count, f"{epochs.mean():.0f}{spread}"


def convergence_text(converged, epochs_used):
    """How a group of networks' training ended, in words: '2/3 converged, 61 epochs (38–100)'.

    ``converged`` (1 or 0 per network; NaN: no stopping rule to meet) and ``epochs_used``
    (per network; NaN: not recorded) are counted over the values present; the epochs are their
    mean, with the range when they differ. '—' when neither was recorded.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.report.networks import convergence_text
    >>> convergence_text([1.0, 1.0, 0.0], [38.0, 45.0, 100.0])
    '2/3 converged, 61 epochs (38–100)'
    >>> convergence_text([float("nan")] * 2, [60.0, 60.0])
    '60 epochs'
    """
    count, epochs = _convergence_counts(converged, epochs_used)
    parts = []
    if count != "—":
        parts.append(f"{count} converged")
    if epochs != "—":
        mean, _, spread = epochs.partition(" ")
        parts.append(f"{mean} epochs {spread}".strip())
    return ", ".join(parts) or "—"


def convergence_column(display, networks):
    """``display`` with the two :data:`CONVERGENCE` columns: how its rows' networks trained.

    ``networks`` holds one row per trained network with ``converged`` and ``epochs_used``
    (e.g. :func:`network_health`); each row of ``display`` gets the
    counts of the networks it shares its keys with (converged seeds, and the epochs used as in
    :func:`convergence_text`; architecture in display
    labels). A table without an ``adversarial_training`` column shows standard training, so
    adversarially trained networks are left out of it. ``display`` is returned unchanged when
    no network recorded either number (runs made before they were).
    """
    columns = ["converged", "epochs_used"]
    if display.empty or networks.empty or networks.reindex(columns=columns).isna().all().all():
        return display
    if "adversarial_training" not in display and "adversarial_training" in networks:
        networks = networks[networks["adversarial_training"] != True]  # noqa: E712
    keys = [k for k in _CONVERGENCE_KEYS if k in display and k in networks]
    texts = [
        (*group_keys, *_convergence_counts(group["converged"], group["epochs_used"]))
        for group_keys, group in label_architectures(networks).groupby(keys, dropna=False)
    ]
    texts = pd.DataFrame(texts, columns=[*keys, *CONVERGENCE]).astype({k: object for k in keys})
    merged = display.astype({k: object for k in keys}).merge(texts, on=keys, how="left")
    merged[list(CONVERGENCE)] = merged[list(CONVERGENCE)].fillna("—")
    return merged


def ntk_networks(results):
    """One row per trained network of the ntk part: its keys, ``epochs_used`` and
    ``converged`` (NaN where the cells did not record them)."""
    ntk = with_stopping(part_rows(results, "ntk"))
    ntk = ntk[ntk["metric"].isin(["epochs_used", "converged"])]
    keys = ["dataset", "setting", "n_train", "architecture", "width", "stopping", "seed"]
    if ntk.empty:
        return pd.DataFrame(columns=[*keys, "epochs_used", "converged"])
    wide = ntk.groupby([*keys, "metric"], dropna=False)["value"].first().unstack("metric")
    wide = wide.reset_index()
    wide.columns.name = None
    return wide.reindex(columns=[*keys, "epochs_used", "converged"])


def network_health(results):
    """One row per trained network of the malleability part: how well it fits.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results (from :func:`~sklearn_attnkernel.analysis.report.load_results`).

    Returns
    -------
    health : pandas.DataFrame
        :data:`NETWORK_KEYS`, then ``train_accuracy``, ``chance_accuracy``,
        ``test_accuracy``, ``train_loss``, ``epochs_used``, ``converged`` (1 or 0) — NaN
        where the cells did
        not record them (runs made before they were) — and ``near_chance`` (True when the skill
        ``(train − chance) / (1 − chance)`` is at most ``NEAR_CHANCE_SKILL``; False when
        unknown).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report.networks import network_health
    >>> rows = pd.DataFrame({"part": "malleability", "dataset": "digits", "setting": "binary",
    ...     "n_train": 100, "architecture": "relu", "width": 64, "adversarial_training": False,
    ...     "seed": [0, 0], "metric": ["train_accuracy", "chance_accuracy"],
    ...     "value": [0.52, 0.5]})
    >>> network_health(rows)["near_chance"].tolist()
    [True]
    """
    mal = part_rows(results, "malleability") if "part" in results else results.iloc[:0]
    mal = mal[mal["metric"].isin(_HEALTH)]
    if mal.empty:
        return pd.DataFrame(columns=[*NETWORK_KEYS, *_HEALTH, "near_chance"])
    wide = mal.pivot_table(
        index=NETWORK_KEYS, columns="metric", values="value", aggfunc="first", dropna=False
    )
    wide = wide.dropna(how="all").reset_index()
    wide.columns.name = None
    for name in _HEALTH:
        if name not in wide:
            wide[name] = float("nan")
    chance = wide["chance_accuracy"]
    skill = (wide["train_accuracy"] - chance) / (1.0 - chance)
    wide["near_chance"] = (skill <= NEAR_CHANCE_SKILL).fillna(False).astype(bool)
    return wide[[*NETWORK_KEYS, *_HEALTH, "near_chance"]]


def drop_near_chance(results):
    """``results`` without the rows of networks near chance (left out of the verdicts).

    Returns the kept rows and the number of networks left out.
    """
    health = network_health(results)
    bad = health.loc[health["near_chance"], NETWORK_KEYS]
    if bad.empty:
        return results, 0
    marked = results.merge(bad.assign(_near=True), on=NETWORK_KEYS, how="left")
    keep = ~(marked["_near"].fillna(False).astype(bool) & (marked["part"] == "malleability"))
    return results[keep.to_numpy()], len(bad)


def near_chance_column(display, health):
    """``display`` with a column counting its near-chance seeds, when the run has any.

    The count matches on the columns ``display`` shares with :data:`NETWORK_KEYS` (the
    architecture in display labels); rows with none read ''.
    """
    flagged = health[health["near_chance"]]
    if flagged.empty or display.empty:
        return display
    keys = [k for k in NETWORK_KEYS if k != "seed" and k in display]
    counts = (
        label_architectures(health).groupby(keys, dropna=False)["near_chance"].agg(["sum", "count"])
    )
    counts = counts[counts["sum"] > 0].reset_index()
    pairs = zip(counts["sum"], counts["count"], strict=True)
    counts[NEAR_CHANCE] = [f"{s} of {c} networks" for s, c in pairs]
    merged = display.astype({k: object for k in keys}).merge(
        counts[[*keys, NEAR_CHANCE]].astype({k: object for k in keys}), on=keys, how="left"
    )
    merged[NEAR_CHANCE] = merged[NEAR_CHANCE].fillna("")
    return merged


def _joined(values):
    values = sorted({v for v in values if not pd.isna(v)}, key=lambda v: (str(type(v)), v))
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) or "—"


def settings_table(results):
    """The training settings the cells of each part recorded, one row per part.

    A setting with several values in a part (e.g. its widths, or the ntk part's two stopping
    rules) lists them all. Cells written before the stopping rule existed read "fixed": they
    trained for exactly ``epochs``.
    """
    rows = []
    for part in TRAINED_PARTS:
        cells = part_rows(results, part) if "part" in results else results.iloc[:0]
        if cells.empty:
            continue
        cells = with_stopping(cells)
        row = {"part": part}
        for column, words in _SETTINGS:
            if column in cells and cells[column].notna().any():
                row[words] = _joined(cells[column].dropna().unique())
        rows.append(row)
    return pd.DataFrame(rows).fillna("—")


def _seeds_of(flags):
    return f"{int(flags.sum())} of {flags.notna().sum()}" if flags.notna().any() else "—"


_NTK_FIT = (
    ("train_score", "train accuracy (%)", True),
    ("eval_score", "test accuracy (%)", True),
    ("train_loss", "final training loss", False),
    ("epochs_used", "epochs used", False),
)


def ntk_fit_table(results):
    """Train/test accuracy (%), final training loss and epochs used of the ntk part's trained
    networks, per architecture × stopping rule × width: mean ± 95 % CI over seeds, and how
    many seeds converged (stopped by the rule before the cap; '—' for fixed epochs). Empty
    for runs that did not record them. Accuracy is recorded for classification only ('—' for
    a one-hot MSE regressor)."""
    ntk = with_stopping(part_rows(results, "ntk"))
    fit = [m for m, _, _ in _NTK_FIT]
    ntk = ntk[ntk["metric"].isin([*fit, "converged"])] if not ntk.empty else ntk
    if not ntk["metric"].isin(fit).any():
        return pd.DataFrame()
    keys = ["dataset", "setting", "n_train", "architecture", "stopping", "width"]
    rows = []
    for group_keys, group in label_architectures(ntk).groupby(keys, dropna=False, sort=True):
        row = dict(zip(keys, group_keys, strict=True))
        for metric, words, percent in _NTK_FIT:
            values = group.loc[group["metric"] == metric, "value"].to_numpy(dtype=float)
            row[words] = format_ci(*mean_ci(values), percent=percent) if values.size else "—"
        row["converged (seeds)"] = _seeds_of(group.loc[group["metric"] == "converged", "value"])
        rows.append(row)
    return pd.DataFrame(rows)


def networks_table(health):
    """Train/test accuracy (%), final training loss, epochs used and convergence per
    architecture × width.

    Mean ± 95 % CI over seeds (:func:`~sklearn_attnkernel.analysis.report.mean_ci`);
    ``converged`` and ``near chance`` count seeds. Columns a run did not record read '—'.
    """
    keys = [k for k in NETWORK_KEYS if k != "seed"]
    rows = []
    for group_keys, group in label_architectures(health).groupby(keys, dropna=False, sort=True):
        row = dict(zip(keys, group_keys, strict=True))
        for column, words, percent in (
            ("train_accuracy", "train accuracy (%)", True),
            ("test_accuracy", "test accuracy (%)", True),
            ("train_loss", "final training loss", False),
            ("epochs_used", "epochs used", False),
        ):
            mean, half, n = mean_ci(group[column].to_numpy(dtype=float))
            row[words] = format_ci(mean, half, n, percent=percent)
        row["converged (seeds)"] = _seeds_of(group["converged"])
        known = group["train_accuracy"].notna()
        row["near chance (seeds)"] = _seeds_of(group["near_chance"].where(known))
        rows.append(row)
    return pd.DataFrame(rows)
