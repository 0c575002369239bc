"""The ``audit`` part on a tiny grid: its rows, and its numbers against a recomputation through
the public influence functions (a second fit of the same seeded network, a direct
``influence_scores`` call, the attack on the same points, ``influence.metrics``)."""

import numpy as np
import pytest

from sklearn_attnkernel.analysis.config import ConfigError, load_config
from sklearn_attnkernel.analysis.data import cell_data
from sklearn_attnkernel.analysis.grid import run_grid
from sklearn_attnkernel.analysis.parts import audit
from sklearn_attnkernel.analysis.parts.malleability import attack_rows
from sklearn_attnkernel.analysis.parts.models import make_model, pixel_epsilon
from sklearn_attnkernel.analysis.store import read_cell

_OFF = {"enabled": False}
TINY_AUDIT = {
    "run": {"seeds": [0]},
    "data": {"settings": ["binary"], "n_train": [60], "n_test": 30},
    **{p: _OFF for p in ("kappa", "collapse", "ntk", "malleability", "interventions")},
    **{p: _OFF for p in ("complexity", "examples")},
    "audit": {
        "enabled": True,
        "n_train": None,
        "width": 8,
        "methods": ["exact", "trak", "if-explicit"],
        "checkpoints": [1, 2],
        "top_fractions": [0.05, 0.2],
        "n_retrain": 8,
        "epsilons": [0.1, 0.3],
        "steps": 2,
        "training": {"stopping": "fixed", "epochs": 20, "lr": 0.1},
    },
}


@pytest.fixture(scope="module")
def audit_cells(tmp_path_factory):
    pytest.importorskip("dattri")
    out = tmp_path_factory.mktemp("audit")
    summary = run_grid(TINY_AUDIT, out, progress=False)
    assert summary.n_failed == 0
    return [read_cell(path) for path in sorted((out / "cells").glob("audit-*.json"))]


def _value(record, **match):
    found = [
        r["value"]
        for r in record["rows"]
        if all(r.get(key) == value for key, value in match.items())
    ]
    assert len(found) == 1, match
    return found[0]


def test_one_cell_per_architecture_and_epsilon_with_every_method_and_ensemble(audit_cells):
    cells = sorted((r["settings"]["architecture"], r["settings"]["epsilon"]) for r in audit_cells)
    assert cells == [("attention", 0.1), ("attention", 0.3), ("relu", 0.1), ("relu", 0.3)]
    for record in audit_cells:
        for method in ("trak", "if-explicit"):
            for T in (1, 2):
                for attack in ("pgd", "random"):
                    rate = _value(
                        record, method=method, metric="flip_rate", n_checkpoints=T, attack=attack
                    )
                    assert 0.0 <= rate <= 1.0
                rho = _value(record, method=method, metric="agreement", n_checkpoints=T)
                low = _value(record, method=method, metric="agreement_low", n_checkpoints=T)
                high = _value(record, method=method, metric="agreement_high", n_checkpoints=T)
                assert low <= rho <= high
        # the exact NTK influence has no checkpoint ensemble
        assert not [
            r for r in record["rows"] if r.get("method") == "exact" and r.get("n_checkpoints") == 2
        ]
        ks = {r["k_fraction"] for r in record["rows"] if r["metric"] == "flip_rate_at_k"}
        assert ks == {0.05, 0.2}


def test_the_epsilon_cells_of_a_network_share_its_training_and_retrains(audit_cells):
    """One task per network: the same test accuracy and agreement rows at every ε, while the
    attack's perturbation (and so its numbers) depends on ε."""
    for architecture in ("relu", "attention"):
        small, large = (
            r
            for r in sorted(audit_cells, key=lambda r: r["settings"]["epsilon"])
            if r["settings"]["architecture"] == architecture
        )
        assert _value(small, metric="test_accuracy") == _value(large, metric="test_accuracy")
        for method in ("exact", "trak"):
            match = {"method": method, "metric": "agreement", "n_checkpoints": 1}
            assert _value(small, **match) == _value(large, **match)
        spearman = {"method": "exact", "metric": "spearman", "attack": "pgd", "n_checkpoints": 1}
        assert _value(small, **spearman) != _value(large, **spearman)


