"""Gram-induced kernels of linearized attention, NTK diagnostics and influence malleability.

Every public name is importable from the package root. Names load lazily (SPEC 1, through
``lazy_loader``), so ``import sklearn_attnkernel`` and the numpy-only layers (attention
transformers, kernels, diagnostics, preprocessing, datasets) never import torch.

The subpackages are layers; each imports only from the layers below it:

0. ``_utils``: vocabularies and message helpers;
1. ``attention``, ``kernels``, ``diagnostics``, ``preprocessing``, ``datasets``: numpy math;
2. ``attacks``: gradient-sign attacks on any differentiable objective;
3. ``networks``: torch modules, the skorch-backed estimators and their pipelines;
4. ``ntk``: empirical NTK and its distances to the infinite-width limit;
5. ``influence``: exact leave-one-out influence, malleability, attacks on training points;
6. ``analysis``: the paper's analysis, its report and the ``attnkernel`` command.
"""

import lazy_loader

__version__ = "0.1.0.dev0"

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "attention": ["LinearizedAttention", "SoftmaxAttention", "linearized_attention_operator"],
        "preprocessing": ["DatasetStandardizer", "dataset_standardizer"],
        "datasets": ["load_dataset"],
        "kernels": ["GramInducedKernel", "TwoLayerReLUNTK", "infinite_width_ntk"],
        "diagnostics": [
            "KappaReport",
            "NumericalRankWarning",
            "effective_condition_number",
            "feature_collapse",
            "kappa_report",
            "required_width",
            "spectral_amplification",
        ],
        "attacks": ["fgsm", "mim", "pgd"],
        "networks": [
            "TorchPipeline",
            "TwoLayerReLU",
            "TwoLayerReLUClassifier",
            "TwoLayerReLURegressor",
            "loss_landscape",
            "make_adversarially_trained",
            "make_mlp_attn",
            "make_two_layer_relu",
        ],
        "ntk": ["empirical_ntk", "function_space_distance", "ntk_distance", "ntk_width_sweep"],
        "influence": [
            "InfluenceMalleability",
            "NumericalCheckError",
            "attack_training_points",
            "complexity_by_group",
            "influence_flip_rate",
            "influence_groups",
            "influence_rank_correlation",
            "influence_scores",
            "intrinsic_sensitivity",
            "loo_influence",
            "loo_influence_features",
            "rkhs_contributions",
            "run_intervention",
            "top_k_stability",
        ],
        "analysis": ["build_report", "load_config", "run_experiment"],
    },
)
