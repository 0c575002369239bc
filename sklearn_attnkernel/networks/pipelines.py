"""Factories for the paper's two architectures as scikit-learn pipelines.

* 2L-ReLU: unit-norm rows, then the two-layer ReLU network.
* MLP-Attn: unit-norm rows, then an attention transform fitted on the training rows (the
  transductive reference set), then the same network (arXiv 2603.13085, Eq. 2; Appendix A.13 for the
  softmax and exponential variants; :ref:`theory_attention`).

Both factories return a :class:`NetworkPipeline`: a scikit-learn pipeline that also keeps its raw
training data (influence scores and attacks on training points need the input-space rows, which
a plain pipeline's last step never sees) and, when its network has ``adversarial_training`` set,
makes the adversarial examples in the pipeline's input space (pixels) through its transformers.
"""

import logging

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer
from sklearn.utils import check_array

from .._utils.vocabulary import ATTENTION_KINDS

__all__ = ["NetworkPipeline", "make_adversarially_trained", "make_mlp_attn", "make_two_layer_relu"]

logger = logging.getLogger(__name__)

_TASKS = ("classification", "regression")


def _make_network(task, params):
    # Imported here so that importing this module does not import torch.
    from .estimators import TwoLayerReLUClassifier, TwoLayerReLURegressor

    if task == "classification":
        return TwoLayerReLUClassifier(**params)
    if task == "regression":
        return TwoLayerReLURegressor(**params)
    raise ValueError(
        f"task must be one of {_TASKS}; got task={task!r}. Use 'classification' for "
        "TwoLayerReLUClassifier or 'regression' for TwoLayerReLURegressor."
    )


def make_two_layer_relu(*, task="classification", **params):
    """Build the paper's 2L-ReLU model: row normalisation, then the two-layer ReLU network.

    Parameters
    ----------
    task : {"classification", "regression"}, default="classification"
        Which network ends the pipeline: :class:`~sklearn_attnkernel.TwoLayerReLUClassifier`
        or :class:`~sklearn_attnkernel.TwoLayerReLURegressor`.
    **params : dict
        Keyword arguments of the network (``width``, ``reg_lambda``, ``max_epochs``, ...).

    Returns
    -------
    pipeline : NetworkPipeline
        Steps ``("normalize", Normalizer())`` and ``("mlp", network)``; the network's parameters
        are reachable as ``mlp__<name>`` (e.g. in ``GridSearchCV``).

    See Also
    --------
    make_mlp_attn : The same network behind an attention transform (MLP-Attn).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import make_two_layer_relu
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_two_layer_relu(width=32, max_epochs=2, device="cpu", random_state=0)
    >>> [name for name, _ in model.steps]
    ['normalize', 'mlp']
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)
    """
    network = _make_network(task, params)
    return NetworkPipeline([("normalize", Normalizer()), ("mlp", network)])


def make_mlp_attn(*, attention="linear", task="classification", **params):
    """Build the paper's MLP-Attn model: row normalisation, attention, then the network.

    The attention step is fitted on the training rows, which become its reference set; it is
    refitted on each training fold in cross-validation, so test rows never enter the reference.

    Parameters
    ----------
    attention : {"linear", "softmax", "exponential"}, default="linear"
        ``"linear"``: :class:`~sklearn_attnkernel.LinearizedAttention` with
        ``normalize=True`` (``φ̃(x) = C x / ‖C x‖``, the paper's MLP-Attn). ``"softmax"``:
        :class:`~sklearn_attnkernel.SoftmaxAttention` with its defaults (τ = √d, normalised
        weights). ``"exponential"``: ``SoftmaxAttention(normalize_weights=False)``, the
        unnormalised variant of Appendix A.13.
    task : {"classification", "regression"}, default="classification"
        Which network ends the pipeline: :class:`~sklearn_attnkernel.TwoLayerReLUClassifier`
        or :class:`~sklearn_attnkernel.TwoLayerReLURegressor`.
    **params : dict
        Keyword arguments of the network (``width``, ``reg_lambda``, ``max_epochs``, ...).

    Returns
    -------
    pipeline : NetworkPipeline
        Steps ``("normalize", Normalizer())``, ``("attention", transform)`` and
        ``("mlp", network)``.

    See Also
    --------
    make_two_layer_relu : The same network on the normalised inputs directly (2L-ReLU).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import make_mlp_attn
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_mlp_attn(attention="softmax", width=32, max_epochs=2, device="cpu",
    ...                       random_state=0)
    >>> [name for name, _ in model.steps]
    ['normalize', 'attention', 'mlp']
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)
    """
    from ..attention.transformers import LinearizedAttention, SoftmaxAttention

    if attention == "linear":
        transform = LinearizedAttention(normalize=True)
    elif attention == "softmax":
        transform = SoftmaxAttention()
    elif attention == "exponential":
        transform = SoftmaxAttention(normalize_weights=False)
    else:
        raise ValueError(
            f"attention must be one of {ATTENTION_KINDS}; got attention={attention!r}. Use "
            "'linear' for the paper's MLP-Attn, 'softmax' or 'exponential' for Appendix A.13."
        )
    network = _make_network(task, params)
    return NetworkPipeline(
        [("normalize", Normalizer()), ("attention", transform), ("mlp", network)]
    )


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


