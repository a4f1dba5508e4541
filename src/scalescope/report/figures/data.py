"""Figures of the data layer: where the public tables have holes (DESIGN.md "scalescope/data").

Missing cells matter downstream: the observational-scaling PCA imputes them (Ruan et al. 2024 §3, EM-PCA) and a
FLOPs cutoff sends models without FLOPs to the test split, so the inventory shows them before any fit runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from scalescope.report.style import PALETTE


def plot_missing_cells(
    table: pd.DataFrame,
    ax,
    *,
    key: str = "Model",
    sort_by: str | None = "FLOPs (1E21)",
    title: str = "Present and missing cells",
):
    """Binary heat-map of a wide table: one row per ``key`` value, one column per other column; dark = present.

    Rows are ordered by ``sort_by`` (models without it last) so that structure such as "no FLOPs" shows as a band.
    Each column label carries its count of missing cells.

    Examples
    --------
    >>> from scalescope.report.style import new_figure
    >>> fig, ax = new_figure()
    >>> _ = plot_missing_cells(pd.DataFrame({"Model": ["a", "b"], "MMLU": [0.5, None]}), ax, sort_by=None)
    """
    df = table
    if sort_by is not None and sort_by in df.columns:
        df = df.sort_values(sort_by, na_position="last", kind="stable")
    cols = [c for c in df.columns if c != key]
    present = df[cols].notna().to_numpy(dtype=float)
    cmap = ListedColormap(["#f2f2f2", PALETTE[0]])
    ax.imshow(present, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    missing = (1 - present).sum(axis=0).astype(int)
    ax.set_xticks(range(len(cols)), [f"{c} ({m})" if m else str(c) for c, m in zip(cols, missing)])
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    n = len(df)
    step = max(1, int(np.ceil(n / 12)))
    ax.set_yticks(range(0, n, step), [str(i + 1) for i in range(0, n, step)])
    order = f", ordered by {sort_by}" if sort_by is not None and sort_by in table.columns else ""
    ax.set_ylabel(f"{key} (row number{order})")
    ax.grid(False)
    n_missing = int((1 - present).sum())
    frac = n_missing / present.size if present.size else 0.0
    ax.set_title(f"{title}\n{n_missing} of {present.size} cells missing ({frac:.1%})")
    return ax
