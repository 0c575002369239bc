"""Tests of the training checks (sklearn_attnkernel.networks.health and its callbacks)."""

import re
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_attnkernel import TwoLayerReLUClassifier, TwoLayerReLURegressor
from sklearn_attnkernel.networks.health import (
    NonFiniteTrainingError,
    check_float32_cast,
    check_training_memory,
    training_bytes,
)
from sklearn_attnkernel.networks.modules import TwoLayerReLU
from tests.conftest import FAST_NETWORK

F32 = np.finfo(np.float32)


# ------------------------------------------------------------------------------ float32 cast
def test_overflowing_cast_is_refused_exactly_where_the_cast_gives_inf():
    top = float(F32.max)
    # the largest float64 below the rounding boundary, and the boundary itself (ties to even)
    below, boundary = np.nextafter(2.0**128 - 2.0**103, 0.0), 2.0**128 - 2.0**103
    with np.errstate(over="ignore"):
        assert np.float32(below) == F32.max
        assert np.isinf(np.float32(boundary))
    check_float32_cast(np.array([[top, -below]]))  # rounds to float32's max: accepted
    with pytest.raises(ValueError, match=r"\|x\| = 3.403e\+38.*dtype='float64'"):
        check_float32_cast(np.array([[1.0, -boundary]]))
    with pytest.raises(ValueError, match=r"\|x\| = 1e\+39"):
        check_float32_cast(np.array([[1e39]]))


def test_underflow_warning_counts_exactly_the_entries_that_become_zero():
    tiny = float(F32.smallest_subnormal)
    values = np.concatenate(
        [
            np.geomspace(1e-48, 1e-44, 41),
            [tiny / 2, np.nextafter(tiny / 2, 1.0), np.nextafter(tiny / 2, 0.0), 0.0, 1.0],
        ]
    )
    X = np.stack([values, -values])
    # independent count: what numpy's own cast turns from nonzero into zero
    expected = int(np.count_nonzero((X != 0) & (X.astype(np.float32) == 0)))
    assert 0 < expected < np.count_nonzero(X)
    with pytest.warns(UserWarning, match=rf"^{expected} nonzero entries of the X"):
        check_float32_cast(X)


def test_no_warning_for_representable_or_float32_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_float32_cast(np.array([[float(F32.smallest_subnormal), 0.0, 1e38]]))
        check_float32_cast(np.array([[1e-300]], dtype=np.float64).astype(np.float32))
        check_float32_cast(np.empty((0, 3)))


def test_estimator_refuses_overflow_and_float64_accepts_it(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="dtype='float64'"):
        TwoLayerReLUClassifier(**FAST_NETWORK).fit(X * 1e39, y)
    net = TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 0}, dtype="float64")
    assert np.all(np.isfinite(net.fit(X * 1e39, y).decision_function(X)))


def test_estimator_warns_on_underflow(blobs):
    X, y = blobs
    with pytest.warns(UserWarning, match="below the float32 range") as record:
        TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 0}).fit(X * 1e-300, y)
    assert record[0].filename == __file__  # the warning points at the user's call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 0}, dtype="float64").fit(
            X * 1e-300, y
        )


# ------------------------------------------------------------------------------ finite training
def test_diverging_training_stops_with_a_clear_error(blobs):
    X, y = blobs
    y_binary = (y > 0).astype(int)
    with pytest.raises(NonFiniteTrainingError, match=r"epoch 1 .*\|x\| = .*e\+30.*lr=") as info:
        TwoLayerReLUClassifier(**FAST_NETWORK).fit(X * 1e30, y_binary)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="training loss became non-finite"):
        TwoLayerReLURegressor(**FAST_NETWORK).fit(X * 1e30, X[:, 0] * 1e30)