class NetworkPipeline(Pipeline):
    """A pipeline ending in our network that keeps its raw training data.

    It is a :class:`~sklearn.pipeline.Pipeline` with a different :meth:`fit` and nothing else:

    - ``fit`` stores copies of the raw training inputs and targets as ``X_fit_`` and ``y_fit_``.
      A plain pipeline's last step only sees transformed features, but influence scoring on a
      perturbed training set and :func:`~sklearn_attnkernel.attack_training_points` need the
      input-space rows (e.g. pixels); :class:`~sklearn_attnkernel.InfluenceMalleability` reads
      them from here.
    - When the network's ``adversarial_training`` is set, ``fit`` fits the transformers, maps
      them (fitted) to torch with :class:`~sklearn_attnkernel.TorchPipeline` and trains the
      network on the raw ``X`` through that map, so each batch's adversarial examples are made
      in the input space (pixels, within the ``clip`` range) and pass through the transformers.
      The map is dropped after training; the fitted network maps features as usual. Otherwise
      ``fit`` is the plain pipeline's.

    :func:`make_two_layer_relu` and :func:`make_mlp_attn` return one.

    Parameters
    ----------
    steps : list of tuple
        ``(name, transformer)`` pairs, the last one a
        :class:`TwoLayerReLUClassifier` or :class:`TwoLayerReLURegressor`. The transformers must
        be supported by :class:`~sklearn_attnkernel.networks.torch_mirror.TorchPipeline`.
    transform_input : None
        Must be None (no metadata routing).
    memory : None
        Caching is not supported; must be None.
    verbose : bool, default=False
        As for :class:`~sklearn.pipeline.Pipeline`.

    Attributes
    ----------
    X_fit_ : ndarray of shape (n_samples, n_features)
        Copy of the raw training inputs (float64).
    y_fit_ : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Copy of the training targets.

    See Also
    --------
    make_adversarially_trained : Copy a pipeline with adversarial training switched on.

    Notes
    -----
    While training, attention steps keep the reference set fitted on the clean training data:
    an adversarial example is a new point seen through the fitted transformers, not a change of
    the reference set (that is what
    :func:`~sklearn_attnkernel.attack_training_points` does). When the last step's
    ``adversarial_training`` is None, :meth:`fit` is the plain pipeline's. Fit parameters are
    not supported.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import make_two_layer_relu
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.uniform(size=(40, 4)), np.arange(40) % 2
    >>> model = make_two_layer_relu(width=16, max_epochs=3, device="cpu", random_state=0,
    ...                             adversarial_training={"epsilon": 0.05, "steps": 3,
    ...                                                   "clip": (0, 1)})
    >>> type(model).__name__
    'NetworkPipeline'
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)
    >>> model.X_fit_.shape
    (40, 4)
    """

    def __getitem__(self, ind):
        """Return a step, or a plain :class:`~sklearn.pipeline.Pipeline` for a slice.

        A slice such as ``model[:-1]`` (the transformers) generally does not end in a network,
        so it is returned as a plain pipeline sharing the same (fitted) steps, as
        :meth:`sklearn.pipeline.Pipeline.__getitem__` describes.

        Parameters
        ----------
        ind : int, str or slice
            Position or name of a step, or a slice of steps (step 1 only).

        Returns
        -------
        step_or_pipeline : estimator or Pipeline
            The step, or the sub-pipeline.
        """
        sub = super().__getitem__(ind)
        if isinstance(ind, slice):
            return Pipeline(sub.steps, memory=sub.memory, verbose=sub.verbose)
        return sub

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Fit the pipeline and keep its raw training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs in the pipeline's input space.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Labels or targets.
        **params : dict
            Fit parameters as for :class:`~sklearn.pipeline.Pipeline`; not supported with
            adversarial training (raises a TypeError if given).

        Returns
        -------
        self : NetworkPipeline
            The fitted pipeline.
        """
        from .base import BaseTwoLayerReLU  # torch is only imported when a network is fitted

        final = self.steps[-1][1]
        if not isinstance(final, BaseTwoLayerReLU):
            raise TypeError(
                f"The last step of a NetworkPipeline must be a TwoLayerReLUClassifier or "
                f"TwoLayerReLURegressor; got {type(final).__name__}."
            )
        X_fit = check_array(X, dtype=np.float64, copy=True, input_name="X")
        y_fit = np.array(y, copy=True)
        if final.adversarial_training is None:
            super().fit(X, y, **params)
        else:
            self._fit_adversarially(X, y, params)
        self.X_fit_, self.y_fit_ = X_fit, y_fit
        return self

    def _fit_adversarially(self, X, y, params):
        final = self.steps[-1][1]
        if params:
            raise TypeError(
                "NetworkPipeline.fit does not accept fit parameters with adversarial training; "
                f"got {sorted(params)}."
            )
        if self.memory is not None:
            raise ValueError(
                "NetworkPipeline does not support caching with adversarial training; got "
                f"memory={self.memory!r}. Pass memory=None."
            )
        X_input = check_array(X, dtype=[np.float64, np.float32], input_name="X")
        Xt = X
        for name, step in self.steps[:-1]:
            if not _is_passthrough(step):
                logger.debug("NetworkPipeline: fitting step %r", name)
                Xt = step.fit_transform(Xt, y)
        final._validate_params()
        final._fit(Xt, y, input_space=(X_input, self._input_map(X_input.shape[1])))

    def _input_map(self, n_features_in):
        """The fitted transformers as a torch map into the network's features.

        Built in the network's dtype and on its device; :meth:`TorchPipeline.features` of it is
        what the network applies to each (adversarial) batch of pipeline inputs.
        """
        from .modules import resolve_device
        from .torch_mirror import transformers_map

        network = self.steps[-1][1]
        mirror = transformers_map(
            self.steps[:-1],
            n_features_in=n_features_in,
            dtype=network.dtype,
            device=resolve_device(network.device),
        )
        return mirror.features


def make_adversarially_trained(estimator, **adversarial_training):
    """Return an unfitted copy of `estimator` that trains adversarially in its input space.

    Parameters
    ----------
    estimator : Pipeline, TwoLayerReLUClassifier or TwoLayerReLURegressor
        A pipeline ending in one of our networks (e.g. from
        :func:`~sklearn_attnkernel.make_two_layer_relu` or
        :func:`~sklearn_attnkernel.make_mlp_attn`), or a bare network. It is cloned, not
        modified.
    **adversarial_training : dict
        The keys of ``adversarial_training`` (``epsilon``, ``steps``, ``step_size``,
        ``random_start``, ``clip``, ``method``), validated now; see
        :class:`TwoLayerReLUClassifier`.

    Returns
    -------
    estimator : NetworkPipeline, TwoLayerReLUClassifier or TwoLayerReLURegressor
        For a pipeline, a :class:`NetworkPipeline` with cloned steps whose network has
        ``adversarial_training`` set, so that attacks act on the pipeline's input (e.g. pixels
        in ``[0, 1]`` with ``clip=(0, 1)``). For a bare network, a clone with the parameter set.

    Examples
    --------
    >>> from sklearn_attnkernel import make_mlp_attn
    >>> from sklearn_attnkernel import make_adversarially_trained
    >>> model = make_adversarially_trained(make_mlp_attn(width=32), epsilon=0.1, clip=(0, 1))
    >>> [name for name, _ in model.steps]
    ['normalize', 'attention', 'mlp']
    >>> model.get_params()["mlp__adversarial_training"]
    {'epsilon': 0.1, 'clip': (0, 1)}
    """
    from .adversarial import check_adversarial_training
    from .base import BaseTwoLayerReLU

    check_adversarial_training(adversarial_training)
    if isinstance(estimator, BaseTwoLayerReLU):
        return clone(estimator).set_params(adversarial_training=dict(adversarial_training))
    if not isinstance(estimator, Pipeline) or not isinstance(
        estimator.steps[-1][1], BaseTwoLayerReLU
    ):
        raise TypeError(
            "estimator must be a Pipeline ending in a TwoLayerReLUClassifier/"
            f"TwoLayerReLURegressor, or one of those; got {type(estimator).__name__}."
        )
    steps = clone(estimator).steps
    steps[-1][1].set_params(adversarial_training=dict(adversarial_training))
    return NetworkPipeline(steps, verbose=estimator.verbose)
