"""Hand-made tidy result rows for the report's tests (shared by fixtures and test modules)."""

import pandas as pd


def malleability_rows(flips, seeds=(0, 1, 2), dataset="mnist", setting="multiclass"):
    """Tidy malleability rows: ``flips[(architecture, attack)]`` or
    ``flips[(architecture, attack, ε)]`` = per-seed flip rates, at n = 1000, width 1024 and
    pixel ε (0.3 where the key names none)."""
    rows = [
        {
            "part": "malleability",
            "dataset": dataset,
            "setting": setting,
            "n_train": 1000,
            "width": 1024,
            "epsilon_space": "pixel",
            "epsilon": key[2] if len(key) > 2 else 0.3,
            "adversarial_training": False,
            "architecture": key[0],
            "attack": key[1],
            "seed": seed,
            "metric": "flip_rate",
            "value": value,
        }
        for key, values in flips.items()
        for seed, value in zip(seeds, values, strict=True)
    ]
    frame = pd.DataFrame(rows)
    frame["adversarial_training"] = frame["adversarial_training"].astype("boolean")
    return frame
