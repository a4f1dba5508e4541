"""Emergence part of ``scalescope demo``: the OLMo 2 ladder analysis, its backtest and the 7B MMLU MC case.

Offline only (``download=False`` resolution through the data layer); raises ``DataNotFoundError`` when the
olmo-ladder files are not available locally, so the demo skips this part and says so. Budget: < 60 s.
"""

from __future__ import annotations

from pathlib import Path

from scalescope.outputs import writes_output


@writes_output("demo emergence")
def run_demo(out_dir: Path, *, quiet: bool = True) -> None:
    """Write the emergence section (figures + section.json) into ``out_dir`` (order 30)."""
    from scalescope import data
    from scalescope.emergence.runner import run_analyze, run_backtest
    from scalescope.emergence.table import from_olmo_ladder

    frame = data.load("olmo-ladder", download=False)
    table = from_olmo_ladder(frame)
    # keep the demo inside its budget: the accuracy family + task loss + one LM loss, MMLU/ARC/HellaSwag only
    keep = table["task"].str.match(r"^(mmlu_.*_val|arc_.*_val|hellaswag_val|lm)$")
    table = table[keep].reset_index(drop=True)
    run_analyze(table, Path(out_dir), name="olmo-ladder (demo subset)", n_boot=50, quick=True)
    run_backtest(table, Path(out_dir) / "backtest", name="olmo-ladder (demo subset)")
