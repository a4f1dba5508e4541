"""Demo part "Data inventory": which public datasets resolve offline, their shapes, and where tables have holes.

Called by ``scalescope demo`` (DESIGN.md CLI contract) as ``run_demo(out_dir, quiet=True)``. It never downloads:
every dataset is loaded with ``download=False`` and one that does not resolve locally is listed as missing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from scalescope.errors import DataNotFoundError
from scalescope.outputs import write_csv, writes_output


def inventory(*, download: bool = False, quiet: bool = True) -> pd.DataFrame:
    """One row per dataset: name, rows, cols, files, where found (data_dir / cache / missing), load seconds."""
    from tqdm.auto import tqdm

    from scalescope.data import DATASETS, load
    from scalescope.data import registry as reg

    rows = []
    for name, spec in tqdm(DATASETS.items(), desc="datasets", disable=quiet, leave=False):
        entries = spec.entries()
        wheres = {reg.locate(e)[1] for e in entries}
        t0 = time.perf_counter()
        try:
            df = load(name, download=download)
            shape = df.shape
        except DataNotFoundError:
            shape = (None, None)
        rows.append(
            {
                "name": name,
                "rows": shape[0],
                "cols": shape[1],
                "files": len(entries),
                "where_found": "missing" if "missing" in wheres else "+".join(sorted(wheres)),
                "load_seconds": round(time.perf_counter() - t0, 2),
                "license": spec.license,
                "upstream_commit": f"{spec.upstream}@{spec.commit[:10]}",
            }
        )
    return pd.DataFrame(rows)


@writes_output("demo data")
def run_demo(out_dir: Path, *, quiet: bool = True) -> None:
    """Write ``datasets.csv``, a missing-cell map of obsscaling-base and ``section.json`` (order 10) to ``out_dir``.

    Raises :class:`DataNotFoundError` when no dataset resolves locally (then there is nothing to show).
    """
    from scalescope.data import load
    from scalescope.report import write_section
    from scalescope.report.figures.data import plot_missing_cells
    from scalescope.report.style import new_figure, savefig

    inv = inventory(download=False, quiet=quiet)
    local = inv[inv["where_found"] != "missing"]
    if local.empty:
        raise DataNotFoundError(
            "no registered dataset resolves locally; set SCALESCOPE_DATA_DIR (e.g. to ../shared/data)"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "datasets.csv"
    write_csv(inv, table)

    figures = []
    if "obsscaling-base" in set(local["name"]):
        base = load("obsscaling-base", download=False)
        fig, ax = new_figure(width=6.0, height=6.5)
        plot_missing_cells(base, ax, title="obsscaling-base: present (blue) and missing cells")
        png = savefig(fig, out_dir / "obsscaling_base_missing.png")
        figures.append(
            (
                png.name,
                f"ObsScaling base table ({base.shape[0]} models x {base.shape[1] - 1} columns), models ordered by "
                "training FLOPs; the column labels give each column's count of missing cells. Models with no "
                "FLOPs (bottom band: Mistral, Mixtral, Qwen2, RWKV, ...) cannot be placed on a compute axis and fall "
                "into the test split of a FLOPs cutoff; scattered gaps in ARC-C, XWinograd and HumanEval are left "
                "to the imputation of the capability PCA.",
            )
        )
    n_missing = int((inv["where_found"] == "missing").sum())
    n_files = int(local["files"].sum())
    summary = (
        f"{len(local)} of {len(inv)} registered datasets resolve offline "
        f"({n_files} data files, each checked against its pinned sha256)"
        + (f"; {n_missing} missing (set SCALESCOPE_DATA_DIR or allow downloads)" if n_missing else "")
        + ". Every file is pinned to an exact upstream commit; `scalescope data verify` re-checks them."
    )
    write_section(
        out_dir,
        title="Data inventory",
        kind="data",
        summary=summary,
        figures=figures,
        tables=[
            (
                table.name,
                "Registered datasets: shape as loaded, files, where found, licence, upstream commit.",
            )
        ],
        metrics={
            "datasets_local": int(len(local)),
            "datasets_registered": int(len(inv)),
            "files_verified": n_files,
            "load_seconds_total": round(float(inv["load_seconds"].sum()), 1),
        },
        order=10,
    )
