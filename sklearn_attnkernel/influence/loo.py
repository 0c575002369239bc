"""Exact leave-one-out influence of kernel ridge regression (arXiv 2603.13085, Def 3.3).

numpy/scipy only: this module must not import torch.

Kernel ridge regression with kernel matrix ``K`` (n × n), ridge ``α`` and real targets ``Y``
(n × C) has ``H = (K + αI)⁻¹``, dual coefficients ``A = H Y`` and predictions
``f(x) = k(x, X) A``. Deleting training point ``i`` and refitting changes the prediction at any
``x`` by a rank-one term,

    ``f_{−i}(x) = f(x) − (k(x, X) H)_i · A_i / H_ii``    (``A_i`` the i-th row, all outputs),

the classical closed-form leave-one-out of regularised least squares (a Schur-complement /
Sherman–Morrison argument on the block of ``K + αI`` that belongs to point ``i``). One Cholesky
factorisation of ``K + αI`` therefore gives all ``n`` leave-one-out models; no library ships
this for arbitrary test points, so the identity is written out here and checked against
``n`` explicit :class:`~sklearn.kernel_ridge.KernelRidge` refits in ``tests/influence/test_loo.py``.

The influence of training point ``i`` on a test pair ``(x, y)`` is
``I_i(x) = ℓ(f_{−i}(x), y) − ℓ(f(x), y)``: positive means that the point helps (removing it
raises the loss).
"""

import logging
import math
import os
from numbers import Integral, Real

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigvalsh
from scipy.special import logsumexp
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array

from . import _linalg
from ._checks import (
    NumericalCheckError,
    check_asymmetry,
    condition_error,
    not_positive_definite,
    relative_residual,
    round_up_pow10,
)

logger = logging.getLogger(__name__)

__all__ = [
    "NumericalCheckError",
    "intrinsic_sensitivity",
    "loo_influence",
    "loo_influence_features",
]
# Relative residual ‖S X − R‖_F / ‖R‖_F of the solved system above which the solve is not
# trusted. A backward-stable Cholesky solve leaves a relative residual of about ε·κ, so 1e-4 is
# consistent with the default max_condition=1e12 and fails only for solves gone wrong.
_RESIDUAL_RTOL = 1e-4
# Number of float64 entries per block of leave-one-out outputs (32 MiB).
_BLOCK_ELEMENTS = 2**22


# --------------------------------------------------------------------------------------------
# validation helpers


def _as_float_2d(array, name):
    return check_array(array, dtype=np.float64, input_name=name, ensure_min_features=1)


def _as_targets(Y, name, n_rows):
    Y = check_array(Y, dtype=np.float64, ensure_2d=False, allow_nd=True, input_name=name)
    if Y.ndim == 1:
        Y = Y[:, None]
    elif Y.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, C); got an array of shape {Y.shape}.")
    if Y.shape[0] != n_rows:
        raise ValueError(
            f"{name} has {Y.shape[0]} rows but the kernel or feature matrix implies {n_rows}; "
            "pass one target row per sample."
        )
    return Y


def _check_targets(Y_train, Y_test, n_train, n_test, loss):
    """Validate both target arrays against the kernel's shape and the loss; return them 2-D."""
    Y_train = _as_targets(Y_train, "Y_train", n_train)
    Y_test = _as_targets(Y_test, "Y_test", n_test)
    if Y_test.shape[1] != Y_train.shape[1]:
        raise ValueError(
            f"Y_test has {Y_test.shape[1]} output column(s) but Y_train has {Y_train.shape[1]}; "
            "encode both the same way (e.g. one-hot with the same classes)."
        )
    if loss == "cross_entropy":
        _class_labels(Y_test)
    return Y_train, Y_test


def _class_labels(Y_test):
    """Class index per test row for the cross-entropy loss (see ``loo_influence``)."""
    if Y_test.shape[1] == 1:
        y = Y_test[:, 0]
        if not np.all(np.abs(y) == 1.0):
            bad = y[np.abs(y) != 1.0][:3]
            raise ValueError(
                "loss='cross_entropy' with one output column is the logistic loss and needs "
                f"Y_test in {{-1, +1}}; got values such as {bad.tolist()}. Encode the binary "
                "labels as ±1 or use loss='squared'."
            )
        return y
    one_hot = np.all((Y_test == 0.0) | (Y_test == 1.0), axis=1)
    plus_minus = np.all((Y_test == -1.0) | (Y_test == 1.0), axis=1)
    single = np.sum(Y_test == 1.0, axis=1) == 1
    valid = (one_hot | plus_minus) & single
    if not np.all(valid):
        row = int(np.flatnonzero(~valid)[0])
        raise ValueError(
            "loss='cross_entropy' needs every row of Y_test to be one-hot (a single 1, zeros "
            "elsewhere) or ±1-coded (a single +1, -1 elsewhere); row "
            f"{row} is {Y_test[row].tolist()}. Encode integer labels with "
            "sklearn.preprocessing.LabelBinarizer first."
        )
    return np.argmax(Y_test, axis=1)