class _PoisonWeights(Callback):
    """Set one weight to NaN after the second epoch (the loss of that epoch stays finite)."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            with torch.no_grad():
                net.module_.W[0, 0] = float("nan")


def test_non_finite_weights_stop_training_at_that_epoch(blobs):
    X, y = blobs
    est = TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 5}, callbacks=[_PoisonWeights()])
    with pytest.raises(NonFiniteTrainingError, match="weights became non-finite at epoch 2"):
        est.fit(X, y)
    assert not hasattr(est, "net_")


# ------------------------------------------------------------------------------ memory bound
@pytest.mark.parametrize("train_readout", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_training_bytes_counts_seven_copies_of_the_module_and_the_activations(train_readout, dtype):
    module = TwoLayerReLU(5, 12, 3, train_readout=train_readout).to(dtype)
    module_bytes = sum(v.nbytes for v in module.state_dict().values())
    expected = 7 * module_bytes + 4 * 8 * 12 * dtype.itemsize
    got = training_bytes(width=12, n_features=5, n_outputs=3, batch_size=8, itemsize=dtype.itemsize)
    assert got == expected


def test_absurd_width_is_refused_before_allocating(blobs):
    X, y = blobs
    # independent count: W and A (5 + 3 columns) seven times, 4 activation arrays of 90 rows
    gib = (7 * 10**9 * (5 + 3) * 4 + 4 * 90 * 10**9 * 4) / 2**30
    size = re.escape(f"{gib:.3g}")
    with pytest.raises(ValueError, match=rf"width=1000000000 .* about {size} GiB.*width <= "):
        TwoLayerReLUClassifier(width=10**9).fit(X, y)


def test_suggested_width_fits_the_budget_and_one_more_does_not(blobs):
    X, y = blobs
    budget = training_bytes(width=40, n_features=5, n_outputs=3, batch_size=90, itemsize=4) + 1
    est = TwoLayerReLUClassifier(**{**FAST_NETWORK, "max_epochs": 0}, batch_size=128)
    est.set_params(memory_budget=budget, width=40).fit(X, y)
    with pytest.raises(ValueError, match=r"Use width <= 40,") as info:
        est.set_params(width=41).fit(X, y)
    assert "memory_budget" in str(info.value)
    check_training_memory(
        width=40, n_features=5, n_outputs=3, batch_size=90, itemsize=4, memory_budget=budget
    )


# ------------------------------------------------------------------------------ stop at convergence
def _mlp_stop_epoch(losses, tol, patience):
    """Independent rule of MLPClassifier: the epoch after which training stops, or None."""
    best, misses = np.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        if loss < best - tol:
            best, misses = loss, 0
        else:
            misses += 1
        if misses == patience:
            return epoch
    return None


def test_training_stops_where_the_tolerance_rule_says(blobs):
    X, y = blobs
    settings = {**FAST_NETWORK, "max_epochs": 300, "dtype": "float64", "random_state": 0}
    full = TwoLayerReLUClassifier(**settings, tol=None).fit(X, y)
    losses = np.array(full.history_[:, "train_loss"])
    assert len(losses) == 300  # tol=None trains every epoch
    stop = _mlp_stop_epoch(losses, tol=1e-3, patience=5)
    assert stop is not None
    assert stop < 300
    early = TwoLayerReLUClassifier(**settings, tol=1e-3, n_iter_no_change=5).fit(X, y)
    assert len(early.history_) == stop
    # the same training up to the stop: the stopped network is the full one at that epoch
    np.testing.assert_array_equal(early.history_[:, "train_loss"], losses[:stop])


def test_recorded_outputs_after_an_early_stop_are_the_final_outputs(blobs):
    from sklearn_attnkernel.networks.callbacks import RecordOutputs

    X, y = blobs
    recorder = RecordOutputs(X, [0, 2, 299])
    est = TwoLayerReLUClassifier(
        **{**FAST_NETWORK, "max_epochs": 300}, tol=1e-2, n_iter_no_change=2, callbacks=[recorder]
    ).fit(X, y)
    assert len(est.history_) < 299
    ran = next(cb for _, cb in est.net_.callbacks_ if isinstance(cb, RecordOutputs))
    np.testing.assert_array_equal(ran.outputs_[299], est.decision_function(X))
