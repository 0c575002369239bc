"""The dattri-backed influence methods against direct dattri calls and an explicit Hessian."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dattri = pytest.importorskip("dattri")

from dattri.algorithm import (  # noqa: E402
    IFAttributorDataInf,
    IFAttributorEKFAC,
    IFAttributorExplicit,
    TracInAttributor,
    TRAKAttributor,
)
from dattri.task import AttributionTask  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from sklearn_attnkernel import TwoLayerReLUClassifier, make_mlp_attn  # noqa: E402
from sklearn_attnkernel.influence.estimators import influence_scores  # noqa: E402

NET = {
    "width": 8,
    "max_epochs": 10,
    "lr": 5e-2,
    "batch_size": 10,
    "device": "cpu",
    "random_state": 0,
}
N_TRAIN = 30


@pytest.fixture(scope="module")
def data(blobs):
    X, y = blobs
    rows = np.random.default_rng(1).permutation(X.shape[0])[: N_TRAIN + 8]
    return X[rows[:N_TRAIN]], y[rows[:N_TRAIN]], X[rows[N_TRAIN:]], y[rows[N_TRAIN:]]


@pytest.fixture(scope="module", params=[False, True], ids=["fixed_readout", "train_readout"])
def fitted(request, data):
    Xtr, ytr, _, _ = data
    return TwoLayerReLUClassifier(**NET, train_readout=request.param).fit(Xtr, ytr)


class _Linear(torch.nn.Module):
    """The network written with nn.Linear layers, by hand (EK-FAC needs linear layers, DataInf
    treats each layer's parameters as one block)."""

    def __init__(self, module):
        super().__init__()
        W, A = module.W.detach().float(), module.A.detach().float()
        self.fc = torch.nn.Linear(W.shape[1], W.shape[0], bias=False)
        self.fc.weight.data = W.clone()
        self.out = None
        if module.train_readout:
            self.out = torch.nn.Linear(A.shape[0], A.shape[1], bias=False)
            self.out.weight.data = A.T.clone()
        else:
            self.register_buffer("A", A.clone())
        self.m = W.shape[0]

    def forward(self, x):
        # The scaling is written as the package writes it (a multiplication by 1/√m): dattri's
        # EK-FAC diagonalises float32 covariances with repeated (zero) eigenvalues, and a
        # one-ulp change in the outputs rotates that eigenbasis and moves its scores by ~10 %.
        hidden = torch.relu(self.fc(x))
        out = hidden @ self.A if self.out is None else self.out(hidden)
        return out * (1.0 / math.sqrt(self.m))


def _direct(fitted, data, make):
    """The scores of the attributor ``make(task, loss)`` called on dattri directly."""
    Xtr, ytr, Xte, yte = data
    model = _Linear(fitted.net_.module_)
    criterion = torch.nn.CrossEntropyLoss()

    def loss(params, batch):
        x, t = batch
        if x.ndim == 1:
            x, t = x[None], t[None]
        return criterion(torch.func.functional_call(model, params, x), t)

    def as_set(X, y):
        index = np.searchsorted(fitted.classes_, y)
        return TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(index))

    train, test = as_set(Xtr, ytr), as_set(Xte, yte)
    task = AttributionTask(loss_func=loss, model=model, checkpoints=model.state_dict())
    attributor = make(task, loss)
    full = DataLoader(train, batch_size=len(train))
    test_loader = DataLoader(test, batch_size=len(test))
    if isinstance(attributor, TracInAttributor):
        scores = attributor.attribute(full, test_loader)
    elif isinstance(attributor, TRAKAttributor):
        attributor.cache(full)
        scores = attributor.attribute(test_loader)
    else:
        attributor.cache(full)
        scores = attributor.attribute(full, test_loader)
    return scores.detach().numpy().astype(np.float64).T


PROJ = {"proj_dim": 16, "proj_max_batch_size": 32, "proj_seed": 0, "device": "cpu"}
CASES = {
    # method: (method_params, direct attributor, divided by n_train)
    "if-explicit": (
        {"regularization": 1e-2},
        lambda task, loss: IFAttributorExplicit(task, regularization=1e-2),
        True,
    ),
    "datainf": (
        {"regularization": 0.1},
        lambda task, loss: IFAttributorDataInf(task, regularization=0.1),
        True,
    ),
    "trak": (
        {"proj_dim": 16, "regularization": 1e-3},
        lambda task, loss: TRAKAttributor(
            task,
            lambda p, d: torch.exp(-loss(p, d)),
            projector_kwargs=dict(PROJ),
            regularization=1e-3,
        ),
        False,
    ),
    "tracin": (
        {"proj_dim": 16, "learning_rate": 0.5},
        lambda task, loss: TracInAttributor(
            task,
            weight_list=torch.tensor([0.5]),
            normalized_grad=False,
            projector_kwargs=dict(PROJ),
        ),
        False,
    ),
}


