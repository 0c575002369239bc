"""The skorch side of the estimators: the regularised net, its data loader and tensors.

The public estimators (:mod:`sklearn_attnkernel.networks.estimators`) wrap skorch rather than
subclass it; the net they build in ``fit`` is :class:`RegularizedNet`, a :class:`skorch.NeuralNet`
that overrides ``get_loss`` (the ``λ‖θ − θ₀‖²`` term of the paper's training objective, arXiv
2603.13085), ``infer`` (an optional map from a pipeline's input space, and bfloat16 autocast) and
``train_step_single`` (adversarial training).
"""

from typing import ClassVar

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from .adversarial import attack_batch
from .modules import TwoLayerReLU

__all__ = [
    "RegularizedNet",
    "as_device_tensor",
    "batch_loader",
    "build_module",
    "features_tensor",
    "network_output",
]


def build_module(*, n_features, width, n_outputs, sigma_w, train_readout, dtype):
    """Create a :class:`TwoLayerReLU` and cast it to ``dtype``.

    The weights are drawn by torch's (forked, seeded) global CPU generator in the default dtype
    and then cast, so a float32 and a float64 network with the same seed start from the same θ₀.
    """
    module = TwoLayerReLU(
        int(n_features),
        int(width),
        int(n_outputs),
        sigma_w=float(sigma_w),
        train_readout=bool(train_readout),
    )
    return module.to(dtype)


def batch_loader(dataset, *, batch_size, shuffle=False):
    """Mini-batch iterator that gathers each batch with one index operation.

    ``dataset`` is skorch's :class:`~skorch.dataset.Dataset` holding the tensors that were put on
    the target device once, in ``fit``. A :class:`~torch.utils.data.BatchSampler` hands it a whole
    list of row indices at a time, so a batch is a single gather on the device: no per-sample
    ``__getitem__``, no collation, and no host-to-device copy of the data per epoch.

    Shuffling draws from torch's global generator, which ``fit`` forks and seeds. Without
    shuffling (prediction) the loader gets a private generator: a DataLoader draws a base seed
    from its generator every time it is iterated, and prediction must not advance the global one.
    """
    if shuffle:
        sampler, generator = RandomSampler(dataset), None
    else:
        sampler, generator = SequentialSampler(dataset), torch.Generator()
    return DataLoader(
        dataset,
        batch_size=None,
        sampler=BatchSampler(sampler, batch_size, drop_last=False),
        generator=generator,
    )


class RegularizedNet(NeuralNet):
    """skorch net whose loss is the task loss plus ``reg_lambda · Σ ‖θ − θ₀‖²``.

    ``theta0_`` (name → tensor on the net's device) is set by the estimator right after
    ``initialize``. It is listed in ``cuda_dependent_attributes_`` so that skorch's pickling maps
    it to an available device like the module itself.

    ``infer`` is overridden to apply ``input_transform`` (a torch map from the pipeline's input
    space to the module's features, which a :class:`~sklearn_attnkernel.networks.NetworkPipeline`
    hands to the estimator for adversarial training; set only while training) and to run the
    forward pass under ``torch.autocast`` (bfloat16) when ``autocast=True``; the output
    is cast back to the module's dtype so that the loss is computed in full precision.

    ``train_step_single`` is overridden for adversarial training (``adversarial``, a validated
    config dict, or None).
    """

    cuda_dependent_attributes_: ClassVar[list] = ["theta0_"]

    def __init__(
        self,
        *args,
        reg_lambda=0.0,
        autocast=False,
        adversarial=None,
        input_transform=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.reg_lambda = reg_lambda
        self.autocast = autocast
        self.adversarial = adversarial
        self.input_transform = input_transform

    # Madry-style adversarial training needs, for every batch, an attack against the *current*
    # weights whose result replaces the batch in the forward pass that updates them.
    # train_step_single is the skorch hook that owns that forward pass; get_loss only receives
    # predictions already made from the clean batch (it would need a second forward), and
    # callbacks (on_batch_begin) can observe the batch but not replace it.
    def train_step_single(self, batch, **fit_params):
        if self.adversarial is None:
            return super().train_step_single(batch, **fit_params)
        Xi, yi = unpack_data(batch)
        return super().train_step_single((self._adversarial_batch(Xi, yi), yi), **fit_params)

    def _adversarial_batch(self, Xi, yi):
        """Attack the batch with the task loss of the current network (weights untouched).

        The attacks differentiate with respect to the input only (``torch.autograd.grad`` on the
        input), so no gradient accumulates in the parameters.
        """

        def objective(x):
            return self.criterion_(self.infer(x), yi)

        return attack_batch(objective, Xi, self.adversarial)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if self.reg_lambda > 0:
            # Σ (θ − θ₀)², via mse_loss(reduction="sum"): one fused kernel forward and backward.
            penalty = sum(
                torch.nn.functional.mse_loss(param, self.theta0_[name], reduction="sum")
                for name, param in self.module_.named_parameters()
                if param.requires_grad
            )
            loss = loss + self.reg_lambda * penalty
        return loss

    def infer(self, x, **fit_params):
        if self.input_transform is not None:
            x = self.input_transform(x)
        if not self.autocast:
            return super().infer(x, **fit_params)
        dtype = self.module_.W.dtype
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            out = super().infer(x, **fit_params)
        return out.to(dtype)


def as_device_tensor(X, dtype, device):
    """Convert an array to a tensor of ``dtype`` on ``device`` with at most one host copy."""
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    # "W" forces a copy of read-only input: torch warns on (and cannot protect) read-only memory.
    X = np.require(X, dtype=np_dtype, requirements=["C", "W"])
    return torch.from_numpy(X).to(device)


def features_tensor(net, X):
    """Feature rows as the float64 tensor on the net's device that :func:`network_output` takes."""
    return as_device_tensor(X, torch.float64, torch.device(net.device))


def network_output(net, X_t):
    """Outputs of the network of ``net`` on the feature tensor ``X_t``, as a float64 array.

    This is the forward pass of ``predict``. It is computed in float64 from the network's
    weights (cast exactly), whatever the network's dtype: a float32 forward pass rounds
    differently with the batch it is part of (BLAS picks kernels by shape), float64 makes each
    row's output independent of the others to well under float32's precision, and outputs are
    float64 like the package's other numbers. ``mixed_precision`` applies to training only.
    Rows go through in chunks of ``net.batch_size``. It is usable during training as well: it
    reads the weights through :func:`torch.func.functional_call` without changing the module,
    draws no random number and bypasses the pipeline input map of adversarial training
    (``X_t`` holds features), so training goes on exactly as without the call.
    """
    module = net.module_
    state = {name: value.detach().to(torch.float64) for name, value in module.state_dict().items()}
    with torch.no_grad():
        chunks = [
            torch.func.functional_call(module, state, (rows.to(torch.float64),))
            for rows in torch.split(X_t, max(int(net.batch_size), 1))
        ]
    if not chunks:
        return np.zeros((0, module.n_outputs), dtype=np.float64)
    return torch.cat(chunks).cpu().numpy()
