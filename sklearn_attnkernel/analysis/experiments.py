"""The resumable experiment grid behind ``attnkernel run`` (issue #5 §2).

A run measures every claim of the paper on real data, with seeds, in five *parts*:

- ``kappa``: the κ report of the standardised training matrix (κ, κ³, required widths, the
  rank-sensitivity curve κ_k) and the spectra of ``G = X Xᵀ`` and ``G³``;
- ``collapse``: feature collapse (mean pairwise cosine, and its quantiles) of the raw rows and of
  linearized, softmax and exponential attention features;
- ``ntk``: distance of the network's NTK to the infinite-width one against width, three metrics,
  at initialisation and after training (:func:`~sklearn_attnkernel.ntk_width_sweep`);
- ``malleability``: flip rate, Spearman ρ and top-k stability of the NTK influence scores under
  FGSM, PGD, MIM and the random ±ε baseline, with standard or adversarial training, over an ε
  grid (pixel or standardized units) and a training-set size grid. Each cell also records attack
  diagnostics on the clean top-k set T: ``top_correct_before/after`` (share of T the network
  classifies correctly), ``top_loss_before/after`` (mean cross-entropy on T),
  ``input_cosine`` (mean cosine between clean and attacked rows of T as they enter the
  network) and ``condition_before/after`` (1-norm condition number of ``K + αI``, read from
  the influence computation's own factorisation);
- ``interventions``: test accuracy after the curated / transformed / adversarial interventions.

The grid is the Cartesian product of the config's axes (datasets × settings × training-set sizes
× architectures × widths × seeds × attacks × ε × ...). Each point is a :class:`Cell` whose
*canonical settings* (a flat dict of everything that determines its numbers) are hashed, sorted
JSON → sha256, into its key. A finished cell is written atomically (temporary file in the same
folder, ``fsync``, :func:`os.replace`) to ``<run>/cells/<part>-<key[:16]>.json``; a rerun skips
finished cells, and a corrupt or partial file is detected, logged, moved aside and recomputed,
so killing a run loses at most the cells in flight. Cells that share a trained network (the
attacks and ε values of one malleability fit) run as one task, which trains once.

Seeds come from the settings, never from the order of execution: the training subset of a
cell is drawn with ``derive_seed("train", dataset, setting, split, n_train, seed)``, the network
with ``derive_seed("model", seed)`` and the random baseline with a seed that does not depend on
the architecture, so both architectures see the same data and the same random draws. Cells run
with ``run.threads`` BLAS/torch threads each (default 1), so sequential, joblib,
:mod:`concurrent.futures` and Dask runs give identical numbers.

This module imports torch only inside the cells that need it.
"""

import concurrent.futures
import contextlib
import copy
import dataclasses
import datetime
import difflib
import functools
import hashlib
import json
import logging
import math
import os
import platform
import sys
import threading
import time
import tomllib
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from .store import (
    CELL_FORMAT,
    CorruptCellError,
    canonical_json,
    cell_key,
    quarantine,
    read_cell,
    write_cell,
)

__all__ = [
    "CELL_FORMAT",
    "PARTS",
    "QUICK_OVERRIDES",
    "Cell",
    "ConfigError",
    "CorruptCellError",
    "ExperimentConfig",
    "RunSummary",
    "cell_key",
    "derive_seed",
    "load_config",
    "read_cell",
    "run_experiment",
    "write_cell",
]

logger = logging.getLogger(__name__)

#: The parts of a run, in the order they are expanded and reported.
PARTS = ("kappa", "collapse", "ntk", "malleability", "interventions")

_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
_SETTINGS = ("multiclass", "binary")
_SPLITS = ("train", "test", "all")
_ARCHITECTURES = ("relu", "attention", "softmax", "exponential")
_ATTACKS = ("fgsm", "pgd", "mim", "random")
_ADVERSARIAL_METHODS = ("fgsm", "pgd", "mim")
_TRANSFORMS = ("raw", "linear", "softmax", "exponential")
_STAGES = ("init", "trained")
_NTK_METRICS = ("frobenius", "cosine", "function")
_INTERVENTIONS = ("curated", "transformed", "adversarial")
# --------------------------------------------------------------------------------------------
# The config: defaults, presets and validation
# --------------------------------------------------------------------------------------------

#: The default grid (the digits analysis). Every value is ours unless PAPER.md gives it; see
#: :class:`ExperimentConfig` for the meaning of each key.
DEFAULT_CONFIG = {
    "run": {
        "name": None,
        "seeds": [0, 1, 2, 3, 4],
        "device": "cpu",
        "dtype": "float32",
        "threads": 1,
    },
    "data": {
        "datasets": ["digits"],
        "settings": ["multiclass", "binary"],
        "root": None,
        "train_split": "train",
        "test_split": "test",
        "n_train": [300, 1000, 2000],
        "n_test": 300,
    },
    "training": {
        "epochs": 100,
        "lr": 1e-2,
        "batch_size": 128,
        "reg_lambda": 0.0,
        "sigma_w": 1.0,
    },
    "kappa": {
        "enabled": True,
        "n_train": ["all"],
        "rank": "numerical",
        "ranks": [],
        "practical_width": 1e5,
    },
    "collapse": {
        "enabled": True,
        "n_train": ["all"],
        "transforms": list(_TRANSFORMS),
        "max_rows": 1000,
    },
    "ntk": {
        "enabled": True,
        "n_train": [500],
        "architectures": list(_ARCHITECTURES),
        "widths": [16, 64, 256, 1024, 4096],
        "stages": list(_STAGES),
        "metrics": list(_NTK_METRICS),
        "loss": "cross_entropy",
        "alpha": 1e-3,
        "n_eval": 200,
    },
    "malleability": {
        "enabled": True,
        "architectures": ["relu", "attention"],
        "widths": [1024],
        "attacks": list(_ATTACKS),
        "epsilons": [0.01, 0.03, 0.05, 0.1, 0.2, 0.3],
        "epsilon_space": "pixel",
        "top_fraction": 0.1,
        "steps": 40,
        "step_size": 0.01,
        "clip": True,
        "mode": "joint",
        "kernel": "empirical",
        "alpha": 1e-3,
        "loss": "squared",
        "adversarial_training": [False, True],
        "adversarial": {"method": "pgd", "epsilon": 0.3, "steps": 10},
    },
    "interventions": {
        "enabled": True,
        "n_train": [1000],
        "architectures": ["relu", "attention"],
        "widths": [1024],
        "kinds": ["curated", "transformed"],
        "attack": "pgd",
        "epsilon": 0.3,
        "steps": 40,
        "step_size": 0.01,
        "clip": True,
        "top_fraction": 0.1,
        "record_epochs": [1, 10, 100],
    },
}

#: What ``--quick`` changes in :data:`DEFAULT_CONFIG`: digits, κ + collapse + NTK vs width +
#: malleability, without adversarial training and interventions (the costly parts), 60 epochs,
#: n = 500 (300 for the NTK part), 3 ε values and one training-set size for malleability.
#: Runs in a few minutes on 2 CPU cores.
QUICK_OVERRIDES = {
    "run": {"name": "quick", "seeds": [0, 1, 2]},
    "data": {
        "datasets": ["digits"],
        "settings": ["multiclass", "binary"],
        "n_train": [500],
        "n_test": 200,
    },
    "training": {"epochs": 60},
    "ntk": {"n_train": [300], "n_eval": 100},
    "malleability": {
        "widths": [1024],
        "epsilons": [0.03, 0.1, 0.3],
        "adversarial_training": [False],
    },
    "interventions": {"enabled": False},
}

# Keys every part table may carry to override the shared axes for that part alone.
_PART_OVERRIDES = ("seeds", "n_train", "settings", "training")


class ConfigError(ValueError):
    """A config value that cannot be used; the message names the key, the value and the fix.

    Parameters
    ----------
    key : str
        Dotted config key, e.g. ``"ntk.widths"``.
    message : str
        What is wrong and what to do instead.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.experiments import ConfigError, load_config
    >>> try:
    ...     load_config({"malleability": {"attacks": ["pgd", "cw"]}})
    ... except ConfigError as exc:
    ...     print(exc.key)
    malleability.attacks[1]
    """

    def __init__(self, key, message):
        self.key = key
        super().__init__(f"config key {key!r}: {message}")


