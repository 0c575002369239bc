"""One spelling per concept: architectures, attention kinds, attacks, experiment parts.

The analysis records these strings in its run folders, so they are part of the run-folder format:
change a value here and old run folders stop matching. Display labels are for tables and figures
only and never stored.
"""

#: Architecture keys of the analysis (run folders, ``results.parquet``) and their display labels.
#: ``"relu"`` is the paper's 2L-ReLU network; the other three are MLP-Attn (arXiv 2603.13085,
#: Eq. 3) with the attention kind of :data:`ATTENTION_OF_ARCHITECTURE` in front.
ARCHITECTURE_LABELS = {
    "relu": "2L-ReLU",
    "attention": "MLP-Attn",
    "softmax": "MLP-Attn (softmax)",
    "exponential": "MLP-Attn (exponential)",
}
ARCHITECTURES = tuple(ARCHITECTURE_LABELS)

#: The attention kinds of :func:`~sklearn_attnkernel.make_mlp_attn` (its ``attention`` parameter).
ATTENTION_KINDS = ("linear", "softmax", "exponential")

#: The attention kind in front of each MLP-Attn architecture key.
ATTENTION_OF_ARCHITECTURE = {
    "attention": "linear",
    "softmax": "softmax",
    "exponential": "exponential",
}

#: Feature transforms of the collapse part: the raw pixels or one attention kind.
TRANSFORMS = ("raw", *ATTENTION_KINDS)

#: Gradient-sign attacks (:mod:`sklearn_attnkernel.attacks`) and the random ±ε baseline.
ADVERSARIAL_METHODS = ("fgsm", "pgd", "mim")
ATTACKS = (*ADVERSARIAL_METHODS, "random")

#: The parts of the analysis, in the order they run and are reported.
PARTS = (
    "kappa",
    "collapse",
    "ntk",
    "malleability",
    "interventions",
    "complexity",
    "examples",
    "landscape",
    "audit",
)

#: The parts whose cells train networks (they seed torch's process-wide generator, and the
#: report lists their training settings).
TRAINED_PARTS = PARTS[PARTS.index("ntk") :]

#: The paper's adversarial ε in pixel units (arXiv 2603.13085, its malleability experiments of
#: Def 3.4): the attack of the complexity, examples and audit parts, and the ε the report reads
#: flip rates at when the run measured it.
PAPER_EPSILON = 0.3

#: The largest network width taken as practical: 10⁵, our choice (the paper gives no number),
#: the default of ``kappa_report(practical_width=...)`` and of ``kappa.practical_width``.
PRACTICAL_WIDTH = 1e5

#: Exponent p of κ in the width bound m = Ω(κᵖ n log n): κ² for 2L-ReLU, κ⁶ for MLP-Attn
#: (sufficient widths of arXiv 2603.13085, Thm 4.8).
WIDTH_EXPONENT = {"relu": 2, "attention": 6}
