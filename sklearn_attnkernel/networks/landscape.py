"""The training loss of a fitted network on a plane of parameter space (arXiv 2603.13085, Fig. 5).

:func:`loss_landscape` evaluates the network's own training objective at
``θ* + a·d₁ + b·d₂`` over a square grid of ``(a, b)``, with ``d₁, d₂`` two random Gaussian
directions *filter-normalised* as in Li et al. (2018), "Visualizing the loss landscape of neural
nets" (NeurIPS): each neuron's slice of a direction is rescaled to the norm of the same neuron's
trained weights, so that a step of 1 moves every neuron by its own size and networks of
different widths and architectures compare. No library does this for skorch modules, so it is
written here.

The grid is evaluated by hand from the form of :class:`~sklearn_attnkernel.TwoLayerReLU`,
``f(x) = relu(x Wᵀ) A / √m``: the pre-activations are linear in ``W``, so
``x (W* + a D₁ + b D₂)ᵀ = x W*ᵀ + a x D₁ᵀ + b x D₂ᵀ`` is three matrix products per batch of
rows for the whole grid, and a grid point costs one ReLU and one ``m × C`` product per row. The
module itself is only read.
"""

import math
import numbers

import numpy as np
import torch
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import validate_data

from .modules import unwrap_model
from .skorch_net import as_device_tensor

__all__ = [
    "filter_normalized_direction",
    "landscape_directions",
    "landscape_summaries",
    "loss_landscape",
]

#: The axis of a parameter that indexes its neurons, where it is not 0. A neuron's slice is the
#: weights *into* one unit (Li et al.'s "filter"): ``W`` (width × n_features) holds one hidden
#: unit per row, the readout ``A`` (width × n_outputs, used as ``h @ A``) one output per column.
_NEURON_AXIS = {"A": 1}


def filter_normalized_direction(weights, generator, *, neuron_axis=0):
    """A Gaussian direction with each neuron rescaled to the norm of the weights' same neuron.

    Parameters
    ----------
    weights : ndarray
        Trained weights of one parameter. A 1-D parameter (a bias) gets a zero direction
        (Li et al. 2018 leave biases and batch-norm parameters unperturbed).
    generator : numpy.random.RandomState
        Source of the standard normal draws.
    neuron_axis : int, default=0
        Axis that indexes the neurons; every slice along it is one neuron's weights.

    Returns
    -------
    direction : ndarray of float64, same shape as `weights`
        ``d_i · ‖θ_i‖ / ‖d_i‖`` for each neuron ``i``; a neuron of norm 0 gets 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.networks.landscape import filter_normalized_direction
    >>> W = np.array([[3.0, 4.0], [0.0, 2.0]])
    >>> d = filter_normalized_direction(W, np.random.RandomState(0))
    >>> np.linalg.norm(d, axis=1).round(12).tolist()
    [5.0, 2.0]
    """
    weights = np.asarray(weights, dtype=np.float64)
    draw = generator.standard_normal(weights.shape)  # drawn for 1-D too: the stream stays aligned
    if weights.ndim < 2:
        return np.zeros_like(weights)
    moved = np.moveaxis(draw, neuron_axis, 0).reshape(weights.shape[neuron_axis], -1)
    target = np.linalg.norm(np.moveaxis(weights, neuron_axis, 0).reshape(len(moved), -1), axis=1)
    scale = np.divide(
        target, np.linalg.norm(moved, axis=1), out=np.zeros_like(target), where=target > 0
    )
    scaled = (moved * scale[:, None]).reshape(np.moveaxis(draw, neuron_axis, 0).shape)
    return np.moveaxis(scaled, 0, neuron_axis)


