"""Layer 2: gradient-sign attacks (FGSM, PGD, MIM) on any differentiable objective (torch).

They know nothing about estimators; attacks on the training points of a fitted model are
:func:`sklearn_attnkernel.attack_training_points`.
"""

from .gradient_sign import fgsm, mim, pgd

__all__ = ["fgsm", "mim", "pgd"]
