"""``scalescope calibrate sweep SPEC --out DIR``: run a sweep of ``calibrate run`` cells (models x corpora x samplers x
seeds) locally or on a Ray cluster; re-running resumes it. Thin: :mod:`scalescope.calibration.sweep` does the work.
Registered on the ``calibrate`` group by ``cli/calibrate.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scalescope.cli._common import echo_json, quiet_option


def _cell_line(c) -> str:
    o = c.options
    m = c.meta
    size = ", ".join(f"{k}={v:.3g}" for k, v in (("params", m.params), ("train_tokens", m.train_tokens)) if v)
    return (f"{c.id}  model={o['model']} corpus={o['corpus']} sampler={o['sampler']} seed={o['seed']} "
            f"steps={o['steps']} samples={o['samples']}  [family={m.family}{', ' + size if size else ''}"
            f"{f', gpus={m.gpus}' if m.gpus else ''}]")


@click.command("sweep")
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Sweep directory DIR: DIR/sweep.json and one run directory per cell in DIR/cells/<cell-id>.")
@click.option("--dry-run", is_flag=True, help="Print the cells (and their metadata) and write nothing.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local: cells in N worker processes (each pinned to one GPU when there are GPUs); with "
                   "--ray local: CPUs of the private Ray instance.")
@click.option("--ray", "ray_address", metavar="auto|local|ADDRESS", default=None,
              help="Run each cell as a Ray task: auto = the cluster this machine belongs to, local = a private "
                   "single-machine instance, or a cluster address. DIR must be on storage every node mounts.")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Extra attempts for a cell that crashed or lost its worker (input errors are not retried).")
@click.option("--json", "as_json", is_flag=True, help="Print the cells (--dry-run) or the result as JSON.")
@quiet_option
def sweep(spec_path, out, dry_run, workers, ray_address, retries, as_json, quiet) -> None:
    """Run every cell of the sweep SPEC (TOML) as a calibration run under DIR; re-running resumes.

    Finished cells are skipped, interrupted ones resume from their last shard, failed ones are retried; a cell that
    still fails is recorded in DIR/sweep.json with its error while the rest finish (exit status 1). Analyse with
    `scalescope calibrate analyze DIR --out OUT`.

    \b
    Example:
      scalescope calibrate sweep examples/sweeps/ngram-family.toml --out sweep1 --dry-run
      scalescope calibrate sweep examples/sweeps/ngram-family.toml --out sweep1 --workers 2
      scalescope calibrate sweep examples/sweeps/qwen25-sizes.toml --out /shared/sweeps/qwen --ray auto
      scalescope calibrate analyze sweep1 --out sweep1-analysis
    """
    from scalescope.calibration.sweep import load_spec, make_executor, run_sweep

    spec = load_spec(spec_path)
    if dry_run:
        if as_json:
            echo_json({"name": spec.name, "out": str(out), "n_cells": len(spec.cells), "axes": list(spec.axes),
                       "cells": [c.to_dict() for c in spec.cells]})
            return
        click.echo(f"sweep {spec.name}: {len(spec.cells)} cells (axes: {', '.join(spec.axes) or 'none'}) -> "
                   f"{out}/cells/<cell-id>")
        for c in spec.cells:
            click.echo(_cell_line(c))
        return
    executor = make_executor(workers=workers, ray=ray_address, retries=retries)
    if quiet:
        import os

        os.environ["TQDM_DISABLE"] = "1"  # also in worker processes and model loaders
    result = run_sweep(spec, out, executor=executor, retries=retries, progress=not quiet)
    if as_json:
        echo_json(result.to_dict())
    elif not quiet:
        click.echo(result.summary())
    click.echo(str(out / "sweep.json"), err=as_json)
    if result.failed:
        # The other cells finished; exit 1 (not 2: the spec itself was fine) so scripts notice.
        first = result.failed[0]
        click.echo(f"error: {len(result.failed)} of {sum(result.counts.values())} cells failed (first: {first['id']}: "
                   f"{first['error']}); errors are in {out / 'sweep.json'}; re-running the sweep retries them",
                   err=True)
        sys.exit(1)
