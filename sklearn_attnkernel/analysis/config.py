"""The experiment config: validation and :func:`load_config` over the defaults and the ``--quick``
preset (:mod:`.presets`).

A config is a nested table (TOML file or dict) merged over :data:`DEFAULT_CONFIG`. Every key is
checked by one rule of a table (dotted key → checker, run in order by a short loop), so a bad
value raises :class:`ConfigError` naming the key, the value and the fix before any work starts.
"""

import copy
import difflib
import json
import math
import tomllib
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

from .._utils.vocabulary import (
    ADVERSARIAL_METHODS,
    ARCHITECTURES,
    ATTACKS,
    PARTS,
    TRANSFORMS,
)
from ..datasets.loaders import DATASETS
from ..influence.attribution_params import ATTRIBUTION_METHODS
from .cells import data_grid, expand_cells
from .data import DataUnavailableError, holdout_pool
from .presets import DEFAULT_CONFIG, NTK_METRICS, QUICK_OVERRIDES, STAGES, STOPPING

__all__ = [
    "DEFAULT_CONFIG",
    "QUICK_OVERRIDES",
    "ConfigError",
    "ExperimentConfig",
    "load_config",
]

_SETTINGS = ("multiclass", "binary")
_SPLITS = ("train", "test", "all")
_INTERVENTIONS = ("curated", "transformed", "adversarial")

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
    >>> from sklearn_attnkernel.analysis.config import ConfigError, load_config
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
        # a part's default training override (audit: fixed epochs) keeps the other keys open
        training = schema[part]["training"] or {}
        schema[part]["training"] = {**dict.fromkeys(DEFAULT_CONFIG["training"]), **training}
    return schema


# --------------------------------------------------------------------------------------------
# Value checkers: ``check(key, value)`` returns the normalised value or raises ConfigError
# naming the key. The factories below build the checkers of the rule table.
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


def _check_name(key, value):
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(key, f"must be a non-empty string, got {value!r}.")
    return value


def _check_root(key, value):
    if value is not None and not isinstance(value, str):
        raise ConfigError(key, f"must be a folder path (string), got {value!r}.")
    return value


def _check_rank(key, rank):
    if not (
        rank in ("numerical", "full")
        or (_is_int(rank) and rank >= 1)
        or (_is_real(rank) and 0 < rank < 1 and not _is_int(rank))
    ):
        raise ConfigError(
            key,
            f"must be 'numerical', 'full', an integer >= 1 or a fraction in (0, 1), got {rank!r}.",
        )
    return rank


def _integer(minimum):
    return lambda key, value: _check_int(key, value, minimum)


def _real(**bounds):
    return lambda key, value: _check_real(key, value, **bounds)


def _choice(choices):
    return lambda key, value: _check_choice(key, value, choices)


def _list(item_check, *, allow_empty=False):
    return lambda key, value: _check_list(key, value, item_check, allow_empty=allow_empty)


def _optional(check):
    """A per-part override: None keeps the shared axis."""
    return lambda key, value: None if value is None else check(key, value)


_TRAINING_RULES = {
    "stopping": _choice(STOPPING),
    "max_epochs": _integer(1),
    "tol": _real(low_open=False),
    "n_iter_no_change": _integer(1),
    "epochs": _integer(1),
    "lr": _real(),
    "batch_size": _integer(1),
    "reg_lambda": _real(low_open=False),
    "sigma_w": _real(),
}


def _check_training(key, table, *, partial=False):
    out = {}
    for name, check in _TRAINING_RULES.items():
        value = table.get(name)
        if value is None and partial:
            continue
        out[name] = check(f"{key}.{name}", value)
    return out


def _check_part_training(key, table):
    """A part's ``training`` sub-table: only the keys it sets override the shared ones."""
    table = table or {}
    if not isinstance(table, Mapping):
        raise ConfigError(key, f"must be a table, got {table!r}.")
    return _check_training(key, table, partial=True)


