"""The default grid (the digits analysis) and the ``--quick`` preset of the experiment config.

:mod:`.config` validates a config merged over :data:`DEFAULT_CONFIG`; the meaning of each key is
in :class:`~sklearn_attnkernel.analysis.config.ExperimentConfig`.
"""

from .._utils.vocabulary import ARCHITECTURES, ATTACKS, PAPER_EPSILON, PRACTICAL_WIDTH, TRANSFORMS

__all__ = ["DEFAULT_CONFIG", "NTK_METRICS", "QUICK_OVERRIDES", "STAGES", "STOPPING"]

#: Stages at which the ntk part measures the NTK distance.
STAGES = ("init", "trained")
#: The NTK distances of the ntk part (Table 1).
NTK_METRICS = ("frobenius", "cosine", "function")
#: How a network's training ends: at convergence of its training loss (capped by max_epochs),
#: or after exactly ``epochs`` epochs.
STOPPING = ("convergence", "fixed")

#: The attack on training points of the complexity, examples and audit parts: PGD at the paper's
#: ε = 0.3 (pixel units), 40 steps of 0.01 (ours), clipped to [0, 1], the points attacked jointly.
_ATTACK = {
    "attack": "pgd",
    "epsilon": PAPER_EPSILON,
    "epsilon_space": "pixel",
    "steps": 40,
    "step_size": 0.01,
    "clip": True,
    "mode": "joint",
}

#: The default grid (the digits analysis). Every value is ours unless the paper (arXiv 2603.13085)
#: gives it; see :class:`ExperimentConfig` for the meaning of each key.
DEFAULT_CONFIG = {
    "run": {
        "name": None,
        "seeds": [0, 1, 2, 3, 4],
        "device": "cpu",
        "dtype": "float32",
        "threads": 1,
    },
    "data": {
        "datasets": ["digits"],
        "settings": ["multiclass", "binary"],
        "root": None,
        "train_split": "train",
        "test_split": "test",
        "n_train": [300, 1000, 2000],
        "n_test": 300,
    },
    "training": {
        "stopping": "convergence",
        "max_epochs": 500,
        "tol": 1e-3,
        "n_iter_no_change": 10,
        "epochs": 100,
        "lr": 1e-2,
        "batch_size": 128,
        "reg_lambda": 0.0,
        "sigma_w": 1.0,
    },
    "kappa": {
        "enabled": True,
        "n_train": ["all"],
        "rank": "numerical",
        "ranks": [],
        "practical_width": PRACTICAL_WIDTH,
    },
    "collapse": {
        "enabled": True,
        "n_train": ["all"],
        "transforms": list(TRANSFORMS),
        "max_rows": 1000,
    },
    "ntk": {
        "enabled": True,
        "n_train": [500],
        "architectures": list(ARCHITECTURES),
        "widths": [16, 64, 256, 1024, 4096],
        "stages": list(STAGES),
        "metrics": list(NTK_METRICS),
        "stopping": list(STOPPING),
        "loss": "cross_entropy",
        "alpha": 1e-3,
        "n_eval": 200,
    },
    "malleability": {
        "enabled": True,
        "architectures": ["relu", "attention"],
        "widths": [1024],
        "attacks": list(ATTACKS),
        "epsilons": [0.01, 0.03, 0.05, 0.1, 0.2, 0.3],
        "epsilon_space": "pixel",
        "top_fraction": 0.1,
        "steps": 40,
        "step_size": 0.01,
        "clip": True,
        "mode": "joint",
        "kernel": "empirical",
        "alpha": 1e-3,
        "loss": "squared",
        "adversarial_training": [False, True],
        "adversarial": {"method": "pgd", "epsilon": 0.3, "steps": 10},
        "backend": "numpy",
        "chunk_size": None,
    },
    "interventions": {
        "enabled": True,
        "n_train": [1000],
        "architectures": ["relu", "attention"],
        "widths": [1024],
        "kinds": ["curated", "transformed"],
        "attack": "pgd",
        "epsilon": 0.3,
        "steps": 40,
        "step_size": 0.01,
        "clip": True,
        "top_fraction": 0.1,
        "record_epochs": [1, 10, 100],
    },
    "complexity": {
        "enabled": True,
        "n_train": [1000],
        "architectures": ["relu", "attention"],
        "width": 1024,
        "kernels": ["empirical", "infinite"],
        "n_groups": 10,
        "alpha": 1e-3,
        "loss": "squared",
        **_ATTACK,
    },
    "examples": {
        "enabled": True,
        "seeds": [0, 1, 2],
        "n_train": [1000],
        "architectures": ["relu", "attention"],
        "width": 1024,
        "n_test_points": 4,
        "k": 5,
        **_ATTACK,
        "top_fraction": 0.1,
        "kernel": "empirical",
        "alpha": 1e-3,
        "loss": "squared",
    },
    "landscape": {
        "enabled": False,
        "n_train": [2000],
        "architectures": ["relu", "attention"],
        "width": 1024,
        "n_points": 21,
        "span": 1.0,
        "rise": 0.1,
    },
    # Off by default: a network trains n_retrain + 1 times and every method is scored
    # 1 + 3 + 5 times clean and twice that per ε; the seven methods on digits at one ε
    # (n = 300, 5 seeds, 2 settings, both architectures: 20 networks of 140-455 s measured)
    # take 1-2.5 h on one core; each further ε adds the attacks and rescoring. The explicit
    # Hessian of "if-explicit" has (width · d)² entries: keep the width small. Full batches
    # (batch_size ≥ n_train) and fixed epochs, so that a retrain without one point differs
    # from the base training by that point, not by a reshuffle of every later mini-batch
    # (docs/audit.rst).
    "audit": {
        "enabled": False,
        "n_train": [300],
        "architectures": ["relu", "attention"],
        "width": 64,
        "methods": ["exact", "trak", "ekfac", "datainf", "arnoldi", "tracin", "if-explicit"],
        "checkpoints": [1, 3, 5],
        "top_fraction": 0.1,
        "top_fractions": [0.01, 0.05, 0.1, 0.2],
        "n_retrain": 50,
        # the ε curve of each method; the table and verdict read it at the paper's ε = 0.3
        **{key: value for key, value in _ATTACK.items() if key != "epsilon"},
        "epsilons": [0.03, 0.1, PAPER_EPSILON],
        "kernel": "empirical",
        "alpha": 1e-3,
        "loss": "squared",
        "training": {"stopping": "fixed", "epochs": 100, "lr": 0.1, "batch_size": 2048},
    },
}

