"""Figures of the entropy-calibration analysis (Cao, Valiant & Liang 2025; spec §5.1 and §5.2).

* :func:`plot_exponent` -- paper Fig. 1: ln EntCE vs ln size with the fitted OLS line and legend ``Y = e^a X^b``.
* :func:`plot_step_curves` -- paper Fig. 2: per-step entropy of generations (solid) and log loss on human text
  (dashed) with ±1 SE bands, coloured by ln size (plasma truncated at 0.9, as in the paper's code).
* :func:`plot_tradeoff` -- paper Fig. 3: log loss vs EntCE along a temperature path, dashed line at EntCE = 0.
* :func:`plot_sample_traces` -- v0 Fig. 2: per-sample entropy traces, derailed samples highlighted.
* :func:`plot_survivors`, :func:`plot_entce_steps` -- samples alive per step; EntCE_t with its OLS slope.

Every function takes results objects from :mod:`scalescope.calibration.analysis` plus an ``ax`` and never fits
(the OLS line of :func:`plot_entce_steps` redraws the slope already in the result). :func:`render_study` saves the
standard set for a :class:`~scalescope.calibration.analysis.CalibrationStudy`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np

from scalescope.report.style import MARKERS, PALETTE, new_figure, savefig


def _as_list(x):
    return list(x) if isinstance(x, list | tuple) else [x]


def _size_colors(runs) -> list:
    """Colour by ln(size) on plasma truncated at 0.9 (paper Fig. 2); palette order when sizes are missing."""
    sizes = [r.size for r in runs]
    if any(s is None or not s > 0 for s in sizes) or len(set(sizes)) < 2:
        return [PALETTE[i % len(PALETTE)] for i in range(len(runs))]
    ls = np.log(np.array(sizes, float))
    z = (ls - ls.min()) / (ls.max() - ls.min())
    cmap = mpl.colormaps["plasma"]
    return [cmap(0.9 * v) for v in z]


def _ema(y: np.ndarray, alpha: float | None) -> np.ndarray:
    """Exponential smoothing (paper: α = 0.2), NaN-aware; None = no smoothing."""
    if not alpha:
        return y
    out = np.empty_like(y, dtype=float)
    acc = math.nan
    for i, v in enumerate(y):
        if np.isfinite(v):
            acc = v if not np.isfinite(acc) else alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


def plot_exponent(fits, ax, *, title: str | None = None):
    """Paper Fig. 1: ln EntCE vs ln size, one colour per family, OLS line, legend ``Y = e^a X^b``.

    When no family has a defined exponent (some EntCE <= 0, so ln EntCE does not exist) the panel shows EntCE
    itself on a linear axis against ln size, with a dashed line at 0 and the reason written on the panel.
    """
    fits = _as_list(fits)
    linear = not any(f.status == "ok" for f in fits)
    notes = []
    for i, f in enumerate(fits):
        color = PALETTE[i % len(PALETTE)]
        x = np.log(np.array(f.sizes, float))
        e = np.array(f.entce, float)
        lo = np.array([c[0] for c in f.entce_ci], float)
        hi = np.array([c[1] for c in f.entce_ci], float)
        if linear:
            y, pos = e, np.isfinite(e)
            err = np.vstack([np.nan_to_num(e - lo), np.nan_to_num(hi - e)])
        else:
            pos = e > 0
            y = np.where(pos, np.log(np.where(pos, e, 1.0)), np.nan)
            with np.errstate(invalid="ignore", divide="ignore"):
                ylo = np.where(lo > 0, y - np.log(np.where(lo > 0, lo, 1.0)), np.nan)
                yhi = np.where(hi > 0, np.log(np.where(hi > 0, hi, 1.0)) - y, np.nan)
            err = np.vstack([np.nan_to_num(ylo), np.nan_to_num(yhi)])
        label = f.family
        if f.status == "ok":
            label = f"{f.family}: $Y = e^{{{f.intercept:.2f}}} X^{{{f.exponent:.3f}}}$"
            if math.isfinite(f.exponent_ci[0]):
                label += f"\n  b CI [{f.exponent_ci[0]:.3f}, {f.exponent_ci[1]:.3f}]"
        ax.errorbar(x[pos], y[pos], yerr=np.abs(err[:, pos]), fmt=MARKERS[i % len(MARKERS)], color=color,
                    capsize=2, label=label, ls="-" if linear else "none", lw=0.8)
        if f.status == "ok":
            xx = np.linspace(x.min(), x.max(), 50)
            ax.plot(xx, f.intercept + f.exponent * xx, color=color, lw=1.2)
        else:
            notes.append(f"{f.family}: {f.reason}")
    axis = fits[0].size_axis if fits else None
    ax.set_xlabel(f"ln {'training tokens' if axis == 'train_tokens' else 'parameters' if axis == 'params' else 'size'}")
    if linear:
        ax.axhline(0, color="0.4", lw=0.8, ls="--")
        ax.set_ylabel(f"EntCE ({fits[0].units if fits else 'nats'}/token)")
    else:
        ax.set_ylabel("ln EntCE (entropy − log loss)")
    if notes:
        import textwrap

        ax.text(0.02, 0.02, "\n".join(textwrap.fill(n, 70) for n in notes), transform=ax.transAxes, fontsize=7,
                va="bottom", color="#a00")
    ax.legend(loc="best")
    if title:
        ax.set_title(title)
    return ax


def plot_step_curves(runs, ax, *, smooth: float | None = None, bands: bool = True, title: str | None = None):
    """Paper Fig. 2: per-step entropy (solid) and human log loss (dashed) with ±1 SE bands."""
    runs = _as_list(runs)
    colors = _size_colors(runs)
    for r, c in zip(runs, colors):
        cv = r.curves
        t = cv["step"].to_numpy()
        h = _ema(cv["entropy"].to_numpy(float), smooth)
        lo = _ema(cv["log_loss"].to_numpy(float), smooth)
        ax.plot(t, h, color=c, lw=1.4, label=f"{r.label}")
        ax.plot(t, lo, color=c, lw=1.2, ls="--")
        if bands:
            hs = cv["entropy_se"].to_numpy(float)
            ls_ = cv["log_loss_se"].to_numpy(float)
            ax.fill_between(t, h - hs, h + hs, color=c, alpha=0.18, lw=0)
            ax.fill_between(t, lo - ls_, lo + ls_, color=c, alpha=0.10, lw=0)
    u = runs[0].units if runs else "nats"
    ax.set_xlabel("generation step t")
    ax.set_ylabel(f"{u} / token")
    ax.plot([], [], color="0.3", lw=1.4, label="entropy of generations")
    ax.plot([], [], color="0.3", lw=1.2, ls="--", label="log loss on human text")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title)
    return ax


def plot_entce_steps(runs, ax, *, smooth: float | None = 0.2, title: str | None = None):
    """EntCE_t = H̄_t − L̄_t per step with the run's OLS slope (through the mean point), dashed line at 0."""
    runs = _as_list(runs)
    colors = _size_colors(runs)
    for r, c in zip(runs, colors):
        cv = r.curves
        t = cv["step"].to_numpy(float)
        e = cv["entce"].to_numpy(float)
        ax.plot(t, _ema(e, smooth), color=c, lw=1.2, label=f"{r.label} ({r.slope_per_1000:+.2f}/1000 steps)")
        ok = np.isfinite(e)
        if ok.sum() >= 2 and math.isfinite(r.slope_per_1000):
            tm, em = t[ok].mean(), e[ok].mean()
            ax.plot(t[ok], em + r.slope_per_1000 / 1000 * (t[ok] - tm), color=c, lw=0.8, ls=":")
    ax.axhline(0, color="0.4", lw=0.8, ls="--")
    ax.set_xlabel("generation step t")
    ax.set_ylabel(f"EntCE_t ({runs[0].units if runs else 'nats'} / token)")
    ax.legend(loc="best")
    if title:
        ax.set_title(title)
    return ax


