"""Gradient-sign attacks in an ℓ∞ ball: FGSM, PGD and MIM (PAPER.md §5).

Each attack maximises an arbitrary differentiable scalar ``objective(x_adv)`` over the ℓ∞ ball
of radius ``epsilon`` around ``x``, optionally intersected with a clip range ``[lo, hi]``. They
know nothing about estimators: the caller builds the objective (e.g. the summed task loss of a
trained model on the perturbed training points, through any transform).

- FGSM: ``x + ε · sign(∇)``, one step.
- PGD: ``x ← Proj(x + step · sign(∇))``, ``steps`` times, from a uniform random start in the
  ball by default.
- MIM: ``g ← μ g + ∇ / ‖∇‖₁``, ``x ← Proj(x + step · sign(g))``: PGD with momentum on the
  ℓ1-normalised gradient.

``Proj`` clamps every coordinate to ``[max(x − ε, lo), min(x + ε, hi)]``, which is the exact
Euclidean projection onto the intersection of the ball and the clip box (both are boxes). The
update rules are a few tensor operations, written here rather than taken from an attack
library so that torch is the only dependency.
"""

import logging
import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .ntk_empirical import _unwrap_model
from .torch_pipeline import TorchPipeline

logger = logging.getLogger(__name__)

__all__ = ["attack_training_points", "fgsm", "mim", "pgd"]


def _check_input(x, clip):
    if not torch.is_floating_point(x):
        raise TypeError(
            f"x must be a floating-point tensor (float32 or float64), got dtype {x.dtype}; "
            "convert it with x.to(torch.float64)."
        )
    if clip is None:
        return None
    if (
        len(clip) != 2
        or not all(isinstance(v, Real) and not isinstance(v, bool) for v in clip)
        or not all(math.isfinite(v) for v in clip)
        or not clip[0] < clip[1]
    ):
        raise ValueError(
            f"clip must be None or a pair (lo, hi) of finite numbers with lo < hi, got {clip!r}."
        )
    lo, hi = float(clip[0]), float(clip[1])
    if x.numel() and (x.min().item() < lo or x.max().item() > hi):
        raise ValueError(
            f"x has values in [{x.min().item():.4g}, {x.max().item():.4g}], outside "
            f"clip={clip!r}; clip x to that range first or widen clip."
        )
    return lo, hi


def _bounds(x, epsilon, clip):
    lower, upper = x - epsilon, x + epsilon
    if clip is not None:
        lower = lower.clamp_min(clip[0])
        upper = upper.clamp_max(clip[1])
    return lower, upper


def _gradient(objective, x_adv):
    """Gradient of the scalar ``objective`` at ``x_adv`` (a leaf copy), and its value."""
    leaf = x_adv.detach().requires_grad_(True)
    with torch.enable_grad():
        value = objective(leaf)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise ValueError(
                "objective must return a scalar torch tensor (e.g. the sum of per-point "
                f"losses); got {type(value).__name__}"
                + (f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else "")
                + "."
            )
        if not value.requires_grad:
            raise ValueError(
                "objective(x) does not depend differentiably on x (its result does not require "
                "grad); build it from x with torch operations."
            )
        (grad,) = torch.autograd.grad(value.reshape(()), leaf, allow_unused=True)
    if grad is None:
        raise ValueError("objective(x) does not depend on x; the attack needs its gradient.")
    return grad, value.detach().item()


def _random_start(x, epsilon, random_state):
    """Uniform noise in ``[−ε, ε]``, drawn from ``random_state`` (see ``pgd``)."""
    if isinstance(random_state, torch.Generator):
        generator = random_state
    elif random_state is not None:
        generator = torch.Generator(device="cpu").manual_seed(int(random_state))
    else:
        generator = None
    device = generator.device if generator is not None else x.device
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=device)
    return (2.0 * noise - 1.0).mul_(epsilon).to(x.device)


def _l1_normalise_rows(grad):
    """``grad / ‖grad‖₁`` per sample: over all dims but the first (all dims for ≤ 1-d)."""
    if grad.ndim <= 1:
        norm = grad.abs().sum()
    else:
        norm = grad.abs().sum(dim=tuple(range(1, grad.ndim)), keepdim=True)
    return grad / norm.clamp_min(torch.finfo(grad.dtype).tiny)


def _iterate(objective, x, epsilon, steps, step_size, random_start, clip, random_state, momentum):
    clip = _check_input(x, clip)
    x = x.detach()
    lower, upper = _bounds(x, epsilon, clip)
    x_adv = x.clone()
    if random_start:
        x_adv = torch.clamp(x_adv + _random_start(x, epsilon, random_state), lower, upper)
    accumulated = torch.zeros_like(x) if momentum is not None else None
    for step in range(steps):
        grad, value = _gradient(objective, x_adv)
        if momentum is not None:
            accumulated = momentum * accumulated + _l1_normalise_rows(grad)
            direction = accumulated.sign()
        else:
            direction = grad.sign()
        x_adv = torch.clamp(x_adv + step_size * direction, lower, upper)
        if step == 0:
            logger.debug("attack start: objective %.6g", value)
    logger.debug("attack: objective %.6g before the last of %d steps", value, steps)
    return x_adv.detach()


