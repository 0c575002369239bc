"""Attacks on the training points of a fitted model through its transductive attention.

The ℓ∞ attacks of :mod:`sklearn_attnkernel.attacks` maximise the fitted model's training loss
over the chosen training rows, differentiated through the torch mirror of the whole pipeline (the
attention's reference set moves with the attacked rows).
"""

import logging
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._utils.input_space import check_input_space
from .._utils.vocabulary import ATTACKS
from ..attacks.gradient_sign import check_clip, fgsm, mim, pgd
from ..networks.modules import unwrap_model
from ..networks.torch_mirror import TorchPipeline

logger = logging.getLogger(__name__)

__all__ = ["attack_training_points"]

_MODES = ("joint", "independent")


def _task_loss(estimator, y, dtype, device):
    """``loss(outputs) -> scalar``: the estimator's training loss, summed over rows (and outputs).

    The criterion is the one the network was trained with (``net_.criterion_``), on the targets
    encoded as in ``fit``: class indices for cross-entropy, ``encode_targets`` (±1 for a binary
    classifier, the values for a regressor) for squared error, ``{0, 1}`` for the binary logit.
    """
    criterion = estimator.net_.criterion_
    encoded = torch.as_tensor(estimator.encode_targets(y), dtype=dtype, device=device)
    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        target = encoded.argmax(dim=1)
        loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    elif isinstance(criterion, torch.nn.BCEWithLogitsLoss):
        target = (encoded + 1) / 2
        loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
    elif isinstance(criterion, torch.nn.MSELoss):
        target = encoded
        loss_fn = torch.nn.MSELoss(reduction="sum")
    else:  # pragma: no cover - our estimators use one of the three
        raise TypeError(
            f"The network was trained with {type(criterion).__name__}; attack_training_points "
            "supports CrossEntropyLoss, BCEWithLogitsLoss and MSELoss."
        )
    return lambda outputs, rows: loss_fn(outputs, target[rows])


def _attacked_loss(model, loss, X_full, rows):
    """Task loss of the training rows ``rows`` when the whole training matrix is ``X_full``.

    Attention steps rebuild their reference set from ``X_full``, so every row of ``X_full``
    (attacked or not) enters the loss through ``C(X_full)``.
    """
    reference = X_full if model.transductive else None
    return loss(model(X_full[rows], reference=reference))


def _seed(base, key):
    """An int seed that depends only on ``base`` and the row indices ``key``."""
    sequence = np.random.SeedSequence(base, spawn_key=tuple(int(k) for k in key))
    return int(sequence.generate_state(1)[0])


def _check_indices(indices, n_samples):
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(
            "indices must be a non-empty 1-D array of integer row indices into X_train (for a "
            f"boolean mask pass np.flatnonzero(mask)); got {idx!r:.200}."
        )
    out_of_range = idx[(idx < 0) | (idx >= n_samples)]
    if out_of_range.size:
        raise ValueError(
            f"indices holds {out_of_range[:10].tolist()}, outside [0, {n_samples}) for X_train "
            f"with {n_samples} rows; pass row indices 0 <= i < {n_samples}."
        )
    unique, counts = np.unique(idx, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"indices holds duplicates {unique[counts > 1][:10].tolist()}; each training point "
            "can be attacked once. Pass np.unique(indices)."
        )
    return idx.astype(np.int64)


def _check_clip_rows(rows, clip):
    """Validate the ``clip`` pair, and that the attacked rows of X_train lie inside it."""
    clip = check_clip(torch.zeros(0), clip)
    if clip is not None and rows.size and (rows.min() < clip[0] or rows.max() > clip[1]):
        raise ValueError(
            f"The rows of X_train to attack have values in [{rows.min():.4g}, {rows.max():.4g}], "
            f"outside clip={clip!r}: the attack could not stay in the clip range. Scale X_train "
            "into it first (e.g. pixels to [0, 1]) or widen clip."
        )
    return clip


