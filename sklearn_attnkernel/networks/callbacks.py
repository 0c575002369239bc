"""skorch callbacks of the estimators and the ``callbacks`` parameter's validation.

- :class:`EpochProgressBar`: the tqdm bar over epochs shown when ``verbose > 0``;
- :class:`RecordOutputs`: the network's outputs on fixed inputs at chosen epochs, used by
  :func:`~sklearn_attnkernel.run_intervention` to score the test set along one training;
- :class:`SharedReference`: hands a fitted pipeline to a callback without it being cloned.
"""

import logging

import numpy as np
from sklearn.base import clone
from skorch.callbacks import Callback
from tqdm.auto import tqdm

from .skorch_net import features_tensor, network_output

logger = logging.getLogger(__name__)

__all__ = ["EpochProgressBar", "RecordOutputs", "SharedReference", "clone_callbacks"]


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
        del self.X_t_  # the cached tensor is not needed after training
