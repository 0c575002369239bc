"""Fitting, prediction and persistence shared by the two-layer ReLU classifier and regressor.

:class:`BaseTwoLayerReLU` builds the skorch net (:class:`~.skorch_net.RegularizedNet`) in ``fit``,
initialises it and trains it under a local torch seed, then predicts through it. The public
estimators (:mod:`sklearn_attnkernel.networks.estimators`) only encode their targets and call
:meth:`BaseTwoLayerReLU._fit_network`.
"""

import numbers
import warnings
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.utils import get_map_location

from .adversarial import check_adversarial_training
from .callbacks import EpochProgressBar, FiniteTraining, clone_callbacks, early_stopping
from .health import check_float32_cast, check_training_memory
from .modules import TORCH_DTYPES, resolve_device
from .skorch_net import (
    RegularizedNet,
    as_device_tensor,
    batch_loader,
    build_module,
    features_tensor,
    network_output,
)

__all__ = ["BaseTwoLayerReLU"]


def _autocast(mixed_precision, device):
    """Whether to run under bfloat16 autocast: only on CUDA (else a warning, and False)."""
    if mixed_precision and device.type != "cuda":
        warnings.warn(
            f"mixed_precision=True only applies on CUDA; it is ignored on device "
            f"{str(device)!r}. Set mixed_precision=False to silence this warning.",
            UserWarning,
            stacklevel=5,  # _autocast, _make_net, _fit_network, _fit: the estimator's fit
        )
        return False
    return bool(mixed_precision)


def _check_clip_range(X_train, adversarial, where):
    """Raise a ValueError when training rows lie outside the adversarial ``clip`` range."""
    if adversarial is None or adversarial["clip"] is None or not X_train.size:
        return
    lo, hi = adversarial["clip"]
    if X_train.min() < lo or X_train.max() > hi:
        raise ValueError(
            f"The {where} has values in [{X_train.min():.4g}, {X_train.max():.4g}], "
            f"outside adversarial_training['clip']={adversarial['clip']!r}; scale the "
            "data into the clip range (e.g. pixels to [0, 1]) or widen clip."
        )


def _shape(value):
    return tuple(getattr(value, "shape", ()))


