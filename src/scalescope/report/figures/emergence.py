"""Figures of the emergence analyses (one function per figure; each takes results + ``ax`` and never fits)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.report.style import MARKERS, PALETTE

LABEL_COLORS = {"breakthrough": PALETTE[1], "predictable": PALETTE[0], "noisy-monotone": PALETTE[5],
                "trendless": "#999999", "unresolved": "#cccccc", "inverse": PALETTE[3], "non-monotone": PALETTE[4]}


def plot_overview(stats: pd.DataFrame, ax) -> None:
    """Jump share J vs monotonicity per curve, coloured by trend label (metric choice stats frame)."""
    for i, (lab, g) in enumerate(stats.groupby("label")):
        ax.scatter(g["J"], g["r2_loglinear"], s=18, color=LABEL_COLORS.get(lab, PALETTE[i % 8]),
                   marker=MARKERS[i % len(MARKERS)], label=f"{lab} ({len(g)})")
    ax.axvline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xlabel("jump share J (largest step / range)")
    ax.set_ylabel("R$^2$ of line in log10 FLOPs")
    ax.legend(loc="lower left")


def plot_curves(points: list[tuple[str, np.ndarray, np.ndarray]], ax, *, xlabel: str = "training FLOPs",
                logx: bool = True, chance: float | None = None) -> None:
    """Several (label, x, y) curves on one axis."""
    for i, (lab, x, y) in enumerate(points):
        ax.plot(x, y, marker=MARKERS[i % len(MARKERS)], ms=3, color=PALETTE[i % len(PALETTE)], label=lab)
    if chance is not None and np.isfinite(chance):
        ax.axhline(chance, color="k", lw=0.8, ls=":", label="chance")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.legend()


def plot_mc_case(case, ax) -> None:
    """OLMo 2 7B MMLU: MC-letter and cloze accuracy (left axis) and bits per byte (right axis) vs step."""
    S = case.series[case.series["step"] > 0]
    ax.plot(S["step"], S["mc_acc"], color=PALETTE[1], label="MC-letter accuracy")
    ax.plot(S["step"], S["cloze_acc"], color=PALETTE[0], label="cloze accuracy")
    ax.axhline(0.25, color="k", lw=0.8, ls=":", label="chance")
    ax.axvspan(case.jump["from_step"], case.jump["to_step"], color=PALETTE[4], alpha=0.3)
    ax.set_xscale("log")
    ax.set_xlabel("training step (OLMo 2 7B)")
    ax.set_ylabel("MMLU accuracy (mean of 4 val splits)")
    ax2 = ax.twinx()
    ax2.plot(S["step"], S["bpb"], color=PALETTE[2], ls="--", label="bits per byte")
    ax2.set_ylabel("bits per byte (lower is better)")
    ax2.grid(False)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)


def plot_leaderboard(board: pd.DataFrame, ax) -> None:
    """Mean absolute error per backtest method with its bootstrap CI over curves."""
    b = board.sort_values("mean_mae")
    y = np.arange(len(b))
    ax.barh(y, b["mean_mae"], color=[PALETTE[i % 8] for i in range(len(b))])
    ax.errorbar(b["mean_mae"], y, xerr=[b["mean_mae"] - b["ci_low"], b["ci_high"] - b["mean_mae"]], fmt="none",
                ecolor="k", capsize=3)
    ax.set_yticks(y, [f"{m} (n={n})" for m, n in zip(b["method"], b["n_curves"])])
    ax.invert_yaxis()
    ax.set_xlabel("mean |predicted - actual| on held-out models")


def plot_pred_vs_actual(pred: pd.DataFrame, ax) -> None:
    """Held-out predictions vs measurements, one marker per method."""
    for i, (m, g) in enumerate(pred.groupby("method")):
        ax.scatter(g["actual"], g["predicted"], s=14, color=PALETTE[i % 8], marker=MARKERS[i % len(MARKERS)], label=m)
    lo = float(np.nanmin(pred[["actual", "predicted"]].to_numpy())) if len(pred) else 0
    hi = float(np.nanmax(pred[["actual", "predicted"]].to_numpy())) if len(pred) else 1
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
    ax.set_xlabel("measured (held-out model)")
    ax.set_ylabel("predicted from smaller models")
    ax.legend()


def plot_metric_choice(verdicts: pd.DataFrame, ax) -> None:
    """Jump share under the hard vs the soft metric of the same predictions, per task."""
    for i, (v, g) in enumerate(verdicts.groupby("verdict")):
        ax.scatter(g["J_hard"], g["J_soft"], s=20, color=PALETTE[i % 8], marker=MARKERS[i % len(MARKERS)], label=v)
    ax.plot([0, 1], [0, 1], color="k", lw=0.8)
    ax.set_xlabel("J, hard metric")
    ax.set_ylabel("J, soft metric / task loss")
    ax.legend()


def plot_subsample(density, ax) -> None:
    """Share of random k-point subsamples of dense checkpoint curves flagged J >= 0.5 (Test C2)."""
    S = density.subsample
    ax.plot(S["k"], S["share_flagged"], marker="o", color=PALETTE[1])
    ax.set_xlabel("points per curve (k)")
    ax.set_ylabel("share flagged 'jump' (J >= 0.5)")
    ax.set_ylim(0, 1)


def plot_cot(cot, ax, task: str | None = None) -> None:
    """CoT minus direct exact match per model vs x for one BBH task (the one with the largest hinge dBIC)."""
    if task is None and len(cot.crossings):
        task = cot.crossings.sort_values("delta_bic").iloc[-1]["task"]
    g = cot.points[cot.points["task"] == task]
    ax.scatter(g["x"], g["delta"], s=12, color=PALETTE[0])
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("log10 training FLOPs" if cot.x_axis == "log10_flops" else "capability PC1")
    ax.set_ylabel(f"CoT - direct ({task})")


def plot_verdict_rates(rates: pd.DataFrame, ax) -> None:
    """False-positive rate vs power of each verdict, one marker per curve design (verdict_error_rates.csv rows).

    ``rates`` has columns ``verdict``, ``fpr``, ``power``; the dotted line is the 5 % false-positive target.
    """
    r = rates.dropna(subset=["fpr", "power"])
    for i, (v, g) in enumerate(r.groupby("verdict")):
        ax.scatter(g["fpr"], g["power"], s=16, color=PALETTE[i % 8], marker=MARKERS[i % len(MARKERS)],
                   label=f"{v} ({len(g)})", alpha=0.7)
    ax.axvline(0.05, color="k", lw=0.8, ls=":")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("simulated false-positive rate (worst null shape)")
    ax.set_ylabel("simulated power")
    ax.legend(loc="lower right")


def plot_two_lines(shapes: pd.DataFrame, ax) -> None:
    """Two-lines test: the z of the slope below vs above the breakpoint per curve, coloured by shape; the box
    beyond +-crit with opposite signs is a U / inverted U (Simonsohn 2018)."""
    for i, (s, g) in enumerate(shapes.groupby("shape")):
        ax.scatter(g["z1"].clip(-15, 15), g["z2"].clip(-15, 15), s=14, color=PALETTE[i % 8],
                   marker=MARKERS[i % len(MARKERS)], label=f"{s} ({len(g)})")
    c = float(np.nanmedian(shapes["crit"].replace(np.inf, np.nan))) if len(shapes) else 1.96
    for v in (-c, c):
        ax.axvline(v, color="k", lw=0.6, ls=":")
        ax.axhline(v, color="k", lw=0.6, ls=":")
    ax.set_xlabel("z of slope 1 (below breakpoint)")
    ax.set_ylabel("z of slope 2 (above breakpoint)")
    ax.legend(loc="best")


def plot_predictable_2se(frame: pd.DataFrame, ax) -> None:
    """§3.6 rule: R^2 of the line vs the largest held-out |error| in measurement SEs, per curve labelled
    predictable; predictable within 2 SE below the dotted line."""
    f = frame.dropna(subset=["max_error_over_se"])
    ok = f["predictable_2se"].astype(bool)
    ax.scatter(f.loc[ok, "r2_loglinear"], f.loc[ok, "max_error_over_se"], s=16, color=PALETTE[0],
               label=f"within 2 SE ({int(ok.sum())})")
    ax.scatter(f.loc[~ok, "r2_loglinear"], f.loc[~ok, "max_error_over_se"], s=16, color=PALETTE[1], marker="s",
               label=f"outside ({int((~ok).sum())})")
    ax.axhline(2, color="k", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("R$^2$ of line in log compute")
    ax.set_ylabel("max held-out |error| / SE")
    ax.legend()


def plot_per_token(result, ax) -> None:
    """Test A2: measured accuracy vs per-token probability, with ``p_tok^l`` fitted on the small models (line) and
    the held-out models (filled squares)."""
    for i, (cv, g) in enumerate(result.points.groupby("curve")):
        col = PALETTE[i % 8]
        g = g.sort_values("p_tok")
        ax.plot(g["p_tok"], g["predicted"], color=col, lw=1, label=cv)
        tr, te = g[~g["held_out"]], g[g["held_out"]]
        ax.scatter(tr["p_tok"], tr["value"], s=12, color=col, marker="o", facecolors="none")
        ax.scatter(te["p_tok"], te["value"], s=18, color=col, marker="s")
    ax.set_xlabel("per-token probability of the target")
    ax.set_ylabel("exact-match accuracy")
    ax.legend(loc="upper left")
