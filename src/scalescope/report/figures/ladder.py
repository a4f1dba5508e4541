"""Figures of the model-ladder reproduction (Bhagia et al. 2024, arXiv:2412.04403, Figure 1 and the variance
analysis). One function per figure; each takes a :class:`scalescope.emergence.ladder.LadderResult` + ``ax`` and never
fits (curves are evaluated by the library and stored in the result)."""

from __future__ import annotations

import numpy as np

from scalescope.report.style import MARKERS, PALETTE

_TARGET_COLORS = {"7B": PALETTE[3], "13B": PALETTE[1]}


def _size_colors(result) -> dict[str, str]:
    sizes = list(result.config.sizes)
    out = {s: PALETTE[[0, 2, 4, 5, 6, 7][i % 6]] for i, s in enumerate(sizes)}
    out.update(_TARGET_COLORS)
    return out


def _mult_marker(result, m: float) -> str:
    mults = list(result.config.multipliers)
    return MARKERS[mults.index(m) % len(MARKERS)] if m in mults else "o"


def _targets(result, task):
    return result.predictions[result.predictions["task"] == task]


def plot_step1(result, task: str, ax) -> None:
    """Step 1: task loss vs tokens D; ladder runs (colour = size, marker = token multiplier), the fitted
    ``L(N, D)`` per size, and the targets' measured (o) and predicted (x, with the bootstrap interval) loss."""
    col = _size_colors(result)
    pts = result.ladder_points[result.ladder_points["task"] == task]
    cur = result.curves[result.curves["task"] == task]
    for size, c in cur.groupby("size", sort=False):
        ax.plot(c["d"], c["loss"], ls="--", lw=1.0, color=col.get(size, "k"), alpha=0.7)
    for r in pts.itertuples():
        ax.scatter(r.d, r.loss, color=col.get(r.size, "k"), marker=_mult_marker(result, r.multiplier), s=22,
                   zorder=3)
    for r in _targets(result, task).itertuples():
        c = col.get(r.target.split("-")[0], "k")
        ax.scatter(r.d, r.actual_loss, color=c, marker="o", s=26, zorder=4, label=f"{r.target} measured")
        yerr = None
        if np.isfinite(r.loss_ci_low):
            yerr = [[max(r.pred_loss - r.loss_ci_low, 0)], [max(r.loss_ci_high - r.pred_loss, 0)]]
        ax.errorbar(r.d, r.pred_loss, yerr=yerr, color=c, marker="x", ms=7, ls="none", zorder=4,
                    label=f"{r.target} predicted ({100 * r.loss_rel_error:+.1f}%)")
    ax.set_xscale("log")
    ax.set_xlabel("training tokens D")
    ax.set_ylabel("task loss (bits per byte)")
    ax.set_title(f"{_display(result, task)}: step 1")
    ax.legend(loc="upper right")


def plot_step2(result, task: str, ax) -> None:
    """Step 2: accuracy vs task loss over the ladder's checkpoints (after the first 10 %, 5-point moving average),
    the fitted sigmoid, and the targets at their measured (o) and predicted (x) loss."""
    col = _size_colors(result)
    s2 = result.step2_data[result.step2_data["task"] == task]
    size = s2["run"].str.split("-").str[0]
    for sz, g in s2.groupby(size, sort=False):
        ax.scatter(g["loss"], g["acc"], s=5, alpha=0.35, color=col.get(sz, "k"), edgecolors="none", label=sz)
    cur = result.curves[result.curves["task"] == task].sort_values("loss")
    lo = min(float(s2["loss"].min()), float(_targets(result, task)["pred_loss"].min())) * 0.95
    cur = cur[cur["loss"] >= lo]
    ax.plot(cur["loss"], cur["acc"], color="k", ls="--", lw=1.2, label="fitted sigmoid")
    for r in _targets(result, task).itertuples():
        c = col.get(r.target.split("-")[0], "k")
        ax.scatter(r.actual_loss, r.actual_acc, color=c, marker="o", s=26, zorder=4, label=f"{r.target} measured")
        ax.scatter(r.pred_loss, r.pred_acc, color=c, marker="x", s=40, zorder=4, label=f"{r.target} predicted")
    ax.invert_xaxis()
    ax.set_xlabel("task loss (bits per byte; lower is better)")
    ax.set_ylabel("accuracy (ranked classification)")
    ax.set_title(f"{_display(result, task)}: step 2")
    ax.legend(loc="lower right", markerscale=2)


def plot_chained(result, task: str, ax) -> None:
    """Figure 1 (chained): accuracy vs tokens D; ladder runs' final accuracy, the chained ``Acc(L(N, D))`` per
    size, and each target's measured accuracy (o) beside its prediction (x) with the bootstrap interval."""
    col = _size_colors(result)
    pts = result.ladder_points[result.ladder_points["task"] == task]
    cur = result.curves[result.curves["task"] == task]
    for size, c in cur.groupby("size", sort=False):
        ax.plot(c["d"], c["acc"], ls="--", lw=1.0, color=col.get(size, "k"), alpha=0.7, label=size)
    for r in pts.itertuples():
        ax.scatter(r.d, r.acc, color=col.get(r.size, "k"), marker=_mult_marker(result, r.multiplier), s=22,
                   zorder=3)
    for r in _targets(result, task).itertuples():
        c = col.get(r.target.split("-")[0], "k")
        ax.scatter(r.d, r.actual_acc, color=c, marker="o", s=28, zorder=4)
        yerr = None
        if np.isfinite(r.acc_ci_low):
            yerr = [[max(r.pred_acc - r.acc_ci_low, 0)], [max(r.acc_ci_high - r.pred_acc, 0)]]
        ax.errorbar(r.d, r.pred_acc, yerr=yerr, color=c, marker="x", ms=7, ls="none", zorder=4)
        ax.annotate(f"{r.target}: {100 * (r.pred_acc - r.actual_acc):+.1f} pts", (r.d, r.pred_acc),
                    textcoords="offset points", xytext=(-70, 8 if r.pred_acc >= r.actual_acc else -12),
                    fontsize=8, color=c)
    ax.set_xscale("log")
    ax.set_xlabel("training tokens D")
    ax.set_ylabel("accuracy (ranked classification)")
    ax.set_title(f"{_display(result, task)}: chained (N, D) -> accuracy")
    ax.legend(loc="lower right", title="size")


def plot_variance_vs_error(result, ax) -> None:
    """The paper's predictability diagnostic: accuracy relative SD over the last checkpoints of one ladder run vs
    the mean absolute prediction error of the targets, one point per task."""
    v = result.variance
    ax.scatter(100 * v["acc_rel_sd"], 100 * v["mean_abs_error"], color=PALETTE[0], s=24)
    for r in v.itertuples():
        ax.annotate(_display(result, r.task), (100 * r.acc_rel_sd, 100 * r.mean_abs_error),
                    textcoords="offset points", xytext=(4, 3), fontsize=8)
    ax.axhline(2.0, color="k", lw=0.8, ls=":", label="2 points")
    ax.set_xlabel(f"accuracy relative SD, last {result.config.variance_last_n} checkpoints of "
                  f"{result.config.variance_run} (%)")
    ax.set_ylabel("mean |error| of 7B and 13B (points)")
    ax.set_title(f"variance vs error (Spearman {result.variance_error_spearman:.2f})")
    ax.legend(loc="upper left")


def _display(result, task: str) -> str:
    d = result.predictions.loc[result.predictions["task"] == task, "display"]
    return str(d.iloc[0]) if len(d) else task
