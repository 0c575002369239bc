"""GPU tests of the network estimators; skipped when CUDA is not available.

Tolerances:

* float64 training on CUDA vs CPU: both start from the same θ₀ (drawn by the CPU generator) and
  see the same batches (the shuffle is drawn on the CPU too), so they differ only by the
  summation order of the GPU kernels, ≈ 1e-16 relative per operation; after a few Adam epochs
  the weights and outputs agree to ``rtol=1e-8, atol=1e-10`` — except, with several classes,
  the units that get no task gradient at all (see the multi-class test), which Adam moves on
  round-off alone (by ≈ 1e-3 here, on either device).
* bfloat16 autocast keeps 8 significant bits (relative rounding ≈ 4e-3 per operand); its outputs
  are compared with a tolerance of 5% of the output scale.
* The analytic empirical NTK in float64 on GPU vs CPU: ``rtol=1e-10``.
"""

import copy
import pickle

import numpy as np
import pytest
import torch

from sklearn_attnkernel import TwoLayerReLUClassifier, TwoLayerReLURegressor

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

KW = {"width": 32, "max_epochs": 5, "lr": 1e-2, "reg_lambda": 1e-3, "batch_size": 16}


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 8)) * 3
    y = np.repeat(np.arange(3), 40)
    X = centers[y] + rng.normal(size=(120, 8))
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "auto"])
def test_float64_training_on_cuda_matches_cpu(blobs, device):
    X, y = blobs
    gpu = TwoLayerReLUClassifier(**KW, dtype="float64", device=device, random_state=0).fit(X, y)
    cpu = TwoLayerReLUClassifier(**KW, dtype="float64", device="cpu", random_state=0).fit(X, y)
    assert gpu.net_.module_.W.device.type == "cuda"
    assert gpu.net_.module_.W.dtype == torch.float64
    for name, value in cpu.initial_params_.items():
        np.testing.assert_array_equal(gpu.initial_params_[name].numpy(), value.numpy())

    # Units whose readout row is the same for every class get no cross-entropy gradient (the
    # softmax ignores a shift shared by all classes); Adam then moves them on round-off alone,
    # differently on each device. Their outputs are such a shared shift, so compare the
    # probabilities and the other units' weights, and check the outputs differ by a shift only.
    A = cpu.initial_params_["A"].numpy()
    informative = np.ptp(A, axis=1) > 0
    assert informative.sum() >= 16
    W_cpu = cpu.net_.module_.W.detach().numpy()
    W_gpu = gpu.net_.module_.W.detach().cpu().numpy()
    assert not np.array_equal(W_cpu, cpu.initial_params_["W"].numpy())
    np.testing.assert_allclose(W_gpu[informative], W_cpu[informative], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-8, atol=1e-12)
    delta = gpu.decision_function(X) - cpu.decision_function(X)
    np.testing.assert_allclose(delta - delta.mean(axis=1, keepdims=True), 0.0, atol=1e-10)
    np.testing.assert_allclose(
        gpu.history_[:, "train_loss"], cpu.history_[:, "train_loss"], rtol=1e-7
    )


def test_float64_binary_training_on_cuda_matches_cpu(blobs):
    X, y = blobs
    mask = y < 2
    kw = {**KW, "dtype": "float64", "random_state": 2}
    gpu = TwoLayerReLUClassifier(**kw, device="cuda").fit(X[mask], y[mask])
    cpu = TwoLayerReLUClassifier(**kw, device="cpu").fit(X[mask], y[mask])
    np.testing.assert_allclose(
        gpu.net_.module_.W.detach().cpu().numpy(),
        cpu.net_.module_.W.detach().numpy(),
        rtol=1e-8,
        atol=1e-10,
    )
    np.testing.assert_allclose(
        gpu.decision_function(X), cpu.decision_function(X), rtol=1e-8, atol=1e-10
    )


def test_regressor_on_cuda_matches_cpu(blobs):
    X, _ = blobs
    target = np.abs(X[:, :2])
    kw = {**KW, "dtype": "float64", "random_state": 1}
    gpu = TwoLayerReLURegressor(**kw, device="cuda").fit(X, target)
    cpu = TwoLayerReLURegressor(**kw, device="cpu").fit(X, target)
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), rtol=1e-8, atol=1e-10)


