"""Layer 1: the paper's preprocessing as a pipeline step (numpy only).

:class:`DatasetStandardizer` subtracts a scalar pixel mean, divides by a scalar pixel standard
deviation, then ℓ2-normalises each row (arXiv 2603.13085, §5). :func:`dataset_standardizer` returns
one set to a dataset's known constants (``sklearn_attnkernel.datasets.PIXEL_STATS``).
"""

import logging
import math
from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

from ._utils.rows import list_rows
from ._utils.scale import max_abs, pow2_exponent
from .datasets import DATASETS, PIXEL_STATS

__all__ = ["DatasetStandardizer", "dataset_standardizer"]

logger = logging.getLogger(__name__)


def _rms_deviation(X, center, batch_size=4096):
    """``sqrt(mean((X − center)²))`` over all entries, in row blocks to bound memory.

    Computed on ``X`` and ``center`` divided by a power of two (exact), so the squares neither
    overflow at large scales nor underflow at small ones; the power is multiplied back.
    """
    e = pow2_exponent(max(max_abs(X), abs(center)))
    center_s = math.ldexp(center, -e)
    total = 0.0
    for rows in gen_batches(X.shape[0], batch_size):
        block = np.ldexp(X[rows].astype(np.float64), -e) - center_s
        total += float(np.einsum("ij,ij->", block, block))
    return math.ldexp(math.sqrt(total / X.size), e)


def _mean(X):
    """Mean of all entries, summed on ``X`` divided by a power of two so the sum cannot overflow."""
    e = pow2_exponent(max_abs(X))
    return math.ldexp(float(np.ldexp(X, -e, dtype=np.float64).mean()), e)


class DatasetStandardizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardise pixels by one scalar mean and std, then ℓ2-normalise each row.

    The paper's preprocessing: ``z = (x − μ) / σ`` with a single ``μ`` and ``σ`` for the whole
    dataset (every pixel, every channel), then ``z / ‖z‖``. It is strictly affine followed by row
    normalisation, so it can sit inside a pipeline whose input is raw pixels (attacks then act on
    pixels in ``[0, 1]``) and be mirrored exactly in torch from `mean_` and `scale_`:
    ``z = (x − mean_) / scale_`` then ``z / ‖z‖₂``.

    Parameters
    ----------
    mean : float, default=None
        The pixel mean ``μ``. None learns it at :term:`fit` as the mean of every entry of the
        training data.

    std : float, default=None
        The pixel standard deviation ``σ > 0``. None learns it at :term:`fit` as the root mean
        square deviation of every training entry from `mean_` (the standard deviation when the
        mean is learned too). A learned value of 0 (constant data) is replaced by 1.

    normalize_rows : bool, default=True
        Whether to ℓ2-normalise each standardised row. A row whose every entry equals `mean_`
        standardises to zero, cannot be normalised and raises a ValueError naming it.

    Attributes
    ----------
    mean_ : float
        The mean subtracted: `mean`, or the learned one.

    scale_ : float
        The divisor: `std`, or the learned one.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names that
        are all strings.

    See Also
    --------
    dataset_standardizer : This transformer set to a dataset's known constants.
    load_dataset : Pixels in ``[0, 1]`` to feed it.
    sklearn.preprocessing.StandardScaler : Per-feature (not scalar) standardisation.
    sklearn.preprocessing.Normalizer : Row normalisation alone.

    Notes
    -----
    With ``normalize_rows=True`` the output rows have unit norm, and the result depends on
    ``(x − μ)`` only up to scale: ``σ`` changes nothing but the rounding. It is kept so that
    ``normalize_rows=False`` gives the usual standardised pixels.

    Computation keeps the input's floating dtype (float32 stays float32; integer input gives
    float64). Sparse input is not accepted: subtracting the mean makes it dense.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.preprocessing import DatasetStandardizer
    >>> X = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    >>> scaler = DatasetStandardizer(normalize_rows=False).fit(X)
    >>> round(scaler.mean_, 4), round(scaler.scale_, 4)
    (0.5, 0.5)
    >>> scaler.transform(X)
    array([[-1.,  1.],
           [ 1.,  1.],
           [-1., -1.]])
    >>> DatasetStandardizer(mean=0.5, std=0.5).fit_transform(X).round(4)
    array([[-0.7071,  0.7071],
           [ 0.7071,  0.7071],
           [-0.7071, -0.7071]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "mean": [None, Real],
        "std": [None, Interval(Real, 0, None, closed="neither")],
        "normalize_rows": ["boolean"],
    }

    def __init__(self, *, mean=None, std=None, normalize_rows=True):
        self.mean = mean
        self.std = std
        self.normalize_rows = normalize_rows

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Set `mean_` and `scale_`, learning from `X` those not given.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training pixels.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        for param in ("mean", "std"):
            value = getattr(self, param)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{param} must be a finite number or None; got {value!r}.")
        if self.mean is None:
            self.mean_ = _mean(X)
        else:
            self.mean_ = float(self.mean)
        if self.std is None:
            scale = _rms_deviation(X, self.mean_)
            if scale == 0.0:
                logger.warning(
                    "DatasetStandardizer: the training data are constant (%r), so scale_ is set "
                    "to 1.",
                    self.mean_,
                )
                scale = 1.0
            self.scale_ = scale
        else:
            self.scale_ = float(self.std)
        logger.debug("DatasetStandardizer: mean_=%r, scale_=%r", self.mean_, self.scale_)
        return self

    def transform(self, X):
        """Standardise `X` and, if `normalize_rows`, ℓ2-normalise its rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            ``(X − mean_) / scale_``, each row divided by its ℓ2 norm when `normalize_rows` is
            True. Same floating dtype as `X` (float64 for integer input).

        Raises
        ------
        ValueError
            If a standardised row is not finite (overflow), or is zero while `normalize_rows`
            is True; the message lists the row indices.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        with np.errstate(over="ignore", invalid="ignore"):
            Z = X - X.dtype.type(self.mean_)
            Z /= X.dtype.type(self.scale_)
            # largest |Z_ij| per row, to normalise without overflow or underflow
            peak = np.abs(Z).max(axis=1)
        overflow = ~np.isfinite(peak)
        zero = (peak == 0) if self.normalize_rows else np.zeros_like(overflow)
        if overflow.any() or zero.any():
            self._raise_bad_rows(np.flatnonzero(zero), np.flatnonzero(overflow))
        if self.normalize_rows:
            Z /= peak[:, np.newaxis]
            Z /= np.sqrt(np.einsum("ij,ij->i", Z, Z))[:, np.newaxis]
        return Z

    def _raise_bad_rows(self, zero, overflow):
        problems = []
        if zero.size:
            problems.append(
                f"row(s) {list_rows(zero)} have every entry equal to mean_={self.mean_!r}, so "
                "they standardise to zero and cannot be ℓ2-normalised: drop those rows or pass "
                "normalize_rows=False"
            )
        if overflow.size:
            problems.append(
                f"row(s) {list_rows(overflow)} overflowed when standardised (values too large "
                "for the dtype): rescale the input, e.g. pixels to [0, 1]"
            )
        raise ValueError(f"DatasetStandardizer cannot transform: {'; '.join(problems)}.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


@validate_params(
    {"name": [StrOptions(set(DATASETS))], "normalize_rows": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def dataset_standardizer(name, *, normalize_rows=True):
    """Return a :class:`DatasetStandardizer` set to a dataset's known pixel mean and std.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist", "cifar10"}
        The dataset; its constants are ``PIXEL_STATS[name]``: MNIST 0.1307 / 0.3081,
        Fashion-MNIST 0.2860 / 0.3530, CIFAR-10 0.4734 / 0.2516 (channels pooled), digits
        0.3052 / 0.3760 (its fixed training split, pixels divided by 16).

    normalize_rows : bool, default=True
        Whether to ℓ2-normalise each standardised row, as the paper does.

    Returns
    -------
    standardizer : DatasetStandardizer
        Unfitted; :term:`fit` only validates the data and copies the constants into `mean_` and
        `scale_`, learning nothing from it.

    See Also
    --------
    DatasetStandardizer : The transformer, which can also learn the constants.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_attnkernel import dataset_standardizer, load_dataset
    >>> dataset_standardizer("mnist")
    DatasetStandardizer(mean=0.1307, std=0.3081)
    >>> X, y = load_dataset("digits")
    >>> model = make_pipeline(dataset_standardizer("digits"), LogisticRegression(max_iter=500))
    >>> X_test, y_test = load_dataset("digits", split="test")
    >>> model.fit(X, y).score(X_test, y_test) > 0.9
    True
    """
    mean, std = PIXEL_STATS[name]
    return DatasetStandardizer(mean=mean, std=std, normalize_rows=normalize_rows)
