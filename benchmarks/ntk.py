"""Empirical NTK of the two-layer ReLU network: closed form against torch.func (issue #3).

Three ways to compute the same ``n × n`` float64 NTK ``Θ = (X Xᵀ) ⊙ (S Sᵀ) / m``:

* :func:`empirical_ntk` with ``method="analytic"`` (torch, blocked rows): the closed form,
  O(n² (d + m)) flops, memory O(n² + n m);
* the same closed form in four lines of numpy, all at once;
* :func:`empirical_ntk` with ``method="jacobian"``: per-sample Jacobians from ``torch.func``
  (``functional_call`` + ``vmap`` + ``jacrev``) contracted block by block, O(n² m d) flops; the
  full Jacobian would be n m d floats (5.98 GiB at the full size), built in row blocks.

Goal: ≥ 200× at n = 1 000, d = 784, m = 1 024. Torch and BLAS run on 2 threads.
"""

import numpy as np
import torch

from sklearn_attnkernel import TwoLayerReLU, empirical_ntk

from .common import SingleRun, limit_threads, speedup, unit_rows

#: (n, d, m); the Jacobian and numpy paths are not run at "large".
SHAPES = {"small": (100, 784, 256), "full": (1_000, 784, 1_024), "large": (10_000, 784, 4_096)}
THREADS = 2


def numpy_closed_form(X, W):
    """The closed form ``(X Xᵀ) ⊙ (S Sᵀ) / m`` in numpy, plain GEMMs (no SYRK, see attention)."""
    S = (X @ W.T > 0).astype(np.float64)
    gram = X @ np.ascontiguousarray(X.T)
    return gram * (S @ np.ascontiguousarray(S.T)) / W.shape[0]


class NetworkProblem:
    """Setup shared by the three paths: unit-norm rows and a float64 network with known W."""

    params = (list(SHAPES),)
    param_names = ("size",)

    def setup(self, size):
        self.restore = limit_threads(THREADS)
        n, d, m = SHAPES[size]
        self.X = unit_rows(n, d)
        self.W = np.random.default_rng(1).normal(size=(m, d))
        self.net = TwoLayerReLU(d, m).double()
        with torch.no_grad():
            self.net.W.copy_(torch.from_numpy(self.W))
        # the first torch.func call traces the model (~0.7 s): keep it out of the timings
        for method in ("analytic", "jacobian"):
            empirical_ntk(self.net, self.X[:2], method=method)

    def teardown(self, size):
        self.restore()

    def analytic(self):
        return empirical_ntk(self.net, self.X, method="analytic")

    def jacobian(self):
        return empirical_ntk(self.net, self.X, method="jacobian")


class AnalyticNTK(NetworkProblem):
    """``empirical_ntk(net, X, method="analytic")``."""

    timeout = 300.0

    def time_empirical_ntk(self, size):
        self.analytic()

    def peakmem_empirical_ntk(self, size):
        self.analytic()


class NumpyClosedFormNTK(NetworkProblem):
    """The closed form in plain numpy, for comparison with the torch one."""

    params = (["small", "full"],)

    def time_closed_form(self, size):
        numpy_closed_form(self.X, self.W)

    def peakmem_closed_form(self, size):
        numpy_closed_form(self.X, self.W)


class JacobianNTK(NetworkProblem, SingleRun):
    """The ``torch.func`` Jacobian baseline, and the analytic path's speed-up over it."""

    params = (["small", "full"],)

    def time_jacobian(self, size):
        self.jacobian()

    def peakmem_jacobian(self, size):
        self.jacobian()

    def track_speedup(self, size):
        return speedup(self.jacobian, self.analytic)

    track_speedup.unit = "ratio"
