"""Empirical (finite-width) neural tangent kernel of a network (arXiv 2603.13085).

Two paths compute the same quantity, the output-averaged NTK over the parameters with
``requires_grad=True``:

* ``"analytic"``: the closed form of :class:`~sklearn_attnkernel.TwoLayerReLU`, no Jacobian;
* ``"jacobian"``: per-sample Jacobians from :mod:`torch.func` (``functional_call`` + ``vmap`` +
  ``jacrev``), for any module; it is the independent check of the closed form.
"""

import copy
import logging
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array
from torch import nn
from torch.func import functional_call, jacrev, vmap

from .._utils.memory import DEFAULT_MEMORY_BUDGET, format_bytes
from .._utils.scale import ldexp_checked, scale_by_pow2
from ..networks.modules import TwoLayerReLU, resolve_device, unwrap_model

logger = logging.getLogger(__name__)

__all__ = ["empirical_ntk"]

_FLOAT64_BYTES = 8
_RESCALE = "rescale X (and Y), e.g. with sklearn.preprocessing.Normalizer"
# Largest row block when block_size=None: bigger blocks gain little BLAS efficiency.
_MAX_AUTO_BLOCK = {"analytic": 2048, "jacobian": 256}
# The Jacobian path holds the X block's and the Y block's Jacobians and about as much again
# inside jacrev; the estimate below counts three Jacobian-sized buffers per block row.
_JACOBIAN_BUFFERS = 3


def _module_device(module):
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def _n_outputs(module, n_features, device):
    if isinstance(module, TwoLayerReLU):
        return module.n_outputs
    # any module: one forward pass on a zero row tells the output width
    probe = copy.deepcopy(module).to(device=device, dtype=torch.float64).eval()
    with torch.no_grad():
        out = probe(torch.zeros(1, n_features, dtype=torch.float64, device=device))
    return int(out.reshape(1, -1).shape[1])


