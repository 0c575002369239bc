"""Tests for the experiment config: validation by the rule table, TOML files, presets."""

import os

import pytest

from sklearn_attnkernel._utils.vocabulary import PARTS
from sklearn_attnkernel.analysis import config as config_module
from sklearn_attnkernel.analysis.config import ConfigError, load_config

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "configs")


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"data": {"datasets": ["mnsit"]}}, "data.datasets[0]"),
        ({"ntk": {"widths": [16, 0]}}, "ntk.widths[1]"),
        ({"malleability": {"widths": [0]}}, "malleability.widths[0]"),
        ({"malleability": {"epsilons": [0.1, -0.3]}}, "malleability.epsilons[1]"),
        ({"malleability": {"attacks": ["pgd", "cw"]}}, "malleability.attacks[1]"),
        ({"data": {"n_train": []}}, "data.n_train"),
        ({"ntk": {"n_train": []}}, "ntk.n_train"),
        ({"data": {"n_train": [1]}}, "data.n_train[0]"),
        ({"run": {"seeds": [0, 0]}}, "run.seeds"),
        ({"run": {"seeds": [True]}}, "run.seeds[0]"),
        ({"ntk": {"widht": [16]}}, "ntk.widht"),
        ({"training": {"lr": 0}}, "training.lr"),
        ({"ntk": {"training": {"epochs": 0}}}, "ntk.training.epochs"),
        ({"malleability": {"top_fraction": 1.5}}, "malleability.top_fraction"),
        (
            {"malleability": {"adversarial": {"method": "random"}}},
            "malleability.adversarial.method",
        ),
        ({"interventions": {"kinds": ["cured"]}}, "interventions.kinds[0]"),
        ({"kappa": {"rank": "most"}}, "kappa.rank"),
        ({"run": {"device": "gpu"}}, "run.device"),
        ({"malleability": {"epsilons": 0.3}}, "malleability.epsilons"),
        ({"run": {"name": ""}}, "run.name"),
        ({"data": {"root": 3}}, "data.root"),
        ({"kappa": {"practical_width": 0.5}}, "kappa.practical_width"),
        ({"collapse": {"settings": ["ternary"]}}, "collapse.settings[0]"),
        ({"interventions": {"record_epochs": [0]}}, "interventions.record_epochs[0]"),
        ({"training": {"stopping": "converged"}}, "training.stopping"),
        ({"training": {"max_epochs": 0}}, "training.max_epochs"),
        ({"training": {"tol": -0.1}}, "training.tol"),
        ({"training": {"tol": float("nan")}}, "training.tol"),
        ({"training": {"n_iter_no_change": 0}}, "training.n_iter_no_change"),
        ({"malleability": {"training": {"stopping": "early"}}}, "malleability.training.stopping"),
        ({"malleability": {"training": {"max_epochs": 1.5}}}, "malleability.training.max_epochs"),
        ({"ntk": {"stopping": ["fixed", "fixed"]}}, "ntk.stopping"),
        ({"ntk": {"stopping": "fixed"}}, "ntk.stopping"),
        ({"ntk": {"stopping": ["fixd"]}}, "ntk.stopping[0]"),
        ({"ntk": {"training": {"stopping": "fixed"}}}, "ntk.training.stopping"),
    ],
)
def test_bad_config_names_the_key(config, key):
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == key
    assert repr(key) in str(info.value)


def test_every_key_has_a_rule():
    """The rule table covers the whole schema: no key escapes validation."""
    ruled = {key for key, _ in config_module._RULES}
    schema = config_module._part_schema()
    for table, keys in schema.items():
        if table == "training":
            assert "training" in ruled
            continue
        for key in keys:
            assert f"{table}.{key}" in ruled, f"{table}.{key} has no rule"


def test_values_are_normalised():
    config = load_config({"malleability": {"epsilons": [0, 1]}, "ntk": {"alpha": 1}})
    assert config["malleability"]["epsilons"] == [0.0, 1.0]
    assert all(isinstance(e, float) for e in config["malleability"]["epsilons"])
    assert isinstance(config["ntk"]["alpha"], float)
    assert config["ntk"]["training"] == {}  # no override: the shared training table applies
    assert config["ntk"]["seeds"] is None
    assert config["run"]["name"] == "digits"


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match="Did you mean 'widths'"):
        load_config({"ntk": {"widht": [16]}})


