"""Figures of the calibration-methods comparison (Cao et al. 2025 Fig. 3 style trade-off; spec §4, §5.3 item 5).

Functions take a :class:`~scalescope.calibration.methods.compare.CompareResult` summary dict (as in
``summary.json``) plus an ``ax`` and only draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scalescope.report.style import MARKERS, PALETTE

_ORDER = ["base", "temperature", "temperature_slope", "top_p", "min_p", "lookahead", "future_entropy", "future_entropy_eb"]


def _style(i: int) -> tuple[str, str]:
    # Skip the palette's pale yellow (index 6): future_entropy, the method of interest, gets black.
    colours = [c for j, c in enumerate(PALETTE) if j != 6]
    return colours[i % len(colours)], MARKERS[i % len(MARKERS)]


def plot_tradeoff(summary: dict[str, Any], ax) -> None:
    """Held-out log loss (x) vs |EntCE| (y): one point per method with its CI/SE, and the temperature path."""
    path = summary.get("temperature_path") or []
    if path:
        ax.plot([p["logloss"] for p in path], [abs(p["entce"]) for p in path], "-", color="0.6", lw=1, zorder=1,
                label="temperature path")
        for p in path[:: max(1, len(path) // 5)]:
            ax.annotate(f"τ={p['tau']:.2f}", (p["logloss"], abs(p["entce"])), fontsize=6, color="0.4",
                        xytext=(2, 2), textcoords="offset points")
    methods = summary["methods"]
    for i, name in enumerate([m for m in _ORDER if m in methods] + [m for m in methods if m not in _ORDER]):
        e = methods[name]
        c, mk = _style(i)
        lo, hi = e["entce_ci"]
        y = abs(e["entce"])
        ylo, yhi = (0.0, max(abs(lo), abs(hi))) if lo <= 0 <= hi else (min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
        ax.errorbar(e["logloss"], y, xerr=e["logloss_se"], yerr=[[y - ylo], [yhi - y]], fmt=mk, color=c, ms=6,
                    capsize=2, label=name, zorder=3)
    ax.set_xlabel("held-out log loss (nats/token)")
    ax.set_ylabel("|EntCE| (nats/token)")
    ax.legend(loc="best")


def plot_step_curves(summary: dict[str, Any], ax) -> None:
    """Per-step EntCE_t = H_t − L_t of each method (exact entropies, mean over held-out passages)."""
    methods = summary["methods"]
    for i, name in enumerate([m for m in _ORDER if m in methods]):
        e = methods[name]
        c, _ = _style(i)
        ax.plot(np.arange(len(e["entce_t"])), e["entce_t"], color=c, lw=1.2, label=name)
    ax.axhline(0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("generated step t")
    ax.set_ylabel("EntCE_t = H_t − L_t (nats)")
    ax.legend(loc="best")


def plot_alphas(summary: dict[str, Any], ax) -> None:
    """The fitted per-step α_t of future-entropy scaling (α_t > 0 penalises high future entropy)."""
    fit = summary.get("fits", {}).get("future_entropy")
    if not fit:
        ax.set_axis_off()
        return
    a = np.asarray(fit["alphas"], dtype=float)
    ax.plot(np.arange(len(a)), a, "o-", ms=2.5, color=PALETTE[6 % len(PALETTE)])
    ax.axhline(0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("step t")
    ax.set_ylabel("α_t")
