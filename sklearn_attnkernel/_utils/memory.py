"""Refuse an allocation that does not fit a memory budget, before it starts."""

__all__ = ["DEFAULT_MEMORY_BUDGET", "check_allocation", "format_bytes"]

#: Default budget of the n × n (or n × block) allocations of the kernels: 4 GiB.
DEFAULT_MEMORY_BUDGET = 4 * 2**30


def format_bytes(n_bytes):
    """Bytes as GiB with two decimals, e.g. ``'298.02 GiB'``."""
    return f"{n_bytes / 2**30:.2f} GiB"


def check_allocation(n_bytes, memory_budget, *, what, way_out):
    """Raise a ValueError naming the size and the way out when ``n_bytes > memory_budget``.

    Parameters
    ----------
    n_bytes : int
        Estimated bytes of the allocation (output plus temporaries).
    memory_budget : int or float
        Bytes allowed.
    what : str
        What would be allocated, e.g. ``"the 200000×200000 float64 kernel"``.
    way_out : str
        What to do instead, e.g. ``"compute it in row blocks of Y"``.

    Examples
    --------
    >>> from sklearn_attnkernel._utils.memory import check_allocation
    >>> check_allocation(2**20, 2**30, what="a small array", way_out="-")
    >>> check_allocation(2**40, 2**30, what="a big array", way_out="use less")
    Traceback (most recent call last):
    ...
    ValueError: a big array needs 1024.00 GiB, more than memory_budget=1073741824 bytes ...
    """
    if n_bytes > memory_budget:
        raise ValueError(
            f"{what} needs {format_bytes(n_bytes)}, more than memory_budget={int(memory_budget)} "
            f"bytes ({format_bytes(memory_budget)}); {way_out}, or raise memory_budget if the "
            "machine has the memory."
        )
