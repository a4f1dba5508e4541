"""Shared matplotlib style for publication-quality figures, and a saver that never leaves half-written files.

Figure functions across scalescope take results plus an ``ax`` and draw; they never fit. They call
:func:`use_style` (via :func:`new_figure`) so every figure shares fonts, sizes and colours.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless everywhere: CLI, CI, servers
import matplotlib.pyplot as plt  # noqa: E402

from scalescope.outputs import atomic_path

# Colour-blind-safe palette (Okabe-Ito), used in order for families/runs/methods.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
TRAIN_COLOR = "#0072B2"
TEST_COLOR = "#D55E00"
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 160,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
}


def use_style() -> None:
    """Apply scalescope's rcParams (idempotent)."""
    plt.rcParams.update(_RC)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.2, **kw):
    """``plt.subplots`` with the house style; ``width``/``height`` are per panel, in inches."""
    use_style()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)
    return fig, (axes[0, 0] if nrows == ncols == 1 else axes)


def savefig(fig, path: str | Path, *, formats: tuple[str, ...] = ("png",), close: bool = True) -> Path:
    """Save ``fig`` to ``path`` (and sibling formats) atomically; returns the PNG (first) path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    first = None
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt)
        first = first or target
    if close:
        plt.close(fig)
    return first
