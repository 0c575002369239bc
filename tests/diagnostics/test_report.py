"""KappaReport: its table, dict, text and verdict."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.diagnostics import kappa_report
from sklearn_attnkernel.diagnostics.report import format_verdict


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
    assert "both above the practical 10^5" in report.verdict


def test_report_well_conditioned_verdict_and_zero_rows():
    X = np.vstack([np.eye(3), np.zeros((1, 3))])
    report = kappa_report(X)
    assert report.kappa == pytest.approx(1.0)
    assert report.collapse_raw == pytest.approx(0.0, abs=1e-15)  # zero row excluded
    assert "both within the practical 10^5" in report.verdict


def test_text_says_what_is_computed(with_singular_values):
    # σ = 1, 0.7, 0.3: κ = (1/0.3)², so the width ratio κ⁴ is 10^(8 log10(1/0.3)) = 10^4.2
    X = with_singular_values(30, 3, [1.0, 0.7, 0.3], seed=2)
    report = kappa_report(X)
    text = str(report)
    assert "bound of the matrix-exponential model" in text
    assert "not the entrywise softmax" in text
    assert "sufficient width, 2L-ReLU" in text
    assert "sufficient width, MLP-Attn" in text
    assert f"κ = λ₁/λ_r of G = XXᵀ, r = {report.rank}" in text
    log10_ratio = 8 * math.log10(1 / 0.3)
    assert f"κ⁴ = 10^{log10_ratio:.1f}" in text
    for overclaim in ("softmax bound", "required width,", "cannot reach", "needs m"):
        assert overclaim not in text
    assert f"κ read at rank {report.rank}" in report.verdict
    assert report.verdict.startswith(f"MLP-Attn's sufficient width is κ⁴ = 10^{log10_ratio:.1f}")


@pytest.mark.parametrize(
    ("log10_attention", "log10_relu", "expected"),
    [
        (45.1, 17.8, "both above the practical 10^5"),
        (9.3, 4.1, "MLP-Attn's above the practical 10^5, 2L-ReLU's within it"),
        (4.6, 3.1, "both within the practical 10^5"),
    ],
)
def test_verdict_places_both_widths_against_the_practical_one(
    log10_attention, log10_relu, expected
):
    verdict = format_verdict(log10_attention, log10_relu, 5.0, rank=7)
    assert expected in verdict
    assert f"κ⁴ = 10^{log10_attention - log10_relu:.1f}" in verdict
    assert "(κ read at rank 7)" in verdict
    assert "sufficient condition with unknown constants" in verdict