#: What ``--quick`` changes in :data:`DEFAULT_CONFIG`: digits, κ + collapse + NTK vs width +
#: malleability, without adversarial training and interventions (the costly parts), n = 500
#: (300 for the NTK part), 3 ε values and one training-set size for malleability; complexity
#: by influence group on one seed (n = 200, width 256); the example grid on 2 test points of
#: one seed (10-class, n = 300, width 1024); a 9 × 9 loss landscape on one seed and n = 300.
#: Training to convergence is capped at 100 epochs (not the paper's 500) with a loose tolerance
#: (tol = 0.01 over 5 epochs), and the fixed-epoch control of the NTK part trains 60 epochs: the
#: quick run shows the comparison, not converged networks in the paper's sense. The influence
#: audit runs exact, TRAK and DataInf on one seed (10-class, n = 100, width 32, 60 fixed epochs
#: at lr = 0.1, 20 retrains, the default ε curve; without dattri: exact only, with a note). Runs
#: in a few minutes on 2 CPU cores.
QUICK_OVERRIDES = {
    "run": {"name": "quick", "seeds": [0, 1, 2]},
    "data": {
        "datasets": ["digits"],
        "settings": ["multiclass", "binary"],
        "n_train": [500],
        "n_test": 200,
    },
    "training": {"epochs": 60, "max_epochs": 100, "tol": 1e-2, "n_iter_no_change": 5},
    "ntk": {"n_train": [300], "n_eval": 100},
    "malleability": {
        "widths": [1024],
        "epsilons": [0.03, 0.1, 0.3],
        "adversarial_training": [False],
    },
    "interventions": {"enabled": False},
    "complexity": {"seeds": [0], "n_train": [200], "width": 256},
    "examples": {
        "seeds": [0],
        "settings": ["multiclass"],
        "n_train": [300],
        "width": 1024,
        "n_test_points": 2,
    },
    "landscape": {"enabled": True, "seeds": [0], "n_train": [300], "n_points": 9},
    "audit": {
        "enabled": True,
        "seeds": [0],
        "settings": ["multiclass"],
        "n_train": [100],
        "width": 32,
        "methods": ["exact", "trak", "datainf"],
        "checkpoints": [1, 3],
        "top_fractions": [0.05, 0.1, 0.2],
        "n_retrain": 20,
        "steps": 10,
        "training": {"stopping": "fixed", "epochs": 60, "lr": 0.1},
    },
}