def _merge(base, update, prefix=""):
    """Deep-merge ``update`` into a copy of ``base``; unknown keys raise :class:`ConfigError`."""
    merged = copy.deepcopy(base)
    if not isinstance(update, Mapping):
        raise ConfigError(prefix or "<root>", f"must be a table, got {update!r}.")
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            allowed = sorted(base)
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(dotted, f"unknown key.{hint} Allowed here: {', '.join(allowed)}.")
        if isinstance(base[key], Mapping) and key != "adversarial":
            merged[key] = _merge(base[key], value, prefix=f"{dotted}.")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _part_schema():
    """Defaults of each part table, with the optional per-part overrides added as None."""
    schema = copy.deepcopy(DEFAULT_CONFIG)
    for part in PARTS:
        for key in _PART_OVERRIDES:
            schema[part].setdefault(key, None)
        if schema[part]["training"] is None:
            schema[part]["training"] = {k: None for k in DEFAULT_CONFIG["training"]}
    return schema


# ---- value checkers: each returns the normalised value or raises ConfigError naming the key
def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_bool(key, value):
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}.")
    return value


def _check_int(key, value, minimum):
    if not _is_int(value) or value < minimum:
        raise ConfigError(key, f"must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_real(key, value, *, low=0.0, low_open=True, high=None):
    bad = not _is_real(value) or (value <= low if low_open else value < low)
    bad = bad or (high is not None and value > high)
    if bad:
        bound = f"> {low}" if low_open else f">= {low}"
        if high is not None:
            bound += f" and <= {high}"
        raise ConfigError(key, f"must be a finite number {bound}, got {value!r}.")
    return float(value)


def _check_choice(key, value, choices):
    if value not in choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            key, f"unknown value {value!r}.{hint} Choose from: {', '.join(map(str, choices))}."
        )
    return value


def _check_list(key, value, item_check, *, allow_empty=False):
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
        raise ConfigError(key, f"must be a list, e.g. [{value!r}], got {value!r}.")
    if not value and not allow_empty:
        raise ConfigError(key, "is empty; list at least one value.")
    items = [item_check(f"{key}[{i}]", item) for i, item in enumerate(value)]
    seen = set()
    for item in items:
        marker = json.dumps(item, sort_keys=True)
        if marker in seen:
            raise ConfigError(key, f"lists {item!r} twice; list each value once.")
        seen.add(marker)
    return items


def _check_n(key, value):
    if value == "all":
        return "all"
    if not _is_int(value) or value < 2:
        raise ConfigError(key, f'must be an integer >= 2 or "all", got {value!r}.')
    return int(value)


def _check_device(key, value):
    if not isinstance(value, str) or not (
        value in ("cpu", "cuda", "auto") or (value.startswith("cuda:") and value[5:].isdigit())
    ):
        raise ConfigError(key, f"must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {value!r}.")
    return value


def _check_training(key, table, *, partial=False):
    checks = {
        "epochs": lambda k, v: _check_int(k, v, 1),
        "lr": lambda k, v: _check_real(k, v),
        "batch_size": lambda k, v: _check_int(k, v, 1),
        "reg_lambda": lambda k, v: _check_real(k, v, low_open=False),
        "sigma_w": lambda k, v: _check_real(k, v),
    }
    out = {}
    for name, check in checks.items():
        value = table.get(name)
        if value is None and partial:
            continue
        out[name] = check(f"{key}.{name}", value)
    return out


