"""Influence methods practitioners use, through dattri, on a fitted network (arXiv 2603.13085, §6).

The paper's practical point (its "Practical implications" and Appendix A.12) is about the data
attribution tools people run on attention models. This module runs six of them, as implemented
by the `dattri <https://github.com/TRAIS-Lab/dattri>`_ library (0.3.x, the optional ``[audit]``
extra), on the network of a fitted estimator, so that their scores can be set beside the exact
NTK influence of :func:`~sklearn_attnkernel.loo_influence`:

- ``"if-explicit"`` (``IFAttributorExplicit``): ``g_x ᵀ (H + r I)⁻¹ g_i / n``, ``H`` the exact
  Hessian;
- ``"arnoldi"`` (``IFAttributorArnoldi``): the same with ``H`` restricted to its top
  ``proj_dim`` eigenpairs, found by Arnoldi iteration (in float64, of which only the positive
  pairs are kept: :mod:`._arnoldi`; dattri 0.3's float32 iteration returned NaN scores here);
- ``"ekfac"`` (``IFAttributorEKFAC``): the same with the eigenvalue-corrected Kronecker-factored
  Fisher in place of ``H``. Numerically fragile on these networks: its float32 covariances have
  repeated (zero) eigenvalues, and a one-ulp change of the network's outputs rotates their
  eigenbasis and moves the scores by ~10 % (measured; damp it with ``damping``);
- ``"datainf"`` (``IFAttributorDataInf``): the same with DataInf's closed-form inverse of the
  per-layer damped empirical Fisher;
- ``"trak"`` (``TRAKAttributor``): ``φ_x ᵀ (Φᵀ Φ + r I)⁻¹ φ_i · (1 − p_i)``, ``φ`` the randomly
  projected gradients, ``p_i = exp(−ℓ_i)``;
- ``"tracin"`` (``TracInAttributor``): ``η · φ_x ᵀ φ_i`` (one checkpoint, the training learning
  rate ``η``).

Here ``ℓ`` is the network's own **training criterion** (cross-entropy for several classes, the
squared error on ±1 targets or the logistic loss for two, the squared error for a regressor),
``g_i = ∇_θ ℓ(f_θ(x_i), y_i)`` and ``g_x = ∇_θ ℓ(f_θ(x), y)`` its gradients at the trained
weights ``θ``, and ``H`` the Hessian of the mean training loss ``(1/n) Σ_j ℓ_j``. The four
influence-function methods are divided by ``n``: ``g_x ᵀ H⁻¹ g_i / n`` is the first-order
estimate of ``ℓ(f_{θ_{−i}}(x), y) − ℓ(f_θ(x), y)``, the change in the test loss when point ``i``
is removed and the network retrained: the same quantity, with the same sign (**positive =
helpful**), as the exact leave-one-out influence. dattri's scores already have that sign
(its inner products are ``+g_x ᵀ H⁻¹ g_i``); no sign flip is applied, and
``tests/influence/test_attribution.py`` checks ``"if-explicit"`` against ``+g_x ᵀ (H + r I)⁻¹
g_i / n`` computed with an explicit Hessian in numpy. TRAK and TracIn keep dattri's scale.

The network is rebuilt as a float32 CPU torch module with the trained weights (dattri works in
float32): its first layer an :class:`torch.nn.Linear` without bias (EK-FAC needs linear layers),
its readout a fixed buffer or, with ``train_readout=True``, a second linear layer.

dattri is imported only when one of these methods is called: ``import sklearn_attnkernel`` and
the numpy-only parts never import it.
"""

import logging
import math

import numpy as np
import psutil
import torch
from torch import nn

from .._utils.memory import check_allocation
from .attribution_params import DAMPING, INFLUENCE_FUNCTIONS, check_method_params

__all__ = ["AttributionNet", "attribution_scores"]

logger = logging.getLogger(__name__)

# Per-sample gradients held at once, in float32 entries (128 MiB).
_BATCH_ELEMENTS = 2**25


class AttributionNet(nn.Module):
    """The trained two-layer ReLU network ``relu(x Wᵀ) A / √m`` with a linear first layer.

    ``hidden`` is an :class:`~torch.nn.Linear` without bias holding ``W``; the readout ``A`` is
    the buffer ``A`` (fixed readout) or the linear layer ``readout`` holding ``Aᵀ``
    (``train_readout=True``). Same outputs as the estimator's module, in float32 on the CPU.
    """

    def __init__(self, W, A, train_readout):
        super().__init__()
        width, n_features = W.shape
        self.scale = 1.0 / math.sqrt(width)
        self.hidden = nn.Linear(n_features, width, bias=False)
        self.readout = nn.Linear(width, A.shape[1], bias=False) if train_readout else None
        if train_readout:
            self.register_buffer("A", None)
        else:
            self.register_buffer("A", torch.zeros(width, A.shape[1]))
        self.load_weights(W, A)

    def load_weights(self, W, A):
        """Copy the estimator module's ``W`` (width × d) and ``A`` (width × C) into this net."""
        with torch.no_grad():
            self.hidden.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
            if self.readout is None:
                self.A.copy_(torch.as_tensor(A, dtype=torch.float32))
            else:
                self.readout.weight.copy_(torch.as_tensor(A, dtype=torch.float32).T)

    def forward(self, X):
        """Network outputs of shape (n_samples, n_outputs)."""
        H = torch.relu(self.hidden(X))
        out = H @ self.A if self.readout is None else self.readout(H)
        return out * self.scale


