"""FGSM, PGD and MIM in an ℓ∞ ball, against closed-form optima and each other."""

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from sklearn_attnkernel import fgsm, mim, pgd

DTYPES = [torch.float32, torch.float64]


def _logistic_problem(dtype, seed=0):
    """A fixed logistic model and points in [0, 1]; the objective is the summed loss."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(12, 5, generator=gen, dtype=dtype)
    w = torch.randn(5, generator=gen, dtype=dtype)
    y = torch.where(torch.rand(12, generator=gen) > 0.5, 1.0, -1.0).to(dtype)

    def objective(z):
        return torch.nn.functional.softplus(-y * (z @ w)).sum()

    x.requires_grad_(False)
    return objective, x, w, y


def _in_ball(x_adv, x, epsilon, dtype):
    tol = 4 * torch.finfo(dtype).eps
    return bool(((x_adv - x).abs() <= epsilon + tol).all())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("attack", "kwargs"),
    [
        (fgsm, {}),
        (pgd, {"random_state": 0}),
        (pgd, {"random_start": False}),
        (mim, {}),
        (mim, {"random_start": True, "random_state": 1}),
    ],
)
def test_attacks_stay_in_ball_and_clip_and_increase_objective(dtype, attack, kwargs):
    objective, x, _, _ = _logistic_problem(dtype)
    x_before = x.clone()
    for clip in (None, (0.0, 1.0)):
        x_adv = attack(objective, x, epsilon=0.3, clip=clip, **kwargs)
        assert x_adv.dtype == dtype
        assert x_adv.shape == x.shape
        assert not x_adv.requires_grad
        assert _in_ball(x_adv, x, 0.3, dtype)
        if clip is not None:
            assert float(x_adv.min()) >= 0.0
            assert float(x_adv.max()) <= 1.0
        assert objective(x_adv) > objective(x) + 0.1
    assert torch.equal(x, x_before)  # the input is not modified


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_objective_reaches_the_corner_of_the_ball(dtype):
    # max of ⟨w, z⟩ over the ℓ∞ ball is x + ε sign(w): FGSM is exact, PGD and MIM get there
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(4, 6, generator=gen, dtype=dtype)
    w = torch.randn(4, 6, generator=gen, dtype=dtype)

    def objective(z):
        return (z * w).sum()

    corner = x + 0.2 * w.sign()
    assert_close(fgsm(objective, x, epsilon=0.2), corner)
    # 50 steps of 0.01 cross the ball (0.4) from any random start
    assert_close(pgd(objective, x, epsilon=0.2, steps=50, random_state=0), corner)
    assert_close(mim(objective, x, epsilon=0.2, steps=50), corner)
    # with a clip range the optimum is the corner clamped to it
    x_inside = x.clamp(0.1, 0.9)
    assert_close(
        pgd(objective, x_inside, epsilon=0.2, steps=50, clip=(0.1, 0.9), random_state=0),
        (x_inside + 0.2 * w.sign()).clamp(0.1, 0.9),
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_pgd_converges_to_the_projection_of_a_quadratic_maximiser(dtype):
    # maximising −‖z − c‖² over the ball (∩ clip) gives clamp(c, lower, upper), coordinatewise
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(3, 4, generator=gen, dtype=dtype)
    c = x + 0.6 * (torch.rand(3, 4, generator=gen, dtype=dtype) - 0.5)

    def objective(z):
        return -((z - c) ** 2).sum()

    expected = torch.maximum(torch.minimum(c, x + 0.2), x - 0.2).clamp(0.0, 1.0)
    x_adv = pgd(objective, x, epsilon=0.2, steps=200, step_size=0.005, clip=(0.0, 1.0))
    assert float((x_adv - expected).abs().max()) <= 0.005 + 1e-6


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip", [None, (0.0, 1.0)])
def test_fgsm_equals_one_pgd_step_of_size_epsilon(dtype, clip):
    objective, x, _, _ = _logistic_problem(dtype, seed=5)
    one_step = pgd(objective, x, epsilon=0.3, steps=1, step_size=0.3, random_start=False, clip=clip)
    assert_close(fgsm(objective, x, epsilon=0.3, clip=clip), one_step, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mim_without_momentum_equals_pgd_without_random_start(dtype):
    objective, x, _, _ = _logistic_problem(dtype, seed=6)
    kwargs = {"epsilon": 0.3, "steps": 15, "step_size": 0.03, "clip": (0.0, 1.0)}
    assert_close(
        mim(objective, x, momentum=0.0, **kwargs),
        pgd(objective, x, random_start=False, **kwargs),
        rtol=0,
        atol=0,
    )


def test_mim_momentum_differs_from_pgd():
    # a rotating gradient: with μ = 1 the accumulated direction lags, so the paths differ
    objective, x, _, _ = _logistic_problem(torch.float64, seed=7)

    def wobbly(z):
        return objective(z) + 3.0 * torch.sin(10 * z).sum()

    kwargs = {"epsilon": 0.3, "steps": 10, "step_size": 0.05}
    assert not torch.equal(
        mim(wobbly, x, momentum=1.0, **kwargs), pgd(wobbly, x, random_start=False, **kwargs)
    )


def test_mim_normalises_each_sample_by_its_own_l1_norm():
    # two samples whose gradients differ in scale by 1e6: per-row normalisation makes the
    # momentum of the small one count as much as the large one's
    scale = torch.tensor([[1e6], [1.0]], dtype=torch.float64)
    first = torch.tensor([[1.0, -1.0], [1.0, -1.0]], dtype=torch.float64)
    second = torch.tensor([[-3.0, 1.0], [-3.0, 1.0]], dtype=torch.float64)
    calls = []

    def objective(z):
        direction = first if not calls else second
        calls.append(1)
        return (scale * direction * z).sum()

    x = torch.zeros(2, 2, dtype=torch.float64)
    x_adv = mim(objective, x, epsilon=1.0, steps=2, step_size=0.1)
    # step 1: g = ±1/2 → x = (0.1, −0.1); step 2: g = (1/2 − 3/4, −1/2 + 1/4) → signs (−, −)
    expected = torch.tensor([[0.0, -0.2], [0.0, -0.2]], dtype=torch.float64)
    assert_close(x_adv, expected)


def test_random_start_is_reproducible_and_seed_dependent():
    objective, x, _, _ = _logistic_problem(torch.float32, seed=8)
    kwargs = {"epsilon": 0.3, "steps": 2, "step_size": 0.01}
    a = pgd(objective, x, random_state=11, **kwargs)
    b = pgd(objective, x, random_state=11, **kwargs)
    c = pgd(objective, x, random_state=12, **kwargs)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # an int seed and a generator seeded the same way draw the same start
    gen = torch.Generator().manual_seed(11)
    assert torch.equal(a, pgd(objective, x, random_state=gen, **kwargs))
    # the global generator is used when random_state is None
    torch.manual_seed(0)
    d = pgd(objective, x, **kwargs)
    torch.manual_seed(0)
    assert torch.equal(d, pgd(objective, x, **kwargs))


def test_random_start_is_uniform_in_the_ball():
    # with a zero-gradient objective the attack stays at the random start
    x = torch.zeros(20000, dtype=torch.float64)
    start = pgd(lambda z: 0.0 * z.sum(), x, epsilon=0.3, steps=1, random_state=0)
    values = start.numpy()
    assert values.min() >= -0.3
    assert values.max() <= 0.3
    assert abs(values.mean()) < 0.01
    assert np.var(values) == pytest.approx(0.3**2 / 3, rel=0.03)


def test_works_under_no_grad_and_with_a_grad_requiring_input():
    objective, x, _, _ = _logistic_problem(torch.float64, seed=9)
    reference = pgd(objective, x, random_state=0, steps=5)
    with torch.no_grad():
        assert torch.equal(pgd(objective, x, random_state=0, steps=5), reference)
    x_grad = x.clone().requires_grad_(True)
    result = pgd(objective, x_grad, random_state=0, steps=5)
    assert torch.equal(result, reference)
    assert x_grad.grad is None


def test_epsilon_zero_returns_the_input():
    objective, x, _, _ = _logistic_problem(torch.float64, seed=10)
    assert torch.equal(fgsm(objective, x, epsilon=0.0), x)
    assert torch.equal(pgd(objective, x, epsilon=0.0, steps=3), x)


# --------------------------------------------------------------------------------------------
# bad input

OBJ, X, _, _ = _logistic_problem(torch.float64, seed=11)


@pytest.mark.parametrize("attack", [fgsm, pgd, mim])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epsilon": -0.1}, "'epsilon'"),
        ({"epsilon": float("nan")}, "'epsilon'"),
        ({"clip": (1.0, 0.0)}, "lo < hi"),
        ({"clip": (0.0,)}, "pair"),
        ({"clip": (0.0, float("inf"))}, "finite"),
        ({"clip": (0.5, 1.0)}, "outside clip"),
        ({"clip": 1.0}, "'clip'"),
    ],
)
def test_bad_common_arguments(attack, kwargs, match):
    with pytest.raises(ValueError, match=match):
        attack(OBJ, X, **kwargs)


@pytest.mark.parametrize("attack", [pgd, mim])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "'steps'"),
        ({"steps": 2.5}, "'steps'"),
        ({"step_size": 0.0}, "'step_size'"),
        ({"step_size": -0.01}, "'step_size'"),
        ({"random_state": "seed"}, "'random_state'"),
        ({"random_start": 1.5}, "'random_start'"),
    ],
)
def test_bad_iterative_arguments(attack, kwargs, match):
    with pytest.raises(ValueError, match=match):
        attack(OBJ, X, **kwargs)


def test_bad_momentum():
    with pytest.raises(ValueError, match="'momentum'"):
        mim(OBJ, X, momentum=-1.0)


@pytest.mark.parametrize("attack", [fgsm, pgd, mim])
def test_bad_objectives_and_inputs(attack):
    with pytest.raises(TypeError, match="floating-point"):
        attack(OBJ, torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="'x'"):
        attack(OBJ, np.zeros((12, 5)))
    with pytest.raises(ValueError, match="scalar"):
        attack(lambda z: z * 2, X)
    with pytest.raises(ValueError, match="scalar"):
        attack(lambda z: 1.0, X)
    with pytest.raises(ValueError, match="differentiabl"):
        attack(lambda z: torch.tensor(1.0), X)
    with pytest.raises(ValueError, match="'objective'"):
        attack("loss", X)


# ------------------------------------------------------------------- non-finite input (#11)
_ATTACKS = [
    lambda objective, x: fgsm(objective, x, epsilon=0.1),
    lambda objective, x: pgd(
        objective, x, epsilon=0.1, steps=3, step_size=0.05, random_start=False
    ),
    lambda objective, x: mim(
        objective, x, epsilon=0.1, steps=3, step_size=0.05, random_start=False
    ),
]
_NAMES = ["fgsm", "pgd", "mim"]


@pytest.mark.parametrize("attack", _ATTACKS, ids=_NAMES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_x_is_refused_naming_rows(attack, bad):
    x = torch.zeros(4, 3, dtype=torch.float64)
    x[2, 1] = bad
    with pytest.raises(ValueError, match=r"x contains NaN or infinite values \(rows 2\)"):
        attack(lambda z: z.sum(), x)


@pytest.mark.parametrize("attack", _ATTACKS, ids=_NAMES)
def test_nan_objective_is_refused_not_returned_unperturbed(attack):
    x = torch.ones(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"objective\(x\) is nan \(not finite\)"):
        attack(lambda z: (z * float("nan")).sum(), x)
    with pytest.raises(ValueError, match=r"objective\(x\) is inf \(not finite\)"):
        attack(lambda z: (z * 1e308).sum() * 10.0, x)


@pytest.mark.parametrize("attack", _ATTACKS, ids=_NAMES)
def test_non_finite_gradient_is_refused(attack):
    x = torch.zeros(4, 3, dtype=torch.float64)
    # sqrt has an infinite derivative at 0 while the objective is finite
    with pytest.raises(ValueError, match=r"gradient of objective.*12 non-finite entries"):
        attack(lambda z: torch.sqrt(z.abs()).sum(), x)