def test_every_part_disabled_is_rejected():
    parts = {part: {"enabled": False} for part in PARTS}
    with pytest.raises(ConfigError, match="every part is disabled"):
        load_config(parts)


def test_missing_data_names_the_datasets_key(tmp_path, tiny_grid):
    config = load_config(
        {**tiny_grid, "data": {**tiny_grid["data"], "datasets": ["mnist"], "root": str(tmp_path)}}
    )
    for method in (config.check_data, config.cells):
        with pytest.raises(ConfigError, match="cannot load 'mnist'") as info:
            method()
        assert info.value.key == "data.datasets"


def test_too_few_test_points_are_rejected(tiny_grid):
    data = {**tiny_grid["data"], "train_split": "all", "test_split": "all", "n_train": ["all"]}
    config = load_config({**tiny_grid, "data": data})
    with pytest.raises(ConfigError, match="needs test points") as info:
        config.check_data()
    assert info.value.key == "data.test_split"


def test_toml_file_and_overrides(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        "[run]\nseeds = [3]\n[ntk]\nwidths = [8, 32]\n[malleability]\nepsilons = [0.05]\n"
        'adversarial = { method = "fgsm", epsilon = 0.1 }\n'
    )
    config = load_config(path, overrides={"malleability.epsilons": [0.2, 0.4]})
    assert config["run"]["seeds"] == [3]
    assert config["ntk"]["widths"] == [8, 32]
    assert config["malleability"]["epsilons"] == [0.2, 0.4]
    assert config["malleability"]["adversarial"] == {"method": "fgsm", "epsilon": 0.1, "steps": 10}
    bad = tmp_path / "bad.toml"
    bad.write_text("[ntk\nwidths = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "name", ["quick.toml", "digits.toml", "mnist-test-split.toml", "ntk_convergence.toml"]
)
def test_example_configs_are_valid(name):
    config = load_config(os.path.join(CONFIGS, name))
    assert config.to_dict() == load_config(config.to_dict()).to_dict()


def test_quick_example_is_the_quick_preset():
    from_file = [c.key for c in load_config(os.path.join(CONFIGS, "quick.toml")).cells()]
    preset = [c.key for c in load_config(quick=True).cells()]
    assert from_file == preset
    parts = {c.part for c in load_config(quick=True).cells()}
    assert {"kappa", "ntk", "malleability"} <= parts


def test_stopping_messages_name_the_value_and_the_fix():
    with pytest.raises(ConfigError, match=r"'converged'.*Did you mean 'convergence'"):
        load_config({"training": {"stopping": "converged"}})
    with pytest.raises(ConfigError, match=r'set ntk.stopping = \["fixed"\] instead'):
        load_config({"ntk": {"training": {"stopping": "fixed"}}})


def test_a_cell_keeps_only_the_epoch_count_of_its_rule():
    """Converged cells do not depend on training.epochs, fixed ones not on max_epochs; the ntk
    part has one cell per stopping rule, the other parts follow training.stopping."""
    base = {"data": {"settings": ["binary"]}, "interventions": {"enabled": False}}
    cells = load_config(base, quick=True).cells()
    ntk = [c for c in cells if c.part == "ntk"]
    mal = [c for c in cells if c.part == "malleability"]
    rules = [c.settings["stopping"] for c in ntk]
    assert rules.count("convergence") == rules.count("fixed") == len(ntk) // 2
    assert {c.settings["stopping"] for c in mal} == {"convergence"}
    for cell in ntk + mal:
        kept = "max_epochs" if cell.settings["stopping"] == "convergence" else "epochs"
        dropped = "epochs" if kept == "max_epochs" else "max_epochs"
        assert kept in cell.settings
        assert dropped not in cell.settings
    other_epochs = load_config({**base, "training": {"epochs": 7}}, quick=True).cells()
    changed = {c.key for c in cells} ^ {c.key for c in other_epochs}
    fixed_keys = {c.key for c in ntk if c.settings["stopping"] == "fixed"}
    assert changed & {c.key for c in cells} == fixed_keys
    fixed = load_config({**base, "malleability": {"training": {"stopping": "fixed"}}}, quick=True)
    assert {c.settings["stopping"] for c in fixed.cells() if c.part == "malleability"} == {"fixed"}
