"""The ``scalescope obs`` commands as library calls: inputs, the per-task policy, and the writers.

Whatever ``scalescope obs fit|select|predict`` does, :func:`run_fit`, :func:`run_select` and :func:`run_predict` do
from Python: the same input resolution (:func:`load_benchmarks`, :func:`load_target`), the same per-task defaults
(:func:`plan_fit`: metric set, split, link, loss, the FLOPs-family filter for emergent tasks, renaming a user
target that shares a benchmark's name) and the same output folder, written under the output contract
(:mod:`scalescope.outputs`). The CLI only parses flags and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.observational import constants as C
from scalescope.outputs import output_dir, write_csv

__all__ = ["all_tasks", "read_model_csv", "load_benchmarks", "load_target", "FitPlan", "plan_fit", "fit_plan", "run_fit",
           "parse_budgets", "run_select", "run_predict", "BENCH_ALIASES"]

BENCH_ALIASES = {"base": "obsscaling-base", "obsscaling-base": "obsscaling-base",
                 "base-sub10b": "obsscaling-base-sub10b", "obsscaling-base-sub10b": "obsscaling-base-sub10b",
                 "instruct": "obsscaling-instruct", "obsscaling-instruct": "obsscaling-instruct"}
_BENCH_ALIASES = BENCH_ALIASES
_META = {C.MODEL_COL, C.FAMILY_COL, C.FLOPS_COL, C.SIZE_COL, C.TOKENS_COL, "Arena-Elo", "MTBench"}


def all_tasks() -> dict:
    return {t.key: t for t in (*C.EMERGENT_TASKS, *C.POST_TRAINING_TASKS, *C.AGENT_TASKS)}


def read_model_csv(path: str, what: str) -> pd.DataFrame:
    from scalescope.data.validate import read_csv_strict

    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} {path}: no such file")
    # strict: pandas would silently shift ragged rows into the index and mis-report them as a missing column
    df = read_csv_strict(p, label=p.name)
    if C.MODEL_COL not in df.columns:
        raise InputError(f"{p.name}: column 'Model' is missing (found: {', '.join(map(str, df.columns))})")
    if df[C.MODEL_COL].duplicated().any():
        dup = df.loc[df[C.MODEL_COL].duplicated(), C.MODEL_COL].iloc[0]
        raise InputError(f"{p.name}: model {dup!r} appears more than once")
    return df


def load_benchmarks(spec: str) -> tuple[pd.DataFrame, str]:
    """(table, kind) where kind is base | instruct | csv."""
    from scalescope.observational import datasets as D

    if spec in _BENCH_ALIASES:
        name = _BENCH_ALIASES[spec]
        if name == "obsscaling-instruct":
            return D.load_table(name), "instruct"
        df = D.load_table(name)
        return (D.default_base_models(df) if name == "obsscaling-base" else df), "base"
    if spec in D.REFERENCE_SETS:  # the authors' other model sets: base+preregistered, base-all, preregistered
        return D.reference_set(spec), "base"
    from scalescope.data.benchmark_map import is_evaluation_output, read_benchmark_table

    if is_evaluation_output(spec):  # an lm-eval output folder, results JSON or Open LLM Leaderboard file
        return read_benchmark_table(spec, drop_empty=True), "csv"
    if spec.lower().endswith(".csv") or Path(spec).exists():
        if not Path(spec).is_file():
            raise InputError(f"--benchmarks {spec}: no such file")
        from scalescope.data import read_benchmark_csv

        # the data layer validates: unique Model, numeric scores in [0, 1], numeric FLOPs/size metadata
        return read_benchmark_csv(spec), "csv"
    raise InputError(f"--benchmarks: {spec!r} is neither a known table ({', '.join(sorted(set(_BENCH_ALIASES)))}) "
                     "nor an existing CSV file")


def load_target(spec: str, bench_kind: str):
    """(target table, column, TaskSpec | None)."""
    from scalescope.observational import datasets as D

    tasks = all_tasks()
    if spec in tasks:
        t = tasks[spec]
        table = {"emergent": "obsscaling-emergent", "post": "obsscaling-post-training", "agent": "obsscaling-agent"}
        kind = ("agent" if t in C.AGENT_TASKS else "post" if t in C.POST_TRAINING_TASKS else "emergent")
        return D.load_table(table[kind]), t.column, t
    if ":" in spec and (spec.rsplit(":", 1)[0].lower().endswith(".csv") or Path(spec.rsplit(":", 1)[0]).exists()):
        path, col = spec.rsplit(":", 1)
        df = read_model_csv(path, "--target")
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


def _input_files(*specs: str) -> list[str]:
    """The files among command-line specs (``FILE`` or ``FILE:COLUMN``), which an output must never replace."""
    out = []
    for s in specs:
        for cand in (s, s.rsplit(":", 1)[0] if ":" in s else None):
            if cand and Path(cand).is_file():
                out.append(cand)
    return out


@dataclass(frozen=True)
class FitPlan:
    """Everything ``obs fit`` decided before fitting: the joined table, target column, task and law keywords."""

    df: pd.DataFrame
    tcol: str
    task: Any
    split: Any
    kw: dict = field(default_factory=dict)
    benchmarks: str = ""
    target: str = ""
    predictor: str = "pc"
    n_pcs: int = 3

    @property
    def label(self) -> str:
        return self.task.label if self.task else self.tcol


def plan_fit(benchmarks: str, target: str, *, n_pcs: int = 3, predictor: str = "pc", split: str | None = None,
             link: str | None = None, loss: str | None = None, chance: float | None = None,
             ceiling: float | None = None, exclude_benchmarks: str = "", reference_family: str | None = None) -> FitPlan:
    """Resolve and validate every input of ``obs fit`` and apply the per-task defaults (spec §1, §4)."""
    from scalescope.observational import datasets as D
    from scalescope.observational.splits import SplitSpec

    bench, kind = load_benchmarks(benchmarks)
    ttable, tcol, task = load_target(target, kind)
    leak = tcol  # a benchmark with the target's name never enters the capability space
    if tcol in bench.columns and ":" in target and Path(target.rsplit(":", 1)[0]).is_file():
        # A user's CSV column named like a benchmark (e.g. their own MMLU run): predict *their* values, not the
        # benchmark table's, which the join below would otherwise silently keep.
        tcol = f"{tcol} (target)"
        ttable = ttable.rename(columns={leak: tcol})
    excl = [b.strip() for b in exclude_benchmarks.split(",") if b.strip()]
    from scalescope.observational.analyses import paper_settings

    paper = paper_settings(task) if task is not None else {}  # the one home of the per-task defaults
    if kind == "base":
        metrics = list(paper["metrics"] if task is not None and task not in C.AGENT_TASKS else C.BASE_METRICS)
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
    if not chance < ceiling:
        raise InputError(f"--chance {chance:g} / --ceiling {ceiling:g}: need chance < ceiling")
    yv = pd.to_numeric(df[tcol], errors="coerce")
    hi = float(yv.max())
    if hi > ceiling * (1 + 1e-9) + 1e-12:
        hint = " (scores in percent? pass --ceiling 100, and --chance in percent)" if 1 < hi <= 100 else ""
        raise InputError(f"--target: {tcol!r} has values up to {hi:g}, above the ceiling {ceiling:g}{hint}")
    if split is None:
        spl = paper.get("split", SplitSpec("cutoff", C.CUTOFF_DEFAULT_1E21))
    else:
        spl = SplitSpec.parse(split)
    link = link if link is not None else paper.get("link", "sigmoid")
    loss = loss if loss is not None else paper.get("loss", "huber")
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
              capability_rows=paper.get("capability_rows", "with_target"))
    return FitPlan(df=df, tcol=tcol, task=task, split=spl, kw=kw, benchmarks=benchmarks, target=target,
                   predictor=predictor, n_pcs=n_pcs)


def run_fit(out: str | Path, benchmarks: str, target: str, *, n_boot: int = 200, seed: int = 0,
            progress: Callable[[int], Any] | None = None, overwrite: bool = False, **plan_kw) -> dict:
    """``scalescope obs fit``: plan, fit, bootstrap and write ``out`` (result.json, predictions.csv, figures,
    section.json). Returns the summary metrics (``mse_train``, ``mse_test``, ...).

    ``progress`` is an optional tqdm-like object (``update``) for the bootstrap / per-family loop.
    """
    return fit_plan(plan_fit(benchmarks, target, **plan_kw), out, n_boot=n_boot, seed=seed, progress=progress,
                    overwrite=overwrite)


def fit_plan(plan: FitPlan, out: str | Path, *, n_boot: int = 200, seed: int = 0,
             progress: Callable[[int], Any] | None = None, overwrite: bool = False) -> dict:
    """Fit, bootstrap and write a :class:`FitPlan` from :func:`plan_fit` (the second half of :func:`run_fit`)."""
    if plan.split.kind == "lofo":
        return _run_lofo(plan, out, progress=progress, overwrite=overwrite)
    return _run_law(plan, out, n_boot=n_boot, seed=seed, progress=progress, overwrite=overwrite)


def _run_law(plan: FitPlan, out, *, n_boot: int, seed: int, progress, overwrite: bool) -> dict:
    from scalescope.observational.backtest import cluster_bootstrap_law
    from scalescope.observational.law import fit_law

    df, tcol, task, spl, kw, predictor, n_pcs = (plan.df, plan.tcol, plan.task, plan.split, plan.kw, plan.predictor,
                                                 plan.n_pcs)
    benchmarks, target = plan.benchmarks, plan.target
    law = fit_law(df, tcol, split=spl, **kw)  # raises InputError (e.g. < 3 training models) before any output
    boot = None
    if n_boot > 0 and law.n_test > 0:
        boot = cluster_bootstrap_law(df, law, n_boot=n_boot, seed=seed, progress=progress, **kw)

    from scalescope.report.figures import obs as F
    from scalescope.report.section import write_section
    from scalescope.report.style import new_figure, savefig
    from scalescope.results import write_json

    with output_dir(out, command="obs fit", overwrite=overwrite, inputs=_input_files(benchmarks, target)) as outp:
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
        write_csv(pd.DataFrame(res["predictions"]), outp / "predictions.csv")
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
    return metrics_out


def _run_lofo(plan: FitPlan, out, *, progress, overwrite: bool) -> dict:
    """Leave-one-family-out: one law per held-out family -> result.json, lofo.csv, bar figure, section.json."""
    from scalescope.observational.backtest import leave_one_family_out
    from scalescope.report.section import write_section
    from scalescope.report.style import PALETTE, new_figure, savefig
    from scalescope.results import write_json

    df, tcol, task, kw = plan.df, plan.tcol, plan.task, plan.kw
    res = leave_one_family_out(df, tcol, progress=progress, **kw)
    if not np.isfinite(res.table["mse_test"]).any():
        raise InputError("--split lofo: no family could be held out (too few models with a target)")
    with output_dir(out, command="obs fit", overwrite=overwrite,
                    inputs=_input_files(plan.benchmarks, plan.target)) as outp:
        write_json({"target": tcol, "split": "leave-one-family-out", "mean_mse_test": res.mean_mse_test,
                    "pooled_mse_test": res.pooled_mse_test, "families": res.table}, outp / "result.json")
        write_csv(res.table, outp / "lofo.csv")
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
    t = res.table.dropna(subset=["mse_test"])
    return {"mean_mse_test": res.mean_mse_test, "pooled_mse_test": res.pooled_mse_test, "n_families": len(t),
            "split": "leave-one-family-out"}


def parse_budgets(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise InputError(f"--budget: expected an integer or a comma-separated list, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise InputError(f"--budget: budgets must be positive integers, got {text!r}")
    return vals


def run_select(out: str | Path, budget, *, benchmarks: str = "base", cutoff: float = C.CUTOFF_DEFAULT_1E21,
               include: str = "", max_families: int = 10, mode: str = "auto", evaluate: bool | None = None,
               overwrite: bool = False) -> dict:
    """``scalescope obs select``: V-optimal family subsets per budget (paper §5) written to ``out``; returns the
    ``selection.json`` payload (with the chosen table under ``"table"``)."""
    from scalescope.observational import analyses as A
    from scalescope.observational.selection import v_optimal_subsets

    budgets = parse_budgets(budget) if isinstance(budget, str) else tuple(int(b) for b in budget)
    bench, kind = load_benchmarks(benchmarks)
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
    empty = [int(b) for b, n in zip(sel.table["budget"], sel.table["n_models"]) if int(n) == 0]
    if empty:  # no subset of whole families fits: an empty "selection" with objective -inf is not a result
        smallest = int(pool[C.FAMILY_COL].value_counts().min())
        raise InputError(f"--budget {','.join(map(str, empty))}: no subset of whole families fits "
                         f"(the smallest family in the pool has {smallest} models"
                         + (", plus the --include families" if inc else "") + ")")
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
    from scalescope.report.figures import obs as F
    from scalescope.report.section import write_section
    from scalescope.report.style import new_figure, savefig
    from scalescope.results import write_json

    with output_dir(out, command="obs select", overwrite=overwrite, inputs=_input_files(benchmarks)) as outp:
        payload = {"mode": sel.mode, "n_combinations": sel.n_combinations, "pool_size": len(pool),
                   "pool_families": list(sel.families), "budgets": table.to_dict(orient="records"),
                   "random_subsets": {str(k): v for k, v in sel.random_subsets.items()}}
        write_json(payload, outp / "selection.json")
        flat = table.assign(families=table["families"].map(";".join), models=table["models"].map(";".join))
        write_csv(flat, outp / "selection.csv")
        fig, ax = new_figure(width=4.8, height=3.4)
        F.plot_selection_objective(sel, ax)
        figs = [(savefig(fig, outp / "selection_objective.png"), "V-optimal objective of the best subset per budget.")]
        write_section(outp, title="Model-subset selection (V-optimal)", kind="obs",
                      summary=f"{sel.mode} search over {n_fam} families in the pool ({len(pool)} models).",
                      figures=figs, tables=[(outp / "selection.csv", "Best family subset per budget.")], order=28)
    payload["table"] = table
    return payload


def run_predict(out: str | Path, models: str, *, targets: tuple[str, ...] = (), n_pcs: int = 3,
                overwrite: bool = False) -> dict:
    """``scalescope obs predict``: pre-register predictions (sha256 + UTC timestamp) in ``out/predictions.json``."""
    from scalescope.observational import datasets as D
    from scalescope.observational.analyses import paper_settings
    from scalescope.observational.preregister import make_payload, predict_new
    from scalescope.results import write_json

    if n_pcs < 1:
        raise InputError(f"--pcs: must be at least 1, got {n_pcs}")
    from scalescope.data.benchmark_map import is_evaluation_output, read_benchmark_table

    # an lm-eval output folder / results JSON / leaderboard file is mapped onto the 8 benchmarks (NaN = imputed)
    new = read_benchmark_table(models) if is_evaluation_output(models) else read_model_csv(models, "--models")
    tasks = all_tasks()
    keys = targets or tuple(t.key for t in (*C.EMERGENT_TASKS, *C.POST_TRAINING_TASKS) if t.headline)
    bad = [k for k in keys if k not in tasks or tasks[k] in C.AGENT_TASKS]
    if bad:
        raise InputError(f"--target: unknown base-model task(s) {', '.join(bad)} "
                         f"(known: {', '.join(k for k, t in tasks.items() if t not in C.AGENT_TASKS)})")
    base = D.base_models()
    entries = []
    for k in keys:
        t = tasks[k]
        metrics = list(paper_settings(t)["metrics"])
        miss = [m for m in metrics if m not in new.columns]
        if miss:
            raise InputError(f"{Path(models).name}: benchmark column(s) {', '.join(miss)} missing")
        from scalescope.data.validate import check_numeric

        new = check_numeric(new, metrics, label=Path(models).name, key=C.MODEL_COL)
        over = [m for m in metrics if (pd.to_numeric(new[m], errors="coerce") > 1).any()]
        if over:
            hi = float(pd.to_numeric(new[over[0]], errors="coerce").max())
            raise InputError(f"{Path(models).name}: column {over[0]!r} has scores up to {hi:g}; benchmark scores are "
                             "fractions in [0, 1]" + (" (percent? divide by 100)" if hi <= 100 else ""))
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
                        link=paper_settings(t)["link"], loss=paper_settings(t)["loss"],
                        chance=t.chance, ceiling=t.ceiling)
        e["task"] = k
        entries.append(e)
    payload = make_payload(entries, Path(models).name)
    with output_dir(out, command="obs predict", overwrite=overwrite, inputs=[models]) as outp:
        write_json(payload, outp / "predictions.json")
    payload["n_models"] = len(new)
    return payload
