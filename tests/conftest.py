"""Shared test configuration.

BLAS and torch are limited to one thread: on the 2-core CI machines a multi-threaded BLAS call on
a tiny matrix costs 20–40 ms against 0.2 ms single-threaded, and pytest-xdist already runs one
worker per core.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

threadpool_limits(limits=1)


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        yield
        return
    torch.set_num_threads(1)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# A tiny grid of the analysis: 2 kappa + 4 collapse + 4 ntk + 4 malleability (2 tasks) = 14
# cells on digits (width ≤ 64, ≤ 3 epochs, n ≤ 120), a few seconds on one core.
TINY_GRID = {
    "run": {"seeds": [0, 1]},
    "data": {"settings": ["binary"], "n_train": [120], "n_test": 40},
    "training": {"epochs": 3, "lr": 0.01},
    "collapse": {"transforms": ["raw", "linear"], "n_train": [120]},
    "kappa": {"n_train": [120]},
    "ntk": {
        "architectures": ["relu", "attention"],
        "widths": [16, 64],
        "seeds": [0],
        "n_train": [80],
        "n_eval": 30,
    },
    "malleability": {
        "architectures": ["relu", "attention"],
        "widths": [32],
        "seeds": [0],
        "attacks": ["fgsm", "random"],
        "epsilons": [0.1],
        "steps": 2,
        "adversarial_training": [False],
    },
    "interventions": {"enabled": False},
}


@pytest.fixture(scope="session")
def tiny_grid():
    """:data:`TINY_GRID` (14 cells); read it only: derive variants as ``{**tiny_grid, ...}``."""
    return TINY_GRID


# A tiny malleability grid: digits 10-class, n = 80, width 32, 2 epochs, 2-step attacks, ε = 0
# and 0.2, every attack; the other parts are off.
TINY_MALLEABILITY = {
    "run": {"seeds": [0]},
    "data": {"settings": ["multiclass"], "n_train": [80], "n_test": 30},
    "training": {"epochs": 2},
    "kappa": {"enabled": False},
    "collapse": {"enabled": False},
    "ntk": {"enabled": False},
    "interventions": {"enabled": False},
    "malleability": {
        "widths": [32],
        "attacks": ["fgsm", "pgd", "mim", "random"],
        "epsilons": [0.0, 0.2],
        "steps": 2,
        "adversarial_training": [False],
    },
}


@pytest.fixture(scope="session")
def tiny_malleability():
    """:data:`TINY_MALLEABILITY`; read it only: derive variants as ``{**tiny_malleability}``."""
    return TINY_MALLEABILITY