def _check_adversarial(key, table):
    if not isinstance(table, Mapping):
        raise ConfigError(key, f"must be a table, got {table!r}.")
    allowed = {"method", "epsilon", "steps", "step_size"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", f"unknown key; allowed: {sorted(allowed)}.")
    out = dict(DEFAULT_CONFIG["malleability"]["adversarial"])
    out.update(table)
    out["method"] = _check_choice(f"{key}.method", out["method"], _ADVERSARIAL_METHODS)
    out["epsilon"] = _check_real(f"{key}.epsilon", out["epsilon"], low_open=False)
    out["steps"] = _check_int(f"{key}.steps", out["steps"], 1)
    if "step_size" in out:  # absent: 2.5 · epsilon / steps (TwoLayerReLUClassifier's rule)
        out["step_size"] = _check_real(f"{key}.step_size", out["step_size"])
    return out


def _validate(raw):
    """Check every key of a merged config; return the normalised config dict."""
    cfg = copy.deepcopy(raw)
    run = cfg["run"]
    if run["name"] is not None and (not isinstance(run["name"], str) or not run["name"]):
        raise ConfigError("run.name", f"must be a non-empty string, got {run['name']!r}.")
    run["seeds"] = _check_list("run.seeds", run["seeds"], lambda k, v: _check_int(k, v, 0))
    run["device"] = _check_device("run.device", run["device"])
    run["dtype"] = _check_choice("run.dtype", run["dtype"], ("float32", "float64"))
    run["threads"] = _check_int("run.threads", run["threads"], 1)

    data = cfg["data"]
    data["datasets"] = _check_list(
        "data.datasets", data["datasets"], lambda k, v: _check_choice(k, v, _DATASETS)
    )
    data["settings"] = _check_list(
        "data.settings", data["settings"], lambda k, v: _check_choice(k, v, _SETTINGS)
    )
    if data["root"] is not None and not isinstance(data["root"], str):
        raise ConfigError("data.root", f"must be a folder path (string), got {data['root']!r}.")
    for split in ("train_split", "test_split"):
        data[split] = _check_choice(f"data.{split}", data[split], _SPLITS)
    data["n_train"] = _check_list("data.n_train", data["n_train"], _check_n)
    data["n_test"] = _check_n("data.n_test", data["n_test"])
    cfg["training"] = _check_training("training", cfg["training"])

    for part in PARTS:
        table = cfg[part]
        table["enabled"] = _check_bool(f"{part}.enabled", table["enabled"])
        if table.get("seeds") is not None:
            table["seeds"] = _check_list(
                f"{part}.seeds", table["seeds"], lambda k, v: _check_int(k, v, 0)
            )
        if table.get("n_train") is not None:
            table["n_train"] = _check_list(f"{part}.n_train", table["n_train"], _check_n)
        if table.get("settings") is not None:
            table["settings"] = _check_list(
                f"{part}.settings", table["settings"], lambda k, v: _check_choice(k, v, _SETTINGS)
            )
        training = table.get("training") or {}
        if not isinstance(training, Mapping):
            raise ConfigError(f"{part}.training", f"must be a table, got {training!r}.")
        table["training"] = _check_training(f"{part}.training", training, partial=True)

    kappa = cfg["kappa"]
    rank = kappa["rank"]
    if not (
        rank in ("numerical", "full")
        or (_is_int(rank) and rank >= 1)
        or (_is_real(rank) and 0 < rank < 1 and not _is_int(rank))
    ):
        raise ConfigError(
            "kappa.rank",
            f"must be 'numerical', 'full', an integer >= 1 or a fraction in (0, 1), got {rank!r}.",
        )
    kappa["ranks"] = _check_list(
        "kappa.ranks", kappa["ranks"], lambda k, v: _check_int(k, v, 1), allow_empty=True
    )
    kappa["practical_width"] = _check_real(
        "kappa.practical_width", kappa["practical_width"], low=1.0, low_open=False
    )

    collapse = cfg["collapse"]
    collapse["transforms"] = _check_list(
        "collapse.transforms", collapse["transforms"], lambda k, v: _check_choice(k, v, _TRANSFORMS)
    )
    collapse["max_rows"] = _check_int("collapse.max_rows", collapse["max_rows"], 2)

    ntk = cfg["ntk"]
    ntk["architectures"] = _check_list(
        "ntk.architectures", ntk["architectures"], lambda k, v: _check_choice(k, v, _ARCHITECTURES)
    )
    ntk["widths"] = _check_list("ntk.widths", ntk["widths"], lambda k, v: _check_int(k, v, 1))
    ntk["stages"] = _check_list(
        "ntk.stages", ntk["stages"], lambda k, v: _check_choice(k, v, _STAGES)
    )
    ntk["metrics"] = _check_list(
        "ntk.metrics", ntk["metrics"], lambda k, v: _check_choice(k, v, _NTK_METRICS)
    )
    ntk["loss"] = _check_choice("ntk.loss", ntk["loss"], ("cross_entropy", "mse"))
    ntk["alpha"] = _check_real("ntk.alpha", ntk["alpha"])
    ntk["n_eval"] = _check_n("ntk.n_eval", ntk["n_eval"])

    mal = cfg["malleability"]
    mal["architectures"] = _check_list(
        "malleability.architectures",
        mal["architectures"],
        lambda k, v: _check_choice(k, v, _ARCHITECTURES),
    )
    mal["widths"] = _check_list(
        "malleability.widths", mal["widths"], lambda k, v: _check_int(k, v, 1)
    )
    mal["attacks"] = _check_list(
        "malleability.attacks", mal["attacks"], lambda k, v: _check_choice(k, v, _ATTACKS)
    )
    mal["epsilons"] = _check_list(
        "malleability.epsilons", mal["epsilons"], lambda k, v: _check_real(k, v, low_open=False)
    )
    mal["epsilon_space"] = _check_choice(
        "malleability.epsilon_space", mal["epsilon_space"], ("pixel", "standardized")
    )
    mal["top_fraction"] = _check_real("malleability.top_fraction", mal["top_fraction"], high=1.0)
    mal["steps"] = _check_int("malleability.steps", mal["steps"], 1)
    mal["step_size"] = _check_real("malleability.step_size", mal["step_size"])
    mal["clip"] = _check_bool("malleability.clip", mal["clip"])
    mal["mode"] = _check_choice("malleability.mode", mal["mode"], ("joint", "independent"))
    mal["kernel"] = _check_choice("malleability.kernel", mal["kernel"], ("empirical", "infinite"))
    mal["alpha"] = _check_real("malleability.alpha", mal["alpha"])
    mal["loss"] = _check_choice("malleability.loss", mal["loss"], ("squared", "cross_entropy"))
    mal["adversarial_training"] = _check_list(
        "malleability.adversarial_training", mal["adversarial_training"], _check_bool
    )
    mal["adversarial"] = _check_adversarial("malleability.adversarial", mal["adversarial"])

    itv = cfg["interventions"]
    itv["architectures"] = _check_list(
        "interventions.architectures",
        itv["architectures"],
        lambda k, v: _check_choice(k, v, _ARCHITECTURES),
    )
    itv["widths"] = _check_list(
        "interventions.widths", itv["widths"], lambda k, v: _check_int(k, v, 1)
    )
    itv["kinds"] = _check_list(
        "interventions.kinds", itv["kinds"], lambda k, v: _check_choice(k, v, _INTERVENTIONS)
    )
    itv["attack"] = _check_choice("interventions.attack", itv["attack"], _ATTACKS)
    itv["steps"] = _check_int("interventions.steps", itv["steps"], 1)
    itv["step_size"] = _check_real("interventions.step_size", itv["step_size"])
    itv["clip"] = _check_bool("interventions.clip", itv["clip"])
    itv["epsilon"] = _check_real("interventions.epsilon", itv["epsilon"], low_open=False)
    itv["top_fraction"] = _check_real("interventions.top_fraction", itv["top_fraction"], high=1.0)
    itv["record_epochs"] = _check_list(
        "interventions.record_epochs",
        itv["record_epochs"],
        lambda k, v: _check_int(k, v, 1),
        allow_empty=True,
    )

    if not any(cfg[part]["enabled"] for part in PARTS):
        raise ConfigError(
            "enabled", f"every part is disabled; enable at least one of {', '.join(PARTS)}."
        )
    if run["name"] is None:
        run["name"] = "-".join(data["datasets"])
    return cfg


class ExperimentConfig:
    """A validated experiment grid; build it with :func:`load_config`.

    The config is a nested table (TOML file or dict). Every key is optional: missing keys take
    the values of :data:`DEFAULT_CONFIG` (or of the ``--quick`` preset). Unknown keys and bad
    values raise :class:`ConfigError` naming the key, before any work starts.

    ``[run]``
        ``name`` (str: default folder name), ``seeds`` (list of int ≥ 0: replicate seeds, the
        CI axis), ``device`` ("cpu", "cuda", "cuda:N", "auto"), ``dtype`` ("float32",
        "float64"), ``threads`` (BLAS/torch threads per cell, default 1).
    ``[data]``
        ``datasets`` (any of "digits", "mnist", "fashion-mnist", "cifar10"), ``settings``
        ("multiclass": all 10 classes; "binary": ``datasets.BINARY_PAIRS``), ``root`` (data
        folder, see :func:`~sklearn_attnkernel.load_dataset`), ``train_split`` and
        ``test_split`` ("train", "test", "all"; when equal, the test points are drawn from the
        rest of the split, disjoint from the training points), ``n_train`` (the training-set
        size grid, default [300, 1000, 2000]: ints ≥ 2 or "all"; a size at least the split's
        becomes "all", so on digits 2000 means all 1347 training images and 300 all 268 of the
        binary task), ``n_test`` (int or "all").
    ``[training]``
        ``epochs``, ``lr``, ``batch_size``, ``reg_lambda`` (summed ``‖θ − θ₀‖²`` convention of
        :class:`~sklearn_attnkernel.TwoLayerReLUClassifier`), ``sigma_w``.
    ``[kappa]``
        ``rank``, ``ranks`` (rank curve; empty: ~20 log-spaced ranks), ``practical_width``.
    ``[collapse]``
        ``transforms`` ("raw", "linear", "softmax", "exponential"), ``max_rows`` (rows sampled
        for the cosine quantiles).
    ``[ntk]``
        ``architectures`` ("relu", "attention", "softmax", "exponential"), ``widths``,
        ``stages``, ``metrics``, ``loss`` ("cross_entropy": the paper's classifier; "mse":
        one-hot regression, a scale-comparable function-space distance), ``alpha``, ``n_eval``.
    ``[malleability]``
        ``architectures``, ``widths``, ``attacks`` ("fgsm", "pgd", "mim", "random"),
        ``epsilons`` (the ε grid, each ≥ 0; default 0.01, 0.03, 0.05, 0.1, 0.2, 0.3),
        ``epsilon_space`` ("pixel": ε in [0, 1] pixel units; "standardized": ε in the units
        after the mean/std step, ``ε_pixel = ε · scale_`` of the pipeline's
        :class:`~sklearn_attnkernel.DatasetStandardizer`), ``top_fraction``, ``steps``,
        ``step_size``, ``clip`` (keep pixels in [0, 1]), ``mode`` ("joint", "independent"),
        ``kernel``, ``alpha``, ``loss``, ``adversarial_training`` (list of bools: an axis), and
        the ``[malleability.adversarial]`` table (``method``, ``epsilon`` in pixels,
        ``steps``, optional ``step_size``, default ``2.5 ε / steps``) used when it is true:
        the network then trains on adversarial examples made in pixel space.
    ``[interventions]``
        ``n_train`` (default [1000]: one size, not the data grid), ``architectures``,
        ``widths``, ``kinds`` ("curated", "transformed", "adversarial"),
        ``attack``, ``epsilon`` (pixel units), ``steps``, ``step_size``, ``clip``,
        ``top_fraction``, ``record_epochs`` (test accuracy after these numbers of epochs, each
        an extra training of the same seeded trajectory; empty: final accuracy only).

    Every part table also takes ``enabled`` and may override ``seeds``, ``n_train``,
    ``settings`` and (as a sub-table) ``training`` for that part alone.

    Parameters
    ----------
    config : dict
        A config already validated by :func:`load_config`.

    Attributes
    ----------
    config : dict
        The full, normalised config (every key present).

    See Also
    --------
    load_config : Builds and validates a config.
    run_experiment : Runs its cells.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.experiments import load_config
    >>> config = load_config({"data": {"settings": ["binary"]}}, quick=True)
    >>> sorted({cell.part for cell in config.cells()})
    ['collapse', 'kappa', 'malleability', 'ntk']
    >>> config["malleability"]["epsilons"]
    [0.03, 0.1, 0.3]
    """

    def __init__(self, config):
        self.config = config

    def __getitem__(self, key):
        return self.config[key]

    def __repr__(self):
        return f"ExperimentConfig(name={self.config['run']['name']!r}, cells={len(self.cells())})"

    def to_dict(self):
        """Return a deep copy of the normalised config.

        Returns
        -------
        config : dict
            Nested dict; ``load_config(config.to_dict())`` rebuilds an equal config.
        """
        return copy.deepcopy(self.config)

    def cells(self):
        """Expand the grid into cells, part by part, in a fixed order.

        Returns
        -------
        cells : list of Cell
            One per grid point of the enabled parts; identical settings are listed once.
        """
        cells, seen = [], set()
        for part in PARTS:
            if not self.config[part]["enabled"]:
                continue
            for cell in _EXPANDERS[part](self.config):
                if cell.key not in seen:
                    seen.add(cell.key)
                    cells.append(cell)
        return cells

    def check_data(self):
        """Check that every dataset and test-set size of the grid is available; raise if not.

        Loads each (dataset, setting) split once (cached). Raises :class:`ConfigError` naming
        the key when the files are missing or too few test points remain.
        """
        data = self.config["data"]
        for part in PARTS:
            table = self.config[part]
            if not table["enabled"]:
                continue
            n_test = {"malleability": data["n_test"], "interventions": data["n_test"]}.get(part)
            if part == "ntk":
                n_test = table["n_eval"]
            seen = set()
            for dataset, setting, n_train, _ in _data_grid(self.config, part):
                if (dataset, setting, n_train) not in seen:
                    seen.add((dataset, setting, n_train))
                    _check_sizes(data, dataset, setting, n_train, n_test, part)


def _split_size(data, dataset, setting, split_key="train_split"):
    try:
        _, y = _load_split(dataset, data["root"], data[split_key], setting)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ConfigError("data.datasets", f"cannot load {dataset!r}: {exc}") from exc
    return y.size


def _test_pool(data, dataset, setting, n_train):
    """Number of images the test points are drawn from, and where they come from."""
    available = _split_size(data, dataset, setting)
    if data["test_split"] == data["train_split"]:
        n_used = available if n_train == "all" else n_train
        return available - n_used, f"the rest of split {data['train_split']!r}"
    return _split_size(data, dataset, setting, "test_split"), f"split {data['test_split']!r}"


def _resolve_n_test(data, dataset, setting, n_train, n_test):
    """``n_test`` at least the pool's size becomes "all"."""
    pool, _ = _test_pool(data, dataset, setting, n_train)
    return "all" if n_test == "all" or n_test >= pool else n_test


def _check_sizes(data, dataset, setting, n_train, n_test, part):
    if n_test is None:
        return
    pool, where = _test_pool(data, dataset, setting, n_train)
    if pool < 2:
        raise ConfigError(
            "data.test_split",
            f"{part} needs test points of {dataset} ({setting}) but {where} holds {pool} "
            "after the training points; lower n_train or set data.test_split to another split.",
        )


def load_config(source=None, *, quick=False, overrides=None):
    """Build and validate an experiment config.

    Parameters
    ----------
    source : str, path-like, dict or None, default=None
        A TOML file, or a nested dict with the same tables, merged over the defaults. None uses
        the defaults alone.
    quick : bool, default=False
        Start from the ``--quick`` preset (:data:`QUICK_OVERRIDES` applied to
        :data:`DEFAULT_CONFIG`) instead of the defaults.
    overrides : dict, default=None
        Dotted keys to set last, e.g. ``{"malleability.epsilons": [0.1]}`` (the CLI flags).

    Returns
    -------
    config : ExperimentConfig
        The validated config.

    Raises
    ------
    ConfigError
        For an unknown key or a bad value, naming the key (before any work starts).
    FileNotFoundError
        If ``source`` names a missing file.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.experiments import ConfigError, load_config
    >>> load_config({"ntk": {"widths": [16, 64]}})["ntk"]["widths"]
    [16, 64]
    >>> try:
    ...     load_config({"ntk": {"widths": [0]}})
    ... except ConfigError as exc:
    ...     print(exc)
    config key 'ntk.widths[0]': must be an integer >= 1, got 0.
    """
    schema = _part_schema()
    base = _merge(schema, QUICK_OVERRIDES) if quick else schema
    if source is None:
        table = {}
    elif isinstance(source, Mapping):
        table = source
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"config file {str(path)!r} does not exist.")
        try:
            with path.open("rb") as handle:
                table = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("<file>", f"{str(path)!r} is not valid TOML: {exc}") from exc
    merged = _merge(base, table)
    for dotted, value in (overrides or {}).items():
        parts = dotted.split(".")
        nested = value
        for name in reversed(parts):
            nested = {name: nested}
        merged = _merge(merged, nested)
    return ExperimentConfig(_validate(merged))


