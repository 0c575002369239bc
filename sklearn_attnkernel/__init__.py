"""Gram-induced kernels of linearized attention, NTK diagnostics and influence malleability.

Every public name is importable from the package root. Names are resolved lazily (PEP 562), so
``import sklearn_attnkernel`` and the numpy-only parts (attention transformers, kernels,
diagnostics) never import torch; only the network, empirical-NTK and attack code does.
"""

import importlib

__version__ = "0.1.0.dev0"

# public name -> submodule that defines it
_EXPORTS = {
    # attention transforms
    "LinearizedAttention": "attention",
    "SoftmaxAttention": "attention",
    "linearized_attention_operator": "attention",
    # datasets and their preprocessing
    "DatasetStandardizer": "datasets",
    "dataset_standardizer": "datasets",
    "load_dataset": "datasets",
    # kernels
    "GramInducedKernel": "kernels",
    # condition-number diagnostics
    "KappaReport": "diagnostics",
    "NumericalRankWarning": "diagnostics",
    "effective_condition_number": "diagnostics",
    "feature_collapse": "diagnostics",
    "kappa_report": "diagnostics",
    "required_width": "diagnostics",
    "spectral_amplification": "diagnostics",
    # networks (torch)
    "TwoLayerReLU": "networks",
    "TwoLayerReLUClassifier": "mlp",
    "TwoLayerReLURegressor": "mlp",
    "make_mlp_attn": "pipelines",
    "make_two_layer_relu": "pipelines",
    # neural tangent kernels
    "TwoLayerReLUNTK": "ntk_infinite",
    "infinite_width_ntk": "ntk_infinite",
    "empirical_ntk": "ntk_empirical",
    "function_space_distance": "ntk_metrics",
    "ntk_distance": "ntk_metrics",
    "ntk_width_sweep": "ntk_metrics",
    # influence (numpy) and malleability metrics
    "NumericalCheckError": "influence",
    "intrinsic_sensitivity": "influence",
    "loo_influence": "influence",
    "loo_influence_features": "influence",
    "influence_flip_rate": "influence_metrics",
    "influence_rank_correlation": "influence_metrics",
    "top_k_stability": "influence_metrics",
    # influence of trained networks, malleability scorer, interventions
    "InfluenceMalleability": "malleability",
    "influence_scores": "estimator_influence",
    "run_intervention": "interventions",
    # the analysis runner
    "build_report": "report",
    "load_config": "experiments",
    "run_experiment": "experiments",
    # attacks and their torch view of fitted pipelines
    "TorchPipeline": "torch_pipeline",
    "attack_training_points": "attacks",
    "make_adversarially_trained": "pipelines",
    "fgsm": "attacks",
    "mim": "attacks",
    "pgd": "attacks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    try:
        module_name = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