def landscape_summaries(alphas, betas, losses, *, rise=0.1):
    """Curvature at the centre and area of the basin of a loss grid.

    Parameters
    ----------
    alphas, betas : ndarray of shape (n_points,)
        Evenly spaced steps along ``d₁`` and ``d₂``, symmetric about 0 (odd ``n_points``).
    losses : ndarray of shape (n_points, n_points)
        ``losses[i, j]`` is the loss at ``θ* + alphas[i]·d₁ + betas[j]·d₂``.
    rise : float, default=0.1
        The basin is the set of grid points whose loss is at most ``centre_loss + rise``.

    Returns
    -------
    summaries : dict of str to float
        ``centre_loss``; ``curvature_d1`` and ``curvature_d2``, the central finite-difference
        second derivatives ``(L(h) − 2 L(0) + L(−h)) / h²`` at the grid step ``h`` along each
        direction (exact for a quadratic loss); ``area_below``, the fraction of the grid in the
        basin. A broader, flatter minimum has smaller curvatures and a larger area.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.networks.landscape import landscape_summaries
    >>> a = np.linspace(-1, 1, 5)
    >>> grid = 1.0 + 2.0 * a[:, None] ** 2 + 0.5 * a[None, :] ** 2
    >>> out = landscape_summaries(a, a, grid, rise=0.6)
    >>> out["curvature_d1"], out["curvature_d2"], out["area_below"]
    (4.0, 1.0, 0.28)
    """
    losses = np.asarray(losses, dtype=np.float64)
    c = len(alphas) // 2
    centre = float(losses[c, c])
    h_a, h_b = float(alphas[c + 1] - alphas[c]), float(betas[c + 1] - betas[c])
    return {
        "centre_loss": centre,
        "curvature_d1": float((losses[c + 1, c] - 2 * centre + losses[c - 1, c]) / h_a**2),
        "curvature_d2": float((losses[c, c + 1] - 2 * centre + losses[c, c - 1]) / h_b**2),
        "area_below": float(np.mean(losses <= centre + rise)),
    }


def _check_grid(n_points, span, rise):
    if (
        isinstance(n_points, bool)
        or not isinstance(n_points, int | np.integer)
        or (n_points < 3 or n_points % 2 == 0)
    ):
        raise ValueError(
            f"n_points must be an odd integer >= 3, so that the trained weights are the grid's "
            f"centre; got n_points={n_points!r}. Use e.g. n_points=21."
        )
    for name, value in (("span", span), ("rise", rise)):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not (math.isfinite(value) and value > 0)
        ):
            raise ValueError(
                f"{name} must be a finite number > 0; got {name}={value!r}. Use e.g. "
                f"{name}={1.0 if name == 'span' else 0.1}."
            )


def _network_and_features(model, X, y):
    transformer, estimator, module = unwrap_model(model)
    if estimator is None:
        raise TypeError(
            "loss_landscape needs a fitted TwoLayerReLUClassifier/TwoLayerReLURegressor or a "
            "Pipeline ending in one (its training criterion and θ₀); got a bare "
            f"{type(model).__name__}."
        )
    features = X if transformer is None else transformer.transform(X)
    features = validate_data(estimator, features, dtype=[np.float64, np.float32], reset=False)
    if len(features) != len(y):
        raise ValueError(
            f"X and y must have the same number of rows; got {len(features)} and {len(y)}."
        )
    return estimator, module, features


def landscape_directions(model, *, random_state=None):
    """The two filter-normalised random directions of :func:`loss_landscape`.

    Parameters
    ----------
    model : estimator or Pipeline
        A fitted :class:`~sklearn_attnkernel.TwoLayerReLUClassifier` or
        :class:`~sklearn_attnkernel.TwoLayerReLURegressor`, or a fitted pipeline ending in one.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws (numpy's generator): ``d₁`` over every trainable parameter in the
        module's order, then ``d₂``.

    Returns
    -------
    d1, d2 : dict of str to ndarray of float64
        Parameter name → direction, for the trainable parameters (``W``, and ``A`` when
        ``train_readout=True``); see :func:`filter_normalized_direction`. Neurons are the rows
        of ``W`` (hidden units) and the columns of ``A`` (output units).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import TwoLayerReLUClassifier
    >>> from sklearn_attnkernel.networks.landscape import landscape_directions
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TwoLayerReLUClassifier(width=8, max_epochs=2, device="cpu", random_state=0)
    >>> d1, d2 = landscape_directions(clf.fit(X, y), random_state=0)
    >>> W = clf.net_.module_.W.detach().numpy()
    >>> bool(np.allclose(np.linalg.norm(d1["W"], axis=1), np.linalg.norm(W, axis=1)))
    True
    """
    _, _, module = unwrap_model(model)
    generator = check_random_state(random_state)
    trained = {n: p.detach().cpu().numpy() for n, p in module.named_parameters() if p.requires_grad}
    return tuple(
        {
            name: filter_normalized_direction(
                value, generator, neuron_axis=_NEURON_AXIS.get(name, 0)
            )
            for name, value in trained.items()
        }
        for _ in range(2)
    )