# --------------------------------------------------------------------------------------------
# Cells: settings, keys, seeds
# --------------------------------------------------------------------------------------------
def derive_seed(*parts):
    """A seed in ``[0, 2**31)`` derived from values (sha256 of their canonical JSON).

    Parameters
    ----------
    *parts : JSON-serialisable values
        What the seed depends on, e.g. ``("train", "digits", "binary", 300, 0)``.

    Returns
    -------
    seed : int
        The first 8 bytes of the digest, modulo ``2**31``.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.experiments import derive_seed
    >>> derive_seed("model", 0) == derive_seed("model", 0) != derive_seed("model", 1)
    True
    """
    digest = hashlib.sha256(canonical_json(list(parts)).encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % (2**31)


@dataclasses.dataclass(frozen=True, eq=False)
class Cell:
    """One point of the grid.

    Parameters
    ----------
    part : str
        One of :data:`PARTS`.
    settings : dict
        Flat, JSON-serialisable settings that determine the cell's numbers (including
        ``part``); the key is their hash.
    group : tuple of str
        Names of the settings that may differ between cells run as one task (cells whose other
        settings agree share one trained network).

    Attributes
    ----------
    key : str
        :func:`cell_key` of ``settings``.
    filename : str
        ``<part>-<key[:16]>.json``.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.experiments import Cell, cell_key
    >>> cell = Cell("ntk", {"part": "ntk", "width": 16})
    >>> cell.key == cell_key({"part": "ntk", "width": 16})
    True
    >>> cell.filename == f"ntk-{cell.key[:16]}.json"
    True
    """

    part: str
    settings: dict
    group: tuple = ()

    @functools.cached_property
    def key(self):
        return cell_key(self.settings)

    @property
    def filename(self):
        """Name of the cell's file: ``<part>-<key[:16]>.json``."""
        return f"{self.part}-{self.key[:16]}.json"

    @functools.cached_property
    def group_key(self):
        shared = {k: v for k, v in self.settings.items() if k not in self.group}
        return cell_key(shared)


def _axis(cfg, part, name):
    """A shared axis (seeds, n_train, settings) with the part's override applied."""
    value = cfg[part].get(name)
    if value is not None:
        return value
    return cfg["run"]["seeds"] if name == "seeds" else cfg["data"][name]


def _training(cfg, part):
    training = dict(cfg["training"])
    training.update(cfg[part].get("training") or {})
    return training


def _data_settings(cfg, part, dataset, setting, n_train, seed, *, test=None):
    data = cfg["data"]
    settings = {
        "part": part,
        "dataset": dataset,
        "setting": setting,
        "train_split": data["train_split"],
        "n_train": n_train,
        # with the full split, replicate seeds would repeat the same cell
        "seed": None if n_train == "all" and test is None else seed,
    }
    if test is not None:
        settings["test_split"] = data["test_split"]
        settings["n_test"] = _resolve_n_test(data, dataset, setting, n_train, test)
    return settings


def _network_settings(cfg, part):
    return {
        **_training(cfg, part),
        "device": cfg["run"]["device"],
        "dtype": cfg["run"]["dtype"],
    }


def _data_grid(cfg, part):
    """(dataset, setting, n_train, seed) of a part; n_train ≥ the split's size becomes "all"."""
    for dataset in cfg["data"]["datasets"]:
        for setting in _axis(cfg, part, "settings"):
            size = _split_size(cfg["data"], dataset, setting)
            n_grid = []
            for n_train in _axis(cfg, part, "n_train"):
                if n_train != "all" and n_train >= size:
                    logger.info(
                        "%s.n_train: %d >= the %d images of %s (%s): using all of them",
                        part,
                        n_train,
                        size,
                        dataset,
                        setting,
                    )
                    n_train = "all"
                if n_train not in n_grid:
                    n_grid.append(n_train)
            for n_train in n_grid:
                for seed in _axis(cfg, part, "seeds"):
                    yield dataset, setting, n_train, seed


def _expand_kappa(cfg):
    table = cfg["kappa"]
    for dataset, setting, n_train, seed in _data_grid(cfg, "kappa"):
        yield Cell(
            "kappa",
            {
                **_data_settings(cfg, "kappa", dataset, setting, n_train, seed),
                "kappa_rank": table["rank"],
                "ranks": table["ranks"],
                "practical_width": table["practical_width"],
            },
        )


def _expand_collapse(cfg):
    table = cfg["collapse"]
    for dataset, setting, n_train, seed in _data_grid(cfg, "collapse"):
        for transform in table["transforms"]:
            yield Cell(
                "collapse",
                {
                    **_data_settings(cfg, "collapse", dataset, setting, n_train, seed),
                    "transform": transform,
                    "max_rows": table["max_rows"],
                },
            )


def _expand_ntk(cfg):
    table = cfg["ntk"]
    for dataset, setting, n_train, seed in _data_grid(cfg, "ntk"):
        for architecture in table["architectures"]:
            for width in table["widths"]:
                yield Cell(
                    "ntk",
                    {
                        **_data_settings(
                            cfg, "ntk", dataset, setting, n_train, seed, test=table["n_eval"]
                        ),
                        **_network_settings(cfg, "ntk"),
                        "architecture": architecture,
                        "width": width,
                        "stages": table["stages"],
                        "metrics": table["metrics"],
                        "loss": table["loss"],
                        "alpha": table["alpha"],
                    },
                )


def _expand_malleability(cfg):
    table = cfg["malleability"]
    n_test = cfg["data"]["n_test"]
    for dataset, setting, n_train, seed in _data_grid(cfg, "malleability"):
        for architecture in table["architectures"]:
            for width in table["widths"]:
                for adversarial in table["adversarial_training"]:
                    for attack in table["attacks"]:
                        for epsilon in table["epsilons"]:
                            settings = {
                                **_data_settings(
                                    cfg,
                                    "malleability",
                                    dataset,
                                    setting,
                                    n_train,
                                    seed,
                                    test=n_test,
                                ),
                                **_network_settings(cfg, "malleability"),
                                "architecture": architecture,
                                "width": width,
                                "adversarial_training": adversarial,
                                "adversarial": table["adversarial"] if adversarial else None,
                                "kernel": table["kernel"],
                                "alpha": table["alpha"],
                                "loss": table["loss"],
                                "top_fraction": table["top_fraction"],
                                "attack": attack,
                                "epsilon": epsilon,
                                "epsilon_space": table["epsilon_space"],
                                "steps": table["steps"],
                                "step_size": table["step_size"],
                                "clip": table["clip"],
                                "mode": table["mode"],
                            }
                            yield Cell("malleability", settings, group=("attack", "epsilon"))


def _expand_interventions(cfg):
    table = cfg["interventions"]
    n_test = cfg["data"]["n_test"]
    for dataset, setting, n_train, seed in _data_grid(cfg, "interventions"):
        for architecture in table["architectures"]:
            for width in table["widths"]:
                for kind in table["kinds"]:
                    settings = {
                        **_data_settings(
                            cfg, "interventions", dataset, setting, n_train, seed, test=n_test
                        ),
                        **_network_settings(cfg, "interventions"),
                        "architecture": architecture,
                        "width": width,
                        "kind": kind,
                        "attack": table["attack"],
                        "epsilon": table["epsilon"],
                        "steps": table["steps"],
                        "step_size": table["step_size"],
                        "clip": table["clip"],
                        "top_fraction": table["top_fraction"],
                        "record_epochs": table["record_epochs"],
                    }
                    yield Cell("interventions", settings, group=("kind",))


_EXPANDERS = {
    "kappa": _expand_kappa,
    "collapse": _expand_collapse,
    "ntk": _expand_ntk,
    "malleability": _expand_malleability,
    "interventions": _expand_interventions,
}

# --------------------------------------------------------------------------------------------
# Cell files
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _versions():
    """Versions of the package and its numeric stack (read from metadata, importing nothing)."""
    from importlib import metadata

    from .. import __version__

    versions = {"sklearn_attnkernel": __version__, "python": platform.python_version()}
    for name, dist in (
        ("numpy", "numpy"),
        ("scipy", "scipy"),
        ("sklearn", "scikit-learn"),
        ("torch", "torch"),
        ("skorch", "skorch"),
    ):
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[name] = None
    return versions


# --------------------------------------------------------------------------------------------
# Data (cached per process)
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _load_split(dataset, root, split, setting):
    from ..datasets.loaders import BINARY_PAIRS, load_dataset

    classes = BINARY_PAIRS[dataset] if setting == "binary" else None
    X, y = load_dataset(dataset, root=root, split=split, classes=classes)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def _subset(y, index, n, seed):
    """A stratified subset of ``index`` of size ``n`` (sorted), or all of it for "all"."""
    from sklearn.utils import resample

    if n == "all" or n >= index.size:
        return index
    return np.sort(
        resample(index, replace=False, n_samples=n, stratify=y[index], random_state=seed)
    )


def _cell_data(s, root):
    """Training (and test) data of a cell: pixels in [0, 1], labels."""
    dataset, setting, split = s["dataset"], s["setting"], s["train_split"]
    X, y = _load_split(dataset, root, split, setting)
    train_seed = derive_seed("train", dataset, setting, split, s["n_train"], s["seed"])
    train = _subset(y, np.arange(y.size), s["n_train"], train_seed)
    out = {"X": X[train], "y": y[train]}
    if "n_test" in s:
        test_seed = derive_seed(
            "test", dataset, setting, split, s["test_split"], s["n_train"], s["n_test"], s["seed"]
        )
        if s["test_split"] == split:
            pool, Xp, yp = np.setdiff1d(np.arange(y.size), train), X, y
        else:
            Xp, yp = _load_split(dataset, root, s["test_split"], setting)
            pool = np.arange(yp.size)
        test = _subset(yp, pool, s["n_test"], test_seed)
        out.update(X_test=Xp[test], y_test=yp[test])
    return out


def _standardize(dataset, X):
    from ..preprocessing import dataset_standardizer

    return dataset_standardizer(dataset).fit_transform(X)


# --------------------------------------------------------------------------------------------
# The parts (each runs one group of cells and returns their results)
# --------------------------------------------------------------------------------------------
def _run_kappa(cells, ctx):
    import scipy.linalg

    from ..diagnostics.kappa import kappa_report

    (s,) = cells
    data = _cell_data(s, ctx["root"])
    Z = _standardize(s["dataset"], data["X"])
    report = kappa_report(
        Z,
        rank=s["kappa_rank"],
        ranks=s["ranks"] or None,
        practical_width=s["practical_width"],
        method="exact",
    )
    rows = []
    for _, row in report.to_frame("quantities").iterrows():
        rows.append({"metric": row["quantity"], "value": row["value"]})
        if not math.isnan(row["log10"]):
            rows.append({"metric": f"log10_{row['quantity']}", "value": row["log10"]})
    curve = report.to_frame("rank_curve")
    for _, row in curve.iterrows():
        for column in ("log10_kappa", "log10_width_relu", "log10_width_attention"):
            rows.append(
                {"metric": f"curve_{column}", "rank": int(row["rank"]), "value": row[column]}
            )
    eigenvalues = scipy.linalg.svdvals(Z) ** 2
    for i, lam in enumerate(eigenvalues, start=1):
        rows.append({"metric": "eigenvalue_G", "rank": i, "value": lam})
        rows.append({"metric": "eigenvalue_G3", "rank": i, "value": lam**3})
    info = {"n_train": int(Z.shape[0]), "n_features": int(Z.shape[1]), "verdict": report.verdict}
    return [(s, rows, info, [])]


def _pairwise_cosine_quantiles(F, max_rows, seed):
    from sklearn.preprocessing import normalize

    F = F[np.linalg.norm(F, axis=1) > 0]
    if F.shape[0] > max_rows:
        rng = np.random.default_rng(seed)
        F = F[np.sort(rng.choice(F.shape[0], size=max_rows, replace=False))]
    U = normalize(F)
    cos = (U @ U.T)[np.triu_indices(U.shape[0], k=1)]
    levels = (0.05, 0.25, 0.5, 0.75, 0.95)
    return dict(zip(("q05", "q25", "q50", "q75", "q95"), np.quantile(cos, levels), strict=True))


def _run_collapse(cells, ctx):
    from ..attention.transformers import LinearizedAttention, SoftmaxAttention
    from ..diagnostics.kappa import feature_collapse

    (s,) = cells
    data = _cell_data(s, ctx["root"])
    Z = _standardize(s["dataset"], data["X"])
    transforms = {
        "raw": None,
        "linear": LinearizedAttention(normalize=True),
        "softmax": SoftmaxAttention(),
        "exponential": SoftmaxAttention(normalize_weights=False),
    }
    transform = transforms[s["transform"]]
    F = Z if transform is None else transform.fit_transform(Z)
    nonzero = np.linalg.norm(F, axis=1) > 0
    rows = [{"metric": "mean_cosine", "value": feature_collapse(F[nonzero])}]
    seed = derive_seed("collapse", s["dataset"], s["setting"], s["n_train"], s["seed"])
    for name, value in _pairwise_cosine_quantiles(F, s["max_rows"], seed).items():
        rows.append({"metric": f"cosine_{name}", "value": value})
    info = {"n_train": int(Z.shape[0]), "n_zero_rows": int((~nonzero).sum())}
    return [(s, rows, info, [])]


def _model_seed(s):
    return derive_seed("model", s["seed"])


def _mlp_params(s):
    return {
        "max_epochs": s["epochs"],
        "lr": s["lr"],
        "batch_size": s["batch_size"],
        "reg_lambda": s["reg_lambda"],
        "sigma_w": s["sigma_w"],
        "device": s["device"],
        "dtype": s["dtype"],
    }


def _run_ntk(cells, ctx):
    import pandas as pd

    from ..ntk.metrics import ZeroKernelError, ntk_width_sweep

    (s,) = cells
    data = _cell_data(s, ctx["root"])
    Z = _standardize(s["dataset"], data["X"])
    Z_eval = _standardize(s["dataset"], data["X_test"])
    y = data["y"]
    task, notes = "classification", []
    if s["loss"] == "mse" and np.unique(y).size > 2:
        task = "regression"
        classes = np.unique(y)
        y = (y[:, None] == classes[None, :]).astype(np.float64)
        notes.append("multi-class network trained by MSE on one-hot targets")
    sweep = {
        "widths": [s["width"]],
        "seeds": [_model_seed(s)],
        "stages": s["stages"],
        "X_eval": Z_eval,
        "alpha": s["alpha"],
        "task": task,
        **_mlp_params(s),
    }
    try:
        table = ntk_width_sweep(s["architecture"], Z, y, metrics=s["metrics"], **sweep)
    except ZeroKernelError:
        # every ReLU unit inactive on every point (e.g. width 16 on collapsed softmax features):
        # Θ_m = 0 and the cosine distance is undefined. Rerun the same seeded fit without it.
        if "cosine" not in s["metrics"]:
            raise
        metrics = [m for m in s["metrics"] if m != "cosine"]
        parts = [ntk_width_sweep(s["architecture"], Z, y, metrics=metrics, **sweep)]
        for stage in s["stages"]:
            try:
                parts.append(
                    ntk_width_sweep(
                        s["architecture"], Z, y, metrics=["cosine"], **{**sweep, "stages": [stage]}
                    )
                )
            except ZeroKernelError:
                parts.append(pd.DataFrame({"stage": [stage], "metric": "cosine", "value": np.nan}))
                notes.append(
                    f"{stage}: cosine distance undefined, the empirical NTK is zero (every ReLU "
                    "unit is inactive on every training point)"
                )
        table = pd.concat(parts, ignore_index=True)
    rows = table[["stage", "metric", "value"]].to_dict("records")
    info = {"n_train": int(Z.shape[0]), "n_test": int(Z_eval.shape[0])}
    return [(s, rows, info, notes)]


def _make_model(s, adversarial=None):
    """The paper's pipeline on pixels: dataset mean/std, unit rows, [attention], network.

    With ``adversarial`` (a dict of ``method``, ``epsilon``, ``steps`` and optionally
    ``step_size``) the network is trained on adversarial examples made in pixel space, through
    the transformers (:func:`~sklearn_attnkernel.make_adversarially_trained`).
    """
    from sklearn.pipeline import Pipeline

    from ..networks.pipelines import make_mlp_attn, make_two_layer_relu
    from ..preprocessing import dataset_standardizer

    params = {**_mlp_params(s), "width": s["width"], "random_state": _model_seed(s)}
    attention = {"attention": "linear", "softmax": "softmax", "exponential": "exponential"}
    if s["architecture"] == "relu":
        model = make_two_layer_relu(**params)
    else:
        model = make_mlp_attn(attention=attention[s["architecture"]], **params)
    standardize = ("standardize", dataset_standardizer(s["dataset"], normalize_rows=False))
    model = Pipeline([standardize, *model.steps])
    if adversarial:
        from ..networks.pipelines import make_adversarially_trained

        clip = (0.0, 1.0) if s.get("clip", True) else None
        model = make_adversarially_trained(model, **adversarial, clip=clip)
    return model


def _attack_seed(s, *attack):
    """Seed of an attack's randomness: the same for every architecture (paired baselines)."""
    return derive_seed(
        "attack", s["dataset"], s["setting"], s["train_split"], s["n_train"], s["seed"], *attack
    )


def _pixel_epsilon(model, epsilon, space):
    """ε in pixel units: ``"standardized"`` ε is multiplied by the pipeline's std (``scale_``).

    The std is read from the fitted :class:`~sklearn_attnkernel.DatasetStandardizer` step of
    ``model``, so ``ε_pixel = ε_std · scale_`` holds for the very step the network sees.
    """
    if space == "pixel":
        return float(epsilon)
    from ..preprocessing import DatasetStandardizer

    scales = [
        step.scale_
        for _, step in getattr(model, "steps", [])
        if isinstance(step, DatasetStandardizer)
    ]
    if len(scales) != 1:
        raise ValueError(
            f"epsilon_space='standardized' needs exactly one DatasetStandardizer step in the "
            f"pipeline to read the std from; found {len(scales)}. Use epsilon_space='pixel'."
        )
    return float(epsilon) * float(scales[0])


class _ConditionCapture(logging.Handler):
    """Collect the condition numbers of ``K + αI`` that :func:`loo_influence` logs.

    The influence computation factorises ``K + αI`` once and logs its 1-norm condition number;
    reading that record reuses the factorisation instead of computing a second one.
    """

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.values = []

    def emit(self, record):
        if str(record.msg).startswith("loo_influence:") and len(record.args or ()) >= 3:
            self.values.append(float(record.args[2]))


@contextlib.contextmanager
def _capture_condition():
    target = logging.getLogger("sklearn_attnkernel.influence.loo")
    handler, level, propagate = _ConditionCapture(), target.level, target.propagate
    target.addHandler(handler)
    if not target.isEnabledFor(logging.INFO):
        # records the user did not ask for go to this handler alone, not up the hierarchy
        target.setLevel(logging.INFO)
        target.propagate = False
    try:
        yield handler.values
    finally:
        target.removeHandler(handler)
        target.setLevel(level)
        target.propagate = propagate


def _scored(model, X_test, y_test, influence, train=None):
    """Influence scores and the condition number of the ``K + αI`` they were computed with.

    ``train``: an ``(X_train, y_train)`` pair scored under the same network (e.g. the attacked
    training matrix); None scores the training set the network was fitted on.
    """
    from ..influence.estimators import influence_scores

    extra = {} if train is None else {"X_train": train[0], "y_train": train[1]}
    with _capture_condition() as conditions:
        scores = influence_scores(model, X_test, y_test, **extra, **influence)
    return scores, (conditions[-1] if conditions else math.nan)


def _top_set_diagnostics(model, X_reference, y, top):
    """The network's view of the top-k rows of a (clean or attacked) training matrix.

    Returns the network's input features of those rows (attention steps use ``X_reference``
    as their reference set, as in the attack), the share classified correctly and the mean
    cross-entropy (the classifiers' task loss) of the network on them.
    """
    from sklearn.metrics import log_loss

    from ..influence.estimators import network_features, split_network

    steps, final = split_network(model)
    F_top, _ = network_features(steps, X_reference[top], X_reference)
    F_top = np.asarray(F_top, dtype=np.float64)
    proba = final.predict_proba(F_top)
    predicted = final.classes_[np.argmax(proba, axis=1)]
    correct = float(np.mean(predicted == y[top]))
    loss = float(log_loss(y[top], proba, labels=final.classes_))
    return F_top, correct, loss


def _row_cosine(A, B):
    norms = np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1)
    dots = np.einsum("ij,ij->i", A, B)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.nanmean(np.where(norms > 0, dots / norms, np.nan)))


