"""Exact leave-one-out influence of a fitted network's training points (arXiv 2603.13085, Def 3.3).

:func:`influence_scores` glues together what the package already has: the pipeline's transformers
give the network's input features, :func:`~sklearn_attnkernel.empirical_ntk` (the trained
network's kernel) or :func:`~sklearn_attnkernel.infinite_width_ntk` (its infinite-width limit)
gives the kernel on those features, the network's own :meth:`encode_targets` gives the real
targets, and :func:`~sklearn_attnkernel.loo_influence` gives the exact leave-one-out influence of
kernel ridge regression with that kernel. Nothing is re-derived here.
"""

import functools
import logging
import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array

from .._utils.input_space import check_input_space, with_fit_columns
from ..attention.transformers import LinearizedAttention, SoftmaxAttention
from .attribution_params import ATTRIBUTION_METHODS, check_method_params
from .health import ON_NEAR_CHANCE, check_training_skill
from .loo import loo_influence

logger = logging.getLogger(__name__)

__all__ = ["influence_scores"]

# Rows per kernel block with backend="dask" and chunk_size=None (loo_influence's default).
_CHUNK_SIZE = 2048

#: Pipeline steps that hold a transductive reference set and are re-fitted on a new ``X_train``.
_TRANSDUCTIVE_STEPS = (LinearizedAttention, SoftmaxAttention)


def split_network(estimator):
    """Return ``(transformer steps, final network)`` of a fitted network or pipeline.

    Raises ``NotFittedError`` for an unfitted estimator and ``TypeError`` for anything that is not
    one of our networks or a pipeline ending in one.
    """
    # Imported here: the empirical-NTK module imports torch.
    from ..networks.modules import unwrap_model

    try:
        _, final, _ = unwrap_model(estimator)
    except TypeError:
        final = None
    if final is None:
        raise TypeError(
            "estimator must be a fitted TwoLayerReLUClassifier/TwoLayerReLURegressor or a fitted "
            f"Pipeline ending in one (e.g. from make_mlp_attn); got {type(estimator).__name__}."
        )
    steps = []
    if isinstance(estimator, Pipeline):
        steps = [step for _, step in estimator.steps[:-1] if step not in (None, "passthrough")]
    return steps, final


def check_pair(X, y, X_name, y_name):
    n_y = np.shape(y)[0] if np.ndim(y) > 0 else 0
    if X.shape[0] != n_y:
        raise ValueError(
            f"{X_name} has {X.shape[0]} rows but {y_name} has {n_y} entries; pass one target per "
            "row."
        )


def network_features(steps, X_test, X_train):
    """Input features of the network for the test rows and, if given, the training rows.

    Without ``X_train`` every step keeps its fitted state. With it, each attention step is
    replaced by a clone fitted on the training rows as they reach that step (the new reference
    set); every other step keeps its fitted state.
    """
    F_test, F_train = X_test, X_train
    for step in steps:
        if F_train is not None and isinstance(step, _TRANSDUCTIVE_STEPS):
            step = clone(step).fit(F_train)
        F_test = step.transform(F_test)
        if F_train is not None:
            F_train = step.transform(F_train)
    return F_test, F_train


def network_kernel(final, F, F_other=None, *, kernel="empirical", device=None):
    """The kernel of the fitted network ``final`` between feature rows ``F`` and ``F_other``.

    ``"empirical"``: its empirical NTK (:func:`~sklearn_attnkernel.empirical_ntk`, averaged over
    the outputs, computed on ``device`` when that is a GPU); ``"infinite"``: the infinite-width
    NTK with its ``train_readout`` and ``sigma_w``. ``F_other=None`` gives the symmetric kernel
    of ``F`` with itself.
    """
    module = final.net_.module_
    if kernel == "empirical":
        from ..ntk.empirical import empirical_ntk

        on_gpu = device is not None and str(device) != "cpu"
        return empirical_ntk(module, F, F_other, device=device if on_gpu else None)
    from ..kernels.ntk import infinite_width_ntk

    return infinite_width_ntk(F, F_other, **_infinite_params(module))


def _infinite_params(module):
    return {"train_readout": bool(module.train_readout), "sigma_w": float(module.sigma_w)}


