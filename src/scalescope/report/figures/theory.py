"""Figures of the Zipf/singleton theory (Cao et al. 2025, Fig. 4 and §3): singleton mass vs training size,
rank-frequency plots with fitted Zipf lines, and the toy generator's per-step entropy growth.

Every function draws precomputed results on ``ax`` and never fits.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalescope.report.style import MARKERS, PALETTE


def plot_singleton_mass(curves: Mapping[float, Mapping[str, np.ndarray]], ax, *, vocab: int | None = None) -> None:
    """Fig. 4 (left): expected singleton mass E[q] vs m, log-log, one colour per alpha.

    ``curves[alpha]`` has ``m``, ``exact`` (finite-v E[q]) and optionally ``asymptote`` (v = inf, dashed) and
    ``slope`` (fitted finite-v log-log slope, shown in the legend).
    """
    for i, (alpha, c) in enumerate(sorted(curves.items())):
        col = PALETTE[i % len(PALETTE)]
        lab = f"α={alpha:g}: 1/α−1={1 / alpha - 1:+.2f}"
        if c.get("slope") is not None:
            lab += f", fitted {c['slope']:+.2f}"
        ax.loglog(c["m"], c["exact"], color=col, label=lab)
        if c.get("asymptote") is not None:
            ax.loglog(c["m"], c["asymptote"], color=col, ls="--", lw=1)
    ax.set_xlabel("training tokens m")
    ax.set_ylabel("expected singleton mass E[q]")
    ax.set_title("Singleton mass" + (f" (v = {vocab:,})" if vocab else "") + "; dashed: v = ∞ asymptote")
    ax.legend()


def plot_rank_frequency(tables: Mapping[str, tuple[np.ndarray, object]], ax, *, top_k: int = 5000) -> None:
    """Fig. 4 (right): log frequency vs log rank of the top ``top_k`` types per corpus, with the OLS Zipf line.

    ``tables[name] = (frequencies sorted descending, ZipfFit from method="ols")``.
    """
    for i, (name, (freq, fit)) in enumerate(tables.items()):
        col = PALETTE[i % len(PALETTE)]
        f = np.asarray(freq[:top_k], dtype=float)
        r = np.arange(1, len(f) + 1)
        ax.loglog(r, f / f.sum(), color=col, lw=1.2, label=f"{name}: α={fit.alpha:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]")
        if getattr(fit, "intercept", None) is not None:
            ax.loglog(r, np.exp(fit.intercept) * r ** (-fit.alpha) / f.sum(), color=col, ls="--", lw=0.9)
    ax.set_xlabel("rank")
    ax.set_ylabel("relative frequency (top-k)")
    ax.set_title(f"Rank-frequency, top {top_k} types (dashed: OLS fit)")
    ax.legend()


def plot_toy_entropy(sims, ax) -> None:
    """Per-step excess entropy H_t − H_0 of the toy generator (solid: simulated; dashed: C_H (1 − (1 − E[q])^t))."""
    sim = sims[0] if isinstance(sims, list | tuple) else sims
    t = np.arange(sim.steps)
    idx = np.unique(np.linspace(0, len(sim.m) - 1, min(5, len(sim.m))).round().astype(int))
    for j, i in enumerate(idx):
        col = PALETTE[j % len(PALETTE)]
        ax.plot(t, sim.entropy_curves[i], color=col, label=f"m = {sim.m[i]:.3g}")
        ax.plot(t, sim.entropy_jump * (1 - (1 - sim.exact_singleton_mass[i]) ** t), color=col, ls="--", lw=1)
    ax.set_xlabel("generation step t")
    ax.set_ylabel("excess entropy H_t − H_0 (nats)")
    ax.set_title(f"Toy generator, α={sim.alpha:g}, v={sim.vocab:,}, C_H={sim.entropy_jump:g}")
    ax.legend()


def plot_toy_exponents(sims, ax) -> None:
    """log derail rate (markers, Monte Carlo) and exact E[q] (lines) vs log m, one colour per alpha."""
    for i, sim in enumerate(sims):
        col = PALETTE[i % len(PALETTE)]
        ax.loglog(sim.m, sim.derail_rate, MARKERS[i % len(MARKERS)], color=col, ms=5,
                  label=f"α={sim.alpha:g}: MC {sim.exponent_derail:+.3f}, exact {sim.exponent_exact:+.3f}, "
                        f"1/α−1 {sim.predicted_exponent:+.3f}")
        ax.loglog(sim.m, sim.exact_singleton_mass, color=col, lw=1)
    ax.set_xlabel("training tokens m")
    ax.set_ylabel("per-step derail probability")
    ax.set_title("Toy generator: derail rate vs m (slopes in legend)")
    ax.legend()
