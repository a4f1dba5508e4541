"""The paper's analyses as runners over the released tables (spec §2): capability space (Sec 3.2-3.3), emergent
capabilities (Sec 4.1), agents (Sec 4.2/4.3), post-training interventions (CoT, self-consistency) and V-optimal
model-subset selection (Sec 5), plus the AUE cutoff-robustness sweep (spec §1.11).

Each runner returns plain results objects; figures and CLI commands consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalescope.observational import datasets as D
from scalescope.observational.backtest import AUEResult, aue_sweep
from scalescope.observational.capability import CapabilityResult, fit_capabilities
from scalescope.observational.compute import FamilyComputeFit, family_compute_fits
from scalescope.observational.constants import (
    AGENT_TASKS,
    BASE_METRICS,
    CUTOFF_DEFAULT_1E21,
    EMERGENT_TASKS,
    FAMILY_COL,
    FLOPS_COL,
    INSTRUCT_METRICS,
    MODEL_COL,
    NONGSM_METRICS,
    POST_TRAINING_TASKS,
    PREDICTORS,
    REFERENCE_FAMILY_INSTRUCT,
    TaskSpec,
)
from scalescope.observational.law import LawResult, fit_law
from scalescope.observational.selection import DEFAULT_BUDGETS, SelectionResult, v_optimal_subsets
from scalescope.observational.splits import SplitSpec, split_cutoff
from scalescope.results import Result


@dataclass(frozen=True)
class CapabilitySpace(Result):
    """PCA of the base models' benchmarks and per-family PC-vs-compute fits (spec §2.1-§2.2)."""

    capabilities: CapabilityResult
    compute_fits: tuple[FamilyComputeFit, ...]  # PC-1, PC-2, PC-3
    models: pd.DataFrame  # Model, Model Family, FLOPs, PC-1..


def capability_space(base: pd.DataFrame | None = None, metrics=BASE_METRICS, *, n_components: int = 5
                     ) -> CapabilitySpace:
    """T1-T4: impute + PCA on all base models; OLS of PCs on log10 FLOPs per family (≥ 3 models)."""
    base = D.base_models() if base is None else base
    caps = fit_capabilities(base, None, metrics, n_components=n_components)
    flops = pd.to_numeric(base[FLOPS_COL], errors="coerce").to_numpy(dtype=float)
    fits = tuple(family_compute_fits(caps.scores_train[:, j], flops, base[FAMILY_COL], metric=f"PC-{j + 1}")
                 for j in range(min(3, caps.scores_train.shape[1])))
    models = base[[MODEL_COL, FAMILY_COL, FLOPS_COL]].copy()
    for j in range(caps.scores_train.shape[1]):
        models[f"PC-{j + 1}"] = caps.scores_train[:, j]
    return CapabilitySpace(capabilities=caps, compute_fits=fits, models=models)