def test_flip_rates_match_a_direct_recomputation(audit_cells):
    """Same seeded network fitted again, TRAK scores by a direct influence_scores call, the
    attack on the same top set, the flip rate by influence.metrics."""
    from sklearn_attnkernel.influence.estimators import influence_scores
    from sklearn_attnkernel.influence.metrics import (
        influence_flip_rate,
        influence_rank_correlation,
        top_positive,
    )

    record = next(
        r
        for r in audit_cells
        if r["settings"]["architecture"] == "relu" and r["settings"]["epsilon"] == 0.1
    )
    s = record["settings"]
    data = cell_data(s, None)
    X, y, test = data["X"], data["y"], (data["X_test"], data["y_test"])
    model = make_model(s).fit(X, y)
    before = influence_scores(model, *test, method="trak")
    top = np.sort(top_positive(before, s["top_fraction"]))
    X_adv = attack_rows(s, model, X, y, top, pixel_epsilon(model, s["epsilon"], "pixel"))
    after = influence_scores(model, *test, X_train=X_adv, y_train=y, method="trak")
    flips = np.mean(np.sign(after[top]) != np.sign(before[top]))
    common = {"method": "trak", "attack": "pgd", "n_checkpoints": 1}
    assert _value(record, metric="flip_rate", **common) == pytest.approx(flips)
    assert _value(record, metric="spearman", **common) == pytest.approx(
        influence_rank_correlation(before, after), abs=1e-9
    )
    assert _value(record, metric="flip_rate_at_k", k_fraction=0.2, **common) == pytest.approx(
        influence_flip_rate(before, after, 0.2)
    )


def test_checkpoint_epochs_end_at_the_budget_and_are_evenly_spaced():
    epochs = audit.checkpoint_epochs(60, [1, 3, 5])
    assert epochs == {1: [60], 3: [20, 40, 60], 5: [12, 24, 36, 48, 60]}


def test_a_failing_method_gives_nan_rows_and_a_note(monkeypatch, audit_cells):
    s = audit_cells[0]["settings"]

    def fail(*args, **kwargs):
        raise ValueError("method='trak' returned non-finite influence scores")

    monkeypatch.setattr(audit, "_method_rows", fail)
    [(_, rows, _, notes)] = audit.run([{**s, "methods": ["trak"], "n_retrain": 3}], {"root": None})
    flip = [r for r in rows if r.get("method") == "trak" and r["metric"] == "flip_rate"]
    assert flip
    assert all(np.isnan(r["value"]) for r in flip)
    assert any("trak failed" in note for note in notes)


def test_a_method_failing_at_one_epsilon_leaves_the_other_epsilon_alone(monkeypatch, audit_cells):
    cells = sorted(
        (r["settings"] for r in audit_cells if r["settings"]["architecture"] == "relu"),
        key=lambda s: s["epsilon"],
    )
    cells = [{**s, "methods": ["exact"], "n_retrain": 3} for s in cells]
    real = audit._attack_rows

    def fail_at_small(s, *args):
        if s["epsilon"] == 0.1:
            raise ValueError("non-finite influence scores")
        return real(s, *args)

    monkeypatch.setattr(audit, "_attack_rows", fail_at_small)
    (_, small, _, notes), (_, large, _, _) = audit.run(cells, {"root": None})
    flips = {
        eps: [r["value"] for r in rows if r["metric"] == "flip_rate" and r["attack"] == "pgd"]
        for eps, rows in ((0.1, small), (0.3, large))
    }
    assert np.isnan(flips[0.1]).all()
    assert np.isfinite(flips[0.3]).all()
    assert any("failed at ε = 0.1" in note for note in notes)
    assert [r for r in small if r["metric"] == "agreement"] == [
        r for r in large if r["metric"] == "agreement"
    ]


def test_without_dattri_the_cell_is_skipped_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(audit.importlib.util, "find_spec", lambda name: None)
    s = {"methods": ["trak", "datainf"]}
    [(_, rows, _, notes)] = audit.run([s], {"root": None})
    assert rows == []
    assert 'pip install "sklearn-attnkernel[audit]"' in notes[0]


def test_quick_preset_has_a_small_audit():
    cells = [c for c in load_config(quick=True).cells() if c.part == "audit"]
    assert len(cells) == 6  # one seed, 10-class, both architectures, three ε
    assert {c.settings["n_retrain"] for c in cells} == {20}
    assert {m for c in cells for m in c.settings["methods"]} >= {"trak", "datainf"}


def test_audit_is_off_by_default_and_refuses_an_unknown_method():
    assert not [c for c in load_config({"kappa": {"enabled": True}}).cells() if c.part == "audit"]
    with pytest.raises(ConfigError, match=r"audit\.methods"):
        load_config({"audit": {"methods": ["trak", "lissa"]}})


def test_audit_takes_a_list_of_epsilons_and_names_it_for_a_single_epsilon():
    with pytest.raises(ConfigError, match=r"audit\.epsilon'.*Did you mean 'epsilons'"):
        load_config({"audit": {"epsilon": 0.3}})
    with pytest.raises(ConfigError, match=r"audit\.epsilons"):
        load_config({"audit": {"epsilons": [0.1, -0.3]}})