_COMMON = {
    "objective": [callable],
    "x": [torch.Tensor],
    "epsilon": [Interval(Real, 0, None, closed="left")],
    "clip": [tuple, list, None],
}
_ITERATIVE = {
    **_COMMON,
    "steps": [Interval(Integral, 1, None, closed="left")],
    "step_size": [Interval(Real, 0, None, closed="neither")],
    "random_start": ["boolean"],
    "random_state": [Interval(Integral, 0, None, closed="left"), torch.Generator, None],
}


@validate_params(_COMMON, prefer_skip_nested_validation=True)
def fgsm(objective, x, *, epsilon=0.3, clip=None):
    """Fast gradient sign method: one ℓ∞ step of size ``epsilon`` uphill.

    Returns ``Proj(x + ε · sign(∇ objective(x)))``, the projection only mattering for ``clip``.

    Parameters
    ----------
    objective : callable
        ``objective(x_adv) -> torch.Tensor`` scalar to maximise, differentiable in ``x_adv``
        (e.g. the sum of per-point losses of a trained model).
    x : torch.Tensor
        Clean input, float32 or float64, any shape.
    epsilon : float, default=0.3
        Radius ``ε ≥ 0`` of the ℓ∞ ball.
    clip : tuple of (float, float) or None, default=None
        Range ``(lo, hi)`` every coordinate must stay in (e.g. ``(0, 1)`` for pixels); ``x``
        itself must lie in it.

    Returns
    -------
    x_adv : torch.Tensor
        Adversarial input, detached, with the shape, dtype and device of ``x``.

    See Also
    --------
    pgd : The iterated, projected version.

    Notes
    -----
    Coordinates with a zero gradient do not move (``sign(0) = 0``).

    Examples
    --------
    >>> import torch
    >>> from sklearn_attnkernel import fgsm
    >>> w = torch.tensor([1.0, -2.0, 0.5])
    >>> fgsm(lambda x: x @ w, torch.zeros(3), epsilon=0.1)
    tensor([ 0.1000, -0.1000,  0.1000])
    """
    clip = _check_input(x, clip)
    x = x.detach()
    lower, upper = _bounds(x, epsilon, clip)
    grad, _ = _gradient(objective, x)
    return torch.clamp(x + epsilon * grad.sign(), lower, upper).detach()


@validate_params(_ITERATIVE, prefer_skip_nested_validation=True)
def pgd(
    objective,
    x,
    *,
    epsilon=0.3,
    steps=40,
    step_size=0.01,
    random_start=True,
    clip=None,
    random_state=None,
):
    """Projected gradient descent (ascent) with sign steps in an ℓ∞ ball.

    Iterates ``x_adv ← Proj(x_adv + step_size · sign(∇ objective(x_adv)))`` ``steps`` times,
    ``Proj`` clamping to the ε-ball around ``x`` and to ``clip``.

    Parameters
    ----------
    objective : callable
        ``objective(x_adv) -> torch.Tensor`` scalar to maximise, differentiable in ``x_adv``.
        For a joint attack on several points pass the sum (or mean: sign steps ignore the
        scale) of their losses.
    x : torch.Tensor
        Clean input, float32 or float64, any shape.
    epsilon : float, default=0.3
        Radius ``ε ≥ 0`` of the ℓ∞ ball.
    steps : int, default=40
        Number of gradient steps, ``≥ 1``.
    step_size : float, default=0.01
        Size of each sign step, ``> 0`` *(ours; PAPER.md §5)*.
    random_start : bool, default=True
        Start from ``x`` plus uniform noise in ``[−ε, ε]`` (then projected to ``clip``)
        instead of from ``x``.
    clip : tuple of (float, float) or None, default=None
        Range ``(lo, hi)`` every coordinate must stay in; ``x`` itself must lie in it.
    random_state : int, torch.Generator or None, default=None
        Source of the random start. An int seeds a fresh CPU :class:`torch.Generator` (the
        noise is drawn on the CPU and moved to ``x.device``, so a seed gives the same start on
        every device); a generator is used as is (and advanced), the noise being drawn on its
        device; ``None`` uses torch's global generator.

    Returns
    -------
    x_adv : torch.Tensor
        The last iterate, detached, with the shape, dtype and device of ``x``.

    See Also
    --------
    fgsm : One step of size ``ε`` from ``x``.
    mim : PGD with momentum.

    Examples
    --------
    >>> import torch
    >>> from sklearn_attnkernel import pgd
    >>> target = torch.tensor([0.1, -1.0])
    >>> x_adv = pgd(lambda x: -((x - target) ** 2).sum(), torch.zeros(2), epsilon=0.3,
    ...             steps=100, random_state=0)
    >>> torch.allclose(x_adv, torch.tensor([0.1, -0.3]), atol=0.01)  # nearest point to target
    True
    """
    return _iterate(objective, x, epsilon, steps, step_size, random_start, clip, random_state, None)


