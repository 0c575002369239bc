"""The paper's two-layer ReLU network (Eq. 2) as a torch module, and access to fitted ones."""

import copy
import math

import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from torch import nn

#: The ``dtype`` parameter of the estimators (and of the torch mirror) as torch dtypes.
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device):
    """Turn a ``device`` parameter into an available :class:`torch.device`, or raise a ValueError.

    ``"auto"`` picks CUDA when it is available and the CPU otherwise; ``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` and :class:`torch.device` objects are accepted when that device exists.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        resolved = None
    if resolved is None or resolved.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device of type cpu or "
            f"cuda; got device={device!r}. Use device='auto' to pick CUDA when it is available."
        )
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but torch.cuda.is_available() is False; "
                "use device='cpu' or device='auto'."
            )
        index = 0 if resolved.index is None else resolved.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA "
                f"device(s) are visible; use an index below {torch.cuda.device_count()}."
            )
    return resolved


class TwoLayerReLU(nn.Module):
    """Two-layer ReLU network ``f(x) = (1/√m) · relu(x Wᵀ) A`` without biases.

    The first layer ``W`` (``width × n_features``, entries ``N(0, sigma_w²)``) is trained. The
    readout ``A`` (``width × n_outputs``, Rademacher ±1) is a fixed buffer unless
    ``train_readout=True``, in which case it is a parameter. This is the NTK parameterisation of
    the paper's Eq. 2 (arXiv 2603.13085): the ``1/√m`` factor makes the empirical NTK converge as
    the width grows.

    Parameters
    ----------
    n_features : int
        Input dimension ``d``.
    width : int
        Hidden width ``m``.
    n_outputs : int, default=1
        Number of output columns ``C``; each has its own Rademacher readout column.
    sigma_w : float, default=1.0
        Standard deviation of the first-layer weights (our default; the paper's value is lost).
    train_readout : bool, default=False
        Whether ``A`` is trained too.

    Notes
    -----
    Initialisation draws from torch's global generator; seed it (or fork it with
    :func:`torch.random.fork_rng`) for reproducible weights.

    Examples
    --------
    >>> import torch
    >>> from sklearn_attnkernel import TwoLayerReLU
    >>> _ = torch.manual_seed(0)
    >>> net = TwoLayerReLU(n_features=3, width=8, n_outputs=2)
    >>> net(torch.ones(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(self, n_features, width, n_outputs=1, *, sigma_w=1.0, train_readout=False):
        super().__init__()
        for name, value in (("n_features", n_features), ("width", width), ("n_outputs", n_outputs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if not (isinstance(sigma_w, int | float) and math.isfinite(sigma_w) and sigma_w > 0):
            raise ValueError(f"sigma_w must be a finite number > 0, got {sigma_w!r}.")
        self.n_features = n_features
        self.width = width
        self.n_outputs = n_outputs
        self.sigma_w = float(sigma_w)
        self.train_readout = bool(train_readout)
        self.W = nn.Parameter(torch.randn(width, n_features) * self.sigma_w)
        readout = torch.randint(0, 2, (width, n_outputs)).to(torch.get_default_dtype()) * 2 - 1
        if self.train_readout:
            self.A = nn.Parameter(readout)
        else:
            self.register_buffer("A", readout)

    def forward(self, X):
        """Compute the network outputs.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
            Inputs, in the module's dtype and on its device.

        Returns
        -------
        outputs : torch.Tensor of shape (n_samples, n_outputs)
            ``relu(X Wᵀ) A / √m``.
        """
        return torch.relu(X @ self.W.T) @ self.A / math.sqrt(self.width)

    def extra_repr(self):
        """Describe the module's shape and settings in its ``repr``.

        Returns
        -------
        description : str
            The constructor arguments, as torch prints them inside ``TwoLayerReLU(...)``.
        """
        return (
            f"n_features={self.n_features}, width={self.width}, n_outputs={self.n_outputs}, "
            f"sigma_w={self.sigma_w}, train_readout={self.train_readout}"
        )


def unwrap_model(model):
    """Split ``model`` into (transformer or None, final estimator or None, torch module).

    ``model`` is a torch module, a fitted estimator exposing ``net_.module_`` (our
    ``TwoLayerReLUClassifier``/``TwoLayerReLURegressor``), or a fitted
    :class:`~sklearn.pipeline.Pipeline` whose last step is such an estimator.
    """
    if isinstance(model, nn.Module):
        return None, None, model
    transformer = None
    estimator = model
    if isinstance(model, Pipeline):
        check_is_fitted(model)
        transformer = model[:-1] if len(model) > 1 else None
        estimator = model[-1]
    if not (hasattr(estimator, "encode_targets") or hasattr(estimator, "net_")):
        raise TypeError(
            "model must be a torch.nn.Module, a fitted TwoLayerReLUClassifier/"
            "TwoLayerReLURegressor, or a fitted Pipeline ending in one; got "
            f"{type(model).__name__}."
        )
    check_is_fitted(estimator, "net_")
    return transformer, estimator, estimator.net_.module_


def initial_module(estimator):
    """Copy of the estimator's network with the initial parameters θ₀ loaded (on CPU)."""
    check_is_fitted(estimator, ["net_", "initial_params_"])
    module = copy.deepcopy(estimator.net_.module_).to("cpu")
    module.load_state_dict(estimator.initial_params_)
    return module