def _run_malleability(cells, ctx):
    from ..influence.metrics import (
        influence_flip_rate,
        influence_rank_correlation,
        top_k_stability,
        top_positive,
    )
    from ..influence.training_attacks import attack_training_points

    s0 = cells[0]
    data = _cell_data(s0, ctx["root"])
    X, y, X_test, y_test = data["X"], data["y"], data["X_test"], data["y_test"]
    model = _make_model(s0, s0["adversarial"] if s0["adversarial_training"] else None)
    start = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - start
    accuracy = float(model.score(X_test, y_test))
    influence = {"kernel": s0["kernel"], "alpha": s0["alpha"], "loss": s0["loss"]}
    # one training and one clean influence computation (one factorisation) for every attack/ε
    start = time.perf_counter()
    before, condition_before = _scored(model, X_test, y_test, influence)
    clean_s = time.perf_counter() - start
    top = np.sort(top_positive(before, s0["top_fraction"]))
    info = {
        "n_train": int(X.shape[0]),
        "n_test": int(X_test.shape[0]),
        "n_top": int(top.size),
        "test_accuracy": accuracy,
        "fit_s": fit_s,
        "clean_influence_s": clean_s,
    }
    clean = None
    if top.size:
        F_clean, correct_before, loss_before = _top_set_diagnostics(model, X, y, top)
        clean = [
            {"metric": "top_correct_before", "value": correct_before},
            {"metric": "top_loss_before", "value": loss_before},
            {"metric": "condition_before", "value": condition_before},
        ]
    results = []
    for s in cells:
        notes = []
        epsilon = _pixel_epsilon(model, s["epsilon"], s["epsilon_space"])
        attack_seed = _attack_seed(s, s["attack"], s["epsilon"], s["epsilon_space"])
        if top.size == 0:
            rows = [{"metric": "test_accuracy", "value": accuracy}]
            notes.append("no positive influence score: nothing to attack")
            results.append((s, rows, info, notes))
            continue
        start = time.perf_counter()
        X_adv = attack_training_points(
            model,
            X,
            y,
            top,
            method=s["attack"],
            epsilon=epsilon,
            steps=s["steps"],
            step_size=s["step_size"],
            clip=(0.0, 1.0) if s["clip"] else None,
            mode=s["mode"],
            random_state=attack_seed,
        )
        X_adv = np.asarray(X_adv, dtype=np.float64)
        attack_s = time.perf_counter() - start
        start = time.perf_counter()
        after, condition_after = _scored(model, X_test, y_test, influence, (X_adv, y))
        F_adv, correct_after, loss_after = _top_set_diagnostics(model, X_adv, y, top)
        timing = {"attack_s": attack_s, "influence_s": time.perf_counter() - start}
        fraction = s["top_fraction"]
        rows = [
            {"metric": "flip_rate", "value": influence_flip_rate(before, after, fraction)},
            {"metric": "spearman", "value": influence_rank_correlation(before, after)},
            {"metric": "top_k_stability", "value": top_k_stability(before, after, fraction)},
            {"metric": "test_accuracy", "value": accuracy},
            {"metric": "linf_perturbation", "value": float(np.max(np.abs(X_adv - X)))},
            *clean,
            {"metric": "top_correct_after", "value": correct_after},
            {"metric": "top_loss_after", "value": loss_after},
            {"metric": "input_cosine", "value": _row_cosine(F_clean, F_adv)},
            {"metric": "condition_after", "value": condition_after},
        ]
        results.append((s, rows, {**info, **timing, "epsilon_pixel": epsilon}, notes))
    return results


