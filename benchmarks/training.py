"""One training epoch of :class:`TwoLayerReLUClassifier` on the CPU (issue #3).

Setting: unit-norm rows, d = 784, 10 classes, batch 128, float32, Adam (the paper's defaults),
one torch thread (the CI machines have two shared cores); full size n = 10 000, m = 4 096. The
estimator turns X and y into tensors once per fit and every batch is one index gather, so no
epoch copies the data. The baseline is a plain skorch ``NeuralNet`` fed the numpy array (skorch's
defaults: per-sample ``__getitem__``, collation of 128 rows, numpy → tensor per batch), without
the ‖θ − θ₀‖² penalty; the speed-up compares epoch durations from skorch's ``EpochTimer``.
"""

import numpy as np
import torch
from skorch import NeuralNet

from sklearn_attnkernel import TwoLayerReLU, TwoLayerReLUClassifier

from .common import limit_threads, unit_rows

D = 784
N_CLASSES = 10
BATCH_SIZE = 128
#: (n, width)
SHAPES = {"small": (1_000, 256), "full": (10_000, 4_096)}
THREADS = 1


def classifier(width, reg_lambda, max_epochs):
    """The package's network with the paper's defaults, on the CPU."""
    return TwoLayerReLUClassifier(
        width=width,
        max_epochs=max_epochs,
        batch_size=BATCH_SIZE,
        reg_lambda=reg_lambda,
        device="cpu",
        random_state=0,
    )


def plain_skorch(width, max_epochs):
    """The baseline: skorch's ``NeuralNet`` around the same module, default data loading."""
    torch.manual_seed(0)
    return NeuralNet(
        TwoLayerReLU,
        module__n_features=D,
        module__width=width,
        module__n_outputs=N_CLASSES,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=BATCH_SIZE,
        max_epochs=max_epochs,
        train_split=None,
        iterator_train__shuffle=True,
        device="cpu",
        verbose=0,
    )


class ClassificationProblem:
    """Setup shared by the package's network and the baseline."""

    def setup(self, size, *args):
        self.restore = limit_threads(THREADS)
        n, self.width = SHAPES[size]
        self.X = unit_rows(n, D)
        self.y = np.random.default_rng(1).integers(0, N_CLASSES, size=n)

    def teardown(self, size, *args):
        self.restore()


class TrainingEpoch(ClassificationProblem):
    """``fit`` for one epoch (with the model's initialisation and the tensor conversion)."""

    params = (list(SHAPES), [1e-3, 0.0])
    param_names = ("size", "reg_lambda")

    def time_fit_one_epoch(self, size, reg_lambda):
        classifier(self.width, reg_lambda, max_epochs=1).fit(self.X, self.y)


class PlainSkorchEpoch(ClassificationProblem):
    """The plain skorch baseline, and the speed-up of an epoch without the penalty over it."""

    params = (list(SHAPES),)
    param_names = ("size",)
    timeout = 300.0

    def time_fit_one_epoch(self, size):
        plain_skorch(self.width, max_epochs=1).fit(self.X.astype(np.float32), self.y)

    def track_speedup(self, size):
        ours = classifier(self.width, reg_lambda=0.0, max_epochs=2).fit(self.X, self.y)
        baseline = plain_skorch(self.width, max_epochs=2).fit(self.X.astype(np.float32), self.y)
        return min(baseline.history[:, "dur"]) / min(ours.history_[:, "dur"])

    track_speedup.unit = "ratio"
