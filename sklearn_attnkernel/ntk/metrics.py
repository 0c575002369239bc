"""Distance between a network's NTK (or function) and the infinite-width limit (arXiv 2603.13085).

Three metrics, each at initialisation and after training:

* relative Frobenius ``‖Θ_m − Θ∞‖_F / ‖Θ∞‖_F``;
* cosine distance ``1 − ⟨Θ_m, Θ∞⟩_F / (‖Θ_m‖_F ‖Θ∞‖_F)`` (scale-invariant);
* function-space distance ``‖f_m(X_eval) − f_NTK(X_eval)‖₂`` with ``f_NTK`` kernel ridge
  regression with ``Θ∞`` on the same training data.
"""

import copy
import logging
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.kernel_ridge import KernelRidge
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array, check_consistent_length
from torch import nn

from .._utils.input_space import check_input_space, with_fit_columns
from .._utils.scale import max_abs, pow2_exponent, scale_by_pow2
from .._utils.vocabulary import ARCHITECTURES, ATTENTION_OF_ARCHITECTURE
from ..kernels.ntk import infinite_width_ntk
from ..networks.callbacks import convergence_epoch
from ..networks.modules import TwoLayerReLU, initial_module, unwrap_model
from .empirical import empirical_ntk

logger = logging.getLogger(__name__)


class ZeroKernelError(ValueError):
    """A kernel is exactly zero, so a distance normalised by its norm is undefined.

    :func:`ntk_distance` raises it, e.g. for the cosine distance of a width-16 network whose ReLU
    units are all inactive on every point (Θ_m = 0). Callers that can drop that metric catch this
    class; any other ``ValueError`` is a real error.
    """


__all__ = ["ZeroKernelError", "function_space_distance", "ntk_distance", "ntk_width_sweep"]

_STAGES = ("init", "trained")
_METRICS = ("frobenius", "cosine", "function")
#: Metrics of the fit, not of the kernel: recorded once per network, at the stage "trained".
_FIT_METRICS = ("train_score", "eval_score", "train_loss", "epochs_used", "converged")
_SWEEP_COLUMNS = ["architecture", "width", "seed", "stage", "metric", "value"]


def ntk_distance(K_m, K_inf, metric="frobenius"):
    """Distance between an empirical NTK matrix and the infinite-width one.

    Parameters
    ----------
    K_m : array-like of shape (n_samples_X, n_samples_Y)
        Empirical (finite-width) NTK, e.g. from :func:`empirical_ntk`.
    K_inf : array-like of shape (n_samples_X, n_samples_Y)
        Infinite-width NTK on the same points, e.g. from :func:`infinite_width_ntk`.
    metric : {"frobenius", "cosine"}, default="frobenius"
        ``"frobenius"``: relative Frobenius error ``‖K_m − K_inf‖_F / ‖K_inf‖_F``.
        ``"cosine"``: ``1 − ⟨K_m, K_inf⟩_F / (‖K_m‖_F ‖K_inf‖_F)``, which ignores the overall
        scale of ``K_m`` (arXiv 2603.13085, Fig. 6).

    Returns
    -------
    distance : float
        Non-negative for ``"frobenius"``; in ``[0, 2]`` for ``"cosine"``.

    See Also
    --------
    ntk_width_sweep : This distance across widths and seeds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import ntk_distance
    >>> K = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> ntk_distance(2 * K, K)
    1.0
    >>> round(ntk_distance(2 * K, K, metric="cosine"), 12)
    0.0
    """
    K_m = check_array(K_m, dtype=np.float64, input_name="K_m")
    K_inf = check_array(K_inf, dtype=np.float64, input_name="K_inf")
    if K_m.shape != K_inf.shape:
        raise ValueError(
            f"K_m has shape {K_m.shape} but K_inf has shape {K_inf.shape}; compute both kernels "
            "on the same points."
        )
    if metric == "frobenius":
        # both kernels by one power of two (exact): the ratio of norms cannot overflow
        e = pow2_exponent(max(max_abs(K_m), max_abs(K_inf)))
        K_m, K_inf = np.ldexp(K_m, -e), np.ldexp(K_inf, -e)
        norm_inf = np.linalg.norm(K_inf)
        if norm_inf == 0:
            raise ZeroKernelError(
                "K_inf is exactly zero (every entry is 0.0), so the relative distance is undefined."
            )
        return float(np.linalg.norm(K_m - K_inf) / norm_inf)
    # each kernel by its own power of two: the cosine is then exactly scale-invariant
    K_m, _ = scale_by_pow2(K_m)
    K_inf, _ = scale_by_pow2(K_inf)
    norm_inf = np.linalg.norm(K_inf)
    if norm_inf == 0:
        raise ZeroKernelError(
            "K_inf is exactly zero (every entry is 0.0), so the cosine distance is undefined."
        )
    norm_m = np.linalg.norm(K_m)
    if norm_m == 0:
        raise ZeroKernelError(
            "K_m is exactly zero (every entry is 0.0), so the cosine distance is undefined."
        )
    return float(1.0 - np.vdot(K_m, K_inf) / (norm_m * norm_inf))