def _run_interventions(cells, ctx):
    from ..influence.interventions import run_intervention

    s0 = cells[0]
    data = _cell_data(s0, ctx["root"])
    info = {"n_train": int(data["X"].shape[0]), "n_test": int(data["X_test"].shape[0])}
    results, baseline = [], None
    for s in cells:  # one baseline network for every kind of the group
        out = run_intervention(
            _make_model(s),
            data["X"],
            data["y"],
            data["X_test"],
            data["y_test"],
            kind=s["kind"],
            top_fraction=s["top_fraction"],
            attack=s["attack"],
            epsilon=s["epsilon"],
            steps=s["steps"],
            step_size=s["step_size"],
            clip=(0.0, 1.0) if s["clip"] else None,
            eval_epochs=s["record_epochs"] or None,
            baseline=baseline,
            random_state=_attack_seed(s, s["attack"], s["epsilon"]),
        )
        if baseline is None:
            baseline, baseline_by_epoch = (
                out["baseline_estimator"],
                out["baseline_accuracy_by_epoch"],
            )
        rows = []
        for name, by_epoch in (
            ("baseline_accuracy", baseline_by_epoch),
            ("accuracy", out["accuracy_by_epoch"]),
        ):
            by_epoch = {int(e): v for e, v in (by_epoch or {}).items()}
            by_epoch.setdefault(int(s["epochs"]), out[name])  # the fully trained model
            for epoch in sorted(by_epoch):
                rows.append({"metric": name, "epoch": epoch, "value": by_epoch[epoch]})
        cell_info = {**info, "n_train_after": int(out["n_train"]), "n_changed": len(out["indices"])}
        results.append((s, rows, cell_info, []))
    return results


