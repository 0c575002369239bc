"""The cells of a grid: one :class:`Cell` per point, expanded part by part from a config.

The grid is the Cartesian product of the config's axes (datasets × settings × training-set sizes
× architectures × widths × seeds × attacks × ε × ...). Each point is a :class:`Cell` whose
*canonical settings* (a flat dict of everything that determines its numbers) are hashed into
its key (:func:`~sklearn_attnkernel.analysis.store.cell_key`). Cells that share a trained
network (the attacks and ε values of one malleability fit) share a *group key* and run as one
task, which trains once.

The expansion reads a validated config dict (:class:`~sklearn_attnkernel.analysis.config.
ExperimentConfig` holds one); a training-set size at least its split's size becomes "all".
"""

import dataclasses
import functools
import itertools
import logging

from .._utils.vocabulary import PARTS
from .data import resolve_n_test, split_size
from .store import cell_key

__all__ = ["Cell", "data_grid", "expand_cells"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, eq=False)
class Cell:
    """One point of the grid.

    Parameters
    ----------
    part : str
        One of :data:`~sklearn_attnkernel._utils.vocabulary.PARTS`.
    settings : dict
        Flat, JSON-serialisable settings that determine the cell's numbers (including
        ``part``); the key is their hash.
    group : tuple of str
        Names of the settings that may differ between cells run as one task (cells whose other
        settings agree share one trained network).

    Attributes
    ----------
    key : str
        :func:`~sklearn_attnkernel.analysis.store.cell_key` of ``settings``.
    filename : str
        ``<part>-<key[:16]>.json``.
    group_key : str
        Key of the settings outside ``group``: cells with equal group keys form one task.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.cells import Cell
    >>> from sklearn_attnkernel.analysis.store import cell_key
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


def expand_cells(cfg):
    """Expand a validated config dict into cells, part by part, in a fixed order.

    Returns one :class:`Cell` per grid point of the enabled parts; identical settings are
    listed once.
    """
    cells, seen = [], set()
    for part in PARTS:
        if not cfg[part]["enabled"]:
            continue
        for cell in _EXPANDERS[part](cfg):
            if cell.key not in seen:
                seen.add(cell.key)
                cells.append(cell)
    return cells


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
        settings["n_test"] = resolve_n_test(data, dataset, setting, n_train, test)
    return settings


def _network_settings(cfg, part, stopping=None):
    """The training settings of a part's networks, under ``stopping`` (None: the part's rule).

    Only the epoch count the rule uses is kept (``max_epochs`` at convergence, ``epochs``
    when fixed), so changing the other leaves the cell keys of that rule unchanged.
    """
    training = _training(cfg, part)
    if stopping is not None:
        training["stopping"] = stopping
    del training["epochs" if training["stopping"] == "convergence" else "max_epochs"]
    return {
        **training,
        "device": cfg["run"]["device"],
        "dtype": cfg["run"]["dtype"],
    }


def _n_train_grid(cfg, part, dataset, setting):
    """The part's training-set sizes; a size at least the split's becomes "all", listed once."""
    size = split_size(cfg["data"], dataset, setting)
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
    return n_grid


def data_grid(cfg, part):
    """Yield ``(dataset, setting, n_train, seed)`` of a part, in the grid's order.

    Raises :class:`~sklearn_attnkernel.analysis.data.DataUnavailableError` for a dataset whose
    split cannot be loaded.
    """
    for dataset in cfg["data"]["datasets"]:
        for setting in _axis(cfg, part, "settings"):
            for n_train in _n_train_grid(cfg, part, dataset, setting):
                for seed in _axis(cfg, part, "seeds"):
                    yield dataset, setting, n_train, seed


def _expand_kappa(cfg):
    table = cfg["kappa"]
    for dataset, setting, n_train, seed in data_grid(cfg, "kappa"):
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
    for dataset, setting, n_train, seed in data_grid(cfg, "collapse"):
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
    for dataset, setting, n_train, seed in data_grid(cfg, "ntk"):
        data = _data_settings(cfg, "ntk", dataset, setting, n_train, seed, test=table["n_eval"])
        for architecture, width, stopping in itertools.product(
            table["architectures"], table["widths"], table["stopping"]
        ):
            yield Cell(
                "ntk",
                {
                    **data,
                    **_network_settings(cfg, "ntk", stopping),
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
    axes = ("architectures", "widths", "adversarial_training", "attacks", "epsilons")
    for dataset, setting, n_train, seed in data_grid(cfg, "malleability"):
        data = _data_settings(cfg, "malleability", dataset, setting, n_train, seed, test=n_test)
        for architecture, width, adversarial, attack, epsilon in itertools.product(
            *(table[axis] for axis in axes)
        ):
            settings = {
                **data,
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


_INTERVENTION_KEYS = (
    "attack",
    "epsilon",
    "steps",
    "step_size",
    "clip",
    "top_fraction",
    "record_epochs",
)


def _expand_interventions(cfg):
    table = cfg["interventions"]
    n_test = cfg["data"]["n_test"]
    for dataset, setting, n_train, seed in data_grid(cfg, "interventions"):
        data = _data_settings(cfg, "interventions", dataset, setting, n_train, seed, test=n_test)
        for architecture, width, kind in itertools.product(
            table["architectures"], table["widths"], table["kinds"]
        ):
            settings = {
                **data,
                **_network_settings(cfg, "interventions"),
                "architecture": architecture,
                "width": width,
                "kind": kind,
                **{key: table[key] for key in _INTERVENTION_KEYS},
            }
            yield Cell("interventions", settings, group=("kind",))


#: The keys of the attack on training points that the complexity, examples and audit parts share
#: with the malleability part.
_ATTACK_KEYS = ("attack", "epsilon", "epsilon_space", "steps", "step_size", "clip", "mode")
_COMPLEXITY_KEYS = ("n_groups", "alpha", "loss", *_ATTACK_KEYS)


def _expand_complexity(cfg):
    """One cell per kernel; the kernels of one network (and its one attack) run as one task."""
    table = cfg["complexity"]
    n_test = cfg["data"]["n_test"]
    for dataset, setting, n_train, seed in data_grid(cfg, "complexity"):
        data = _data_settings(cfg, "complexity", dataset, setting, n_train, seed, test=n_test)
        for architecture, kernel in itertools.product(table["architectures"], table["kernels"]):
            settings = {
                **data,
                **_network_settings(cfg, "complexity"),
                "architecture": architecture,
                "width": table["width"],
                "kernel": kernel,
                **{key: table[key] for key in _COMPLEXITY_KEYS},
            }
            yield Cell("complexity", settings, group=("kernel",))


_EXAMPLE_KEYS = ("n_test_points", "k", *_ATTACK_KEYS, "top_fraction", "kernel", "alpha", "loss")


def _expand_examples(cfg):
    table = cfg["examples"]
    n_test = cfg["data"]["n_test"]
    for dataset, setting, n_train, seed in data_grid(cfg, "examples"):
        data = _data_settings(cfg, "examples", dataset, setting, n_train, seed, test=n_test)
        for architecture in table["architectures"]:
            settings = {
                **data,
                **_network_settings(cfg, "examples"),
                "architecture": architecture,
                "width": table["width"],
                "adversarial_training": False,
                "adversarial": None,
                **{key: table[key] for key in _EXAMPLE_KEYS},
            }
            yield Cell("examples", settings)


def _expand_landscape(cfg):
    table = cfg["landscape"]
    for dataset, setting, n_train, seed in data_grid(cfg, "landscape"):
        data = _data_settings(cfg, "landscape", dataset, setting, n_train, seed)
        for architecture in table["architectures"]:
            yield Cell(
                "landscape",
                {
                    **data,
                    **_network_settings(cfg, "landscape"),
                    "architecture": architecture,
                    **{key: table[key] for key in ("width", "n_points", "span", "rise")},
                },
            )


_AUDIT_KEYS = (
    "width",
    "methods",
    "checkpoints",
    "top_fraction",
    "top_fractions",
    "n_retrain",
    *(key for key in _ATTACK_KEYS if key != "epsilon"),
    "kernel",
    "alpha",
    "loss",
)


def _expand_audit(cfg):
    """One cell per network and ε: the ε of one network share its training and retrains."""
    table = cfg["audit"]
    n_test = cfg["data"]["n_test"]
    for dataset, setting, n_train, seed in data_grid(cfg, "audit"):
        data = _data_settings(cfg, "audit", dataset, setting, n_train, seed, test=n_test)
        for architecture, epsilon in itertools.product(table["architectures"], table["epsilons"]):
            settings = {
                **data,
                **_network_settings(cfg, "audit"),
                "architecture": architecture,
                "adversarial_training": False,
                "adversarial": None,
                **{key: table[key] for key in _AUDIT_KEYS},
                "epsilon": epsilon,
            }
            yield Cell("audit", settings, group=("epsilon",))


_EXPANDERS = {
    "kappa": _expand_kappa,
    "collapse": _expand_collapse,
    "ntk": _expand_ntk,
    "malleability": _expand_malleability,
    "interventions": _expand_interventions,
    "complexity": _expand_complexity,
    "examples": _expand_examples,
    "landscape": _expand_landscape,
    "audit": _expand_audit,
}
