"""``scalescope obs``: observational scaling laws (Ruan et al. 2024; spec research/obsscaling.md).

Commands: ``fit`` (any benchmark table + any target), ``reproduce`` (targets T1-T18), ``select`` (V-optimal model
subsets), ``predict`` / ``score`` (pre-registered predictions). Inputs are validated before the output directory is
created; bad input gives one line and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scalescope.cli._common import SEED, Group, LazyBar, check_out, echo_json, overwrite_option, quiet_option
from scalescope.data.validate import load_json
from scalescope.errors import InputError
from scalescope.observational import constants as C
from scalescope.observational.commands import read_model_csv as _read_csv  # noqa: E402


@click.group(cls=Group)
def obs() -> None:
    """Observational scaling laws: capability PCs from public benchmarks predict downstream performance.

    \b
    Example:
      scalescope obs reproduce --out obs-repro
      scalescope obs fit --benchmarks base --target word_unscramble --out fit1
    """


@obs.command("fit")
@click.option("--benchmarks", "benchmarks", default="base", show_default=True,
              help="Benchmark table: base | base+preregistered | base-all | base-sub10b | instruct | a CSV with a Model "
                   "column | an lm-eval output folder, results JSON or Open LLM Leaderboard file.")
@click.option("--target", "target", required=True,
              help="A task key (word_unscramble, persian_qa, 3digit_sub, 2digit_mult, cot_greedy, agentbench, ...), "
                   "a column of the obsscaling tables, or CSV:COLUMN joined on Model.")
@click.option("--pcs", "n_pcs", default=3, show_default=True, type=int, help="Number of capability PCs K.")
@click.option("--predictor", default="pc", show_default=True,
              help="pc | flops | size | benchmark:NAME (baselines use one feature and no PCA).")
@click.option("--split", "split", default=None, help="cutoff:FLOPs=84 | cutoff:size=7 | top:0.1 | family:NAME | lofo "
              "(default: the task's cutoff, else cutoff:FLOPs=84).")
@click.option("--link", type=click.Choice(["sigmoid", "sigmoid-floor"]), default=None,
              help="Link (default: the task's, else sigmoid).")
@click.option("--loss", type=click.Choice(["huber", "ls"]), default=None, help="Huber δ=1 or least squares.")
@click.option("--chance", type=float, default=None, help="Chance level C; target normalised as (y-C)/(H-C).")
@click.option("--ceiling", type=float, default=None, help="Ceiling H (perfect score).")
@click.option("--exclude-benchmarks", default="", help="Comma-separated benchmarks to leave out, e.g. GSM8K.")
@click.option("--reference-family", default=None, help="Family for the equivalent-compute axis (default Llama-2).")
@click.option("--bootstrap", "n_boot", default=200, show_default=True, type=click.IntRange(min=0),
              help="Family-cluster bootstrap replicates for CIs (0 = none).")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@overwrite_option
@quiet_option
def fit_cmd(benchmarks, target, n_pcs, predictor, split, link, loss, chance, ceiling, exclude_benchmarks,
            reference_family, n_boot, seed, out, as_json, overwrite, quiet):
    """Fit one observational scaling law on any benchmark table and target; write result.json + figures.

    \b
    Example:
      scalescope obs fit --benchmarks base --target word_unscramble --pcs 3 --split cutoff:FLOPs=84 --out fit1
      scalescope obs fit --benchmarks my_evals.csv --target my_task.csv:acc --chance 0.25 --out fit2
    """
    from scalescope.observational.commands import _input_files, fit_plan, plan_fit

    check_out(out, command="obs fit", overwrite=overwrite, inputs=_input_files(benchmarks, target))
    # every input checked before the bootstrap bar appears
    plan = plan_fit(benchmarks, target, n_pcs=n_pcs, predictor=predictor, split=split, link=link, loss=loss,
                    chance=chance, ceiling=ceiling, exclude_benchmarks=exclude_benchmarks,
                    reference_family=reference_family)
    lofo = plan.split.kind == "lofo"
    with LazyBar(total=None if lofo else n_boot, desc="families" if lofo else "bootstrap", disable=quiet) as bar:
        m = fit_plan(plan, out, n_boot=n_boot, seed=seed, progress=bar, overwrite=overwrite)
    outp = Path(out)
    if as_json:
        echo_json({**m, "out": str(outp)})
    elif lofo:
        click.echo(f"leave-one-family-out: mean mse_test={m['mean_mse_test']:.3e} over {m['n_families']} families "
                   f"-> {outp / 'result.json'}")
    else:
        click.echo(f"mse_train={m['mse_train']:.3e} mse_test={m['mse_test']:.3e} ({m['n_train']}/{m['n_test']}) "
                   f"-> {outp / 'result.json'}")


@obs.command("reproduce")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the target summary as JSON.")
@overwrite_option
@quiet_option
def reproduce_cmd(out, as_json, overwrite, quiet):
    """Recompute reproduction targets T1-T18 of Ruan et al. (2024) -> DIR/targets.json + figures.

    Exits 1 if any target falls outside its tolerance.

    \b
    Example:
      scalescope obs reproduce --out obs-repro
    """
    from tqdm import tqdm

    from scalescope.observational.outputs import write_reproduce
    from scalescope.observational.targets import N_PROGRESS_STEPS, run_targets

    check_out(out, command="obs reproduce", overwrite=overwrite)
    with tqdm(total=N_PROGRESS_STEPS, desc="targets", disable=quiet, file=sys.stderr) as bar:
        targets, art = run_targets(progress=bar)
    write_reproduce(Path(out), targets, art, overwrite=overwrite)
    n_ok = sum(t["ok"] for t in targets)
    if as_json:
        echo_json([{k: t[k] for k in ("id", "ok", "failed")} for t in targets])
    else:
        for t in targets:
            click.echo(f"{t['id']:>4} {'ok' if t['ok'] else 'FAILED'}  {t['description']}"
                       + (f"  [{', '.join(t['failed'])}]" if t["failed"] else ""))
        click.echo(f"{n_ok}/{len(targets)} targets ok -> {Path(out) / 'targets.json'}")
    if n_ok < len(targets):
        sys.exit(1)


@obs.command("select")
@click.option("--budget", "budget", required=True, help="Model budget N, or a comma list (4,8,12).")
@click.option("--benchmarks", default="base", show_default=True, help="base | base-sub10b | CSV with Model Family.")
@click.option("--cutoff", default=C.CUTOFF_DEFAULT_1E21, show_default=True, type=float,
              help="Candidate pool = models with FLOPs (1E21) <= cutoff.")
@click.option("--include", default="", help="Comma-separated families forced into every subset (e.g. Llama-2).")
@click.option("--max-families", default=10, show_default=True, type=click.IntRange(min=1),
              help="Largest number of families in a subset.")
@click.option("--mode", type=click.Choice(["auto", "exhaustive", "greedy"]), default="auto", show_default=True,
              help="auto = exhaustive up to 22 families, else greedy.")
@click.option("--evaluate/--no-evaluate", default=None,
              help="Refit the 3 GSM8K laws on each subset (default: on for the base table).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True)
@overwrite_option
@quiet_option
def select_cmd(budget, benchmarks, cutoff, include, max_families, mode, evaluate, out, as_json, overwrite, quiet):
    """Choose which model families to evaluate (V-optimal design over capability PCs, paper Sec 5).

    \b
    Example:
      scalescope obs select --budget 12 --out sel
      scalescope obs select --budget 4,8,12 --include Llama-2 --out sel2
    """
    from scalescope.observational.commands import run_select

    check_out(out, command="obs select", overwrite=overwrite)
    payload = run_select(out, budget, benchmarks=benchmarks, cutoff=cutoff, include=include,
                         max_families=max_families, mode=mode, evaluate=evaluate, overwrite=overwrite)
    table = payload.pop("table")
    outp = Path(out)
    if as_json:
        echo_json(payload)
    else:
        for _, r in table.iterrows():
            extra = f" gmean_mse={r['gmean_mse_gsm8k']:.2e}" if "gmean_mse_gsm8k" in r else ""
            click.echo(f"budget {r['budget']}: J={r['objective']:.2f} n={r['n_models']} "
                       f"{', '.join(r['families'])}{extra}")
        click.echo(f"-> {outp / 'selection.json'}")


@obs.command("predict")
@click.option("--models", "models", required=True,
              help="New models: a CSV (Model + benchmark columns), an lm-eval output folder, a results JSON or an "
                   "Open LLM Leaderboard file.")
@click.option("--target", "targets", multiple=True,
              help="Task key(s) to predict (default: the 4 headline emergent tasks and 3 GSM8K targets).")
@click.option("--pcs", "n_pcs", default=3, show_default=True, type=int)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False))
@overwrite_option
@quiet_option
def predict_cmd(models, targets, n_pcs, out, overwrite, quiet):
    """Pre-register predictions for models not yet evaluated (sha256 content hash + UTC timestamp).

    \b
    Example:
      scalescope obs predict --models new_models.csv --out prereg
      scalescope obs score prereg/predictions.json --actual results.csv
    """
    from scalescope.observational.commands import run_predict

    check_out(out, command="obs predict", overwrite=overwrite)
    payload = run_predict(out, models, targets=targets, n_pcs=n_pcs, overwrite=overwrite)
    outp = Path(out)
    click.echo(f"{len(payload['targets'])} target(s) x {payload['n_models']} model(s), sha256 "
               f"{payload['sha256'][:12]}… -> {outp / 'predictions.json'}")


@obs.command("score")
@click.argument("predictions", type=click.Path())
@click.option("--actual", "actual", required=True, help="CSV with Model and the target columns (raw scale).")
@click.option("--json", "as_json", is_flag=True)
def score_cmd(predictions, actual, as_json):
    """Score pre-registered predictions against actual results (normalised-scale MSE per target).

    \b
    Example:
      scalescope obs score prereg/predictions.json --actual results.csv
    """
    from scalescope.observational.preregister import score

    p = Path(predictions)
    if not p.is_file():
        raise InputError(f"PREDICTIONS {predictions}: no such file")
    payload = load_json(p, label=p.name)
    if not isinstance(payload, dict) or not isinstance(payload.get("targets"), list):
        raise InputError(f"{p.name}: not a scalescope pre-registration file (written by `scalescope obs predict`)")
    act = _read_csv(actual, "--actual")
    from scalescope.data.validate import check_numeric

    # empty cells are models not evaluated yet; text or inf in a target column is a broken results file
    cols = [e.get("target") for e in payload["targets"] if isinstance(e, dict) and e.get("target") in act.columns]
    act = check_numeric(act, cols, label=Path(actual).name, key=C.MODEL_COL)
    res = score(payload, act, label=p.name)
    if as_json:
        echo_json(res)
        return
    click.echo(f"hash {'ok' if res['hash_ok'] else 'MISMATCH (file edited after pre-registration)'}; "
               f"created {res['created_utc']}")
    for t, v in res["targets"].items():
        click.echo(f"{t}: n={v['n']} mse={v['mse']:.3e} mae={v['mae']:.3e}")


from scalescope.cli.obs_place import place_cmd as _place_cmd  # noqa: E402  (issue 16: `obs place`)

obs.add_command(_place_cmd)