# Applied by assignment, not with @-syntax, which is the same thing at runtime: mutmut 3 skips
# decorated functions, and this keeps the function body in its reach (docs/testing.rst).
ntk_distance = validate_params(
    {
        "K_m": ["array-like"],
        "K_inf": ["array-like"],
        "metric": [StrOptions({"frobenius", "cosine"})],
    },
    prefer_skip_nested_validation=True,
)(ntk_distance)


def _readout_trained(module):
    return isinstance(module.A, nn.Parameter) and module.A.requires_grad


def _forward_float64(module, Z):
    """Network outputs on ``Z`` (n, C), computed in float64 on a copy of the module."""
    net = copy.deepcopy(module).to(dtype=torch.float64).eval()
    device = next(net.parameters()).device
    with torch.no_grad():
        out = net(torch.tensor(Z, dtype=torch.float64, device=device))
    return out.cpu().numpy().reshape(Z.shape[0], -1)


def _ntk_regression(module, Z_train, targets, Z_eval, alpha):
    """Kernel ridge regression with the module's Θ∞ (KernelRidge, precomputed kernel)."""
    params = {"train_readout": _readout_trained(module), "sigma_w": module.sigma_w}
    K_train = infinite_width_ntk(Z_train, **params)
    K_eval = infinite_width_ntk(Z_eval, Z_train, **params)
    krr = KernelRidge(alpha=alpha, kernel="precomputed").fit(K_train, targets)
    return krr.predict(K_eval).reshape(Z_eval.shape[0], -1)


def _norm(A):
    """``‖A‖_F`` without intermediate overflow or underflow (power-of-two rescaling)."""
    A, e = scale_by_pow2(np.asarray(A))
    with np.errstate(over="ignore"):
        return float(np.ldexp(np.linalg.norm(A), e))


def _distance(f_m, f_ntk, normalize):
    for name, f in (("the network's outputs", f_m), ("the NTK predictor", f_ntk)):
        if not np.all(np.isfinite(f)):
            raise ValueError(
                f"{name} on X_eval are not finite (they overflowed float64); rescale the inputs, "
                "e.g. with sklearn.preprocessing.Normalizer."
            )
    with np.errstate(over="ignore"):
        difference = f_m - f_ntk
    if not np.all(np.isfinite(difference)):
        raise ValueError(
            "f_m − f_NTK overflows float64 on X_eval; rescale the inputs, e.g. with "
            "sklearn.preprocessing.Normalizer."
        )
    if normalize:
        if not np.any(f_ntk):
            raise ValueError(
                "The NTK predictor is exactly zero on X_eval, so the relative distance is "
                "undefined; use normalize=False."
            )
        # the ratio of two norms, each computed at its own power-of-two scale
        f_d, e_d = scale_by_pow2(difference)
        f_n, e_n = scale_by_pow2(np.asarray(f_ntk))
        with np.errstate(over="ignore", under="ignore"):
            return float(np.ldexp(np.linalg.norm(f_d) / np.linalg.norm(f_n), e_d - e_n))
    distance = _norm(difference)
    if not np.isfinite(distance):
        raise ValueError(
            "‖f_m − f_NTK‖ overflows float64 on X_eval; rescale the inputs, or pass "
            "normalize=True for the relative distance."
        )
    return distance


