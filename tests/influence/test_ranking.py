"""The most influential training points: against a brute-force ranking with Python's sorted."""

import numpy as np
import pytest

from sklearn_attnkernel.influence import InfluentialExamples, most_influential


def _brute_force(row, k):
    """Helpful and harmful indices by Python's sorted, ties to the lower index."""
    n = len(row)
    helpful = sorted(range(n), key=lambda i: (-float(row[i]), i))[:k]
    harmful = sorted(range(n), key=lambda i: (float(row[i]), i))[:k]
    return helpful, harmful


@pytest.mark.parametrize("seed", range(5))
def test_matches_a_brute_force_ranking_with_ties(seed):
    rng = np.random.default_rng(seed)
    # few distinct values, so that ties at the k-th place are common
    influence = rng.integers(-3, 4, size=(6, 15)).astype(float) / 7
    influence.flags.writeable = False
    picked = [4, 0, 4]
    examples = most_influential(influence, k=4, test_indices=picked)
    assert isinstance(examples, InfluentialExamples)
    for row, j in enumerate(picked):
        helpful, harmful = _brute_force(influence[j], 4)
        assert examples.helpful[row].tolist() == helpful
        assert examples.harmful[row].tolist() == harmful
        assert examples.helpful_scores[row].tolist() == [influence[j, i] for i in helpful]
        assert examples.harmful_scores[row].tolist() == [influence[j, i] for i in harmful]


def test_the_first_examples_are_the_argmax_and_argmin_of_each_row():
    rng = np.random.default_rng(7)
    influence = rng.normal(size=(9, 40))  # continuous: no ties
    examples = most_influential(influence, k=1)
    assert examples.helpful[:, 0].tolist() == np.argmax(influence, axis=1).tolist()
    assert examples.harmful[:, 0].tolist() == np.argmin(influence, axis=1).tolist()
    assert examples.helpful_scores[:, 0].tolist() == influence.max(axis=1).tolist()


def test_k_equal_to_n_train_sorts_every_point():
    row = np.array([[0.2, -0.1, 0.5]])
    examples = most_influential(row, k=3)
    assert examples.helpful.tolist() == [[2, 0, 1]]
    assert examples.harmful.tolist() == [[1, 0, 2]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 4}, "k=4 is larger than the 3 training points"),
        ({"test_indices": [2]}, r"outside \[0, 2\)"),
        ({"test_indices": [-1]}, r"outside \[0, 2\)"),
        ({"test_indices": [0.5]}, "integer row indices"),
        ({"test_indices": [[0]]}, "1-D array"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        most_influential(np.zeros((2, 3)), **{"k": 1, **kwargs})


def test_non_finite_and_non_matrix_scores_are_refused():
    with pytest.raises(ValueError, match="influence"):
        most_influential(np.array([[0.0, np.nan]]), k=1)
    with pytest.raises(ValueError, match="2D array"):
        most_influential(np.zeros(3), k=1)
    with pytest.raises(ValueError, match="k"):
        most_influential(np.zeros((2, 3)), k=0)