@dataclass(frozen=True)
class Comparison(Result):
    """Laws for several targets x predictor sets; ``table`` has test/train MSE per (task, predictor)."""

    name: str
    laws: dict = field(default_factory=dict)  # (task key, predictor name) -> LawResult
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    tasks: tuple[TaskSpec, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def law(self, task: str, predictor: str = "pc1-3") -> LawResult:
        return self.laws[(task, predictor)]


def _compare(name, tasks, frames, predictors, law_kwargs, progress=None) -> Comparison:
    laws, rows = {}, []
    for t in tasks:
        df = frames[t.key]
        for pname, kind, k in predictors:
            kw = dict(law_kwargs(t))
            r = fit_law(df, t.column, predictor=kind, n_pcs=max(k, 1), chance=t.chance, ceiling=t.ceiling, **kw)
            laws[(t.key, pname)] = r
            if progress is not None:
                progress.update(1)
        # a common test set: test models every predictor scored (baselines drop models without FLOPs, spec §1.5)
        common = set.intersection(*(set(laws[(t.key, p)].test_models()) for p, _, _ in predictors))
        for pname, _, _ in predictors:
            r = laws[(t.key, pname)]
            rows.append({"task": t.key, "label": t.label, "predictor": pname, "mse_test": r.mse_test,
                         "mse_train": r.mse_train, "mse_test_common": r.mse_on(common), "n_train": r.n_train,
                         "n_test": r.n_test, "n_test_common": len(common)})
    return Comparison(name=name, laws=laws, table=pd.DataFrame(rows), tasks=tuple(tasks))


def emergent_frames(tasks=EMERGENT_TASKS, base: pd.DataFrame | None = None) -> dict:
    """The emergent-task tables: base models joined with the BIG-bench scores, FLOPs families only (spec §2.3)."""
    base = D.base_models() if base is None else base
    em = D.load_table("obsscaling-emergent")
    return {t.key: D.flops_families_only(D.join_target(base, em, [t.column])) for t in tasks}


def paper_settings(t: TaskSpec, *, q: float = 0.1) -> dict:
    """How the paper configures the law of task ``t``: metric set, split, link, loss (and, where they differ from
    the defaults, which rows enter the PCA and the reference family). The one home of these per-task defaults, used
    by the reproduction runners, ``obs fit``/``obs predict`` (:mod:`~scalescope.observational.commands`) and
    ``obs place``.

    - emergent BIG-bench tasks (spec §2.3): sigmoid, Huber δ=1, cutoff τ (84, or 22 for arithmetic with NONGSM);
    - post-training GSM8K targets (§2.5): floor-sigmoid, Huber, NONGSM, cutoff 84, PCA on every model of the table;
    - agent benchmarks (§2.4): instruct metrics, floor-sigmoid, least squares, top ``q`` held out, Llama-2-Chat axis.

    Examples
    --------
    >>> from scalescope.observational.constants import EMERGENT_TASKS
    >>> s = paper_settings(EMERGENT_TASKS[0])
    >>> s["link"], s["loss"], s["split"].describe()
    ('sigmoid', 'huber', 'train = FLOPs (1E21) <= 84')
    """
    if t in AGENT_TASKS:
        return {"metrics": INSTRUCT_METRICS, "split": SplitSpec("top", q), "link": "sigmoid-floor", "loss": "ls",
                "reference_family": REFERENCE_FAMILY_INSTRUCT}
    if t in POST_TRAINING_TASKS:
        return {"metrics": NONGSM_METRICS, "split": SplitSpec("cutoff", t.cutoff_1e21), "link": "sigmoid-floor",
                "loss": "huber", "capability_rows": "all"}
    return {"metrics": NONGSM_METRICS if t.nongsm else BASE_METRICS, "split": SplitSpec("cutoff", t.cutoff_1e21),
            "link": "sigmoid", "loss": "huber"}


def emergent(tasks=EMERGENT_TASKS, predictors=PREDICTORS, *, frames=None, progress=None) -> Comparison:
    """Emergent BIG-bench tasks with :func:`paper_settings` (spec §2.3, T6-T8)."""
    frames = emergent_frames(tasks) if frames is None else frames
    return _compare("emergent", tasks, frames, predictors, paper_settings, progress)


def post_training_frame(base: pd.DataFrame | None = None, tasks=POST_TRAINING_TASKS) -> pd.DataFrame:
    base = D.base_models() if base is None else base
    return D.join_target(base, D.load_table("obsscaling-post-training"), [t.column for t in tasks])


def post_training_kwargs(restrict_train=None) -> dict:
    """:func:`paper_settings` of the post-training targets (PCA on all 47 train models, §2.5) + ``restrict_train``."""
    return {**paper_settings(POST_TRAINING_TASKS[0]), "restrict_train": restrict_train}


def post_training(tasks=POST_TRAINING_TASKS, predictors=PREDICTORS, *, frame=None, progress=None) -> Comparison:
    """GSM8K with CoT / self-consistency (spec §2.5, T9, T10, T16)."""
    frame = post_training_frame(tasks=tasks) if frame is None else frame
    return _compare("post_training", tasks, {t.key: frame for t in tasks}, predictors,
                    lambda t: post_training_kwargs(), progress)


def agents(tasks=AGENT_TASKS, predictors=tuple(p for p in PREDICTORS if p[1] == "pc"), *, q: float = 0.1,
           progress=None) -> Comparison:
    """AgentBench / AgentBoard on instruct models: floor-sigmoid, least squares, top 10% held out (spec §2.4)."""
    ins = D.instruct_models()
    return _compare("agents", tasks, {t.key: ins for t in tasks}, predictors,
                    lambda t: paper_settings(t, q=q), progress)


def geometric_mean(values) -> float:
    v = np.asarray(values, dtype=float)
    return float(np.exp(np.mean(np.log(v))))


@dataclass(frozen=True)
class SelectionEval(Result):
    """V-optimal subsets per budget with the geometric-mean test MSE of the 3 GSM8K laws refitted on them."""

    selection: SelectionResult
    pool: pd.DataFrame
    table: pd.DataFrame  # budget, objective, n_models, families, gmean_mse, random_gmean_mse
    all_models_gmean_mse: float

    def to_frame(self) -> pd.DataFrame:
        return self.table


def selection_pool(base: pd.DataFrame | None = None, metrics=BASE_METRICS, cutoff: float = CUTOFF_DEFAULT_1E21
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """Candidate pool (train split, rows with a NaN metric dropped) and its first 3 PC scores (spec §1.10 step 1)."""
    base = D.base_models() if base is None else base
    pool = base.loc[split_cutoff(base, FLOPS_COL, cutoff)]
    pool = pool.loc[pool[list(metrics)].notna().all(axis=1)].reset_index(drop=True)
    caps = fit_capabilities(pool, None, metrics, n_components=3)
    return pool, caps.scores_train[:, :3]


def select(budgets=DEFAULT_BUDGETS, *, base=None, include=(), max_families: int = 10, mode: str = "exhaustive"
           ) -> tuple[SelectionResult, pd.DataFrame]:
    pool, X = selection_pool(base)
    res = v_optimal_subsets(X, pool[FAMILY_COL], budgets=budgets, max_families=max_families, include=include,
                            mode=mode, models=pool[MODEL_COL])
    return res, pool


def selection_eval(budgets=DEFAULT_BUDGETS, *, evaluate_random: bool = True, progress=None) -> SelectionEval:
    """T14-T15: select families, refit the 3 headline GSM8K laws on them, score the usual test set."""
    sel, pool = select(budgets)
    tasks = tuple(t for t in POST_TRAINING_TASKS if t.headline)
    frame = post_training_frame(tasks=tasks)

    def gmean_for(models) -> float:
        models = set(models)
        mses = []
        for t in tasks:
            r = fit_law(frame, t.column, predictor="pc", n_pcs=3,
                        **post_training_kwargs(lambda d: d[MODEL_COL].isin(models).to_numpy()))
            mses.append(r.mse_test)
        if progress is not None:
            progress.update(1)
        return geometric_mean(mses)

    all_train = frame.loc[split_cutoff(frame, FLOPS_COL, CUTOFF_DEFAULT_1E21), MODEL_COL]
    rows = []
    for _, row in sel.table.iterrows():
        b = int(row["budget"])
        g = gmean_for(row["models"]) if row["n_models"] else np.nan
        rnd = []
        if evaluate_random:
            for fams in sel.random_subsets.get(b, []):
                mods = pool.loc[pool[FAMILY_COL].isin(fams), MODEL_COL]
                try:
                    rnd.append(gmean_for(mods))
                except ValueError:
                    pass
        rows.append({"budget": b, "objective": row["objective"], "n_models": row["n_models"],
                     "families": list(row["families"]), "gmean_mse": g,
                     "random_gmean_mse": float(np.mean(rnd)) if rnd else np.nan,
                     "random_gmean_mse_all": rnd})
    return SelectionEval(selection=sel, pool=pool, table=pd.DataFrame(rows),
                         all_models_gmean_mse=gmean_for(all_train))


def aue_emergent(tasks=tuple(t for t in EMERGENT_TASKS if t.headline), predictors=PREDICTORS, *, frames=None,
                 progress=None) -> dict[str, AUEResult]:
    """T18: top-q sweep on the emergent tasks (FLOPs families only), sigmoid + Huber (spec §1.11)."""
    frames = emergent_frames(tasks) if frames is None else frames
    out = {}
    for t in tasks:
        out[t.key] = aue_sweep(frames[t.key], t.column, predictors, progress=progress,
                               metrics=NONGSM_METRICS if t.nongsm else BASE_METRICS, link="sigmoid", loss="huber",
                               chance=t.chance, ceiling=t.ceiling)
    return out