def _kernels(final, F_train, F_test, kernel, backend, chunk_size, device):
    """``(K_train, K_test)``: the training kernel in blocks (a dask array) with ``"dask"``."""
    K_test = network_kernel(final, F_test, F_train, kernel=kernel, device=device)
    if backend != "dask":
        return network_kernel(final, F_train, kernel=kernel, device=device), K_test
    module = final.net_.module_
    if kernel == "empirical":
        from ..ntk.blocked import empirical_ntk_blocks

        return empirical_ntk_blocks(module, F_train, chunk_size or _CHUNK_SIZE), K_test
    from ..kernels.ntk import infinite_width_ntk
    from ..ntk.blocked import kernel_blocks

    params = _infinite_params(module)
    block = functools.partial(infinite_width_ntk, **params)
    token = f"infinite_width_ntk-{sorted(params.items())}"
    return kernel_blocks(block, F_train, chunk_size or _CHUNK_SIZE, token=token), K_test


def network_inputs(estimator, X_test, y_test, X_train, y_train, on_near_chance):
    """``(network, F_test, y_test, F_train, y_train)``: validated features at the network.

    ``F_*`` are float64 features of the rows as they reach the fitted network (see
    :func:`influence_scores`, Notes); without ``X_train`` they are the network's stored training
    features and labels.
    """
    steps, final = split_network(estimator)
    if (X_train is None) != (y_train is None):
        given, missing = ("X_train", "y_train") if y_train is None else ("y_train", "X_train")
        raise ValueError(
            f"{given} was given without {missing}; pass both (a new training set) or neither "
            "(the training set the network was fitted on)."
        )
    X_test = check_input_space(estimator, X_test, input_name="X_test")
    check_training_skill(final, on_near_chance, "influence_scores")
    check_pair(X_test, y_test, "X_test", "y_test")
    if X_train is not None:
        X_train = check_input_space(
            estimator, X_train, input_name="X_train", role="the training set"
        )
        check_pair(X_train, y_train, "X_train", "y_train")

    # the pipeline's steps see the validated rows labelled as in fit (no "feature names" warning)
    X_test = with_fit_columns(estimator, X_test)
    X_train = None if X_train is None else with_fit_columns(estimator, X_train)
    F_test, F_train = network_features(steps, X_test, X_train)
    if F_train is None:
        F_train, y_train = final.X_fit_, final.y_fit_
    F_test = check_array(F_test, dtype=np.float64, input_name="X_test")
    F_train = check_array(F_train, dtype=np.float64, input_name="X_train")
    # reached when the pipeline has no n_features_in_ to check the raw input against (e.g. its
    # first step is "passthrough"); a wrong X_train would else fail inside the kernel
    for name, F in (("X_test", F_test), ("X_train", F_train)):
        if F.shape[1] != final.n_features_in_:
            raise ValueError(
                f"{name} gives {F.shape[1]} features at the network but it was fitted on "
                f"{final.n_features_in_}; pass {name} in the estimator's input space."
            )
    return final, F_test, y_test, F_train, y_train


def _check_method(method, method_params, exact_options):
    """Validate ``method_params`` and the options that only ``method="exact"`` takes.

    ``exact_options`` maps each such option's name to ``(value, default)``.
    """
    if method == "exact":
        if method_params is not None:
            raise ValueError(
                "method_params is for the dattri methods (e.g. method='trak'); method='exact' "
                f"takes none, got method_params={method_params!r}. Use alpha and kernel."
            )
        return
    check_method_params(method, method_params)
    for name, (value, default) in exact_options.items():
        if value != default:
            raise ValueError(
                f"{name}={value!r} applies to method='exact' only; method={method!r} attributes "
                f"the trained network's own training loss. Leave {name} at {default!r}."
            )


