"""Figures of a sweep analysis (:class:`~scalescope.calibration.sweep.analysis.SweepStudy`), the paper's panels
for a whole sweep (Cao, Valiant & Liang 2025; spec §5.1):

* :func:`plot_family_panels` -- Fig. 1: one panel per family, ln EntCE vs ln x (parameters, training tokens or log
  loss), one colour per corpus/sampler, the fitted line and legend ``Y = e^a X^b`` with the exponent's CI; a family
  whose exponent is undefined shows EntCE on a linear axis with the reason (via
  :func:`~scalescope.report.figures.calibration.plot_exponent`).
* :func:`plot_tradeoff_paths` -- Fig. 3: per family, each model's path over the samplers in the (log loss, EntCE)
  plane, coloured by ln size, dashed line at EntCE = 0.

The per-step curves (Fig. 2) of each family come from
:func:`~scalescope.report.figures.calibration.render_study`. Figures take results and axes and never fit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from scalescope.report.figures.calibration import _size_colors, plot_exponent
from scalescope.report.style import MARKERS, new_figure, savefig

__all__ = ["plot_family_panels", "plot_tradeoff_paths", "render_sweep"]

_AXIS_WORDS = {"params": "parameters", "train_tokens": "training tokens", "log_loss": "log loss"}


def _split(name: str) -> tuple[str, str]:
    """``"family | corpus | sampler"`` -> (family, "corpus, sampler")."""
    parts = name.split(" | ")
    return parts[0], ", ".join(parts[1:]) or parts[0]


def plot_family_panels(fits, axes, *, axis_name: str | None = None):
    """Paper Fig. 1 for a sweep: ``axes[k]`` shows family k's fits (one series per corpus/sampler).

    Parameters
    ----------
    fits : list of ScalingExponent
        All on one x axis; ``family`` reads ``"family | corpus | sampler"`` (as :class:`SweepStudy` writes it).
    axes : sequence of matplotlib Axes
        At least one per family, in order of first appearance.
    """
    families: dict[str, list] = {}
    for f in fits:
        fam, series = _split(f.family)
        families.setdefault(fam, []).append(dataclasses.replace(f, family=series, reason=_short_reason(f)))
    for ax, (fam, fs) in zip(np.ravel(axes), families.items()):
        ok = [f for f in fs if f.status == "ok"]
        # ln EntCE exists only for the defined fits: draw those; name the others (their EntCE <= 0) on the panel.
        plot_exponent(ok or fs, ax, title=fam)
        if ok and len(ok) < len(fs):
            ax.text(0.02, 0.98, "not shown (ln EntCE undefined):\n" + "\n".join(
                f"{f.family}: {f.reason}" for f in fs if f.status != "ok"), transform=ax.transAxes, fontsize=7,
                va="top", color="#a00")
        word = _AXIS_WORDS.get(axis_name or fs[0].size_axis or "", "size")
        ax.set_xlabel(f"ln {word}")
    return axes


def _short_reason(f) -> str:
    """An undefined fit's reason without the list of run names (the tables keep the full reason)."""
    if f.status == "ok":
        return f.reason
    if "EntCE <= 0" in f.reason:
        k = sum(1 for e in f.entce if not (np.isfinite(e) and e > 0))
        return f"EntCE <= 0 for {k} of {len(f.entce)} runs"
    return f.reason


def plot_tradeoff_paths(paths, ax, *, title: str | None = None):
    """Paper Fig. 3 for a sweep: each model's (log loss, EntCE) path over the samplers, coloured by ln size."""
    colors = _size_colors(paths)
    for i, (p, c) in enumerate(zip(paths, colors)):
        x = np.array(p.log_loss, float)
        y = np.array(p.entce, float)
        yerr = np.abs(np.array([[v - ci[0], ci[1] - v] for v, ci in zip(y, p.entce_ci)], float).T)
        ax.errorbar(x, y, yerr=np.nan_to_num(yerr), fmt="-" + MARKERS[i % len(MARKERS)], color=c, capsize=2,
                    label=p.model, lw=1.0, ms=4)
        for xi, yi, s in zip(x, y, p.samplers):
            ax.annotate(s, (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6, color=c)
    ax.axhline(0, color="0.4", lw=0.8, ls="--")
    u = paths[0].units if paths else "nats"
    ax.set_xlabel(f"log loss on human text ({u}/token)")
    ax.set_ylabel(f"EntCE ({u}/token)")
    ax.legend(loc="best", fontsize=7)
    if title:
        ax.set_title(title)
    return ax


def render_sweep(sweep, out_dir: str | Path) -> list[tuple[str, str]]:
    """Save the sweep's panels into ``out_dir``; returns ``[(png path, caption), ...]``."""
    out = Path(out_dir)
    figs: list[tuple[str, str]] = []
    for axis in ("params", "train_tokens", "log_loss"):
        fits = sweep.fits_on(axis)
        if not fits:
            continue
        fams = list(dict.fromkeys(_split(f.family)[0] for f in fits))
        fig, axes = new_figure(ncols=len(fams), width=4.6, height=3.6)
        plot_family_panels(fits, [axes] if len(fams) == 1 else axes, axis_name=axis)
        p = savefig(fig, out / f"sweep_fig1_{axis}.png")
        ok = [f for f in fits if f.status == "ok"]
        figs.append((str(p), (
            f"Fig. 1 for the sweep: ln EntCE vs ln {_AXIS_WORDS[axis]}, one panel per family ({', '.join(fams)}), "
            f"one colour per corpus and sampler; lines are log-log OLS power laws, error bars "
            f"{fits[0].ci_level:.0%} bootstrap CIs over prompts. "
            + (f"{len(ok)} of {len(fits)} fits defined." if len(ok) < len(fits) else "")
            + " Where some EntCE <= 0, ln EntCE does not exist: the panel shows EntCE on a linear axis and the reason.")))
    if sweep.paths:
        fams = list(dict.fromkeys(p.family for p in sweep.paths))
        fig, axes = new_figure(ncols=len(fams), width=5.0, height=3.8)
        for ax, fam in zip(np.ravel([axes] if len(fams) == 1 else axes), fams):
            plot_tradeoff_paths([p for p in sweep.paths if p.family == fam], ax, title=fam)
        p = savefig(fig, out / "sweep_fig3_tradeoff.png")
        figs.append((str(p), "Fig. 3 for the sweep: log loss vs EntCE along each model's path over the sweep's "
                             "samplers (highest temperature first), coloured by ln size; dashed line = calibrated."))
    return figs
