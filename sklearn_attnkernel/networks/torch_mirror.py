"""Fitted pipelines as differentiable torch functions, with transductive attention.

Attacks on training points (the paper's malleability experiments, arXiv 2603.13085, Def 3.4) need
the gradient of the trained model's loss with respect to the *input* (pixel) space, through every
preprocessing step. For MLP-Attn the attention step is transductive: its reference set is the
training set itself (after the steps before it), so moving a training row changes the attention
operator ``C(X′) = Z′ᵀ Z′`` seen by every point. :class:`TorchPipeline` re-expresses a fitted
pipeline in torch so that this dependence is differentiable:

- ``features(X)`` applies the fitted steps with their fitted constants (what ``transform`` does);
- ``features(X, reference=X_train)`` rebuilds every attention step's reference set from
  ``X_train`` (passed through the steps before it), keeping the non-transductive constants
  (scaler means and scales) as fitted;
- ``training_features(X_train)`` is ``features(X_train, reference=X_train)``: the features of
  the whole training set when the training matrix itself is ``X_train``.

Supported steps: :class:`sklearn.preprocessing.Normalizer` (``norm="l2"``),
:class:`sklearn.preprocessing.StandardScaler`, :class:`~sklearn_attnkernel.DatasetStandardizer`,
:class:`~sklearn_attnkernel.LinearizedAttention` and :class:`~sklearn_attnkernel.SoftmaxAttention`.
Each is mirrored by a few tensor operations written here (no library maps scikit-learn
transformers to torch); the tests check every one against the fitted numpy transformer.
"""

import copy

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import _check_feature_names

from .._utils.input_space import refuse_sparse
from .._utils.rows import list_rows
from ..attention.transformers import LinearizedAttention, SoftmaxAttention
from ..preprocessing import DatasetStandardizer
from .modules import TORCH_DTYPES, unwrap_model

__all__ = ["TorchPipeline", "transformers_map"]

_SUPPORTED_STEPS = (
    "sklearn.preprocessing.Normalizer (norm='l2')",
    "sklearn.preprocessing.StandardScaler",
    "DatasetStandardizer",
    "LinearizedAttention",
    "SoftmaxAttention",
)
# Smallest eigen-gap (relative to the largest eigenvalue) accepted when differentiating a rank
# truncation: below it the kept subspace is not determined and the derivative blows up.
_MIN_RELATIVE_GAP = 1e3 * torch.finfo(torch.float64).eps


def _check_finite_rows(F, who):
    bad = ~torch.isfinite(F).all(dim=1)
    if bool(bad.any()):
        rows = torch.nonzero(bad).flatten().tolist()
        raise ValueError(
            f"{who} produced non-finite values in row(s) {list_rows(rows)} (overflow): rescale "
            "the input, e.g. pixels to [0, 1] or with sklearn.preprocessing.Normalizer."
        )


def _normalise_rows(F, who, *, keep_zero=False):
    """``F / ‖F‖₂`` per row, as the numpy steps do.

    ``keep_zero=True`` mirrors :func:`sklearn.preprocessing.normalize`: norms below ``10 eps``
    are replaced by 1, so a zero row stays zero. Otherwise a zero row raises a ValueError naming
    it, as the package's own transformers do.
    """
    norm = torch.linalg.vector_norm(F, dim=1, keepdim=True)
    if keep_zero:
        tiny = 10 * torch.finfo(F.dtype).eps
        return F / torch.where(norm < tiny, torch.ones_like(norm), norm)
    zero = norm[:, 0] == 0
    if bool(zero.any()):
        rows = torch.nonzero(zero).flatten().tolist()
        raise ValueError(
            f"{who} cannot ℓ2-normalise row(s) {list_rows(rows)}: they are exactly zero (an "
            "all-zero input row, or one orthogonal to every reference row). Drop those rows."
        )
    return F / norm


