"""The ``adversarial_training`` setting of the estimators: its keys, defaults and attack.

Adversarial training (the paper's PGD adversarial training, arXiv 2603.13085; issue #4 §6) replaces
each training batch by FGSM, PGD or MIM examples of that batch made against the current network
(Madry et al., 2018). This module holds the validation of the ``adversarial_training`` dict, as a
table of rules, and the call of the chosen attack; the training step that uses it is in
:mod:`sklearn_attnkernel.networks.skorch_net`.
"""

import math
import numbers

import numpy as np
import torch

from .._utils.vocabulary import ADVERSARIAL_METHODS
from ..attacks.gradient_sign import fgsm, mim, pgd

__all__ = ["ADVERSARIAL_DEFAULTS", "attack_batch", "check_adversarial_training"]

#: Defaults of the ``adversarial_training`` dict. step_size None means 2.5 · ε / steps, the rule
#: of Madry et al. (2018) *(ours: the paper gives no value)*.
ADVERSARIAL_DEFAULTS = {
    "epsilon": 0.3,
    "steps": 10,
    "step_size": None,
    "random_start": True,
    "clip": None,
    "method": "pgd",
}


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_finite(value):
    return _is_real(value) and math.isfinite(value)


def _is_clip(value):
    return (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(_is_finite(v) for v in value)
        and value[0] < value[1]
    )


# key -> (accepts the value, what the message says it must be); checked in this order
_RULES = {
    "epsilon": (
        lambda v: _is_finite(v) and v >= 0,
        "a finite number >= 0 (the radius of the ℓ∞ ball)",
    ),
    "steps": (
        lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1,
        "an integer >= 1",
    ),
    "step_size": (
        lambda v: v is None or (_is_finite(v) and v > 0),
        "None (2.5 · epsilon / steps) or a finite number > 0",
    ),
    "random_start": (lambda v: isinstance(v, bool | np.bool_), "True or False"),
    "clip": (
        lambda v: v is None or _is_clip(v),
        "None or a pair (lo, hi) of finite numbers with lo < hi, e.g. (0, 1)",
    ),
    "method": (lambda v: v in ADVERSARIAL_METHODS, f"one of {ADVERSARIAL_METHODS}"),
}


def check_adversarial_training(config):
    """Validate an ``adversarial_training`` dict; return it completed with the defaults.

    Parameters
    ----------
    config : dict
        Some of the keys of :data:`ADVERSARIAL_DEFAULTS`.

    Returns
    -------
    config : dict
        Every key, with ``step_size`` resolved to a number, ``clip`` to None or a pair of floats
        and ``random_start`` to a bool.

    Raises
    ------
    ValueError
        If a key is unknown or a value is out of range; the message names the key.
    """
    unknown = sorted(set(config) - set(ADVERSARIAL_DEFAULTS), key=str)
    if unknown:
        raise ValueError(
            f"adversarial_training has unknown key(s) {unknown}; the allowed keys are "
            f"{sorted(ADVERSARIAL_DEFAULTS)}."
        )
    cfg = {**ADVERSARIAL_DEFAULTS, **config}
    for key, (accepts, expected) in _RULES.items():
        if not accepts(cfg[key]):
            raise ValueError(f"adversarial_training[{key!r}] must be {expected}; got {cfg[key]!r}.")
    if cfg["step_size"] is None:
        cfg["step_size"] = 2.5 * cfg["epsilon"] / cfg["steps"] if cfg["epsilon"] > 0 else 1.0
    clip = cfg["clip"]
    cfg["clip"] = None if clip is None else (float(clip[0]), float(clip[1]))
    cfg["random_start"] = bool(cfg["random_start"])
    return cfg


def attack_batch(objective, X, cfg):
    """Adversarial examples of the batch ``X`` for the validated config ``cfg``.

    Random starts are drawn on the CPU from torch's global CPU generator (which the estimators'
    ``fit`` forks and seeds), so the same seed gives the same starts on every device.

    Parameters
    ----------
    objective : callable
        ``objective(x) -> scalar tensor`` to increase, e.g. the network's task loss on the batch.
    X : torch.Tensor of shape (batch_size, n_features)
        The clean batch.
    cfg : dict
        A config returned by :func:`check_adversarial_training`.

    Returns
    -------
    X_adv : torch.Tensor of shape (batch_size, n_features)
        The adversarial batch, within ``cfg["epsilon"]`` of ``X`` in ℓ∞ (and inside ``clip``).
    """
    if cfg["method"] == "fgsm":
        return fgsm(objective, X, epsilon=cfg["epsilon"], clip=cfg["clip"])
    attack = pgd if cfg["method"] == "pgd" else mim
    return attack(
        objective,
        X,
        epsilon=cfg["epsilon"],
        steps=cfg["steps"],
        step_size=cfg["step_size"],
        random_start=cfg["random_start"],
        clip=cfg["clip"],
        random_state=torch.default_generator,
    )
