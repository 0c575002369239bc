"""Hand-made tidy result rows for the report's tests (shared by fixtures and test modules)."""

import numpy as np
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


def ntk_rows(slopes, stopping, seeds=(0, 1, 2), training=None, epochs=60, max_epochs=100):
    """Tidy ntk rows of one stopping rule: a trained cosine distance per architecture, seed
    and width (16 … 1024) whose per-seed log-log slope is ``slopes[architecture]`` − 0.02,
    + 0, + 0.02 over the seeds (their mean is the slope), at digits, multiclass, n = 300.

    ``training[(architecture, seed)]`` = ``(epochs_used, converged)`` adds the fit rows of
    every width of that network (converged None: NaN, as for fixed epochs)."""
    settings = {"stopping": stopping}
    settings |= {"max_epochs": max_epochs} if stopping == "convergence" else {"epochs": epochs}
    rows = []
    for arch, slope in slopes.items():
        for seed in seeds:
            for width in (16, 64, 256, 1024):
                base = {
                    "part": "ntk",
                    "dataset": "digits",
                    "setting": "multiclass",
                    "n_train": 300,
                    "architecture": arch,
                    "width": width,
                    "seed": seed,
                    "stage": "trained",
                    "loss": "cross_entropy",
                    **settings,
                }
                value = 10 ** ((slope + 0.02 * (seed - 1)) * np.log10(width) - 1 + 0.1 * seed)
                rows.append({**base, "metric": "cosine", "value": value})
                used, converged = (training or {}).get((arch, seed), (None, None))
                if used is not None:
                    rows.append({**base, "metric": "epochs_used", "value": float(used)})
                    flag = np.nan if converged is None else float(converged)
                    rows.append({**base, "metric": "converged", "value": flag})
    return pd.DataFrame(rows)


# complexity part (issue #13): shares of ‖f‖²_H by influence group
U = np.array([0.30, 0.10, 0.06, 0.04, 0.02, 0.02, 0.04, 0.06, 0.08, 0.28])  # sums to 1
FALLING = np.linspace(0.19, 0.01, 10)  # sums to 1, no U


def complexity_rows(shares, flips, seeds=(0, 1, 2), kernel="infinite", architecture="relu"):
    """Tidy complexity rows: per seed ``shares[s]`` and ``flips[s]`` by group (groups 1..G),
    as ``load_results`` gives them (``group`` a string column)."""
    rows = []
    for s, seed in enumerate(seeds):
        for metric, values in (("contribution_share", shares[s]), ("flip_rate", flips[s])):
            rows += [
                {
                    "part": "complexity",
                    "dataset": "digits",
                    "setting": "multiclass",
                    "n_train": 500,
                    "width": 256,
                    "kernel": kernel,
                    "architecture": architecture,
                    "attack": "pgd",
                    "epsilon": 0.3,
                    "seed": seed,
                    "metric": metric,
                    "group": str(g),
                    "value": float(v),
                }
                for g, v in enumerate(values, start=1)
            ]
    return pd.DataFrame(rows)


def jitter(base, seeds=3, scale=0.01):
    rng = np.random.default_rng(0)
    return [base + scale * rng.standard_normal(base.size) for _ in range(seeds)]


def audit_rows(values, seeds=(0, 1, 2), n_checkpoints=(1, 3), epsilon=0.3):
    """Tidy audit rows: ``values[(architecture, method)]`` = dict with per-seed lists
    ``agreement``, ``attack`` and ``random`` (flip rates at T = 1) and, optionally,
    ``ensemble`` (flip rate under the attack at the largest T), on digits binary, n = 100,
    width 32, at ``epsilon``; the bootstrap interval of each ρ is ρ ± 0.1."""
    rows = []
    base = {"part": "audit", "dataset": "digits", "setting": "binary", "n_train": 100}
    base["epsilon"] = epsilon
    for (architecture, method), by in values.items():
        for i, seed in enumerate(seeds):
            where = {**base, "width": 32, "architecture": architecture, "method": method}
            where["seed"] = seed
            rho = by["agreement"][i]
            for metric, value in (("agreement", rho), ("agreement_low", rho - 0.1)):
                rows.append({**where, "metric": metric, "n_checkpoints": "1", "value": value})
            rows.append(
                {**where, "metric": "agreement_high", "n_checkpoints": "1", "value": rho + 0.1}
            )
            for attack in ("attack", "random"):
                name = "pgd" if attack == "attack" else "random"
                flip = {"metric": "flip_rate", "attack": name, "n_checkpoints": "1"}
                rows.append({**where, **flip, "value": by[attack][i]})
            if "ensemble" in by:
                flip = {"metric": "flip_rate", "attack": "pgd"}
                flip["n_checkpoints"] = str(max(n_checkpoints))
                rows.append({**where, **flip, "value": by["ensemble"][i]})
    return pd.DataFrame(rows)
