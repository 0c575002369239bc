"""Exact power-of-two rescaling, so that scale-invariant results hold over the float64 range.

A cosine, a condition number or a normalised kernel does not change when ``X`` is multiplied by
``c > 0``, but ``X Xᵀ`` overflows above ``max|x| ≈ 1e154`` and underflows below ``1e-154``.
Dividing ``X`` by a power of two is exact (only the exponent changes, :func:`numpy.ldexp`), so
results computed on the rescaled ``X`` are bit-identical for ``X`` and ``2ᵏ X``. numpy and
scipy have no such helper (``sklearn.preprocessing.maxabs_scale`` divides, which rounds); this
module is written by hand.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["ldexp_checked", "max_abs", "pow2_exponent", "scale_by_pow2", "scale_rows_by_pow2"]


def max_abs(X):
    """``max |X_ij|`` of a dense array or sparse matrix (0.0 when empty)."""
    data = X.data if sp.issparse(X) else np.asarray(X)
    if data.size == 0:
        return 0.0
    return float(max(np.max(data), -np.min(data)))


def pow2_exponent(value):
    """The ``e`` with ``value · 2⁻ᵉ`` in ``[0.5, 1)`` (``frexp``); 0 for 0 or a non-finite value.

    Examples
    --------
    >>> from sklearn_attnkernel._utils.scale import pow2_exponent
    >>> pow2_exponent(1e300), pow2_exponent(3.0), pow2_exponent(0.0)
    (997, 2, 0)
    """
    if value == 0 or not np.isfinite(value):
        return 0
    return int(np.frexp(value)[1])


def scale_by_pow2(X):
    """Return ``(X · 2⁻ᵉ, e)`` with ``max|X · 2⁻ᵉ|`` in ``[0.5, 1)``; a copy, ``X`` untouched.

    The scaling is exact unless an entry falls below ``2⁻¹⁰²²`` after it (an entry more than
    ``2¹⁰²²`` times smaller than the largest one), which then rounds like any float64
    underflow. Sparse input keeps its format.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel._utils.scale import scale_by_pow2
    >>> X_s, e = scale_by_pow2(np.array([[3.0, -1.0]]))
    >>> X_s, e
    (array([[ 0.75, -0.25]]), 2)
    """
    e = pow2_exponent(max_abs(X))
    if sp.issparse(X):
        X = X.copy()
        X.data = np.ldexp(X.data, -e)
        return X, e
    return np.ldexp(X, -e), e


def scale_rows_by_pow2(X):
    """Scale each row by its own power of two so its largest ``|entry|`` lies in ``[0.5, 1)``.

    Zero rows stay zero. Returns a copy (CSR for sparse input). Row directions, and so cosines,
    are unchanged, and the result is bit-identical for ``X`` and ``diag(2^k) X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel._utils.scale import scale_rows_by_pow2
    >>> scale_rows_by_pow2(np.array([[2.0**1000, 0.0], [0.0, -3.0], [0.0, 0.0]]))
    array([[ 0.5 ,  0.  ],
           [ 0.  , -0.75],
           [ 0.  ,  0.  ]])
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, copy=True)
        n = X.shape[0]
        row_max = np.zeros(n)
        lengths = np.diff(X.indptr)
        nonempty = lengths > 0
        if X.nnz:
            row_max[nonempty] = np.maximum.reduceat(np.abs(X.data), X.indptr[:-1][nonempty])
        exponents = np.frexp(row_max)[1]
        X.data = np.ldexp(X.data, -np.repeat(exponents, lengths))
        return X
    X = np.asarray(X)
    if X.shape[1] == 0:
        return X.copy()
    row_max = np.maximum(X.max(axis=1), -X.min(axis=1))
    exponents = np.frexp(np.where(np.isfinite(row_max), row_max, 0.0))[1]
    return np.ldexp(X, -exponents[:, np.newaxis])


def ldexp_checked(A, shift, *, what, fix):
    """``A · 2^shift`` (exact), or a ValueError naming the overflow or underflow.

    Parameters
    ----------
    A : ndarray
        Values computed on power-of-two-rescaled inputs.
    shift : int
        Exponent that restores the scale of the original inputs.
    what : str
        What the values are, for the message (e.g. ``"infinite_width_ntk: the kernel"``).
    fix : str
        What to do instead (e.g. ``"rescale X"``).

    Returns
    -------
    ndarray
        ``A · 2^shift``.

    Raises
    ------
    ValueError
        When ``A`` holds a non-finite value, when the largest ``|entry|`` overflows float64, or
        when it falls below the smallest normal float64 (all precision lost to underflow).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel._utils.scale import ldexp_checked
    >>> ldexp_checked(np.array([0.5, -0.25]), 3, what="K", fix="rescale X")
    array([ 4., -2.])
    >>> ldexp_checked(np.array([0.5]), 2000, what="K", fix="rescale X")
    Traceback (most recent call last):
    ...
    ValueError: K overflows float64: its largest entry is about 2^1999; rescale X.
    """
    A = np.asarray(A)
    peak = max_abs(A)
    if not np.isfinite(peak):
        raise ValueError(f"{what} is not finite (an intermediate overflowed float64); {fix}.")
    with np.errstate(over="ignore", under="ignore"):
        scaled = np.ldexp(A, shift)
        scaled_peak = float(np.ldexp(peak, shift))
    exponent = pow2_exponent(peak) - 1 + shift
    if not np.isfinite(scaled_peak):
        raise ValueError(
            f"{what} overflows float64: its largest entry is about 2^{exponent}; {fix}."
        )
    if peak > 0 and scaled_peak < np.finfo(np.float64).tiny:
        raise ValueError(
            f"{what} underflows float64: its largest entry is about 2^{exponent}, below the "
            f"smallest normal float64 (2^-1022), so it would be rounded to zero; {fix}."
        )
    return scaled
