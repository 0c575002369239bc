"""The most helpful and most harmful training points of each test point (arXiv 2603.13085, A.10).

numpy only: this module must not import torch.

:func:`most_influential` reads a per-test-point influence matrix, as returned by
:func:`~sklearn_attnkernel.influence_scores` or :func:`~sklearn_attnkernel.loo_influence` with
``reduce=None`` (shape ``(n_test, n_train)``, positive = helpful), and ranks its rows.
"""

from numbers import Integral
from typing import NamedTuple

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array

__all__ = ["InfluentialExamples", "most_influential"]


class InfluentialExamples(NamedTuple):
    """The ``k`` most helpful and most harmful training points of each selected test point.

    Every array has shape ``(n_selected, k)``; row ``j`` belongs to the ``j``-th selected test
    point and is ordered from the most influential (column 0) down.

    Parameters
    ----------
    helpful : ndarray of int
        Training indices with the largest scores, largest first.
    helpful_scores : ndarray of float
        Their scores.
    harmful : ndarray of int
        Training indices with the smallest scores, smallest first.
    harmful_scores : ndarray of float
        Their scores.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.influence.ranking import most_influential
    >>> examples = most_influential(np.array([[0.5, -1.0, 2.0]]), k=1)
    >>> examples.helpful.tolist(), examples.harmful.tolist()
    ([[2]], [[1]])
    """

    helpful: np.ndarray
    helpful_scores: np.ndarray
    harmful: np.ndarray
    harmful_scores: np.ndarray


def _check_test_indices(test_indices, n_test):
    if test_indices is None:
        return np.arange(n_test)
    idx = np.asarray(test_indices)
    if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(
            "test_indices must be a 1-D array of integer row indices into influence (one per "
            f"test point); got {idx!r:.200}."
        )
    outside = idx[(idx < 0) | (idx >= n_test)]
    if outside.size:
        raise ValueError(
            f"test_indices holds {outside[:10].tolist()}, outside [0, {n_test}) for an "
            f"influence matrix with {n_test} test rows; pass indices 0 <= j < {n_test}."
        )
    return idx.astype(np.int64)


@validate_params(
    {
        "influence": ["array-like"],
        "k": [Interval(Integral, 1, None, closed="left")],
        "test_indices": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def most_influential(influence, k=5, *, test_indices=None):
    """Rank the training points of each test point: the ``k`` most helpful and most harmful.

    For test point ``j`` the most helpful training points are those with the ``k`` largest
    scores ``influence[j, i]`` and the most harmful those with the ``k`` smallest (the paper's
    most influential examples, arXiv 2603.13085, A.10).

    Parameters
    ----------
    influence : array-like of shape (n_test, n_train)
        Influence of each training point (columns) on each test point (rows), positive =
        helpful: the convention of :func:`~sklearn_attnkernel.loo_influence` and
        :func:`~sklearn_attnkernel.influence_scores` with ``reduce=None``. Finite.
    k : int, default=5
        Number of training points on each side, ``1 <= k <= n_train``.
    test_indices : array-like of int, default=None
        Rows of `influence` to rank, in the order wanted (repeats allowed); None ranks every
        row.

    Returns
    -------
    examples : InfluentialExamples
        ``(helpful, helpful_scores, harmful, harmful_scores)``, each of shape
        ``(len(test_indices), k)``, most influential first.

    Raises
    ------
    ValueError
        If `influence` is not a finite 2-D array, ``k > n_train``, or `test_indices` holds
        non-integers or indices outside ``[0, n_test)``.

    See Also
    --------
    influence_scores : The scores of a fitted network's training points.
    top_k_stability : Overlap of the top-k sets of mean scores before and after an attack.

    Notes
    -----
    Ties go to the lower training index on both sides (stable sorts of ``−score`` and of
    ``score``). The two sides are ranked independently: a "helpful" point has a negative score
    when fewer than ``k`` scores are positive, and with ``2k > n_train`` a point can be on both
    sides.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.influence.ranking import most_influential
    >>> influence = np.array([[0.3, -0.2, 0.3, 0.1],
    ...                       [-0.5, 0.4, 0.0, -0.5]])
    >>> examples = most_influential(influence, k=2)
    >>> examples.helpful.tolist()  # the tie 0.3 = 0.3 goes to index 0
    [[0, 2], [1, 2]]
    >>> examples.harmful.tolist(), examples.harmful_scores.tolist()
    ([[1, 3], [0, 3]], [[-0.2, 0.1], [-0.5, -0.5]])
    >>> most_influential(influence, k=1, test_indices=[1]).helpful_scores.tolist()
    [[0.4]]
    """
    scores = check_array(influence, dtype=np.float64, input_name="influence")
    n_test, n_train = scores.shape
    if k > n_train:
        raise ValueError(
            f"k={k} is larger than the {n_train} training points (columns of influence); pass "
            f"k <= {n_train}."
        )
    rows = scores[_check_test_indices(test_indices, n_test)]
    helpful = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    harmful = np.argsort(rows, axis=1, kind="stable")[:, :k]
    return InfluentialExamples(
        helpful,
        np.take_along_axis(rows, helpful, axis=1),
        harmful,
        np.take_along_axis(rows, harmful, axis=1),
    )
