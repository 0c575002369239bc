"""Layer 1: linearized and softmax attention as scikit-learn transformers (numpy only).

The d×d attention operator (arXiv 2603.13085, §4) and the transformers that apply it with the
training split as their reference set.
"""

from .transformers import LinearizedAttention, SoftmaxAttention, linearized_attention_operator

__all__ = ["LinearizedAttention", "SoftmaxAttention", "linearized_attention_operator"]
