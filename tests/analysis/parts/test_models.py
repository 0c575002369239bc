"""Tests of the networks of the torch parts: the stopping rule of a cell's settings."""

import math

import pytest
from sklearn.datasets import load_digits

from sklearn_attnkernel.analysis.parts.models import convergence_rows, make_model
from sklearn_attnkernel.networks.callbacks import convergence_epoch

_SETTINGS = {
    "dataset": "digits",
    "architecture": "relu",
    "width": 16,
    "seed": 0,
    "lr": 0.01,
    "batch_size": 128,
    "reg_lambda": 0.0,
    "sigma_w": 1.0,
    "device": "cpu",
    "dtype": "float32",
    "tol": 0.05,
    "n_iter_no_change": 2,
}


@pytest.fixture(scope="module")
def digits_pair():
    X, y = load_digits(n_class=2, return_X_y=True)
    return X[:120] / 16.0, y[:120]


def _history_of(model):
    return model[-1].history_


def test_convergence_stops_before_the_cap_and_records_its_epochs(digits_pair):
    s = {**_SETTINGS, "stopping": "convergence", "max_epochs": 300}
    model = make_model(s).fit(*digits_pair)
    history = _history_of(model)
    rows = {r["metric"]: r["value"] for r in convergence_rows(history, s)}
    assert len(history) < 300
    assert rows["epochs_used"] == len(history)
    assert rows["converged"] == 1.0
    # skorch's EarlyStopping is what stopped it: its count of epochs without improvement
    assert dict(model[-1].net_.callbacks_)["early_stopping"].misses_ == 2
    assert rows["train_loss"] == history[-1]["train_loss"]


def test_fixed_trains_exactly_epochs(digits_pair):
    s = {**_SETTINGS, "stopping": "fixed", "epochs": 4}
    model = make_model(s).fit(*digits_pair)
    history = _history_of(model)
    assert len(history) == 4
    assert "early_stopping" not in dict(model[-1].net_.callbacks_)
    rows = {r["metric"]: r["value"] for r in convergence_rows(history, s)}
    assert rows["epochs_used"] == 4
    # judged with the cell's tol and patience (convergence_epoch is checked against skorch's
    # EarlyStopping in tests/networks/test_callbacks.py)
    losses = [epoch["train_loss"] for epoch in history]
    assert rows["converged"] == float(convergence_epoch(losses, 0.05, 2) is not None)
    # patience 4 cannot fire within 4 epochs: the first epoch always improves
    s4 = {**s, "n_iter_no_change": 4}
    assert {r["metric"]: r["value"] for r in convergence_rows(history, s4)}["converged"] == 0.0


def test_cells_without_a_stopping_rule_trained_fixed_epochs(digits_pair):
    """Settings of cells written before the rule existed (no 'stopping') still build."""
    s = {k: v for k, v in _SETTINGS.items() if k not in ("tol", "n_iter_no_change")}
    model = make_model({**s, "epochs": 3})
    assert model[-1].max_epochs == 3
    assert model[-1].tol is None
    assert math.isnan(convergence_rows([], _SETTINGS)[0]["value"])
