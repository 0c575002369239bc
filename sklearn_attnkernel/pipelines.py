"""Factories for the paper's two architectures as scikit-learn pipelines.

* 2L-ReLU: unit-norm rows, then the two-layer ReLU network.
* MLP-Attn: unit-norm rows, then an attention transform fitted on the training rows (the
  transductive reference set), then the same network (PAPER.md §1, §3; Appendix A.13 for the
  softmax and exponential variants).
"""

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

__all__ = ["make_mlp_attn", "make_two_layer_relu"]

_TASKS = ("classification", "regression")
_ATTENTIONS = ("linear", "softmax", "exponential")


def _make_network(task, params):
    # Imported here so that importing this module does not import torch.
    from .mlp import TwoLayerReLUClassifier, TwoLayerReLURegressor

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
    pipeline : sklearn.pipeline.Pipeline
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
    return Pipeline([("normalize", Normalizer()), ("mlp", network)])


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
    pipeline : sklearn.pipeline.Pipeline
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
    from .attention import LinearizedAttention, SoftmaxAttention

    if attention == "linear":
        transform = LinearizedAttention(normalize=True)
    elif attention == "softmax":
        transform = SoftmaxAttention()
    elif attention == "exponential":
        transform = SoftmaxAttention(normalize_weights=False)
    else:
        raise ValueError(
            f"attention must be one of {_ATTENTIONS}; got attention={attention!r}. Use "
            "'linear' for the paper's MLP-Attn, 'softmax' or 'exponential' for Appendix A.13."
        )
    network = _make_network(task, params)
    return Pipeline([("normalize", Normalizer()), ("attention", transform), ("mlp", network)])
