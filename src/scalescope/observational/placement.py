"""Place a user's own models in the reference capability space, straight from their evaluations (issue 16).

Ruan, Maddison & Hashimoto (2024), Sec 3.2-3.3 and 4 (spec ``research/obsscaling.md`` §1.2-§1.7, §2.3-§2.5, §2.8):
a model is summarised by the first K principal components of its eight benchmark scores, families convert compute
into those capabilities log-linearly at their own rate, and downstream targets are sigmoids of the PCs. Given a
user's lm-evaluation-harness / Open LLM Leaderboard results (mapped by :mod:`scalescope.data.benchmark_map`),
:func:`place` reports for each model

1. its PC coordinates in the reference space: imputer and PCA fitted on the reference models only, the user's models
   transformed with them (spec §4.1), benchmarks it was not evaluated on imputed by the reference imputer and
   flagged;
2. where it sits against its family's PC-1 vs log10 FLOPs line (spec §2.2) when its family and FLOPs are known: the
   reference family's line, or one fitted on the user's own models of a new family (two or more with FLOPs);
3. its reference-family-equivalent compute: PC-1 mapped onto Llama-2's PC-1 vs log10 FLOPs line (spec §1.7), and
   with FLOPs its compute efficiency ``log10(equivalent FLOPs / FLOPs)``;
4. predictions for the emergent (spec §2.3), post-training (§2.5) and agentic (§2.4) targets, each law fitted on
   every reference model with that target exactly as the paper configures it (:func:`~scalescope.observational.law.
   fit_law`), with family-cluster bootstrap intervals (:func:`scalescope.fit.cluster_bootstrap`: reference families
   resampled, the whole pipeline refitted);
5. a pre-registration payload (:mod:`~scalescope.observational.preregister`: UTC timestamp + sha256) so the
   predictions can be scored later with ``scalescope obs score``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalescope.data.benchmark_map import BENCHMARKS, BenchmarkTable, read_benchmarks
from scalescope.errors import InputError
from scalescope.fit import cluster_bootstrap
from scalescope.observational import datasets as D
from scalescope.observational.capability import CapabilityResult, fit_capabilities
from scalescope.observational.compute import equivalent_compute, family_compute_fits
from scalescope.observational.constants import (
    AGENT_TASKS,
    BASE_METRICS,
    EMERGENT_TASKS,
    FAMILY_COL,
    FLOPS_COL,
    INSTRUCT_METRICS,
    MODEL_COL,
    POST_TRAINING_TASKS,
    REFERENCE_FAMILY_BASE,
    TaskSpec,
)
from scalescope.observational.law import LawResult, fit_law
from scalescope.observational.preregister import make_payload
from scalescope.results import Result, to_jsonable

#: Targets predicted by default: the paper's headline emergent, post-training and agent tasks.
DEFAULT_TARGETS: tuple[str, ...] = tuple(
    t.key for t in (*EMERGENT_TASKS, *POST_TRAINING_TASKS, *AGENT_TASKS) if t.headline
)
ALL_TASKS: dict[str, TaskSpec] = {t.key: t for t in (*EMERGENT_TASKS, *POST_TRAINING_TASKS, *AGENT_TASKS)}
NEW_FAMILY = "(unknown family)"


def _kind(t: TaskSpec) -> str:
    return "agent" if t in AGENT_TASKS else "post_training" if t in POST_TRAINING_TASKS else "emergent"


@dataclass(frozen=True)
class PlacementResult(Result):
    """Where a user's models sit in the reference capability space and what they are predicted to score.

    Attributes
    ----------
    placements : DataFrame
        One row per placed model: ``Model``, ``Model Family``, ``FLOPs (1E21)``, ``PC-1`` ... ``PC-K``, the
        benchmarks it was imputed on (``imputed``), the imputed benchmark values, the family-line position
        (``family_fit``, ``family_pc1_expected``, ``family_pc1_residual``, ``family_equiv_log10_flops``) and the
        reference-family-equivalent compute (``equiv_log10_flops``, ``log10_efficiency``).
    predictions : DataFrame
        One row per (model, target): raw-scale ``y_pred`` with ``y_pred_lo``/``y_pred_hi`` (bootstrap percentile
        interval at ``level``), the normalised prediction, the target's equivalent-compute coordinate and whether
        the model lies outside the PC-1 range the law was fitted on (``extrapolated``).
    reference_models : DataFrame
        The reference models in the same space (``Model``, family, FLOPs, PCs) for figures.
    family_fits : DataFrame
        PC-1 vs log10 FLOPs per family (reference families with ≥ 2 models with FLOPs, and new families of placed
        models): family, source, n, slope, intercept, r2.
    equivalence : dict
        The reference family's PC-1 vs log10 FLOPs line (slope, intercept, r2, n).
    """

    reference: str
    n_pcs: int
    metrics: tuple[str, ...]
    placements: pd.DataFrame
    predictions: pd.DataFrame
    reference_models: pd.DataFrame
    family_fits: pd.DataFrame
    equivalence: dict
    benchmarks: BenchmarkTable
    warnings: tuple[str, ...]
    preregistration: dict
    n_boot: int
    level: float
    holdout: bool
    capabilities: CapabilityResult | None = field(default=None, repr=False, compare=False)
    laws: dict = field(default_factory=dict, repr=False, compare=False)  # target key -> LawResult

    @property
    def params(self) -> pd.DataFrame:
        """The placed models' PC coordinates (rows: models; columns: PC-1 ... PC-K)."""
        return self.placements.set_index(MODEL_COL)[[f"PC-{i + 1}" for i in range(self.n_pcs)]]

    def conf_int(self) -> pd.DataFrame:
        """Bootstrap interval of every prediction: (Model, target) -> y_pred_lo, y_pred_hi."""
        return self.predictions.set_index([MODEL_COL, "target"])[["y_pred_lo", "y_pred_hi"]]

    def to_frame(self) -> pd.DataFrame:
        """Placements with one ``pred:<target>`` column per target (raw scale)."""
        wide = self.predictions.pivot(index=MODEL_COL, columns="target", values="y_pred")
        wide.columns = [f"pred:{c}" for c in wide.columns]
        return self.placements.merge(wide.reset_index(), on=MODEL_COL, how="left")

    def to_dict(self) -> dict:
        return to_jsonable({
            "reference": self.reference, "n_pcs": self.n_pcs, "metrics": list(self.metrics),
            "holdout": self.holdout, "n_boot": self.n_boot, "level": self.level,
            "placements": self.placements, "predictions": self.predictions, "family_fits": self.family_fits,
            "equivalence": self.equivalence, "warnings": list(self.warnings),
            "benchmarks": {"table": self.benchmarks.table, "provenance": self.benchmarks.provenance,
                           "sources": list(self.benchmarks.sources)},
            "capability_space": None if self.capabilities is None else {
                "explained_variance_ratio": self.capabilities.explained_variance_ratio[: self.n_pcs],
                "loadings": self.capabilities.loadings_frame().iloc[: self.n_pcs].reset_index(names="PC")},
            "preregistration_sha256": self.preregistration.get("sha256"),
        })

    def summary(self) -> str:
        pcs = [f"PC-{i + 1}" for i in range(self.n_pcs)]
        lines = [f"PlacementResult: {len(self.placements)} model(s) placed in the '{self.reference}' capability "
                 f"space ({len(self.reference_models)} reference models, K={self.n_pcs})"]
        for _, r in self.placements.iterrows():
            coords = ", ".join(f"{p}={r[p]:.3f}" for p in pcs)
            eq = r["equiv_log10_flops"]
            lines.append(f"  {r[MODEL_COL]} [{r[FAMILY_COL]}]: {coords}; "
                         f"{self.equivalence.get('reference_family', 'reference')}-equivalent FLOPs "
                         f"{'n/a' if not np.isfinite(eq) else f'10^{eq:.2f} x 1e21'}"
                         + (f"; imputed {r['imputed']}" if r["imputed"] else ""))
            sub = self.predictions[self.predictions[MODEL_COL] == r[MODEL_COL]]
            for _, p in sub.iterrows():
                lines.append(f"    {p['target']:<16} {p['y_pred']:.4f} [{p['y_pred_lo']:.4f}, {p['y_pred_hi']:.4f}]"
                             + ("  (extrapolated)" if p["extrapolated"] else ""))
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _user_table(models, meta, family: str | None) -> BenchmarkTable:
    bt = models if isinstance(models, BenchmarkTable) else read_benchmarks(models, meta=meta)
    t = bt.table.copy()
    if FAMILY_COL not in t.columns:
        t[FAMILY_COL] = np.nan
    if FLOPS_COL not in t.columns:
        t[FLOPS_COL] = np.nan
    if family is not None:
        t[FAMILY_COL] = t[FAMILY_COL].where(t[FAMILY_COL].notna(), family)
    t[FLOPS_COL] = pd.to_numeric(t[FLOPS_COL], errors="coerce")
    bad = t[FLOPS_COL].notna() & ~(t[FLOPS_COL] > 0)
    if bad.any():
        raise InputError(f"FLOPs (1E21): must be positive, got {t.loc[bad, FLOPS_COL].iloc[0]!r} for "
                         f"{t.loc[bad, MODEL_COL].iloc[0]!r}")
    return BenchmarkTable(table=t, provenance=bt.provenance, warnings=bt.warnings, sources=bt.sources)


