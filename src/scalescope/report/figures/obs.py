"""Figures of the observational-scaling analyses in the paper's style (spec §3), drawn from results objects.

Conventions kept from the paper: train points in one colour and test points in another, marker shape = family,
the fitted form and MSE_train/MSE_test (``%.1e``) annotated top-left, x on the reference-equivalent log10 FLOPs axis.
Fixed from upstream: compute baselines are drawn on a *true* log10 axis (upstream plotted natural logs under a
"Log10" label).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.data.obsscaling import FAMILY_COL, FLOPS_COL, MODEL_COL, SIZE_COL
from scalescope.fit.sigmoid import link_inverse
from scalescope.report.style import MARKERS, PALETTE, TEST_COLOR, TRAIN_COLOR

# every filled matplotlib marker (the house MARKERS first), so up to 15 families get distinct shapes
_FAMILY_MARKERS = list(dict.fromkeys([*MARKERS, "H", "8", "d", "o", "v", "^", "<", ">", "s", "p", "*", "h", "D", "P",
                                      "X"]))


def family_markers(families) -> dict:
    """Stable family -> marker map (order of first appearance); shapes repeat only beyond 15 families."""
    fams = pd.unique(pd.Series(list(families), dtype=str))
    return {f: _FAMILY_MARKERS[i % len(_FAMILY_MARKERS)] for i, f in enumerate(fams)}


def plot_loadings(capabilities, ax, *, n_pcs: int = 3, title: str = "Capability loadings"):
    """Heat-map of PC loadings (rows PCs, columns benchmarks), annotated with 2 decimals."""
    L = np.asarray(capabilities.loadings)[:n_pcs]
    v = np.max(np.abs(L)) or 1.0
    im = ax.imshow(L, cmap="coolwarm", vmin=-v, vmax=v, aspect="auto")
    ax.set_xticks(range(L.shape[1]), list(capabilities.metrics), rotation=45, ha="right")
    evr = capabilities.explained_variance_ratio
    ax.set_yticks(range(L.shape[0]), [f"PC-{i + 1} ({evr[i]:.1%})" for i in range(L.shape[0])])
    for i in range(L.shape[0]):
        for j in range(L.shape[1]):
            ax.text(j, i, f"{L[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.grid(False)
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return ax


def plot_metric_weights(laws: dict, ax, *, title: str = "Per-benchmark weights w_PCᵀ·loadings"):
    """Heat-map of each law's implied per-benchmark weights (rows = laws, e.g. targets), coolwarm, 2 decimals."""
    names = list(laws)
    W = np.vstack([laws[n].metric_weights().to_numpy() for n in names])
    metrics = list(laws[names[0]].metric_weights().index)
    v = np.max(np.abs(W)) or 1.0
    im = ax.imshow(W, cmap="coolwarm", vmin=-v, vmax=v, aspect="auto")
    ax.set_xticks(range(len(metrics)), metrics, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            ax.text(j, i, f"{W[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.grid(False)
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return ax


def plot_pc_vs_compute(space, ax, *, pc: int = 1, max_families: int = 14):
    """PC-``pc`` against log10 training FLOPs, one marker/colour per family, dashed per-family OLS lines."""
    fit = space.compute_fits[pc - 1]
    m = space.models
    col = f"PC-{pc}"
    fams = fit.families.sort_values("n", ascending=False).head(max_families)
    marks = family_markers(fams["family"])
    for i, (_, row) in enumerate(fams.iterrows()):
        sub = m[(m[FAMILY_COL] == row["family"]) & m[FLOPS_COL].notna()]
        x = np.log10(sub[FLOPS_COL].to_numpy(dtype=float) * 1e21)
        c = PALETTE[i % len(PALETTE)]
        ax.scatter(x, sub[col], marker=marks[row["family"]], color=c, s=22, label=row["family"], zorder=3)
        xs = np.linspace(x.min(), x.max(), 10)
        ax.plot(xs, row["slope"] * (xs - 21) + row["intercept"], "--", color=c, lw=1)
    ax.set_xlabel("log10 training FLOPs")
    ax.set_ylabel(col)
    ax.set_title(f"{col} vs compute: R²_avg = {fit.mean_r2:.3f} (pooled {fit.pooled_r2:.3f})")
    ax.legend(ncol=2, fontsize=6, loc="upper left")
    return ax


def plot_law(law, ax, *, title: str | None = None, markers: dict | None = None, ylabel: str | None = None,
             family_legend: bool = False):
    """Prediction panel: target vs equivalent compute (PC laws) or true log10 compute (baselines)."""
    p = law.predictions
    markers = markers or family_markers(p[FAMILY_COL])
    b = law.fit.floor
    if law.predictor in ("flops", "size"):
        col = FLOPS_COL if law.predictor == "flops" else SIZE_COL
        scale = 1e21 if law.predictor == "flops" else 1e9
        x = np.log10(p[col].to_numpy(dtype=float) * scale)
        xlabel = "log10 training FLOPs" if law.predictor == "flops" else "log10 parameters"

        def curve(xx):
            return link_inverse(law.fit.intercept + law.fit.weights[0] * np.log(10 ** xx / scale + 1e-9), b)
    elif "x_equiv_log10" in p.columns:
        x = p["x_equiv_log10"].to_numpy(dtype=float)
        xlabel = f"log10 {law.equivalent.reference_family}-equiv. FLOPs (1e21)"
        a, c = law.equivalent.slope, law.equivalent.intercept

        def curve(xx):
            return link_inverse(a * xx + c, b)
    else:
        x = p["z"].to_numpy(dtype=float)
        xlabel = "linear predictor z = w0 + Σ w_k PC_k"

        def curve(xx):
            return link_inverse(xx, b)

    lo, hi = np.nanmin(x), np.nanmax(x)
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    xs = np.linspace(lo - pad, hi + pad, 200)
    ax.plot(xs, curve(xs), color="0.3", lw=1.4, zorder=2)
    for split, colr in (("train", TRAIN_COLOR), ("test", TEST_COLOR)):
        for fam, mk in markers.items():
            sel = (p["split"] == split).to_numpy() & (p[FAMILY_COL] == fam).to_numpy()
            if sel.any():
                ax.scatter(x[sel], p.loc[sel, "y"], marker=mk, color=colr, s=26, alpha=0.85, zorder=3,
                           edgecolor="white", linewidth=0.4)
    ax.text(0.02, 0.98, f"{law.formula()}\nMSE_train={law.mse_train:.1e}\nMSE_test={law.mse_test:.1e}",
            transform=ax.transAxes, va="top", fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or ("Normalized accuracy" if (law.chance, law.ceiling) != (0.0, 1.0) else "Accuracy"))
    if title:
        ax.set_title(title)
    ax.scatter([], [], color=TRAIN_COLOR, label=f"Train ({law.n_train})")
    ax.scatter([], [], color=TEST_COLOR, label=f"Test ({law.n_test})")
    leg = ax.legend(loc="lower right", fontsize=7)
    if family_legend and len(markers) <= 30:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], ls="", marker=mk, color="0.45", label=f) for f, mk in markers.items()]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6, title="family",
                  title_fontsize=7)
        ax.add_artist(leg)
    return ax


