"""The paper's two-layer ReLU network as scikit-learn classifier and regressor.

Both estimators are plain scikit-learn estimators: they validate the input, record the targets'
encoding, then build a :class:`skorch.NeuralNet` in ``fit`` (stored as ``net_``) that wraps
:class:`~sklearn_attnkernel.TwoLayerReLU` and trains it with Adam under a local torch
seed. The skorch net is a private subclass whose only loss-related hook, ``get_loss``, adds the
``λ‖θ − θ₀‖²`` term of PAPER.md §3.

Adversarial training (PAPER.md §5, issue #4 §6): with ``adversarial_training={...}`` each
training batch is replaced by PGD (or FGSM/MIM) examples of that batch made against the current
network, in the estimator's own input (feature) space. As the last step of a
:class:`~sklearn_attnkernel.networks.NetworkPipeline` (what :func:`make_mlp_attn` and
:func:`make_two_layer_relu` return) the same attacks are made in the *pipeline's* input space
(e.g. pixels), through its fitted transformers mapped to torch.
"""

import logging
import math
import numbers
import warnings
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler
from tqdm.auto import tqdm

from ..attacks.gradient_sign import fgsm, mim, pgd
from .modules import TwoLayerReLU, resolve_device
from .torch_mirror import transformers_map

logger = logging.getLogger(__name__)

__all__ = ["TwoLayerReLUClassifier", "TwoLayerReLURegressor"]

_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


# --------------------------------------------------------------------------------------------
# adversarial training configuration
# --------------------------------------------------------------------------------------------
# Defaults of the ``adversarial_training`` dict. step_size None means 2.5 · ε / steps, the rule
# of Madry et al. (2018) *(ours: the paper gives no value)*.
_ADVERSARIAL_DEFAULTS = {
    "epsilon": 0.3,
    "steps": 10,
    "step_size": None,
    "random_start": True,
    "clip": None,
    "method": "pgd",
}
_ADVERSARIAL_METHODS = ("pgd", "fgsm", "mim")


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_adversarial_training(config):
    """Validate an ``adversarial_training`` dict; return it completed with the defaults."""
    unknown = sorted(set(config) - set(_ADVERSARIAL_DEFAULTS), key=str)
    if unknown:
        raise ValueError(
            f"adversarial_training has unknown key(s) {unknown}; the allowed keys are "
            f"{sorted(_ADVERSARIAL_DEFAULTS)}."
        )
    cfg = {**_ADVERSARIAL_DEFAULTS, **config}

    def bad(key, expected):
        return ValueError(f"adversarial_training[{key!r}] must be {expected}; got {cfg[key]!r}.")

    if not (_is_real(cfg["epsilon"]) and math.isfinite(cfg["epsilon"]) and cfg["epsilon"] >= 0):
        raise bad("epsilon", "a finite number >= 0 (the radius of the ℓ∞ ball)")
    if not (isinstance(cfg["steps"], numbers.Integral) and not isinstance(cfg["steps"], bool)):
        raise bad("steps", "an integer >= 1")
    if cfg["steps"] < 1:
        raise bad("steps", "an integer >= 1")
    step_size = cfg["step_size"]
    if step_size is not None and not (
        _is_real(step_size) and math.isfinite(step_size) and step_size > 0
    ):
        raise bad("step_size", "None (2.5 · epsilon / steps) or a finite number > 0")
    if not isinstance(cfg["random_start"], bool | np.bool_):
        raise bad("random_start", "True or False")
    clip = cfg["clip"]
    if clip is not None and not (
        isinstance(clip, tuple | list)
        and len(clip) == 2
        and all(_is_real(v) and math.isfinite(v) for v in clip)
        and clip[0] < clip[1]
    ):
        raise bad("clip", "None or a pair (lo, hi) of finite numbers with lo < hi, e.g. (0, 1)")
    if cfg["method"] not in _ADVERSARIAL_METHODS:
        raise bad("method", f"one of {_ADVERSARIAL_METHODS}")
    if step_size is None:
        cfg["step_size"] = 2.5 * cfg["epsilon"] / cfg["steps"] if cfg["epsilon"] > 0 else 1.0
    cfg["clip"] = None if clip is None else (float(clip[0]), float(clip[1]))
    cfg["random_start"] = bool(cfg["random_start"])
    return cfg


# --------------------------------------------------------------------------------------------
# skorch plumbing (private)
# --------------------------------------------------------------------------------------------
def _build_module(*, n_features, width, n_outputs, sigma_w, train_readout, dtype):
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


def _batch_loader(dataset, *, batch_size, shuffle=False):
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


