"""Feature collapse: the mean pairwise cosine similarity of the rows of a matrix (Fig. 7)."""

import math

import numpy as np
from sklearn.utils._param_validation import validate_params
from sklearn.utils.extmath import row_norms, safe_sparse_dot

from .._utils.rows import list_rows
from .validation import check_matrix

__all__ = ["feature_collapse"]


def _collapse(F):
    """Mean pairwise cosine of the rows of ``F`` (zero rows must have been excluded)."""
    n = F.shape[0]
    inverse_norms = 1.0 / np.sqrt(row_norms(F, squared=True))
    total = np.asarray(safe_sparse_dot(inverse_norms, F)).ravel()  # Σ_i f_i/‖f_i‖
    return float((total @ total - n) / (n * (n - 1)))


def collapse_nonzero_rows(F):
    """Feature collapse over the nonzero rows of ``F``; NaN when fewer than two remain."""
    nonzero = row_norms(F, squared=True) > 0
    if np.count_nonzero(nonzero) < 2:
        return math.nan
    return _collapse(F[nonzero] if not nonzero.all() else F)


@validate_params({"F": ["array-like", "sparse matrix"]}, prefer_skip_nested_validation=True)
def feature_collapse(F):
    """Mean pairwise cosine similarity of the rows of ``F`` (Fig. 7 of the paper).

    Values near 1 mean every row points the same way: the features have collapsed and the kernel
    they induce is close to rank one.

    Parameters
    ----------
    F : {array-like, sparse matrix} of shape (n_samples, n_features)
        Feature matrix with at least two rows, none of them zero.

    Returns
    -------
    collapse : float
        ``(1/(n(n−1))) Σ_{i≠j} cos(f_i, f_j)``, in ``[−1/(n−1), 1]`` up to round-off.

    Raises
    ------
    ValueError
        If a row of ``F`` is zero (its cosine is undefined), or ``F`` is not a finite real matrix
        with at least two rows.

    Notes
    -----
    Computed in ``O(n d)`` without the ``n × n`` cosine matrix: with unit rows ``u_i``,
    ``Σ_{i≠j} u_iᵀu_j = ‖Σ_i u_i‖² − n``. This identity is applied by hand here (a few lines); no
    library function computes it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import feature_collapse
    >>> feature_collapse(np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]]))  # pairs: 1, 0, 0
    0.333...
    """
    who = "feature_collapse"
    F = check_matrix(F, who, name="F")
    zero_rows = np.flatnonzero(row_norms(F, squared=True) == 0)
    if zero_rows.size:
        raise ValueError(
            f"{who}: rows [{list_rows(zero_rows)}] of F are zero, so their cosine similarity is "
            "undefined. Drop them first, e.g. F[np.linalg.norm(F, axis=1) > 0]."
        )
    return _collapse(F)