def _check_memory(*, n_x, n_y, fixed_bytes, per_row_bytes, block_size, memory_budget, what):
    """Pick/validate the row block size so the output plus intermediates fit the budget."""
    memory_budget = int(memory_budget)
    out_bytes = n_x * n_y * _FLOAT64_BYTES
    if out_bytes + fixed_bytes + per_row_bytes > memory_budget:
        raise ValueError(
            f"The {n_x}×{n_y} float64 NTK needs {format_bytes(out_bytes)} (plus "
            f"{format_bytes(fixed_bytes + per_row_bytes)} of {what} for a single row block), more "
            f"than memory_budget={memory_budget} bytes ({format_bytes(memory_budget)}). Compute it "
            "on a subset of the rows (or for X against a smaller Y), or raise memory_budget if "
            "the machine has the memory."
        )
    room = memory_budget - out_bytes - fixed_bytes
    if block_size is None:
        return max(1, min(n_x, room // per_row_bytes))
    needed = out_bytes + fixed_bytes + block_size * per_row_bytes
    if needed > memory_budget:
        largest = max(1, room // per_row_bytes)
        raise ValueError(
            f"block_size={block_size} needs {format_bytes(needed)} (the {n_x}×{n_y} output, "
            f"{format_bytes(block_size * per_row_bytes)} of {what} per block), more than "
            f"memory_budget={memory_budget} bytes; use block_size <= {largest} or block_size=None."
        )
    return min(block_size, n_x)


def _blocks(n, size):
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _analytic_block(*, n_x, n_y, y_size, width, train_a, pattern_bytes, block_size, budget):
    """Row block of the analytic path within the memory budget.

    Fixed: ``S_Y`` (and ``relu(Y Wᵀ)``) for all Y rows, plus Y itself; per X row: the
    pre-activations, the pattern, the relu and three ``n_y``-long rows of block products.
    """
    readout_bytes = _FLOAT64_BYTES if train_a else 0
    fixed = n_y * width * (pattern_bytes + readout_bytes)
    fixed += y_size * _FLOAT64_BYTES
    per_row = width * (_FLOAT64_BYTES + pattern_bytes + readout_bytes)
    per_row += 3 * n_y * _FLOAT64_BYTES
    block = _check_memory(
        n_x=n_x,
        n_y=n_y,
        fixed_bytes=fixed,
        per_row_bytes=per_row,
        block_size=block_size,
        memory_budget=budget,
        what="intermediates (activation patterns)",
    )
    if block_size is None:
        block = min(block, _MAX_AUTO_BLOCK["analytic"])
    return block


def _analytic_rows(Xb, Y_cols, W, pattern_y, relu_y, *, train_w, pattern_dtype):
    """Unscaled kernel rows of the block ``Xb`` against ``Y_cols`` (the sum before ``/ m``)."""
    pre_x = Xb @ W.T
    kernel = torch.zeros((Xb.shape[0], Y_cols.shape[0]), dtype=torch.float64, device=Xb.device)
    if train_w:
        pattern_x = (pre_x > 0).to(pattern_dtype)
        co_active = (pattern_x @ pattern_y.T).to(torch.float64)
        kernel += (Xb @ Y_cols.T) * co_active
        del pattern_x, co_active
    if relu_y is not None:
        kernel += torch.relu(pre_x) @ relu_y.T
    return kernel


def _analytic_ntk(module, X, Y, symmetric, block_size, device, memory_budget):
    """Closed form for TwoLayerReLU; written by hand since no library ships it.

    ``Θ = (X Yᵀ) ⊙ (S_X diag(c) S_Yᵀ) / m`` with ``S = 1[X Wᵀ > 0]`` and ``c_r`` the mean of
    ``A_rc²`` over outputs (1 for a Rademacher readout), plus ``relu(X Wᵀ) relu(Y Wᵀ)ᵀ / m``
    when the readout is a trained parameter.
    """
    train_w = module.W.requires_grad
    train_a = isinstance(module.A, nn.Parameter) and module.A.requires_grad
    W = module.W.detach().to(device=device, dtype=torch.float64)
    A = module.A.detach().to(device=device, dtype=torch.float64)
    width = W.shape[0]
    n_x, n_y = X.shape[0], Y.shape[0]
    readout_weight = (A * A).mean(dim=1)
    # With c ≡ 1 the pattern product counts co-active units: integers below 2**24 are exact in
    # float32, so the (fastest) product is done in float32 without any loss.
    counts_in_float32 = bool(torch.all(readout_weight == 1)) and width < 2**24
    pattern_dtype = torch.float32 if counts_in_float32 else torch.float64
    block = _analytic_block(
        n_x=n_x,
        n_y=n_y,
        y_size=Y.size,
        width=width,
        train_a=train_a,
        pattern_bytes=4 if counts_in_float32 else 8,
        block_size=block_size,
        budget=memory_budget,
    )
    logger.debug("analytic NTK: n_x=%d, n_y=%d, width=%d, block=%d", n_x, n_y, width, block)

    out = np.empty((n_x, n_y), dtype=np.float64)
    with torch.no_grad():
        Yt = torch.tensor(Y, device=device)
        pre_y = Yt @ W.T
        pattern_y = (pre_y > 0).to(pattern_dtype)
        if not counts_in_float32:
            pattern_y *= readout_weight  # S_Y diag(c)
        relu_y = torch.relu(pre_y) if train_a else None
        del pre_y
        for start, stop in _blocks(n_x, block):
            cols = slice(0, stop) if symmetric else slice(None)
            kernel = _analytic_rows(
                torch.tensor(X[start:stop], device=device),
                Yt[cols],
                W,
                pattern_y[cols],
                None if relu_y is None else relu_y[cols],
                train_w=train_w,
                pattern_dtype=pattern_dtype,
            )
            kernel /= width
            out[start:stop, cols] = kernel.cpu().numpy()
    if symmetric:
        # Mirror the lower triangle (diagonal blocks included): BLAS may round (XXᵀ)ᵢⱼ and
        # (XXᵀ)ⱼᵢ differently, so symmetry is exact only by construction.
        upper = np.triu_indices(n_x, 1)
        out[upper] = out.T[upper]
    return out


def _scaled_analytic_ntk(module, X, Y, symmetric, block_size, device, memory_budget):
    """The closed form on ``X``, ``Y`` divided by powers of two, shifted back (both exact).

    It is homogeneous of degree 1 in x and in y (no bias, patterns scale-free), so this is the
    kernel itself wherever it fits float64; a ValueError names an overflow or underflow.
    """
    X, e_x = scale_by_pow2(X)
    Y, e_y = (X, e_x) if symmetric else scale_by_pow2(Y)
    K = _analytic_ntk(module, X, Y, symmetric, block_size, device, memory_budget)
    return ldexp_checked(K, e_x + e_y, what="empirical_ntk: the kernel", fix=_RESCALE)


def _jacobian_block(*, n_x, n_y, y_size, n_outputs, n_params, block_size, budget):
    """Row block of the Jacobian path within the memory budget."""
    jac_row_bytes = n_outputs * n_params * _FLOAT64_BYTES
    block = _check_memory(
        n_x=n_x,
        n_y=n_y,
        fixed_bytes=y_size * _FLOAT64_BYTES,
        per_row_bytes=_JACOBIAN_BUFFERS * jac_row_bytes + 2 * n_y * _FLOAT64_BYTES,
        block_size=block_size,
        memory_budget=budget,
        what=f"Jacobians ({n_outputs} outputs × {n_params} parameters per row)",
    )
    if block_size is None:
        block = min(block, _MAX_AUTO_BLOCK["jacobian"])
    return block


def _flat_jacobian(net, params, constants, device):
    """``rows -> (n_rows, n_outputs · n_params)`` per-sample Jacobians of ``net`` (torch.func)."""

    def single_output(theta, x):
        return functional_call(net, (theta, constants), (x.unsqueeze(0),)).reshape(-1)

    per_sample_jacobian = vmap(jacrev(single_output), in_dims=(None, 0))

    def flat_jacobian(rows):
        rows = torch.tensor(rows, device=device)
        jac = per_sample_jacobian(params, rows)
        return torch.cat([j.reshape(rows.shape[0], -1) for j in jac.values()], dim=1)

    return flat_jacobian


def _fill_jacobian_kernel(out, flat_jacobian, X, Y, x_blocks, y_blocks, symmetric, n_outputs):
    """Write ``J_X J_Yᵀ / n_outputs`` into ``out`` block by block (one triangle if symmetric)."""
    with torch.no_grad():
        for i, (start, stop) in enumerate(x_blocks):
            jac_x = flat_jacobian(X[start:stop])
            for j, (y_start, y_stop) in enumerate(y_blocks):
                if symmetric and j > i:
                    break
                jac_y = jac_x if symmetric and j == i else flat_jacobian(Y[y_start:y_stop])
                kernel = (jac_x @ jac_y.T) / n_outputs
                out[start:stop, y_start:y_stop] = kernel.cpu().numpy()
                if symmetric and j < i:
                    out[y_start:y_stop, start:stop] = out[start:stop, y_start:y_stop].T
                del jac_y


def _jacobian_ntk(module, X, Y, symmetric, block_size, device, memory_budget, n_outputs):
    """Output-averaged NTK from per-sample Jacobians (torch.func), blocked over rows."""
    net = copy.deepcopy(module).to(device=device, dtype=torch.float64).eval()
    params = {name: p.detach() for name, p in net.named_parameters() if p.requires_grad}
    constants = {name: p.detach() for name, p in net.named_parameters() if not p.requires_grad}
    constants.update(dict(net.named_buffers()))
    n_params = sum(p.numel() for p in params.values())
    n_x, n_y = X.shape[0], Y.shape[0]
    block = _jacobian_block(
        n_x=n_x,
        n_y=n_y,
        y_size=Y.size,
        n_outputs=n_outputs,
        n_params=n_params,
        block_size=block_size,
        budget=memory_budget,
    )
    logger.debug(
        "jacobian NTK: n_x=%d, n_y=%d, parameters=%d, outputs=%d, block=%d",
        n_x,
        n_y,
        n_params,
        n_outputs,
        block,
    )
    out = np.empty((n_x, n_y), dtype=np.float64)
    x_blocks = _blocks(n_x, block)
    y_blocks = x_blocks if symmetric else _blocks(n_y, block)
    flat_jacobian = _flat_jacobian(net, params, constants, device)
    _fill_jacobian_kernel(out, flat_jacobian, X, Y, x_blocks, y_blocks, symmetric, n_outputs)
    return out


def empirical_ntk(
    model,
    X,
    Y=None,
    *,
    method="auto",
    block_size=None,
    device=None,
    memory_budget=DEFAULT_MEMORY_BUDGET,
):
    """Empirical neural tangent kernel of a network at its current parameters.

    ``Θ(x, x') = (1/C) Σ_c ⟨∂f_c(x)/∂θ, ∂f_c(x')/∂θ⟩``: the NTK averaged over the ``C`` outputs,
    over all parameters with ``requires_grad=True`` (:ref:`theory_ntk`). For
    :class:`~sklearn_attnkernel.TwoLayerReLU` it has the closed form
    ``(X Yᵀ) ⊙ (S_X diag(c) S_Yᵀ) / m`` with ``S = 1[X Wᵀ > 0]`` and ``c_r = (1/C) Σ_c A_rc²``
    (``c ≡ 1`` for the Rademacher readout), plus ``relu(X Wᵀ) relu(Y Wᵀ)ᵀ / m`` when the readout
    is trained.

    Parameters
    ----------
    model : torch.nn.Module, fitted estimator or fitted Pipeline
        A torch module; a fitted ``TwoLayerReLUClassifier``/``TwoLayerReLURegressor`` (its
        ``net_.module_`` is used); or a fitted pipeline such as those of
        :func:`~sklearn_attnkernel.make_two_layer_relu` and
        :func:`~sklearn_attnkernel.make_mlp_attn`, whose steps before the last transform ``X``
        (and ``Y``) first, so the kernel is that of the network on its own input features.
    X : array-like of shape (n_samples_X, n_features)
        Left inputs.
    Y : array-like of shape (n_samples_Y, n_features), default=None
        Right inputs; ``None`` means ``Y = X`` (only one triangle is computed, then mirrored).
    method : {"auto", "analytic", "jacobian"}, default="auto"
        ``"analytic"``: the closed form, only for a ``TwoLayerReLU``; cost O(n² (d + m)) and
        memory O(n² + n m). ``"jacobian"``: per-sample Jacobians with :mod:`torch.func`
        (``functional_call``, ``vmap``, ``jacrev``) for any module; cost O(n² C P) for ``P``
        trainable parameters and memory O(block · C · P). ``"auto"``: analytic for a
        ``TwoLayerReLU``, Jacobian otherwise.
    block_size : int, default=None
        Rows of ``X`` (and ``Y``) processed at once. ``None`` picks the largest block that keeps
        the estimated memory within ``memory_budget`` (capped at 2048 rows for the analytic path
        and 256 for the Jacobian path).
    device : str or torch.device, default=None
        Where to compute; ``None`` uses the module's device.
    memory_budget : int or float, default=4 * 2**30
        Bytes the output plus the largest intermediates may take (4 GiB by default, ours). A
        request estimated above it raises a ``ValueError`` before anything large is allocated.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y), dtype float64
        The empirical NTK.

    Raises
    ------
    ValueError
        If the estimated memory exceeds ``memory_budget``, the module has no trainable
        parameter, the feature counts disagree, or the kernel overflows (or, for the analytic
        path, underflows) float64; the message names the overflow.
    TypeError
        If ``model`` is of an unsupported type, or ``method="analytic"`` is asked for a module
        that is not a ``TwoLayerReLU``.

    See Also
    --------
    infinite_width_ntk : The infinite-width limit of this kernel.
    ntk_distance : Distance between the two.

    Notes
    -----
    The computation is always in float64, whatever the module's dtype: the analytic path casts
    copies of ``W`` and ``A``, the Jacobian path a deep copy of the module (in ``eval`` mode).
    The module itself is never modified. The analytic path works on ``X`` and ``Y`` divided by
    powers of two (exact) and multiplies the kernel back (exact), so it is right at any input
    scale whose kernel fits float64. In the analytic path, when ``c ≡ 1`` the pattern product
    ``S_X S_Yᵀ`` counts co-active units and is done in float32, which is exact for integers below
    2²⁴ (so for any width below 16 777 216).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_attnkernel import TwoLayerReLU, empirical_ntk
    >>> _ = torch.manual_seed(0)
    >>> net = TwoLayerReLU(n_features=3, width=64)
    >>> X = np.eye(3)
    >>> K = empirical_ntk(net, X)
    >>> K.shape, bool(np.allclose(K, empirical_ntk(net, X, method="jacobian")))
    ((3, 3), True)
    """
    transformer, _, module = unwrap_model(model)
    if transformer is not None:
        X = transformer.transform(X)
        if Y is not None:
            Y = transformer.transform(Y)
    X = check_array(X, dtype=np.float64, input_name="X", order="C")
    symmetric = Y is None
    if symmetric:
        Y = X
    else:
        Y = check_array(Y, dtype=np.float64, input_name="Y", order="C")
        if Y.shape[1] != X.shape[1]:
            raise ValueError(
                f"Y has {Y.shape[1]} features but X has {X.shape[1]}; pass arrays with the same "
                "number of columns."
            )
    if isinstance(module, TwoLayerReLU) and X.shape[1] != module.n_features:
        raise ValueError(
            f"X has {X.shape[1]} features but the network expects {module.n_features}; pass the "
            "network's input features (or the pipeline, whose transformers produce them)."
        )
    if not any(p.requires_grad for p in module.parameters()):
        raise ValueError(
            "The module has no parameter with requires_grad=True, so its NTK is zero; unfreeze "
            "the parameters whose tangent kernel you want."
        )
    dev = _module_device(module) if device is None else resolve_device(device)

    if method == "auto":
        method = "analytic" if type(module) is TwoLayerReLU else "jacobian"
    if method == "analytic":
        if not isinstance(module, TwoLayerReLU):
            raise TypeError(
                f"method='analytic' needs a TwoLayerReLU module, got {type(module).__name__}; use "
                "method='jacobian' (or 'auto')."
            )
        return _scaled_analytic_ntk(module, X, Y, symmetric, block_size, dev, memory_budget)
    n_outputs = _n_outputs(module, X.shape[1], dev)
    K = _jacobian_ntk(module, X, Y, symmetric, block_size, dev, memory_budget, n_outputs)
    if not np.all(np.isfinite(K)):
        raise ValueError(
            "empirical_ntk: the kernel is not finite: the network's Jacobians overflowed float64 "
            f"(max|x| = {np.abs(X).max():.3g}); {_RESCALE}."
        )
    return K


# Applied by assignment, not with @-syntax, which is the same thing at runtime: mutmut 3 skips
# decorated functions, and this keeps the function body in its reach (docs/testing.rst).
empirical_ntk = validate_params(
    {
        "model": "no_validation",
        "X": ["array-like"],
        "Y": ["array-like", None],
        "method": [StrOptions({"auto", "analytic", "jacobian"})],
        "block_size": [Interval(Integral, 1, None, closed="left"), None],
        "device": "no_validation",
        "memory_budget": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)(empirical_ntk)
