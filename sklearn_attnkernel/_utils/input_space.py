"""Checks that data passed after ``fit`` are in the fitted estimator's input space.

Every entry point that takes ``X`` after ``fit`` (influence, attacks on training points, the NTK
function-space distance, the torch mirror of a pipeline) checks it as
:func:`sklearn.utils.validation.validate_data` does with ``reset=False``: same column names in
the same order (sklearn's ``_check_feature_names``), same number of columns
(``_check_n_features``). The only additions are a named refusal of an empty set and of sparse
input before :func:`~sklearn.utils.check_array` (whose own messages for those cases name neither
the set nor the fix).
"""

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    validate_data,
)

__all__ = ["InputSpace", "check_input_space", "check_not_empty", "with_fit_columns"]


def check_not_empty(X, input_name, role=None):
    """Raise a ValueError naming ``input_name`` (and its ``role``) when ``X`` has no rows.

    Parameters
    ----------
    X : array-like or sparse matrix
        The data.
    input_name : str
        Name of the parameter, e.g. ``"X_train"``.
    role : str or None, default=None
        What the set is, e.g. ``"the training set"``, for the message.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel._utils.input_space import check_not_empty
    >>> check_not_empty(np.ones((2, 3)), "X")
    >>> check_not_empty([], "X_train", "the training set")
    Traceback (most recent call last):
    ...
    ValueError: X_train (the training set) is empty: it has shape (0,), no rows. Pass at ...
    """
    shape = np.shape(X)
    if len(shape) > 0 and shape[0] == 0:
        who = input_name if role is None else f"{input_name} ({role})"
        raise ValueError(
            f"{who} is empty: it has shape {tuple(shape)}, no rows. Pass at least one row."
        )


def check_input_space(estimator, X, *, input_name, role=None, dtype=None):
    """``X`` validated against the input space of the fitted ``estimator``, as a dense array.

    The checks of :func:`~sklearn.utils.validation.validate_data` with ``reset=False``, with
    sklearn's own helpers and messages (prefixed with ``input_name``): the column names of a
    DataFrame must be those seen in ``fit``, in the same order (a mismatch raises sklearn's
    ``ValueError``; names on one side only give sklearn's ``UserWarning``), and the number of
    columns must be ``n_features_in_``. The result is C-ordered, so a DataFrame and the same
    values as an array give the same numbers downstream.
    For a :class:`~sklearn.pipeline.Pipeline` these are the attributes of its first step.

    Parameters
    ----------
    estimator : fitted estimator
        Whose ``feature_names_in_`` and ``n_features_in_`` (when present) ``X`` must match.
    X : array-like of shape (n_samples, n_features)
        The data. Sparse input is refused with a TypeError saying how to densify it.
    input_name : str
        Name of the parameter, in the messages.
    role : str or None, default=None
        What the set is (e.g. ``"the training set"``), in the message for an empty set.
    dtype : str, type, list of type or None, default=None
        Passed to :func:`~sklearn.utils.check_array` (``None`` keeps the input's dtype).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The validated data, columns in the order of ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_attnkernel._utils.input_space import check_input_space
    >>> df = pd.DataFrame({"a": [0.0, 1.0], "b": [2.0, 3.0]})
    >>> scaler = StandardScaler().fit(df)
    >>> check_input_space(scaler, df, input_name="X_test").shape
    (2, 2)
    >>> check_input_space(scaler, df[["b", "a"]], input_name="X_test")
    Traceback (most recent call last):
    ...
    ValueError: X_test: The feature names should match those that were passed during fit.
    Feature names must be in the same order as they were in fit.
    <BLANKLINE>
    """
    refuse_sparse(X, input_name)
    _named(_check_feature_names, estimator, X, input_name)
    check_not_empty(X, input_name, role)
    X = check_array(X, dtype=dtype, order="C", input_name=input_name)
    _named(_check_n_features, estimator, X, input_name)
    return X


def refuse_sparse(X, input_name):
    """Raise a TypeError naming ``input_name`` when ``X`` is a scipy sparse matrix or array.

    Parameters
    ----------
    X : object
        The input to check.
    input_name : str
        Its parameter name, used in the message.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_attnkernel._utils.input_space import refuse_sparse
    >>> refuse_sparse(sp.eye(2, format="csr"), "X")
    Traceback (most recent call last):
    ...
    TypeError: X is a sparse matrix of shape (2, 2); only dense input is supported here. ...
    """
    if sp.issparse(X):
        raise TypeError(
            f"{input_name} is a sparse matrix of shape {X.shape}; only dense input is "
            f"supported here. Densify it first, e.g. {input_name}.toarray()."
        )


def _named(check, estimator, X, input_name):
    """Run sklearn's ``check(estimator, X, reset=False)``; its ValueError names the parameter."""
    try:
        check(estimator, X, reset=False)
    except ValueError as error:
        raise ValueError(f"{input_name}: {error}") from error


def with_fit_columns(estimator, X):
    """``X`` as a DataFrame with the estimator's ``feature_names_in_``, when it has them.

    For data already in the fitted column order (e.g. the stored training rows ``X_fit_``, or
    rows validated with :func:`check_input_space`) that are passed back to the estimator: an
    unlabelled array would draw sklearn's "X does not have valid feature names" warning.

    Parameters
    ----------
    estimator : fitted estimator
        Whose ``feature_names_in_`` label the columns (for a pipeline, its first step's).
    X : ndarray of shape (n_samples, n_features_in_)
        Rows in the fitted column order.

    Returns
    -------
    X : ndarray or pandas.DataFrame
        ``X`` itself when the estimator was fitted without column names, else a DataFrame.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_attnkernel._utils.input_space import with_fit_columns
    >>> scaler = StandardScaler().fit(pd.DataFrame({"a": [0.0, 1.0], "b": [2.0, 3.0]}))
    >>> with_fit_columns(scaler, np.zeros((1, 2))).columns.tolist()
    ['a', 'b']
    """
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return X
    import pandas as pd  # only reached for an estimator fitted on a DataFrame

    return pd.DataFrame(X, columns=names)


class InputSpace(BaseEstimator):
    """Records the column names and count of a data set, for :func:`check_input_space`.

    For functions that take a training set and a test set before any model is fitted on them:
    ``InputSpace().fit(X_train)`` records ``feature_names_in_`` and ``n_features_in_`` with
    :func:`~sklearn.utils.validation.validate_data`, then ``check_input_space(space, X_test,
    ...)`` holds the test set to them, as a fitted model would.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns of the recorded set.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of the recorded set; only defined when it had string column names.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel._utils.input_space import InputSpace
    >>> space = InputSpace().fit(pd.DataFrame({"a": [0.0], "b": [1.0]}))
    >>> space.feature_names_in_.tolist(), space.n_features_in_
    (['a', 'b'], 2)
    """

    def fit(self, X, y=None):
        """Record the column names and count of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.
        y : None
            Ignored.

        Returns
        -------
        self : InputSpace
            The fitted recorder.
        """
        validate_data(self, X, skip_check_array=True)
        return self