def criterion_kind(network):
    """``"cross_entropy"``, ``"logistic"`` or ``"squared"``: the network's training criterion."""
    criterion = network.net_.criterion_
    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        return "cross_entropy"
    if isinstance(criterion, torch.nn.BCEWithLogitsLoss):
        return "logistic"
    return "squared"


def criterion_targets(network, y):
    """The targets of the training criterion for labels ``y``, as a torch tensor.

    Class indices (cross-entropy), ``{0, 1}`` (logistic) or the encoded targets (squared).
    """
    encoded = network.encode_targets(y)
    kind = criterion_kind(network)
    if kind == "cross_entropy":
        return torch.as_tensor(encoded.argmax(axis=1), dtype=torch.long)
    if kind == "logistic":
        return torch.as_tensor((encoded + 1.0) / 2.0, dtype=torch.float32)
    return torch.as_tensor(encoded, dtype=torch.float32)


def make_loss(model, kind):
    """``loss(params, (x, t))``: the mean training criterion of ``model`` with ``params``.

    ``x`` is a batch ``(b, d)`` or a single row ``(d,)`` (dattri's per-sample gradients vmap
    over rows); the result is the mean over the rows, as the network was trained.
    """

    def loss(params, data):
        x, t = data
        if x.ndim == 1:
            x, t = x.unsqueeze(0), t.unsqueeze(0)
        out = torch.func.functional_call(model, params, (x,))
        if kind == "cross_entropy":
            return nn.functional.cross_entropy(out, t)
        if kind == "logistic":
            return nn.functional.binary_cross_entropy_with_logits(out, t)
        return nn.functional.mse_loss(out, t)

    return loss


def attribution_net(network, checkpoint=None):
    """:class:`AttributionNet` with the trained weights of ``network`` or a ``checkpoint``.

    ``checkpoint`` is a ``state_dict`` of the network's module (``"W"``, ``"A"``), e.g. from
    :class:`~sklearn_attnkernel.networks.callbacks.RecordCheckpoints`; its shapes must be the
    network's.
    """
    module = network.net_.module_
    W, A = module.W.detach().cpu(), module.A.detach().cpu()
    if checkpoint is not None:
        shapes = {name: tuple(np.shape(value)) for name, value in checkpoint.items()}
        if shapes.get("W") != tuple(W.shape) or shapes.get("A") != tuple(A.shape):
            raise ValueError(
                f"method_params['checkpoints'] holds a checkpoint with shapes {shapes}, but the "
                f"network has W {tuple(W.shape)} and A {tuple(A.shape)}; pass checkpoints "
                "recorded while training this network (RecordCheckpoints)."
            )
        W, A = torch.as_tensor(checkpoint["W"]), torch.as_tensor(checkpoint["A"])
    return AttributionNet(W, A, bool(module.train_readout))