_RUNNERS = {
    "kappa": _run_kappa,
    "collapse": _run_collapse,
    "ntk": _run_ntk,
    "malleability": _run_malleability,
    "interventions": _run_interventions,
}
_TORCH_PARTS = ("ntk", "malleability", "interventions")
_TORCH_LOCK = threading.Lock()


def _limit_threads(threads, part):
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    if part in _TORCH_PARTS:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _resolved_device(settings):
    device = settings.get("device", "cpu")
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


def _record(s, key, status, rows, info, notes, started, wall, error=None):
    return {
        "format": CELL_FORMAT,
        "key": key,
        "part": s["part"],
        "settings": s,
        "status": status,
        "error": error,
        "rows": rows,
        "info": info,
        "notes": notes,
        "seeds": _cell_seeds(s),
        "versions": _versions(),
        "device": _resolved_device(s),
        "platform": platform.platform(),
        "started_at": started,
        "wall_time_s": wall,
    }


def _cell_seeds(s):
    seeds = {"replicate": s.get("seed")}
    if "width" in s:
        seeds["model"] = _model_seed(s)
    return seeds


def run_task(part, cell_settings, context):
    """Run one task (cells sharing a trained network) and return their records.

    This is what executors run; it is a module-level function so that joblib, process pools
    and Dask workers can pickle it. Exceptions inside a cell become records with
    ``status="error"``; nothing is written here (the driver writes the files). Within one
    process, cells that train networks run one at a time (a lock): the networks seed torch's
    process-wide generator, so concurrent threads would make the numbers depend on timing.
    Thread-based executors therefore parallelise only the numpy parts; use processes (joblib,
    ``ProcessPoolExecutor``, Dask with ``processes=True``) for speed.

    Parameters
    ----------
    part : str
        One of :data:`PARTS`.
    cell_settings : list of dict
        The settings of the task's cells (they differ only in the part's group keys).
    context : dict
        ``root`` (data folder) and ``threads``: things that do not change the numbers.

    Returns
    -------
    records : list of dict
        One record per cell, in the order of ``cell_settings``.
    """
    keys = [cell_key(s) for s in cell_settings]
    # The networks seed torch's process-wide generator (inside fork_rng), so two threads
    # training at once would draw from each other's stream: torch cells take turns per process.
    with _TORCH_LOCK if part in _TORCH_PARTS else contextlib.nullcontext():
        _limit_threads(context["threads"], part)
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        start = time.perf_counter()
        try:
            results = _RUNNERS[part](cell_settings, context)
            error = None
        except Exception as exc:  # a failing cell must not stop the grid: it is recorded
            error = exc
        wall = (time.perf_counter() - start) / len(keys)
    if error is not None:
        logger.warning(
            "%s cell(s) %s failed: %s: %s", part, keys[0][:16], type(error).__name__, error
        )
        message = f"{type(error).__name__}: {error}"
        return [
            _record(s, k, "error", [], {}, [], started, wall, message)
            for s, k in zip(cell_settings, keys, strict=True)
        ]
    return [
        _record(s, k, "ok", rows, info, notes, started, wall)
        for (s, rows, info, notes), k in zip(results, keys, strict=True)
    ]


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class RunSummary:
    """What :func:`run_experiment` did.

    Parameters
    ----------
    out : pathlib.Path
        The run folder.
    n_cells : int
        Cells in the grid.
    n_reused : int
        Cells found finished on disk and skipped.
    n_computed : int
        Cells computed (successfully or not) by this call.
    n_failed : int
        Cells whose record has ``status="error"`` after this call.
    n_corrupt : int
        Cell files found corrupt and recomputed.
    wall_time_s : float
        Wall time of the call.
    report : pathlib.Path or None
        ``report.md``, when the report was built.

    Examples
    --------
    >>> from pathlib import Path
    >>> from sklearn_attnkernel.analysis.experiments import RunSummary
    >>> RunSummary(out=Path("runs/x"), n_cells=4, n_reused=4).n_computed
    0
    """

    out: Path
    n_cells: int = 0
    n_reused: int = 0
    n_computed: int = 0
    n_failed: int = 0
    n_corrupt: int = 0
    wall_time_s: float = 0.0
    report: Path | None = None


def _tasks(cells):
    """Group cells into tasks: cells of one part with equal non-group settings share a task."""
    tasks, index = [], {}
    for cell in cells:
        gid = (cell.part, cell.group_key)
        if gid not in index:
            index[gid] = len(tasks)
            tasks.append((cell.part, []))
        tasks[index[gid]][1].append(cell)
    return tasks


def _joblib_return_as():
    import joblib

    major, minor = (int(p) for p in joblib.__version__.split(".")[:2])
    return "generator_unordered" if (major, minor) >= (1, 4) else "generator"


def _execute(tasks, context, *, backend, n_jobs, executor):
    """Yield ``(task, records_or_exception)`` as tasks finish."""
    if backend == "sequential":
        for task in tasks:
            yield task, run_task(task[0], [c.settings for c in task[1]], context)
        return
    if backend == "joblib":
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=n_jobs, return_as=_joblib_return_as())
        jobs = (
            delayed(_indexed_task)(i, part, [c.settings for c in cells], context)
            for i, (part, cells) in enumerate(tasks)
        )
        for i, records in parallel(jobs):
            yield tasks[i], records
        return
    futures = {
        executor.submit(run_task, part, [c.settings for c in cells], context): (part, cells)
        for part, cells in tasks
    }
    try:
        for future in concurrent.futures.as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as exc:  # the worker died or the task could not run
                yield futures[future], exc
    finally:
        for future in futures:
            future.cancel()