def plot_tradeoff(sweeps, ax, *, title: str | None = None):
    """Paper Fig. 3: log loss (x) vs EntCE (y) along each temperature path, τ labels, dashed line at 0."""
    sweeps = _as_list(sweeps)
    for i, s in enumerate(sweeps):
        color = PALETTE[i % len(PALETTE)]
        x = np.array(s.log_loss, float)
        y = np.array(s.entce, float)
        yerr = np.array([[v - c[0], c[1] - v] for v, c in zip(y, s.entce_ci)], float).T
        lab = s.family
        if s.status == "ok":
            lab += f" (EntCE=0 at τ={s.tau_zero:.3f})"
        ax.errorbar(x, y, yerr=np.nan_to_num(np.abs(yerr)), fmt="-" + MARKERS[i % len(MARKERS)], color=color,
                    capsize=2, label=lab)
        for xi, yi, t in zip(x, y, s.temperatures):
            ax.annotate(f"τ={t:g}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7, color=color)
    ax.axhline(0, color="0.4", lw=0.8, ls="--")
    u = sweeps[0].units if sweeps else "nats"
    ax.set_xlabel(f"log loss on human text ({u}/token)")
    ax.set_ylabel(f"EntCE ({u}/token)")
    ax.legend(loc="best")
    if title:
        ax.set_title(title)
    return ax


def plot_sample_traces(run, ax, *, smooth: float | None = 0.2, title: str | None = None):
    """v0 Fig. 2: entropy of individual generations per step; derailed samples in colour, others grey."""
    tr = run.traces
    for _sid, g in tr.groupby("sample_id", sort=True):
        d = bool(g["derailed"].iloc[0])
        ax.plot(g["step"], _ema(g["entropy"].to_numpy(float), smooth), lw=1.0 if d else 0.6,
                color=PALETTE[1] if d else "0.6", alpha=0.9 if d else 0.6)
    ax.plot(run.curves["step"], run.curves["log_loss"], color="k", ls="--", lw=1.2, label="mean human log loss")
    ax.plot([], [], color=PALETTE[1], label=f"derailed ({run.n_derailed} of {run.n_derail_eligible} eligible samples)")
    ax.plot([], [], color="0.6", label="other samples")
    ax.set_xlabel("generation step t")
    ax.set_ylabel(f"entropy ({run.units} / token)")
    ax.legend(loc="best")
    ax.set_title(title or f"{run.label}: per-sample entropy")
    return ax


def plot_survivors(runs, ax, *, title: str | None = None):
    """Samples still alive (no EOS yet) per step: the denominators of the per-step entropy means."""
    runs = _as_list(runs)
    for r, c in zip(runs, _size_colors(runs)):
        ax.step(r.curves["step"], r.curves["survivors"], where="post", color=c, label=r.label)
    ax.set_xlabel("generation step t")
    ax.set_ylabel("samples alive")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    if title:
        ax.set_title(title)
    return ax


def render_study(study, out_dir: str | Path, *, smooth: float | None = 0.2) -> list[tuple[str, str]]:
    """Save the standard figures of a study into ``out_dir``; returns ``[(png path, caption), ...]``."""
    out = Path(out_dir)
    figs: list[tuple[str, str]] = []
    u = study.units

    def save(fig, name, caption):
        p = savefig(fig, out / name)
        figs.append((str(p), caption))

    for k, fit in enumerate(study.exponents):
        fig, ax = new_figure(width=5.5, height=3.8)
        plot_exponent(fit, ax, title="EntCE scaling")
        save(fig, f"fig1_exponent_{k}.png",
             (f"Fig. 1 style: ln EntCE vs ln {fit.size_axis} for {fit.family} ({fit.n_runs} runs); OLS line and "
              f"legend Y = e^a X^b; error bars = {fit.ci_level:.0%} bootstrap CIs over prompts. "
              f"Exponent {fit.exponent:+.3f} [{fit.exponent_ci[0]:+.3f}, {fit.exponent_ci[1]:+.3f}]."
              if fit.status == "ok" else
              f"EntCE (linear scale; ln EntCE does not exist) vs ln {fit.size_axis} for {fit.family} "
              f"({fit.n_runs} runs), error bars = {fit.ci_level:.0%} bootstrap CIs over prompts: {fit.reason}."))
    groups = _curve_groups(study)
    for k, (name, runs) in enumerate(groups):
        fig, ax = new_figure(width=6.0, height=3.8)
        plot_step_curves(runs, ax, smooth=smooth, title=name)
        save(fig, f"fig2_step_curves_{k}.png",
             f"Fig. 2 style: per-step entropy of generations (solid) and log loss on human text (dashed), "
             f"{u}/token, ±1 SE bands (sd/sqrt(samples alive))"
             + (f", exponential smoothing α={smooth:g} as in the paper" if smooth else "") + f"; {name}.")
        fig, ax = new_figure(width=6.0, height=3.6)
        plot_entce_steps(runs, ax, title=name)
        save(fig, f"entce_steps_{k}.png",
             f"EntCE_t = entropy − log loss per step (EMA α=0.2) with each run's OLS slope (dotted); {name}.")
        fig, ax = new_figure(width=5.0, height=3.0)
        plot_survivors(runs, ax, title=name)
        save(fig, f"survivors_{k}.png", f"Samples alive (before EOS) per step; {name}.")
    for k, sw in enumerate(study.sweeps):
        fig, ax = new_figure(width=5.2, height=3.8)
        plot_tradeoff(sw, ax, title="Temperature trade-off")
        save(fig, f"fig3_tradeoff_{k}.png",
             f"Fig. 3 style: log loss vs EntCE along the temperature path of {sw.family}; dashed line = calibrated. "
             + (f"EntCE = 0 at τ = {sw.tau_zero:.3f} [{sw.tau_zero_ci[0]:.3f}, {sw.tau_zero_ci[1]:.3f}]."
                if sw.status == "ok" else sw.reason))
    # traces: the run with the most derailed samples (ties: the first)
    if study.runs:
        r = max(study.runs, key=lambda r: (r.derail_fraction if math.isfinite(r.derail_fraction) else -1))
        fig, ax = new_figure(width=6.0, height=3.6)
        plot_sample_traces(r, ax)
        save(fig, "sample_traces.png",
             f"Per-sample entropy traces of {r.label} (first {r.traces['sample_id'].nunique()} samples, EMA α=0.2); "
             f"derailed = {r.derail_rule}.")
    return figs


def _curve_groups(study) -> list[tuple[str, Sequence]]:
    """Panels of Fig. 2: each size family, each temperature sweep, then the remaining runs together."""
    groups = []
    used: set[str] = set()
    for f in study.exponents:
        runs = [r for r in study.runs if r.label in f.labels]
        groups.append((f"{f.family} ({f.size_axis})", runs))
        used.update(f.labels)
    for s in study.sweeps:
        runs = [r for r in study.runs if r.label in s.labels]
        groups.append((f"{s.family}: temperature sweep", runs))
        used.update(s.labels)
    rest = [r for r in study.runs if r.label not in used]
    if rest:
        groups.append(("runs", rest))
    return groups
