"""LAPACK/BLAS steps of the dual leave-one-out path, at the cost of about one factorisation.

numpy/scipy only: this module must not import torch.

:func:`~sklearn_attnkernel.influence.loo.loo_influence` needs, from ``S = K + αI``, its Cholesky
factor, a solve, the condition number, the diagonal of ``H = S⁻¹`` and products ``R H`` for
blocks of test rows ``R``. With ``S = Uᵀ U`` (``U`` upper triangular, LAPACK ``potrf``) and
``V = U⁻¹`` (one triangular inversion, LAPACK ``trtri``, ``n³/3`` flops), ``H = V Vᵀ``, so

- ``H_ii = Σ_k V_ik²`` (``O(n²)``), and
- ``H Rᵀ = V (Vᵀ Rᵀ)``: two triangular multiplies (BLAS ``trmm``), never forming ``H``.

The factor is kept in Fortran order, as LAPACK stores it, so that no ``n × n`` array is copied
on the way in or out of scipy's wrappers: ``S`` is symmetric, so its C-ordered buffer read in
Fortran order is ``Sᵀ``, whose upper triangle is the lower triangle of ``S``, the one
:func:`scipy.linalg.cho_factor` with ``lower=True`` reads. Written by hand on scipy's LAPACK/BLAS
wrappers: scipy's high-level functions copy the ``n × n`` factor or form the full inverse.
"""

import contextlib

import numpy as np
from scipy.linalg import blas, lapack
from threadpoolctl import threadpool_limits

__all__ = [
    "cholesky_upper",
    "condition_estimate",
    "inverse_diagonal",
    "relative_asymmetry",
    "shifted_norm1",
    "solve",
    "times_inverse",
]

#: Orders above which the Cholesky factorisation runs on one BLAS thread. OpenBLAS's
#: multithreaded ``dpotrf`` crashes (SIGSEGV) at large orders (upstream reports
#: OpenMathLib/OpenBLAS #352, #1413, #2821; seen with scipy 1.17's OpenBLAS 0.3.31 at
#: n = 17 000 with two threads, not at 10 000); its single-threaded path does not, at about
#: twice the time on two cores. ``backend="dask"`` factorises smaller blocks and is unaffected.
ONE_THREAD_ABOVE = 12_000

# Rows per block of the O(n²) passes over K: small enough for the cache, large enough that the
# Python loop costs nothing next to the arithmetic.
_PASS_ROWS = 128


def relative_asymmetry(K):
    """``‖K − Kᵀ‖_F / ‖K‖_F`` (0 for ``K = 0``) in one pass, without an ``n × n`` temporary.

    Each pair ``(i, j)``, ``i < j``, enters once per block row, as ``2 (K_ij − K_ji)²``; the
    diagonal blocks are compared whole (there each pair appears twice).
    """
    norm = np.linalg.norm(K)
    if not norm > 0:
        return 0.0
    n = K.shape[0]
    total = 0.0
    for start in range(0, n, _PASS_ROWS):
        stop = min(start + _PASS_ROWS, n)
        diag = K[start:stop, start:stop] - K[start:stop, start:stop].T
        off = K[start:stop, stop:] - K[stop:, start:stop].T
        total += np.einsum("ij,ij->", diag, diag) + 2.0 * np.einsum("ij,ij->", off, off)
    return float(np.sqrt(total) / norm)


def shifted_norm1(K, alpha):
    """``‖K + αI‖₁``, the largest absolute column sum, by blocks of rows."""
    n = K.shape[0]
    sums = np.zeros(n)
    for start in range(0, n, _PASS_ROWS):
        sums += np.abs(K[start : start + _PASS_ROWS]).sum(axis=0)
    diag = np.diag(K)
    return float(np.max(sums - np.abs(diag) + np.abs(diag + alpha)))


def cholesky_upper(system):
    """Factor ``system`` (C-ordered, from its lower triangle) in place: ``(U, info)``.

    ``U`` is the Fortran-ordered upper factor, ``Uᵀ U = system``, with its strictly lower
    triangle zeroed; ``info > 0`` when ``system`` is not numerically positive definite. Above
    :data:`ONE_THREAD_ABOVE` rows it runs on one BLAS thread (see there why).
    """
    large = system.shape[0] > ONE_THREAD_ABOVE
    with threadpool_limits(limits=1, user_api="blas") if large else contextlib.nullcontext():
        return lapack.dpotrf(system.T, lower=0, clean=1, overwrite_a=1)


def solve(U, rhs):
    """``(Uᵀ U)⁻¹ rhs`` from the upper factor (LAPACK ``potrs``)."""
    x, _ = lapack.dpotrs(U, rhs, lower=0)
    return x


def condition_estimate(U, norm1):
    """LAPACK's estimate of ``‖S‖₁ ‖S⁻¹‖₁`` from the factor ``U`` and ``norm1 = ‖S‖₁``.

    ``pocon`` estimates ``‖S⁻¹‖₁`` with Hager's and Higham's method (a few solves with the
    factor, ``O(n²)``). The estimate is a lower bound of the true 1-norm condition number,
    exact for diagonal matrices and in practice within a factor of about 3 (Higham, *Accuracy
    and Stability of Numerical Algorithms*, 2002, §15.3). An estimate of 0 for ``1 / κ`` (an
    infinite or undefined norm) is returned as ``inf``.
    """
    rcond, _ = lapack.dpocon(U, norm1, uplo="U")
    return float(1.0 / rcond) if rcond > 0 else float("inf")


def inverse_diagonal(U):
    """Invert the factor in place: ``(V, h, info)``, ``V = U⁻¹`` and ``h = diag((Uᵀ U)⁻¹)``.

    ``info > 0`` when ``U`` has a zero on its diagonal (then ``V`` and ``h`` are meaningless).
    """
    V, info = lapack.dtrtri(U, lower=0, overwrite_c=1)
    return V, np.einsum("ij,ij->i", V, V), info


def times_inverse(V, rows):
    """``rows @ (Uᵀ U)⁻¹`` for a block of rows (b × n), as ``(V (Vᵀ rowsᵀ))ᵀ`` by two trmm."""
    half = blas.dtrmm(1.0, V, rows.T, side=0, lower=0, trans_a=1)
    return blas.dtrmm(1.0, V, half, side=0, lower=0, trans_a=0, overwrite_b=1).T
