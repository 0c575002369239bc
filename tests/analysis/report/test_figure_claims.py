"""Tests for the verdict rows of Fig. 3 (U shape of the complexity by influence group) and Fig. 5
(the broader, flatter minimum): the verdict follows the paired per-seed CIs, computed here by
hand with scipy, and one seed gives no verdict (issue #13)."""

import numpy as np
import pandas as pd
from scipy import stats

from sklearn_attnkernel.analysis.report.comparison import compare_with_paper
from sklearn_attnkernel.analysis.report.figure_claims import complexity_claims, landscape_claims
from tests.analysis.report.rows import FALLING, U, complexity_rows, jitter

_METRICS = ("curvature_d1", "curvature_d2", "area_below")


def _landscape_rows(relu, attention):
    """Per seed ``(curvature_d1, curvature_d2, area_below)`` of each architecture."""
    rows = []
    for architecture, values in (("relu", relu), ("attention", attention)):
        for seed, triple in enumerate(values):
            for metric, value in zip(_METRICS, triple, strict=True):
                rows.append(
                    {
                        "part": "landscape",
                        "dataset": "digits",
                        "setting": "binary",
                        "n_train": 268,
                        "width": 64,
                        "seed": seed,
                        "architecture": architecture,
                        "metric": metric,
                        "value": value,
                    }
                )
    return pd.DataFrame(rows)


def _t_interval(values):
    values = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return values.mean() - half, values.mean() + half


def test_a_flatter_broader_minimum_on_every_seed_agrees():
    relu = [(4.0, 2.0, 0.20), (5.0, 2.2, 0.25), (4.5, 2.1, 0.22)]
    attention = [(1.0, 1.0, 0.60), (1.2, 0.9, 0.70), (1.1, 1.1, 0.66)]
    pairs = list(zip(relu, attention, strict=True))
    curvature = [(a[0] + a[1]) / 2 - (r[0] + r[1]) / 2 for r, a in pairs]
    area = [a[2] - r[2] for r, a in pairs]
    assert _t_interval(curvature)[1] < 0  # the hand computation: flatter
    assert _t_interval(area)[0] > 0  # and broader
    (row,) = landscape_claims(_landscape_rows(relu, attention))
    assert row["verdict"] == "agrees: flatter and broader"
    assert "MLP-Attn − 2L-ReLU" in row["ours [95 % CI]"]


def test_a_sharper_minimum_disagrees_and_one_seed_gives_no_verdict():
    relu = [(1.0, 1.0, 0.5), (1.1, 0.9, 0.5), (1.0, 1.1, 0.5)]
    attention = [(3.0, 3.0, 0.5), (3.3, 2.9, 0.4), (3.1, 3.2, 0.6)]
    (row,) = landscape_claims(_landscape_rows(relu, attention))
    assert row["verdict"].startswith("disagrees: sharper")
    (one,) = landscape_claims(_landscape_rows(relu[:1], attention[:1]))
    assert one["verdict"].startswith("one seed")


def test_u_shape_for_every_architecture_and_kernel_agrees_and_a_falling_one_disagrees():
    u = pd.concat(
        complexity_rows(jitter(U), jitter(U), architecture=a, kernel=k)
        for a in ("relu", "attention")
        for k in ("empirical", "infinite")
    )
    (row,) = complexity_claims(u)
    assert row["verdict"] == "agrees: U-shaped for every architecture and kernel"
    falling = pd.concat([u, complexity_rows(jitter(FALLING), jitter(FALLING))])
    falling = falling.drop_duplicates(
        subset=["architecture", "kernel", "seed", "metric", "group"], keep="last"
    )
    (row,) = complexity_claims(falling)
    assert row["verdict"] == "disagrees: not U-shaped for 2L-ReLU (infinite)"


def test_the_figure_claims_reach_the_headline_table():
    relu = [(4.0, 2.0, 0.20), (5.0, 2.2, 0.25)]
    attention = [(1.0, 1.0, 0.60), (1.2, 0.9, 0.70)]
    results = pd.concat([_landscape_rows(relu, attention), complexity_rows(jitter(U), jitter(U))])
    verdicts, _ = compare_with_paper(results, {})
    claims = " ".join(verdicts["claim"])
    assert "U-shaped" in claims
    assert "broader, flatter minimum" in claims