@pytest.mark.parametrize("method", sorted(CASES))
def test_each_method_equals_a_direct_dattri_call(fitted, data, method):
    params, make, divided = CASES[method]
    Xtr, _, Xte, yte = data
    ours = influence_scores(
        fitted, Xte, yte, method=method, method_params=params, reduce=None, on_near_chance="raise"
    )
    direct = _direct(fitted, data, make) / (Xtr.shape[0] if divided else 1.0)
    assert ours.shape == (Xte.shape[0], Xtr.shape[0])
    scale = np.abs(direct).max()
    np.testing.assert_allclose(ours, direct, rtol=1e-3, atol=1e-4 * scale)
    mean = influence_scores(fitted, Xte, yte, method=method, method_params=params)
    np.testing.assert_allclose(mean, direct.mean(axis=0), rtol=1e-3, atol=1e-4 * scale)


def test_ekfac_equals_a_direct_dattri_call_on_a_linear_layer(data):
    Xtr, ytr, Xte, yte = data
    fitted = TwoLayerReLUClassifier(**NET).fit(Xtr, ytr)
    ours = influence_scores(
        fitted, Xte, yte, method="ekfac", method_params={"damping": 1e-2}, reduce=None
    )
    direct = _direct(fitted, data, lambda task, loss: IFAttributorEKFAC(task, damping=1e-2))
    np.testing.assert_allclose(
        ours, direct / Xtr.shape[0], rtol=1e-3, atol=1e-4 * np.abs(direct).max() / Xtr.shape[0]
    )


def _explicit(fitted, data):
    """``(H, G_train, G_test)`` in float64: the Hessian of the mean training loss with respect to
    the first layer (torch.autograd.functional.hessian) and the per-point loss gradients."""
    Xtr, ytr, Xte, yte = data
    module = fitted.net_.module_
    A = module.A.detach().double()
    shape = module.W.shape

    def losses(w, X, y):
        out = torch.relu(torch.as_tensor(X) @ w.reshape(shape).T) @ A / math.sqrt(shape[0])
        index = torch.as_tensor(np.searchsorted(fitted.classes_, y))
        return torch.nn.functional.cross_entropy(out, index, reduction="none")

    w = module.W.detach().double().reshape(-1)
    H = torch.autograd.functional.hessian(lambda v: losses(v, Xtr, ytr).mean(), w).numpy()

    def gradients(X, y):
        return np.stack(
            [
                torch.autograd.functional.jacobian(lambda v, j=j: losses(v, X, y)[j], w).numpy()
                for j in range(len(y))
            ]
        )

    return H, gradients(Xtr, ytr), gradients(Xte, yte)


def test_if_explicit_equals_an_explicit_hessian_inverse_in_numpy(data):
    """g_x ᵀ (H + r I)⁻¹ g_i / n with H from torch.autograd.functional.hessian, in float64."""
    Xtr, ytr, Xte, yte = data
    fitted = TwoLayerReLUClassifier(**NET).fit(Xtr, ytr)
    reg = 1e-2
    ours = influence_scores(
        fitted, Xte, yte, method="if-explicit", method_params={"regularization": reg}, reduce=None
    )
    H, G_train, G_test = _explicit(fitted, data)
    expected = G_test @ np.linalg.solve(H + reg * np.eye(H.shape[0]), G_train.T) / len(ytr)
    np.testing.assert_allclose(ours, expected, rtol=2e-3, atol=2e-4 * np.abs(expected).max())


def test_arnoldi_equals_the_top_eigenpairs_of_the_explicit_hessian(data):
    """With max_iter above the parameter count the Krylov space is the whole space, so the
    method is g_x ᵀ V diag(1/λ) Vᵀ g_i / n over the proj_dim eigenpairs of H + r I of largest
    |λ| (numpy's eigh of the explicit Hessian); dattri's own float32 iteration is not."""
    Xtr, ytr, Xte, yte = data
    fitted = TwoLayerReLUClassifier(**NET).fit(Xtr, ytr)
    reg, proj_dim = 1e-3, 6
    params = {"proj_dim": proj_dim, "max_iter": 200, "regularization": reg}
    ours = influence_scores(fitted, Xte, yte, method="arnoldi", method_params=params, reduce=None)
    H, G_train, G_test = _explicit(fitted, data)
    lam, V = np.linalg.eigh(H + reg * np.eye(H.shape[0]))
    top = np.argsort(np.abs(lam))[::-1][:proj_dim]
    inverse = (V[:, top] / lam[top]) @ V[:, top].T
    expected = G_test @ inverse @ G_train.T / len(ytr)
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())