def plot_multi_law(laws: dict, ax, *, title: str | None = None):
    """Several targets on one equivalent-compute axis (paper's multi-method plot, spec §2.5): colour = target,
    o = train, X = test, fitted form in the legend. Compare slopes and crossovers, not single panels."""
    for i, (label, law) in enumerate(laws.items()):
        p = law.predictions
        if "x_equiv_log10" not in p.columns:
            continue
        c = PALETTE[i % len(PALETTE)]
        x = p["x_equiv_log10"].to_numpy(dtype=float)
        for split, mk in (("train", "o"), ("test", "X")):
            sel = (p["split"] == split).to_numpy()
            ax.scatter(x[sel], p.loc[sel, "y"], marker=mk, color=c, s=18, alpha=0.75, zorder=3)
        lo, hi = np.nanmin(x), np.nanmax(x)
        xs = np.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), 200)
        a, cc = law.equivalent.slope, law.equivalent.intercept
        ax.plot(xs, link_inverse(a * xs + cc, law.fit.floor), color=c, lw=1.6,
                label=f"{label}: {law.formula().removeprefix('y = ')}")
    ref = next(iter(laws.values())).equivalent
    ax.set_xlabel(f"log10 {ref.reference_family if ref else 'reference'}-equiv. FLOPs (1e21)")
    ax.set_ylabel("Accuracy")
    ax.scatter([], [], marker="o", color="0.4", label="train")
    ax.scatter([], [], marker="X", color="0.4", label="test")
    ax.legend(fontsize=6, loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def plot_aue(aue_result, ax, *, title: str | None = None):
    """Test MSE vs held-out fraction q (x reversed 0.6 -> 0.05, log y), one line per predictor with its AUE."""
    for i, (name, g) in enumerate(aue_result.curves.groupby("predictor", sort=False)):
        ax.plot(g["q"], g["mse_test"], marker="o", ms=2.5, color=PALETTE[i % len(PALETTE)],
                label=f"{name} (AUE {aue_result.aue[name]:.2e})")
    ax.set_xlim(0.62, 0.03)
    ax.set_yscale("log")
    ax.set_xlabel("Test set ratio q")
    ax.set_ylabel("Test MSE")
    ax.set_title(title or aue_result.target)
    ax.legend(fontsize=6)
    return ax


def plot_selection(sel_eval, ax):
    """Geometric-mean test MSE vs number of selected models: V-optimal, random (mean ± geometric sd), all models."""
    t = sel_eval.table
    ax.plot(t["n_models"], t["gmean_mse"], marker="o", color=PALETTE[0], label="V-optimal selection")
    if "random_gmean_mse_all" in t:
        ns, mean, lo, hi = [], [], [], []
        for _, r in t.iterrows():
            v = np.asarray(r["random_gmean_mse_all"], dtype=float)
            if len(v):
                lv = np.log(v)
                ns.append(r["budget"])
                mean.append(np.exp(lv.mean()))
                lo.append(np.exp(lv.mean() - lv.std()))
                hi.append(np.exp(lv.mean() + lv.std()))
        if ns:
            ax.plot(ns, mean, marker="s", color=PALETTE[1], label="Random subsets")
            ax.fill_between(ns, lo, hi, color=PALETTE[1], alpha=0.2)
    ax.axhline(sel_eval.all_models_gmean_mse, ls="--", color="0.3", label="All training models")
    ax.set_yscale("log")
    ax.set_xlabel("Number of selected models")
    ax.set_ylabel("Geometric-mean test MSE")
    ax.legend(fontsize=7)
    return ax


def plot_selection_objective(selection, ax):
    """V-optimal objective ``J`` of the best subset per budget (for ``obs select`` without an evaluation)."""
    t = selection.table
    ax.plot(t["budget"], -t["objective"], marker="o", color=PALETTE[0])
    ax.set_yscale("log")
    ax.set_xlabel("Budget (models)")
    ax.set_ylabel("-J = tr(XᵀX (X_SᵀX_S)⁻¹)")
    return ax


__all__ = ["MODEL_COL", "family_markers", "plot_aue", "plot_law", "plot_loadings", "plot_metric_weights",
           "plot_multi_law", "plot_pc_vs_compute",
           "plot_selection", "plot_selection_objective"]
