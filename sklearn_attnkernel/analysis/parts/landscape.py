"""Part ``landscape``: the training loss around the trained weights (arXiv 2603.13085, Fig. 5).

One cell trains the paper's pipeline of one architecture at one width on the cell's training set
and evaluates its training objective on an ``n_points × n_points`` grid of two filter-normalised
random directions (:func:`~sklearn_attnkernel.loss_landscape`). The directions' seed comes from
the data settings and the replicate seed, not the architecture: both architectures draw the same
Gaussian directions (their first layers have the same shape), normalised to their own weights.

Rows: the grid, ``metric="loss"`` with ``d1_step`` and ``d2_step`` (the steps ``a`` and ``b``
along the two directions; not ``alpha``, which the other parts use for the ridge), and the
scalar summaries ``centre_loss``, ``curvature_d1``, ``curvature_d2`` and ``area_below`` (the
share of the grid whose loss is at most the centre's plus ``rise``).
"""

from ..data import cell_data
from ..store import derive_seed
from .models import make_model

__all__ = ["SUMMARIES", "direction_seed", "run"]

#: The scalar summaries of a landscape cell, in report order.
SUMMARIES = ("centre_loss", "curvature_d1", "curvature_d2", "area_below")


def direction_seed(s):
    """Seed of a cell's two directions: the same for every architecture (paired cells)."""
    return derive_seed(
        "landscape", s["dataset"], s["setting"], s["train_split"], s["n_train"], s["seed"]
    )


def run(cells, ctx):
    """The loss grid and its summaries of one trained network."""
    from ...networks.landscape import loss_landscape

    (s,) = cells
    data = cell_data(s, ctx["root"])
    model = make_model(s).fit(data["X"], data["y"])
    out = loss_landscape(
        model,
        data["X"],
        data["y"],
        n_points=s["n_points"],
        span=s["span"],
        rise=s["rise"],
        random_state=direction_seed(s),
    )
    rows = [
        {"metric": "loss", "d1_step": float(a), "d2_step": float(b), "value": float(value)}
        for a, line in zip(out.alphas, out.losses, strict=True)
        for b, value in zip(out.betas, line, strict=True)
    ]
    rows += [{"metric": name, "value": float(out[name])} for name in SUMMARIES]
    return [(s, rows, {"n_train": int(data["X"].shape[0])}, [])]
