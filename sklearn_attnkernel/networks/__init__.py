"""Layer 3: the paper's networks (torch), the skorch-backed estimators and their pipelines.

Names load lazily, so building a pipeline with :func:`make_mlp_attn` does not import torch until a
network is fitted.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "modules": ["TwoLayerReLU", "resolve_device", "unwrap_model"],
        "estimators": ["TwoLayerReLUClassifier", "TwoLayerReLURegressor"],
        "landscape": ["loss_landscape"],
        "pipelines": [
            "NetworkPipeline",
            "make_adversarially_trained",
            "make_mlp_attn",
            "make_two_layer_relu",
        ],
        "torch_mirror": ["TorchPipeline"],
    },
)
