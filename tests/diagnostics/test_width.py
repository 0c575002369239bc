"""Required widths ``m* = κᵖ n ln n`` against the direct formula, and their overflow."""

import math

import pytest

from sklearn_attnkernel.diagnostics import required_width


@pytest.mark.parametrize("kappa", [1.0, 3.7, 1e10, 1e40])
@pytest.mark.parametrize("n", [2, 100, 60_000])
def test_required_width_matches_direct_formula(kappa, n):
    attention = kappa**6 * n * math.log(n)
    relu = kappa**2 * n * math.log(n)
    assert required_width(kappa, n) == pytest.approx(attention, rel=1e-12)
    assert required_width(kappa, n, "relu") == pytest.approx(relu, rel=1e-12)
    assert required_width(kappa, n, log10=True) == pytest.approx(math.log10(attention), rel=1e-12)


def test_required_width_overflow():
    log10_width = 6 * 60 + math.log10(1e4 * math.log(1e4))
    with pytest.raises(ValueError, match=r"m\* = 10\^364\.96 overflows float64; pass log10=True"):
        required_width(1e60, 10_000)
    assert required_width(1e60, 10_000, log10=True) == pytest.approx(log10_width, rel=1e-12)
    assert math.isfinite(required_width(1e60, 10_000, "relu"))
    assert required_width(math.inf, 10) == math.inf
    assert required_width(1e51, 2) < math.inf  # 10³⁰⁶ · 2 ln 2 still fits in float64


@pytest.mark.parametrize(
    ("args", "match"),
    [((0.5, 10), "'kappa' parameter"), ((2.0, 1), "'n' parameter"), ((2.0, 10, "mlp"), "arch")],
)
def test_required_width_validation(args, match):
    with pytest.raises(ValueError, match=match):
        required_width(*args)
