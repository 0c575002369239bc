"""The machinery of the hostile-input battery (#11): cases, outcomes and input builders.

A :class:`Case` is one call of a public entry point on one hostile input. :func:`classify` runs it
and sorts the outcome into one of four bins:

- ``"right"``: it returned, and the result passes the case's independent check (a brute-force
  formula, or the same quantity on the unscaled / unpermuted input);
- ``"refusal"``: it raised ``ValueError``/``TypeError`` whose message names the cause (one of the
  case's ``causes`` substrings, case-insensitive);
- ``"wrong"``: it returned something that fails the check, or returned where it must refuse;
- ``"crash"``: any other exception, or a ``ValueError``/``TypeError`` with a misleading message.

Hand-written (no library classifies outcomes this way); the inputs are plain numpy/pandas/scipy.
"""

from __future__ import annotations

import contextlib
import resource
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

OUTCOMES = ("right", "refusal", "wrong", "crash")

#: Positive rescalings over the float64 range (the hypothesis tests draw others).
SCALES = {"1e-300": 1e-300, "1e-100": 1e-100, "1e100": 1e100, "1e300": 1e300}

#: Substrings that name each kind of hostile input in a refusal message.
NAMES_NAN = ("nan", "finite", "infinity")
NAMES_EMPTY = ("empty", "0 sample", "minimum of 1", "minimum of 2", "at least", "zero-size")
NAMES_STRINGS = ("string", "numeric", "could not convert", "dtype", "float")
NAMES_SPARSE = ("sparse",)
NAMES_FEATURES = ("feature names", "feature_names", "columns")
NAMES_OVERFLOW = ("overflow", "underflow", "scale", "float32 range", "too large", "too small")
NAMES_MEMORY = ("memory", "gib", "block", "too large")


@dataclass(frozen=True)
class Case:
    """One call on one hostile input.

    ``check(result) -> bool`` is the independent verification of a returned result; ``None``
    means the input must be refused. ``causes`` are the substrings a refusal must contain.
    """

    id: str
    item: int
    call: Callable[[], Any]
    check: Callable[[Any], bool] | None
    causes: tuple[str, ...] = ()
    memory: bool = field(default=False)
    #: exceptions that may carry a refusal (e.g. FileNotFoundError for a missing file)
    refuses_with: tuple[type[BaseException], ...] = (ValueError, TypeError)
    #: a scale-invariant quantity: only "right" passes, even a clear refusal is a defect (item 3)
    must_be_right: bool = False


def passes(case: Case, outcome: str) -> bool:
    """Whether ``outcome`` is acceptable for ``case`` (right, or a clear refusal if allowed)."""
    return outcome == "right" or (outcome == "refusal" and not case.must_be_right)


def classify(case: Case) -> tuple[str, str]:
    """Run ``case``; return ``(outcome, detail)`` with ``outcome`` in :data:`OUTCOMES`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with _address_space_limit() if case.memory else contextlib.nullcontext():
                result = case.call()
        except case.refuses_with as exc:
            message = f"{type(exc).__name__}: {exc}"
            named = any(cause.lower() in str(exc).lower() for cause in case.causes)
            return ("refusal" if named else "crash"), message[:300]
        except Exception as exc:
            return "crash", f"{type(exc).__name__}: {exc}"[:300]
    if case.check is None:
        return "wrong", f"returned instead of refusing: {_short(result)}"
    try:
        ok = bool(case.check(result))
    except Exception as exc:
        return "wrong", f"check failed on {_short(result)}: {type(exc).__name__}: {exc}"[:300]
    return ("right" if ok else "wrong"), _short(result)


def _short(result):
    return repr(result).replace("\n", " ")[:200]


@contextlib.contextmanager
def _address_space_limit(extra_bytes=2 << 30):
    """Cap this process's address space to its current size + ``extra_bytes`` for one call.

    An unguarded n×n allocation then fails at once with ``MemoryError`` (a crash) instead of
    swapping the machine; the soft limit is restored afterwards. Linux only.
    """
    if not sys.platform.startswith("linux"):  # pragma: no cover - CI is Linux
        yield
        return
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + extra_bytes if hard == resource.RLIM_INFINITY else min(hard, size + extra_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------
def finite(result) -> bool:
    """True when every number in ``result`` (array, float, dict of floats, tuple) is finite."""
    if isinstance(result, dict):
        return all(finite(v) for v in result.values() if isinstance(v, (int, float, np.ndarray)))
    if isinstance(result, tuple):
        return all(finite(v) for v in result)
    if hasattr(result, "detach"):
        result = result.detach().cpu().numpy()
    return bool(np.all(np.isfinite(np.asarray(result, dtype=float))))


def close(expected, *, rtol=1e-9, atol=0.0):
    """A check: finite and ``allclose`` to ``expected`` (ulp-aware, any BLAS)."""

    def check(result):
        if hasattr(result, "detach"):
            result = result.detach().cpu().numpy()
        result = np.asarray(result, dtype=float)
        return finite(result) and np.allclose(result, expected, rtol=rtol, atol=atol)

    return check


def scaled_close(expected, factor, *, rtol=1e-9):
    """A check for a quantity homogeneous in the input: ``result ≈ factor · expected``.

    ``factor · expected`` is formed in float64; where it overflows the result is unrepresentable
    and only a refusal is right; where it underflows, values down to the subnormal range match.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        target = np.asarray(expected, dtype=float) * factor
    if not np.all(np.isfinite(target)):
        return None
    return close(target, rtol=rtol, atol=np.finfo(float).tiny / np.finfo(float).eps)


# ---------------------------------------------------------------------------------------------
# hostile versions of a clean input
# ---------------------------------------------------------------------------------------------
def with_value(X, value, where=(0, 0)):
    """Copy of ``X`` with one entry set to ``value`` (NaN, ±inf)."""
    X = np.array(X, dtype=float)
    X[where] = value
    return X


def with_zero_row(X):
    X = np.array(X, dtype=float)
    X[1] = 0.0
    return X


def with_duplicate_row(X):
    X = np.array(X, dtype=float)
    X[1] = X[0]
    return X


def as_strings(X):
    X = np.asarray(X).astype(str).astype(object)
    X.flat[0] = "a"
    return X


def as_frame(X):
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(np.shape(X)[1])])


def permuted(frame):
    """The same DataFrame with its columns reversed (same names, other order)."""
    return frame[frame.columns[::-1]]


def as_sparse(X):
    return sp.csr_matrix(np.asarray(X, dtype=float))
