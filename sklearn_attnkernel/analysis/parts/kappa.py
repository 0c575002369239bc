"""Part ``kappa``: the κ report of the standardised training matrix and the spectra of G, G³."""

import math

from ..data import cell_data, standardize

__all__ = ["run"]


def run(cells, ctx):
    """κ, κ³ (and κ measured on ``X C``), sufficient widths (Thm 4.8), the rank curve κ_k and the
    eigenvalues of ``G`` and ``G³``."""
    import scipy.linalg

    from ...diagnostics import kappa_report, spectral_amplification

    (s,) = cells
    data = cell_data(s, ctx["root"])
    Z = standardize(s["dataset"], data["X"])
    report = kappa_report(
        Z,
        rank=s["kappa_rank"],
        ranks=s["ranks"] or None,
        practical_width=s["practical_width"],
        method="exact",
    )
    rows = []
    for _, row in report.to_frame("quantities").iterrows():
        rows.append({"metric": row["quantity"], "value": row["value"]})
        if not math.isnan(row["log10"]):
            rows.append({"metric": f"log10_{row['quantity']}", "value": row["log10"]})
    curve = report.to_frame("rank_curve")
    for _, row in curve.iterrows():
        for column in ("log10_kappa", "log10_width_relu", "log10_width_attention"):
            rows.append(
                {"metric": f"curve_{column}", "rank": int(row["rank"]), "value": row[column]}
            )
    # κ measured on the linearized-attention features F = Z C at the same rank: the check of
    # the cubing κ(G³) = κ³ (Thm 4.8) that the report's verdict rests on
    measured = spectral_amplification(Z, rank=s["kappa_rank"])["log10_kappa_attention"]
    rows.append({"metric": "log10_kappa_attention_measured", "value": measured})
    eigenvalues = scipy.linalg.svdvals(Z) ** 2
    for i, lam in enumerate(eigenvalues, start=1):
        rows.append({"metric": "eigenvalue_G", "rank": i, "value": lam})
        rows.append({"metric": "eigenvalue_G3", "rank": i, "value": lam**3})
    info = {"n_train": int(Z.shape[0]), "n_features": int(Z.shape[1]), "verdict": report.verdict}
    return [(s, rows, info, [])]