def _check_symmetric(K):
    check_asymmetry(_linalg.relative_asymmetry(K))


def _check_residual(residual, condition, system):
    if not residual <= _RESIDUAL_RTOL:
        raise NumericalCheckError(
            f"The kernel ridge solve is inaccurate: relative residual {system} "
            f"= {residual:.3e} exceeds {_RESIDUAL_RTOL:.0e} (condition number {condition:.3e}). "
            "Increase alpha or rescale the kernel.",
            check="residual",
            value=float(residual),
            threshold=_RESIDUAL_RTOL,
            condition_number=float(condition),
            residual=float(residual),
        )


# --------------------------------------------------------------------------------------------
# leave-one-out losses, computed in blocks of test rows


def _block_influence(B, f, y, A_scaled, loss, labels):
    """Influence ``ℓ(f_{−i}) − ℓ(f)`` for a block of test rows.

    ``B`` (b × n) holds ``k(x, X) H``, ``f`` (b × C) the full-model outputs, ``y`` (b × C) the
    targets, ``A_scaled`` (n × C) the rows ``A_i / H_ii``; ``f_{−i} = f − B[:, i] A_scaled[i]``.
    """
    if loss == "squared":
        # Σ_c (r_c − B_ti a_ic)² − Σ_c r_c² = B_ti² ‖a_i‖² − 2 B_ti ⟨r_t, a_i⟩, r = f − y:
        # the difference in closed form, without cancelling two large losses.
        q = np.einsum("ic,ic->i", A_scaled, A_scaled)
        return B * (B * q - 2.0 * ((f - y) @ A_scaled.T))
    if A_scaled.shape[1] == 1:
        # logistic loss log(1 + exp(−y f)) with y = ±1
        margin = labels[:, None] * (f[:, 0][:, None] - B * A_scaled[:, 0])
        full = np.logaddexp(0.0, -labels * f[:, 0])
        return np.logaddexp(0.0, -margin) - full[:, None]
    rows = np.arange(f.shape[0])
    out_loo = f[:, None, :] - B[:, :, None] * A_scaled[None, :, :]
    true_loo = f[rows, labels][:, None] - B * A_scaled[:, labels].T
    full = logsumexp(f, axis=1) - f[rows, labels]
    return logsumexp(out_loo, axis=2) - true_loo - full[:, None]