def test_mixed_precision_runs_bfloat16_and_stays_close(blobs):
    X, y = blobs
    kw = {**KW, "max_epochs": 30, "device": "cuda", "random_state": 0}
    mixed = TwoLayerReLUClassifier(**kw, mixed_precision=True).fit(X, y)
    full = TwoLayerReLUClassifier(**kw).fit(X, y)

    seen = []
    hook = mixed.net_.module_.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    f_mixed = mixed.decision_function(X)
    hook.remove()
    assert seen
    assert set(seen) == {torch.bfloat16}  # the forward really ran under autocast
    assert f_mixed.dtype == np.float32  # ... and the outputs were cast back

    f_full = full.decision_function(X)
    scale = np.abs(f_full).max()
    np.testing.assert_allclose(f_mixed, f_full, atol=0.05 * scale)
    assert np.mean(mixed.predict(X) == full.predict(X)) >= 0.95
    assert mixed.score(X, y) > 0.9


def test_mixed_precision_at_initialisation(blobs):
    X, y = blobs
    kw = {**KW, "max_epochs": 0, "device": "cuda", "random_state": 0}
    mixed = TwoLayerReLUClassifier(**kw, mixed_precision=True).fit(X, y)
    full = TwoLayerReLUClassifier(**kw).fit(X, y)
    f_full = full.decision_function(X)
    np.testing.assert_allclose(mixed.decision_function(X), f_full, atol=0.05 * np.abs(f_full).max())


def test_empirical_ntk_on_gpu_matches_cpu(blobs):
    from sklearn_attnkernel import empirical_ntk

    X, y = blobs
    est = TwoLayerReLUClassifier(**KW, dtype="float64", device="cuda", random_state=0).fit(X, y)
    K_gpu = empirical_ntk(est, X, X[:50], method="analytic")
    module_cpu = copy.deepcopy(est.net_.module_).to("cpu")
    K_cpu = empirical_ntk(module_cpu, X, X[:50], method="analytic")
    assert K_gpu.shape == (120, 50)
    np.testing.assert_allclose(K_gpu, K_cpu, rtol=1e-10, atol=1e-12)
    # independent numpy closed form: (X Yᵀ) ⊙ (S_X S_Yᵀ) / m
    W = module_cpu.W.detach().numpy()
    S_x, S_y = (X @ W.T > 0).astype(float), (X[:50] @ W.T > 0).astype(float)
    np.testing.assert_allclose(K_cpu, (X @ X[:50].T) * (S_x @ S_y.T) / W.shape[0], rtol=1e-10)


def test_cuda_index_out_of_range_raises(blobs):
    X, y = blobs
    bad = f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(ValueError, match="CUDA device"):
        TwoLayerReLUClassifier(**KW, device=bad).fit(X, y)


def test_pickle_and_save_load_on_cuda(blobs, tmp_path):
    X, y = blobs
    est = TwoLayerReLUClassifier(**KW, device="cuda", random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.decision_function(X), est.decision_function(X))
    est.save_params(tmp_path / "p.pt")
    receiver = TwoLayerReLUClassifier(**{**KW, "max_epochs": 0}, device="cpu").fit(X, y)
    receiver.load_params(tmp_path / "p.pt")
    np.testing.assert_allclose(
        receiver.decision_function(X), est.decision_function(X), rtol=1e-5, atol=1e-6
    )


def _binary_pixels():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 30)
    X = np.clip(rng.uniform(0.2, 0.8, size=(2, 6))[y] + 0.1 * rng.normal(size=(60, 6)), 0, 1)
    return X, y


def test_training_point_attack_through_attention_on_cuda_matches_cpu():
    from sklearn_attnkernel import attack_training_points, make_mlp_attn

    X, y = _binary_pixels()
    kw = {**KW, "dtype": "float64", "random_state": 0}
    fitted = {dev: make_mlp_attn(**kw, device=dev).fit(X, y) for dev in ("cpu", "cuda")}
    attacked = {
        dev: attack_training_points(
            model, X, y, [0, 5, 40], epsilon=0.1, steps=5, clip=(0.0, 1.0), random_state=0
        )
        for dev, model in fitted.items()
    }
    # binary MSE: one output, so every unit gets a gradient and the two trainings agree closely
    np.testing.assert_allclose(attacked["cuda"], attacked["cpu"], rtol=0, atol=1e-8)
    assert not np.array_equal(attacked["cpu"], X)


