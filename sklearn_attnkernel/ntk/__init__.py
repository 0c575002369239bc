"""Layer 4: the empirical NTK of trained networks, its distances to the infinite-width limit."""

from .empirical import empirical_ntk
from .metrics import ZeroKernelError, function_space_distance, ntk_distance, ntk_width_sweep

__all__ = [
    "ZeroKernelError",
    "empirical_ntk",
    "function_space_distance",
    "ntk_distance",
    "ntk_width_sweep",
]
