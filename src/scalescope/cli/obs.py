"""``scalescope obs``: observational scaling laws (Ruan et al. 2024; spec research/obsscaling.md).

Commands: ``fit`` (any benchmark table + any target), ``reproduce`` (targets T1-T18), ``select`` (V-optimal model
subsets), ``predict`` / ``score`` (pre-registered predictions). Inputs are validated before the output directory is
created; bad input gives one line and exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd

from scalescope.cli._common import SEED, Group, echo_json, quiet_option
from scalescope.data.validate import load_json
from scalescope.errors import InputError
from scalescope.observational import constants as C

_BENCH_ALIASES = {"base": "obsscaling-base", "obsscaling-base": "obsscaling-base",
                  "base-sub10b": "obsscaling-base-sub10b", "obsscaling-base-sub10b": "obsscaling-base-sub10b",
                  "instruct": "obsscaling-instruct", "obsscaling-instruct": "obsscaling-instruct"}
_META = {C.MODEL_COL, C.FAMILY_COL, C.FLOPS_COL, C.SIZE_COL, C.TOKENS_COL, "Arena-Elo", "MTBench"}


def _tasks() -> dict:
    return {t.key: t for t in (*C.EMERGENT_TASKS, *C.POST_TRAINING_TASKS, *C.AGENT_TASKS)}


def _read_csv(path: str, what: str) -> pd.DataFrame:
    from scalescope.data.validate import read_csv_strict

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {path}: no such file")
    # strict: pandas would silently shift ragged rows into the index and mis-report them as a missing column
    df = read_csv_strict(p, label=p.name)
    if C.MODEL_COL not in df.columns:
        raise InputError(f"{p.name}: column 'Model' is missing (found: {', '.join(map(str, df.columns))})")
    if df[C.MODEL_COL].duplicated().any():
        dup = df.loc[df[C.MODEL_COL].duplicated(), C.MODEL_COL].iloc[0]
        raise InputError(f"{p.name}: model {dup!r} appears more than once")
    return df


def _load_benchmarks(spec: str) -> tuple[pd.DataFrame, str]:
    """(table, kind) where kind is base | instruct | csv."""
    from scalescope.observational import datasets as D

    if spec in _BENCH_ALIASES:
        name = _BENCH_ALIASES[spec]
        if name == "obsscaling-instruct":
            return D.load_table(name), "instruct"
        df = D.load_table(name)
        return (D.default_base_models(df) if name == "obsscaling-base" else df), "base"
    if spec.lower().endswith(".csv") or Path(spec).exists():
        if not Path(spec).is_file():
            raise InputError(f"--benchmarks {spec}: no such file")
        from scalescope.data import read_benchmark_csv

        # the data layer validates: unique Model, numeric scores in [0, 1], numeric FLOPs/size metadata
        return read_benchmark_csv(spec), "csv"
    raise InputError(f"--benchmarks: {spec!r} is neither a known table ({', '.join(sorted(set(_BENCH_ALIASES)))}) "
                     "nor an existing CSV file")


def _load_target(spec: str, bench_kind: str):
    """(target table, column, TaskSpec | None)."""
    from scalescope.observational import datasets as D

    tasks = _tasks()
    if spec in tasks:
        t = tasks[spec]
        table = {"emergent": "obsscaling-emergent", "post": "obsscaling-post-training", "agent": "obsscaling-agent"}
        kind = ("agent" if t in C.AGENT_TASKS else "post" if t in C.POST_TRAINING_TASKS else "emergent")
        return D.load_table(table[kind]), t.column, t
    if ":" in spec and (spec.rsplit(":", 1)[0].lower().endswith(".csv") or Path(spec.rsplit(":", 1)[0]).exists()):
        path, col = spec.rsplit(":", 1)
        df = _read_csv(path, "--target")
        if col not in df.columns:
            raise InputError(f"{Path(path).name}: column {col!r} not found (found: {', '.join(map(str, df.columns))})")
        from scalescope.data.validate import check_numeric

        # empty cells are missing evaluations (allowed); text or inf in a score column is a broken file
        df = check_numeric(df, [col], label=Path(path).name, key=C.MODEL_COL)
        return df, col, None
    for name in ("obsscaling-emergent", "obsscaling-post-training", "obsscaling-agent"):
        df = D.load_table(name)
        if spec in df.columns:
            return df, spec, None
    raise InputError(f"--target: {spec!r} is not a known task ({', '.join(tasks)}), a column of the obsscaling "
                     "tables, or CSV:COLUMN")


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
              help="Benchmark table: base | instruct | base-sub10b | path to a CSV with a Model column.")
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
@quiet_option
def fit_cmd(benchmarks, target, n_pcs, predictor, split, link, loss, chance, ceiling, exclude_benchmarks,
            reference_family, n_boot, seed, out, as_json, quiet):
    """Fit one observational scaling law on any benchmark table and target; write result.json + figures.

    \b
    Example:
      scalescope obs fit --benchmarks base --target word_unscramble --pcs 3 --split cutoff:FLOPs=84 --out fit1
      scalescope obs fit --benchmarks my_evals.csv --target my_task.csv:acc --chance 0.25 --out fit2
    """
    from scalescope.observational import datasets as D
    from scalescope.observational.backtest import cluster_bootstrap_law
    from scalescope.observational.law import fit_law
    from scalescope.observational.splits import SplitSpec

    bench, kind = _load_benchmarks(benchmarks)
    ttable, tcol, task = _load_target(target, kind)
    leak = tcol  # a benchmark with the target's name never enters the capability space
    if tcol in bench.columns and ":" in target and Path(target.rsplit(":", 1)[0]).is_file():
        # A user's CSV column named like a benchmark (e.g. their own MMLU run): predict *their* values, not the
        # benchmark table's, which the join below would otherwise silently keep.
        tcol = f"{tcol} (target)"
        ttable = ttable.rename(columns={leak: tcol})
    excl = [b.strip() for b in exclude_benchmarks.split(",") if b.strip()]
    if kind == "base":
        metrics = list(C.NONGSM_METRICS if task is not None and task.nongsm else C.BASE_METRICS)
    elif kind == "instruct":
        metrics = list(C.INSTRUCT_METRICS)
    else:
        metrics = [c for c in bench.columns if c not in _META and pd.api.types.is_numeric_dtype(bench[c])]
    unknown = [b for b in excl if b not in bench.columns]
    if unknown:
        raise InputError(f"--exclude-benchmarks: {', '.join(unknown)} not in the benchmark table")
    metrics = [m for m in metrics if m not in excl and m not in (tcol, leak)]
    if n_pcs < 1:
        raise InputError(f"--pcs: must be at least 1, got {n_pcs}")
    if predictor == "pc" and len(metrics) < n_pcs:
        raise InputError(f"--pcs: {n_pcs} components need at least {n_pcs} benchmarks, have {len(metrics)}")
    for flag, v in (("--chance", chance), ("--ceiling", ceiling)):
        if v is not None and not np.isfinite(v):
            raise InputError(f"--{flag.lstrip('-')}: must be a finite number, got {v}")
    if C.FAMILY_COL not in bench.columns:
        bench = bench.assign(**{C.FAMILY_COL: bench[C.MODEL_COL].astype(str)})
    df = D.join_target(bench, ttable, [tcol]) if tcol not in bench.columns else bench
    if df.empty:
        raise InputError(f"--target: no model of the target table matches a model of {benchmarks} (joined on Model)")
    if pd.to_numeric(df[tcol], errors="coerce").notna().sum() == 0:
        raise InputError(f"--target: column {tcol!r} is empty (all NaN) for the joined models")
    if kind == "base" and task is not None and task in C.EMERGENT_TASKS:
        df = D.flops_families_only(df)
    chance = chance if chance is not None else (task.chance if task else 0.0)
    ceiling = ceiling if ceiling is not None else (task.ceiling if task else 1.0)
    if split is None:
        spl = SplitSpec("top", 0.1) if task in C.AGENT_TASKS else SplitSpec("cutoff", task.cutoff_1e21 if task
                                                                            else C.CUTOFF_DEFAULT_1E21)
    else:
        spl = SplitSpec.parse(split)
    if link is None:
        link = "sigmoid-floor" if task in (*C.POST_TRAINING_TASKS, *C.AGENT_TASKS) else "sigmoid"
    if loss is None:
        loss = "ls" if task in C.AGENT_TASKS else "huber"
    ref_given = reference_family is not None
    if reference_family is None:
        reference_family = C.REFERENCE_FAMILY_INSTRUCT if kind == "instruct" else C.REFERENCE_FAMILY_BASE
    if ref_given:
        fams = df[C.FAMILY_COL].astype(str)
        n_ref = int(((fams == reference_family) & pd.to_numeric(df.get(C.FLOPS_COL), errors="coerce").notna()).sum()) \
            if C.FLOPS_COL in df else 0
        if n_ref < 2:
            raise InputError(f"--reference-family: family {reference_family!r} has {n_ref} model(s) with FLOPs; "
                             "need at least 2 to define an equivalent-compute axis")
    if spl.kind == "family":
        n_fam = int((df[C.FAMILY_COL].astype(str) == spl.value).sum())
        if n_fam == 0:
            raise InputError(f"--split: family {spl.value!r} not in the joined table")
    kw = dict(metrics=metrics, predictor=predictor, n_pcs=n_pcs, link=link, loss=loss, chance=chance,
              ceiling=ceiling, reference_family=reference_family,
              capability_rows="all" if task in C.POST_TRAINING_TASKS else "with_target")
    if spl.kind == "lofo":
        _write_lofo(df, tcol, task, kw, out, as_json, quiet)
        return
    law = fit_law(df, tcol, split=spl, **kw)  # raises InputError (e.g. < 3 training models) before any output
    boot = None
    if n_boot > 0 and law.n_test > 0:
        from tqdm import tqdm

        with tqdm(total=n_boot, desc="bootstrap", disable=quiet, file=sys.stderr) as bar:
            boot = cluster_bootstrap_law(df, law, n_boot=n_boot, seed=seed, progress=bar, **kw)

    from scalescope.observational.outputs import _csv
    from scalescope.report.figures import obs as F
    from scalescope.report.section import write_section
    from scalescope.report.style import new_figure, savefig
    from scalescope.results import write_json

    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    res = law.to_dict()
    res["split"] = spl.describe()
    if C.FLOPS_COL in law.predictions and predictor == "pc":
        # spec §1.5/§4.4: compute baselines cannot score models without FLOPs, so also report the PC law's test MSE
        # on the test models that have FLOPs (the set a FLOPs baseline would be scored on)
        pr = law.predictions
        with_flops = pr.loc[(pr["split"] == "test") & pr[C.FLOPS_COL].notna(), C.MODEL_COL]
        res["mse_test_models_with_flops"] = law.mse_on(with_flops)
        res["n_test_models_with_flops"] = int(len(with_flops))
        from scalescope.observational.compute import family_compute_fits

        # spec §2.2: within-family log-linearity of PC-1 (this split's PCA) in log10 FLOPs, families with >= 3 models
        fc = family_compute_fits(pr["PC1"], pr[C.FLOPS_COL], pr[C.FAMILY_COL], metric="PC-1")
        res["pc1_vs_log10_flops"] = {"mean_r2": fc.mean_r2, "pooled_r2": fc.pooled_r2, "families": fc.families}
    res["benchmarks"] = benchmarks
    res["target_spec"] = target
    if boot is not None:
        res["bootstrap"] = {"n_boot": boot.n_boot, "level": boot.level, "n_failed": boot.n_failed,
                            "mse_test_ci": list(boot.mse_test_ci), "mse_train_ci": list(boot.mse_train_ci),
                            "method": "family-cluster bootstrap of training families; full refit (impute, PCA, link)"}
        ci = boot.predictions_ci.set_index(C.MODEL_COL)
        for p in res["predictions"]:
            p["y_pred_lo"] = float(ci.loc[p[C.MODEL_COL], "y_pred_lo"])
            p["y_pred_hi"] = float(ci.loc[p[C.MODEL_COL], "y_pred_hi"])
    write_json(res, outp / "result.json")
    _csv(pd.DataFrame(res["predictions"]), outp / "predictions.csv")
    figs = []
    fig, ax = new_figure(width=5.0, height=4.0)
    F.plot_law(law, ax, title=task.label if task else tcol, family_legend=True)
    figs.append((savefig(fig, outp / "prediction.png"), "Target vs capability axis; train/test, family markers."))
    if law.capabilities is not None:
        fig, ax = new_figure(width=6.0, height=2.6)
        F.plot_loadings(law.capabilities, ax, n_pcs=min(n_pcs, len(law.capabilities.loadings)))
        figs.append((savefig(fig, outp / "loadings.png"), "Capability loadings (PCA fitted on training models)."))
    metrics_out = {"mse_train": law.mse_train, "mse_test": law.mse_test, "n_train": law.n_train,
                   "n_test": law.n_test, "formula": law.formula()}
    if boot is not None:
        metrics_out["mse_test_ci95"] = f"[{boot.mse_test_ci[0]:.2e}, {boot.mse_test_ci[1]:.2e}]"
    write_section(outp, title=f"Observational law: {task.label if task else tcol}", kind="obs",
                  summary=f"{law.formula()} — {spl.describe()}; predictor {predictor}, K={n_pcs}.",
                  figures=figs, tables=[(outp / "predictions.csv", "Per-model predictions (normalised scale).")],
                  metrics=metrics_out, order=25)
    if as_json:
        echo_json({**metrics_out, "out": str(outp)})
    else:
        click.echo(f"mse_train={law.mse_train:.3e} mse_test={law.mse_test:.3e} ({law.n_train}/{law.n_test}) "
                   f"-> {outp / 'result.json'}")


def _write_lofo(df, tcol, task, kw, out, as_json, quiet):
    """Leave-one-family-out: one law per held-out family -> result.json, lofo.csv, bar figure, section.json."""
    from tqdm import tqdm

    from scalescope.observational.backtest import leave_one_family_out
    from scalescope.observational.outputs import _csv
    from scalescope.report.section import write_section
    from scalescope.report.style import PALETTE, new_figure, savefig
    from scalescope.results import write_json

    n_fam = df[C.FAMILY_COL].nunique()
    with tqdm(total=n_fam, desc="families", disable=quiet, file=sys.stderr) as bar:
        res = leave_one_family_out(df, tcol, progress=bar, **kw)
    if not np.isfinite(res.table["mse_test"]).any():
        raise InputError("--split lofo: no family could be held out (too few models with a target)")
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    write_json({"target": tcol, "split": "leave-one-family-out", "mean_mse_test": res.mean_mse_test,
                "pooled_mse_test": res.pooled_mse_test, "families": res.table}, outp / "result.json")
    _csv(res.table, outp / "lofo.csv")
    t = res.table.dropna(subset=["mse_test"]).sort_values("mse_test")
    fig, ax = new_figure(width=6.0, height=3.4)
    ax.barh(t["family"], t["mse_test"], color=PALETTE[0])
    ax.set_xscale("log")
    ax.set_xlabel("test MSE (family held out)")
    figs = [(savefig(fig, outp / "lofo.png"), "Test MSE when each family is held out.")]
    label = task.label if task else tcol
    write_section(outp, title=f"Leave-one-family-out: {label}", kind="obs",
                  summary=f"Mean per-family test MSE {res.mean_mse_test:.2e}; pooled {res.pooled_mse_test:.2e}.",
                  figures=figs, tables=[(outp / "lofo.csv", "Per-family hold-out results.")],
                  metrics={"mean_mse_test": res.mean_mse_test, "pooled_mse_test": res.pooled_mse_test}, order=26)
    if as_json:
        echo_json({"mean_mse_test": res.mean_mse_test, "pooled_mse_test": res.pooled_mse_test, "out": str(outp)})
    else:
        click.echo(f"leave-one-family-out: mean mse_test={res.mean_mse_test:.3e} over {len(t)} families "
                   f"-> {outp / 'result.json'}")


@obs.command("reproduce")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the target summary as JSON.")
@quiet_option
def reproduce_cmd(out, as_json, quiet):
    """Recompute reproduction targets T1-T18 of Ruan et al. (2024) -> DIR/targets.json + figures.

    Exits 1 if any target falls outside its tolerance.

    \b
    Example:
      scalescope obs reproduce --out obs-repro
    """
    from tqdm import tqdm

    from scalescope.observational.outputs import write_reproduce
    from scalescope.observational.targets import N_PROGRESS_STEPS, run_targets

    with tqdm(total=N_PROGRESS_STEPS, desc="targets", disable=quiet, file=sys.stderr) as bar:
        targets, art = run_targets(progress=bar)
    write_reproduce(Path(out), targets, art)
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


def _parse_budgets(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise InputError(f"--budget: expected an integer or a comma-separated list, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise InputError(f"--budget: budgets must be positive integers, got {text!r}")
    return vals


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
@quiet_option
def select_cmd(budget, benchmarks, cutoff, include, max_families, mode, evaluate, out, as_json, quiet):
    """Choose which model families to evaluate (V-optimal design over capability PCs, paper Sec 5).

    \b
    Example:
      scalescope obs select --budget 12 --out sel
      scalescope obs select --budget 4,8,12 --include Llama-2 --out sel2
    """
    from scalescope.observational import analyses as A
    from scalescope.observational.selection import v_optimal_subsets

    budgets = _parse_budgets(budget)
    bench, kind = _load_benchmarks(benchmarks)
    if C.FAMILY_COL not in bench.columns:
        raise InputError(f"--benchmarks: column {C.FAMILY_COL!r} is needed to select whole families")
    metrics = list(C.BASE_METRICS) if kind == "base" else (
        list(C.INSTRUCT_METRICS) if kind == "instruct"
        else [c for c in bench.columns if c not in _META and pd.api.types.is_numeric_dtype(bench[c])])
    if C.FLOPS_COL not in bench.columns:
        raise InputError(f"--benchmarks: column {C.FLOPS_COL!r} is needed for the candidate pool cutoff")
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise InputError(f"--cutoff: must be a positive number of FLOPs (1E21), got {cutoff:g}")
    try:
        pool, X = A.selection_pool(bench, metrics, cutoff)
    except InputError as e:  # too few models under the cutoff for the PCA: the flag is what to change
        raise InputError(f"--cutoff {cutoff:g}: too few complete models with FLOPs <= cutoff ({e})") from None
    if len(pool) < 3:
        raise InputError(f"--cutoff: only {len(pool)} complete model(s) with FLOPs <= {cutoff:g}; need at least 3")
    inc = tuple(f.strip() for f in include.split(",") if f.strip())
    n_fam = pool[C.FAMILY_COL].nunique()
    if mode == "auto":
        mode = "exhaustive" if n_fam <= 22 else "greedy"
    sel = v_optimal_subsets(X, pool[C.FAMILY_COL], budgets=budgets, max_families=max_families, include=inc,
                            mode=mode, models=pool[C.MODEL_COL])
    evaluate = (kind == "base" and benchmarks in ("base", "obsscaling-base") and not inc) if evaluate is None \
        else evaluate
    table = sel.table.copy()
    if evaluate:
        from scalescope.observational.analyses import (
            geometric_mean,
            post_training_frame,
            post_training_kwargs,
        )
        from scalescope.observational.law import fit_law

        frame = post_training_frame()
        heads = [t for t in C.POST_TRAINING_TASKS if t.headline]
        g = []
        for mods in table["models"]:
            ms = set(mods)
            if not ms:
                g.append(np.nan)
                continue
            try:
                g.append(geometric_mean([fit_law(frame, t.column, n_pcs=3, **post_training_kwargs(
                    lambda d, ms=ms: d[C.MODEL_COL].isin(ms).to_numpy())).mse_test for t in heads]))
            except InputError:
                g.append(np.nan)
        table["gmean_mse_gsm8k"] = g
    from scalescope.observational.outputs import _csv
    from scalescope.report.figures import obs as F
    from scalescope.report.section import write_section
    from scalescope.report.style import new_figure, savefig
    from scalescope.results import write_json

    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    payload = {"mode": sel.mode, "n_combinations": sel.n_combinations, "pool_size": len(pool),
               "pool_families": list(sel.families), "budgets": table.to_dict(orient="records"),
               "random_subsets": {str(k): v for k, v in sel.random_subsets.items()}}
    write_json(payload, outp / "selection.json")
    flat = table.assign(families=table["families"].map(";".join), models=table["models"].map(";".join))
    _csv(flat, outp / "selection.csv")
    fig, ax = new_figure(width=4.8, height=3.4)
    F.plot_selection_objective(sel, ax)
    figs = [(savefig(fig, outp / "selection_objective.png"), "V-optimal objective of the best subset per budget.")]
    write_section(outp, title="Model-subset selection (V-optimal)", kind="obs",
                  summary=f"{sel.mode} search over {n_fam} families in the pool ({len(pool)} models).",
                  figures=figs, tables=[(outp / "selection.csv", "Best family subset per budget.")], order=28)
    if as_json:
        echo_json(payload)
    else:
        for _, r in table.iterrows():
            extra = f" gmean_mse={r['gmean_mse_gsm8k']:.2e}" if "gmean_mse_gsm8k" in r else ""
            click.echo(f"budget {r['budget']}: J={r['objective']:.2f} n={r['n_models']} "
                       f"{', '.join(r['families'])}{extra}")
        click.echo(f"-> {outp / 'selection.json'}")


@obs.command("predict")
@click.option("--models", "models", required=True, help="CSV of new models: Model + the benchmark columns.")
@click.option("--target", "targets", multiple=True,
              help="Task key(s) to predict (default: the 4 headline emergent tasks and 3 GSM8K targets).")
@click.option("--pcs", "n_pcs", default=3, show_default=True, type=int)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False))
@quiet_option
def predict_cmd(models, targets, n_pcs, out, quiet):
    """Pre-register predictions for models not yet evaluated (sha256 content hash + UTC timestamp).

    \b
    Example:
      scalescope obs predict --models new_models.csv --out prereg
      scalescope obs score prereg/predictions.json --actual results.csv
    """
    from scalescope.observational import datasets as D
    from scalescope.observational.preregister import make_payload, predict_new
    from scalescope.results import write_json

    if n_pcs < 1:
        raise InputError(f"--pcs: must be at least 1, got {n_pcs}")
    new = _read_csv(models, "--models")
    tasks = _tasks()
    keys = targets or tuple(t.key for t in (*C.EMERGENT_TASKS, *C.POST_TRAINING_TASKS) if t.headline)
    bad = [k for k in keys if k not in tasks or tasks[k] in C.AGENT_TASKS]
    if bad:
        raise InputError(f"--target: unknown base-model task(s) {', '.join(bad)} "
                         f"(known: {', '.join(k for k, t in tasks.items() if t not in C.AGENT_TASKS)})")
    base = D.base_models()
    entries = []
    for k in keys:
        t = tasks[k]
        metrics = list(C.NONGSM_METRICS if t.nongsm else C.BASE_METRICS)
        miss = [m for m in metrics if m not in new.columns]
        if miss:
            raise InputError(f"{Path(models).name}: benchmark column(s) {', '.join(miss)} missing")
        from scalescope.data.validate import check_numeric

        new = check_numeric(new, metrics, label=Path(models).name, key=C.MODEL_COL)
        if n_pcs > len(metrics):
            raise InputError(f"--pcs: {n_pcs} components need at least {n_pcs} benchmarks, task {k} has "
                             f"{len(metrics)}")
        if new[metrics].isna().all(axis=1).any():
            m = new.loc[new[metrics].isna().all(axis=1), C.MODEL_COL].iloc[0]
            raise InputError(f"{Path(models).name}: model {m!r} has no benchmark score")
        table = D.load_table("obsscaling-post-training" if t in C.POST_TRAINING_TASKS else "obsscaling-emergent")
        train = D.join_target(base, table, [t.column])
        train = train.loc[~train[C.MODEL_COL].isin(new[C.MODEL_COL])]
        e = predict_new(train, new, t.column, metrics=metrics, n_pcs=n_pcs,
                        link="sigmoid-floor" if t in C.POST_TRAINING_TASKS else "sigmoid",
                        chance=t.chance, ceiling=t.ceiling)
        e["task"] = k
        entries.append(e)
    payload = make_payload(entries, Path(models).name)
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    write_json(payload, outp / "predictions.json")
    click.echo(f"{len(entries)} target(s) x {len(new)} model(s), sha256 {payload['sha256'][:12]}… "
               f"-> {outp / 'predictions.json'}")


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
    res = score(payload, act)
    if as_json:
        echo_json(res)
        return
    click.echo(f"hash {'ok' if res['hash_ok'] else 'MISMATCH (file edited after pre-registration)'}; "
               f"created {res['created_utc']}")
    for t, v in res["targets"].items():
        click.echo(f"{t}: n={v['n']} mse={v['mse']:.3e} mae={v['mae']:.3e}")
