"""Input checks shared by the κ diagnostics and feature collapse."""

import numpy as np
from sklearn.utils import check_array

_ACCEPT_SPARSE = ("csr", "csc")


def check_matrix(X, who, *, name="X"):
    """Validate a 2-D real finite matrix with at least two rows; keep scipy sparse as CSR/CSC."""
    if isinstance(X, list | tuple):
        # via numpy first, so that complex entries are reported as such (not as a TypeError)
        X = np.asarray(X)
    if getattr(X, "dtype", None) == np.dtype(object):
        raise ValueError(
            f"{who}: {name} has dtype object. Convert it to a numeric array first, e.g. "
            f"np.asarray({name}, dtype=float)."
        )
    try:
        return check_array(
            X,
            accept_sparse=_ACCEPT_SPARSE,
            dtype=np.float64,
            ensure_min_samples=2,
            ensure_min_features=1,
            input_name=name,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{who}: {exc}") from exc
