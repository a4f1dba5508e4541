"""Figures of the real-model calibration demo (``calibration/demo_real.py``): windowed entropy vs log loss.

Paper: Cao, Valiant & Liang 2025, Fig. 2 (error accumulation) summarised over step windows, as in the table of
research/real-model.md. Figure functions take results + ``ax`` and never compute estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.report.style import TEST_COLOR, TRAIN_COLOR

__all__ = ["plot_windows"]


def plot_windows(windows: pd.DataFrame, ax, *, title: str | None = None):
    """Grouped bars per step window: entropy of generations and log loss on human text, with CI error bars.

    ``windows`` is :func:`scalescope.calibration.demo_real.window_calibration`'s frame for one run.
    """
    x = np.arange(len(windows))
    w = 0.38
    for off, (col, label, color) in zip(
        (-w / 2, w / 2),
        (("entropy", "entropy of own generations", TRAIN_COLOR), ("log_loss", "log loss on human text", TEST_COLOR)),
    ):
        v = windows[col].to_numpy(float)
        err = np.abs(np.vstack([v - windows[f"{col}_lo"].to_numpy(float), windows[f"{col}_hi"].to_numpy(float) - v]))
        ax.bar(x + off, v, width=w, color=color, alpha=0.85, label=label, yerr=np.nan_to_num(err), capsize=3)
    top = np.nanmax(windows[["entropy_hi", "log_loss_hi", "entropy", "log_loss"]].to_numpy(float), axis=1)
    for xi, e, y in zip(x, windows["entce"].to_numpy(float), top):
        ax.annotate(f"EntCE {e:+.2f}", (xi, y), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7)
    ax.set_xticks(x, [f"steps {s}" for s in windows["window"]])
    ax.set_ylabel("nats / token")
    ax.set_ylim(0, 1.3 * float(np.nanmax(top)) if np.isfinite(top).any() else None)
    ax.legend(loc="upper center", ncol=2, fontsize=7)
    if title:
        ax.set_title(title)
    return ax
