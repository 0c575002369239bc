"""skorch callbacks of the estimators and the ``callbacks`` parameter's validation.

- :class:`EpochProgressBar`: the tqdm bar over epochs shown when ``verbose > 0``;
- :class:`RecordOutputs`: the network's outputs on fixed inputs at chosen epochs, used by
  :func:`~sklearn_attnkernel.run_intervention` to score the test set along one training;
- :class:`SharedReference`: hands a fitted pipeline to a callback without it being cloned;
- :class:`RecordCheckpoints`: the network's weights at chosen epochs (checkpoint ensembling of
  influence scores, ``method_params={"checkpoints": ...}`` of
  :func:`~sklearn_attnkernel.influence.estimators.influence_scores`), read back with
  :func:`recorded_checkpoints`;
- :class:`FiniteTraining`: stops training with a clear error when the loss or weights diverge;
- :func:`early_stopping`: skorch's :class:`~skorch.callbacks.EarlyStopping` on the training
  loss, the estimators' ``tol`` / ``n_iter_no_change``;
- :func:`convergence_epoch`: the epoch at which that rule stops a given loss history.
"""

import logging
import math

import numpy as np
import torch
from sklearn.base import clone
from skorch.callbacks import Callback, EarlyStopping
from tqdm.auto import tqdm

from .health import NonFiniteTrainingError
from .skorch_net import features_tensor, network_output

logger = logging.getLogger(__name__)

__all__ = [
    "EpochProgressBar",
    "FiniteTraining",
    "RecordCheckpoints",
    "RecordOutputs",
    "SharedReference",
    "clone_callbacks",
    "convergence_epoch",
    "early_stopping",
    "recorded_checkpoints",
]


class EpochProgressBar(Callback):
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


def clone_callbacks(callbacks):
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
            self.outputs_[epoch] = network_output(net, self.X_t_)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        features = self.X if self.pipeline is None else self.pipeline.obj[:-1].transform(self.X)
        self.X_t_ = features_tensor(net, np.asarray(features))
        self._record(net, len(net.history))

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._record(net, len(net.history))

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # Training stopped early (tol / n_iter_no_change): the network stays as it is, so the
        # later requested epochs hold the final outputs.
        later = [epoch for epoch in self.epochs if epoch > len(net.history)]
        if later:
            final = network_output(net, self.X_t_)
            self.outputs_.update({epoch: final for epoch in later})
        del self.X_t_  # the cached tensor is not needed after training


class RecordCheckpoints(Callback):
    """Record the network's weights (its module's ``state_dict``) at chosen epochs.

    Pass it in the estimators' ``callbacks``; after ``fit``, :func:`recorded_checkpoints` reads
    the weights back from the fitted estimator. The influence methods average their scores over
    such checkpoints (``method_params={"checkpoints": ...}``), the checkpoint ensembling of
    arXiv 2603.13085 ("Practical implications").

    Parameters
    ----------
    epochs : sequence of int
        Epoch counts after which to record; ``0`` records at initialisation. Epochs past the
        end of a training stopped early record the final weights.

    Attributes
    ----------
    checkpoints_ : list of dict of str to ndarray
        The module's ``state_dict`` (``"W"``, ``"A"``) as float64 NumPy arrays, one per
        entry of ``epochs``, in the order of ``sorted(set(epochs))``.
    """

    def __init__(self, epochs):
        self.epochs = epochs

    def initialize(self):
        self.checkpoints_ = []
        self.recorded_epochs_ = []
        return self

    def _record(self, net, epoch):
        if epoch in self.epochs and epoch not in self.recorded_epochs_:
            state = net.module_.state_dict()
            self.checkpoints_.append(
                {name: value.detach().cpu().double().numpy() for name, value in state.items()}
            )
            self.recorded_epochs_.append(epoch)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._record(net, len(net.history))

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._record(net, len(net.history))

    def on_train_end(self, net, X=None, y=None, **kwargs):
        for epoch in sorted(set(self.epochs)):
            if epoch > len(net.history):
                self._record(net, epoch)


