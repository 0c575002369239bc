"""The loss landscape of a trained network on a 21 × 21 grid (issue #13, paper Fig. 5).

Setting: unit-norm rows, d = 784, 10 classes (cross-entropy), width m = 1 024, n = 2 000, float32,
two torch threads; the network is trained for one epoch in ``setup``. Goal: the whole grid in
≤ 60 s on 2 cores. Ours, :func:`~sklearn_attnkernel.loss_landscape`, forms the three
pre-activation matrices ``X W*ᵀ, X D₁ᵀ, X D₂ᵀ`` once per batch of rows and combines them per
grid point. The baseline is the plain way: one forward pass of the module
(:func:`torch.func.functional_call` with the moved weights) and the criterion per grid point.
"""

import numpy as np
import torch

from sklearn_attnkernel import TwoLayerReLUClassifier, loss_landscape
from sklearn_attnkernel.networks.landscape import landscape_directions

from .common import SingleRun, limit_threads, speedup, unit_rows

D = 784
N_CLASSES = 10
#: (n, width, grid points per direction)
SHAPES = {"small": (200, 128, 9), "full": (2_000, 1_024, 21)}
THREADS = 2


def plain_landscape(clf, X, y, n_points):
    """The baseline: the module's own forward pass and loss at every grid point."""
    module = clf.net_.module_
    d1, d2 = landscape_directions(clf, random_state=0)
    W = module.W.detach()
    D1, D2 = (torch.as_tensor(d["W"], dtype=W.dtype) for d in (d1, d2))
    X_t = torch.as_tensor(X, dtype=W.dtype)
    y_t = torch.as_tensor(np.searchsorted(clf.classes_, y))
    steps = np.linspace(-1.0, 1.0, n_points)
    losses = np.empty((n_points, n_points))
    with torch.no_grad():
        for i, a in enumerate(steps):
            for j, b in enumerate(steps):
                params = {"W": W + float(a) * D1 + float(b) * D2, "A": module.A}
                out = torch.func.functional_call(module, params, (X_t,))
                losses[i, j] = float(torch.nn.functional.cross_entropy(out, y_t))
    return losses


class LandscapeProblem:
    """A network trained for one epoch on random unit rows."""

    params = (list(SHAPES),)
    param_names = ("size",)

    def setup(self, size):
        self.restore = limit_threads(THREADS)
        n, width, self.n_points = SHAPES[size]
        self.X = unit_rows(n, D)
        self.y = np.random.default_rng(1).integers(0, N_CLASSES, size=n)
        self.clf = TwoLayerReLUClassifier(
            width=width, max_epochs=1, device="cpu", random_state=0
        ).fit(self.X, self.y)

    def teardown(self, size):
        self.restore()

    def ours(self):
        return loss_landscape(self.clf, self.X, self.y, n_points=self.n_points, random_state=0)

    def plain(self):
        return plain_landscape(self.clf, self.X, self.y, self.n_points)


class LossLandscape(LandscapeProblem):
    """:func:`~sklearn_attnkernel.loss_landscape`, the whole grid and its summaries."""

    def time_loss_landscape(self, size):
        self.ours()


class PlainLandscape(SingleRun, LandscapeProblem):
    """The baseline: one forward pass of the module per grid point."""

    def time_plain_landscape(self, size):
        self.plain()

    def track_speedup(self, size):
        return speedup(self.plain, self.ours, ours_repeat=1)

    track_speedup.unit = "ratio"