def _fill_known(user: pd.DataFrame, base_all: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Family and FLOPs of placed models that are in the authors' table under the same id, where not given."""
    known = base_all.set_index(MODEL_COL)
    notes = []
    user = user.copy()
    user[FAMILY_COL] = user[FAMILY_COL].astype(object)
    for i, r in user.iterrows():
        m = r[MODEL_COL]
        if m not in known.index:
            continue
        filled = []
        if pd.isna(r[FAMILY_COL]):
            user.at[i, FAMILY_COL] = known.at[m, FAMILY_COL]
            filled.append("family")
        if pd.isna(r[FLOPS_COL]) and pd.notna(known.at[m, FLOPS_COL]):
            user.at[i, FLOPS_COL] = float(known.at[m, FLOPS_COL])
            filled.append("FLOPs")
        if filled:
            notes.append(f"{m}: {' and '.join(filled)} taken from the reference table (same model id)")
    user[FAMILY_COL] = user[FAMILY_COL].fillna(NEW_FAMILY).astype(str)
    return user, notes


def _law_setup(t: TaskSpec, ref: pd.DataFrame, user: pd.DataFrame, n_pcs: int
               ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(training frame, user rows in its benchmark naming, fit_law kwargs) as the paper configures the target."""
    from scalescope.observational.analyses import paper_settings

    kind = _kind(t)
    kw = {k: v for k, v in paper_settings(t).items() if k != "split"}  # placement trains on every reference row
    if kind == "emergent":
        frame = D.flops_families_only(D.join_target(ref, D.load_table("obsscaling-emergent"), [t.column]))
    elif kind == "post_training":
        # spec §2.5: imputation and PCA on every model of the table, the regression on those with the target
        frame = D.join_target(ref, D.load_table("obsscaling-post-training"), [t.column])
    else:
        frame = D.instruct_models()
        user = user.rename(columns={"Winograd": "Winogrande"})
    kw = {"n_pcs": n_pcs, "chance": t.chance, "ceiling": t.ceiling, **kw}
    return frame, user, kw


def _predict(law: LawResult, user: pd.DataFrame, n_pcs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(normalised prediction, linear predictor, PC-1 in the law's own space) for the user rows."""
    S = law.capabilities.transform(user)[:, :n_pcs]
    return law.fit.predict(S), law.fit.linear_predictor(S), S[:, 0]


def place(
    models,
    *,
    reference: str = "base",
    meta=None,
    family: str | None = None,
    n_pcs: int = 3,
    targets=None,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
    holdout: bool = False,
    reference_family: str = REFERENCE_FAMILY_BASE,
    progress=None,
) -> PlacementResult:
    """Place models in the reference capability space and predict their downstream targets.

    Parameters
    ----------
    models : path, list of paths, DataFrame or BenchmarkTable
        lm-evaluation-harness output folders or results JSON (v0.3/v0.4), Open LLM Leaderboard v1 result files,
        or CSVs / DataFrames with ``Model`` and reference benchmark columns (see
        :func:`scalescope.data.benchmark_map.read_benchmarks`).
    reference : str
        The reference model set (:data:`scalescope.observational.datasets.REFERENCE_SETS`): ``"base"`` (77
        models), ``"base+preregistered"``, ``"base-all"``, ``"base-sub10b"``.
    meta : path or DataFrame, optional
        ``Model`` + ``Model Family`` / ``FLOPs (1E21)`` / ``Model Size (B)`` / ``Pretraining Data Size (T)`` of the
        placed models. Models whose id is in the authors' table get their family and FLOPs from it when not given.
    family : str, optional
        Family for placed models without one.
    n_pcs : int
        Number of capability PCs K (3 in the paper).
    targets : list of str, optional
        Target keys (default :data:`DEFAULT_TARGETS`: 4 emergent, 3 post-training, 2 agent tasks).
    n_boot : int
        Family-cluster bootstrap replicates per target (0: no intervals).
    level : float
        Interval coverage.
    holdout : bool
        Drop reference models with the same id as a placed model, so they are predicted out of sample.
    reference_family : str
        Family whose PC-1 vs compute line defines equivalent compute (Llama-2).
    progress : tqdm-like, optional
        Updated once per bootstrap replicate.

    Returns
    -------
    PlacementResult

    Examples
    --------
    >>> from scalescope.observational import datasets as D
    >>> base = D.base_models()  # doctest: +SKIP
    >>> mine = base[base.Model == "EleutherAI/pythia-12b-deduped"].assign(Model="my-12b")  # doctest: +SKIP
    >>> res = place(mine, family="Pythia", n_boot=20)  # doctest: +SKIP
    >>> res.params.round(3)  # doctest: +SKIP
    """
    if not 1 <= n_pcs <= len(INSTRUCT_METRICS):
        raise InputError(f"--pcs: must be between 1 and {len(INSTRUCT_METRICS)}, got {n_pcs}")
    if n_boot < 0 or n_boot == 1:
        raise InputError(f"--bootstrap: must be 0 or at least 2 replicates, got {n_boot}")
    if not 0 < level < 1:
        raise InputError(f"level: must be in (0, 1), got {level}")
    keys = tuple(targets) if targets else DEFAULT_TARGETS
    unknown = [k for k in keys if k not in ALL_TASKS]
    if unknown:
        raise InputError(f"--target: unknown task(s) {', '.join(unknown)} (known: {', '.join(ALL_TASKS)})")
    if reference not in D.REFERENCE_SETS or reference == "preregistered":
        raise InputError(f"--reference: {reference!r} is not a reference model set (known: "
                         f"{', '.join(k for k in D.REFERENCE_SETS if k != 'preregistered')})")

    bt = _user_table(models, meta, family)
    warns = list(bt.warnings)
    ref = D.reference_set(reference)
    user, notes = _fill_known(bt.table, D.load_table("obsscaling-base"))
    warns += notes
    names = set(user[MODEL_COL])
    overlap = sorted(names & set(ref[MODEL_COL]))
    if holdout:
        ref = ref.loc[~ref[MODEL_COL].isin(names)].reset_index(drop=True)
    elif overlap:
        warns.append(f"{', '.join(overlap)}: also a reference model; the reference fits keep it (pass holdout to "
                     "predict it out of sample)")
    for _, r in user.iterrows():
        miss = [b for b in BENCHMARKS if pd.isna(r[b])]
        if len(miss) > len(BENCHMARKS) // 2:
            warns.append(f"{r[MODEL_COL]}: only {len(BENCHMARKS) - len(miss)} of {len(BENCHMARKS)} benchmarks "
                         "measured; its placement rests mostly on the reference imputer")

    # 1. the reference capability space
    caps = fit_capabilities(ref, None, BASE_METRICS, n_components=max(5, n_pcs))
    S = caps.transform(user)
    imputed_vals = caps.impute(user)
    pcs = [f"PC-{i + 1}" for i in range(n_pcs)]
    rflops = pd.to_numeric(ref[FLOPS_COL], errors="coerce").to_numpy(dtype=float)
    refm = ref[[MODEL_COL, FAMILY_COL]].assign(**{FLOPS_COL: rflops})
    for j, p in enumerate(pcs):
        refm[p] = caps.scores_train[:, j]

    place_tab = user[[MODEL_COL, FAMILY_COL, FLOPS_COL]].copy().reset_index(drop=True)
    for j, p in enumerate(pcs):
        place_tab[p] = S[:, j]
    miss = user[list(BASE_METRICS)].isna().to_numpy()
    place_tab["imputed"] = [", ".join(b for b, m in zip(BASE_METRICS, row, strict=True) if m) for row in miss]
    for j, b in enumerate(BASE_METRICS):
        place_tab[f"{b} (used)"] = imputed_vals[:, j]
    for _, r in place_tab[place_tab["imputed"] != ""].iterrows():
        warns.append(f"{r[MODEL_COL]}: {r['imputed']} not measured; imputed with the reference PCA imputer "
                     "(spec §1.3) and flagged")

    # 2. family lines (PC-1 vs log10 FLOPs): reference families, then new families among the placed models
    fits = family_compute_fits(refm["PC-1"], rflops, refm[FAMILY_COL], metric="PC-1", min_models=2).families
    fits = fits.assign(source="reference")
    ufl = place_tab[FLOPS_COL].to_numpy(dtype=float)
    new_fams = [f for f in pd.unique(place_tab[FAMILY_COL]) if f not in set(fits["family"]) and f != NEW_FAMILY]
    if new_fams:
        m = place_tab[FAMILY_COL].isin(new_fams).to_numpy()
        own = family_compute_fits(place_tab.loc[m, "PC-1"], ufl[m], place_tab.loc[m, FAMILY_COL], metric="PC-1",
                                  min_models=2).families.assign(source="placed models")
        fits = pd.concat([fits, own], ignore_index=True)
    ft = fits.set_index("family")
    exp, res_, feq, src = [], [], [], []
    for _, r in place_tab.iterrows():
        f, fl = r[FAMILY_COL], r[FLOPS_COL]
        if f in ft.index and np.isfinite(fl) and np.isfinite(ft.at[f, "slope"]):
            a, c = ft.at[f, "slope"], ft.at[f, "intercept"]
            e = a * np.log10(fl) + c
            exp.append(e), res_.append(r["PC-1"] - e), feq.append((r["PC-1"] - c) / a), src.append(ft.at[f, "source"])
        else:
            exp.append(np.nan), res_.append(np.nan), feq.append(np.nan)
            src.append("" if not np.isfinite(fl) else "no family line (needs 2+ models of the family with FLOPs)")
    place_tab["family_fit"] = src
    place_tab["family_pc1_expected"] = exp
    place_tab["family_pc1_residual"] = res_
    place_tab["family_equiv_log10_flops"] = feq

    # 3. reference-family-equivalent compute on the capability axis (PC-1)
    n_u = len(place_tab)
    eqc = equivalent_compute(np.r_[refm["PC-1"].to_numpy(), place_tab["PC-1"].to_numpy()],
                             np.r_[refm[FAMILY_COL].astype(str).to_numpy(), np.full(n_u, "@placed")],
                             np.r_[rflops, np.full(n_u, np.nan)], reference_family, strict=True)
    equivalence = {"axis": "PC-1", **eqc.to_dict()}
    place_tab["equiv_log10_flops"] = eqc.x_log10[len(refm):]
    place_tab["log10_efficiency"] = place_tab["equiv_log10_flops"] - np.log10(ufl)

    # 4. targets: one law each, fitted on all reference models with the target; family-cluster bootstrap
    rows, entries, laws = [], [], {}
    for k in keys:
        t = ALL_TASKS[k]
        frame, urows, kw = _law_setup(t, ref, user, n_pcs)
        if holdout:
            frame = frame.loc[~frame[MODEL_COL].isin(names)].reset_index(drop=True)
        law = fit_law(frame, t.column, **kw)
        laws[k] = law
        yn, z, pc1 = _predict(law, urows, n_pcs)
        lo = hi = np.full(len(user), np.nan)
        if n_boot:
            def stat(d, urows=urows, kw=kw, col=t.column):
                r = fit_law(d, col, **kw)
                if progress is not None:
                    progress.update(1)
                return _predict(r, urows, n_pcs)[0]

            b = cluster_bootstrap(frame, stat, clusters=FAMILY_COL, n_boot=n_boot, ci=level, random_state=seed)
            lo, hi = np.atleast_1d(b.ci_low), np.atleast_1d(b.ci_high)
        scale = t.ceiling - t.chance
        trained = law.predictions.loc[law.predictions["split"] == "train"]
        pc_range = (np.nanmin(trained["PC1"]), np.nanmax(trained["PC1"]))
        eq = law.equivalent
        for i, m in enumerate(user[MODEL_COL]):
            rows.append({
                MODEL_COL: m, "target": k, "label": t.label, "column": t.column, "kind": _kind(t),
                "y_pred": t.chance + scale * yn[i], "y_pred_lo": t.chance + scale * lo[i],
                "y_pred_hi": t.chance + scale * hi[i], "y_pred_normalised": yn[i], "lo_normalised": lo[i],
                "hi_normalised": hi[i], "z": z[i],
                "x_equiv_log10": (z[i] - eq.intercept) / eq.slope if eq is not None else np.nan,
                "extrapolated": bool(pc1[i] < pc_range[0] or pc1[i] > pc_range[1]), "n_train": law.n_train,
            })
        entries.append({
            "task": k, "target": t.column, "chance": t.chance, "ceiling": t.ceiling, "n_pcs": n_pcs,
            "link": law.link, "loss": law.loss, "n_train": law.n_train, "params": law.fit.params.tolist(),
            "reference": reference, "holdout": holdout, "level": level, "n_boot": n_boot,
            "predictions": [{"Model": m, "y_pred_normalised": float(yn[i]), "y_pred": float(t.chance + scale * yn[i]),
                             "y_pred_lo": float(t.chance + scale * lo[i]), "y_pred_hi": float(t.chance + scale * hi[i])}
                            for i, m in enumerate(user[MODEL_COL])],
        })
    if any(ALL_TASKS[k] in AGENT_TASKS for k in keys):
        warns.append("agent targets (AgentBench, AgentBoard) are fitted on 27 instruct/API models with 7 benchmarks "
                     "(spec §2.4); a base model's prediction lies outside that population")
    preds = pd.DataFrame(rows)
    ext = preds[preds["extrapolated"]]
    for m, g in ext.groupby(MODEL_COL, sort=False):
        warns.append(f"{m}: PC-1 outside the range the laws were fitted on for {', '.join(g['target'])} "
                     "(extrapolation)")
    payload = make_payload(entries, ", ".join(bt.sources) or "table")
    return PlacementResult(
        reference=reference, n_pcs=n_pcs, metrics=tuple(BASE_METRICS), placements=place_tab, predictions=preds,
        reference_models=refm, family_fits=fits, equivalence=equivalence, benchmarks=bt, warnings=tuple(warns),
        preregistration=payload, n_boot=n_boot, level=level, holdout=holdout, capabilities=caps, laws=laws,
    )



__all__ = ["ALL_TASKS", "DEFAULT_TARGETS", "PlacementResult", "place"]


def write_placement(res: PlacementResult, out, *, overwrite: bool = False, command: str = "obs place", inputs=()):
    """Write a placement to ``out`` under the output contract; returns the folder.

    Files: ``placement.json`` (everything, warnings included), ``placements.csv``, ``predictions.csv``,
    ``provenance.csv`` (where each benchmark value came from), ``preregistration.json`` (sha256 + UTC timestamp;
    score it later with ``scalescope obs score``), ``placement.png``, ``predictions.png`` and ``section.json``.
    """
    from pathlib import Path

    from scalescope.outputs import output_dir, write_csv
    from scalescope.report.figures import place as F
    from scalescope.report.section import write_section
    from scalescope.report.style import new_figure, savefig
    from scalescope.results import write_json

    with output_dir(out, command=command, overwrite=overwrite, inputs=inputs) as d:
        d = Path(d)
        write_json(res.to_dict(), d / "placement.json")
        write_json(res.preregistration, d / "preregistration.json")
        write_csv(res.placements, d / "placements.csv", index=False)
        write_csv(res.predictions, d / "predictions.csv", index=False)
        write_csv(res.benchmarks.provenance, d / "provenance.csv", index=False)
        fig, ax = new_figure(width=6.4, height=4.4)
        F.plot_placement(res, ax)
        figs = [(savefig(fig, d / "placement.png"),
                 "Placed models (stars) among the reference models: PC-1 vs log10 FLOPs by family, dashed per-family "
                 "lines; a hollow star has no FLOPs and sits at its reference-family-equivalent compute.")]
        n_t = res.predictions["target"].nunique()
        fig, ax = new_figure(width=6.0, height=0.35 * n_t * max(1, len(res.placements)) ** 0.5 + 1.4)
        F.plot_place_predictions(res, ax)
        figs.append((savefig(fig, d / "predictions.png"),
                     f"Predicted targets (normalised) with {res.level:.0%} family-cluster bootstrap intervals."))
        pcs = [f"PC-{i + 1}" for i in range(res.n_pcs)]
        lines = []
        for _, r in res.placements.iterrows():
            eq = r["equiv_log10_flops"]
            lines.append(f"{r[MODEL_COL]}: " + ", ".join(f"{p} {r[p]:.3f}" for p in pcs)
                         + (f"; {res.equivalence['reference_family']}-equivalent compute 10^{eq:.2f} x 1e21 FLOPs"
                            if np.isfinite(eq) else "")
                         + (f"; imputed: {r['imputed']}" if r["imputed"] else ""))
        summary = (f"{len(res.placements)} model(s) placed in the '{res.reference}' capability space "
                   f"({len(res.reference_models)} reference models, K={res.n_pcs}).\n" + "\n".join(lines)
                   + ("\nWarnings:\n" + "\n".join(res.warnings) if res.warnings else ""))
        write_section(d, title="Your models in the capability space", kind="obs", summary=summary, figures=figs,
                      tables=[(d / "placements.csv", "Placed models: PCs, imputed benchmarks, compute position."),
                              (d / "predictions.csv", "Predictions per model and target (raw scale, intervals)."),
                              (d / "provenance.csv", "Where each benchmark value came from (task, metric, shots).")],
                      metrics={"models": len(res.placements), "targets": int(n_t), "warnings": len(res.warnings),
                               "preregistration_sha256": res.preregistration["sha256"][:16]}, order=27)
    return Path(out)
