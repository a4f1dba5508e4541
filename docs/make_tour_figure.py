"""Regenerate docs/tour.png (the README's figure) from a real-model run directory.

Usage: python docs/make_tour_figure.py RUN_DIR   (e.g. demo-out/real-model/runs/smollm2_pure from `scalescope demo`)
"""

from __future__ import annotations

import sys
from pathlib import Path

from scalescope.calibration.analysis import analyze_run, read_run
from scalescope.report.figures.calibration import plot_step_curves
from scalescope.report.style import new_figure, savefig


def main(run_dir: str) -> None:
    run = analyze_run(read_run(run_dir), label="SmolLM2-135M")
    fig, ax = new_figure(width=6.0, height=3.4)
    plot_step_curves([run], ax, smooth=0.2,
                     title=f"SmolLM2-135M, WikiText-2, pure sampling ({run.n_samples} prompts)")
    savefig(fig, Path(__file__).with_name("tour.png"))


if __name__ == "__main__":
    main(sys.argv[1])
