"""The paper's preprocessing step, :class:`DatasetStandardizer`, against a brute-force loop."""

import logging

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklearn_attnkernel.datasets import DATASETS, PIXEL_STATS, load_dataset
from sklearn_attnkernel.datasets import loaders as datasets
from sklearn_attnkernel.preprocessing import DatasetStandardizer, dataset_standardizer


def _brute_force_standardize(X, mean, std, normalize_rows=True):
    out = np.empty_like(X, dtype=np.float64)
    for i, row in enumerate(X):
        z = [(float(v) - mean) / std for v in row]
        if normalize_rows:
            norm = sum(v * v for v in z) ** 0.5
            z = [v / norm for v in z]
        out[i] = z
    return out


def test_standardizer_learns_scalar_mean_and_std_and_matches_brute_force(rng):
    X = rng.uniform(0, 1, size=(30, 7))
    X.flags.writeable = False
    scaler = DatasetStandardizer().fit(X)
    assert isinstance(scaler.mean_, float)
    assert isinstance(scaler.scale_, float)
    assert scaler.mean_ == pytest.approx(sum(X.ravel().tolist()) / X.size, rel=1e-12)
    assert scaler.scale_ == pytest.approx(np.std(X.ravel()), rel=1e-12)
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z, _brute_force_standardize(X, scaler.mean_, scaler.scale_))
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0)

    plain = DatasetStandardizer(normalize_rows=False).fit(X).transform(X)
    expected = _brute_force_standardize(X, X.mean(), X.std(), normalize_rows=False)
    np.testing.assert_allclose(plain, expected)
    assert plain.mean() == pytest.approx(0.0, abs=1e-12)
    assert plain.std() == pytest.approx(1.0)


def test_standardizer_given_constants_learn_nothing(rng):
    X = rng.uniform(0, 1, size=(20, 5))
    scaler = DatasetStandardizer(mean=0.1307, std=0.3081, normalize_rows=False).fit(X)
    assert (scaler.mean_, scaler.scale_) == (0.1307, 0.3081)
    np.testing.assert_allclose(scaler.transform(X), (X - 0.1307) / 0.3081)

    # a given mean with a learned std: the rms deviation from that mean
    scaler = DatasetStandardizer(mean=0.0).fit(X)
    assert scaler.scale_ == pytest.approx(np.sqrt(np.mean(X**2)))


def test_standardizer_float32_is_preserved_and_close_to_float64(rng):
    X = rng.uniform(0, 1, size=(25, 9))
    Z64 = DatasetStandardizer().fit_transform(X)
    Z32 = DatasetStandardizer().fit_transform(X.astype(np.float32))
    assert Z32.dtype == np.float32
    np.testing.assert_allclose(Z32, Z64, rtol=1e-4, atol=1e-5)


def test_standardizer_zero_rows_are_named(rng):
    X = rng.uniform(0, 1, size=(14, 4))
    X[[2, 11]] = 0.25
    scaler = DatasetStandardizer(mean=0.25, std=1.0).fit(X)
    with pytest.raises(ValueError, match=r"row\(s\) 2, 11 have every entry equal to mean_=0.25"):
        scaler.transform(X)
    Z = scaler.set_params(normalize_rows=False).transform(X)
    assert np.all(Z[[2, 11]] == 0)


def test_standardizer_overflow_is_named():
    X = np.array([[1.0, 2.0], [3e38, -3e38]], dtype=np.float32)
    scaler = DatasetStandardizer(mean=0.0, std=1e-3).fit(X)
    with pytest.raises(ValueError, match=r"row\(s\) 1 overflowed when standardised"):
        scaler.transform(X)


def test_standardizer_constant_data_gets_unit_scale(caplog):
    X = np.full((5, 3), 0.5)
    with caplog.at_level(logging.WARNING, logger="sklearn_attnkernel.preprocessing"):
        scaler = DatasetStandardizer(normalize_rows=False).fit(X)
    assert scaler.scale_ == 1.0
    assert "constant" in caplog.text


def test_standardizer_keeps_column_names_with_pandas_output():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame([[0.0, 1.0], [1.0, 0.5], [0.2, 0.0]], columns=["p0", "p1"])
    out = DatasetStandardizer().set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == ["p0", "p1"]


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_standardizer_uses_the_dataset_constants(name):
    scaler = dataset_standardizer(name, normalize_rows=False)
    assert (scaler.mean, scaler.std) == PIXEL_STATS[name]
    assert not scaler.normalize_rows


def test_digits_constants_are_those_of_the_training_split():
    X, _ = load_dataset("digits")
    fitted = DatasetStandardizer().fit(X)
    assert PIXEL_STATS["digits"] == (round(fitted.mean_, 4), round(fitted.scale_, 4))


def test_cifar10_pooled_constants_follow_from_the_channel_constants():
    # Build three channels with exactly the published means and stds, pool every pixel, and
    # take the mean and std by brute force.
    base = np.random.default_rng(0).normal(size=20000)
    base = (base - base.mean()) / base.std()
    pooled = np.concatenate(
        [
            m + s * base
            for m, s in zip(
                datasets._CIFAR10_CHANNEL_MEAN, datasets._CIFAR10_CHANNEL_STD, strict=True
            )
        ]
    )
    assert PIXEL_STATS["cifar10"] == (round(pooled.mean(), 4), round(pooled.std(), 4))


def test_pipeline_on_pixels_gives_unit_rows():
    X, _ = load_dataset("digits", n_samples=100, random_state=0)
    Z = make_pipeline(dataset_standardizer("digits")).fit_transform(X)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0)
    np.testing.assert_allclose(Z, _brute_force_standardize(X, *PIXEL_STATS["digits"]))


@pytest.mark.parametrize("k", [-1000, -3, 0, 7, 1000])
def test_fit_is_exact_under_power_of_two_rescaling(k):
    # mean and std are summed on X divided by a power of two: nothing overflows at 2^1000 or
    # underflows at 2^-1000, and rescaling by 2^k scales both exactly (bit for bit)
    X, _ = load_dataset("digits")
    reference = DatasetStandardizer().fit(X)
    scaled = DatasetStandardizer().fit(np.ldexp(X, k))
    assert scaled.mean_ == np.ldexp(reference.mean_, k)
    assert scaled.scale_ == np.ldexp(reference.scale_, k)
    np.testing.assert_array_equal(scaled.transform(np.ldexp(X, k)), reference.transform(X))
