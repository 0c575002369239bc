"""Layer 5: exact leave-one-out influence, its malleability, attacks on training points.

Names load lazily: the closed-form influence (:mod:`.loo`, :mod:`.metrics`, :mod:`.ranking`) is
numpy only, and only the attacks on training points import torch.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "loo": [
            "NumericalCheckError",
            "intrinsic_sensitivity",
            "loo_influence",
            "loo_influence_features",
        ],
        "metrics": ["influence_flip_rate", "influence_rank_correlation", "top_k_stability"],
        "estimators": ["influence_scores"],
        "health": ["NearChanceError", "NearChanceWarning", "training_skill"],
        "scorer": ["InfluenceMalleability"],
        "interventions": ["run_intervention"],
        "training_attacks": ["attack_training_points"],
        "complexity": ["complexity_by_group", "influence_groups", "rkhs_contributions"],
        "ranking": ["InfluentialExamples", "most_influential"],
        "retraining": [
            "RetrainingEffects",
            "network_loss",
            "retraining_agreement",
            "retraining_effects",
        ],
    },
)
