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


# --------------------------------------------------------------------------------------------
# tiny two-layer ReLU networks (tests/networks): a config and data that train in milliseconds
# --------------------------------------------------------------------------------------------
#: Settings of a network that trains in milliseconds: ``TwoLayerReLUClassifier(**FAST_NETWORK)``.
FAST_NETWORK = {"width": 16, "max_epochs": 3, "lr": 1e-2, "reg_lambda": 0.0, "device": "cpu"}


def readonly(*arrays):
    """Mark arrays read-only (to catch mutation); return them (one array alone)."""
    for a in arrays:
        a.flags.writeable = False
    return arrays if len(arrays) > 1 else arrays[0]


def network_state(estimator):
    """The ``state_dict`` of a fitted network estimator's module, as NumPy arrays."""
    module = estimator.net_.module_
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


@pytest.fixture(scope="session")
def blobs():
    """Three well-separated classes in 5 dimensions, read-only."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 5)) * 3
    y = np.repeat(np.arange(3), 30)
    X = centers[y] + rng.normal(size=(90, 5))
    return readonly(X, y)


@pytest.fixture(scope="session")
def binary_blobs(blobs):
    """The first two classes of :func:`blobs`, labelled ``"neg"`` and ``"pos"``, read-only."""
    X, y = blobs
    mask = y < 2
    return readonly(X[mask].copy(), np.where(y[mask] == 0, "neg", "pos"))


# ------------------------------------------------------------------------------ the report
#: A tiny grid with every part the report draws (κ, collapse, NTK, malleability), two seeds.
REPORT_RUN_CONFIG = {
    "run": {"seeds": [0, 1]},
    "data": {"settings": ["binary"], "n_train": [100], "n_test": 30},
    "training": {"epochs": 2, "max_epochs": 3, "lr": 0.01},
    "collapse": {"transforms": ["raw", "linear"], "n_train": [100]},
    "kappa": {"n_train": [100]},
    "ntk": {
        "architectures": ["relu", "attention"],
        "widths": [16, 32],
        "seeds": [0],
        "n_train": [60],
        "n_eval": 20,
        "metrics": ["cosine"],
    },
    "malleability": {
        "architectures": ["relu", "attention"],
        "widths": [16],
        "seeds": [0],
        "attacks": ["fgsm", "random"],
        "epsilons": [0.1],
        "steps": 2,
        "adversarial_training": [False],
    },
    "interventions": {"enabled": False},
    "complexity": {"enabled": False},
    "examples": {"enabled": False},
}


@pytest.fixture(scope="session")
def report_run_dir(tmp_path_factory):
    """A run folder of :data:`REPORT_RUN_CONFIG` with its report; tests copy it to change it."""
    from sklearn_attnkernel.analysis import run_experiment

    out = tmp_path_factory.mktemp("report_run")
    summary = run_experiment(REPORT_RUN_CONFIG, out, progress=False)
    assert summary.n_failed == 0
    return out


@pytest.fixture
def malleability_results():
    """Factory of tidy malleability rows: ``flips[(architecture, attack)]`` = per-seed flip
    rates, on 10-class MNIST by default, at n = 1000, width 1024 and pixel ε = 0.3."""
    from tests.analysis.report.rows import malleability_rows

    return malleability_rows


# A tiny grid of the analysis: 2 kappa + 4 collapse + 4 ntk + 4 malleability (2 tasks) = 14
# cells on digits (width ≤ 64, ≤ 3 epochs, n ≤ 120), a few seconds on one core.
TINY_GRID = {
    "run": {"seeds": [0, 1]},
    "data": {"settings": ["binary"], "n_train": [120], "n_test": 40},
    "training": {"stopping": "fixed", "epochs": 3, "lr": 0.01},
    "collapse": {"transforms": ["raw", "linear"], "n_train": [120]},
    "kappa": {"n_train": [120]},
    "ntk": {
        "stopping": ["fixed"],
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
    "complexity": {"enabled": False},
    "examples": {"enabled": False},
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
    "training": {"stopping": "fixed", "epochs": 2},
    "kappa": {"enabled": False},
    "collapse": {"enabled": False},
    "ntk": {"enabled": False},
    "interventions": {"enabled": False},
    "complexity": {"enabled": False},
    "examples": {"enabled": False},
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


# A tiny examples grid: digits 10-class, n = 80, width 32, 10 epochs, a 2-step PGD at ε = 0.2,
# 3 test points and k = 4 per side; the other parts are off.
TINY_EXAMPLES = {
    "run": {"seeds": [0]},
    "data": {"settings": ["multiclass"], "n_test": 30},
    "training": {"stopping": "fixed", "epochs": 10},
    "kappa": {"enabled": False},
    "collapse": {"enabled": False},
    "ntk": {"enabled": False},
    "malleability": {"enabled": False},
    "interventions": {"enabled": False},
    "complexity": {"enabled": False},
    "examples": {
        "seeds": [0],
        "n_train": [80],
        "width": 32,
        "n_test_points": 3,
        "k": 4,
        "epsilon": 0.2,
        "steps": 2,
    },
}


@pytest.fixture(scope="session")
def tiny_examples():
    """:data:`TINY_EXAMPLES`; read it only: derive variants as ``{**tiny_examples, ...}``."""
    return TINY_EXAMPLES


# --------------------------------------------------------------------------------------------
# column order (issue #11 item 1): every entry point after fit checks a DataFrame's columns
# --------------------------------------------------------------------------------------------
#: sklearn's message for a DataFrame whose columns are those of fit in another order.
COLUMN_ORDER_MESSAGE = "Feature names must be in the same order as they were in fit"


def frames(*arrays):
    """Each array as a DataFrame with columns ``f0, f1, …``, then the same frames with their
    columns reversed (same names, other order): ``(frame_1, …, permuted_1, …)``."""
    import pandas as pd

    named = [pd.DataFrame(a, columns=[f"f{j}" for j in range(a.shape[1])]) for a in arrays]
    return (*named, *(df[df.columns[::-1]] for df in named))
