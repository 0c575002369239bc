"""The in-memory dual leave-one-out path factorised with torch, in float64, on a GPU (issue #16).

:func:`~sklearn_attnkernel.influence.loo.loo_influence` with ``device="cuda"`` takes from here
what the CPU path takes from LAPACK (:mod:`._linalg`): with ``S = K + αI = L Lᵀ``
(:func:`torch.linalg.cholesky_ex`), ``A = S⁻¹ Y`` (:func:`torch.cholesky_solve`) and
``H = S⁻¹`` (:func:`torch.cholesky_inverse`), whose diagonal and products with the test rows
the leave-one-out identity needs. ``H`` is formed here (``n²`` more device memory, one GEMM for
all test rows): on a GPU the GEMM is cheaper than the two triangular multiplies of the CPU path.
Because ``H`` is at hand, the condition number is the exact ``‖S‖₁ ‖H‖₁``, not an estimate.
"""

import numpy as np
import torch

from ._checks import not_positive_definite, relative_residual

__all__ = ["dual_solve"]


def dual_solve(K, Y, K_test, alpha, device, max_condition):
    """``(A, h, rows, condition, residual, norm1)`` as the CPU path, computed on ``device``.

    ``K`` (n × n, symmetric, checked by the caller), ``Y`` (n × C) and ``K_test`` (n_test × n)
    are float64 numpy arrays. Raises the CPU path's ``"positive_definite"``
    :class:`~sklearn_attnkernel.influence.loo.NumericalCheckError` (with the smallest
    eigenvalue, computed on the CPU) when the factorisation fails.
    """
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} needs a CUDA GPU, and torch sees none here; pass "
            "device=None to factorise with LAPACK on the CPU."
        )
    with torch.no_grad():
        K_dev = torch.as_tensor(K, dtype=torch.float64, device=device)
        S = K_dev.clone()
        S.diagonal().add_(alpha)
        norm1 = float(torch.linalg.matrix_norm(S, ord=1))
        L, info = torch.linalg.cholesky_ex(S)
        del S
        if int(info) != 0:
            raise not_positive_definite(K, alpha, max_condition)
        Y_dev = torch.as_tensor(Y, dtype=torch.float64, device=device)
        A = torch.cholesky_solve(Y_dev, L)
        residual = relative_residual((K_dev @ A + alpha * A - Y_dev).cpu().numpy(), Y)
        del K_dev
        H = torch.cholesky_inverse(L)
        del L
        condition = norm1 * float(torch.linalg.matrix_norm(H, ord=1))
        h = torch.diagonal(H).cpu().numpy()
        B = (torch.as_tensor(K_test, dtype=torch.float64, device=device) @ H).cpu().numpy()
    return A.cpu().numpy(), np.ascontiguousarray(h), (lambda sl: B[sl]), condition, residual, norm1