def _criterion_target(estimator, y, dtype, device):
    """The targets in the form (and dtype) the network's training criterion takes them."""
    Y = estimator.encode_targets(y)
    criterion = estimator.net_.criterion_
    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        return torch.as_tensor(np.argmax(Y, axis=1), device=device)
    if isinstance(criterion, torch.nn.BCEWithLogitsLoss):
        Y = (Y + 1.0) / 2.0  # encode_targets gives ±1; the logit was fitted to {0, 1}
    return torch.as_tensor(Y, dtype=dtype, device=device)


def _penalty_grid(estimator, module, directions, steps):
    """``reg_lambda · ‖θ* − θ₀ + a d₁ + b d₂‖²`` on the grid, from the 3 × 3 Gram matrix of
    ``(θ* − θ₀, d₁, d₂)`` (the penalty is a quadratic form in ``(1, a, b)``), in float64."""
    reg_lambda = float(estimator.net_.reg_lambda)
    if reg_lambda == 0:
        return 0.0
    params = dict(module.named_parameters())
    vectors = np.stack(
        [
            np.concatenate(
                [
                    (params[n].detach().cpu().double() - estimator.initial_params_[n].double())
                    .numpy()
                    .ravel()
                    for n in directions[0]
                ]
            ),
            *(np.concatenate([d[n].ravel() for n in d]) for d in directions),
        ]
    )
    gram = vectors @ vectors.T
    v = np.stack(np.broadcast_arrays(1.0, steps[:, None], steps[None, :]))  # (3, n, n)
    return reg_lambda * np.einsum("iab,ij,jab->ab", v, gram, v)


def _task_loss_grid(estimator, module, features, target, directions, steps, batch_size):
    """The criterion's mean over all rows at every grid point (see the module docstring).

    Rows go in batches of ``batch_size``; within a batch, one row of the grid (one ``a``, every
    ``b``) is one ReLU over a ``(n_points, rows, m)`` block and one product with the readout.
    Per-point sums of the criterion (``reduction="none"``) are accumulated in float64 and
    divided by the target's size, as the criterion's ``"mean"`` does.
    """
    dtype, device = features.dtype, features.device
    d1, d2 = (
        {name: torch.as_tensor(d, dtype=dtype, device=device) for name, d in direction.items()}
        for direction in directions
    )
    W, A = module.W.detach().to(device), module.A.detach().to(device)
    # a trained readout moves too: out = relu(·) (A + a E₁ + b E₂) / √m, one product with [A E₁ E₂]
    readout = torch.cat([A, d1["A"], d2["A"]], dim=1) if "A" in d1 else A
    criterion = type(estimator.net_.criterion_)(reduction="none")  # built with defaults in fit
    grid = torch.as_tensor(steps, dtype=dtype, device=device)
    b = grid[:, None, None]
    sums = torch.zeros((len(steps), len(steps)), dtype=torch.float64, device=device)
    scale = math.sqrt(module.width)
    with torch.no_grad():
        for start in range(0, features.shape[0], batch_size):
            x, t = features[start : start + batch_size], target[start : start + batch_size]
            P0, P1, P2 = x @ W.T, x @ d1["W"].T, x @ d2["W"].T
            targets = t.expand(len(steps), *t.shape).reshape(-1, *t.shape[1:])
            for i, a in enumerate(grid):
                out = torch.addcmul((P0 + a * P1).unsqueeze(0), b, P2).relu_() @ readout
                if "A" in d1:
                    O0, O1, O2 = out.split(A.shape[1], dim=-1)
                    out = O0 + a * O1 + b * O2
                losses = criterion((out / scale).reshape(-1, A.shape[1]), targets)
                sums[i] += losses.reshape(len(steps), -1).sum(dim=1, dtype=torch.float64)
    return (sums / target.numel()).cpu().numpy()