class _TopEigenTruncation(torch.autograd.Function):
    """Best rank-k approximation ``Σ_{i ≤ k} max(λ_i, 0) v_i v_iᵀ`` of a symmetric matrix.

    Forward: :func:`torch.linalg.eigh`, as the rank truncation of ``LinearizedAttention``
    does with scipy. Backward: written by hand because autograd's ``eigh`` backward divides by
    every eigenvalue difference and returns NaN when eigenvalues repeat (e.g. the zero
    eigenvalues of ``C = Zᵀ Z`` when ``n < d``), although the truncation only depends on the gap
    between the kept and the dropped eigenvalues. The Daleckii–Krein formula gives the exact
    derivative ``dC_k = V (Γ ∘ (Vᵀ dC V)) Vᵀ`` with ``Γ_ij = 1`` for two kept eigenvalues, ``0``
    for two dropped ones, and ``λ_i / (λ_i − λ_j)`` for kept ``i`` and dropped ``j``.
    """

    @staticmethod
    def forward(ctx, C, rank):
        eigvals, eigvecs = torch.linalg.eigh(C)  # ascending
        d = C.shape[0]
        kept = torch.zeros(d, dtype=torch.bool, device=C.device)
        kept[d - rank :] = True
        kept &= eigvals > 0  # clipped to zero, as the numpy version does: same as dropped
        if C.requires_grad and bool(kept.any()) and bool((~kept).any()):
            gap = eigvals[kept].min() - eigvals[~kept].max()
            if gap <= _MIN_RELATIVE_GAP * eigvals.abs().max():
                raise ValueError(
                    f"LinearizedAttention(rank={rank}) cannot be differentiated here: eigenvalue "
                    f"{rank} and eigenvalue {rank + 1} of the reference covariance C are equal "
                    f"(gap {float(gap):.3g}), so the kept subspace is not determined. Choose a "
                    "rank at a gap of the spectrum, or rank=None."
                )
        weights = torch.where(kept, eigvals, torch.zeros_like(eigvals))
        ctx.save_for_backward(eigvals, eigvecs, kept)
        return (eigvecs * weights) @ eigvecs.T

    @staticmethod
    def backward(ctx, grad_output):
        eigvals, eigvecs, kept = ctx.saved_tensors
        k = kept.to(eigvals.dtype)
        both_kept = k[:, None] * k[None, :]
        cross = k[:, None] * (1 - k[None, :])  # i kept, j dropped
        diff = eigvals[:, None] - eigvals[None, :]
        safe = torch.where(cross > 0, diff, torch.ones_like(diff))
        ratio = cross * eigvals[:, None] / safe
        gamma = both_kept + ratio + ratio.T
        sym = (grad_output + grad_output.T) / 2
        inner = eigvecs.T @ sym @ eigvecs
        return eigvecs @ (gamma * inner) @ eigvecs.T, None


# --------------------------------------------------------------------------------------------
# one torch step per supported transformer
# --------------------------------------------------------------------------------------------
class _Step:
    """A fitted transformer as a torch function ``Z ↦ step(Z)`` (constants as tensors)."""

    transductive = False

    def __init__(self, name, transformer, dtype, device):
        self.name = name
        self.transformer = transformer
        self.dtype = dtype
        self.device = device

    def _tensor(self, value):
        return torch.tensor(
            np.asarray(value, dtype=np.float64), dtype=self.dtype, device=self.device
        )

    @property
    def who(self):
        return f"step {self.name!r} ({type(self.transformer).__name__})"


class _NormalizerStep(_Step):
    def __call__(self, Z, Z_ref=None):
        return _normalise_rows(Z, self.who, keep_zero=True)


class _StandardScalerStep(_Step):
    def __init__(self, name, transformer, dtype, device):
        super().__init__(name, transformer, dtype, device)
        self.mean = self._tensor(transformer.mean_) if transformer.with_mean else None
        self.scale = self._tensor(transformer.scale_) if transformer.with_std else None

    def __call__(self, Z, Z_ref=None):
        if self.mean is not None:
            Z = Z - self.mean
        if self.scale is not None:
            Z = Z / self.scale
        return Z