def _check_ntk_training(key, table):
    """The ntk part's stopping rules are its axis ``ntk.stopping``, not a training override."""
    if "stopping" in table:
        raise ConfigError(
            f"{key}.stopping",
            f"got {table['stopping']!r}, but the ntk part trains under each rule of its axis "
            f'ntk.stopping; set ntk.stopping = ["{table["stopping"]}"] instead.',
        )
    return table


def _check_adversarial(key, table):
    if not isinstance(table, Mapping):
        raise ConfigError(key, f"must be a table, got {table!r}.")
    allowed = {"method", "epsilon", "steps", "step_size"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", f"unknown key; allowed: {sorted(allowed)}.")
    out = dict(DEFAULT_CONFIG["malleability"]["adversarial"])
    out.update(table)
    out["method"] = _check_choice(f"{key}.method", out["method"], ADVERSARIAL_METHODS)
    out["epsilon"] = _check_real(f"{key}.epsilon", out["epsilon"], low_open=False)
    out["steps"] = _check_int(f"{key}.steps", out["steps"], 1)
    if "step_size" in out:  # absent: 2.5 · epsilon / steps (TwoLayerReLUClassifier's rule)
        out["step_size"] = _check_real(f"{key}.step_size", out["step_size"])
    return out


def _check_odd_points(key, value):
    if not _is_int(value) or value < 3 or value % 2 == 0:
        raise ConfigError(
            key, f"must be an odd integer >= 3 (the trained weights are the centre), got {value!r}."
        )
    return int(value)


_SEEDS = _list(_integer(0))
_N_GRID = _list(_check_n)
_WIDTHS = _list(_integer(1))
_ARCHITECTURE_LIST = _list(_choice(ARCHITECTURES))
_FRACTION = _real(high=1.0)


def _part_rules(part):
    """``enabled`` and the optional overrides of the shared axes, for every part table."""
    return (
        (f"{part}.enabled", _check_bool),
        (f"{part}.seeds", _optional(_SEEDS)),
        (f"{part}.n_train", _optional(_N_GRID)),
        (f"{part}.settings", _optional(_list(_choice(_SETTINGS)))),
        (f"{part}.training", _check_part_training),
    )


def _attack_rules(part, attacks=ATTACKS, curve=False):
    """The rules of the attack on training points of a part that attacks one (ε, attack), or
    with ``curve`` a list of ε (key ``epsilons``)."""
    epsilon = (f"{part}.epsilons", _list(_real(low_open=False))) if curve else None
    return (
        (f"{part}.attack", _choice(attacks)),
        epsilon or (f"{part}.epsilon", _real(low_open=False)),
        (f"{part}.epsilon_space", _choice(("pixel", "standardized"))),
        (f"{part}.steps", _integer(1)),
        (f"{part}.step_size", _real()),
        (f"{part}.clip", _check_bool),
        (f"{part}.mode", _choice(("joint", "independent"))),
    )


#: Every config key and its checker, in the order they are checked.
_RULES = (
    ("run.name", _check_name),
    ("run.seeds", _SEEDS),
    ("run.device", _check_device),
    ("run.dtype", _choice(("float32", "float64"))),
    ("run.threads", _integer(1)),
    ("data.datasets", _list(_choice(DATASETS))),
    ("data.settings", _list(_choice(_SETTINGS))),
    ("data.root", _check_root),
    ("data.train_split", _choice(_SPLITS)),
    ("data.test_split", _choice(_SPLITS)),
    ("data.n_train", _N_GRID),
    ("data.n_test", _check_n),
    ("training", _check_training),
    *(rule for part in PARTS for rule in _part_rules(part)),
    ("kappa.rank", _check_rank),
    ("kappa.ranks", _list(_integer(1), allow_empty=True)),
    ("kappa.practical_width", _real(low=1.0, low_open=False)),
    ("collapse.transforms", _list(_choice(TRANSFORMS))),
    ("collapse.max_rows", _integer(2)),
    ("ntk.architectures", _ARCHITECTURE_LIST),
    ("ntk.widths", _WIDTHS),
    ("ntk.stages", _list(_choice(STAGES))),
    ("ntk.metrics", _list(_choice(NTK_METRICS))),
    ("ntk.stopping", _list(_choice(STOPPING))),
    ("ntk.training", _check_ntk_training),
    ("ntk.loss", _choice(("cross_entropy", "mse"))),
    ("ntk.alpha", _real()),
    ("ntk.n_eval", _check_n),
    ("malleability.architectures", _ARCHITECTURE_LIST),
    ("malleability.widths", _WIDTHS),
    ("malleability.attacks", _list(_choice(ATTACKS))),
    ("malleability.epsilons", _list(_real(low_open=False))),
    ("malleability.epsilon_space", _choice(("pixel", "standardized"))),
    ("malleability.top_fraction", _FRACTION),
    ("malleability.steps", _integer(1)),
    ("malleability.step_size", _real()),
    ("malleability.clip", _check_bool),
    ("malleability.mode", _choice(("joint", "independent"))),
    ("malleability.kernel", _choice(("empirical", "infinite"))),
    ("malleability.alpha", _real()),
    ("malleability.loss", _choice(("squared", "cross_entropy"))),
    ("malleability.adversarial_training", _list(_check_bool)),
    ("malleability.adversarial", _check_adversarial),
    ("interventions.architectures", _ARCHITECTURE_LIST),
    ("interventions.widths", _WIDTHS),
    ("interventions.kinds", _list(_choice(_INTERVENTIONS))),
    ("interventions.attack", _choice(ATTACKS)),
    ("interventions.steps", _integer(1)),
    ("interventions.step_size", _real()),
    ("interventions.clip", _check_bool),
    ("interventions.epsilon", _real(low_open=False)),
    ("interventions.top_fraction", _FRACTION),
    ("interventions.record_epochs", _list(_integer(1), allow_empty=True)),
    ("complexity.architectures", _ARCHITECTURE_LIST),
    ("complexity.width", _integer(1)),
    ("complexity.kernels", _list(_choice(("empirical", "infinite")))),
    ("complexity.n_groups", _integer(1)),
    ("complexity.alpha", _real()),
    ("complexity.loss", _choice(("squared", "cross_entropy"))),
    *_attack_rules("complexity"),
    ("examples.architectures", _ARCHITECTURE_LIST),
    ("examples.width", _integer(1)),
    ("examples.n_test_points", _integer(1)),
    ("examples.k", _integer(1)),
    *_attack_rules("examples"),
    ("examples.top_fraction", _FRACTION),
    ("examples.kernel", _choice(("empirical", "infinite"))),
    ("examples.alpha", _real()),
    ("examples.loss", _choice(("squared", "cross_entropy"))),
    ("landscape.architectures", _ARCHITECTURE_LIST),
    ("landscape.width", _integer(1)),
    ("landscape.n_points", _check_odd_points),
    ("landscape.span", _real()),
    ("landscape.rise", _real()),
    ("malleability.backend", _choice(("numpy", "dask"))),
    ("malleability.chunk_size", _optional(_integer(1))),
    ("audit.architectures", _ARCHITECTURE_LIST),
    ("audit.width", _integer(1)),
    ("audit.methods", _list(_choice(("exact", *ATTRIBUTION_METHODS)))),
    ("audit.checkpoints", _list(_integer(1))),
    ("audit.top_fraction", _FRACTION),
    ("audit.top_fractions", _list(_FRACTION)),
    ("audit.n_retrain", _integer(3)),
    # the random baseline runs beside the attack, at every ε of the curve
    *_attack_rules("audit", ADVERSARIAL_METHODS, curve=True),
    ("audit.kernel", _choice(("empirical", "infinite"))),
    ("audit.alpha", _real()),
    ("audit.loss", _choice(("squared", "cross_entropy"))),
)


def _validate(raw):
    """Check every key of a merged config by the rules; return the normalised config dict."""
    cfg = copy.deepcopy(raw)
    for dotted, check in _RULES:
        *path, name = dotted.split(".")
        table = cfg
        for step in path:
            table = table[step]
        table[name] = check(dotted, table.get(name))
    if not any(cfg[part]["enabled"] for part in PARTS):
        raise ConfigError(
            "enabled", f"every part is disabled; enable at least one of {', '.join(PARTS)}."
        )
    if cfg["run"]["name"] is None:
        cfg["run"]["name"] = "-".join(cfg["data"]["datasets"])
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
        ``stopping`` ("convergence", the default: train until the training loss has not
        fallen by ``tol`` below its best for ``n_iter_no_change`` consecutive epochs, at most
        ``max_epochs`` epochs, default 500 as in the paper; "fixed": exactly ``epochs``
        epochs, default 100, the analysis's rule before training to convergence), ``tol``
        (default 1e-3) and ``n_iter_no_change`` (default 10) as in
        :class:`~sklearn_attnkernel.TwoLayerReLUClassifier`, ``lr``, ``batch_size``,
        ``reg_lambda`` (summed ``‖θ − θ₀‖²`` convention of
        :class:`~sklearn_attnkernel.TwoLayerReLUClassifier`), ``sigma_w``. A cell records only
        the count its rule uses (``max_epochs`` or ``epochs``), and every trained network
        records the epochs it used, its final training loss and whether it converged.
    ``[kappa]``
        ``rank``, ``ranks`` (rank curve; empty: ~20 log-spaced ranks), ``practical_width``.
    ``[collapse]``
        ``transforms`` ("raw", "linear", "softmax", "exponential"), ``max_rows`` (rows sampled
        for the cosine quantiles).
    ``[ntk]``
        ``architectures`` ("relu", "attention", "softmax", "exponential"), ``widths``,
        ``stages``, ``metrics``, ``stopping`` (an axis: the stopping rules of the part's
        networks, default ["convergence", "fixed"]: every network trains to convergence and
        again for the fixed ``training.epochs``, the control that tells an NTK distance of a
        converged network from one of an under-trained network; it replaces
        ``training.stopping`` for this part, so ``[ntk.training]`` may not set ``stopping``),
        ``loss`` ("cross_entropy": the paper's classifier; "mse": one-hot regression, a
        scale-comparable function-space distance), ``alpha``, ``n_eval``.
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
        ``backend`` ("numpy"; "dask": the influence factorised in blocks on the active Dask
        scheduler, :ref:`dask`) and ``chunk_size`` (its block rows; default 2048): how the
        influence is computed, not what, so they are not part of a cell's key.
    ``[interventions]``
        ``n_train`` (default [1000]: one size, not the data grid), ``architectures``,
        ``widths``, ``kinds`` ("curated", "transformed", "adversarial"),
        ``attack``, ``epsilon`` (pixel units), ``steps``, ``step_size``, ``clip``,
        ``top_fraction``, ``record_epochs`` (test accuracy after these numbers of epochs, each
        an extra training of the same seeded trajectory; empty: final accuracy only).
    ``[complexity]``
        RKHS complexity and malleability by influence group (arXiv 2603.13085, Fig. 3):
        ``n_train`` (default [1000]), ``architectures``, ``width`` (one width), ``kernels``
        ("empirical": the trained network's NTK, "infinite": the infinite-width NTK),
        ``n_groups`` (groups by influence score, default 10: deciles), ``alpha``, ``loss``
        (of the influence scores), and the attack on every training point whose sign flips
        are counted per group: ``attack``, ``epsilon``, ``epsilon_space``, ``steps``,
        ``step_size``, ``clip``, ``mode``.
    ``[examples]``
        The most helpful and harmful training images of a few test points (arXiv 2603.13085,
        A.10): ``seeds`` (default [0, 1, 2]), ``n_train`` (default [1000]),
        ``architectures``, ``width`` (one width), ``n_test_points`` (test points drawn per
        seed, the same for every architecture), ``k`` (training points per side), the attack
        on the top set ``T`` (``attack``, ``epsilon``, ``epsilon_space``, ``steps``,
        ``step_size``, ``clip``, ``mode``, ``top_fraction``) and the influence (``kernel``,
        ``alpha``, ``loss``), as in ``[malleability]``.
    ``[landscape]``
        The training loss around the trained weights (paper Fig. 5,
        :func:`~sklearn_attnkernel.loss_landscape`): ``enabled`` (default false; the
        ``--quick`` preset turns it on with a 9 × 9 grid, one seed and n = 300),
        ``n_train`` (default [2000]), ``architectures``, ``width`` (one width, default 1024),
        ``n_points`` (odd, per direction, default 21), ``span`` (the grid covers
        ``[-span, span]²`` in filter-normalised units, default 1), ``rise`` (the basin of the
        area summary: loss at most the centre's plus ``rise``, default 0.1).

    ``[audit]``
        The influence methods practitioners use, against retraining (arXiv 2603.13085, §6;
        :ref:`audit`): ``enabled`` (default false: hours of CPU), ``n_train`` (default
        [300]), ``architectures``, ``width`` (one width, default 64), ``methods`` ("exact" and
        the dattri methods), ``checkpoints`` (ensemble sizes T, default [1, 3, 5]),
        ``top_fraction`` (the attacked set), ``top_fractions`` (k of the flip rate by k),
        ``n_retrain`` (points retrained without, default 50), the attack (``attack``,
        ``epsilons``: the ε curve, default [0.03, 0.1, 0.3], one cell each, read at the
        paper's ε = 0.3 in the table; ``epsilon_space``, ``steps``, ``step_size``, ``clip``,
        ``mode``) and the exact influence (``kernel``, ``alpha``, ``loss``); its
        ``training`` defaults to 100 full-batch fixed epochs at lr 0.1.

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
    sklearn_attnkernel.analysis.runner.run_experiment : Runs its cells.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.config import load_config
    >>> config = load_config({"data": {"settings": ["binary"]}}, quick=True)
    >>> sorted({cell.part for cell in config.cells()})
    ['audit', 'collapse', 'complexity', 'examples', 'kappa', 'landscape', 'malleability', 'ntk']
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
            One :class:`~sklearn_attnkernel.analysis.cells.Cell` per grid point of the enabled
            parts; identical settings are listed once.
        """
        try:
            return expand_cells(self.config)
        except DataUnavailableError as exc:
            raise ConfigError("data.datasets", str(exc)) from exc

    def check_data(self):
        """Check that every dataset and test-set size of the grid is available; raise if not.

        Loads each (dataset, setting) split once (cached). Raises :class:`ConfigError` naming
        the key when the files are missing or too few test points remain.
        """
        try:
            for part in PARTS:
                if self.config[part]["enabled"]:
                    _check_part_data(self.config, part)
        except DataUnavailableError as exc:
            raise ConfigError("data.datasets", str(exc)) from exc


def _n_test_of(cfg, part):
    """Test points a part needs (None: no test set)."""
    if part == "ntk":
        return cfg["ntk"]["n_eval"]
    if part in ("malleability", "interventions", "complexity", "examples", "audit"):
        return cfg["data"]["n_test"]
    return None


def _check_part_data(cfg, part):
    n_test = _n_test_of(cfg, part)
    seen = set()
    for dataset, setting, n_train, _ in data_grid(cfg, part):
        if n_test is None or (dataset, setting, n_train) in seen:
            continue
        seen.add((dataset, setting, n_train))
        pool, where = holdout_pool(cfg["data"], dataset, setting, n_train)
        if pool < 2:
            raise ConfigError(
                "data.test_split",
                f"{part} needs test points of {dataset} ({setting}) but {where} holds {pool} "
                "after the training points; lower n_train or set data.test_split to another "
                "split.",
            )


def _read_source(source):
    """The table of a config source: None, a dict or a TOML file."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist.")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("<file>", f"{str(path)!r} is not valid TOML: {exc}") from exc


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
    >>> from sklearn_attnkernel.analysis.config import ConfigError, load_config
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
    merged = _merge(base, _read_source(source))
    for dotted, value in (overrides or {}).items():
        nested = value
        for name in reversed(dotted.split(".")):
            nested = {name: nested}
        merged = _merge(merged, nested)
    return ExperimentConfig(_validate(merged))