def _state_mismatches(saved, current):
    """Descriptions of the entries where a saved ``state_dict`` does not fit the module's."""
    if not isinstance(saved, Mapping):
        return [f"the file holds a {type(saved).__name__}, not a state_dict"]
    problems = [f"{name} is missing" for name in current if name not in saved]
    problems += [f"{name} is not in this network" for name in saved if name not in current]
    problems += [
        f"{name} has shape {_shape(saved[name])}, not {_shape(value)}"
        for name, value in current.items()
        if name in saved and _shape(saved[name]) != _shape(value)
    ]
    return problems


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
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "memory_budget": [Interval(numbers.Real, 0, None, closed="neither")],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(TORCH_DTYPES))],
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

    def _make_net(self, n_features, n_outputs, criterion, *, device, adversarial, callbacks):
        """The (uninitialised) skorch net of this estimator's parameters.

        ``callbacks`` are the user's (cloned) callbacks, then the health checks: the finite
        training check and the early stopping run last, after every callback saw the epoch.
        """
        progress = [("progress", EpochProgressBar())] if self.verbose else []
        return RegularizedNet(
            module=build_module,
            module__n_features=n_features,
            module__width=self.width,
            module__n_outputs=n_outputs,
            module__sigma_w=self.sigma_w,
            module__train_readout=self.train_readout,
            module__dtype=TORCH_DTYPES[self.dtype],
            criterion=criterion,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=None,
            iterator_train=batch_loader,
            iterator_train__shuffle=True,
            iterator_valid=batch_loader,
            callbacks=[
                *progress,
                *callbacks,
                *early_stopping(self.tol, self.n_iter_no_change),
            ],
            predict_nonlinearity=None,
            torch_load_kwargs={"weights_only": True},
            device=str(device),
            verbose=0,
            reg_lambda=float(self.reg_lambda),
            autocast=_autocast(self.mixed_precision, device),
            adversarial=adversarial,
        )

    def _initialise_and_train(self, net, X_t, y_t):
        """Initialise ``net`` and train it under a forked, seeded torch CPU generator."""
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

    def _fit_network(self, X, y_train, n_outputs, criterion, input_space=None):
        """Build, initialise and train ``net_``; set the fitted attributes shared by both.

        ``input_space`` is None, or ``(X_input, input_map)`` from
        :class:`~sklearn_attnkernel.networks.NetworkPipeline`: the raw pipeline inputs and the
        torch map of its fitted transformers (input rows → the network's features, in this
        estimator's dtype and on its device). The network is then trained on ``X_input``
        through that map (so attacks act on ``X_input``), and the map is dropped after
        training: ``net_`` maps features, like without it.
        """
        adversarial = None
        if self.adversarial_training is not None:
            adversarial = check_adversarial_training(self.adversarial_training)
        device = resolve_device(self.device)
        check_training_memory(
            width=self.width,
            n_features=X.shape[1],
            n_outputs=n_outputs,
            batch_size=min(self.batch_size, X.shape[0]),
            itemsize=TORCH_DTYPES[self.dtype].itemsize,
            memory_budget=self.memory_budget,
        )
        X_train, input_map = (X, None) if input_space is None else input_space
        where = "pipeline input" if input_space is not None else "X"
        _check_clip_range(X_train, adversarial, where)
        if self.dtype == "float32":
            check_float32_cast(X_train, where)
        # The finite check runs before the early stopping, which would take a NaN for a plateau.
        health = ("finite_training", FiniteTraining(float(np.abs(X_train).max(initial=0.0))))
        net = self._make_net(
            X.shape[1],
            n_outputs,
            criterion,
            device=device,
            adversarial=adversarial,
            callbacks=[*clone_callbacks(self.callbacks), health],
        )
        net.input_transform = input_map
        # The data go to the device once; every batch of every epoch is a gather from these.
        X_t = as_device_tensor(X_train, TORCH_DTYPES[self.dtype], device)
        self._initialise_and_train(net, X_t, y_train.to(device))
        self.net_ = net
        self.history_ = net.history
        self.n_outputs_ = n_outputs
        return self

    def _raw_output(self, X):
        """Validated ``X`` → network outputs, a float64 ``(n, n_outputs_)`` array."""
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return network_output(self.net_, features_tensor(self.net_, X))

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

        The parameter file is read with :func:`torch.load` and ``weights_only=True`` (no
        arbitrary unpickling), and its entries' names and shapes are checked against the
        network's before anything is loaded; the optimizer and history files go through
        :meth:`skorch.NeuralNet.load_params`.

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

        Raises
        ------
        ValueError
            If the saved parameters do not have the names and shapes of this network's.
        """
        check_is_fitted(self)
        if f_params is not None:
            self._load_module_state(f_params)
        self.net_.load_params(f_optimizer=f_optimizer, f_history=f_history)
        self.history_ = self.net_.history
        return self

    def _load_module_state(self, f_params):
        """Load a saved ``state_dict`` into ``net_.module_`` once its shapes are checked."""
        net = self.net_
        map_location = get_map_location(net.device)
        saved = torch.load(f_params, map_location=map_location, **net.torch_load_kwargs)
        problems = _state_mismatches(saved, net.module_.state_dict())
        if problems:
            raise ValueError(
                f"The saved parameters do not fit this {type(self).__name__} "
                f"(width={self.width}, n_features_in_={self.n_features_in_}, "
                f"n_outputs_={self.n_outputs_}): {'; '.join(problems)}. Fit the receiving "
                "estimator on data of the same shape with the same width and train_readout "
                "first (max_epochs=0 initialises without training)."
            )
        net.module_.load_state_dict(saved)
