"""KappaReport: its table, dict, text and verdict."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.diagnostics import kappa_report


def test_report_outputs(with_singular_values):
    X = with_singular_values(40, 5, [1.0, 0.8, 0.5, 0.3, 0.1], seed=9)
    report = kappa_report(X)
    quantities = report.to_frame()
    assert list(quantities.columns) == ["quantity", "value", "log10"]
    by_name = quantities.set_index("quantity")
    assert by_name.loc["kappa", "value"] == report.kappa
    assert by_name.loc["width_attention", "log10"] == report.log10_width_attention
    curve = report.to_frame("rank_curve")
    assert isinstance(curve, pd.DataFrame)
    np.testing.assert_array_equal(curve["rank"], report.curve_ranks)
    np.testing.assert_allclose(10 ** curve["log10_kappa"], report.curve_kappa, rtol=1e-12)
    with pytest.raises(ValueError, match="kind must be"):
        report.to_frame("everything")

    as_dict = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert as_dict["kappa"] == report.kappa
    assert as_dict["curve_ranks"] == list(report.curve_ranks)

    text = str(report)
    assert "40 samples × 5 features" in text
    assert f"10^{report.log10_kappa:.1f}" in text
    assert report.verdict in text


def test_report_overflowing_values_become_none_in_dict(with_singular_values):
    X = with_singular_values(30, 4, [1.0, 1e-3, 1e-6, 1e-9], seed=4)  # κ = 10¹⁸
    report = kappa_report(X, practical_width=1e5)
    assert report.width_attention < math.inf  # 10^108 · n ln n still fits
    huge = kappa_report(X, n_layers=20)
    assert huge.kappa_layers == math.inf
    assert huge.log10_kappa_layers == pytest.approx(41 * 18, rel=1e-6)
    assert huge.to_dict()["kappa_layers"] is None
    json.dumps(huge.to_dict(), allow_nan=False)
    assert "cannot reach" in report.verdict


def test_report_well_conditioned_verdict_and_zero_rows():
    X = np.vstack([np.eye(3), np.zeros((1, 3))])
    report = kappa_report(X)
    assert report.kappa == pytest.approx(1.0)
    assert report.collapse_raw == pytest.approx(0.0, abs=1e-15)  # zero row excluded
    assert report.verdict.startswith("attention can reach")