def recorded_checkpoints(estimator):
    """The checkpoints a :class:`RecordCheckpoints` callback recorded while ``estimator`` trained.

    ``estimator`` is a fitted network or a pipeline ending in one; a ValueError names the fix
    when it trained without such a callback.
    """
    network = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    found = [cb for _, cb in network.net_.callbacks_ if isinstance(cb, RecordCheckpoints)]
    if not found:
        raise ValueError(
            f"{type(network).__name__} was trained without a RecordCheckpoints callback; pass "
            "callbacks=[RecordCheckpoints(epochs)] to the network and fit it again."
        )
    return list(found[-1].checkpoints_)


class FiniteTraining(Callback):
    """Stop training with :class:`~.health.NonFiniteTrainingError` when it diverges.

    After every epoch the training loss and the weights must be finite; otherwise the error
    names the epoch, the largest ``|x|`` of the training inputs and the learning rate, the two
    usual causes. One device synchronisation per epoch.

    Parameters
    ----------
    input_max : float
        Largest ``|x|`` of the training inputs, named in the error.
    """

    def __init__(self, input_max=math.nan):
        self.input_max = input_max

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        loss = net.history[-1, "train_loss"]
        weights_finite = all(
            bool(torch.isfinite(param).all()) for param in net.module_.parameters()
        )
        if math.isfinite(loss) and weights_finite:
            return
        what = "training loss" if not math.isfinite(loss) else "weights"
        raise NonFiniteTrainingError(
            f"Training diverged: the {what} became non-finite at epoch {len(net.history)} "
            f"(train_loss={float(loss)}). Likely causes: inputs on too large a scale (largest "
            f"|x| = {self.input_max:.4g}; rescale them, e.g. with StandardScaler or the "
            f"Normalizer of make_two_layer_relu) or too large a learning rate (lr={net.lr!r}; "
            "lower it). dtype='float64' also gives more range than float32."
        )


def early_stopping(tol, n_iter_no_change):
    """skorch's EarlyStopping on the training loss, or ``[]`` when ``tol`` is None.

    Training stops once ``train_loss`` has not fallen below its best value minus ``tol`` for
    ``n_iter_no_change`` consecutive epochs (skorch's absolute threshold mode).
    """
    if tol is None:
        return []
    stopper = EarlyStopping(
        monitor="train_loss",
        patience=n_iter_no_change,
        threshold=tol,
        threshold_mode="abs",
        lower_is_better=True,
        sink=logger.info,
    )
    return [("early_stopping", stopper)]


def convergence_epoch(losses, tol, n_iter_no_change):
    """The epoch at which :func:`early_stopping` stops a training with these losses, or None.

    Replays skorch's :class:`~skorch.callbacks.EarlyStopping` rule (absolute threshold, lower
    is better) over a finished per-epoch training-loss history: an epoch improves when its loss
    is below the best improving loss so far minus ``tol``, and training stops at the
    ``n_iter_no_change``-th consecutive epoch without improvement. Written by hand because
    skorch applies the rule only while training; this reads it off any history, e.g. that of a
    network trained for a fixed number of epochs (``tol=None``). A NaN loss never improves.

    Parameters
    ----------
    losses : sequence of float
        The training loss of each epoch, in order (``history_[:, "train_loss"]``).
    tol : float
        The absolute improvement that counts (``tol`` of the estimators).
    n_iter_no_change : int
        Epochs without improvement that stop training.

    Returns
    -------
    epoch : int or None
        The 1-based epoch at which the rule stops training (equal to ``len(losses)`` for a
        network that stopped there), or None when it never fires within ``losses``.

    Examples
    --------
    >>> from sklearn_attnkernel.networks.callbacks import convergence_epoch
    >>> convergence_epoch([1.0, 0.5, 0.499, 0.498, 0.497], tol=0.01, n_iter_no_change=3)
    5
    >>> convergence_epoch([1.0, 0.5, 0.25], tol=0.01, n_iter_no_change=3) is None
    True
    """
    threshold, misses = math.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        if loss < threshold:
            threshold, misses = loss - tol, 0
            continue
        misses += 1
        if misses == n_iter_no_change:
            return epoch
    return None