def _indexed_task(index, part, cell_settings, context):
    return index, run_task(part, cell_settings, context)


@functools.lru_cache(maxsize=1)
def _dask_available():
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _dask_executor(scheduler, workers, dask_options):
    if not _dask_available():
        raise ImportError(
            "backend='dask' needs dask.distributed; install it with "
            "pip install \"dask[distributed]\" (or the package's 'dask' extra)."
        )
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        cluster = None
    else:
        options = {"n_workers": workers or 2, "threads_per_worker": 1, "dashboard_address": None}
        options.update(dask_options or {})
        cluster = LocalCluster(**options)
        client = Client(cluster)
    return client, cluster


def _scan(cells, cell_dir, retry_failed):
    """Split the grid into finished and pending cells; quarantine corrupt files."""
    done, pending, n_corrupt = {}, [], 0
    for cell in cells:
        path = cell_dir / cell.filename
        if not path.exists():
            pending.append(cell)
            continue
        try:
            record = read_cell(path, expected_key=cell.key)
        except CorruptCellError as exc:
            quarantine(path, exc)
            n_corrupt += 1
            pending.append(cell)
            continue
        if record["status"] == "error" and retry_failed:
            logger.info("retrying failed cell %s (%s)", cell.filename, record.get("error"))
            pending.append(cell)
        else:
            done[cell.key] = record
    for stray in cell_dir.glob(".*.tmp"):  # left by a run killed mid-write
        if _writer_is_gone(stray):
            stray.unlink(missing_ok=True)
    return done, pending, n_corrupt


def _writer_is_gone(tmp):
    """Whether the process that wrote ``.<name>.<pid>.tmp`` has exited."""
    try:
        pid = int(tmp.name.rsplit(".", 2)[-2])
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. no permission to signal it: it exists
        return False
    return False


def _write_manifest(out, config, cells):
    from .. import __version__

    manifest = {
        "format": CELL_FORMAT,
        "package_version": __version__,
        "config": config.to_dict(),
        "cells": [{"key": c.key, "part": c.part, "file": c.filename} for c in cells],
    }
    tmp = out / f".run.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False))
    os.replace(tmp, out / "run.json")


def run_experiment(
    config,
    out,
    *,
    backend="sequential",
    n_jobs=None,
    executor=None,
    scheduler=None,
    workers=None,
    dask_options=None,
    retry_failed=True,
    progress=True,
    report=True,
):
    """Run (or resume) an experiment grid into a run folder.

    The config is validated and the data checked before any cell runs. Finished cells found in
    ``out/cells`` are skipped; corrupt ones are moved aside (``*.corrupt``) and recomputed. Each
    task's records are written as soon as it finishes, atomically, by this (the driving)
    process, so killing the run loses at most the tasks in flight. At the end the tidy results,
    tables, figures and report are rebuilt from the cell files (:func:`report.build_report`).

    Parameters
    ----------
    config : ExperimentConfig, dict, str or path-like
        A config, or what :func:`load_config` accepts.
    out : str or path-like
        The run folder (created if missing).
    backend : {"sequential", "joblib", "executor", "dask"}, default="sequential"
        ``"joblib"`` runs tasks with :class:`joblib.Parallel` (``n_jobs`` workers, unordered
        results); ``"executor"`` submits them to ``executor``; ``"dask"`` uses a
        ``distributed.Client`` on ``scheduler`` or, without it, on a ``LocalCluster`` of
        ``workers`` single-threaded workers.
    n_jobs : int, default=None
        Number of joblib workers; None means 1 unless inside :func:`joblib.parallel_config`.
    executor : concurrent.futures.Executor, default=None
        Any executor, for ``backend="executor"`` (e.g. ``ProcessPoolExecutor(2)`` or a Dask
        client's ``get_executor()``). It is not shut down here.
    scheduler : str, default=None
        Address of a running Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"``.
    workers : int, default=None
        Workers of the local Dask cluster (default 2).
    dask_options : dict, default=None
        Extra ``LocalCluster`` arguments, e.g. ``{"processes": False}``.
    retry_failed : bool, default=True
        Recompute cells whose record says ``status="error"``.
    progress : bool, default=True
        Show a tqdm bar over cells.
    report : bool, default=True
        Rebuild results, tables, figures and the report at the end.

    Returns
    -------
    summary : RunSummary
        Counts of reused, computed, failed and corrupt cells, wall time and the report path.

    Notes
    -----
    **Run folder.** ``run.json`` (the config and the list of the grid's cells), ``cells/``
    (one JSON file per cell), then, from :func:`report.build_report`, ``results.parquet``,
    ``results.csv``, ``cells.csv``, ``tables/``, ``figures/``, ``report.md`` and
    ``report.html``.

    **Cell file.** A JSON object with ``format`` (1), ``key`` (sha256 of the canonical
    settings), ``part``, ``settings``, ``status`` ("ok" or "error"), ``error``, ``rows`` (tidy
    result rows: ``metric``, ``value`` and row-specific fields such as ``stage``, ``rank``,
    ``epoch``), ``info`` (sizes actually used, accuracy, ...), ``notes``, ``seeds``
    (replicate and derived model seed), ``versions`` (package, python, numpy, scipy, sklearn,
    torch), ``device``, ``platform``, ``started_at``, ``wall_time_s`` and ``checksum``
    (sha256 of the rest). Non-finite numbers are stored as null.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_attnkernel.analysis.experiments import load_config, run_experiment
    >>> config = load_config({
    ...     "run": {"seeds": [0]},
    ...     "data": {"settings": ["binary"]},
    ...     "ntk": {"enabled": False}, "malleability": {"enabled": False},
    ...     "interventions": {"enabled": False},
    ...     "collapse": {"transforms": ["raw", "linear"]},
    ... })
    >>> with tempfile.TemporaryDirectory() as out:
    ...     first = run_experiment(config, out, progress=False, report=False)
    ...     again = run_experiment(config, out, progress=False, report=False)
    >>> (first.n_computed, again.n_reused, again.n_computed)
    (3, 3, 0)
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    backends = ("sequential", "joblib", "executor", "dask")
    if backend not in backends:
        raise ValueError(f"backend must be one of {backends}, got {backend!r}.")
    if backend == "executor" and not isinstance(executor, concurrent.futures.Executor):
        raise ValueError(
            f"backend='executor' needs a concurrent.futures.Executor, got executor={executor!r}."
        )
    config.check_data()
    cells = config.cells()
    out = Path(out)
    cell_dir = out / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, config, cells)

    done, pending, n_corrupt = _scan(cells, cell_dir, retry_failed)
    summary = RunSummary(out=out, n_cells=len(cells), n_reused=len(done), n_corrupt=n_corrupt)
    logger.info(
        "%d cells: %d finished on disk, %d to run (%d corrupt)",
        len(cells),
        len(done),
        len(pending),
        n_corrupt,
    )
    context = {"root": config["data"]["root"], "threads": config["run"]["threads"]}
    tasks = _tasks(pending)
    client = cluster = None
    if backend == "dask":
        client, cluster = _dask_executor(scheduler, workers, dask_options)
        executor = client.get_executor()
    restore = _ThreadState(context["threads"])  # cells may run in this process
    failed = sum(1 for r in done.values() if r["status"] == "error")
    try:
        with tqdm(total=len(pending), unit="cell", disable=not progress, desc="attnkernel") as bar:
            for (part, task_cells), records in _execute(
                tasks, context, backend=backend, n_jobs=n_jobs, executor=executor
            ):
                if isinstance(records, BaseException):
                    logger.error(
                        "%s task of %d cell(s) could not run: %s: %s (rerun to retry)",
                        part,
                        len(task_cells),
                        type(records).__name__,
                        records,
                    )
                    failed += len(task_cells)
                    bar.update(len(task_cells))
                    continue
                for record in records:
                    write_cell(cell_dir, record)
                    failed += record["status"] == "error"
                summary.n_computed += len(records)
                bar.update(len(records))
                logger.debug("%s: %d cell(s) written", part, len(records))
    finally:
        restore.restore()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    summary.n_failed = failed
    if report:
        from .report import build_report

        summary.report = build_report(out)
    summary.wall_time_s = time.perf_counter() - start
    return summary


class _ThreadState:
    """Remember this process's BLAS and torch thread counts, to restore them after a run."""

    def __init__(self, threads):
        from threadpoolctl import threadpool_limits

        self._limiter = threadpool_limits(limits=threads)
        torch = sys.modules.get("torch")
        self._torch = torch.get_num_threads() if torch is not None else None

    def restore(self):
        self._limiter.restore_original_limits()
        torch = sys.modules.get("torch")
        if torch is not None and self._torch is not None:
            torch.set_num_threads(self._torch)
