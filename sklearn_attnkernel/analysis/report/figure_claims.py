"""Verdict rows of the paper's figure claims measured by the newer parts: the U shape of the
complexity by influence group (Fig. 3, Appendix A.8; part ``complexity``) and the broader,
flatter minimum of MLP-Attn (Fig. 5, Appendix A.11; part ``landscape``).

Each row has the columns of :data:`~sklearn_attnkernel.analysis.report.comparison.
VERDICT_COLUMNS` and rests on a paired per-seed statistic with its Student-t CI; one seed gives
the number and no verdict.
"""

import math

from .complexity import KEYS as COMPLEXITY_KEYS
from .complexity import u_shape_table
from .formatting import architecture_label, format_ci
from .landscape import paired_differences, paired_direction
from .stats import mean_ci

__all__ = ["complexity_claims", "landscape_claims"]

_ONE_SEED = "one seed: no interval, no verdict"


def _data(keys):
    dataset, setting, n_train, width = keys
    return f"{dataset}, {setting}, n = {n_train}, width {width}"


def _u_text(row):
    label = f"{architecture_label(row.architecture)} ({row.kernel})"
    if row.seeds < 2 or math.isnan(row.u_ci95):
        return f"{label}: u = {row.u_mean:.2g}"
    return f"{label}: u = {row.u_mean:.2g} [{row.u_low:.2g}, {row.u_high:.2g}]"


def _u_verdict(group):
    if (group["seeds"] < 2).any() or group["u_ci95"].isna().any():
        return _ONE_SEED
    there = group["u_low"] > 0
    absent = group["u_high"] < 0
    if there.all():
        return "agrees: U-shaped for every architecture and kernel"
    if absent.any():
        names = [_u_text(r).split(":")[0] for r in group[absent].itertuples(index=False)]
        return f"disagrees: not U-shaped for {', '.join(names)}"
    return "undecided: some CI of u contains 0"


def complexity_claims(results):
    """One row per data set of the complexity part: is the complexity by influence group
    U-shaped (Fig. 3) for every architecture and kernel, on the per-seed statistic ``u``."""
    table = u_shape_table(results)
    rows = []
    for keys, group in table.dropna(subset=["u_mean"]).groupby(COMPLEXITY_KEYS, sort=False):
        rows.append(
            {
                "claim": f"complexity by influence group is U-shaped ({_data(keys)})",
                "ours [95 % CI]": "; ".join(_u_text(r) for r in group.itertuples(index=False)),
                "paper": "U shape: the most harmful and most helpful groups carry the "
                "complexity (Fig. 3, A.8)",
                "verdict": _u_verdict(group),
                "statistic": "per seed u = min(share of ‖f‖²_H in group 1, in group 10) − mean "
                "share of groups 2–9; Student-t 95 % CI over seeds; U-shaped when it lies "
                "above 0",
            }
        )
    return rows


def _landscape_verdict(curvature, area):
    if min(curvature[2], area[2]) < 2:
        return _ONE_SEED
    flat = paired_direction(*curvature, lower="flatter", higher="sharper")
    broad = paired_direction(*area, lower="narrower", higher="broader")
    if flat == "flatter" and broad == "broader":
        return "agrees: flatter and broader"
    said = [word for word in (flat, broad) if word]
    if "sharper" in said or "narrower" in said:
        return f"disagrees: {' and '.join(said)}"
    return "not established: both CIs contain 0" if not said else f"partly: {said[0]} only"


def landscape_claims(results):
    """One row per data set, width and MLP-Attn architecture: is its minimum flatter and
    broader than 2L-ReLU's (Fig. 5), on the per-seed paired differences."""
    differences = paired_differences(results)
    rows = []
    for keys, group in differences.groupby([*COMPLEXITY_KEYS, "architecture"], sort=False):
        curvature = mean_ci(group.loc[group["metric"] == "mean_curvature", "value"])
        area = mean_ci(group.loc[group["metric"] == "area_below", "value"])
        label = architecture_label(keys[-1])
        rows.append(
            {
                "claim": f"{label} has a broader, flatter minimum than 2L-ReLU "
                f"({_data(keys[:-1])})",
                "ours [95 % CI]": f"{label} − 2L-ReLU: mean curvature {format_ci(*curvature)}, "
                f"basin area {format_ci(*area)} of the grid",
                "paper": "broader minimum for MLP-Attn (Fig. 5, A.11)",
                "verdict": _landscape_verdict(curvature, area),
                "statistic": "per-seed paired differences (same directions' seed and training "
                "points), Student-t 95 % CI; flatter: curvature CI below 0; broader: basin-area "
                "CI above 0",
            }
        )
    return rows
