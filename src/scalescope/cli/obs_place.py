"""``scalescope obs place``: put your own evaluated models in the reference capability space (issue 16).

Thin: read the results, call :func:`scalescope.observational.place`, write with
:func:`~scalescope.observational.placement.write_placement`, print where the outputs went. Every deviation from the
reference protocol is printed as a ``warning:`` line on stderr (and kept in ``placement.json``).
"""

from __future__ import annotations

import click

from scalescope.cli._common import (
    SEED,
    Command,
    LazyBar,
    check_out,
    echo_json,
    overwrite_option,
    quiet_option,
)


@click.command("place", cls=Command)
@click.argument("results", nargs=-1, required=True)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--reference", default="base", show_default=True,
              help="Reference models: base | base+preregistered | base-all | base-sub10b.")
@click.option("--meta", default=None,
              help="CSV with Model and any of Model Family, FLOPs (1E21), Model Size (B), Pretraining Data Size (T).")
@click.option("--family", default=None, help="Family of placed models that have none (e.g. Pythia).")
@click.option("--pcs", "n_pcs", default=3, show_default=True, type=int, help="Number of capability PCs K.")
@click.option("--target", "targets", multiple=True,
              help="Target key(s) to predict (default: 4 emergent, 3 post-training and 2 agent tasks).")
@click.option("--bootstrap", "n_boot", default=200, show_default=True, type=click.IntRange(min=0),
              help="Family-cluster bootstrap replicates per target (0 = no intervals).")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--holdout", is_flag=True,
              help="Leave reference models with the same id as a placed model out of every fit.")
@click.option("--reference-family", default="Llama-2", show_default=True,
              help="Family whose PC-1 vs FLOPs line defines equivalent compute.")
@overwrite_option
@click.option("--json", "as_json", is_flag=True, help="Print the placements as JSON.")
@quiet_option
def place_cmd(results, out, reference, meta, family, n_pcs, targets, n_boot, seed, holdout, reference_family,
              overwrite, as_json, quiet):
    """Place your models in the reference capability space from lm-eval or leaderboard results.

    RESULTS are lm-evaluation-harness output folders (the --output_path of `lm_eval`), results JSON files (v0.4 or
    v0.3), Open LLM Leaderboard v1 result files or CSVs with Model + benchmark columns, in any mix. For each model:
    its PCs in the reference space (missing benchmarks imputed and flagged), its position on its family's compute
    line (with FLOPs), its Llama-2-equivalent compute, and predictions with family-cluster bootstrap intervals;
    OUT/preregistration.json can be scored later with `scalescope obs score`.

    \b
    Example:
      lm_eval --model hf --model_args pretrained=me/my-7b --tasks mmlu,arc_challenge,hellaswag,winogrande,\\
          truthfulqa_mc2,gsm8k,xwinograd,humaneval --output_path results/
      scalescope obs place results/ --meta my_models.csv --out placed
      scalescope obs score placed/preregistration.json --actual measured.csv
    """
    from scalescope.observational.placement import ALL_TASKS, DEFAULT_TARGETS, place, write_placement
    from scalescope.outputs import check_input_path

    for r in results:
        check_input_path(r, what="RESULTS", allow_dir=True)
    inputs = [*results, *([meta] if meta else [])]
    check_out(out, command="obs place", overwrite=overwrite, inputs=inputs)
    n_t = len(targets or DEFAULT_TARGETS) if all(t in ALL_TASKS for t in targets) else 0
    with LazyBar(total=n_t * (n_boot + 1), desc="bootstrap", disable=quiet or not n_boot) as bar:
        res = place(list(results), reference=reference, meta=meta, family=family, n_pcs=n_pcs,
                    targets=list(targets) or None, n_boot=n_boot, seed=seed, holdout=holdout,
                    reference_family=reference_family, progress=bar)
    path = write_placement(res, out, overwrite=overwrite, inputs=inputs)
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    if as_json:
        echo_json({"placements": res.placements, "predictions": res.predictions, "warnings": list(res.warnings),
                   "out": str(path)})
        return
    pcs = [f"PC-{i + 1}" for i in range(res.n_pcs)]
    for _, r in res.placements.iterrows():
        click.echo(f"{r['Model']}: " + " ".join(f"{p}={r[p]:.3f}" for p in pcs)
                   + (f" equiv_log10_flops={r['equiv_log10_flops']:.2f}" if r["equiv_log10_flops"] == r[
                       "equiv_log10_flops"] else ""))
    click.echo(f"{len(res.placements)} model(s) x {res.predictions['target'].nunique()} target(s), "
               f"sha256 {res.preregistration['sha256'][:12]}… -> {path / 'placement.json'}")
