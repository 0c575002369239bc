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