class _DatasetStandardizerStep(_Step):
    def __call__(self, Z, Z_ref=None):
        Z = (Z - self.transformer.mean_) / self.transformer.scale_
        _check_finite_rows(Z, self.who)
        if self.transformer.normalize_rows:
            Z = _normalise_rows(Z, self.who)
        return Z


class _LinearizedAttentionStep(_Step):
    transductive = True

    def __init__(self, name, transformer, dtype, device):
        super().__init__(name, transformer, dtype, device)
        self.operator = self._tensor(transformer.operator_)
        # the per-layer (W_Q, W_K, W_V) that fit drew (or copied), or None for identity
        layers = transformer.projections_
        self.weights = (
            None if layers is None else [tuple(self._tensor(W) for W in t) for t in layers]
        )

    def reference_operator(self, Z_ref):
        """The ``d × d`` operator of :func:`linearized_attention_operator`, in torch."""
        attn = self.transformer
        n, d = Z_ref.shape
        if attn.rank is not None and attn.rank > min(n, d):
            raise ValueError(
                f"{self.who} has rank={attn.rank}, more than min(n_samples, n_features)="
                f"{min(n, d)} of the reference set of shape {tuple(Z_ref.shape)}; pass a larger "
                "training matrix or refit with a smaller rank."
            )
        C = Z_ref.T @ Z_ref
        C = (C + C.T) / 2
        if attn.rank is not None:
            C = _TopEigenTruncation.apply(C, attn.rank)
        if self.weights is None:
            return torch.linalg.matrix_power(C, attn.n_layers)
        operator = torch.eye(d, dtype=C.dtype, device=C.device)
        for W_Q, W_K, W_V in self.weights:
            operator = operator @ (W_Q @ (W_K.T @ (C @ W_V)))
        return operator

    def __call__(self, Z, Z_ref=None):
        operator = self.operator if Z_ref is None else self.reference_operator(Z_ref)
        F = Z @ operator
        _check_finite_rows(F, self.who)
        return _normalise_rows(F, self.who) if self.transformer.normalize else F


class _SoftmaxAttentionStep(_Step):
    transductive = True

    def __init__(self, name, transformer, dtype, device):
        super().__init__(name, transformer, dtype, device)
        X_ref = transformer.X_ref_
        self.reference = self._tensor(X_ref.toarray() if sp.issparse(X_ref) else X_ref)

    def __call__(self, Z, Z_ref=None):
        attn = self.transformer
        ref = self.reference if Z_ref is None else Z_ref
        scores = (Z @ ref.T) / attn.temperature_
        scores = scores - scores.max(dim=1, keepdim=True).values
        weights = torch.exp(scores)
        if attn.normalize_weights:
            weights = weights / weights.sum(dim=1, keepdim=True)
        F = weights @ ref
        _check_finite_rows(F, self.who)
        return _normalise_rows(F, self.who) if attn.normalize else F


def _make_step(name, transformer, dtype, device):
    if isinstance(transformer, Normalizer):
        if transformer.norm != "l2":
            raise ValueError(
                f"Pipeline step {name!r} is Normalizer(norm={transformer.norm!r}); only "
                "norm='l2' is mapped to torch. Use Normalizer(norm='l2') (the paper's unit-norm "
                "rows)."
            )
        return _NormalizerStep(name, transformer, dtype, device)
    for cls, step_cls in (
        (StandardScaler, _StandardScalerStep),
        (DatasetStandardizer, _DatasetStandardizerStep),
        (LinearizedAttention, _LinearizedAttentionStep),
        (SoftmaxAttention, _SoftmaxAttentionStep),
    ):
        if isinstance(transformer, cls):
            return step_cls(name, transformer, dtype, device)
    raise TypeError(
        f"Pipeline step {name!r} ({type(transformer).__name__}) cannot be mapped to torch. "
        f"Supported steps: {', '.join(_SUPPORTED_STEPS)}. Remove the step, or apply it to the "
        "data before the pipeline."
    )


