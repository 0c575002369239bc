"""The networks of the torch parts: the paper's pipelines on pixels and their seeds.

Seeds come from the settings: the network's from ``derive_seed("model", seed)``, an attack's
from the data settings and the attack's own (never from the architecture), so both
architectures of a grid see the same random draws.
"""

from ..._utils.vocabulary import ATTENTION_OF_ARCHITECTURE
from ..store import derive_seed

__all__ = [
    "attack_seed",
    "convergence_rows",
    "epoch_budget",
    "make_model",
    "mlp_params",
    "model_seed",
    "pixel_epsilon",
    "stopping_params",
]


def model_seed(s):
    """Seed of a cell's network: it depends on the replicate seed alone."""
    return derive_seed("model", s["seed"])


def stopping_params(s):
    """How a cell's network stops training: ``max_epochs``, ``tol`` and ``n_iter_no_change``.

    ``stopping = "convergence"``: the estimators' stop at convergence (skorch's EarlyStopping on
    the training loss), capped at ``max_epochs``; ``"fixed"``: exactly ``epochs`` epochs
    (``tol=None``). Cells written before the stopping rule existed trained fixed epochs.
    """
    if s.get("stopping", "fixed") == "fixed":
        return {"max_epochs": s["epochs"], "tol": None}
    return {
        "max_epochs": s["max_epochs"],
        "tol": s["tol"],
        "n_iter_no_change": s["n_iter_no_change"],
    }


def epoch_budget(s):
    """The most epochs a cell's network trains: ``epochs`` (fixed) or ``max_epochs``."""
    return stopping_params(s)["max_epochs"]


def mlp_params(s):
    """The network's training parameters from a cell's settings (:func:`stopping_params`)."""
    return {
        **stopping_params(s),
        "lr": s["lr"],
        "batch_size": s["batch_size"],
        "reg_lambda": s["reg_lambda"],
        "sigma_w": s["sigma_w"],
        "device": s["device"],
        "dtype": s["dtype"],
    }


def convergence_rows(history, s):
    """Epochs used, final training loss and convergence of a trained network, as result rows.

    ``epochs_used`` is ``len(history)``; ``converged`` is 1 when the stop at convergence of the
    cell's ``tol`` and ``n_iter_no_change`` fires within the epochs trained
    (:func:`~sklearn_attnkernel.networks.callbacks.convergence_epoch` on the history's training
    losses): under ``stopping = "convergence"`` the network stopped there, before or at
    ``max_epochs``; under ``"fixed"`` it would have stopped by its last epoch.
    """
    from ...networks.callbacks import convergence_epoch

    losses = [float(epoch.get("train_loss", float("nan"))) for epoch in history]
    stopped = convergence_epoch(losses, s["tol"], s["n_iter_no_change"])
    return [
        {"metric": "train_loss", "value": losses[-1] if losses else float("nan")},
        {"metric": "epochs_used", "value": float(len(losses))},
        {"metric": "converged", "value": float(stopped is not None)},
    ]


def make_model(s, adversarial=None, callbacks=None):
    """The paper's pipeline on pixels: dataset mean/std, unit rows, [attention], network.

    ``callbacks``: extra skorch callbacks of the network (e.g. a
    :class:`~sklearn_attnkernel.networks.callbacks.RecordCheckpoints`); None adds none.

    With ``adversarial`` (a dict of ``method``, ``epsilon``, ``steps`` and optionally
    ``step_size``) the network is trained on adversarial examples made in pixel space, through
    the transformers (:func:`~sklearn_attnkernel.make_adversarially_trained`).
    """
    from sklearn.pipeline import Pipeline

    from ...networks.pipelines import make_mlp_attn, make_two_layer_relu
    from ...preprocessing import dataset_standardizer

    params = {**mlp_params(s), "width": s["width"], "random_state": model_seed(s)}
    if callbacks is not None:
        params["callbacks"] = callbacks
    if s["architecture"] == "relu":
        model = make_two_layer_relu(**params)
    else:
        model = make_mlp_attn(attention=ATTENTION_OF_ARCHITECTURE[s["architecture"]], **params)
    standardize = ("standardize", dataset_standardizer(s["dataset"], normalize_rows=False))
    model = Pipeline([standardize, *model.steps])
    if adversarial:
        from ...networks.pipelines import make_adversarially_trained

        clip = (0.0, 1.0) if s.get("clip", True) else None
        model = make_adversarially_trained(model, **adversarial, clip=clip)
    return model


def attack_seed(s, *attack):
    """Seed of an attack's randomness: the same for every architecture (paired baselines)."""
    return derive_seed(
        "attack", s["dataset"], s["setting"], s["train_split"], s["n_train"], s["seed"], *attack
    )


def pixel_epsilon(model, epsilon, space):
    """ε in pixel units: ``"standardized"`` ε is multiplied by the pipeline's std (``scale_``).

    The std is read from the fitted :class:`~sklearn_attnkernel.DatasetStandardizer` step of
    ``model``, so ``ε_pixel = ε_std · scale_`` holds for the very step the network sees.
    """
    if space == "pixel":
        return float(epsilon)
    from ...preprocessing import DatasetStandardizer

    scales = [
        step.scale_
        for _, step in getattr(model, "steps", [])
        if isinstance(step, DatasetStandardizer)
    ]
    if len(scales) != 1:
        raise ValueError(
            f"epsilon_space='standardized' needs exactly one DatasetStandardizer step in the "
            f"pipeline to read the std from; found {len(scales)}. Use epsilon_space='pixel'."
        )
    return float(epsilon) * float(scales[0])
