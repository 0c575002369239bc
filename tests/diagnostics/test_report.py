"""KappaReport: its table, dict, text and verdict."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.diagnostics import NumericalRankWarning, kappa_report
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
    with np.errstate(over="raise"):  # κ^41 overflows on purpose: inf, never reported
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


# σ_k = 2^-(k-1), k = 1..8: κ_k = 4^(k-1) exactly, and n = 10.
HALVING_SIGMA = 2.0 ** -np.arange(8)


def test_report_rank_curve_frame_closed_form(permuted_diagonal):
    report = kappa_report(permuted_diagonal(10, 8, HALVING_SIGMA, seed=0), ranks=range(1, 9))
    curve = report.to_frame("rank_curve")
    assert list(curve.columns) == [
        "rank",
        "kappa",
        "log10_kappa",
        "log10_width_relu",
        "log10_width_attention",
    ]
    k = np.arange(1, 9)
    log10_kappa = (k - 1) * math.log10(4.0)
    log10_n_ln_n = math.log10(10 * math.log(10))
    np.testing.assert_array_equal(curve["rank"], k)
    np.testing.assert_allclose(curve["kappa"], 4.0 ** (k - 1), rtol=1e-12)
    np.testing.assert_allclose(curve["log10_kappa"], log10_kappa, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        curve["log10_width_relu"], 2 * log10_kappa + log10_n_ln_n, rtol=1e-12
    )
    np.testing.assert_allclose(
        curve["log10_width_attention"], 6 * log10_kappa + log10_n_ln_n, rtol=1e-12
    )


def test_report_text_lists_the_curve_six_pairs_a_line(permuted_diagonal):
    report = kappa_report(permuted_diagonal(10, 8, HALVING_SIGMA, seed=0), ranks=range(1, 9))
    pairs = [f"{k}: {(k - 1) * math.log10(4.0):.2f}" for k in range(1, 9)]
    curve_lines = [line for line in str(report).split("\n") if re.match(r"    \d+: ", line)]
    assert curve_lines == ["    " + "   ".join(pairs[:6]), "    " + "   ".join(pairs[6:])]
    assert "practical 10^5)" in str(report)
    # the width-ratio row itself (the verdict line repeats the ratio): κ⁴ at κ = 4⁷
    rows = [line for line in str(report).split("\n") if not line.startswith("verdict:")]
    assert any(f"κ⁴ = 10^{4 * 7 * math.log10(4.0):.1f}" in line for line in rows)


def test_report_unknown_numerical_rank_in_text_and_frame(permuted_diagonal):
    X = permuted_diagonal(10, 8, HALVING_SIGMA, seed=0)
    known = kappa_report(X)
    assert " 8   (κ read at rank r = 8)" in str(known)
    unknown = kappa_report(X, rank=3, ranks=[1, 2, 3], method="randomized", random_state=0)
    assert unknown.numerical_rank is None
    assert " unknown   (κ read at rank r = 3)" in str(unknown)
    quantities = unknown.to_frame().set_index("quantity")
    assert math.isnan(quantities.loc["numerical_rank", "value"])
    assert quantities.loc["rank", "value"] == 3.0


def test_report_text_shows_an_infinite_kappa_as_inf(permuted_diagonal):
    X = permuted_diagonal(5, 3, [2.0, 1.0, 0.0], seed=10)  # σ₃ = 0 exactly: κ = inf at rank 3
    with pytest.warns(NumericalRankWarning):
        report = kappa_report(X, rank="full")
    assert report.kappa == report.log10_kappa == math.inf
    assert "inf  (inf)" in str(report)
    assert "m ≈ inf vs inf, both above the practical 10^5" in report.verdict


@pytest.mark.parametrize(
    ("log10_attention", "log10_relu", "expected"),
    [
        (5.0, 5.0, "both within the practical 10^5"),  # exactly at it is within
        (6.0, 5.0, "MLP-Attn's above the practical 10^5, 2L-ReLU's within it"),
        (5.0, 6.0, "2L-ReLU's above the practical 10^5, MLP-Attn's within it"),
        (6.0, 5.5, "both above the practical 10^5"),
    ],
)
def test_verdict_boundaries_and_whole_orders(log10_attention, log10_relu, expected):
    verdict = format_verdict(log10_attention, log10_relu, 5.0)
    assert f", {expected} (" in verdict
    attention = f"10^{log10_attention:.0f}" if log10_attention % 1 == 0 else f"10^{log10_attention}"
    relu = f"10^{log10_relu:.0f}" if log10_relu % 1 == 0 else f"10^{log10_relu}"
    assert f"2L-ReLU's: m ≈ {attention} vs {relu}," in verdict  # rank=None: nothing between
