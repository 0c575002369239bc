"""``influence_scores`` with the blocked backend: the kernel built in blocks, factorised in blocks.

The in-memory ``influence_scores`` is checked against an independently computed kernel in
``test_estimators.py``; with ``backend="dask"`` the same scores must come out up to round-off
(both factorise a system with ``κ ≲ 1e5``: ``1e-9`` relative is far above ``ε · κ``).
"""

import numpy as np
import pytest

from sklearn_attnkernel import make_mlp_attn
from sklearn_attnkernel.influence.estimators import influence_scores

FAST = {"width": 32, "max_epochs": 3, "lr": 1e-2, "reg_lambda": 0.0, "device": "cpu"}


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return make_mlp_attn(**FAST, dtype="float64", random_state=0).fit(X, y), X, y


@pytest.mark.parametrize("kernel", ["empirical", "infinite"])
def test_dask_backend_equals_the_in_memory_scores(fitted, kernel, tmp_path):
    model, X, y = fitted
    options = {"kernel": kernel, "alpha": 1e-2, "reduce": None, "on_near_chance": "ignore"}
    reference = influence_scores(model, X[:6], y[:6], **options)
    blocked = influence_scores(
        model, X[:6], y[:6], **options, backend="dask", chunk_size=25, spill_dir=tmp_path
    )
    assert np.linalg.norm(blocked - reference) <= 1e-9 * np.linalg.norm(reference)


def test_dask_options_are_validated(fitted):
    model, X, y = fitted
    with pytest.raises(ValueError, match="'chunk_size' parameter"):
        influence_scores(model, X[:6], y[:6], backend="dask", chunk_size=0)
    with pytest.raises(ValueError, match="'backend' parameter"):
        influence_scores(model, X[:6], y[:6], backend="ray")