def _loaders(F_train, T_train, F_test, T_test, n_params):
    from torch.utils.data import DataLoader, TensorDataset

    train = TensorDataset(torch.as_tensor(F_train, dtype=torch.float32), T_train)
    test = TensorDataset(torch.as_tensor(F_test, dtype=torch.float32), T_test)
    rows = max(1, _BATCH_ELEMENTS // n_params)
    full = DataLoader(train, batch_size=len(train), shuffle=False)
    return (
        full,
        DataLoader(train, batch_size=min(rows, len(train)), shuffle=False),
        DataLoader(test, batch_size=min(rows, len(test)), shuffle=False),
    )


def _projector(params):
    return {
        "proj_dim": int(params["proj_dim"]),
        "proj_max_batch_size": 32,
        "proj_seed": int(params["proj_seed"]),
        "proj_type": params["proj_type"],
        "device": "cpu",
    }


def _attributor(method, task, params, loss, network):
    """The dattri attributor of ``method`` with ``params`` (dattri imported here only)."""
    from dattri import algorithm

    if method == "if-explicit":
        return algorithm.IFAttributorExplicit(task, regularization=params["regularization"])
    params = {key: value for key, value in params.items() if key != "checkpoints"}
    if method == "arnoldi":
        from ._arnoldi import StableArnoldi

        return StableArnoldi(task, **params)
    if method == "ekfac":
        return algorithm.IFAttributorEKFAC(task, damping=params["damping"])
    if method == "datainf":
        return algorithm.IFAttributorDataInf(task, **params)
    if method == "trak":
        attributor = algorithm.TRAKAttributor(
            task,
            lambda p, data: torch.exp(-loss(p, data)),
            regularization=params["regularization"],
        )
    else:
        lr = params["learning_rate"]
        attributor = algorithm.TracInAttributor(
            task,
            weight_list=torch.tensor([float(network.lr if lr is None else lr)]),
            normalized_grad=bool(params["normalized_grad"]),
        )
    # dattri 0.3 updates its module-level default projector dict in place with the settings it
    # is given; handing the attributor a dict of its own leaves dattri's defaults untouched.
    attributor.projector_kwargs = _projector(params)
    return attributor


def _run(method, attributor, full, train, test):
    if method == "tracin":
        return attributor.attribute(train, test)
    attributor.cache(full)
    if method == "trak":
        return attributor.attribute(test)
    return attributor.attribute(train, test)


def _check_memory(method, params, n_params):
    """Refuse, before dattri starts, the parameter-sized matrices that do not fit in memory:
    the explicit Hessian of ``"if-explicit"`` (``p × p`` float32, with its inverse and one
    temporary) and the float64 Krylov basis of ``"arnoldi"`` (``max_iter × p``)."""
    available = psutil.virtual_memory().available
    if method == "if-explicit":
        check_allocation(
            3 * n_params**2 * 4,
            available,
            what=f"method='if-explicit' on {n_params} parameters (its explicit Hessian, p × p)",
            way_out="use a smaller network (width) or method='arnoldi', 'ekfac' or 'datainf'",
        )
    elif method == "arnoldi":
        k = min(int(params["max_iter"]), n_params)
        check_allocation(
            2 * k * n_params * 8,
            available,
            what=f"method='arnoldi' with max_iter={k} on {n_params} parameters (its Krylov basis)",
            way_out="lower method_params['max_iter']",
        )


def _scores_at(network, checkpoint, F_train, F_test, targets, method, params, k=0):
    """Scores of ``method`` for the network with the weights of checkpoint number ``k``.

    Each checkpoint gets its own random projection, seeded as dattri seeds the projection of
    its ``k``-th ensemble member (``proj_seed + 10⁵ k``).
    """
    if "proj_seed" in params:
        params = {**params, "proj_seed": params["proj_seed"] + 100_000 * k}
    from dattri.task import AttributionTask

    model = attribution_net(network, checkpoint)
    loss = make_loss(model, criterion_kind(network))
    n_params = sum(p.numel() for p in model.parameters())
    _check_memory(method, params, n_params)
    full, train, test = _loaders(F_train, targets[0], F_test, targets[1], n_params)
    task = AttributionTask(loss_func=loss, model=model, checkpoints=model.state_dict())
    attributor = _attributor(method, task, params, loss, network)
    try:
        scores = _run(method, attributor, full, train, test)
    except torch.linalg.LinAlgError as exc:
        raise ValueError(_not_finite_message(method, params)) from exc
    scores = scores.detach().cpu().numpy().astype(np.float64).T
    if method in INFLUENCE_FUNCTIONS:
        scores /= F_train.shape[0]
    if not np.all(np.isfinite(scores)):
        raise ValueError(_not_finite_message(method, params))
    return scores


def attribution_scores(network, F_train, y_train, F_test, y_test, *, method, method_params=None):
    """Scores of ``method`` (dattri) for every (test, train) pair, positive = helpful.

    Parameters
    ----------
    network : estimator instance
        The fitted :class:`~sklearn_attnkernel.TwoLayerReLUClassifier` or
        :class:`~sklearn_attnkernel.TwoLayerReLURegressor` (a pipeline's last step).
    F_train, F_test : ndarray of shape (n_train, n_features), (n_test, n_features)
        The network's input features of the training and test rows.
    y_train, y_test : array-like of shape (n_train,), (n_test,)
        Their labels or targets, as the estimator takes them.
    method : str
        One of :data:`ATTRIBUTION_METHODS`.
    method_params : dict or None
        The method's settings (:func:`check_method_params`).

    Returns
    -------
    scores : ndarray of shape (n_test, n_train)
        float64. See the module docstring for what each method computes. With
        ``method_params["checkpoints"]``, the mean of the scores computed at each checkpoint's
        weights (checkpoint ensembling), each with its own random projection (TRAK, TracIn).
    """
    params = check_method_params(method, method_params)
    targets = criterion_targets(network, y_train), criterion_targets(network, y_test)
    checkpoints = params["checkpoints"] or [None]
    scores = np.mean(
        [
            _scores_at(network, checkpoint, F_train, F_test, targets, method, params, k)
            for k, checkpoint in enumerate(checkpoints)
        ],
        axis=0,
    )
    logger.info(
        "attribution_scores: %s on %d train x %d test points, %d checkpoint(s)",
        method,
        F_train.shape[0],
        F_test.shape[0],
        len(checkpoints),
    )
    return scores


def _not_finite_message(method, params):
    key = DAMPING.get(method)
    fix = (
        f"raise method_params[{key!r}] (now {params[key]!r}): the matrix it damps is singular "
        "or nearly so"
        if key is not None
        else "check that the network's training did not diverge"
    )
    return f"method={method!r} returned non-finite influence scores; {fix}."
