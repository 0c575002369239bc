"""Tests for the empirical NTK: closed form vs torch.func, convergence to Θ∞, memory guard."""

import itertools

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import normalize
from torch import nn

from sklearn_attnkernel import (
    LinearizedAttention,
    TwoLayerReLU,
    empirical_ntk,
    infinite_width_ntk,
    ntk_distance,
)


def _readonly(A):
    A = np.array(A, dtype=np.float64)
    A.flags.writeable = False
    return A


def _net(n_features, width, n_outputs=1, *, seed=0, **kwargs):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return TwoLayerReLU(n_features, width, n_outputs, **kwargs)


def _features(kind, rng, n, d):
    X = normalize(rng.random((n, d)) - 0.3)
    if kind == "attention":
        ref = normalize(rng.random((40, d)) - 0.3)
        X = LinearizedAttention().fit(ref).transform(X)
    return _readonly(X)


@pytest.mark.parametrize("kind", ["raw", "attention"])
@pytest.mark.parametrize("train_readout", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_analytic_equals_torch_func(kind, train_readout, n_outputs):
    rng = np.random.default_rng(0)
    X, Y = _features(kind, rng, 7, 6), _features(kind, rng, 5, 6)
    net = _net(6, 48, n_outputs, sigma_w=1.3, train_readout=train_readout)
    if train_readout:  # a trained readout is no longer ±1: the c_r weights matter
        with torch.no_grad():
            net.A.mul_(torch.linspace(0.2, 2.0, net.A.numel()).reshape(net.A.shape))
    for right in (Y, None):
        analytic = empirical_ntk(net, X, right, method="analytic", block_size=3)
        jacobian = empirical_ntk(net, X, right, method="jacobian", block_size=2)
        assert analytic.dtype == np.float64
        assert analytic.shape == (7, 5 if right is not None else 7)
        np.testing.assert_allclose(analytic, jacobian, rtol=0, atol=1e-10)
    assert np.abs(analytic).max() > 0.1  # not trivially zero


def test_jacobian_path_matches_autograd_loop_on_any_module():
    """The torch.func path against per-output torch.autograd.grad loops (a 2nd implementation)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    net[0].bias.requires_grad_(False)  # frozen parameters are excluded from θ
    rng = np.random.default_rng(1)
    X, Y = _readonly(rng.normal(size=(5, 4))), _readonly(rng.normal(size=(3, 4)))
    params = [p for p in net.parameters() if p.requires_grad]

    def grads(x):
        out = net(torch.tensor(x)[None])[0]
        rows = []
        for c in range(out.shape[0]):
            g = torch.autograd.grad(out[c], params, retain_graph=True)
            rows.append(torch.cat([t.reshape(-1) for t in g]))
        return torch.stack(rows)

    expected = np.array([[float((grads(x) * grads(z)).sum()) / 2 for z in Y] for x in X])
    np.testing.assert_allclose(empirical_ntk(net, X, Y), expected, rtol=1e-12, atol=1e-13)
    with pytest.raises(TypeError, match="analytic"):
        empirical_ntk(net, X, method="analytic")


def test_frozen_first_layer_leaves_readout_term():
    rng = np.random.default_rng(2)
    X = _readonly(rng.normal(size=(6, 3)))
    net = _net(3, 32, 2, train_readout=True)
    net.W.requires_grad_(False)
    H = np.maximum(X @ net.W.detach().double().numpy().T, 0)
    np.testing.assert_allclose(empirical_ntk(net, X), H @ H.T / 32, rtol=1e-12)
    np.testing.assert_allclose(empirical_ntk(net, X, method="jacobian"), H @ H.T / 32, rtol=1e-12)


def test_float32_module_is_computed_in_float64_and_left_untouched():
    rng = np.random.default_rng(3)
    X = _readonly(rng.normal(size=(6, 4)))
    net = _net(4, 40, 2)
    assert net.W.dtype == torch.float32
    W_before = net.W.detach().clone()
    K = empirical_ntk(net, X, method="jacobian")
    assert K.dtype == np.float64
    assert net.W.dtype == torch.float32
    assert torch.equal(net.W, W_before)
    # the reference: the float32 weights, exactly, in float64 numpy
    W = net.W.detach().double().numpy()
    S = (X @ W.T > 0).astype(float)
    np.testing.assert_allclose(K, (X @ X.T) * (S @ S.T) / 40, rtol=1e-12)
    np.testing.assert_allclose(empirical_ntk(net, X), K, rtol=1e-12)


def test_block_size_does_not_change_result():
    rng = np.random.default_rng(4)
    X, Y = _readonly(rng.normal(size=(11, 5))), _readonly(rng.normal(size=(4, 5)))
    net = _net(5, 30, train_readout=True)
    full = empirical_ntk(net, X, Y)
    # Blocking changes the shapes of the BLAS products, so results agree to rounding, not bits.
    tol = 1e-13 * np.abs(full).max()
    for block in (1, 4, 11, 50):
        np.testing.assert_allclose(empirical_ntk(net, X, Y, block_size=block), full, atol=tol)
    sym = empirical_ntk(net, X)
    for block in (1, 3, 7):
        np.testing.assert_allclose(
            empirical_ntk(net, X, block_size=block), sym, atol=1e-13 * np.abs(sym).max()
        )
        np.testing.assert_allclose(
            empirical_ntk(net, X, method="jacobian", block_size=block), sym, atol=1e-12
        )
    np.testing.assert_array_equal(sym, sym.T)


def test_relative_error_falls_like_inverse_sqrt_width():
    rng = np.random.default_rng(5)
    X = _readonly(normalize(rng.normal(size=(8, 5))))
    K_inf = infinite_width_ntk(X)
    widths = [64, 256, 1024, 4096, 16384]
    errors = [
        np.mean([ntk_distance(empirical_ntk(_net(5, m, seed=s), X), K_inf) for s in range(6)])
        for m in widths
    ]
    slope = np.polyfit(np.log(widths), np.log(errors), 1)[0]
    assert -0.65 <= slope <= -0.35, (slope, errors)


def test_digits_frobenius_distance_at_init_falls_monotonically_for_2l_relu():
    X = load_digits().data[::6] / 16.0  # 300 images
    X = _readonly(normalize(X))
    K_inf = infinite_width_ntk(X)
    means = [
        np.mean(
            [ntk_distance(empirical_ntk(_net(X.shape[1], m, seed=s), X), K_inf) for s in range(3)]
        )
        for m in (16, 64, 256, 1024, 4096)
    ]
    assert all(a > b for a, b in itertools.pairwise(means)), means


def test_memory_budget_is_checked_before_allocating():
    rng = np.random.default_rng(6)
    X = _readonly(rng.normal(size=(50, 4)))
    net = _net(4, 100)
    with pytest.raises(ValueError, match=r"50×50 float64 NTK.*memory_budget=10000.*subset"):
        empirical_ntk(net, X, memory_budget=10_000)
    # the output fits but the requested block does not: the message suggests a smaller block
    with pytest.raises(ValueError, match=r"block_size=50 .*use block_size <= \d+"):
        empirical_ntk(net, X, block_size=50, memory_budget=60_000)
    with pytest.raises(ValueError, match=r"Jacobians"):
        empirical_ntk(net, X, method="jacobian", memory_budget=25_000)
    # an automatic block fits into the same budget
    K, K_ref = empirical_ntk(net, X, memory_budget=60e3), empirical_ntk(net, X)
    np.testing.assert_allclose(K, K_ref, atol=1e-13 * np.abs(K_ref).max())


def test_bad_input():
    rng = np.random.default_rng(7)
    X = _readonly(rng.normal(size=(5, 4)))
    net = _net(4, 8)
    with pytest.raises(ValueError, match="expects 4"):
        empirical_ntk(net, X[:, :3])
    with pytest.raises(ValueError, match="same number of columns"):
        empirical_ntk(net, X, X[:, :3])
    with pytest.raises(ValueError, match="method"):
        empirical_ntk(net, X, method="exact")
    with pytest.raises(ValueError, match="block_size"):
        empirical_ntk(net, X, block_size=0)
    with pytest.raises(ValueError, match="NaN"):
        empirical_ntk(net, np.full((2, 4), np.nan))
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        empirical_ntk("net", X)
    with pytest.raises(ValueError, match="device"):
        empirical_ntk(net, X, device="not-a-device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"torch.cuda.is_available\(\) is False"):
            empirical_ntk(net, X, device="cuda")
    net.W.requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad"):
        empirical_ntk(net, X)


@pytest.mark.parametrize("attention", [None, "linear", "softmax"])
def test_fitted_estimators_and_pipelines(attention):
    from sklearn_attnkernel import TwoLayerReLUClassifier, make_mlp_attn, make_two_layer_relu

    X = load_digits().data[:60] / 16.0
    y = load_digits().target[:60]
    X.flags.writeable = False
    params = {"width": 24, "max_epochs": 2, "lr": 1e-2, "device": "cpu", "random_state": 0}
    if attention is None:
        model = make_two_layer_relu(**params)
    else:
        model = make_mlp_attn(attention=attention, **params)
    model.fit(X, y)
    features = model[:-1].transform(X)
    module = model[-1].net_.module_
    K = empirical_ntk(model, X, X[:7])
    np.testing.assert_allclose(K, empirical_ntk(module, features, features[:7]), rtol=1e-14)
    np.testing.assert_allclose(
        K, empirical_ntk(model, X, X[:7], method="jacobian"), rtol=0, atol=1e-10
    )
    # a fitted estimator on its own features
    np.testing.assert_allclose(empirical_ntk(model[-1], features, features[:7]), K, rtol=1e-14)
    with pytest.raises(NotFittedError):
        empirical_ntk(TwoLayerReLUClassifier(), X)
    with pytest.raises(NotFittedError):
        empirical_ntk(make_two_layer_relu(), X)


def test_jacobian_path_on_a_float32_module_of_any_shape():
    """f(x) = W flatten(x) + b: each output's gradient is (x, 1), so Θ(x, y) = x·y + 1."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Flatten(), nn.Linear(3, 2))  # float32; Flatten needs 2-D rows
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    rng = np.random.default_rng(5)
    X, Y = _readonly(rng.normal(size=(5, 3))), _readonly(rng.normal(size=(4, 3)))
    np.testing.assert_allclose(empirical_ntk(net, X, Y), X @ Y.T + 1, rtol=1e-13, atol=1e-13)
    for block in (1, 2, None):  # one triangle computed, the other mirrored, every row block
        K = empirical_ntk(net, X, block_size=block)
        np.testing.assert_allclose(K, X @ X.T + 1, rtol=1e-13, atol=1e-13)
    for name, p in net.named_parameters():  # the caller's module is left as it was
        assert p.dtype == torch.float32
        assert torch.equal(p.detach(), before[name])


@pytest.mark.parametrize("method", ["analytic", "jacobian"])
def test_integer_inputs_are_read_as_float64(method):
    X, Y = [[1, 2, 0], [0, -1, 3]], [[2, 1, 1]]
    net = _net(3, 16, train_readout=True)
    expected = empirical_ntk(net, np.array(X, dtype=float), np.array(Y, dtype=float), method=method)
    np.testing.assert_array_equal(empirical_ntk(net, X, Y, method=method), expected)
    np.testing.assert_array_equal(
        empirical_ntk(net, X, method=method),
        empirical_ntk(net, np.array(X, dtype=float), method=method),
    )


@pytest.mark.parametrize("method", ["analytic", "jacobian"])
def test_a_unit_at_exactly_zero_pre_activation_is_inactive(method):
    """relu'(0) = 0, as in autograd: unit 1 (w = (1, 0)) is at exactly 0 on the row (0, 1)."""
    net = _net(2, 2)
    with torch.no_grad():
        net.W.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    W = net.W.detach().double().numpy()
    for rows in ([[0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [0.0, 1.0]]):
        X = _readonly(rows)
        S = (X @ W.T > 0).astype(float)  # strictly positive pre-activations only
        expected = (X @ X.T) * (S @ S.T) / 2  # c = A² = 1
        np.testing.assert_allclose(empirical_ntk(net, X, method=method), expected, rtol=1e-14)
        np.testing.assert_allclose(empirical_ntk(net, X, X, method=method), expected, rtol=1e-14)


def test_frozen_readout_parameter_has_no_readout_term():
    """A readout that is a parameter with requires_grad=False contributes nothing."""
    rng = np.random.default_rng(6)
    X = _readonly(rng.normal(size=(6, 3)))
    net = _net(3, 16, 2, train_readout=True)
    net.A.requires_grad_(False)
    S = (X @ net.W.detach().double().numpy().T > 0).astype(float)
    expected = (X @ X.T) * (S @ S.T) / 16  # A = ±1, so c ≡ 1
    np.testing.assert_allclose(empirical_ntk(net, X), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(
        empirical_ntk(net, X, method="jacobian"), expected, rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("method", ["jacobian", None])
def test_jacobian_block_size_too_large_for_the_budget_is_refused(method):
    """Fifty rows of 20 × 80 float64 Jacobians (640 kB) cannot fit in 100 kB."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Linear(3, 20).double()
    X = _readonly(np.random.default_rng(7).normal(size=(50, 3)))
    with pytest.raises(ValueError, match="block_size=50"):
        empirical_ntk(net, X, block_size=50, memory_budget=100_000)
    K = empirical_ntk(net, X, method=method or "auto", memory_budget=100_000)
    np.testing.assert_allclose(K, X @ X.T + 1, rtol=1e-13, atol=1e-13)


def test_counts_beyond_float32_integers_stay_exact():
    """2**24 + 1 co-active units: a float32 count would round to 2**24 (or 2**24 + 2)."""
    width = 2**24 + 1
    net = _net(1, 1, train_readout=False)
    net.W = nn.Parameter(torch.ones(width, 1))
    net.register_buffer("A", torch.ones(width, 1))
    net.width = width
    # every unit is active on x = 1: Θ(1, 1) = 1 · (2**24 + 1) / (2**24 + 1) = 1
    assert empirical_ntk(net, [[1.0]], method="analytic")[0, 0] == 1.0


def _fits(net, X, budget, **kwargs):
    """Whether ``empirical_ntk`` accepts ``memory_budget=budget`` (other errors propagate)."""
    try:
        empirical_ntk(net, X, memory_budget=budget, **kwargs)
    except ValueError as exc:
        if "memory_budget" not in str(exc):
            raise
        return False
    return True


@pytest.mark.parametrize("readout", ["buffer", "trained"])
def test_analytic_memory_estimate_is_the_documented_byte_count(readout):
    """The estimate, counted by hand from its description (an exact threshold, both sides).

    Output ``n²`` float64; fixed: the ``n × m`` pattern of Y (float32 counts when ``c ≡ 1``,
    else float64), ``relu(Y Wᵀ)`` in float64 when the readout is trained, and Y itself; per X
    row: ``m`` float64 pre-activations, its pattern and relu row, and three ``n``-long rows.
    """
    n, d, m = 10, 3, 40
    X = _readonly(np.random.default_rng(8).normal(size=(n, d)))
    net = _net(d, m, train_readout=readout == "trained")
    if readout == "trained":  # c ≠ 1: float64 pattern, plus the relu of the trained readout
        with torch.no_grad():
            net.A.mul_(1.5)
    pattern, relu = (4, 0) if readout == "buffer" else (8, 8)
    out, fixed = n * n * 8, n * m * (pattern + relu) + n * d * 8
    per_row = m * (8 + pattern + relu) + 3 * n * 8
    assert _fits(net, X, out + fixed + per_row)
    assert not _fits(net, X, out + fixed + per_row - 1)
    assert _fits(net, X, out + fixed + 3 * per_row, block_size=3)
    assert not _fits(net, X, out + fixed + 3 * per_row - 1, block_size=3)


def test_jacobian_memory_estimate_is_the_documented_byte_count():
    """Jacobian path: three buffers of ``C · P`` float64 per row plus two ``n``-long rows."""
    n, d = 10, 3
    X = _readonly(np.random.default_rng(9).normal(size=(n, d)))
    net = nn.Linear(d, 2).double()  # P = 8 parameters, C = 2 outputs
    out, fixed, per_row = n * n * 8, n * d * 8, 3 * (2 * 8 * 8) + 2 * n * 8
    assert _fits(net, X, out + fixed + per_row)
    assert not _fits(net, X, out + fixed + per_row - 1)
    assert _fits(net, X, out + fixed + 4 * per_row, block_size=4)
    assert not _fits(net, X, out + fixed + 4 * per_row - 1, block_size=4)


def test_torch_default_device_does_not_leak_in():
    """Every tensor is placed explicitly: under ``torch.device("meta")`` (a default device with
    no data) the kernels are bit-identical; a tensor left to the default would fail."""
    rng = np.random.default_rng(10)
    X, Y = _readonly(rng.normal(size=(4, 3))), _readonly(rng.normal(size=(2, 3)))
    net = _net(3, 8, 2, train_readout=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        generic = nn.Sequential(nn.Flatten(), nn.Linear(3, 2))
    calls = [
        lambda: empirical_ntk(net, X),
        lambda: empirical_ntk(net, X, Y),
        lambda: empirical_ntk(net, X, method="jacobian"),
        lambda: empirical_ntk(generic, X, Y),
    ]
    expected = [call() for call in calls]
    with torch.device("meta"):
        for call, K in zip(calls, expected, strict=True):
            np.testing.assert_array_equal(call(), K)