def test_adversarial_training_on_cuda_matches_cpu():
    from sklearn_attnkernel import make_two_layer_relu

    X, y = _binary_pixels()
    adv = {"epsilon": 0.05, "steps": 3, "clip": (0.0, 1.0)}
    kw = {**KW, "dtype": "float64", "random_state": 0, "adversarial_training": adv}
    cpu = make_two_layer_relu(**kw, device="cpu").fit(X, y)
    gpu = make_two_layer_relu(**kw, device="cuda").fit(X, y)
    assert gpu[-1].net_.module_.W.device.type == "cuda"
    np.testing.assert_allclose(
        gpu.decision_function(X), cpu.decision_function(X), rtol=1e-8, atol=1e-10
    )


def test_recorded_intervention_accuracies_on_cuda_match_cpu():
    from sklearn_attnkernel import make_two_layer_relu, run_intervention

    X, y = _binary_pixels()
    kw = {**KW, "dtype": "float64", "random_state": 0}
    results = {
        dev: run_intervention(
            make_two_layer_relu(**kw, device=dev),
            X[::2],
            y[::2],
            X[1::2],
            y[1::2],
            kind="curated",
            eval_epochs=(1, 3, 5),
            random_state=0,
        )
        for dev in ("cpu", "cuda")
    }
    assert results["cuda"]["accuracy_by_epoch"] == results["cpu"]["accuracy_by_epoch"]
    assert results["cuda"]["accuracy"] == results["cpu"]["accuracy"]


def test_loss_landscape_on_cuda_matches_cpu(blobs):
    """The whole float64 grid on the GPU agrees with the CPU's to summation order."""
    from sklearn_attnkernel import loss_landscape

    X, y = blobs
    clf = TwoLayerReLUClassifier(**KW, dtype="float64", device="cpu", random_state=0).fit(X, y)
    gpu = loss_landscape(clf, X, y, n_points=5, random_state=0, device="cuda")
    cpu = loss_landscape(clf, X, y, n_points=5, random_state=0)
    np.testing.assert_allclose(gpu.losses, cpu.losses, rtol=1e-10)
    assert clf.net_.module_.W.device.type == "cpu"


# --------------------------------------------------------------------------------------------
# the dual leave-one-out path factorised on the GPU (issue #16): float64 Cholesky on both
# devices, κ ≈ 1e3, so the influence agrees to 1e-10 relative (the norm of the difference)


def _loo_problem(n=300, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n + 20, 16))
    K = F @ F.T / 16
    Y = np.eye(3)[rng.integers(0, 3, n + 20)]
    return K[:n, :n].copy(), Y[:n], K[n:, :n].copy(), Y[n:]


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_loo_influence_on_cuda_matches_cpu(loss):
    from sklearn_attnkernel import loo_influence

    K, Y, K_test, Y_test = _loo_problem()
    options = {"alpha": 1e-2, "loss": loss, "reduce": None, "return_condition": True}
    cpu, cpu_condition = loo_influence(K, Y, K_test, Y_test, **options)
    gpu, gpu_condition = loo_influence(K, Y, K_test, Y_test, **options, device="cuda")
    assert np.linalg.norm(gpu - cpu) <= 1e-10 * np.linalg.norm(cpu)
    # the GPU's condition number is exact, LAPACK's an estimate from below
    exact = np.linalg.cond(K + 1e-2 * np.eye(K.shape[0]), 1)
    assert gpu_condition == pytest.approx(exact, rel=1e-8)
    assert cpu_condition <= gpu_condition * (1 + 1e-8)


def test_loo_influence_on_cuda_refuses_a_kernel_that_is_not_positive_definite():
    from sklearn_attnkernel import NumericalCheckError, loo_influence

    K, Y, K_test, Y_test = _loo_problem()
    K[5, 5] = -10.0
    with pytest.raises(NumericalCheckError) as refused:
        loo_influence(K, Y, K_test, Y_test, device="cuda")
    assert refused.value.check == "positive_definite"


def test_influence_scores_on_cuda_match_cpu(blobs):
    from sklearn_attnkernel.influence.estimators import influence_scores

    X, y = blobs
    model = TwoLayerReLUClassifier(**KW, dtype="float64", device="cpu", random_state=0).fit(X, y)
    options = {"alpha": 1e-2, "on_near_chance": "ignore"}
    cpu = influence_scores(model, X[:10], y[:10], **options)
    gpu = influence_scores(model, X[:10], y[:10], **options, device="cuda")
    assert np.linalg.norm(gpu - cpu) <= 1e-8 * np.linalg.norm(cpu)
