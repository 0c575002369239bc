"""Gradient-sign attacks in an ℓ∞ ball: FGSM, PGD and MIM (arXiv 2603.13085).

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

Every attack refuses, with a ValueError, an ``x`` holding NaN or inf, and an objective or
gradient that is not finite at any step: ``sign(NaN)`` is NaN and ``sign`` of a NaN-free gradient
of a NaN objective is meaningless, so the alternative would be a silently unperturbed input.
"""

import logging
import math
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, validate_params

from .._utils.rows import list_rows

logger = logging.getLogger(__name__)

__all__ = ["fgsm", "mim", "pgd"]


def _check_finite(x):
    """Refuse NaN/inf in ``x``, naming the rows (first dimension) that hold them."""
    if not x.numel() or bool(torch.isfinite(x).all()):
        return
    where = ""
    if x.ndim:
        bad = (~torch.isfinite(x)).reshape(x.shape[0], -1).any(dim=1)
        where = f" (rows {list_rows(torch.nonzero(bad).flatten().tolist())})"
    raise ValueError(
        f"x contains NaN or infinite values{where}; the attack needs a finite input. "
        "Remove or impute those entries first."
    )


def check_clip(x, clip):
    if not torch.is_floating_point(x):
        raise TypeError(
            f"x must be a floating-point tensor (float32 or float64), got dtype {x.dtype}; "
            "convert it with x.to(torch.float64)."
        )
    _check_finite(x)
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
        if not bool(torch.isfinite(value)):
            raise ValueError(
                f"objective(x) is {value.item()} (not finite), so it has no uphill direction; "
                "the attack would return x unperturbed. Check the model and the scale of x "
                "(an overflowing loss), or clip the objective."
            )
        (grad,) = torch.autograd.grad(value.reshape(()), leaf, allow_unused=True)
    if grad is None:
        raise ValueError("objective(x) does not depend on x; the attack needs its gradient.")
    if not bool(torch.isfinite(grad).all()):
        raise ValueError(
            f"the gradient of objective(x) has {int((~torch.isfinite(grad)).sum())} non-finite "
            "entries (NaN or inf; the objective itself is finite), so its sign is meaningless. "
            "Check the model and the scale of x (an overflowing backward pass)."
        )
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
    clip = check_clip(x, clip)
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
    clip = check_clip(x, clip)
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
        Size of each sign step, ``> 0`` *(ours; the paper does not give it)*.
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
        Decay ``μ ≥ 0`` of the accumulated gradient *(ours; the paper does not give it)*. With ``μ =
        0`` the method is PGD without random start.
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
