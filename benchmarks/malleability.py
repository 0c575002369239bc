"""The MLP-Attn malleability computation, stage by stage and through the scorer (issue #4).

One malleability evaluation of a fitted MLP-Attn has three stages:

1. influence of every training point on the held-out set (empirical NTK, one Cholesky);
2. PGD-40 (ε = 0.3, step 0.01, pixels clipped to [0, 1]) on the top 10 % of the training
   points, attacked jointly through the attention reference set C(X′);
3. influence again with the perturbed training set (attention re-fitted on it, same network).

:class:`InfluenceMalleability` runs the same evaluation end to end; ``track_speedup`` is the sum
of the stages' times over its time (about 1: the scorer adds no work of its own). Training is in
``setup``, not timed. The full size is the recorded one: MNIST (its test split, where
:func:`load_dataset` finds it, or in ``$ATTNKERNEL_MNIST_ROOT``; skipped when absent), 2 000
training and 500 held-out images, width 1 024, 20 epochs. The small size runs on scikit-learn's
digits. Torch and BLAS run on one thread.

``FlipRate`` tracks the PGD and random-baseline flip rates of both networks on digits with the
fast settings of the recorded flip-rate table (400 training and 300 held-out images, width 512,
40 epochs, seed 0).
"""

import os

import torch  # noqa: F401  (loaded before limit_threads, so it limits torch's threads too)
from sklearn.model_selection import train_test_split

from sklearn_attnkernel import (
    InfluenceMalleability,
    attack_training_points,
    influence_scores,
    load_dataset,
    make_mlp_attn,
    make_two_layer_relu,
)
from sklearn_attnkernel.influence.metrics import top_positive

from .common import SingleRun, best_seconds, limit_threads

THREADS = 1
ATTACK = {"epsilon": 0.3, "steps": 40, "step_size": 0.01, "clip": (0.0, 1.0)}
SETTINGS = {
    "small": {"dataset": "digits", "n_train": 200, "n_test": 100, "width": 256, "epochs": 10},
    "full": {"dataset": "mnist", "n_train": 2_000, "n_test": 500, "width": 1_024, "epochs": 20},
}
#: Architecture keys of the analysis and the factories that build them.
FACTORIES = {"relu": make_two_layer_relu, "attention": make_mlp_attn}


def split(dataset, n_train, n_test, seed=0):
    """Stratified ``X_train, X_test, y_train, y_test``; raise NotImplementedError (asv: skip)
    when the dataset's files are not on this machine."""
    if dataset == "digits":
        X, y = load_dataset("digits", split="all")
    else:
        root = os.environ.get("ATTNKERNEL_MNIST_ROOT")
        try:
            X, y = load_dataset(
                dataset, root=root, split="test", n_samples=n_train + n_test, random_state=0
            )
        except FileNotFoundError as exc:
            raise NotImplementedError(f"no {dataset} files here: {exc}") from exc
    return train_test_split(
        X, y, train_size=n_train, test_size=n_test, stratify=y, random_state=seed
    )


class MalleabilityStages(SingleRun):
    """The three stages of one evaluation, and the scorer end to end."""

    params = (list(SETTINGS),)
    param_names = ("size",)

    def setup(self, size):
        self.restore = limit_threads(THREADS)
        s = SETTINGS[size]
        self.X, self.X_test, self.y, self.y_test = split(s["dataset"], s["n_train"], s["n_test"])
        self.model = make_mlp_attn(
            width=s["width"], lr=1e-2, max_epochs=s["epochs"], device="cpu", random_state=0
        ).fit(self.X, self.y)
        self.top = top_positive(self.influence_clean(), 0.1)
        self.X_adv = self.attack()

    def teardown(self, size):
        self.restore()

    def influence_clean(self):
        return influence_scores(
            self.model, self.X_test, self.y_test, X_train=self.X, y_train=self.y
        )

    def attack(self):
        return attack_training_points(
            self.model, self.X, self.y, self.top, method="pgd", random_state=0, **ATTACK
        )

    def influence_perturbed(self):
        return influence_scores(
            self.model, self.X_test, self.y_test, X_train=self.X_adv, y_train=self.y
        )

    def scorer(self):
        return InfluenceMalleability(**ATTACK, random_state=0)(self.model, self.X_test, self.y_test)

    def time_influence_clean(self, size):
        self.influence_clean()

    def time_pgd_attack(self, size):
        self.attack()

    def time_influence_perturbed(self, size):
        self.influence_perturbed()

    def time_scorer(self, size):
        self.scorer()

    def track_speedup(self, size):
        stages = (self.influence_clean, self.attack, self.influence_perturbed)
        return sum(best_seconds(stage, 1) for stage in stages) / best_seconds(self.scorer, 1)

    track_speedup.unit = "ratio"


class FlipRate:
    """Flip rate of the top-10 % influence ranking under an ε = 0.3 attack on digits."""

    params = (["small"], list(FACTORIES), ["pgd", "random"])
    param_names = ("size", "architecture", "attack")
    timeout = 300.0

    def setup(self, size, architecture, attack):
        self.restore = limit_threads(THREADS)
        self.X, self.X_test, self.y, self.y_test = split("digits", 400, 300)
        self.model = FACTORIES[architecture](
            width=512, lr=1e-2, reg_lambda=0.0, max_epochs=40, device="cpu", random_state=0
        ).fit(self.X, self.y)

    def teardown(self, size, architecture, attack):
        self.restore()

    def track_flip_rate(self, size, architecture, attack):
        scorer = InfluenceMalleability(attack=attack, random_state=0, **ATTACK)
        return -scorer(self.model, self.X_test, self.y_test)

    track_flip_rate.unit = "fraction"