def function_space_distance(fitted_model, X_train, y_train, X_eval, *, alpha=1e-3, normalize=False):
    """Distance between a network's outputs and kernel ridge regression with its infinite-width NTK.

    ``‖f_m(X_eval) − f_NTK(X_eval)‖₂`` (arXiv 2603.13085, Fig. 1, Table 1): ``f_m`` is the network's
    raw output and ``f_NTK`` kernel ridge regression (:class:`~sklearn.kernel_ridge.KernelRidge`,
    ``kernel="precomputed"``) with the infinite-width NTK ``Θ∞`` of the same network (same
    ``train_readout`` and ``sigma_w``), fitted on ``X_train`` and the targets as the network was
    trained on them. Both are computed on the network's input features, i.e. after a pipeline's
    transformers. ``f_NTK`` is the infinite-width network's prediction only for squared loss under
    gradient flow; for a network trained with Adam or cross-entropy it is the paper's reference
    point, not the network's limit.

    Parameters
    ----------
    fitted_model : fitted estimator, fitted Pipeline or TwoLayerReLU
        A fitted ``TwoLayerReLUClassifier``/``TwoLayerReLURegressor``, or a fitted pipeline
        ending in one (its transformers are applied to ``X_train`` and ``X_eval`` first), or a
        bare :class:`~sklearn_attnkernel.TwoLayerReLU` module.
    X_train : array-like of shape (n_samples, n_features)
        Training inputs of the model (in the pipeline's input space). For an estimator or
        pipeline, `X_train` and `X_eval` are checked as ``predict`` checks its input: a
        DataFrame must have the columns of ``fit``, in the same order.
    y_train : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Training targets. For an estimator or pipeline they are encoded with its
        ``encode_targets`` (±1 for binary MSE, one-hot for multi-class, …), exactly as the
        network was trained. For a bare module they are used as given (numbers, one column per
        network output).
    X_eval : array-like of shape (n_eval, n_features)
        Points where the two functions are compared.
    alpha : float, default=1e-3
        Ridge of the kernel regression (the paper's kernel ridge regression uses λ = 1e-3).
    normalize : bool, default=False
        If True, divide by ``‖f_NTK(X_eval)‖₂`` to get a relative, scale-free distance (ours).

    Returns
    -------
    distance : float
        The plain ℓ2 (Frobenius) norm of the ``(n_eval, n_outputs)`` difference over all
        evaluation points and outputs, not averaged, as in the paper's Fig. 1; so it grows like
        ``√n_eval`` for a fixed per-point error. Divided by ``‖f_NTK(X_eval)‖₂`` when
        ``normalize=True``.

    See Also
    --------
    ntk_width_sweep : This distance across widths and seeds.

    Notes
    -----
    ``f_NTK`` has no offset: it is the kernel regressor of the targets, not of the residual of
    the network at initialisation. So for an untrained network the distance measures
    ``‖f_0 − f_NTK‖``, which does not vanish with width (``f_0`` is a random function of order 1
    at every width). The network's outputs are computed in float64 on a copy of its module.

    The distance is magnitude-sensitive. A multi-class network trained with cross-entropy
    outputs logits, which keep growing during training and are not on the scale of the one-hot
    targets that ``f_NTK`` fits: on digits (300 images, 30 Adam epochs at lr 1e-2) the logits'
    RMS reached 2.9 at width 4096 against 0.32 for the targets, so the distance grew with width.
    For a scale-comparable distance train with a squared loss (``task="regression"`` on one-hot
    targets, or ``binary_loss="mse"``).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_attnkernel import TwoLayerReLU, function_space_distance
    >>> _ = torch.manual_seed(0)
    >>> net = TwoLayerReLU(n_features=2, width=16)
    >>> X = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> y = np.array([1.0, 0.0, -1.0])
    >>> function_space_distance(net, X, y, X) > 0
    True
    """
    transformer, estimator, module = unwrap_model(fitted_model)
    if not isinstance(module, TwoLayerReLU):
        raise TypeError(
            f"function_space_distance needs a TwoLayerReLU network (its Θ∞ is known in closed "
            f"form), got {type(module).__name__}."
        )
    if estimator is not None:  # held to the columns of fit, as predict holds its input
        X_train, X_eval = (
            with_fit_columns(fitted_model, check_input_space(fitted_model, X, input_name=name))
            for X, name in ((X_train, "X_train"), (X_eval, "X_eval"))
        )
    check_consistent_length(X_train, y_train)
    if estimator is not None:
        targets = np.asarray(estimator.encode_targets(y_train), dtype=np.float64)
    else:
        targets = check_array(y_train, dtype=np.float64, ensure_2d=False, input_name="y_train")
    targets = targets.reshape(targets.shape[0], -1)
    if targets.shape[1] != module.n_outputs:
        raise ValueError(
            f"y_train gives {targets.shape[1]} target column(s) but the network has "
            f"{module.n_outputs} output(s); pass one target column per output."
        )
    Z_train, Z_eval = X_train, X_eval
    if transformer is not None:
        Z_train, Z_eval = transformer.transform(X_train), transformer.transform(X_eval)
    Z_train = check_array(Z_train, dtype=np.float64, input_name="X_train")
    Z_eval = check_array(Z_eval, dtype=np.float64, input_name="X_eval")
    for name, Z in (("X_train", Z_train), ("X_eval", Z_eval)):
        if Z.shape[1] != module.n_features:
            raise ValueError(
                f"{name} gives {Z.shape[1]} features but the network expects "
                f"{module.n_features}; pass the data the model was fitted on."
            )
    f_ntk = _ntk_regression(module, Z_train, targets, Z_eval, alpha)
    return _distance(_forward_float64(module, Z_eval), f_ntk, normalize)


