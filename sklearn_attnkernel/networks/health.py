"""Checks made before and during training: the float32 cast, the memory bound, a finite loss.

Pure functions on arrays and sizes (no torch), called by
:class:`~sklearn_attnkernel.networks.base.BaseTwoLayerReLU` before it allocates or trains, and
the error raised when training diverges. Written by hand: no library checks a float32 cast for
overflow and underflow or estimates a skorch net's training memory.
"""

import warnings

import numpy as np

__all__ = [
    "NonFiniteTrainingError",
    "check_float32_cast",
    "check_training_memory",
    "training_bytes",
]


_FLOAT32 = np.finfo(np.float32)


class NonFiniteTrainingError(ValueError):
    """The training loss or the weights became NaN or infinite: training diverged."""


def check_float32_cast(X, where="X"):
    """Refuse a float32 cast that overflows; warn when it turns nonzero entries into zeros.

    ``X`` is the float array about to be cast to float32. Entries that round to ``inf``
    (``|x| >= 2**128 - 2**103``, just above float32's largest number 3.4028235e38) are refused
    with a ValueError naming the largest ``|x|`` and the fix. Nonzero entries with
    ``|x| <= 2**-150`` (half float32's smallest subnormal; round-to-nearest-even makes them
    exactly 0) would become zeros: a :class:`UserWarning` names how many and the smallest. A
    warning, not an error, because a few tiny entries next to ordinary ones change nothing;
    when whole rows are that small, the warning is the signal.
    """
    X = np.asarray(X)
    if X.dtype == np.float32 or X.size == 0:
        return
    magnitude = np.abs(X)
    largest = float(magnitude.max())
    with np.errstate(over="ignore"):
        overflows = bool(np.isinf(np.float32(largest)))  # the cast's own rounding decides
    if overflows:
        raise ValueError(
            f"The {where} has entries up to |x| = {largest:.4g}, beyond the float32 range "
            f"(max {float(_FLOAT32.max):.4g}): with dtype='float32' they would become inf. "
            "Pass dtype='float64', or rescale the inputs (e.g. StandardScaler or Normalizer)."
        )
    lost = (magnitude <= float(_FLOAT32.smallest_subnormal) / 2) & (magnitude > 0)
    n_lost = int(np.count_nonzero(lost))
    if n_lost:
        warnings.warn(
            f"{n_lost} nonzero entries of the {where} (the smallest |x| = "
            f"{float(magnitude[lost].min()):.4g}) are below the float32 range and become 0 in "
            "the dtype='float32' network. Pass dtype='float64', or rescale the inputs "
            "(e.g. StandardScaler or Normalizer).",
            UserWarning,
            stacklevel=6,  # check_float32_cast, _fit_network, _fit, fit: the user's call
        )


def training_bytes(*, width, n_features, n_outputs, batch_size, itemsize):
    """Estimated peak bytes of training a two-layer ReLU net (a documented upper estimate).

    ``7 · width · (n_features + n_outputs) · itemsize`` for the weights ``W`` and ``A`` and their
    copies (the weights, θ₀, the CPU copy ``initial_params_``, the gradient, Adam's two moments
    and the float32 draw before the cast), plus ``4 · batch_size · width · itemsize`` for one
    batch's activations and their gradients.
    """
    weights = 7 * width * (n_features + n_outputs) * itemsize
    return weights + 4 * batch_size * width * itemsize


def check_training_memory(*, width, n_features, n_outputs, batch_size, itemsize, memory_budget):
    """Raise a ValueError, before anything is allocated, when training would exceed the budget."""
    needed = training_bytes(
        width=width,
        n_features=n_features,
        n_outputs=n_outputs,
        batch_size=batch_size,
        itemsize=itemsize,
    )
    if needed > memory_budget:
        per_unit = needed / width
        largest = int(memory_budget // per_unit)
        raise ValueError(
            f"Training a network of width={width} on {n_features} features needs about "
            f"{needed / 2**30:.3g} GiB, more than memory_budget={memory_budget:.4g} bytes "
            f"({memory_budget / 2**30:.3g} GiB). Use width <= {largest}, or raise "
            "memory_budget if the machine has that much memory."
        )
