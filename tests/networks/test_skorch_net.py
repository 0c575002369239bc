"""Tests of the skorch side of the estimators (sklearn_attnkernel.networks.skorch_net)."""

import numpy as np
import pytest
import torch

from sklearn_attnkernel import (
    TwoLayerReLUClassifier,
)
from sklearn_attnkernel.networks.skorch_net import batch_loader
from tests.conftest import FAST_NETWORK


# ------------------------------------------------------------------------------------------
# the loss: the reg_lambda term of RegularizedNet.get_loss
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("train_readout", [False, True])
def test_reg_lambda_gradient_is_two_lambda_theta_minus_theta0(blobs, train_readout):
    X, y = blobs
    lam = 0.37
    est = TwoLayerReLUClassifier(
        width=12,
        max_epochs=4,
        lr=5e-2,
        reg_lambda=lam,
        train_readout=train_readout,
        dtype="float64",
        device="cpu",
        random_state=0,
    ).fit(X, y)
    net, module = est.net_, est.net_.module_
    params = {n: p for n, p in module.named_parameters() if p.requires_grad}
    assert set(params) == ({"W", "A"} if train_readout else {"W"})

    X_t = torch.tensor(np.array(X))
    y_t = torch.as_tensor(np.searchsorted(est.classes_, y))
    y_pred = module(X_t)

    total = net.get_loss(y_pred, y_t, X=X_t, training=True)
    total_grads = torch.autograd.grad(total, list(params.values()), retain_graph=True)
    task = torch.nn.functional.cross_entropy(y_pred, y_t)
    task_grads = torch.autograd.grad(task, list(params.values()))

    penalty = 0.0
    for (name, param), g_total, g_task in zip(params.items(), total_grads, task_grads, strict=True):
        diff = param.detach().numpy() - est.initial_params_[name].numpy()
        assert np.abs(diff).max() > 1e-3  # training moved θ away from θ₀: the test has teeth
        np.testing.assert_allclose(
            (g_total - g_task).numpy(), 2 * lam * diff, rtol=1e-10, atol=1e-12
        )
        penalty += np.sum(diff**2)
    np.testing.assert_allclose(total.item() - task.item(), lam * penalty, rtol=1e-10)


def test_binary_mse_loss_is_mean_squared_error_on_plus_minus_one(binary_blobs):
    X, y = binary_blobs
    est = TwoLayerReLUClassifier(**{**FAST_NETWORK, "dtype": "float64"}, random_state=0).fit(X, y)
    f = est.decision_function(X)
    target = np.where(y == "pos", 1.0, -1.0)
    y_t = torch.as_tensor(est.encode_targets(y))
    loss = est.net_.get_loss(torch.as_tensor(f[:, None]), y_t, training=True)
    np.testing.assert_allclose(loss.item(), np.mean((f - target) ** 2), rtol=1e-12)


# ------------------------------------------------------------------------------------------
# the batch loader
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_loader_gathers_each_row_once_per_epoch(shuffle):
    from skorch.dataset import Dataset

    X = torch.arange(23.0).reshape(-1, 1)
    y = torch.arange(23)
    loader = batch_loader(Dataset(X, y), batch_size=5, shuffle=shuffle)
    orders = []
    for _ in range(2):
        rows = []
        for Xb, yb in loader:
            assert len(Xb) <= 5
            np.testing.assert_array_equal(Xb[:, 0].numpy(), yb.numpy())  # X and y stay paired
            rows.append(yb.numpy())
        order = np.concatenate(rows)
        np.testing.assert_array_equal(np.sort(order), np.arange(23))
        orders.append(order)
    if shuffle:
        assert not np.array_equal(orders[0], orders[1])
    else:
        np.testing.assert_array_equal(orders[0], np.arange(23))