def _flatten_steps(steps, prefix=""):
    """(name, transformer) of every step, nested pipelines expanded, passthrough dropped."""
    for name, step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, Pipeline):
            yield from _flatten_steps(step.steps, prefix=f"{prefix}{name}__")
        else:
            yield f"{prefix}{name}", step


def _as_2d_tensor(X, name, n_features, dtype, device):
    refuse_sparse(X, name)
    if not isinstance(X, torch.Tensor):
        # a C-ordered copy (X may be read-only; a DataFrame's values are column-major)
        X = torch.tensor(np.ascontiguousarray(X, dtype=np.float64))
    elif not torch.is_floating_point(X):
        raise TypeError(
            f"{name} must be a floating-point tensor; got dtype {X.dtype}. Convert it with "
            f"{name}.double()."
        )
    if X.ndim != 2 or (n_features is not None and X.shape[1] != n_features):
        raise ValueError(
            f"{name} must have shape (n_samples, {n_features}); got shape {tuple(X.shape)}."
        )
    return X.to(device=device, dtype=dtype)


class TorchPipeline:
    """A fitted pipeline (or bare network estimator) as a differentiable torch function.

    Build it with :meth:`from_estimator`. Each transformer step is re-expressed with torch
    operations and the network is a frozen copy of the estimator's module, so gradients flow
    from the network's output back to the pipeline's input (e.g. pixels). Attention steps are
    transductive: given a ``reference`` matrix (in the pipeline's input space) they rebuild their
    reference set from it, so perturbing training rows changes the attention operator
    ``C(X′) = Z′ᵀ Z′``, with ``Z′`` the steps before the attention applied to ``X′``.

    Parameters
    ----------
    steps : list of (str, transformer)
        The fitted transformers, in order.
    network : torch.nn.Module or None
        Frozen network applied after the steps; None for a transformers-only map.
    n_features_in : int or None
        Number of input columns, checked on every call.
    dtype : torch.dtype
        Floating type of every computation.
    device : torch.device
        Where the constants and the network live.
    input_space : fitted estimator or None, default=None
        Whose ``feature_names_in_`` a DataFrame input must match, in order (as ``predict``
        checks it); None uses the first step's (a pipeline's names are its first step's).
        Tensors have no column names and are only checked for their number of columns.

    Attributes
    ----------
    network : torch.nn.Module or None
        A copy of the estimator's module in `dtype` on `device`, in eval mode, its parameters
        not requiring grad (the weights stay fixed).
    step_names : list of str
        Names of the mapped steps (nested pipelines as ``outer__inner``).
    transductive : bool
        Whether any step uses a reference set (an attention step).
    dtype : torch.dtype
        Floating type of every computation.
    device : torch.device
        Device of the constants and the network.
    input_space : fitted estimator or None
        The estimator whose column names DataFrame inputs are checked against.

    See Also
    --------
    sklearn_attnkernel.attack_training_points : Attacks training points through it.

    Notes
    -----
    Non-transductive steps keep their fitted constants whatever the reference: the scalers'
    ``mean_`` and ``scale_`` are not re-estimated from a perturbed training set, and
    :class:`~sklearn.preprocessing.Normalizer` has none. With a ``reference``,
    :class:`~sklearn_attnkernel.LinearizedAttention` recomputes its operator exactly as
    :func:`~sklearn_attnkernel.linearized_attention_operator` does (projections, ``n_layers``
    and ``rank``), with the projections it drew at ``fit`` (its ``projections_``), whatever its
    ``random_state``. Rank truncation is differentiated with the Daleckii–Krein formula,
    exact as long as eigenvalues ``rank`` and ``rank + 1`` of ``C`` differ (a ValueError is raised
    otherwise). :class:`~sklearn_attnkernel.SoftmaxAttention` forms the whole
    ``n_rows × n_ref`` score matrix at once (autograd keeps it anyway), not row blocks.

    Rows that cannot be normalised (zero) or that overflow raise a ValueError naming them, as
    the numpy transformers do; :class:`~sklearn.preprocessing.Normalizer` leaves zero rows at
    zero, as scikit-learn does.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_attnkernel import make_mlp_attn
    >>> from sklearn_attnkernel.networks.torch_mirror import TorchPipeline
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.uniform(size=(20, 4)), np.arange(20) % 2
    >>> model = make_mlp_attn(width=8, max_epochs=1, dtype="float64", device="cpu",
    ...                       random_state=0).fit(X, y)
    >>> tp = TorchPipeline.from_estimator(model)
    >>> tp.step_names
    ['normalize', 'attention']
    >>> X_t = torch.tensor(X)
    >>> bool(np.allclose(tp.training_features(X_t).numpy(), model[:-1].transform(X)))
    True
    >>> bool(np.allclose(tp(X_t[:3]).numpy()[:, 0], model.decision_function(X[:3])))
    True
    >>> X_moved = X_t.clone()
    >>> X_moved[0] += 0.5  # moving one training row changes every row's features
    >>> bool((tp.training_features(X_moved)[1:] != tp.features(X_t[1:])).all())
    True
    """

    def __init__(self, steps, network, *, n_features_in, dtype, device, input_space=None):
        self.input_space = input_space if input_space is not None or not steps else steps[0][1]
        self.dtype = dtype
        self.device = torch.device(device)
        self._steps = [_make_step(name, tr, dtype, self.device) for name, tr in steps]
        self.step_names = [step.name for step in self._steps]
        self.network = network
        self.n_features_in = n_features_in
        self.transductive = any(step.transductive for step in self._steps)
        # index of the last transductive step: references are propagated up to it only
        self._last_transductive = max(
            (i for i, step in enumerate(self._steps) if step.transductive), default=-1
        )

    @classmethod
    @validate_params(
        {
            "estimator": "no_validation",
            "dtype": [StrOptions(set(TORCH_DTYPES)), torch.dtype],
            "device": [None, str, torch.device],
        },
        prefer_skip_nested_validation=True,
    )
    def from_estimator(cls, estimator, *, dtype="float64", device=None):
        """Map a fitted estimator or pipeline to torch.

        Parameters
        ----------
        estimator : Pipeline, TwoLayerReLUClassifier, TwoLayerReLURegressor or Module
            A fitted :class:`~sklearn.pipeline.Pipeline` whose last step is a fitted
            ``TwoLayerReLUClassifier``/``TwoLayerReLURegressor`` and whose other steps are
            supported (see the module docstring), a bare fitted estimator, or a torch module.
        dtype : {"float64", "float32"} or torch.dtype, default="float64"
            Floating type of the computation. float64 is the default so that gradients can be
            checked against finite differences; the network is copied and cast.
        device : str, torch.device or None, default=None
            Device of the computation; None uses the network's device.

        Returns
        -------
        pipeline : TorchPipeline
            The torch map.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        TypeError
            If a step is not supported (the message names it and lists the supported ones).
        """
        transformer, estimator_, module = unwrap_model(estimator)
        dtype = TORCH_DTYPES[dtype] if isinstance(dtype, str) else dtype
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be float32 or float64; got dtype={dtype}.")
        if device is None:
            device = next(iter(module.parameters()), torch.empty(0)).device
        network = copy.deepcopy(module).to(device=device, dtype=dtype).eval()
        network.requires_grad_(False)
        steps = list(_flatten_steps(transformer.steps)) if transformer is not None else []
        if isinstance(estimator, Pipeline):
            n_features_in = getattr(estimator, "n_features_in_", None)
        elif estimator_ is not None:
            n_features_in = estimator_.n_features_in_
        else:
            n_features_in = getattr(module, "n_features", None)
        input_space = None if isinstance(estimator, torch.nn.Module) else estimator
        return cls(
            steps,
            network,
            n_features_in=n_features_in,
            dtype=dtype,
            device=device,
            input_space=input_space,
        )

    def _check(self, X, name):
        if self.input_space is not None and not isinstance(X, torch.Tensor):
            # column names and order, with sklearn's own check and message (as predict does)
            _check_feature_names(self.input_space, X, reset=False)
        return _as_2d_tensor(X, name, self.n_features_in, self.dtype, self.device)

    def features(self, X, reference=None):
        """Apply the transformer steps to `X`.

        Parameters
        ----------
        X : torch.Tensor or array-like of shape (n_samples, n_features_in)
            Rows in the pipeline's input space. Gradients flow back to a tensor input.
        reference : torch.Tensor, array-like or None, default=None
            The training matrix ``X_train′`` in the input space. When given, every attention
            step's reference set is rebuilt from it (passed through the steps before it);
            gradients flow to it too. None uses the fitted reference sets, like ``transform``.

        Returns
        -------
        F : torch.Tensor of shape (n_samples, n_features_out)
            The features fed to the network.
        """
        Z = self._check(X, "X")
        use_ref = reference is not None and self.transductive
        Z_ref = self._check(reference, "reference") if use_ref else None
        for i, step in enumerate(self._steps):
            Z_next = step(Z, Z_ref)
            if Z_ref is not None:
                Z_ref = step(Z_ref, Z_ref) if i < self._last_transductive else None
            Z = Z_next
        return Z

    def training_features(self, X_train):
        """Compute the training set's features when the training matrix itself is `X_train`.

        Equals ``features(X_train, reference=X_train)``, computed once.

        Parameters
        ----------
        X_train : torch.Tensor or array-like of shape (n_samples, n_features_in)
            The (possibly perturbed) training matrix in the input space.

        Returns
        -------
        F : torch.Tensor of shape (n_samples, n_features_out)
            The training features; with the unperturbed training matrix they equal the fitted
            pipeline's ``transform`` of it (up to round-off).
        """
        Z = self._check(X_train, "X_train")
        for step in self._steps:
            Z = step(Z, Z if step.transductive else None)
        return Z

    def __call__(self, X, reference=None):
        """Return the network outputs ``f(features(X, reference))``.

        Parameters
        ----------
        X : torch.Tensor or array-like of shape (n_samples, n_features_in)
            Rows in the pipeline's input space.
        reference : torch.Tensor, array-like or None, default=None
            The training matrix in the input space, as in :meth:`features`.

        Returns
        -------
        outputs : torch.Tensor of shape (n_samples, n_outputs)
            The raw network outputs (logits, or the ±1-scale score of a binary MSE network).
        """
        if self.network is None:
            raise ValueError("This TorchPipeline has no network; use features() instead.")
        return self.network(self.features(X, reference=reference))

    def __repr__(self):
        network = type(self.network).__name__ if self.network is not None else None
        return (
            f"TorchPipeline(steps={self.step_names}, network={network}, dtype={self.dtype}, "
            f"device={self.device})"
        )


def transformers_map(steps, *, n_features_in, dtype, device):
    """Map fitted transformers alone (no network) to torch, e.g. for adversarial training.

    Parameters
    ----------
    steps : list of (str, transformer)
        Fitted transformers, in order; nested pipelines are expanded and ``"passthrough"`` or
        None steps dropped.
    n_features_in : int or None
        Number of input columns, checked on every call.
    dtype : {"float32", "float64"} or torch.dtype
        Floating type of the computation.
    device : str or torch.device
        Device of the computation.

    Returns
    -------
    pipeline : TorchPipeline
        The map; its :meth:`TorchPipeline.features` takes rows of the steps' input space.
    """
    dtype = TORCH_DTYPES[dtype] if isinstance(dtype, str) else dtype
    flat = list(_flatten_steps(steps))
    return TorchPipeline(flat, None, n_features_in=n_features_in, dtype=dtype, device=device)
