"""The dattri-backed influence methods' names and settings (numpy only: no torch, no dattri).

Validated here, apart from :mod:`~sklearn_attnkernel.influence.attribution` which runs them, so
that a typo in ``method`` or ``method_params`` fails when a scorer is built, without importing
torch.
"""

import math
from numbers import Integral, Real

import numpy as np

__all__ = ["ATTRIBUTION_METHODS", "DEFAULT_METHOD_PARAMS", "check_method_params"]

#: The dattri-backed values of ``method`` (``"exact"`` is the closed-form NTK influence).
ATTRIBUTION_METHODS = ("trak", "ekfac", "datainf", "arnoldi", "tracin", "if-explicit")

#: Each method's settings and their defaults. dattri's own defaults, except the damping terms
#: marked "ours" in :func:`~sklearn_attnkernel.influence.estimators.influence_scores`: dattri's
#: 0.0 leaves the inverted matrix singular on networks with more parameters than training points.
DEFAULT_METHOD_PARAMS = {
    method: {**settings, "checkpoints": None}
    for method, settings in {
        "trak": {"proj_dim": 512, "proj_seed": 0, "proj_type": "normal", "regularization": 1e-3},
        "ekfac": {"damping": 1e-3},
        "datainf": {"regularization": 0.1, "fim_estimate_data_ratio": 1.0},
        "arnoldi": {
            "proj_dim": 100,
            "max_iter": 100,
            "tol": 1e-7,
            "regularization": 1e-3,
            "seed": 0,
            "precompute_data_ratio": 1.0,
        },
        "tracin": {
            "proj_dim": 512,
            "proj_seed": 0,
            "proj_type": "normal",
            "learning_rate": None,
            "normalized_grad": False,
        },
        "if-explicit": {"regularization": 1e-3},
    }.items()
}

# (type, lower bound, whether the bound is allowed) of every setting; None for "any bool".
_SETTING_RULES = {
    "proj_dim": (Integral, 1, True),
    "proj_seed": (Integral, 0, True),
    "seed": (Integral, 0, True),
    "max_iter": (Integral, 1, True),
    "regularization": (Real, 0.0, True),
    "damping": (Real, 0.0, True),
    "tol": (Real, 0.0, False),
    "fim_estimate_data_ratio": (Real, 0.0, False),
    "precompute_data_ratio": (Real, 0.0, False),
    "learning_rate": (Real, 0.0, False),
}
_PROJ_TYPES = ("normal", "rademacher")
# The setting that damps the inverted matrix, named when a method returns non-finite scores.
DAMPING = {
    "trak": "regularization",
    "ekfac": "damping",
    "datainf": "regularization",
    "arnoldi": "regularization",
    "if-explicit": "regularization",
}
INFLUENCE_FUNCTIONS = ("if-explicit", "arnoldi", "ekfac", "datainf")


def _check_checkpoints(value):
    if value is None:
        return
    ok = isinstance(value, list | tuple) and len(value) > 0
    if ok and all(isinstance(item, dict) and {"W", "A"} <= set(item) for item in value):
        return
    raise ValueError(
        "method_params['checkpoints'] must be None or a non-empty list of the network's "
        "state_dicts (dicts with 'W' and 'A'), e.g. recorded_checkpoints(model) after training "
        f"with callbacks=[RecordCheckpoints(epochs)]; got {type(value).__name__}."
    )


def _check_setting(method, key, value):
    if key == "checkpoints":
        _check_checkpoints(value)
        return
    if key == "proj_type":
        if value not in _PROJ_TYPES:
            raise ValueError(
                f"method_params['proj_type'] must be one of {list(_PROJ_TYPES)} (dattri's "
                f"projections on the CPU); got {value!r}."
            )
        return
    if key == "normalized_grad":
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"method_params['normalized_grad'] must be a bool; got {value!r}.")
        return
    if key == "learning_rate" and value is None:
        return
    kind, bound, closed = _SETTING_RULES[key]
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (value >= bound if closed else value > bound)):
        relation = ">=" if closed else ">"
        raise ValueError(
            f"method_params[{key!r}] of method={method!r} must be a finite "
            f"{'integer' if kind is Integral else 'number'} {relation} {bound}; got {value!r}."
        )


def check_method_params(method, method_params):
    """The settings of ``method``: its defaults updated with ``method_params``, validated.

    Raises a ValueError naming the parameter, the value and the valid choices for an unknown
    method, an unknown setting or a bad value. Needs neither dattri nor a fitted network.
    """
    if method not in DEFAULT_METHOD_PARAMS:
        raise ValueError(
            f"method must be 'exact' or one of {list(ATTRIBUTION_METHODS)}; got method={method!r}."
        )
    if method_params is None:
        method_params = {}
    if not isinstance(method_params, dict):
        raise ValueError(
            f"method_params must be a dict or None; got {type(method_params).__name__}. Pass "
            "e.g. method_params={'proj_dim': 128}."
        )
    defaults = DEFAULT_METHOD_PARAMS[method]
    unknown = sorted(set(method_params) - set(defaults))
    if unknown:
        raise ValueError(
            f"method_params has {unknown} that method={method!r} does not take; its settings "
            f"are {sorted(defaults)}."
        )
    params = {**defaults, **method_params}
    for key, value in method_params.items():
        _check_setting(method, key, value)
    return params
