"""Figures of ``scalescope obs place``: the user's models among the reference models (issue 16; spec §2.2, §3).

Drawn from a :class:`~scalescope.observational.placement.PlacementResult`; nothing is fitted here. The placement figure
is the paper's "PC vs compute" view (spec §3, unified plot): reference models as PC-1 against true log10 FLOPs, marker
and colour by family, dashed per-family lines for the families of the placed models and the equivalence family; the
placed models as large stars. A placed model without FLOPs is drawn as a hollow star at its reference-family-
equivalent compute (on the equivalence family's line), since it has no compute coordinate of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.observational.constants import FAMILY_COL, FLOPS_COL, MODEL_COL
from scalescope.report.figures.obs import family_markers
from scalescope.report.style import PALETTE

PLACED_COLOR = "#000000"


def _short(name: str, n: int = 28) -> str:
    s = str(name).split("/")[-1]
    return s if len(s) <= n else s[: n - 1] + "…"


def plot_placement(res, ax, *, title: str = "Placed models in the reference capability space"):
    """PC-1 vs log10 FLOPs: reference models by family, per-family lines, placed models as stars."""
    ref = res.reference_models
    x = np.log10(pd.to_numeric(ref[FLOPS_COL], errors="coerce"))
    ok = np.isfinite(x)
    fams = ref.loc[ok, FAMILY_COL].astype(str)
    markers = family_markers(fams)
    colors = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(markers)}
    for f in markers:
        m = ok & (ref[FAMILY_COL].astype(str) == f).to_numpy()
        ax.scatter(x[m], ref.loc[m, "PC-1"], marker=markers[f], s=22, color=colors[f], alpha=0.55, label=f,
                   linewidths=0)
    pl = res.placements
    show = set(pl[FAMILY_COL].astype(str)) | {res.equivalence.get("reference_family", "")}
    fits = res.family_fits.set_index("family")
    xs_all = np.r_[x[ok], np.log10(pl[FLOPS_COL].to_numpy(dtype=float)), pl["equiv_log10_flops"].to_numpy()]
    xs_all = xs_all[np.isfinite(xs_all)]
    lo, hi = (xs_all.min(), xs_all.max()) if len(xs_all) else (0.0, 1.0)
    for f in show:
        if f in fits.index and np.isfinite(fits.at[f, "slope"]):
            a, c = fits.at[f, "slope"], fits.at[f, "intercept"]
            xx = np.linspace(lo, hi, 2)
            ax.plot(xx, a * xx + c, ls="--", lw=1.0, color=colors.get(f, "0.4"), alpha=0.9)
    for _, r in pl.iterrows():
        fl = r[FLOPS_COL]
        if np.isfinite(fl) and fl > 0:
            xv, face, note = np.log10(fl), PLACED_COLOR, ""
        else:
            xv, face, note = r["equiv_log10_flops"], "none", " (no FLOPs: at equiv.)"
        if not np.isfinite(xv):
            continue
        ax.scatter([xv], [r["PC-1"]], marker="*", s=220, facecolors=face, edgecolors=PLACED_COLOR, linewidths=1.2,
                   zorder=5)
        ax.annotate(_short(r[MODEL_COL]) + note, (xv, r["PC-1"]), xytext=(6, 4), textcoords="offset points",
                    fontsize=7, zorder=6)
    ax.scatter([], [], marker="*", s=120, color=PLACED_COLOR, label="placed model")
    ax.set_xlabel("log10 training FLOPs (1e21)")
    ax.set_ylabel("PC-1 (reference capability space)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6, ncol=1 + len(markers) // 18)
    return ax


def plot_place_predictions(res, ax, *, title: str = "Predicted targets (normalised, bootstrap interval)"):
    """Normalised predictions with their bootstrap intervals: one row per target, one marker per placed model."""
    p = res.predictions
    targets = list(pd.unique(p["target"]))
    models = list(pd.unique(p[MODEL_COL]))
    k = len(models)
    for j, m in enumerate(models):
        sub = p[p[MODEL_COL] == m].set_index("target").reindex(targets)
        yy = np.arange(len(targets)) + (j - (k - 1) / 2) * (0.7 / max(k, 1))
        v = sub["y_pred_normalised"].to_numpy(dtype=float)
        lo = sub["lo_normalised"].to_numpy(dtype=float)
        hi = sub["hi_normalised"].to_numpy(dtype=float)
        err = np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])
        err = np.where(np.isfinite(err), err, 0.0)
        ax.errorbar(v, yy, xerr=err, fmt="o", ms=4, capsize=2, color=PALETTE[j % len(PALETTE)], label=_short(m))
    ax.set_yticks(range(len(targets)), [str(t) for t in targets])
    ax.invert_yaxis()
    ax.set_xlabel("predicted score, normalised (y - chance)/(ceiling - chance)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=6)
    return ax
