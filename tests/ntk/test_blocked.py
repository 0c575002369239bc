"""The kernel built in blocks equals the in-memory kernel.

The in-memory empirical NTK is checked against per-sample Jacobians in ``test_empirical.py``;
here each block is a call of the same kernel on two row blocks, so the grid agrees with the
whole matrix up to the rounding of the row-block matrix products (a few ulp: ``rtol=1e-12``),
and is exactly symmetric by construction (blocks above the diagonal are transposes).
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_attnkernel import TwoLayerReLU, empirical_ntk
from sklearn_attnkernel.ntk.blocked import empirical_ntk_blocks, kernel_blocks


@pytest.mark.parametrize("train_readout", [False, True])
@pytest.mark.parametrize("chunk_size", [7, 20, 64])
def test_empirical_ntk_blocks_equal_the_in_memory_kernel(train_readout, chunk_size):
    torch.manual_seed(0)
    net = TwoLayerReLU(n_features=6, width=48, n_outputs=3, train_readout=train_readout)
    X = np.random.default_rng(1).normal(size=(45, 6))
    K = empirical_ntk_blocks(net, X, chunk_size)
    assert max(K.chunks[0]) == min(chunk_size, 45)
    blocked = K.compute()
    assert_allclose(blocked, empirical_ntk(net, X), rtol=1e-12, atol=0)
    assert_array_equal(blocked, blocked.T)


def test_the_name_identifies_the_network_and_the_rows():
    torch.manual_seed(0)
    net = TwoLayerReLU(n_features=3, width=8)
    X = np.random.default_rng(0).normal(size=(10, 3))
    name = empirical_ntk_blocks(net, X, 4).name
    assert empirical_ntk_blocks(net, X.copy(), 4).name == name
    assert empirical_ntk_blocks(net, X + 1.0, 4).name != name
    with torch.no_grad():
        net.W[0, 0] += 1.0
    assert empirical_ntk_blocks(net, X, 4).name != name


def test_kernel_blocks_computes_each_lower_block_once():
    calls = []

    def linear(A, B):
        calls.append((A.shape[0], None if B is None else B.shape[0]))
        return A @ (A if B is None else B).T

    X = np.arange(22.0).reshape(11, 2)
    assert_allclose(kernel_blocks(linear, X, 4).compute(), X @ X.T, rtol=1e-15)
    assert sorted(calls, key=str) == sorted(
        [(4, None), (4, None), (3, None), (4, 4), (3, 4), (3, 4)], key=str
    )
