"""Layer 1: the Gram-induced kernel of linearized attention and the infinite-width NTK (numpy)."""

from .gram import GramInducedKernel
from .ntk import TwoLayerReLUNTK, infinite_width_ntk

__all__ = ["GramInducedKernel", "TwoLayerReLUNTK", "infinite_width_ntk"]
