"""Kernel matrices as :mod:`dask.array` block grids, never whole in memory (issue #16).

The exact leave-one-out influence past one machine's memory
(:func:`~sklearn_attnkernel.loo_influence` with ``backend="dask"``) factorises ``K + αI`` block by
block; this module gives it ``K`` the same way. Each ``chunk_size × chunk_size`` block is one
task that calls the in-memory kernel on two row blocks, so a worker holds two row blocks of ``X``
and one block of ``K`` at a time. Only the blocks on and below the diagonal are computed; a
block above it is the transpose of its mirror, so the grid is exactly symmetric, as the
in-memory kernels are by construction.
"""

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from .empirical import empirical_ntk

__all__ = ["empirical_ntk_blocks", "kernel_blocks"]


def _bounds(n, chunk_size):
    return [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]


def kernel_blocks(block_function, X, chunk_size, *, args=(), token=None):
    """The symmetric kernel ``K(X, X)`` as a lazy dask array of square blocks.

    Parameters
    ----------
    block_function : callable
        ``block_function(*args, X_a, X_b)`` returns the kernel block between the row blocks
        ``X_a`` and ``X_b`` as a float64 array; ``X_b`` is ``None`` for a diagonal block (the
        kernel of ``X_a`` with itself, symmetric). Picklable (e.g. a module-level function) to
        run on a ``distributed`` cluster.
    X : ndarray of shape (n_samples, n_features)
        The rows.
    chunk_size : int
        Rows per block; the last block holds the rest.
    args : tuple, default=()
        Leading arguments of ``block_function``, e.g. the network; each enters the task graph
        once, however many blocks use it.
    token : str, default=None
        A string that identifies ``block_function`` and ``args`` (e.g. a hash of a network's
        weights): the array's name is derived from it and from ``X``, so the same kernel has
        the same name in every call (and a spill store of
        :func:`~sklearn_attnkernel.loo_influence` is found again). ``None`` draws a fresh name.

    Returns
    -------
    K : dask.array.Array of shape (n_samples, n_samples)
        Lazy, float64, in ``chunk_size × chunk_size`` blocks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.ntk.blocked import kernel_blocks
    >>> def linear(A, B):
    ...     return A @ (A if B is None else B).T
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> K = kernel_blocks(linear, X, 2)
    >>> K.chunks
    ((2, 2, 1), (2, 2, 1))
    >>> bool(np.allclose(K.compute(), X @ X.T))
    True
    """
    n = X.shape[0]
    bounds = _bounds(n, chunk_size)
    base = tokenize(token, X, chunk_size) if token is not None else None
    # one graph key per row block: each block task refers to it instead of embedding a copy
    rows = [
        dask.delayed(X[start:stop], name=None if base is None else f"rows-{base}-{i}")
        for i, (start, stop) in enumerate(bounds)
    ]
    call = dask.delayed(block_function, pure=True)
    shared = [
        dask.delayed(arg, pure=True, name=None if base is None else f"arg-{base}-{k}")
        for k, arg in enumerate(args)
    ]
    grid = [[None] * len(bounds) for _ in bounds]
    for i, (a0, a1) in enumerate(bounds):
        for j in range(i + 1):
            b0, b1 = bounds[j]
            name = None if base is None else f"kernel-block-{base}-{i}-{j}"
            value = call(*shared, rows[i], None if i == j else rows[j], dask_key_name=name)
            grid[i][j] = da.from_delayed(value, shape=(a1 - a0, b1 - b0), dtype=np.float64)
            if j < i:
                grid[j][i] = grid[i][j].T
    return da.block(grid)


def _empirical_block(module, X_a, X_b):
    return empirical_ntk(module, X_a, X_b)


def empirical_ntk_blocks(module, X, chunk_size):
    """The empirical NTK of ``module`` on ``X`` as a lazy dask array of square blocks.

    Each block is :func:`~sklearn_attnkernel.empirical_ntk` of two row blocks (for the
    two-layer ReLU network the closed form ``(X_a X_bᵀ) ⊙ (S_a diag(c) S_bᵀ) / m`` plus the
    readout term; :ref:`theory_ntk`), so the blocks equal the in-memory kernel's up to the
    rounding of the matrix products.

    Parameters
    ----------
    module : torch.nn.Module
        The network whose kernel is computed (kept as it is: each block copies what it needs).
    X : ndarray of shape (n_samples, n_features)
        The network's input features.
    chunk_size : int
        Rows per block.

    Returns
    -------
    K : dask.array.Array of shape (n_samples, n_samples)
        Lazy, float64, exactly symmetric, named after the network's parameters and ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_attnkernel import TwoLayerReLU, empirical_ntk
    >>> from sklearn_attnkernel.ntk.blocked import empirical_ntk_blocks
    >>> _ = torch.manual_seed(0)
    >>> net = TwoLayerReLU(n_features=3, width=16)
    >>> X = np.random.default_rng(0).normal(size=(7, 3))
    >>> K = empirical_ntk_blocks(net, X, 3)
    >>> bool(np.allclose(K.compute(), empirical_ntk(net, X), rtol=1e-12))
    True
    """
    state = {name: value.detach().cpu().numpy() for name, value in module.state_dict().items()}
    trainable = [name for name, p in module.named_parameters() if p.requires_grad]
    token = tokenize(type(module).__name__, state, trainable)
    return kernel_blocks(_empirical_block, X, chunk_size, args=(module,), token=token)