@validate_params(
    {**_ITERATIVE, "momentum": [Interval(Real, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def mim(
    objective,
    x,
    *,
    epsilon=0.3,
    steps=40,
    step_size=0.01,
    momentum=1.0,
    random_start=False,
    clip=None,
    random_state=None,
):
    """Momentum iterative method: PGD with momentum on the ℓ1-normalised gradient.

    Iterates ``g ← μ g + ∇ / ‖∇‖₁`` and ``x_adv ← Proj(x_adv + step_size · sign(g))``, with
    ``g`` starting at zero.

    Parameters
    ----------
    objective : callable
        ``objective(x_adv) -> torch.Tensor`` scalar to maximise, differentiable in ``x_adv``.
    x : torch.Tensor
        Clean input, float32 or float64. For ``x.ndim ≥ 2`` the first dimension indexes
        samples and each sample's gradient is normalised by its own ℓ1 norm (over all the other
        dimensions); a 0-d or 1-d ``x`` is one sample.
    epsilon : float, default=0.3
        Radius ``ε ≥ 0`` of the ℓ∞ ball.
    steps : int, default=40
        Number of gradient steps, ``≥ 1``.
    step_size : float, default=0.01
        Size of each sign step, ``> 0`` *(ours)*.
    momentum : float, default=1.0
        Decay ``μ ≥ 0`` of the accumulated gradient *(ours; PAPER.md §5)*. With ``μ = 0`` the
        method is PGD without random start.
    random_start : bool, default=False
        Start from uniform noise in the ball, as in :func:`pgd`.
    clip : tuple of (float, float) or None, default=None
        Range ``(lo, hi)`` every coordinate must stay in; ``x`` itself must lie in it.
    random_state : int, torch.Generator or None, default=None
        Source of the random start; see :func:`pgd`.

    Returns
    -------
    x_adv : torch.Tensor
        The last iterate, detached, with the shape, dtype and device of ``x``.

    See Also
    --------
    pgd : The same without momentum.

    Notes
    -----
    A sample whose gradient is exactly zero contributes zero to ``g`` at that step.

    Examples
    --------
    >>> import torch
    >>> from sklearn_attnkernel import mim
    >>> w = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    >>> mim(lambda x: (x * w).sum(), torch.zeros(2, 2), epsilon=0.05, steps=10)
    tensor([[ 0.0500, -0.0500],
            [ 0.0000,  0.0500]])
    """
    return _iterate(
        objective, x, epsilon, steps, step_size, random_start, clip, random_state, float(momentum)
    )


# --------------------------------------------------------------------------------------------
# attacks on the training points of a fitted model
# --------------------------------------------------------------------------------------------
_METHODS = ("fgsm", "pgd", "mim", "random")
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
    clip = _check_input(torch.zeros(0), clip)
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
        "X_train": ["array-like"],
        "y_train": ["array-like"],
        "indices": ["array-like"],
        "method": [StrOptions(set(_METHODS))],
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
    ``C(X′)`` (PAPER.md §5). The network's weights stay fixed.

    Parameters
    ----------
    estimator : Pipeline, TwoLayerReLUClassifier or TwoLayerReLURegressor
        A fitted estimator, or a fitted pipeline ending in one whose other steps
        :class:`~sklearn_attnkernel.torch_pipeline.TorchPipeline` supports.
    X_train : array-like of shape (n_samples, n_features)
        The training matrix the estimator was fitted on, in the pipeline's input space. It is
        the attention reference set; pass exactly the data given to ``fit``.
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
        Step size of ``"pgd"`` and ``"mim"`` *(ours; PAPER.md §5)*.
    clip : tuple of (float, float) or None, default=None
        Range every coordinate must stay in (``(0, 1)`` for pixels); the attacked rows must lie
        in it.
    mode : {"joint", "independent"}, default="joint"
        ``"joint"``: all points are attacked at once, maximising their summed loss (the paper's
        default). ``"independent"``: each point is attacked alone, the others left clean (one
        attack per point; ``len(indices)`` times the cost). ``"random"`` draws the same signs
        in both modes.
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
        If a pipeline step cannot be mapped to torch.
    ValueError
        For bad indices (empty, out of range, duplicated), mismatched shapes, or rows outside
        `clip`.

    See Also
    --------
    pgd, fgsm, mim : The attacks on a generic objective.
    sklearn_attnkernel.torch_pipeline.TorchPipeline : The differentiable pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import make_mlp_attn
    >>> from sklearn_attnkernel.attacks import attack_training_points
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
    _, final, _ = _unwrap_model(estimator)
    if final is None:
        raise TypeError(
            "estimator must be a fitted TwoLayerReLUClassifier/TwoLayerReLURegressor or a "
            "fitted Pipeline ending in one (its loss defines the objective); got a bare "
            f"{type(estimator).__name__}."
        )
    X_train = check_array(X_train, dtype=[np.float64, np.float32], input_name="X_train")
    n_features_in = getattr(estimator, "n_features_in_", None)
    if n_features_in is not None and X_train.shape[1] != n_features_in:
        raise ValueError(
            f"X_train has {X_train.shape[1]} features but the estimator was fitted on "
            f"{n_features_in}; pass the training matrix in the pipeline's input space."
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
