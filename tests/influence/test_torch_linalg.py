"""The torch factorisation of the dual path (``device="cuda"``), run here on the CPU.

``tests/test_cuda.py`` runs it on a GPU; the same code on torch's CPU device is checked here
against the LAPACK path and closed forms: ``H = (K + αI)⁻¹`` from ``numpy.linalg.inv``, the
exact 1-norm condition number from ``numpy.linalg.cond``. Both are float64 Cholesky solves of
a system with ``κ ≈ 1e3``, so they agree to ``rtol=1e-10``.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from sklearn_attnkernel import loo_influence
from sklearn_attnkernel.influence import _torch_linalg
from sklearn_attnkernel.influence.loo import NumericalCheckError


def _system(n=40, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n + 5, 8))
    K = F @ F.T / 8
    return K[:n, :n].copy(), rng.normal(size=(n, 2)), K[n:, :n].copy()


def test_torch_factorisation_matches_the_closed_forms():
    K, Y, K_test = _system()
    alpha = 1e-2
    A, h, rows, condition, residual, norm1 = _torch_linalg.dual_solve(
        K, Y, K_test, alpha, "cpu", 1e12
    )
    S = K + alpha * np.eye(40)
    H = np.linalg.inv(S)
    assert_allclose(A, H @ Y, rtol=1e-10)
    assert_allclose(h, np.diag(H), rtol=1e-10)
    assert_allclose(rows(slice(1, 4)), K_test[1:4] @ H, rtol=1e-10, atol=1e-12)
    assert condition == pytest.approx(np.linalg.cond(S, 1), rel=1e-8)
    assert norm1 == pytest.approx(np.abs(S).sum(axis=0).max(), rel=1e-14)
    assert 0 <= residual < 1e-12


def test_torch_factorisation_refuses_a_kernel_that_is_not_positive_definite():
    K, Y, K_test = _system()
    K[0, 0] = -1.0
    with pytest.raises(NumericalCheckError) as refused:
        _torch_linalg.dual_solve(K, Y, K_test, 1e-2, "cpu", 1e12)
    assert refused.value.check == "positive_definite"
    assert refused.value.value < 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_without_a_gpu_is_refused():
    K, Y, K_test = _system()
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        loo_influence(K, Y, K_test, Y[:5], device="cuda")
