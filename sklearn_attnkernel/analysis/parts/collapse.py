"""Part ``collapse``: mean pairwise cosine, and its quantiles, of raw and attention features."""

import numpy as np

from ..data import cell_data, standardize
from ..store import derive_seed

__all__ = ["run"]


def _pairwise_cosine_quantiles(F, max_rows, seed):
    from sklearn.preprocessing import normalize

    F = F[np.linalg.norm(F, axis=1) > 0]
    if F.shape[0] > max_rows:
        rng = np.random.default_rng(seed)
        F = F[np.sort(rng.choice(F.shape[0], size=max_rows, replace=False))]
    U = normalize(F)
    cos = (U @ U.T)[np.triu_indices(U.shape[0], k=1)]
    levels = (0.05, 0.25, 0.5, 0.75, 0.95)
    return dict(zip(("q05", "q25", "q50", "q75", "q95"), np.quantile(cos, levels), strict=True))


def _transform(name):
    """The feature map of a transform name (None: the raw rows)."""
    from ...attention.transformers import LinearizedAttention, SoftmaxAttention

    transforms = {
        "raw": None,
        "linear": LinearizedAttention(normalize=True),
        "softmax": SoftmaxAttention(),
        "exponential": SoftmaxAttention(normalize_weights=False),
    }
    return transforms[name]


def run(cells, ctx):
    """Feature collapse of one transform of the standardised training rows."""
    from ...diagnostics import feature_collapse

    (s,) = cells
    data = cell_data(s, ctx["root"])
    Z = standardize(s["dataset"], data["X"])
    transform = _transform(s["transform"])
    F = Z if transform is None else transform.fit_transform(Z)
    nonzero = np.linalg.norm(F, axis=1) > 0
    rows = [{"metric": "mean_cosine", "value": feature_collapse(F[nonzero])}]
    seed = derive_seed("collapse", s["dataset"], s["setting"], s["n_train"], s["seed"])
    for name, value in _pairwise_cosine_quantiles(F, s["max_rows"], seed).items():
        rows.append({"metric": f"cosine_{name}", "value": value})
    info = {"n_train": int(Z.shape[0]), "n_zero_rows": int((~nonzero).sum())}
    return [(s, rows, info, [])]