class _EpochProgressBar(Callback):
    """A tqdm bar over epochs with the running training loss (used when ``verbose > 0``)."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.bar_ = tqdm(total=net.max_epochs, desc="epochs", leave=False)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        loss = net.history[-1, "train_loss"]
        logger.info("epoch %d: train_loss=%.6g", len(net.history), loss)
        self.bar_.set_postfix(train_loss=f"{loss:.4g}")
        self.bar_.update(1)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.bar_.close()
        del self.bar_  # a tqdm bar holds its stream: drop it so the fitted net stays picklable


class _RegularizedNet(NeuralNet):
    """skorch net whose loss is the task loss plus ``reg_lambda · Σ ‖θ − θ₀‖²``.

    ``theta0_`` (name → tensor on the net's device) is set by the estimator right after
    ``initialize``. It is listed in ``cuda_dependent_attributes_`` so that skorch's pickling maps
    it to an available device like the module itself.

    ``infer`` is overridden to apply ``input_transform`` (a torch map from the pipeline's input
    space to the module's features, set only while a
    :class:`~sklearn_attnkernel.networks.NetworkPipeline` trains adversarially) and to run the
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
        input), so no gradient accumulates in the parameters. Random starts are drawn on the CPU
        from torch's global CPU generator, which ``fit`` forks and seeds, then moved to the
        batch's device: the same seed gives the same starts on every device.
        """
        cfg = self.adversarial

        def objective(x):
            return self.criterion_(self.infer(x), yi)

        if cfg["method"] == "fgsm":
            return fgsm(objective, Xi, epsilon=cfg["epsilon"], clip=cfg["clip"])
        attack = pgd if cfg["method"] == "pgd" else mim
        return attack(
            objective,
            Xi,
            epsilon=cfg["epsilon"],
            steps=cfg["steps"],
            step_size=cfg["step_size"],
            random_start=cfg["random_start"],
            clip=cfg["clip"],
            random_state=torch.default_generator,
        )

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


def _as_device_tensor(X, dtype, device):
    """Convert an array to a tensor of ``dtype`` on ``device`` with at most one host copy."""
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    # "W" forces a copy of read-only input: torch warns on (and cannot protect) read-only memory.
    X = np.require(X, dtype=np_dtype, requirements=["C", "W"])
    return torch.from_numpy(X).to(device)


def _features_tensor(net, X):
    """Feature rows as the tensor the module of ``net`` takes (its dtype, on its device)."""
    return _as_device_tensor(X, net.module_.W.dtype, torch.device(net.device))


def _network_output(net, X_t):
    """Outputs of the network of ``net`` on the feature tensor ``X_t``, as a NumPy array.

    This is the forward pass of ``predict`` (skorch's ``forward``: evaluation mode, no
    gradient, autocast as in training), usable during training as well: the pipeline input map
    of adversarial training is bypassed (``X_t`` holds features), the train/eval mode of the
    module and criterion is restored, and no random number is drawn (the evaluation loader has
    its own generator), so training goes on exactly as without the call.
    """
    training = net.module_.training
    input_transform, net.input_transform = net.input_transform, None
    try:
        return net.forward(X_t, device="cpu").numpy()
    finally:
        net.input_transform = input_transform
        net._set_training(training)


def _clone_callbacks(callbacks):
    """Validate the ``callbacks`` parameter; return fresh clones for one ``fit``."""
    if callbacks is None:
        return []
    out = []
    for item in callbacks:
        named = isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
        callback = item[1] if named else item
        if not isinstance(callback, Callback):
            raise ValueError(
                f"callbacks must hold skorch Callback instances or (name, Callback instance) "
                f"pairs; got {item!r}. Pass e.g. callbacks=[MyCallback()], not the class."
            )
        out.append((item[0], clone(callback)) if named else clone(callback))
    return out


class SharedReference:
    """Wrap an object so that :func:`copy.deepcopy` (hence :func:`sklearn.base.clone`) shares it.

    A callback's constructor parameters are cloned for each ``fit``; a fitted transformer passed
    this way stays the same fitted object instead of becoming an unfitted clone.
    """

    def __init__(self, obj):
        self.obj = obj

    def __deepcopy__(self, memo):
        return self


class RecordOutputs(Callback):
    """Record the network's outputs on fixed inputs at chosen epochs of one training run.

    Used by :func:`~sklearn_attnkernel.run_intervention` (through the estimators'
    ``callbacks`` parameter) to score the test set along training without extra trainings.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features_in)
        Inputs: the pipeline's inputs, or the network's features when ``pipeline`` is None.
    epochs : sequence of int
        Epoch counts after which to record; ``0`` records at initialisation.
    pipeline : SharedReference or None
        Wraps the pipeline whose last step is the network being trained. Its other steps are
        fitted by the time the network starts training; they map ``X`` to features once, then.

    Attributes
    ----------
    outputs_ : dict of int to ndarray of shape (n_samples, n_outputs)
        Raw outputs after each recorded epoch count, in the dtype of the network; the same
        numbers ``predict`` would use had training stopped there.
    """

    def __init__(self, X, epochs, pipeline=None):
        self.X = X
        self.epochs = epochs
        self.pipeline = pipeline

    def initialize(self):
        self.outputs_ = {}
        return self

    def _record(self, net, epoch):
        if epoch in self.epochs:
            self.outputs_[epoch] = _network_output(net, self.X_t_)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        features = self.X if self.pipeline is None else self.pipeline.obj[:-1].transform(self.X)
        self.X_t_ = _features_tensor(net, np.asarray(features))
        self._record(net, len(net.history))

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._record(net, len(net.history))

    def on_train_end(self, net, X=None, y=None, **kwargs):
        del self.X_t_  # the cached tensor is not needed after training


# --------------------------------------------------------------------------------------------
# shared estimator code
# --------------------------------------------------------------------------------------------
class BaseTwoLayerReLU(BaseEstimator):
    """Shared fitting, prediction and persistence code of the two estimators."""

    _parameter_constraints: ClassVar[dict] = {
        "width": [Interval(numbers.Integral, 1, None, closed="left")],
        "sigma_w": [Interval(numbers.Real, 0, None, closed="neither")],
        "train_readout": ["boolean"],
        "reg_lambda": [Interval(numbers.Real, 0, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "device": [str, torch.device],
        "dtype": [StrOptions({"float32", "float64"})],
        "mixed_precision": ["boolean"],
        "adversarial_training": [None, dict],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def _torch_seed(self):
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _fit_network(self, X, y_train, n_outputs, criterion, input_space=None):
        """Build, initialise and train ``net_``; set the fitted attributes shared by both.

        ``input_space`` is None, or ``(X_input, steps)`` from
        :class:`~sklearn_attnkernel.networks.NetworkPipeline`: the raw pipeline inputs and its
        fitted transformers. The network is then trained on ``X_input`` through the
        transformers mapped to torch (so attacks act on ``X_input``), and the map is dropped
        after training: ``net_`` maps features, like without it.
        """
        extra = _clone_callbacks(self.callbacks)
        adversarial = None
        if self.adversarial_training is not None:
            adversarial = check_adversarial_training(self.adversarial_training)
        device = resolve_device(self.device)
        dtype = _TORCH_DTYPES[self.dtype]
        autocast = bool(self.mixed_precision)
        if autocast and device.type != "cuda":
            warnings.warn(
                f"mixed_precision=True only applies on CUDA; it is ignored on device "
                f"{str(device)!r}. Set mixed_precision=False to silence this warning.",
                UserWarning,
                stacklevel=3,
            )
            autocast = False

        net = _RegularizedNet(
            module=_build_module,
            module__n_features=X.shape[1],
            module__width=self.width,
            module__n_outputs=n_outputs,
            module__sigma_w=self.sigma_w,
            module__train_readout=self.train_readout,
            module__dtype=dtype,
            criterion=criterion,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=None,
            iterator_train=_batch_loader,
            iterator_train__shuffle=True,
            iterator_valid=_batch_loader,
            callbacks=[*([("progress", _EpochProgressBar())] if self.verbose else []), *extra],
            predict_nonlinearity=None,
            torch_load_kwargs={"weights_only": True},
            device=str(device),
            verbose=0,
            reg_lambda=float(self.reg_lambda),
            autocast=autocast,
            adversarial=adversarial,
        )
        X_train = X
        if input_space is not None:
            X_train, steps = input_space
            net.input_transform = transformers_map(
                steps, n_features_in=X_train.shape[1], dtype=dtype, device=device
            ).features
        if adversarial is not None and adversarial["clip"] is not None and X_train.size:
            lo, hi = adversarial["clip"]
            if X_train.min() < lo or X_train.max() > hi:
                where = "pipeline input" if input_space is not None else "X"
                raise ValueError(
                    f"The {where} has values in [{X_train.min():.4g}, {X_train.max():.4g}], "
                    f"outside adversarial_training['clip']={adversarial['clip']!r}; scale the "
                    "data into the clip range (e.g. pixels to [0, 1]) or widen clip."
                )
        # The data go to the device once; every batch of every epoch is a gather from these.
        X_t = _as_device_tensor(X_train, dtype, device)
        y_t = y_train.to(device)
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(self._torch_seed())
            net.initialize()
            net.theta0_ = {
                name: param.detach().clone()
                for name, param in net.module_.named_parameters()
                if param.requires_grad
            }
            self.initial_params_ = {
                name: value.detach().cpu().clone()
                for name, value in net.module_.state_dict().items()
            }
            try:
                if self.max_epochs > 0:
                    net.partial_fit(X_t, y_t)
            finally:
                net.input_transform = None
        self.net_ = net
        self.history_ = net.history
        self.n_outputs_ = n_outputs
        return self

    def _raw_output(self, X):
        """Validated ``X`` → network outputs, a ``(n, n_outputs_)`` array in the net's dtype."""
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return _network_output(self.net_, _features_tensor(self.net_, X))

    def save_params(self, f_params=None, *, f_optimizer=None, f_history=None):
        """Save the network's parameters (and optionally optimizer and history) with skorch.

        Delegates to :meth:`skorch.NeuralNet.save_params`; the parameter file holds the module's
        ``state_dict`` (``W`` and ``A``). To persist the whole estimator use :mod:`pickle`.

        Parameters
        ----------
        f_params : str, path-like, file-like or None, default=None
            Where to save the module's ``state_dict``; ``None`` skips it.
        f_optimizer : str, path-like, file-like or None, default=None
            Where to save the Adam optimizer's state; ``None`` skips it.
        f_history : str, path-like, file-like or None, default=None
            Where to save the training history as JSON; ``None`` skips it.

        Returns
        -------
        self : object
            The estimator.
        """
        check_is_fitted(self)
        self.net_.save_params(f_params=f_params, f_optimizer=f_optimizer, f_history=f_history)
        return self

    def load_params(self, f_params=None, *, f_optimizer=None, f_history=None):
        """Load parameters saved by :meth:`save_params` into this fitted estimator.

        Loading goes through :meth:`skorch.NeuralNet.load_params`, which calls
        :func:`torch.load` with ``weights_only=True`` (no arbitrary unpickling).

        The receiving estimator must already be fitted with the same architecture: the same
        ``width``, ``train_readout``, number of features and number of outputs (classes). The
        cheapest way is ``fit`` with ``max_epochs=0`` on data of the same shape, which only
        initialises the network. Only what the files contain is replaced: ``classes_``,
        ``X_fit_``, ``y_fit_`` and ``initial_params_`` stay those of the receiving fit (with the
        same ``random_state`` the latter equals the saved network's θ₀).

        Parameters
        ----------
        f_params : str, path-like, file-like or None, default=None
            File written by ``save_params(f_params=...)``; ``None`` skips it.
        f_optimizer : str, path-like, file-like or None, default=None
            Optimizer state file; ``None`` skips it.
        f_history : str, path-like, file-like or None, default=None
            History JSON file; ``None`` skips it. ``history_`` is updated when given.

        Returns
        -------
        self : object
            The estimator with the loaded parameters.
        """
        check_is_fitted(self)
        try:
            self.net_.load_params(f_params=f_params, f_optimizer=f_optimizer, f_history=f_history)
        except RuntimeError as exc:
            if "size mismatch" not in str(exc) and "state_dict" not in str(exc):
                raise
            raise ValueError(
                f"The saved parameters do not fit this {type(self).__name__} "
                f"(width={self.width}, n_features_in_={self.n_features_in_}, "
                f"n_outputs_={self.n_outputs_}): {exc}. Fit the receiving estimator on data of "
                "the same shape with the same width and train_readout first (max_epochs=0 "
                "initialises without training)."
            ) from exc
        self.history_ = self.net_.history
        return self