def influence_scores(
    estimator,
    X_test,
    y_test,
    *,
    X_train=None,
    y_train=None,
    kernel="empirical",
    alpha=1e-3,
    loss="squared",
    reduce="mean",
    return_condition=False,
    on_near_chance="warn",
    backend="numpy",
    chunk_size=None,
    spill_dir=None,
    device=None,
    method="exact",
    method_params=None,
):
    """Influence of each training point of a fitted network: exact, or by a practitioners' method.

    The network is replaced by kernel ridge regression with its neural tangent kernel on its own
    input features, fitted to the targets it was trained on, and the influence of training point
    ``i`` on a test pair ``(x, y)`` is ``I_i(x) = ℓ(f_{−i}(x), y) − ℓ(f(x), y)`` (positive =
    helpful), computed exactly by :func:`~sklearn_attnkernel.loo_influence` (arXiv 2603.13085, Def
    3.3).

    Parameters
    ----------
    estimator : estimator instance
        A fitted :class:`~sklearn_attnkernel.TwoLayerReLUClassifier` or
        :class:`~sklearn_attnkernel.TwoLayerReLURegressor`, or a fitted
        :class:`~sklearn.pipeline.Pipeline` ending in one (e.g. from
        :func:`~sklearn_attnkernel.make_two_layer_relu` or
        :func:`~sklearn_attnkernel.make_mlp_attn`). It is not modified.
    X_test : array-like of shape (n_test, n_features)
        Test inputs, in the estimator's input space (before the pipeline's transformers). A
        DataFrame must have the columns the estimator was fitted on, in the same order, as for
        ``predict`` (see Notes).
    y_test : array-like of shape (n_test,) or (n_test, n_outputs)
        Test labels (classifier) or targets (regressor).
    X_train : array-like of shape (n_train, n_features), default=None
        Training inputs in the estimator's input space. ``None`` uses the training set the
        network was fitted on (see Notes). When given, the influence is that of these points
        under the *same* trained network, with transductive steps re-fitted on them (see Notes);
        e.g. a perturbed copy of the training set.
    y_train : array-like of shape (n_train,) or (n_train, n_outputs), default=None
        Labels of ``X_train``; required with ``X_train``, and only allowed with it.
    kernel : {"empirical", "infinite"}, default="empirical"
        ``"empirical"``: the trained network's empirical NTK ``Θ_m``
        (:func:`~sklearn_attnkernel.empirical_ntk`, averaged over the outputs).
        ``"infinite"``: the infinite-width NTK
        (:func:`~sklearn_attnkernel.infinite_width_ntk`) with the network's ``train_readout``
        and ``sigma_w``.
    alpha : float, default=1e-3
        Ridge ``α > 0`` of the kernel ridge regression (the paper's λ = 1e-3).
    loss : {"squared", "cross_entropy"}, default="squared"
        Loss on the kernel-ridge outputs; see :func:`~sklearn_attnkernel.loo_influence`.
    reduce : {"mean"} or None, default="mean"
        ``"mean"`` averages over the test points; ``None`` returns the full matrix.
    return_condition : bool, default=False
        Also return the condition number of the kernel ridge system (see Returns).
    on_near_chance : {"warn", "raise", "ignore"}, default="warn"
        What to do when the network is near chance on its own training set (training accuracy
        at most 10 % of the way from the majority-class share to 1, or training R² ≤ 0.1; see
        :func:`~sklearn_attnkernel.influence.health.training_skill`): its scores then mean
        nothing. ``"warn"`` emits a
        :class:`~sklearn_attnkernel.influence.health.NearChanceWarning` with the measured
        score and the chance level, ``"raise"`` raises a
        :class:`~sklearn_attnkernel.influence.health.NearChanceError` (a ``ValueError``),
        ``"ignore"`` skips the check.
    backend : {"numpy", "dask"}, default="numpy"
        ``"dask"``: the training kernel is built in ``chunk_size × chunk_size`` blocks
        (:func:`~sklearn_attnkernel.ntk.blocked.empirical_ntk_blocks`, or blocks of the
        infinite-width kernel) and factorised in blocks on the active Dask scheduler, never
        whole in memory; see :func:`~sklearn_attnkernel.loo_influence` and :ref:`dask`.
    chunk_size : int, default=None
        ``backend="dask"`` only: rows per block (``None``: 2048).
    spill_dir : str or path-like, default=None
        ``backend="dask"`` only: folder for the zarr stores of the kernel and its factor; see
        :func:`~sklearn_attnkernel.loo_influence`.
    device : str, default=None
        A CUDA device (e.g. ``"cuda"``) factorises on that GPU with torch in float64 (and
        computes the empirical kernel there); ``None`` uses LAPACK (and the network's device).
    method : {"exact", "trak", "ekfac", "datainf", "arnoldi", "tracin", "if-explicit"}, \
            default="exact"
        ``"exact"``: the closed-form leave-one-out influence of kernel ridge regression with the
        network's kernel (above; ``kernel``, ``alpha``, ``loss`` and ``return_condition``
        apply to it only). The others run the influence method of that name from the
        `dattri <https://github.com/TRAIS-Lab/dattri>`_ library (the optional ``[audit]``
        extra, ``pip install "sklearn-attnkernel[audit]"``) on the trained network itself,
        attributing its own training criterion on the test points (cross-entropy for several
        classes, as it was trained): see :mod:`sklearn_attnkernel.influence.attribution` and
        :ref:`audit` for what each computes and costs. Same shape and sign: positive =
        helpful.
    method_params : dict or None, default=None
        Settings of a dattri ``method``; a key it does not take raises ``ValueError``. Defaults
        (dattri's, except the damping marked *ours*: dattri's 0.0 leaves the inverted matrix
        singular when the network has more parameters than training points):

        - ``"trak"``: ``proj_dim=512``, ``proj_seed=0``, ``proj_type="normal"``
          (or ``"rademacher"``), ``regularization=1e-3`` *(ours)*, added to ``Φᵀ Φ``.
        - ``"ekfac"``: ``damping=1e-3`` *(ours)*, added to the corrected eigenvalues.
        - ``"datainf"``: ``regularization=0.1`` (dattri's value when it is not given),
          ``fim_estimate_data_ratio=1.0``.
        - ``"arnoldi"``: ``proj_dim=100``, ``max_iter=100``, ``tol=1e-7``,
          ``regularization=1e-3`` *(ours)*, ``seed=0``, ``precompute_data_ratio=1.0``; its
          eigenspace is computed in float64 with full reorthogonalisation and keeps only
          positive eigenvalues (dattri's float32 iteration returned NaN on these networks;
          ``norm_constant``, which rescales dattri's float32 basis, is not taken).
        - ``"tracin"``: ``proj_dim=512``, ``proj_seed=0``, ``proj_type="normal"``,
          ``learning_rate=None`` (the network's ``lr``), ``normalized_grad=False``
          (``True`` gives TracIn-Cos).
        - ``"if-explicit"``: ``regularization=1e-3`` *(ours)*, added to the Hessian.

        Every method also takes ``checkpoints=None``: a list of the network's weights saved
        during training (:class:`~sklearn_attnkernel.networks.callbacks.RecordCheckpoints`,
        read back with :func:`~sklearn_attnkernel.networks.callbacks.recorded_checkpoints`);
        the scores are then the mean of the scores at each checkpoint's weights (checkpoint
        ensembling, *ours*: one averaging rule for every method).

    Returns
    -------
    influence : ndarray of shape (n_train,) or (n_test, n_train)
        Influence of each training point, averaged over the test points or per test point
        (float64).
    condition : float
        LAPACK's estimate (``dpocon``) of the 1-norm condition number of ``K_train + αI``,
        from the factorisation the scores were computed with
        (:func:`~sklearn_attnkernel.loo_influence`). Only returned when
        ``return_condition=True``, as ``(influence, condition)``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    TypeError
        If the estimator is not one of our networks or a pipeline ending in one, or
        ``X_test`` or ``X_train`` is sparse (densify it with ``.toarray()``).
    ValueError
        If the shapes disagree, a set is empty, the column names or their order differ from
        those seen in ``fit``, or only one of ``X_train`` and ``y_train`` is given.
    NumericalCheckError
        If the kernel ridge system fails a numerical check (e.g. a too small ``alpha``).
    NearChanceError
        With ``on_near_chance="raise"``, if the network is near chance on its training set.

    Warns
    -----
    NearChanceWarning
        With ``on_near_chance="warn"``, if the network is near chance on its training set.

    See Also
    --------
    loo_influence : The leave-one-out identity on a kernel matrix.
    empirical_ntk : The trained network's kernel.
    InfluenceMalleability : A scorer measuring how much an attack changes these scores.

    Notes
    -----
    **Features.** The kernel is evaluated on the network's input features: for a pipeline, the
    output of the steps before the network. With ``X_train=None`` the training features are the
    network's stored ``X_fit_`` and the labels its ``y_fit_``, i.e. exactly what it was trained
    on; a pipeline does not keep its raw input, and does not need to here.

    **Input space.** ``X_test`` and ``X_train`` are checked as ``predict`` checks its input
    (:func:`~sklearn.utils.validation.validate_data` with ``reset=False``): a DataFrame whose
    columns are those of ``fit`` in another order is refused with scikit-learn's message, never
    silently reordered; for a pipeline the names are those of its first step.

    **Transductive semantics of** ``X_train``. Attention steps
    (:class:`~sklearn_attnkernel.LinearizedAttention`,
    :class:`~sklearn_attnkernel.SoftmaxAttention`) use the training rows as their reference set,
    so for a new training set each of them is replaced by a clone with the same parameters,
    fitted on ``X_train`` as it reaches that step; the test rows are then transformed with that
    reference set too. Every other step (e.g. :class:`~sklearn.preprocessing.Normalizer`, a
    fitted :class:`~sklearn.preprocessing.StandardScaler`) and the network keep their fitted
    state. Passing the original training set reproduces ``X_train=None`` up to round-off.

    **Targets** are encoded as the network was trained: one-hot rows for several classes, a ±1
    column for two (``encode_targets``).

    **Cost.** One ``n_train × n_train`` kernel (the empirical one computes one triangle and
    mirrors it) and one ``n_test × n_train`` kernel, then one Cholesky factorisation of the
    training system: ``O((n + n_test) · n · (d + m))`` for the empirical kernel of width ``m``,
    plus ``O(n³)``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import make_mlp_attn
    >>> from sklearn_attnkernel.influence.estimators import influence_scores
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_mlp_attn(width=32, max_epochs=2, device="cpu", random_state=0).fit(X, y)
    >>> influence_scores(model, X[:5], y[:5]).shape
    (150,)
    >>> influence_scores(model, X[:5], y[:5], kernel="infinite", reduce=None).shape
    (5, 150)
    >>> scores, condition = influence_scores(model, X[:5], y[:5], return_condition=True)
    >>> bool(condition >= 1.0)
    True
    """
    exact_options = {
        "kernel": (kernel, "empirical"),
        "loss": (loss, "squared"),
        "return_condition": (return_condition, False),
        "backend": (backend, "numpy"),
        "chunk_size": (chunk_size, None),
        "spill_dir": (spill_dir, None),
        "device": (device, None),
    }
    _check_method(method, method_params, exact_options)
    final, F_test, y_test, F_train, y_train = network_inputs(
        estimator, X_test, y_test, X_train, y_train, on_near_chance
    )
    if method != "exact":
        from .attribution import attribution_scores

        scores = attribution_scores(
            final, F_train, y_train, F_test, y_test, method=method, method_params=method_params
        )
        return scores.mean(axis=0) if reduce == "mean" else scores
    Y_train = final.encode_targets(y_train)
    Y_test = final.encode_targets(y_test)

    K_train, K_test = _kernels(final, F_train, F_test, kernel, backend, chunk_size, device)
    logger.info(
        "influence_scores: %s kernel, n_train=%d, n_test=%d, %d features",
        kernel,
        F_train.shape[0],
        F_test.shape[0],
        F_train.shape[1],
    )
    return loo_influence(
        K_train,
        Y_train,
        K_test,
        Y_test,
        alpha=alpha,
        loss=loss,
        reduce=reduce,
        return_condition=return_condition,
        backend=backend,
        chunk_size=chunk_size,
        spill_dir=spill_dir,
        device=device,
    )


# Applied by assignment, not with @-syntax, which is the same thing at runtime: mutmut 3 skips
# decorated functions, and this keeps the function body in its reach (docs/testing.rst).
influence_scores = validate_params(
    {
        "estimator": "no_validation",
        "X_test": ["array-like", "sparse matrix"],
        "y_test": ["array-like"],
        "X_train": ["array-like", "sparse matrix", None],
        "y_train": ["array-like", None],
        "kernel": [StrOptions({"empirical", "infinite"})],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions({"squared", "cross_entropy"})],
        "reduce": [StrOptions({"mean"}), None],
        "return_condition": ["boolean"],
        "on_near_chance": [StrOptions(set(ON_NEAR_CHANCE))],
        "backend": [StrOptions({"numpy", "dask"})],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "spill_dir": [str, os.PathLike, None],
        "device": "no_validation",
        "method": [StrOptions({"exact", *ATTRIBUTION_METHODS})],
        "method_params": [dict, None],
    },
    prefer_skip_nested_validation=True,
)(influence_scores)