@validate_params(
    {
        "estimator": "no_validation",
        "X_train": ["array-like", "sparse matrix"],
        "y_train": ["array-like"],
        "indices": ["array-like"],
        "method": [StrOptions(set(ATTACKS))],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "clip": [tuple, list, None],
        "mode": [StrOptions(set(_MODES))],
        "random_state": ["random_state"],
        "dtype": [StrOptions({"float32", "float64"})],
    },
    prefer_skip_nested_validation=True,
)
def attack_training_points(
    estimator,
    X_train,
    y_train,
    indices,
    *,
    method="pgd",
    epsilon=0.3,
    steps=40,
    step_size=0.01,
    clip=None,
    mode="joint",
    random_state=None,
    dtype="float64",
):
    """Perturb chosen training points to increase the trained model's loss on their labels.

    The objective is the task loss the network was trained with (cross-entropy for several
    classes, squared error on ±1 targets for a binary ``binary_loss="mse"`` classifier, the
    logistic loss for ``binary_loss="cross_entropy"``, squared error for the regressor), summed
    over the attacked points, computed through the whole pipeline in its input space (e.g.
    pixels). For a pipeline with an attention step (MLP-Attn) the attacked points are part of
    the attention reference set: the features are computed with the reference rebuilt from the
    whole training matrix with the attacked rows replaced, so the gradient flows through
    ``C(X′)`` (:ref:`theory_influence`). The network's weights stay fixed.

    Parameters
    ----------
    estimator : Pipeline, TwoLayerReLUClassifier or TwoLayerReLURegressor
        A fitted estimator, or a fitted pipeline ending in one whose other steps
        :class:`~sklearn_attnkernel.networks.torch_mirror.TorchPipeline` supports.
    X_train : array-like of shape (n_samples, n_features)
        The training matrix the estimator was fitted on, in the pipeline's input space. It is
        the attention reference set; pass exactly the data given to ``fit``. Checked as
        ``predict`` checks its input: a DataFrame must have the columns of ``fit`` in the same
        order; sparse input is refused (densify it with ``.toarray()``).
    y_train : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Its labels (or regression targets).
    indices : array-like of int
        Rows of `X_train` to attack: distinct, in ``[0, n_samples)``, at least one.
    method : {"pgd", "fgsm", "mim", "random"}, default="pgd"
        :func:`pgd` (random start), :func:`fgsm` (one step of size ε), :func:`mim` (momentum
        1.0), or ``"random"``: the null baseline, ``x + ε · s`` with independent uniform random
        signs ``s ∈ {−1, +1}`` (then clipped), drawn from `random_state`, no gradient.
    epsilon : float, default=0.3
        Radius ``ε ≥ 0`` of the ℓ∞ ball around each attacked row. ``0`` returns a copy of
        `X_train`.
    steps : int, default=40
        Steps of ``"pgd"`` and ``"mim"``.
    step_size : float, default=0.01
        Step size of ``"pgd"`` and ``"mim"`` *(ours; the paper does not give it)*.
    clip : tuple of (float, float) or None, default=None
        Range every coordinate must stay in (``(0, 1)`` for pixels); the attacked rows must lie
        in it.
    mode : {"joint", "independent"}, default="joint"
        ``"joint"``: all points are attacked at once, maximising their summed loss (our default:
        the paper does not say whether its points are attacked jointly or one at a time).
        ``"independent"``: each point is attacked alone, the others left clean (one attack per
        point; ``len(indices)`` times the cost). ``"random"`` draws the same signs in both
        modes.
    random_state : int, RandomState instance or None, default=None
        Seeds PGD's random start and the ``"random"`` signs. The noise of each attacked row is
        drawn from a seed derived from `random_state` and the row index (and, for a joint PGD
        attack, the whole index set), so ``mode="independent"`` equals attacking each point
        alone with the same `random_state`.
    dtype : {"float64", "float32"}, default="float64"
        Floating type of the computation. float64 by default: the transductive gradient goes
        through ``C(X′)``, whose conditioning (``κ³``) float32 does not resolve well.

    Returns
    -------
    X_adv : ndarray of shape (n_samples, n_features)
        A copy of `X_train` (float64, or float32 for float32 input) with only the rows
        `indices` changed, each within ε of the original in every coordinate (up to the input
        dtype's rounding) and within `clip`.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    TypeError
        If a pipeline step cannot be mapped to torch, or `X_train` is sparse.
    ValueError
        For bad indices (empty, out of range, duplicated), an empty `X_train`, mismatched
        shapes, columns that differ from those of ``fit`` (names, order or number), or rows
        outside `clip`.

    See Also
    --------
    pgd, fgsm, mim : The attacks on a generic objective.
    sklearn_attnkernel.networks.torch_mirror.TorchPipeline : The differentiable pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import make_mlp_attn
    >>> from sklearn_attnkernel.influence.training_attacks import attack_training_points
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.uniform(size=(30, 4)), np.arange(30) % 3
    >>> model = make_mlp_attn(width=16, lr=1e-2, max_epochs=5, dtype="float64",
    ...                       device="cpu", random_state=0).fit(X, y)
    >>> X_adv = attack_training_points(model, X, y, [0, 5], epsilon=0.05, steps=5,
    ...                                clip=(0, 1), random_state=0)
    >>> np.flatnonzero((X_adv != X).any(axis=1)).tolist()
    [0, 5]
    >>> bool(np.abs(X_adv - X).max() <= 0.05 + 1e-12)  # up to round-off
    True
    """
    _, final, _ = unwrap_model(estimator)
    if final is None:
        raise TypeError(
            "estimator must be a fitted TwoLayerReLUClassifier/TwoLayerReLURegressor or a "
            "fitted Pipeline ending in one (its loss defines the objective); got a bare "
            f"{type(estimator).__name__}."
        )
    X_train = check_input_space(
        estimator,
        X_train,
        input_name="X_train",
        role="the training set",
        dtype=[np.float64, np.float32],
    )
    y_arr = np.asarray(y_train)
    if y_arr.ndim == 0 or len(y_arr) != X_train.shape[0]:
        raise ValueError(
            f"X_train has {X_train.shape[0]} rows but y_train has shape {y_arr.shape}; pass one "
            "label (or target row) per training row."
        )
    idx = _check_indices(indices, X_train.shape[0])
    clip = _check_clip_rows(X_train[idx], clip)
    X_adv = np.array(X_train, copy=True)
    if epsilon == 0:
        return X_adv
    base = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))

    if method == "random":
        rows = X_train[idx].astype(np.float64)
        for r, i in enumerate(idx):
            signs = np.random.default_rng(_seed(base, (i,))).integers(0, 2, size=rows.shape[1])
            rows[r] += epsilon * (2.0 * signs - 1.0)
        if clip is not None:
            rows = np.clip(rows, clip[0], clip[1])
        X_adv[idx] = rows
        return X_adv

    model = TorchPipeline.from_estimator(estimator, dtype=dtype)
    X_full = torch.tensor(X_train, dtype=model.dtype, device=model.device)  # a copy
    loss = _task_loss(final, y_arr[idx], model.dtype, model.device)

    def attack(positions):
        """Attack the rows ``idx[positions]``, the other rows of ``X_full`` left clean."""
        rows_t = torch.as_tensor(idx[positions], device=model.device)
        positions_t = torch.as_tensor(positions, device=model.device)

        def objective(x_rows):
            X_mod = X_full.index_put((rows_t,), x_rows)
            return _attacked_loss(model, lambda out: loss(out, positions_t), X_mod, rows_t)

        x = X_full[rows_t]
        if method == "fgsm":
            return fgsm(objective, x, epsilon=epsilon, clip=clip)
        if method == "mim":
            return mim(objective, x, epsilon=epsilon, steps=steps, step_size=step_size, clip=clip)
        seed = _seed(base, idx[positions])
        return pgd(
            objective,
            x,
            epsilon=epsilon,
            steps=steps,
            step_size=step_size,
            clip=clip,
            random_state=seed,
        )

    if mode == "joint":
        adv_rows = attack(np.arange(len(idx))).cpu().numpy()
    else:
        adv_rows = np.concatenate([attack(np.array([r])).cpu().numpy() for r in range(len(idx))])
    logger.debug(
        "attack_training_points: %s (%s) on %d of %d rows, epsilon=%g",
        method,
        mode,
        len(idx),
        X_train.shape[0],
        epsilon,
    )
    X_adv[idx] = adv_rows
    return X_adv