def test_ritz_pairs_find_the_extreme_eigenpairs_and_drop_nothing_else():
    """On diag(d) (closed form) with a full Krylov space: every eigenvalue, eigenvectors ±e_i;
    the projection keeps the proj_dim largest |λ| among the positive ones."""
    from sklearn_attnkernel.influence._arnoldi import _projection, ritz_pairs

    d = np.array([-3.0, -1e-3, 0.5, 1.0, 2.0, 4.0])
    values, vectors = ritz_pairs(lambda v: d * v, d.size, 50, seed=0, tol=1e-12)
    np.testing.assert_allclose(values, np.sort(d), atol=1e-12)
    np.testing.assert_allclose(np.abs(vectors), np.eye(d.size)[np.argsort(d)], atol=1e-8)
    project = _projection(values, vectors, proj_dim=3, tol=1e-12)
    g = torch.ones(1, d.size, dtype=torch.float64)
    # the top three |λ| are 4, -3 and 2: -3 is dropped, 4 and 2 kept, scaled by 1/sqrt(λ)
    np.testing.assert_allclose(
        np.sort(np.abs(project(g).numpy().ravel())), [0.5, 1 / math.sqrt(2)], atol=1e-12
    )


def test_every_method_runs_on_mlp_attn_and_gives_one_score_per_training_point(data):
    Xtr, ytr, Xte, yte = data
    model = make_mlp_attn(**NET).fit(Xtr, ytr)
    for method in ("trak", "ekfac", "datainf", "tracin", "if-explicit"):
        scores = influence_scores(model, Xte, yte, method=method, method_params=None)
        assert scores.shape == (Xtr.shape[0],)
        assert np.all(np.isfinite(scores))


def test_a_singular_system_is_reported_with_the_setting_to_raise(data):
    Xtr, ytr, Xte, yte = data
    fitted = TwoLayerReLUClassifier(**NET).fit(Xtr, ytr)
    with pytest.raises(ValueError, match=r"method_params\['regularization'\] \(now 0.0\)"):
        influence_scores(
            fitted, Xte, yte, method="if-explicit", method_params={"regularization": 0.0}
        )


def test_checkpoint_ensembling_equals_dattri_over_the_same_checkpoints(data):
    """TracIn over two checkpoints: dattri sums lr · g_x ᵀ g_i over them; ours is their mean."""
    from sklearn_attnkernel.networks.callbacks import RecordCheckpoints, recorded_checkpoints

    Xtr, ytr, Xte, yte = data
    fitted = TwoLayerReLUClassifier(**NET, callbacks=[RecordCheckpoints([5, 10])]).fit(Xtr, ytr)
    checkpoints = recorded_checkpoints(fitted)
    params = {"proj_dim": 16, "learning_rate": 0.5, "checkpoints": checkpoints}
    ours = influence_scores(fitted, Xte, yte, method="tracin", method_params=params, reduce=None)

    def make(task, loss):
        model = task.get_model()
        states = []
        for checkpoint in checkpoints:
            state = {"fc.weight": torch.tensor(checkpoint["W"], dtype=torch.float32)}
            state["A"] = torch.tensor(checkpoint["A"], dtype=torch.float32)
            states.append(state)
        assert set(states[0]) == set(model.state_dict())
        task = AttributionTask(loss_func=task.original_loss_func, model=model, checkpoints=states)
        return TracInAttributor(
            task,
            weight_list=torch.tensor([0.5, 0.5]),
            normalized_grad=False,
            projector_kwargs=dict(PROJ),
        )

    direct = _direct(fitted, data, make) / 2
    np.testing.assert_allclose(ours, direct, rtol=1e-3, atol=1e-4 * np.abs(direct).max())
    # the last checkpoint is the trained network: one checkpoint alone gives the plain scores
    last = {"proj_dim": 16, "learning_rate": 0.5, "checkpoints": checkpoints[-1:]}
    plain = {"proj_dim": 16, "learning_rate": 0.5}
    np.testing.assert_allclose(
        influence_scores(fitted, Xte, yte, method="tracin", method_params=last),
        influence_scores(fitted, Xte, yte, method="tracin", method_params=plain),
        rtol=1e-6,
    )


def test_checkpoints_of_another_network_are_refused(data):
    Xtr, ytr, Xte, yte = data
    fitted = TwoLayerReLUClassifier(**NET).fit(Xtr, ytr)
    wrong = [{"W": np.zeros((3, 5)), "A": np.zeros((3, 3))}]
    with pytest.raises(ValueError, match=r"checkpoint with shapes \{'W': \(3, 5\)"):
        influence_scores(fitted, Xte, yte, method="trak", method_params={"checkpoints": wrong})


@pytest.mark.parametrize(
    ("method", "setting"), [("if-explicit", "explicit Hessian"), ("arnoldi", "max_iter")]
)
def test_a_parameter_sized_matrix_that_does_not_fit_is_refused_before_dattri_runs(
    data, monkeypatch, method, setting
):
    import sklearn_attnkernel.influence.attribution as attribution

    Xtr, ytr, Xte, yte = data
    fitted = TwoLayerReLUClassifier(**NET).fit(Xtr, ytr)

    class Tiny:
        available = 1000  # bytes

    monkeypatch.setattr(attribution.psutil, "virtual_memory", lambda: Tiny)
    monkeypatch.setattr(attribution, "_attributor", lambda *a: pytest.fail("dattri was called"))
    with pytest.raises(ValueError, match=rf"method='{method}'.*{setting}.*GiB"):
        influence_scores(fitted, Xte, yte, method=method)