# Applied by assignment, not with @-syntax, which is the same thing at runtime: mutmut 3 skips
# decorated functions, and this keeps the function body in its reach (docs/testing.rst).
function_space_distance = validate_params(
    {
        "fitted_model": "no_validation",
        "X_train": ["array-like"],
        "y_train": ["array-like"],
        "X_eval": ["array-like"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "normalize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)(function_space_distance)


def _sequence(name, value, allowed=None):
    """Validate a non-empty sequence of unique items (strings from ``allowed`` or integers)."""
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a non-empty sequence, got {value!r}.")
    items = list(value)
    if not items:
        raise ValueError(f"{name} must be a non-empty sequence, got {value!r}.")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} has duplicates: {value!r}; list each value once.")
    if allowed is not None:
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise ValueError(f"{name} has unknown value(s) {unknown!r}; choose from {allowed}.")
    return items


def _check_sweep_grid(widths, seeds, stages, metrics):
    """Validated lists of the sweep's widths, seeds, stages and metrics."""
    widths = _sequence("widths", widths)
    for width in widths:
        if isinstance(width, bool) or not isinstance(width, Integral) or width < 1:
            raise ValueError(f"widths must hold integers >= 1, got {width!r} in {widths!r}.")
    seeds = _sequence("seeds", seeds)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise ValueError(f"seeds must hold integers >= 0, got {seed!r} in {seeds!r}.")
    stages = _sequence("stages", stages, _STAGES)
    metrics = _sequence("metrics", metrics, _METRICS + _FIT_METRICS)
    fit = [m for m in metrics if m in _FIT_METRICS]
    if fit and "trained" not in stages:
        raise ValueError(
            f"metrics {fit} describe the trained network: add 'trained' to stages or drop them."
        )
    return widths, seeds, stages, metrics


def _check_sweep_data(X, y, X_eval, y_eval=None):
    """Validated ``(X, y, X_eval, y_eval)``; ``X_eval`` and ``y_eval`` default to ``X``, ``y``."""
    X = check_array(X, dtype=np.float64, input_name="X")
    y = np.asarray(y)
    check_consistent_length(X, y)
    X_eval = X if X_eval is None else check_array(X_eval, dtype=np.float64, input_name="X_eval")
    if X_eval.shape[1] != X.shape[1]:
        raise ValueError(
            f"X_eval has {X_eval.shape[1]} features but X has {X.shape[1]}; pass points from the "
            "same input space."
        )
    if y_eval is None:
        return X, y, X_eval, (y if X_eval is X else None)
    y_eval = np.asarray(y_eval)
    if y_eval.shape[:1] != X_eval.shape[:1]:
        raise ValueError(
            f"y_eval has {y_eval.shape[:1] or 'no'} rows but X_eval has {X_eval.shape[0]}; pass "
            "the targets of the evaluation points, one per row."
        )
    return X, y, X_eval, y_eval


def _make_pipeline(architecture, **params):
    from ..networks.pipelines import make_mlp_attn, make_two_layer_relu

    attention = ATTENTION_OF_ARCHITECTURE.get(architecture)
    if attention is None:
        return make_two_layer_relu(**params)
    return make_mlp_attn(attention=attention, **params)


def _converged(estimator, losses):
    """1.0 when the estimator's stop at convergence fired, 0.0 when it did not, NaN without
    one (``tol=None``)."""
    if estimator.tol is None:
        return float("nan")
    return float(convergence_epoch(losses, estimator.tol, estimator.n_iter_no_change) is not None)


def _fit_rows(model, X, y, X_eval, y_eval, metrics):
    """The fit metrics of one trained network: its score (``model.score``: accuracy for a
    classifier, R² for a regressor) on the training and evaluation points, the training loss
    of its last epoch, the epochs it trained and whether its stop at convergence fired."""
    estimator = model[-1]
    losses = [float(epoch["train_loss"]) for epoch in estimator.history_]
    values = {
        "train_score": lambda: model.score(X, y),
        "eval_score": lambda: model.score(X_eval, y_eval),
        "train_loss": lambda: losses[-1],
        "epochs_used": lambda: len(losses),
        "converged": lambda: _converged(estimator, losses),
    }
    return [("trained", m, float(values[m]())) for m in metrics if m in _FIT_METRICS]


def _sweep_one(architecture, width, seed, data, stages, metrics, alpha, mlp_params):
    """Fit one (width, seed) model and return its rows of the sweep table."""
    X, y, X_eval, y_eval = data
    params = dict(mlp_params)
    if stages == ["init"]:
        params["max_epochs"] = 0  # nothing to train: the network at initialisation suffices
    model = _make_pipeline(architecture, width=width, random_state=seed, **params)
    model.fit(X, y)
    transformer, estimator = model[:-1], model[-1]
    Z = check_array(transformer.transform(X), dtype=np.float64)
    module = estimator.net_.module_
    kernel_params = {"train_readout": _readout_trained(module), "sigma_w": module.sigma_w}
    K_inf = (
        infinite_width_ntk(Z, **kernel_params) if {"frobenius", "cosine"} & set(metrics) else None
    )
    if "function" in metrics:
        Z_eval = check_array(transformer.transform(X_eval), dtype=np.float64)
        targets = np.asarray(estimator.encode_targets(y), dtype=np.float64)
        f_ntk = _ntk_regression(module, Z, targets.reshape(Z.shape[0], -1), Z_eval, alpha)
    rows = []
    distances = [m for m in metrics if m in _METRICS]
    for stage in stages if distances else ():
        net = initial_module(estimator) if stage == "init" else module
        if K_inf is not None:
            K_m = empirical_ntk(net, Z, method="analytic", device="cpu")
        for metric in distances:
            if metric == "function":
                value = _distance(_forward_float64(net, Z_eval), f_ntk, normalize=False)
            else:
                value = ntk_distance(K_m, K_inf, metric=metric)
            rows.append((architecture, width, seed, stage, metric, value))
    fit = _fit_rows(model, X, y, X_eval, y_eval, metrics)
    rows += [(architecture, width, seed, *row) for row in fit]
    logger.debug("sweep %s width=%d seed=%d done", architecture, width, seed)
    return rows


def ntk_width_sweep(
    architecture,
    X,
    y,
    *,
    widths=(16, 64, 256, 1024, 4096),
    seeds=(0, 1, 2),
    stages=("init", "trained"),
    metrics=("frobenius", "cosine", "function"),
    X_eval=None,
    y_eval=None,
    alpha=1e-3,
    n_jobs=None,
    **mlp_params,
):
    """NTK distances to the infinite-width limit across widths, seeds and training stages.

    For every ``(width, seed)`` a pipeline of the chosen architecture is fitted on ``(X, y)``
    and compared with the infinite-width NTK ``Θ∞`` on its input features (after the pipeline's
    transformers): the kernel metrics of :func:`ntk_distance` on the training set, and the
    function-space distance of :func:`function_space_distance` on ``X_eval``. The fits run in
    parallel with :class:`joblib.Parallel` over ``(width, seed)``.

    Parameters
    ----------
    architecture : {"relu", "attention", "softmax", "exponential"}
        ``"relu"``: :func:`~sklearn_attnkernel.make_two_layer_relu` (2L-ReLU);
        ``"attention"``, ``"softmax"``, ``"exponential"``:
        :func:`~sklearn_attnkernel.make_mlp_attn` with linearized, softmax or exponential
        attention (MLP-Attn and its Appendix A.13 variants).
    X : array-like of shape (n_samples, n_features)
        Training inputs.
    y : array-like of shape (n_samples,)
        Training targets.
    widths : sequence of int, default=(16, 64, 256, 1024, 4096)
        Hidden widths ``m``, each ≥ 1.
    seeds : sequence of int, default=(0, 1, 2)
        Values of ``random_state`` for the networks.
    stages : sequence of {"init", "trained"}, default=("init", "trained")
        ``"init"``: the network at initialisation (its ``initial_params_``); ``"trained"``: the
        fitted network. With only ``"init"`` the networks are built with ``max_epochs=0``.
    metrics : sequence of {"frobenius", "cosine", "function", "train_score", "eval_score", \
"train_loss", "epochs_used", "converged"}, default=("frobenius", "cosine", "function")
        Which distances to record (see :func:`ntk_distance`, :func:`function_space_distance`),
        and how each trained network fits: ``"train_score"`` and ``"eval_score"`` are
        the pipeline's ``score`` (accuracy for ``task="classification"``, R² for regression) on
        ``(X, y)`` and ``(X_eval, y_eval)``, ``"train_loss"`` the training loss of its last
        epoch, ``"epochs_used"`` the epochs it trained (``len(history_)``) and ``"converged"``
        1.0 when its stop at convergence (``tol``, ``n_iter_no_change``) fired, 0.0 when it
        trained all ``max_epochs`` without, NaN with ``tol=None``. These five need
        ``"trained"`` in ``stages`` and get one row per network, at that stage.
    X_eval : array-like of shape (n_eval, n_features), default=None
        Points for the function-space distance and ``"eval_score"``; ``None`` uses ``X``.
    y_eval : array-like of shape (n_eval,), default=None
        Targets of ``X_eval``, needed by ``"eval_score"`` when ``X_eval`` is given; ``None``
        with ``X_eval=None`` uses ``y``.
    alpha : float, default=1e-3
        Ridge of the NTK kernel regression of the function-space distance (ours: an addition
        to the documented signature, so the ridge can be changed).
    n_jobs : int, default=None
        Number of joblib workers over ``(width, seed)``; ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context.
    **mlp_params : dict
        Passed to the pipeline factory (``task``, ``lr``, ``max_epochs``, ``sigma_w``,
        ``train_readout``, ``reg_lambda``, …). ``width`` and ``random_state`` are set by the
        sweep and ``attention`` by ``architecture``: passing them raises a ValueError.

    Returns
    -------
    results : pandas.DataFrame
        Tidy table with columns ``architecture`` (str), ``width`` (int), ``seed`` (int),
        ``stage`` (str), ``metric`` (str) and ``value`` (float), one row per combination, in the
        order widths × seeds × stages × metrics.

    See Also
    --------
    ntk_distance : The kernel metrics, on one pair of kernels.
    function_space_distance : The function metric, for one fitted network.
    empirical_ntk : The finite-width kernel Θ_m.
    infinite_width_ntk : The closed-form kernel Θ∞.

    Notes
    -----
    The kernel metrics cost one ``n × n`` empirical NTK per (width, seed, stage); keep ``n`` to a
    few thousand. Distances are not averaged: aggregate the table with ``groupby``. The kernel
    metrics are computed on the training inputs ``X``. See :func:`function_space_distance` for
    what the ``"function"`` metric means at initialisation and for cross-entropy-trained
    networks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import ntk_width_sweep
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(20, 3)), np.repeat([0, 1], 10)
    >>> table = ntk_width_sweep("relu", X, y, widths=[8, 32], seeds=[0], stages=["init"],
    ...                         metrics=["frobenius"])
    >>> table[["width", "stage", "metric"]].values.tolist()
    [[8, 'init', 'frobenius'], [32, 'init', 'frobenius']]
    """
    widths, seeds, stages, metrics = _check_sweep_grid(widths, seeds, stages, metrics)
    reserved = sorted({"width", "random_state", "attention"} & set(mlp_params))
    if reserved:
        raise ValueError(
            f"{reserved} cannot be passed through **mlp_params: the sweep sets width and "
            "random_state itself, and architecture chooses the attention."
        )
    X, y, X_eval, y_eval = _check_sweep_data(X, y, X_eval, y_eval)
    if "eval_score" in metrics and y_eval is None:
        raise ValueError("metrics=['eval_score'] with X_eval needs its targets: pass y_eval.")
    # build (and validate) one pipeline before any fit, so a bad parameter fails fast
    probe = _make_pipeline(
        architecture, width=int(widths[0]), random_state=int(seeds[0]), **mlp_params
    )
    final = probe[-1]
    if hasattr(final, "_validate_params"):
        final._validate_params()

    jobs = (
        delayed(_sweep_one)(
            architecture,
            int(width),
            int(seed),
            (X, y, X_eval, y_eval),
            stages,
            metrics,
            alpha,
            mlp_params,
        )
        for width in widths
        for seed in seeds
    )
    results = Parallel(n_jobs=n_jobs)(jobs)
    table = pd.DataFrame([row for rows in results for row in rows], columns=_SWEEP_COLUMNS)
    return table.astype({"width": "int64", "seed": "int64", "value": "float64"})


# Applied by assignment, not with @-syntax, which is the same thing at runtime: mutmut 3 skips
# decorated functions, and this keeps the function body in its reach (docs/testing.rst).
ntk_width_sweep = validate_params(
    {
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "X": ["array-like"],
        "y": ["array-like"],
        "widths": "no_validation",
        "seeds": "no_validation",
        "stages": "no_validation",
        "metrics": "no_validation",
        "X_eval": ["array-like", None],
        "y_eval": ["array-like", None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)(ntk_width_sweep)