def _influence_loop(loo_rows, n_test, n_train, n_outputs, f, Y_test, A_scaled, loss, reduce):
    """Run ``_block_influence`` over test-row blocks; ``loo_rows(sl)`` returns ``B[sl]``."""
    labels = _class_labels(Y_test) if loss == "cross_entropy" else None
    per_row = n_train * (n_outputs if loss == "cross_entropy" and n_outputs > 1 else 1)
    block = max(1, _BLOCK_ELEMENTS // max(per_row, 1))
    total = np.zeros(n_train) if reduce == "mean" else np.empty((n_test, n_train))
    for start in range(0, n_test, block):
        sl = slice(start, min(start + block, n_test))
        influence = _block_influence(
            loo_rows(sl),
            f[sl],
            Y_test[sl],
            A_scaled,
            loss,
            None if labels is None else labels[sl],
        )
        if reduce == "mean":
            total += influence.sum(axis=0)
        else:
            total[sl] = influence
    if reduce == "mean":
        total /= n_test
    if not np.all(np.isfinite(total)):
        raise NumericalCheckError(
            "The influence scores are not finite (overflow in the kernel ridge outputs); "
            "rescale the kernel or increase alpha.",
            check="finite",
            value=float("nan"),
        )
    return total


def _check_backend(backend, chunk_size, spill_dir, device):
    """Refuse options that the chosen backend does not use; return ``(spill_dir, device)``."""
    if backend == "numpy" and (chunk_size is not None or spill_dir is not None):
        raise ValueError(
            f"chunk_size={chunk_size!r} and spill_dir={spill_dir!r} are options of the blocked "
            "path; pass backend='dask' to use them, or leave them None."
        )
    on_gpu = device is not None and str(device) != "cpu"
    if on_gpu and not str(device).startswith("cuda"):
        raise ValueError(
            f"device={device!r} is not supported; pass None or 'cpu' (LAPACK) or a CUDA device "
            "such as 'cuda' or 'cuda:0'."
        )
    if on_gpu and backend == "dask":
        raise ValueError(
            f"device={device!r} factorises in GPU memory and backend='dask' in blocks on the "
            "Dask scheduler; pass one of them (device=None with backend='dask')."
        )
    return spill_dir, (device if on_gpu else None)


def _import_dask():
    try:
        from . import _dask
    except ImportError as exc:
        raise ImportError(
            f"backend='dask' needs dask[distributed] and zarr ({exc}); install them with "
            "pip install 'sklearn-attnkernel[dask]'."
        ) from exc
    return _dask


def _numpy_dual(K, Y, K_test, alpha, max_condition):
    """The LAPACK factorisation: ``(A, h, loo_rows, condition, residual, norm1)``."""
    _check_symmetric(K)
    n = K.shape[0]
    system = K.copy()
    system.flat[:: n + 1] += alpha
    U, info = _linalg.cholesky_upper(system)  # success proves K + αI numerically positive definite
    if info != 0:
        raise not_positive_definite(K, alpha, max_condition)
    A = _linalg.solve(U, Y)
    norm1 = _linalg.shifted_norm1(K, alpha)
    condition = _linalg.condition_estimate(U, norm1)
    residual = relative_residual(K @ A + alpha * A - Y, Y)
    V, h, info = _linalg.inverse_diagonal(U)  # V = U⁻¹ in U's memory; h = diag((K + αI)⁻¹)
    if info != 0:  # pragma: no cover - trtri only fails for a zero on the factor's diagonal
        raise NumericalCheckError(
            f"Inverting the Cholesky factor failed (LAPACK info={info}); increase alpha.",
            check="positive_definite",
            value=float("nan"),
        )
    return A, h, (lambda sl: _linalg.times_inverse(V, K_test[sl])), condition, residual, norm1


def _dual(K, Y, K_test, alpha, max_condition, backend, options):
    """Dispatch the dual factorisation to LAPACK, torch on a GPU, or blocked Dask."""
    spill_dir, device = options
    if backend == "dask":
        _dask = _import_dask()
        _dask.check_resources(K.shape[0], Y.shape[1] + K_test.shape[0], K.chunksize[0], spill_dir)
        return _dask.dual_solve(K, Y, K_test, alpha, spill_dir)
    if device is None:
        return _numpy_dual(K, Y, K_test, alpha, max_condition)
    _check_symmetric(K)
    from . import _torch_linalg  # imports torch: only for a GPU

    return _torch_linalg.dual_solve(K, Y, K_test, alpha, device, max_condition)


_COMMON_CONSTRAINTS = {
    "alpha": [Interval(Real, 0, None, closed="neither")],
    "loss": [StrOptions({"squared", "cross_entropy"})],
    "reduce": [StrOptions({"mean"}), None],
    "check": ["boolean"],
    "max_condition": [Interval(Real, 1, None, closed="neither")],
    "return_condition": ["boolean"],
}


def loo_influence(
    K_train,
    Y_train,
    K_test_train,
    Y_test,
    *,
    alpha=1e-3,
    loss="squared",
    reduce="mean",
    check=True,
    max_condition=1e12,
    return_condition=False,
    backend="numpy",
    chunk_size=None,
    spill_dir=None,
    device=None,
):
    """Exact leave-one-out influence of each training point under kernel ridge regression.

    Fits ``f(x) = k(x, X) (K + αI)⁻¹ Y`` once and obtains every leave-one-out model from the same
    Cholesky factorisation through ``f_{−i}(x) = f(x) − (k(x, X) H)_i · A_i / H_ii``
    (``H = (K + αI)⁻¹``, ``A = H Y``; arXiv 2603.13085, Def 3.3; :ref:`theory_influence`). The
    influence of training point ``i`` on a test pair ``(x, y)`` is ``I_i(x) = ℓ(f_{−i}(x), y) −
    ℓ(f(x), y)``; positive means helpful.

    Parameters
    ----------
    K_train : array-like of shape (n_train, n_train)
        Symmetric kernel matrix of the training points. ``K_train + alpha * I`` must be
        positive definite.
    Y_train : array-like of shape (n_train,) or (n_train, n_outputs)
        Real regression targets of the ridge fit, e.g. ±1 for binary or one-hot (or ±1-coded)
        columns for multi-class problems. The fit is always the least-squares ridge fit,
        whatever ``loss`` is.
    K_test_train : array-like of shape (n_test, n_train)
        Kernel between test and training points.
    Y_test : array-like of shape (n_test,) or (n_test, n_outputs)
        Test targets, encoded like ``Y_train`` (same number of output columns).
    alpha : float, default=1e-3
        Ridge ``α > 0``.
    loss : {"squared", "cross_entropy"}, default="squared"
        Loss ``ℓ`` on the kernel-ridge outputs.

        - ``"squared"``: ``Σ_c (f_c − y_c)²``.
        - ``"cross_entropy"`` with ``n_outputs ≥ 2``: ``−log softmax(f)_y``, the class ``y``
          being the position of the single 1 in a one-hot (or ±1-coded) row of ``Y_test``;
          any other row raises ``ValueError`` (encode integer labels with
          :class:`~sklearn.preprocessing.LabelBinarizer` first).
        - ``"cross_entropy"`` with one output: the logistic loss ``log(1 + exp(−y f))`` with
          ``y ∈ {−1, +1}``, i.e. the two-class softmax cross-entropy of the logits ``(f, 0)``.
    reduce : {"mean"} or None, default="mean"
        ``"mean"`` averages over the test points; ``None`` returns the full matrix.
    check : bool, default=True
        Run the numerical checks of Appendix A.9 of arXiv 2603.13085: condition number of
        ``K + αI`` (LAPACK's estimate) below ``max_condition`` and relative solve residual
        ``‖(K + αI)A − Y‖_F / ‖Y‖_F ≤ 1e-4`` (a backward-stable solve leaves about ``ε · κ``, so
        this is consistent with the default ``max_condition`` and catches solves gone wrong).
        Symmetry of ``K_train`` (relative Frobenius asymmetry ≤ 1e-6), positive definiteness of
        ``K + αI`` (the Cholesky factorisation must succeed) and finiteness of the result are
        checked even when ``check=False``; the checks cost ``O(n²)`` (see Notes).
    max_condition : float, default=1e12
        Largest accepted condition number of ``K + αI`` *(ours)*: at ``1e12`` the float64
        solve may carry relative errors up to ``~1e-4``.
    return_condition : bool, default=False
        Also return the condition number of ``K + αI`` (see Returns).
    backend : {"numpy", "dask"}, default="numpy"
        ``"numpy"``: one in-memory factorisation (LAPACK, or torch with ``device``).
        ``"dask"``: blocked :mod:`dask.array` linear algebra on the active Dask scheduler
        (threads, or the cluster of a ``distributed.Client``), for ``n`` past one machine's
        memory; ``K_train`` may then be a dask array (e.g. from
        :func:`~sklearn_attnkernel.ntk.blocked.empirical_ntk_blocks`), never formed whole.
        Same numbers to round-off; see :ref:`dask` and Notes.
    chunk_size : int, default=None
        ``backend="dask"`` only: rows of the square blocks (``None``: 2048). The last block is
        padded, since Dask's Cholesky needs blocks of one size. A size whose working set
        (each thread sums a block row: ``n · chunk_size`` float64) exceeds a worker's memory
        is refused before any work, with the largest size that fits.
    spill_dir : str or path-like, default=None
        ``backend="dask"`` only: a folder for zarr stores of ``K_train`` and its Cholesky
        factor, so that no stage holds an ``n × n`` array (up to ``1.5 n²`` float64 on disk;
        a folder that cannot be written or lacks the room is refused before any work).
        Complete stores are reused by a later call with the same kernel and ``alpha``; a killed
        run leaves only ``*.partial-*`` folders, which are never read. On a cluster it must be
        a folder every worker sees. ``None`` keeps the blocks in the scheduler's memory.
    device : str, default=None
        ``None`` or ``"cpu"``: LAPACK. A CUDA device (``"cuda"``, ``"cuda:0"``): the
        factorisation, solves and inverse run with :mod:`torch` in float64 on that GPU
        (``backend="numpy"`` only); the condition number is then the exact 1-norm one.

    Returns
    -------
    influence : ndarray of shape (n_train,) or (n_test, n_train)
        ``I_i`` averaged over the test points, or per test point when ``reduce=None``
        (float64).
    condition : float
        LAPACK's estimate of the 1-norm condition number ``‖K + αI‖₁ ‖(K + αI)⁻¹‖₁``, from
        the factorisation the scores were computed with (see Notes). Only returned when
        ``return_condition=True``, as ``(influence, condition)``. With
        ``backend="dask"`` the same estimate computed in blocks (see Notes); with a CUDA
        ``device`` the exact value.

    Raises
    ------
    NumericalCheckError
        A subclass of ``ValueError`` raised when a numerical check fails; it carries the
        measured numbers (condition number, residual, …) and, for a nearly singular ``K``, a
        suggested larger ``alpha``.

    See Also
    --------
    loo_influence_features : The same numbers for ``K = F Fᵀ`` from thin features, in
        ``O(n d²)``.
    sklearn.kernel_ridge.KernelRidge : The model whose leave-one-out refits this reproduces.

    Notes
    -----
    Cost: about two Cholesky factorisations, ``H`` is never formed. With ``K + αI = Uᵀ U``
    (LAPACK ``potrf``, ``n³/3`` flops) and ``V = U⁻¹`` (one triangular inversion, ``trtri``,
    ``n³/3``), ``H = V Vᵀ``: ``H_ii = Σ_k V_ik²`` and ``k(x, X) H`` is two triangular
    multiplies (BLAS ``trmm``, ``O(n_test · n²)``). Leave-one-out outputs are formed in blocks
    of test rows of at most ``2**22`` entries, so memory stays ``O(n² + n_test · n)``. The
    checks cost ``O(n² C)``: the successful factorisation proves positive definiteness (the
    smallest eigenvalue is computed only to report a failure), the residual is that of the
    solve for ``A``, and the condition number is estimated from the factor.

    The condition number reported and checked is LAPACK's estimate (``pocon``, Hager's and
    Higham's method) of the 1-norm condition number ``‖K + αI‖₁ ‖(K + αI)⁻¹‖₁``, which is
    within a factor ``n`` of the 2-norm one. The estimate never exceeds the true value and is
    in practice within a factor of about 3 of it (exact for a diagonal ``K``), so
    ``max_condition`` refuses every system whose estimate exceeds it; a system whose true
    condition number exceeds ``max_condition`` by a small factor can pass. It is logged at INFO
    level with the residual, and returned with ``return_condition=True``.

    ``backend="dask"`` computes the same quantities in blocks: Dask's blocked Cholesky and
    triangular solves, ``H_ii`` as the column sums of squares of the blocked ``L⁻¹``, and the
    checks in blocks (``‖K − Kᵀ‖_F`` blockwise, the residual from one blocked product). Its
    condition number is estimated as LAPACK's ``pocon`` does (Hager's and Higham's method,
    run by :func:`scipy.sparse.linalg.onenormest` on blocked solves), so it can differ from
    the in-memory estimate where both are below the true value. A failed factorisation raises
    the ``"positive_definite"`` error with ``value`` NaN: the smallest eigenvalue is not
    computed out of core.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import loo_influence
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> K = np.exp(-((X - X.T) ** 2))
    >>> y = np.array([-1.0, -1.0, 1.0, 1.0])
    >>> loo_influence(K, y, K[:2], y[:2], alpha=0.1).round(3)
    array([ 0.147,  0.43 , -0.003,  0.001])
    >>> _, condition = loo_influence(K, y, K[:2], y[:2], alpha=0.1, return_condition=True)
    >>> bool(np.isclose(condition, np.linalg.cond(K + 0.1 * np.eye(4), 1)))
    True
    >>> blocked = loo_influence(K, y, K[:2], y[:2], alpha=0.1, backend="dask", chunk_size=2)
    >>> bool(np.allclose(blocked, loo_influence(K, y, K[:2], y[:2], alpha=0.1)))
    True
    """
    backend_options = _check_backend(backend, chunk_size, spill_dir, device)
    if backend == "dask":
        _dask = _import_dask()
        K, n = _dask.as_blocks(K_train, chunk_size or _dask.DEFAULT_CHUNK_SIZE)
    else:
        K = _as_float_2d(K_train, "K_train")
        n = K.shape[0]
        if K.shape[1] != n:
            raise ValueError(f"K_train must be square; got shape {K.shape}.")
    K_test = _as_float_2d(K_test_train, "K_test_train")
    if K_test.shape[1] != n:
        raise ValueError(
            f"K_test_train has {K_test.shape[1]} columns but K_train has {n} rows; pass the "
            "kernel between the test points and the same training points."
        )
    Y, Yt = _check_targets(Y_train, Y_test, n, K_test.shape[0], loss)
    A, h, loo_rows, condition, residual, norm1 = _dual(
        K, Y, K_test, alpha, max_condition, backend, backend_options
    )
    logger.info(
        "loo_influence: n=%d, alpha=%g, backend=%s, 1-norm condition number of K + αI = %.3e, "
        "relative residual = %.2e",
        n,
        alpha,
        backend,
        condition,
        residual,
    )
    if check:
        if not condition <= max_condition:
            raise condition_error(condition, "1-norm", norm1, alpha, max_condition, math.sqrt(n))
        _check_residual(residual, condition, "‖(K + αI)A − Y‖_F / ‖Y‖_F")

    A_scaled = A / h[:, None]
    f = K_test @ A
    influence = _influence_loop(
        loo_rows, K_test.shape[0], n, Y.shape[1], f, Yt, A_scaled, loss, reduce
    )
    return (influence, condition) if return_condition else influence


# Applied by assignment, not with @-syntax, which is the same thing at runtime: mutmut 3 skips
# decorated functions, and this keeps the function bodies in its reach (docs/testing.rst).
loo_influence = validate_params(
    {
        "K_train": ["array-like"],
        "Y_train": ["array-like"],
        "K_test_train": ["array-like"],
        "Y_test": ["array-like"],
        **_COMMON_CONSTRAINTS,
        "backend": [StrOptions({"numpy", "dask"})],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "spill_dir": [str, os.PathLike, None],
        "device": "no_validation",
    },
    prefer_skip_nested_validation=True,
)(loo_influence)


def loo_influence_features(
    F_train,
    Y_train,
    F_test,
    Y_test,
    *,
    alpha=1e-3,
    loss="squared",
    reduce="mean",
    check=True,
    max_condition=1e12,
    return_condition=False,
):
    """Exact leave-one-out influence for the kernel ``K = F Fᵀ``, in the primal.

    Same numbers as :func:`loo_influence` with ``K_train = F_train F_trainᵀ`` and
    ``K_test_train = F_test F_trainᵀ``, but the ``n × n`` matrix is never formed: every solve
    goes through the ``d × d`` matrix ``M = FᵀF + αI``, which costs ``O(n d²)`` instead of
    ``O(n³)``. Use it when the kernel has thin features (``d ≪ n``), e.g. the Gram-induced
    kernel of linearized attention.

    Parameters
    ----------
    F_train : array-like of shape (n_train, n_features)
        Feature rows of the training points.
    Y_train : array-like of shape (n_train,) or (n_train, n_outputs)
        Real regression targets, as in :func:`loo_influence`.
    F_test : array-like of shape (n_test, n_features)
        Feature rows of the test points.
    Y_test : array-like of shape (n_test,) or (n_test, n_outputs)
        Test targets, encoded like ``Y_train``.
    alpha : float, default=1e-3
        Ridge ``α > 0``.
    loss : {"squared", "cross_entropy"}, default="squared"
        Loss on the kernel-ridge outputs; see :func:`loo_influence`.
    reduce : {"mean"} or None, default="mean"
        ``"mean"`` averages over the test points; ``None`` returns the full matrix.
    check : bool, default=True
        Check the condition number of ``F Fᵀ + αI`` against ``max_condition`` (the worst-case
        relative error of the denominators ``H_ii`` is about ``ε · κ`` here too) and the
        relative residual of the solve actually performed,
        ``‖(FᵀF + αI)W − FᵀY‖_F / ‖FᵀY‖_F ≤ 1e-4``. Finiteness of the result is
        always checked; ``F Fᵀ`` is symmetric positive semi-definite by construction.
    max_condition : float, default=1e12
        Largest accepted condition number of ``F Fᵀ + αI`` *(ours)*.
    return_condition : bool, default=False
        Also return the condition number of ``F Fᵀ + αI`` (see Returns).

    Returns
    -------
    influence : ndarray of shape (n_train,) or (n_test, n_train)
        ``I_i`` averaged over the test points, or per test point when ``reduce=None``.
    condition : float
        The 2-norm condition number of ``F Fᵀ + αI``, exact from the eigenvalues of ``FᵀF``
        (see Notes; :func:`loo_influence` returns the 1-norm one). Only returned when
        ``return_condition=True``, as ``(influence, condition)``.

    Raises
    ------
    NumericalCheckError
        When a numerical check fails; see :func:`loo_influence`.

    See Also
    --------
    loo_influence : The dual path for a kernel given as a matrix.

    Notes
    -----
    Written by hand: no library computes exact kernel ridge leave-one-out in the primal. With
    ``M = FᵀF + αI``, the push-through identity ``Fᵀ(F Fᵀ + αI)⁻¹ = M⁻¹ Fᵀ`` gives

    - ``H = (F Fᵀ + αI)⁻¹ = (I − F M⁻¹ Fᵀ) / α``, so ``H_ii = (1 − f_iᵀ M⁻¹ f_i) / α``;
    - ``A = H Y = (Y − F W) / α`` with the primal weights ``W = M⁻¹ Fᵀ Y``;
    - ``f(x) = f_xᵀ W`` and ``k(x, X) H = f_xᵀ Fᵀ H = (M⁻¹ f_x)ᵀ Fᵀ``,

    which is everything the leave-one-out identity of :func:`loo_influence` needs. Cost:
    ``O(n d²)`` for ``M`` and ``H_ii``, ``O(d³)`` for its Cholesky factor, ``O(n_test · n · d)``
    for ``k(x, X) H`` (computed in blocks of test rows). The eigenvalues of ``F Fᵀ + αI`` are
    those of ``FᵀF`` plus ``α`` (and ``α`` itself when ``n > d``), so the 2-norm condition
    number checked here is exact and comes from a ``d × d`` eigendecomposition.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import loo_influence, loo_influence_features
    >>> F = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [1.0, 1.0]])
    >>> y = np.array([1.0, 1.0, -1.0, -1.0])
    >>> primal = loo_influence_features(F, y, F[:2], y[:2], alpha=0.1)
    >>> dual = loo_influence(F @ F.T, y, F[:2] @ F.T, y[:2], alpha=0.1)
    >>> bool(np.allclose(primal, dual))
    True
    """
    F = _as_float_2d(F_train, "F_train")
    n, d = F.shape
    Ft = _as_float_2d(F_test, "F_test")
    if Ft.shape[1] != d:
        raise ValueError(
            f"F_test has {Ft.shape[1]} features but F_train has {d}; pass features from the "
            "same feature map."
        )
    Y, Yt = _check_targets(Y_train, Y_test, n, Ft.shape[0], loss)

    gram = F.T @ F
    system = gram.copy()
    system.flat[:: d + 1] += alpha
    try:
        factor = cho_factor(system, lower=True, check_finite=False)  # keeps `system` intact
    except LinAlgError:  # round-off can break it when α is below ε · ‖FᵀF‖
        raise NumericalCheckError(
            f"FᵀF + αI (alpha={alpha!r}) is not numerically positive definite; increase alpha.",
            check="positive_definite",
            value=float("nan"),
        ) from None

    FtY = F.T @ Y
    W = cho_solve(factor, FtY, check_finite=False)  # primal ridge weights (d × C)
    A = (Y - F @ W) / alpha
    MinvFt = cho_solve(factor, F.T, check_finite=False)  # M⁻¹ Fᵀ (d × n)
    h = (1.0 - np.einsum("ij,ji->i", F, MinvFt)) / alpha

    eig = np.clip(eigvalsh(gram, check_finite=False), 0.0, None)
    lam_max = eig[-1] + alpha
    lam_min = (eig[d - n] if n <= d else 0.0) + alpha
    condition = float(lam_max / lam_min)
    residual = relative_residual(system @ W - FtY, FtY)
    logger.info(
        "loo_influence_features: n=%d, d=%d, alpha=%g, 2-norm condition number of FFᵀ + αI = "
        "%.3e, relative residual = %.2e",
        n,
        d,
        alpha,
        condition,
        residual,
    )
    if check:
        if not condition <= max_condition:
            raise condition_error(condition, "2-norm", float(lam_max), alpha, max_condition, 1.0)
        _check_residual(residual, condition, "‖(FᵀF + αI)W − FᵀY‖_F / ‖FᵀY‖_F")
    if not np.all(h > 0):
        raise NumericalCheckError(
            "A leave-one-out denominator H_ii lost all precision (a leverage rounded to 1); "
            "increase alpha.",
            check="finite",
            value=float(np.min(h)),
        )

    A_scaled = A / h[:, None]
    f = Ft @ W
    test_solved = cho_solve(factor, Ft.T, check_finite=False).T  # rows M⁻¹ f_x (n_test × d)
    influence = _influence_loop(
        lambda sl: test_solved[sl] @ F.T,
        Ft.shape[0],
        n,
        Y.shape[1],
        f,
        Yt,
        A_scaled,
        loss,
        reduce,
    )
    return (influence, condition) if return_condition else influence


loo_influence_features = validate_params(
    {
        "F_train": ["array-like"],
        "Y_train": ["array-like"],
        "F_test": ["array-like"],
        "Y_test": ["array-like"],
        **_COMMON_CONSTRAINTS,
    },
    prefer_skip_nested_validation=True,
)(loo_influence_features)


def intrinsic_sensitivity(K, y, *, alpha, lipschitz):
    """Influence sensitivity ``L_K ‖y‖ / λ²`` with ``λ = λ_min(K) + α``, not the paper's ridge λ.

    Def C.12 of arXiv 2603.13085 defines ``S(K) = L_K ‖y‖ / λ²`` with ``λ`` the ridge. Here
    ``λ`` is the smallest eigenvalue of the regularised system ``K + αI``, i.e.
    ``λ_min(K) + α = 1 / ‖(K + αI)⁻¹‖₂``: the ridge ``α`` itself only when ``K`` is singular,
    larger otherwise (see Notes).

    Parameters
    ----------
    K : array-like of shape (n_samples, n_samples)
        Symmetric kernel matrix.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; ``‖y‖`` is the Euclidean (Frobenius) norm.
    alpha : float
        Ridge ``α > 0`` of the kernel ridge system.
    lipschitz : float
        Lipschitz constant ``L_K ≥ 0`` of the kernel matrix with respect to the input
        perturbation, e.g. ``‖G‖₂²`` for linearized attention (arXiv 2603.13085, Def C.12); computed
        by the caller, who knows the feature map.

    Returns
    -------
    sensitivity : float
        ``lipschitz · ‖y‖ / λ_min(K + αI)²``.

    Raises
    ------
    NumericalCheckError
        If ``K`` is not symmetric or ``K + αI`` is not positive definite.

    See Also
    --------
    loo_influence : The influence scores whose sensitivity this bounds.

    Notes
    -----
    The paper (arXiv 2603.13085, Def C.12) writes ``λ`` both for eigenvalues and for the ridge. The
    quantity bounds the first-order change of the ridge coefficients ``A = (K + αI)⁻¹ y`` under a
    kernel perturbation ``ΔK``: ``ΔA = −(K + αI)⁻¹ ΔK A``, so ``‖ΔA‖ ≤ ‖(K + αI)⁻¹‖₂² ‖ΔK‖₂ ‖y‖ =
    ‖ΔK‖₂ ‖y‖ / λ_min(K + αI)²``. We therefore take ``λ = λ_min(K + αI) = λ_min(K) + α``, the
    sharpest constant in that bound. For a rank deficient kernel (``n > rank K``, e.g. the
    Gram-induced kernel with ``n > d``) it equals ``α``, which is the paper's "λ = ridge" reading;
    for positive semi-definite ``K`` it is never below ``α``, so ``S(K) ≤ L_K ‖y‖ / α²``. Cost: one
    partial symmetric eigendecomposition, ``O(n³)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import intrinsic_sensitivity
    >>> K = np.array([[1.0, 1.0], [1.0, 1.0]])  # eigenvalues 0 and 2
    >>> intrinsic_sensitivity(K, [3.0, 4.0], alpha=0.5, lipschitz=2.0)
    40.0
    """
    K = _as_float_2d(K, "K")
    n = K.shape[0]
    if K.shape[1] != n:
        raise ValueError(f"K must be square; got shape {K.shape}.")
    y = _as_targets(y, "y", n)
    _check_symmetric(K)
    lam = float(eigvalsh(K, subset_by_index=[0, 0], check_finite=False)[0]) + alpha
    if not lam > 0:
        round_off = n * np.finfo(np.float64).eps * float(np.linalg.norm(K, 2))
        suggested = round_up_pow10(round_off - lam + alpha)
        cause = (
            f" That is round-off at the scale of K (‖K‖₂·n·ε = {round_off:.3e}), which alpha does "
            "not cover: rescale K"
            + (f" or pass alpha >= {suggested:.0e}." if suggested is not None else ".")
            if -lam <= round_off
            else " Pass a positive semi-definite K or a larger alpha."
        )
        raise NumericalCheckError(
            f"K + αI (alpha={alpha!r}) is not positive definite: its smallest eigenvalue is "
            f"{lam:.3e}.{cause}",
            check="positive_definite",
            value=lam,
        )
    return float(lipschitz * np.linalg.norm(y) / lam**2)


intrinsic_sensitivity = validate_params(
    {
        "K": ["array-like"],
        "y": ["array-like"],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "lipschitz": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)(intrinsic_sensitivity)