class TwoLayerReLUClassifier(ClassifierMixin, BaseTwoLayerReLU):
    """Two-layer ReLU network classifier (the paper's 2L-ReLU head), trained with skorch.

    The network is ``f(x) = (1/√m) · relu(x Wᵀ) A`` (PAPER.md §3, Eq. 2): ``W`` is trained,
    ``A`` is a fixed Rademacher readout unless ``train_readout=True``, there are no biases.
    Binary problems use one output: with ``binary_loss="mse"`` (the paper's choice) it is fitted
    to ±1 targets by mean squared error, with ``binary_loss="cross_entropy"`` it is a logit
    trained with :class:`torch.nn.BCEWithLogitsLoss`. With ``C > 2`` classes there is one output
    per class, trained with :class:`torch.nn.CrossEntropyLoss`. The loss is the task loss plus
    ``reg_lambda · Σ ‖θ − θ₀‖²``, minimised by Adam. Inputs are used as given: the paper feeds
    unit-norm rows (see :func:`~sklearn_attnkernel.make_two_layer_relu`).

    Parameters
    ----------
    width : int, default=1024
        Hidden width ``m`` (number of ReLU units), at least 1.
    sigma_w : float, default=1.0
        Standard deviation of the first-layer weights at initialisation *(ours; the paper's
        value is lost)*.
    train_readout : bool, default=False
        Whether the ±1 readout ``A`` is trained as well (the paper keeps it fixed).
    reg_lambda : float, default=1e-3
        Weight ``λ`` of the penalty ``λ · Σ_θ ‖θ − θ₀‖²`` added to the task loss. The norm is
        the plain *sum* of squared differences over every trainable parameter entry (``W``, and
        ``A`` when ``train_readout=True``), without a ``1/2`` factor and without averaging over
        entries or samples, while the task loss is a mean over the batch. On this scale the
        paper's ``λ = 1e-3`` is strong: on digits (width 1024) it holds the net near 90% test
        accuracy, whereas ``reg_lambda=0`` reaches about 96–98% (PAPER.md §3).
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=128
        Mini-batch size.
    max_epochs : int, default=500
        Number of passes over the training data. ``0`` only initialises the network (the NTK
        sweep needs networks at initialisation).
    binary_loss : {"mse", "cross_entropy"}, default="mse"
        Task loss for two classes: ``"mse"`` on ±1 targets (as in the paper) or
        ``"cross_entropy"`` on a single logit. Ignored with more than two classes, where the loss
        is always the multi-class cross-entropy.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where the network and the data live. ``"auto"`` picks CUDA when
        :func:`torch.cuda.is_available`, else the CPU.
    dtype : {"float32", "float64"}, default="float32"
        Floating-point type of the network and the data tensors. The weights are drawn in
        float32 and cast, so both dtypes start from the same θ₀ for a given seed.
    mixed_precision : bool, default=False
        Run the forward pass under :func:`torch.autocast` with bfloat16 (meant for float32
        networks on CUDA). Ignored with a :class:`UserWarning` on the CPU.
    adversarial_training : dict or None, default=None
        None trains on the data as given. A dict turns on adversarial training (Madry et al.):
        every mini-batch is replaced, inside the training step, by adversarial examples of that
        batch made against the current network to increase its task loss, in an ℓ∞ ball. Keys
        (all optional): ``"epsilon"`` (radius, default 0.3), ``"steps"`` (default 10),
        ``"step_size"`` (default None: ``2.5 · epsilon / steps`` *(ours)*),
        ``"random_start"`` (default True), ``"clip"`` (``(lo, hi)`` or None) and ``"method"``
        (``"pgd"``, ``"fgsm"`` or ``"mim"``; default ``"pgd"``). On its own, or as the last
        step of a plain :class:`~sklearn.pipeline.Pipeline`, the estimator attacks its own input
        (the features); as the last step of a
        :class:`~sklearn_attnkernel.networks.NetworkPipeline` (from :func:`make_mlp_attn` or
        :func:`make_two_layer_relu`) it attacks the pipeline's input (e.g. pixels) through the
        transformers. Training costs about ``steps + 1`` times as much.
    random_state : int, RandomState instance or None, default=None
        Seeds torch's CPU generator, inside :func:`torch.random.fork_rng`, for the weight
        initialisation and the mini-batch shuffling; torch's global generator state is left as
        it was. An int is used as the torch seed itself. On the CPU the same seed gives
        bit-identical results.
    verbose : int, default=0
        When > 0, show a tqdm bar over epochs with the training loss (each epoch's loss is also
        logged at INFO level).
    callbacks : list of skorch.callbacks.Callback or None, default=None
        Extra :class:`skorch.callbacks.Callback` instances (or ``(name, callback)`` pairs),
        appended to the net's own callbacks to observe training, e.g. to record a score at
        chosen epochs. Each ``fit`` trains with clones of them (:func:`sklearn.base.clone`,
        from their constructor parameters), so the instances given here are never changed and
        the estimator stays clone-safe; the clones that ran are in ``net_.callbacks_``, and a
        callback can also record into ``net.history`` (which becomes `history_`). They run
        inside the seeded training, so a callback that draws from torch's global generator, or
        changes the module, changes the result. Not called when ``max_epochs=0``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen during :term:`fit`.
    n_outputs_ : int
        Number of network outputs: 1 for two classes, ``n_classes`` otherwise.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the
        :class:`~sklearn_attnkernel.TwoLayerReLU` on the estimator's device and dtype.
    initial_params_ : dict of str to torch.Tensor
        The module's ``state_dict`` at initialisation (θ₀: ``W``, and ``A`` whether buffer or
        parameter) as CPU tensors; ``module.load_state_dict(initial_params_)`` rebuilds the
        network at initialisation exactly.
    history_ : skorch.callbacks.History
        Per-epoch training record (``history_[:, "train_loss"]``); empty when
        ``max_epochs=0``.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.
    X_fit_ : ndarray of shape (n_samples, `n_features_in_`)
        Copy of the validated training inputs (influence scoring needs them later).
    y_fit_ : ndarray of shape (n_samples,)
        Copy of the validated training labels (original labels, not encoded).

    See Also
    --------
    TwoLayerReLURegressor : The same network for regression.
    make_two_layer_relu : Row normalisation followed by this classifier (the paper's 2L-ReLU).
    make_mlp_attn : Attention features followed by this classifier (MLP-Attn).

    Notes
    -----
    ``decision_function`` returns the raw network outputs. ``predict_proba`` is the softmax of
    the outputs for several classes and the sigmoid of the logit for
    ``binary_loss="cross_entropy"``. For ``binary_loss="mse"`` the squared loss on ±1 targets
    estimates ``E[y | x] = 2 P(y = classes_[1] | x) − 1``, so ``predict_proba`` returns
    ``clip((f(x) + 1) / 2, 0, 1)`` for ``classes_[1]``: monotone in the output, but not a
    calibrated probability, and equal to 0 or 1 for outputs beyond ±1.

    :meth:`encode_targets` gives the targets the network was trained to fit: one-hot columns for
    several classes and a ±1 column for two classes. For ``binary_loss="cross_entropy"`` the
    network was in fact fitted to {0, 1} through a logit; ``encode_targets`` still returns the ±1
    column, the regression target of the equivalent kernel machine.

    With several classes and a fixed readout, a unit whose readout row is the same for every
    class (probability ``2 / 2^C`` per unit) shifts all logits equally; the softmax ignores such
    a shift, so the unit gets no task gradient and stays near θ₀, moved by round-off alone (so
    its weights are not reproducible across devices, while the probabilities are).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import TwoLayerReLUClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TwoLayerReLUClassifier(width=64, lr=1e-2, reg_lambda=0.0, max_epochs=100,
    ...                              device="cpu", random_state=0).fit(X, y)
    >>> clf.decision_function(X[:2]).shape
    (2, 3)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseTwoLayerReLU._parameter_constraints,
        "binary_loss": [StrOptions({"mse", "cross_entropy"})],
    }

    def __init__(
        self,
        *,
        width=1024,
        sigma_w=1.0,
        train_readout=False,
        reg_lambda=1e-3,
        lr=1e-3,
        batch_size=128,
        max_epochs=500,
        binary_loss="mse",
        device="auto",
        dtype="float32",
        mixed_precision=False,
        adversarial_training=None,
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.width = width
        self.sigma_w = sigma_w
        self.train_readout = train_readout
        self.reg_lambda = reg_lambda
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.binary_loss = binary_loss
        self.device = device
        self.dtype = dtype
        self.mixed_precision = mixed_precision
        self.adversarial_training = adversarial_training
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Initialise the network and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (finite numbers).
        y : array-like of shape (n_samples,)
            Class labels; at least two distinct classes.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        return self._fit(X, y)

    def _fit(self, X, y, input_space=None):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], copy=True)
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y; got only one class, "
                f"{classes[0]!r}. Pass training data with samples from two or more classes."
            )
        self.classes_ = classes
        self.X_fit_ = X
        self.y_fit_ = np.array(y, copy=True)
        if len(classes) == 2:
            n_outputs = 1
            if self.binary_loss == "mse":
                criterion = torch.nn.MSELoss
                target = 2.0 * y_index - 1.0
            else:
                criterion = torch.nn.BCEWithLogitsLoss
                target = y_index.astype(np.float64)
            y_train = torch.as_tensor(target.reshape(-1, 1), dtype=_TORCH_DTYPES[self.dtype])
        else:
            n_outputs = len(classes)
            criterion = torch.nn.CrossEntropyLoss
            y_train = torch.as_tensor(y_index, dtype=torch.long)
        return self._fit_network(X, y_train, n_outputs, criterion, input_space)

    def decision_function(self, X):
        """Raw network outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            ``f(X)``: one column (returned flat) for two classes, where a positive score means
            ``classes_[1]``; one column per class otherwise.
        """
        check_is_fitted(self)
        out = self._raw_output(X)
        return out[:, 0] if self.n_outputs_ == 1 else out

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            ``classes_[1]`` where the output is > 0 for two classes, the class of the largest
            output otherwise.
        """
        check_is_fitted(self)
        return self._labels_from_output(self._raw_output(X))

    def _labels_from_output(self, out):
        """The decision rule of `predict` on raw outputs ``out`` of shape (n, `n_outputs_`)."""
        if self.n_outputs_ == 1:
            return self.classes_[(out[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(out, axis=1)]

    def predict_proba(self, X):
        """Class probabilities (see Notes of the class for ``binary_loss="mse"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Softmax of the outputs for several classes; for two classes the sigmoid of the
            logit (``binary_loss="cross_entropy"``) or ``clip((f + 1) / 2, 0, 1)``
            (``binary_loss="mse"``) as the probability of ``classes_[1]``.
        """
        check_is_fitted(self)
        scores = np.asarray(self.decision_function(X), dtype=np.float64)
        if scores.ndim == 2:
            shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
        if self.binary_loss == "cross_entropy":
            positive = 0.5 * (1.0 + np.tanh(0.5 * scores))  # the sigmoid, without overflow
        else:
            positive = np.clip(0.5 * (scores + 1.0), 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])

    def encode_targets(self, y):
        """Encode labels as the real-valued targets the network was trained to fit.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            Labels, each one of ``classes_``.

        Returns
        -------
        Y : ndarray of shape (n_samples, `n_outputs_`), dtype float64
            One-hot rows for several classes; a ±1 column (+1 for ``classes_[1]``) for two.
        """
        check_is_fitted(self)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"y must be a 1-D array of labels; got an array of shape {y.shape}. "
                "Pass one label per sample."
            )
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not seen in fit: {np.unique(y[unknown])[:10]!r}. "
                f"Use only the fitted classes {self.classes_!r}."
            )
        if self.n_outputs_ == 1:
            return (2.0 * index - 1.0).reshape(-1, 1)
        return np.eye(self.n_outputs_, dtype=np.float64)[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


class TwoLayerReLURegressor(RegressorMixin, BaseTwoLayerReLU):
    """Two-layer ReLU network regressor (the paper's Eq. 2 network), trained with skorch.

    The network is ``f(x) = (1/√m) · relu(x Wᵀ) A`` with one output per target column, fitted
    by mean squared error plus ``reg_lambda · Σ ‖θ − θ₀‖²`` with Adam. There are no biases, so
    the output is positively homogeneous in ``x`` (centre or scale targets accordingly).

    Parameters
    ----------
    width : int, default=1024
        Hidden width ``m`` (number of ReLU units), at least 1.
    sigma_w : float, default=1.0
        Standard deviation of the first-layer weights at initialisation *(ours; the paper's
        value is lost)*.
    train_readout : bool, default=False
        Whether the ±1 readout ``A`` is trained as well (the paper keeps it fixed).
    reg_lambda : float, default=1e-3
        Weight ``λ`` of the penalty ``λ · Σ_θ ‖θ − θ₀‖²`` added to the task loss. The norm is
        the plain *sum* of squared differences over every trainable parameter entry (``W``, and
        ``A`` when ``train_readout=True``), without a ``1/2`` factor and without averaging over
        entries or samples, while the task loss is a mean over the batch. On this scale the
        paper's ``λ = 1e-3`` is strong: on digits (width 1024) it holds the net near 90% test
        accuracy, whereas ``reg_lambda=0`` reaches about 96–98% (PAPER.md §3).
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=128
        Mini-batch size.
    max_epochs : int, default=500
        Number of passes over the training data. ``0`` only initialises the network (the NTK
        sweep needs networks at initialisation).
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where the network and the data live. ``"auto"`` picks CUDA when
        :func:`torch.cuda.is_available`, else the CPU.
    dtype : {"float32", "float64"}, default="float32"
        Floating-point type of the network and the data tensors. The weights are drawn in
        float32 and cast, so both dtypes start from the same θ₀ for a given seed.
    mixed_precision : bool, default=False
        Run the forward pass under :func:`torch.autocast` with bfloat16 (meant for float32
        networks on CUDA). Ignored with a :class:`UserWarning` on the CPU.
    adversarial_training : dict or None, default=None
        None trains on the data as given. A dict turns on adversarial training (Madry et al.):
        every mini-batch is replaced, inside the training step, by adversarial examples of that
        batch made against the current network to increase its task loss, in an ℓ∞ ball. Keys
        (all optional): ``"epsilon"`` (radius, default 0.3), ``"steps"`` (default 10),
        ``"step_size"`` (default None: ``2.5 · epsilon / steps`` *(ours)*),
        ``"random_start"`` (default True), ``"clip"`` (``(lo, hi)`` or None) and ``"method"``
        (``"pgd"``, ``"fgsm"`` or ``"mim"``; default ``"pgd"``). On its own, or as the last
        step of a plain :class:`~sklearn.pipeline.Pipeline`, the estimator attacks its own input
        (the features); as the last step of a
        :class:`~sklearn_attnkernel.networks.NetworkPipeline` (from :func:`make_mlp_attn` or
        :func:`make_two_layer_relu`) it attacks the pipeline's input (e.g. pixels) through the
        transformers. Training costs about ``steps + 1`` times as much.
    random_state : int, RandomState instance or None, default=None
        Seeds torch's CPU generator, inside :func:`torch.random.fork_rng`, for the weight
        initialisation and the mini-batch shuffling; torch's global generator state is left as
        it was. An int is used as the torch seed itself. On the CPU the same seed gives
        bit-identical results.
    verbose : int, default=0
        When > 0, show a tqdm bar over epochs with the training loss (each epoch's loss is also
        logged at INFO level).
    callbacks : list of skorch.callbacks.Callback or None, default=None
        Extra :class:`skorch.callbacks.Callback` instances (or ``(name, callback)`` pairs),
        appended to the net's own callbacks to observe training, e.g. to record a score at
        chosen epochs. Each ``fit`` trains with clones of them (:func:`sklearn.base.clone`,
        from their constructor parameters), so the instances given here are never changed and
        the estimator stays clone-safe; the clones that ran are in ``net_.callbacks_``, and a
        callback can also record into ``net.history`` (which becomes `history_`). They run
        inside the seeded training, so a callback that draws from torch's global generator, or
        changes the module, changes the result. Not called when ``max_epochs=0``.

    Attributes
    ----------
    n_outputs_ : int
        Number of target columns (1 for a 1-D ``y``).
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the
        :class:`~sklearn_attnkernel.TwoLayerReLU` on the estimator's device and dtype.
    initial_params_ : dict of str to torch.Tensor
        The module's ``state_dict`` at initialisation (θ₀: ``W``, and ``A`` whether buffer or
        parameter) as CPU tensors; ``module.load_state_dict(initial_params_)`` rebuilds the
        network at initialisation exactly.
    history_ : skorch.callbacks.History
        Per-epoch training record (``history_[:, "train_loss"]``); empty when
        ``max_epochs=0``.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.
    X_fit_ : ndarray of shape (n_samples, `n_features_in_`)
        Copy of the validated training inputs (influence scoring needs them later).
    y_fit_ : ndarray of shape (n_samples,) or (n_samples, `n_outputs_`)
        Copy of the validated training targets.

    See Also
    --------
    TwoLayerReLUClassifier : The same network for classification.
    make_two_layer_relu : Row normalisation followed by this network (``task="regression"``).

    Notes
    -----
    ``predict`` returns the raw network outputs (flattened when ``y`` was 1-D), and
    :meth:`encode_targets` the ``(n_samples, n_outputs_)`` float64 targets they were fitted to.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import TwoLayerReLURegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 3))
    >>> y = np.abs(X[:, 0])
    >>> reg = TwoLayerReLURegressor(width=64, lr=1e-2, reg_lambda=0.0, max_epochs=100,
    ...                             device="cpu", random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> bool(reg.score(X, y) > 0.8)
    True
    """

    def __init__(
        self,
        *,
        width=1024,
        sigma_w=1.0,
        train_readout=False,
        reg_lambda=1e-3,
        lr=1e-3,
        batch_size=128,
        max_epochs=500,
        device="auto",
        dtype="float32",
        mixed_precision=False,
        adversarial_training=None,
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.width = width
        self.sigma_w = sigma_w
        self.train_readout = train_readout
        self.reg_lambda = reg_lambda
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.device = device
        self.dtype = dtype
        self.mixed_precision = mixed_precision
        self.adversarial_training = adversarial_training
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Initialise the network and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (finite numbers).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Numeric targets.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        return self._fit(X, y)

    def _fit(self, X, y, input_space=None):
        _check_numeric_targets(y)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=True,
            copy=True,
        )
        self.X_fit_ = X
        self.y_fit_ = np.array(y, copy=True)
        target = y.reshape(len(y), -1)
        # np.array copies: y may be read-only, and torch cannot hold read-only memory.
        y_train = torch.from_numpy(np.array(target, dtype=np.float64)).to(_TORCH_DTYPES[self.dtype])
        return self._fit_network(X, y_train, target.shape[1], torch.nn.MSELoss, input_space)

    def predict(self, X):
        """Network outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, `n_outputs_`)
            ``f(X)``; flat when the training ``y`` was 1-D.
        """
        check_is_fitted(self)
        out = self._raw_output(X)
        return out[:, 0] if self.y_fit_.ndim == 1 else out

    def encode_targets(self, y):
        """Return the targets as the network was trained to fit them.

        Parameters
        ----------
        y : array-like of shape (n_samples,) or (n_samples, `n_outputs_`)
            Numeric targets.

        Returns
        -------
        Y : ndarray of shape (n_samples, `n_outputs_`), dtype float64
            ``y`` as float64 columns.
        """
        check_is_fitted(self)
        _check_numeric_targets(y)
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(len(Y), -1) if Y.ndim >= 1 else Y.reshape(1, 1)
        if Y.shape[1] != self.n_outputs_ or np.asarray(y).ndim > 2:
            raise ValueError(
                f"y has shape {np.shape(y)} but the network has n_outputs_={self.n_outputs_} "
                "outputs; pass one target column per output."
            )
        return Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _check_numeric_targets(y):
    """Raise a ValueError naming ``y`` when the regression targets are not numbers."""
    y_arr = np.asarray(y) if not hasattr(y, "dtype") else y
    kind = getattr(getattr(y_arr, "dtype", None), "kind", None)
    if kind in ("b", "i", "u", "f", "c") or y is None:  # complex: validate_data rejects it
        return
    try:
        np.asarray(y_arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"TwoLayerReLURegressor needs numeric targets y; got values of dtype "
            f"{getattr(y_arr, 'dtype', type(y_arr).__name__)} that cannot be converted to "
            f"float ({exc}). Encode the targets as numbers, or use TwoLayerReLUClassifier for "
            "class labels."
        ) from None
