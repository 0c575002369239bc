"""One module per experiment part; each exposes ``run(cells, ctx)``.

A runner takes the settings of one task's cells (cells that share a trained network) and the
context (``root``: data folder, ``threads``) and returns one ``(settings, rows, info, notes)``
tuple per cell. The torch parts import torch inside their runner only.
"""

from . import (
    audit,
    collapse,
    complexity,
    examples,
    interventions,
    kappa,
    landscape,
    malleability,
    ntk,
)

__all__ = ["RUNNERS"]

#: The runner of each part (see :data:`~sklearn_attnkernel._utils.vocabulary.PARTS`).
RUNNERS = {
    "kappa": kappa.run,
    "collapse": collapse.run,
    "ntk": ntk.run,
    "malleability": malleability.run,
    "interventions": interventions.run,
    "complexity": complexity.run,
    "examples": examples.run,
    "landscape": landscape.run,
    "audit": audit.run,
}