def loss_landscape(
    model,
    X,
    y,
    *,
    n_points=21,
    span=1.0,
    rise=0.1,
    random_state=None,
    batch_size=None,
    device=None,
):
    """Training loss of a fitted network on a random plane through its trained weights.

    The loss is evaluated at ``θ* + a·d₁ + b·d₂`` for ``a`` and ``b`` on
    ``linspace(-span, span, n_points)`` (the paper's Fig. 5, arXiv 2603.13085, App. A.11).
    ``d₁`` and ``d₂`` are independent Gaussian directions over the trainable parameters
    (``W``, and ``A`` when ``train_readout=True``), filter-normalised (Li et al. 2018): each
    neuron's slice, the weights into one unit, is rescaled to the norm of the same slice of
    ``θ*`` (rows of ``W``, columns of ``A``); 1-D parameters (biases; the paper's network has
    none) get a zero direction, and buffers (the fixed readout) are not moved. Then ``span=1``
    moves every neuron by up to its own norm, so that widths and architectures compare
    (:func:`landscape_directions` returns the two directions).

    The loss is the network's own training objective: its criterion (mean squared error on
    ±1 or real targets, binary or multi-class cross-entropy) averaged over all rows of
    ``(X, y)``, plus ``reg_lambda · Σ ‖θ − θ₀‖²`` when the estimator was trained with a penalty.
    Adversarial training's attacked batches are not reproduced: this is the clean objective.
    It is computed in the network's dtype (float32 by default) and summed in float64; the
    estimator is only read, never written to.

    Parameters
    ----------
    model : estimator or Pipeline
        A fitted :class:`~sklearn_attnkernel.TwoLayerReLUClassifier` or
        :class:`~sklearn_attnkernel.TwoLayerReLURegressor`, or a fitted pipeline ending in
        one (e.g. from :func:`~sklearn_attnkernel.make_mlp_attn`); it is not modified.
    X : array-like of shape (n_samples, n_features)
        Inputs in the model's input space (the pipeline's first step), usually the training set.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Their labels or targets.
    n_points : int, default=21
        Grid points per direction; odd, so that the centre is ``θ*``.
    span : float, default=1.0
        The grid runs over ``[-span, span]`` along each direction.
    rise : float, default=0.1
        Loss rise above the centre that bounds the basin of ``area_below`` (an absolute rise,
        so that two networks are held to the same loss increase whatever their centre loss).
    random_state : int, RandomState instance or None, default=None
        Seeds the directions (numpy's generator; torch's is not used).
    batch_size : int or None, default=None
        Rows per block of forward passes; a block holds ``n_points × batch_size × width``
        activations. None picks the largest that keeps a block under 2²⁴ numbers (64 MiB in
        float32).
    device : str, torch.device or None, default=None
        Where the forward passes run; None uses the network's device.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``alphas`` and ``betas`` (float64, ``(n_points,)``), ``losses`` (float64,
        ``(n_points, n_points)``, ``losses[i, j]`` at ``(alphas[i], betas[j])``), and the
        float summaries of :func:`landscape_summaries`: ``centre_loss``, ``curvature_d1``,
        ``curvature_d2``, ``area_below``; ``rise`` as given.

    See Also
    --------
    landscape_summaries : The scalar summaries of a loss grid.
    landscape_directions : The two directions.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import make_two_layer_relu, loss_landscape
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_two_layer_relu(width=32, max_epochs=20, device="cpu", random_state=0)
    >>> out = loss_landscape(model.fit(X, y), X, y, n_points=5, random_state=0)
    >>> out.losses.shape
    (5, 5)
    >>> bool(out.losses[2, 2] == out.centre_loss)
    True
    """
    _check_grid(n_points, span, rise)
    estimator, module, features = _network_and_features(model, X, y)
    run_on = torch.device(device) if device is not None else torch.device(estimator.net_.device)
    dtype = module.W.dtype
    if batch_size is None:
        batch_size = max(1, 2**24 // (n_points * module.width))
    directions = landscape_directions(estimator, random_state=random_state)
    steps = np.linspace(-span, span, n_points)
    steps[n_points // 2] = 0.0
    losses = _task_loss_grid(
        estimator,
        module,
        as_device_tensor(features, dtype, run_on),
        _criterion_target(estimator, y, dtype, run_on),
        directions,
        steps,
        int(batch_size),
    )
    losses = losses + _penalty_grid(estimator, module, directions, steps)
    return Bunch(
        alphas=steps.copy(),
        betas=steps.copy(),
        losses=losses,
        rise=float(rise),
        **landscape_summaries(steps, steps, losses, rise=rise),
    )
