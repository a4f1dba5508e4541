"""Map evaluation outputs onto the eight benchmarks of the reference capability table (spec ``obsscaling.md`` §1.2).

The observational capability space (Ruan, Maddison & Hashimoto 2024, Sec 3.2) is the PCA of eight scores per model:
MMLU, ARC-C, HellaSwag, Winograd (WinoGrande), TruthfulQA, GSM8K, XWinograd, HumanEval. A user's model can only be
placed in that space if each of its numbers was measured the way the reference table's were: same task, same metric,
same number of shots, same scale. This module declares how each benchmark was measured (:data:`REFERENCE_BENCHMARKS`)
and turns lm-evaluation-harness results (v0.3, v0.4), Open LLM Leaderboard v1 result files or a wide CSV into one
row per model with those eight columns, a provenance table and the list of deviations.

Where the protocol comes from (see also ``research/obsscaling.md`` §1.2 and ``data/obsscaling/SOURCE.md``):

- ObsScaling README ("Collecting Additional Benchmark Results", commit 4d6e1e4): MMLU, ARC-C, HellaSwag, Winograd,
  TruthfulQA (and GSM8K) are taken from the Open LLM Leaderboard v1 or re-run with lm-eval-harness @b281b09 under
  its protocol; XWinograd with lm-eval-harness @f78e2da; HumanEval with EvalPlus @477eab3.
- Open LLM Leaderboard v1 documentation (huggingface/leaderboards ``open_llm_leaderboard/archive.md``): ARC 25-shot
  ``acc_norm``; HellaSwag 10-shot ``acc_norm``; TruthfulQA 0-shot ``mc2``; MMLU 5-shot, the average of ``acc`` over
  the 57 ``hendrycksTest-*`` subjects (unweighted); Winogrande 5-shot ``acc``; GSM8K 5-shot ``acc``. The leaderboard
  discarded MMLU results of task version 0 (its result parser skips them).
- lm-eval-harness @f78e2da (``lm_eval/tasks/xwinograd``, ``evaluator.py``): the ``xwinograd`` group score is the
  mean of ``acc`` over en, fr, jp, pt, ru, zh weighted by each language's number of test items, 0-shot.
  That the reference used the group score rather than English alone is not restated upstream [unconfirmed].
- HumanEval: EvalPlus greedy pass@1 on the base HumanEval tests (most reference values are k/164). The closest
  harness task is v0.4 ``humaneval`` (greedy, ``pass@1`` with the ``create_test`` filter, 0-shot).

Deviations are reported, never silently accepted: a different shot count or a fallback metric becomes a warning; a
missing benchmark is left NaN (the capability space imputes it with the reference imputer and flags it); a task
present without any usable metric, one benchmark measured twice at the same shot count, or percent and fraction
values mixed in one input is an :class:`~scalescope.errors.InputError` naming the input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scalescope.data.lm_eval import result_rows, rows_to_frame
from scalescope.data.validate import check_numeric, check_unique, load_json, read_csv_strict
from scalescope.errors import InputError
from scalescope.results import Result

KEY = "Model"
FAMILY = "Model Family"
FLOPS = "FLOPs (1E21)"
SIZE = "Model Size (B)"
TOKENS = "Pretraining Data Size (T)"
META_COLUMNS = (FAMILY, SIZE, TOKENS, FLOPS)

#: The 57 MMLU subjects (hendrycksTest-<subject> in v0.3 and the leaderboard, mmlu_<subject> in v0.4).
MMLU_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge", "college_biology",
    "college_chemistry", "college_computer_science", "college_mathematics", "college_medicine", "college_physics",
    "computer_security", "conceptual_physics", "econometrics", "electrical_engineering", "elementary_mathematics",
    "formal_logic", "global_facts", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
    "high_school_european_history", "high_school_geography", "high_school_government_and_politics",
    "high_school_macroeconomics", "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
    "high_school_psychology", "high_school_statistics", "high_school_us_history", "high_school_world_history",
    "human_aging", "human_sexuality", "international_law", "jurisprudence", "logical_fallacies", "machine_learning",
    "management", "marketing", "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law", "professional_medicine",
    "professional_psychology", "public_relations", "security_studies", "sociology", "us_foreign_policy", "virology",
    "world_religions",
)  # fmt: skip

#: XWinograd test items per language (Muennighoff/xwinograd; the sizes agree with its test files' byte counts).
#: Used to weight the languages only when a v0.4 file does not carry ``n-samples``.
XWINOGRAD_SIZES: dict[str, int] = {"en": 2325, "fr": 83, "jp": 959, "pt": 263, "ru": 315, "zh": 504}


@dataclass(frozen=True)
class Measure:
    """One accepted way of reading a benchmark: a harness task, its metric and filter."""

    task: str
    metric: str
    filter: str = "none"
    exact: bool = True  # False: accepted as a fallback, with a metric warning


@dataclass(frozen=True)
class BenchmarkSpec:
    """How the reference table measured one capability benchmark, and how to find it in evaluation outputs.

    ``aggregate`` is ``"task"`` (one task), ``"mmlu"`` (unweighted mean of ``acc`` over the 57 subjects) or
    ``"xwinograd"`` (item-weighted mean of ``acc`` over the six languages). ``multiple_choice`` benchmarks can never
    score at or below 1 % (chance is 25-50 %), which is what tells percent from fraction.
    """

    name: str
    n_shot: int
    metric: str
    measures: tuple[Measure, ...]
    source: str
    aggregate: str = "task"
    multiple_choice: bool = True


def _m(task, metric, filt="none", exact=True) -> Measure:
    return Measure(task, metric, filt, exact)


#: The eight benchmarks of the reference table, in its column order (spec §1.2).
REFERENCE_BENCHMARKS: tuple[BenchmarkSpec, ...] = (
    BenchmarkSpec(
        "MMLU", 5, "acc (mean over 57 subjects)",
        (_m("mmlu_{s}", "acc"), _m("hendrycksTest-{s}", "acc"), _m("mmlu", "acc", exact=False)),
        "Open LLM Leaderboard v1: 5-shot, unweighted mean of acc over the 57 hendrycksTest subjects",
        aggregate="mmlu"),
    BenchmarkSpec(
        "ARC-C", 25, "acc_norm",
        (_m("arc_challenge", "acc_norm"), _m("arc:challenge", "acc_norm"), _m("arc_challenge", "acc", exact=False),
         _m("arc:challenge", "acc", exact=False)),
        "Open LLM Leaderboard v1: arc_challenge, 25-shot, acc_norm"),
    BenchmarkSpec(
        "HellaSwag", 10, "acc_norm",
        (_m("hellaswag", "acc_norm"), _m("hellaswag", "acc", exact=False)),
        "Open LLM Leaderboard v1: hellaswag, 10-shot, acc_norm"),
    BenchmarkSpec(
        "Winograd", 5, "acc", (_m("winogrande", "acc"),),
        "Open LLM Leaderboard v1: winogrande, 5-shot, acc"),
    BenchmarkSpec(
        "TruthfulQA", 0, "mc2",
        (_m("truthfulqa_mc2", "acc"), _m("truthfulqa_mc", "mc2"), _m("truthfulqa:mc", "mc2"),
         _m("truthfulqa_mc1", "acc", exact=False), _m("truthfulqa_mc", "mc1", exact=False),
         _m("truthfulqa:mc", "mc1", exact=False)),
        "Open LLM Leaderboard v1: truthfulqa:mc, 0-shot, mc2 (v0.4: truthfulqa_mc2 acc)"),
    BenchmarkSpec(
        "GSM8K", 5, "acc (strict '#### answer' match)",
        (_m("gsm8k", "exact_match", "strict-match"), _m("gsm8k", "acc"),
         _m("gsm8k", "exact_match", "flexible-extract", exact=False)),
        "Open LLM Leaderboard v1: gsm8k, 5-shot, acc (v0.4: exact_match with the strict-match filter)",
        multiple_choice=False),
    BenchmarkSpec(
        "XWinograd", 0, "acc (item-weighted mean over en, fr, jp, pt, ru, zh)",
        (_m("xwinograd", "acc"), _m("xwinograd_{s}", "acc")),
        "lm-eval-harness @f78e2da: xwinograd group, 0-shot, acc weighted by items per language",
        aggregate="xwinograd"),
    BenchmarkSpec(
        "HumanEval", 0, "pass@1 (greedy)",
        (_m("humaneval", "pass@1", "create_test"), _m("humaneval", "pass@1"),
         _m("humaneval_plus", "pass@1", "create_test", exact=False)),
        "EvalPlus @477eab3 greedy pass@1 on HumanEval (harness: v0.4 humaneval, pass@1, create_test, 0-shot)",
        multiple_choice=False),
)
BENCHMARKS: tuple[str, ...] = tuple(b.name for b in REFERENCE_BENCHMARKS)
#: Column names accepted in a CSV for a reference benchmark (the instruct table says Winogrande).
CSV_ALIASES = {"Winogrande": "Winograd", "WinoGrande": "Winograd", "ARC-Challenge": "ARC-C", "GSM8k": "GSM8K"}


def spec(name: str) -> BenchmarkSpec:
    """The :class:`BenchmarkSpec` of a reference benchmark by column name."""
    for b in REFERENCE_BENCHMARKS:
        if b.name == name:
            return b
    raise InputError(f"benchmark: {name!r} is not a reference benchmark ({', '.join(BENCHMARKS)})")


@dataclass(frozen=True)
class BenchmarkTable(Result):
    """User models on the reference benchmarks: the wide ``table``, where each value came from, and the warnings.

    Attributes
    ----------
    table : DataFrame
        ``Model``, metadata columns when known (``Model Family``, ``FLOPs (1E21)``, ...) and the eight benchmark
        columns as fractions (NaN where not measured).
    provenance : DataFrame
        One row per (model, benchmark): value, task, metric, filter, n_shot, reference_n_shot, source_file, format,
        status (``ok``, ``shots``, ``metric``, ``missing``) and a note.
    warnings : tuple of str
        Every deviation from the reference protocol, one line each.
    sources : tuple of str
        The inputs read.
    """

    table: pd.DataFrame
    provenance: pd.DataFrame
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def models(self) -> list[str]:
        return self.table[KEY].astype(str).tolist()

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def missing(self) -> dict[str, list[str]]:
        """Benchmarks not measured, per model."""
        p = self.provenance
        miss = p[p["status"] == "missing"]
        return {m: g["benchmark"].tolist() for m, g in miss.groupby("Model", sort=False)}

    def summary(self) -> str:
        lines = [f"BenchmarkTable: {len(self.table)} model(s) from {len(self.sources)} input(s)"]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------------
def _json_files(path: Path) -> list[Path]:
    files = sorted(path.rglob("results_*.json")) or sorted(path.rglob("*.json"))
    if not files:
        raise InputError(f"{path}: no results_*.json (or any .json) files found under this directory")
    return files


def _long_rows(paths: Sequence[Path]) -> pd.DataFrame:
    rows: list[dict] = []
    for p in paths:
        if p.is_dir():
            for f in _json_files(p):
                label = f.as_posix()
                rows.extend(result_rows(load_json(f, label=label), label=label))
        else:
            rows.extend(result_rows(load_json(p, label=str(p)), label=str(p)))
    return rows_to_frame(rows)


def read_benchmarks(inputs, *, meta=None) -> BenchmarkTable:
    """Read evaluation outputs (any mix of formats) into a :class:`BenchmarkTable` on the reference benchmarks.

    Parameters
    ----------
    inputs : path, DataFrame, or a list of them
        lm-evaluation-harness output folders (searched recursively for ``results_*.json``), results JSON files
        (v0.4, v0.3 or Open LLM Leaderboard v1), or CSVs with ``Model`` and benchmark columns named as in the
        reference table (fractions or percent). A DataFrame is taken as such a wide table.
    meta : path or DataFrame, optional
        ``Model`` plus any of ``Model Family``, ``FLOPs (1E21)``, ``Model Size (B)``, ``Pretraining Data Size (T)``;
        FLOPs default to ``6 · size · tokens`` (spec §1.5) when both are given.

    Returns
    -------
    BenchmarkTable

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "results_2024.json").write_text(json.dumps({
    ...     "results": {"arc_challenge": {"acc_norm,none": 0.41, "alias": "arc_challenge"},
    ...                 "winogrande": {"acc,none": 0.66, "alias": "winogrande"}},
    ...     "n-shot": {"arc_challenge": 25, "winogrande": 0}, "model_name": "me/my-model"}))
    >>> bt = read_benchmarks(d)
    >>> bt.table[["Model", "ARC-C", "Winograd"]].to_dict("records")
    [{'Model': 'me/my-model', 'ARC-C': 0.41, 'Winograd': 0.66}]
    >>> print(bt.warnings[0])
    me/my-model: Winograd measured 0-shot (results_2024.json), the reference table used 5-shot
    """
    items = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
    if not items:
        raise InputError("RESULTS: no input given (an lm-eval output folder, a results JSON or a CSV)")
    frames, provs, warns, sources, json_paths = [], [], [], [], []
    for it in items:
        if isinstance(it, pd.DataFrame):
            t, pv, w = _from_wide(it, label="table")
            frames.append(t), provs.append(pv), warns.extend(w), sources.append("table")
            continue
        p = Path(it)
        if not p.exists():
            raise InputError(f"{p}: no such file or directory")
        sources.append(str(p))
        if p.is_file() and p.suffix.lower() == ".csv":
            t, pv, w = _from_wide(_read_wide_csv(p), label=p.name)
            frames.append(t), provs.append(pv), warns.extend(w)
        else:
            json_paths.append(p)
    if json_paths:
        t, pv, w = map_results(_long_rows(json_paths), base=_common_base(json_paths))
        frames.append(t), provs.append(pv), warns.extend(w)
    table = pd.concat(frames, ignore_index=True)
    dup = table[KEY][table[KEY].duplicated()]
    if len(dup):
        raise InputError(f"model {dup.iloc[0]!r} appears twice (in more than one input); give each model once")
    prov = pd.concat(provs, ignore_index=True)
    if meta is not None:
        table = _apply_meta(table, meta)
    return BenchmarkTable(table=table.reset_index(drop=True), provenance=prov, warnings=tuple(warns),
                          sources=tuple(sources))


class EvaluationProtocolWarning(UserWarning):
    """A user's evaluation deviates from the reference protocol (shots, metric, task version, missing benchmark)."""


def is_evaluation_output(spec) -> bool:
    """Whether ``spec`` names an evaluation output to map: a folder, or a ``.json`` results / leaderboard file."""
    p = Path(str(spec))
    return p.is_dir() or (p.suffix.lower() == ".json" and p.exists())


def read_benchmark_table(spec, *, drop_empty: bool = False) -> pd.DataFrame:
    """The wide table of :func:`read_benchmarks` for commands that take a table (``obs fit --benchmarks``, ``obs
    predict --models``); every protocol deviation is issued as an :class:`EvaluationProtocolWarning`.

    ``drop_empty`` drops benchmark columns no model has (a capability PCA fitted on these rows cannot use them).

    Examples
    --------
    >>> import json, tempfile, pathlib, warnings
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "results_1.json").write_text(json.dumps({"results": {"hellaswag": {"acc_norm,none": 0.6}},
    ...     "n-shot": {"hellaswag": 0}, "model_name": "me/m"}))
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     t = read_benchmark_table(d, drop_empty=True)
    >>> list(t.columns), str(w[0].message)
    (['Model', 'HellaSwag'], 'me/m: HellaSwag measured 0-shot (results_1.json), the reference table used 10-shot')
    """
    import warnings

    bt = read_benchmarks(spec)
    for w in bt.warnings:
        warnings.warn(w, EvaluationProtocolWarning, stacklevel=2)
    t = bt.table
    if drop_empty:
        t = t.drop(columns=[b for b in BENCHMARKS if b in t.columns and t[b].isna().all()])
    return t


def _common_base(paths: Sequence[Path]) -> Path | None:
    dirs = [p if p.is_dir() else p.parent for p in paths]
    try:
        return Path(*Path(dirs[0]).parts[: min(len(d.parts) for d in dirs)]) if len(dirs) == 1 else None
    except TypeError:
        return None


def _short(label: str, base: Path | None) -> str:
    if base is not None:
        try:
            return Path(label).relative_to(base).as_posix()
        except ValueError:
            pass
    return Path(label).name


# ---------------------------------------------------------------------------------------------------------------
# lm-eval / leaderboard long rows -> the eight benchmarks
# ---------------------------------------------------------------------------------------------------------------
def _model_labels(rows: pd.DataFrame) -> pd.Series:
    """``model``, or ``model@revision`` when one model comes with several revisions (checkpoints)."""
    revs = rows.groupby("model")["revision"].nunique()
    multi = set(revs[revs > 1].index)
    return pd.Series(np.where(rows["model"].isin(multi), rows["model"] + "@" + rows["revision"], rows["model"]),
                     index=rows.index)


def _candidates(rows: pd.DataFrame, b: BenchmarkSpec) -> list[dict]:
    """Every measurement of ``b`` in ``rows`` (one model): dicts with value, task, metric, n_shot, file, exact."""
    out = []
    for meas in b.measures:
        if "{s}" in meas.task:
            subs = MMLU_SUBJECTS if b.aggregate == "mmlu" else tuple(XWINOGRAD_SIZES)
            names = {meas.task.format(s=s): s for s in subs}
            sel = rows[rows["task"].isin(names) & (rows["metric"] == meas.metric) & (rows["filter"] == meas.filter)
                       & ~rows["is_group"]]
            for (src, shot), g in sel.groupby(["source_file", "n_shot"], dropna=False, sort=False):
                g = g[np.isfinite(g["value"])]
                if not len(g):
                    continue
                parts = dict(zip(g["task"].map(names), g["value"], strict=True))
                out.append({"value": parts, "task": meas.task.replace("{s}", "*"), "metric": meas.metric,
                            "filter": meas.filter, "n_shot": shot, "source_file": src, "exact": meas.exact,
                            "format": g["format"].iloc[0], "version": g["task_version"].iloc[0],
                            "n_samples": dict(zip(g["task"].map(names), g["n_samples"], strict=True)),
                            "group": False})
        else:
            sel = rows[(rows["task"] == meas.task) & (rows["metric"] == meas.metric) & (rows["filter"] == meas.filter)]
            for _, r in sel.iterrows():
                if np.isfinite(r["value"]):
                    out.append({"value": float(r["value"]), "task": meas.task, "metric": meas.metric,
                                "filter": meas.filter, "n_shot": r["n_shot"], "source_file": r["source_file"],
                                "exact": meas.exact, "format": r["format"], "version": r["task_version"],
                                "n_samples": None, "group": bool(r["is_group"])})
    return out


def _present_tasks(rows: pd.DataFrame, b: BenchmarkSpec) -> pd.DataFrame:
    """Rows of tasks that belong to ``b`` (whatever their metric): to tell 'no usable metric' from 'not run'."""
    names = set()
    for meas in b.measures:
        if "{s}" in meas.task:
            subs = MMLU_SUBJECTS if b.aggregate == "mmlu" else tuple(XWINOGRAD_SIZES)
            names |= {meas.task.format(s=s) for s in subs}
        else:
            names.add(meas.task)
    return rows[rows["task"].isin(names)]


def _shot(x) -> int | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA else int(x)


def _aggregate(c: dict, b: BenchmarkSpec, notes: list[str]) -> float:
    v = c["value"]
    if not isinstance(v, dict):
        return float(v)
    if b.aggregate == "mmlu":
        if len(v) < len(MMLU_SUBJECTS):
            notes.append(f"MMLU averaged over {len(v)} of {len(MMLU_SUBJECTS)} subjects")
        return float(np.mean(list(v.values())))
    # XWinograd: weight by items per language (from the file when it says, else the dataset's sizes)
    ns = c["n_samples"] or {}
    w = np.array([float(ns[k]) if ns.get(k) is not None and ns[k] is not pd.NA else XWINOGRAD_SIZES[k] for k in v])
    if len(v) < len(XWINOGRAD_SIZES):
        notes.append(f"XWinograd from {len(v)} of {len(XWINOGRAD_SIZES)} languages ({', '.join(sorted(v))})")
    return float(np.dot(w, list(v.values())) / w.sum())


def _choose(cands: list[dict], b: BenchmarkSpec, model: str) -> dict:
    """The measurement to use: exact metric before fallbacks, the reference shot count before others, subtasks
    (MMLU subjects, XWinograd languages) before a group score; two at the same rank are a duplicate."""
    def rank(c):
        shot = _shot(c["n_shot"])
        return (0 if c["exact"] else 1,
                0 if shot == b.n_shot else 1 if shot is None else 2,
                abs((shot if shot is not None else b.n_shot) - b.n_shot),
                1 if c["group"] else 0)

    cands = sorted(cands, key=rank)
    best = cands[0]
    ties = [c for c in cands[1:] if rank(c) == rank(best) and c["task"] == best["task"]]
    if ties:
        files = sorted({best["source_file"], *(c["source_file"] for c in ties)})
        shot = _shot(best["n_shot"])
        where = " and ".join(files) if len(files) > 1 else f"{files[0]} (twice)"
        raise InputError(f"model {model!r} appears twice: {where} both report {best['task']} "
                         f"{'' if shot is None else f'{shot}-shot '}({b.name}); keep one results file per model")
    return best


def map_results(rows: pd.DataFrame, *, base: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Long rows of :func:`scalescope.data.lm_eval.read_lm_eval` -> (wide table, provenance, warnings).

    Examples
    --------
    >>> from scalescope.data.lm_eval import parse_results
    >>> obj = {"results": {"harness|hellaswag|10": {"acc": 0.5, "acc_norm": 0.7}},
    ...        "config_general": {"model_name": "org/m"}}
    >>> table, prov, warns = map_results(parse_results(obj, label="results_x.json"))
    >>> float(table.loc[0, "HellaSwag"]), prov.loc[prov.benchmark == "HellaSwag", "status"].item(), warns
    (0.7, 'ok', [])
    """
    if not len(rows):
        raise InputError("RESULTS: the results files hold no metric values")
    rows = rows.assign(label=_model_labels(rows))
    records, prov, warns = [], [], []
    for model, g in rows.groupby("label", sort=False):
        rec = {KEY: model}
        for b in REFERENCE_BENCHMARKS:
            cands = _candidates(g, b)
            if not cands:
                present = _present_tasks(g, b)
                if len(present):
                    src = _short(present["source_file"].iloc[0], base)
                    task = present["task"].iloc[0]
                    found = sorted(set(present["metric"]) - {""})
                    raise InputError(f"{src}: task {task!r} has no usable metric for {b.name} (expected "
                                     f"{' or '.join(sorted({m.metric for m in b.measures}))}; found "
                                     f"{', '.join(found) if found else 'no numeric value'})")
                rec[b.name] = np.nan
                prov.append({KEY: model, "benchmark": b.name, "value": np.nan, "task": "", "metric": "",
                             "filter": "", "n_shot": None, "reference_n_shot": b.n_shot, "source_file": "",
                             "format": "", "status": "missing", "note": "not measured: imputed when placed"})
                continue
            c = _choose(cands, b, model)
            notes: list[str] = []
            value = _aggregate(c, b, notes)
            src = _short(c["source_file"], base)
            status = "ok"
            shot = _shot(c["n_shot"])
            if shot is None:
                notes.append(f"shot count not recorded (reference: {b.n_shot}-shot)")
            elif shot != b.n_shot:
                status = "shots"
                warns.append(f"{model}: {b.name} measured {shot}-shot ({src}), the reference table used "
                             f"{b.n_shot}-shot")
            if not c["exact"]:
                status = "metric" if status == "ok" else status
                what = f"{c['task']} {c['metric']}" + (f" ({c['filter']})" if c["filter"] != "none" else "")
                warns.append(f"{model}: {b.name} read from {what} ({src}); the reference table used {b.metric}")
            if b.aggregate == "mmlu" and str(c["version"]) == "0" and c["format"] in ("v0.3", "leaderboard-v1"):
                status = "metric" if status == "ok" else status
                warns.append(f"{model}: MMLU from hendrycksTest version 0 ({src}); the Open LLM Leaderboard "
                             "discarded version-0 MMLU (its prompt changed in version 1), so it is not the "
                             "reference measurement")
            for n in notes:
                if n.startswith(("MMLU averaged", "XWinograd from")):
                    status = "metric" if status == "ok" else status
                    warns.append(f"{model}: {n} ({src})")
            rec[b.name] = value
            prov.append({KEY: model, "benchmark": b.name, "value": value, "task": c["task"], "metric": c["metric"],
                         "filter": c["filter"], "n_shot": shot, "reference_n_shot": b.n_shot, "source_file": src,
                         "format": c["format"], "status": status, "note": "; ".join(notes)})
        records.append(rec)
    table = pd.DataFrame(records, columns=[KEY, *BENCHMARKS])
    prov = pd.DataFrame(prov)
    table, warns2 = _check_scale(table, prov, label_of=lambda m: _files_of(prov, m))
    if table[list(BENCHMARKS)].isna().all(axis=1).any():
        m = table.loc[table[list(BENCHMARKS)].isna().all(axis=1), KEY].iloc[0]
        raise InputError(f"model {m!r}: none of the eight reference benchmarks ({', '.join(BENCHMARKS)}) is in its "
                         "results")
    return table, prov, [*warns2, *warns]


def _files_of(prov: pd.DataFrame, model: str) -> str:
    f = sorted({s for s in prov.loc[prov[KEY] == model, "source_file"] if s})
    return ", ".join(f) if f else model


# ---------------------------------------------------------------------------------------------------------------
# percent vs fraction
# ---------------------------------------------------------------------------------------------------------------
def _check_scale(table: pd.DataFrame, prov: pd.DataFrame | None, *, label_of) -> tuple[pd.DataFrame, list[str]]:
    """Detect percent per input and convert to fractions; a mix of both in one input is an error.

    A multiple-choice benchmark (chance 25-50 %) reads above 1 in percent and at most 1 as a fraction, so those
    decide; 0 fits both. GSM8K and HumanEval can be below 1 % and follow the input's scale.
    """
    warns = []
    table = table.copy()
    mc = [b.name for b in REFERENCE_BENCHMARKS if b.multiple_choice]
    for i, row in table.iterrows():
        vals = {b: row[b] for b in BENCHMARKS if b in table.columns and pd.notna(row[b])}
        where = label_of(row[KEY])
        for b, v in vals.items():
            if v < 0 or v > 100:
                raise InputError(f"{where}: {row[KEY]} {b} = {v:g} is neither a fraction in [0, 1] nor a percent")
        mcv = {b: v for b, v in vals.items() if b in mc and v != 0}
        big = {b: v for b, v in mcv.items() if v > 1}
        small = {b: v for b, v in mcv.items() if v <= 1}
        if big and small:
            (b1, v1), (b2, v2) = next(iter(big.items())), next(iter(small.items()))
            raise InputError(f"{where}: percent and fraction mixed for {row[KEY]} ({b1} = {v1:g} but "
                             f"{b2} = {v2:g}); use one scale")
        percent = bool(big) or (not mcv and any(v > 1 for v in vals.values()))
        if not percent:
            over = {b: v for b, v in vals.items() if v > 1}
            if over:
                b1, v1 = next(iter(over.items()))
                b2, v2 = next(iter(small.items()))
                raise InputError(f"{where}: percent and fraction mixed for {row[KEY]} ({b1} = {v1:g} but "
                                 f"{b2} = {v2:g}); use one scale")
            continue
        for b in vals:
            table.at[i, b] = vals[b] / 100.0
        if prov is not None:
            sel = (prov[KEY] == row[KEY]) & prov["benchmark"].isin(list(vals))
            prov.loc[sel, "value"] = prov.loc[sel, "value"] / 100.0
        warns.append(f"{row[KEY]}: scores read as percent ({where}) and divided by 100")
    return table, warns


# ---------------------------------------------------------------------------------------------------------------
# wide CSV / DataFrame
# ---------------------------------------------------------------------------------------------------------------
def _read_wide_csv(path: Path) -> pd.DataFrame:
    df = read_csv_strict(path, label=path.name)
    if KEY not in df.columns:
        raise InputError(f"{path.name}: column 'Model' is missing (found: {', '.join(map(str, df.columns))})")
    df.attrs["label"] = path.name
    return df


def _from_wide(df: pd.DataFrame, *, label: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    label = df.attrs.get("label", label)
    df = df.rename(columns={k: v for k, v in CSV_ALIASES.items() if k in df.columns and v not in df.columns})
    if KEY not in df.columns:
        raise InputError(f"{label}: column 'Model' is missing (found: {', '.join(map(str, df.columns))})")
    if df[KEY].isna().any():
        raise InputError(f"{label}: column 'Model' is empty in row {int(df[KEY].isna().to_numpy().argmax()) + 1}")
    df = df.assign(**{KEY: df[KEY].astype(str).str.strip()})
    check_unique(df, KEY, label=label)
    bench = [b for b in BENCHMARKS if b in df.columns]
    if not bench:
        raise InputError(f"{label}: none of the reference benchmark columns ({', '.join(BENCHMARKS)}) is present")
    meta = [c for c in (SIZE, TOKENS, FLOPS) if c in df.columns]
    df = check_numeric(df, [*bench, *meta], label=label, key=KEY)
    table = df[[KEY, *[c for c in META_COLUMNS if c in df.columns]]].copy()
    for b in BENCHMARKS:
        table[b] = df[b].astype(float) if b in df.columns else np.nan
    table, warns = _check_scale(table, None, label_of=lambda m: label)
    prov = []
    for _, r in table.iterrows():
        for b in REFERENCE_BENCHMARKS:
            v = r[b.name]
            prov.append({KEY: r[KEY], "benchmark": b.name, "value": v, "task": b.name if pd.notna(v) else "",
                         "metric": "", "filter": "", "n_shot": None, "reference_n_shot": b.n_shot,
                         "source_file": label, "format": "csv", "status": "ok" if pd.notna(v) else "missing",
                         "note": "CSV: shots and metric not recorded; taken as measured like the reference"
                         if pd.notna(v) else "not measured: imputed when placed"})
    allnan = table[list(BENCHMARKS)].isna().all(axis=1)
    if allnan.any():
        raise InputError(f"{label}: model {table.loc[allnan, KEY].iloc[0]!r} has no benchmark score")
    return table, pd.DataFrame(prov), warns


def _apply_meta(table: pd.DataFrame, meta) -> pd.DataFrame:
    if isinstance(meta, pd.DataFrame):
        m, label = meta.copy(), "meta"
    else:
        p = Path(meta)
        if not p.is_file():
            raise InputError(f"--meta {p}: no such file")
        m, label = read_csv_strict(p, label=p.name), p.name
    if KEY not in m.columns:
        raise InputError(f"{label}: column 'Model' is missing (found: {', '.join(map(str, m.columns))})")
    m = m.assign(**{KEY: m[KEY].astype(str).str.strip()})
    check_unique(m, KEY, label=label)
    cols = [c for c in META_COLUMNS if c in m.columns]
    if not cols:
        raise InputError(f"{label}: none of {', '.join(META_COLUMNS)} is present")
    m = check_numeric(m, [c for c in cols if c != FAMILY], label=label, key=KEY)
    unknown = sorted(set(m[KEY]) - set(table[KEY]))
    if unknown:
        raise InputError(f"{label}: model {unknown[0]!r} is not among the placed models "
                         f"({', '.join(table[KEY].astype(str))})")
    table = table.drop(columns=[c for c in cols if c in table.columns]).merge(m[[KEY, *cols]], on=KEY, how="left")
    return complete_flops(table)


def complete_flops(table: pd.DataFrame) -> pd.DataFrame:
    """Fill ``FLOPs (1E21)`` with ``6 · size(B) · tokens(T)`` where it is missing and both are known (spec §1.5)."""
    if SIZE in table.columns and TOKENS in table.columns:
        derived = 6.0 * pd.to_numeric(table[SIZE], errors="coerce") * pd.to_numeric(table[TOKENS], errors="coerce")
        cur = pd.to_numeric(table[FLOPS], errors="coerce") if FLOPS in table.columns else derived * np.nan
        table = table.assign(**{FLOPS: cur.fillna(derived)})
    return table


# ---------------------------------------------------------------------------------------------------------------
# writing: a reference row as an lm-eval v0.4 results file (round trips, the demo)
# ---------------------------------------------------------------------------------------------------------------
_V04_TASKS = {  # benchmark -> (task, metric key) written for it
    "ARC-C": ("arc_challenge", "acc_norm,none"),
    "HellaSwag": ("hellaswag", "acc_norm,none"),
    "Winograd": ("winogrande", "acc,none"),
    "TruthfulQA": ("truthfulqa_mc2", "acc,none"),
    "GSM8K": ("gsm8k", "exact_match,strict-match"),
    "HumanEval": ("humaneval", "pass@1,create_test"),
}


def to_lm_eval_v04(model: str, scores: dict, *, n_shot: dict | None = None, date: float = 1.7e9) -> dict:
    """An lm-evaluation-harness v0.4 results object for ``model`` with the given reference-benchmark ``scores``.

    The layout is the harness's (``results``, ``groups``, ``group_subtasks``, ``configs``, ``versions``,
    ``n-shot``, ``higher_is_better``, ``n-samples``, ``config``, ``model_name``, ...). MMLU is written as its 57
    subjects (spread symmetrically around the score so their unweighted mean is the score) plus the ``mmlu`` group;
    XWinograd as its six languages plus the group. NaN scores are left out, as a run without that task would be.
    ``n_shot`` overrides the reference shot counts per benchmark (to make mismatched files).

    Examples
    --------
    >>> obj = to_lm_eval_v04("org/m", {"ARC-C": 0.4, "MMLU": 0.3})
    >>> obj["n-shot"]["arc_challenge"], len([t for t in obj["results"] if t.startswith("mmlu_")])
    (25, 57)
    """
    shots = {b.name: b.n_shot for b in REFERENCE_BENCHMARKS} | dict(n_shot or {})
    res, nshot, hib, nsamp, versions, configs, groups, gsub = {}, {}, {}, {}, {}, {}, {}, {}

    def add(task, metrics, k, n, alias=None):
        res[task] = {"alias": alias or task, **metrics}
        for key in list(metrics):
            if not key.split(",")[0].endswith("_stderr"):
                res[task].setdefault(key.replace(",", "_stderr,", 1), "N/A")
        nshot[task] = k
        hib[task] = {key.split(",")[0]: True for key in metrics}
        nsamp[task] = {"original": n, "effective": n}
        versions[task] = 1.0
        configs[task] = {"task": task, "num_fewshot": k, "metadata": {"version": 1.0}}

    for b, (task, key) in _V04_TASKS.items():
        v = scores.get(b)
        if v is not None and np.isfinite(v):
            add(task, {key: float(v)}, shots[b], 1000)
            gsub[task] = []
    v = scores.get("MMLU")
    if v is not None and np.isfinite(v):
        half = len(MMLU_SUBJECTS) // 2
        offs = np.r_[np.linspace(-0.01, 0.01, 2 * half), 0.0] if len(MMLU_SUBJECTS) % 2 else \
            np.linspace(-0.01, 0.01, len(MMLU_SUBJECTS))
        offs = offs - offs.mean()
        for s, o in zip(MMLU_SUBJECTS, offs, strict=True):
            add(f"mmlu_{s}", {"acc,none": float(v + o)}, shots["MMLU"], 100, alias=f"  - {s}")
        res["mmlu"] = {"acc,none": float(v), "acc_stderr,none": "N/A", "alias": "mmlu"}
        groups["mmlu"] = dict(res["mmlu"])
        gsub["mmlu"] = [f"mmlu_{s}" for s in MMLU_SUBJECTS]
        nshot["mmlu"] = shots["MMLU"]
        versions["mmlu"] = 2
    v = scores.get("XWinograd")
    if v is not None and np.isfinite(v):
        for lang, n in XWINOGRAD_SIZES.items():
            add(f"xwinograd_{lang}", {"acc,none": float(v)}, shots["XWinograd"], n, alias=f" - xwinograd_{lang}")
        res["xwinograd"] = {"acc,none": float(v), "acc_stderr,none": "N/A", "alias": "xwinograd"}
        groups["xwinograd"] = dict(res["xwinograd"])
        gsub["xwinograd"] = [f"xwinograd_{lang}" for lang in XWINOGRAD_SIZES]
        nshot["xwinograd"] = shots["XWinograd"]
        versions["xwinograd"] = 1.0
    sanitized = model.replace("/", "__")
    return {
        "results": res, "groups": groups, "group_subtasks": gsub, "configs": configs, "versions": versions,
        "n-shot": nshot, "higher_is_better": hib, "n-samples": nsamp,
        "config": {"model": "hf", "model_args": f"pretrained={model}", "model_num_parameters": None,
                   "model_dtype": "torch.bfloat16", "model_revision": "main", "model_sha": "", "batch_size": "auto",
                   "batch_sizes": [], "device": "cuda:0", "use_cache": None, "limit": None, "bootstrap_iters": 100000,
                   "gen_kwargs": None, "random_seed": 0, "numpy_seed": 1234, "torch_seed": 1234,
                   "fewshot_seed": 1234},
        "git_hash": "", "date": date, "task_hashes": {}, "model_source": "hf", "model_name": model,
        "model_name_sanitized": sanitized, "system_instruction": None, "system_instruction_sha": None,
        "fewshot_as_multiturn": False, "chat_template": None, "chat_template_sha": None,
        "start_time": date, "end_time": date + 1.0, "total_evaluation_time_seconds": "1.0",
    }


def write_lm_eval_v04(out_dir: str | Path, model: str, scores: dict, **kw) -> Path:
    """Write :func:`to_lm_eval_v04` where ``lm_eval --output_path out_dir`` would: ``<out>/<org__name>/results_*.json``."""
    import json

    obj = to_lm_eval_v04(model, scores, **kw)
    d = Path(out_dir) / obj["model_name_sanitized"]
    d.mkdir(parents=True, exist_ok=True)
    p = d / "results_2024-06-01T00-00-00.000000.json"
    from scalescope.outputs import atomic_write_text

    atomic_write_text(p, json.dumps(obj, indent=2) + "\n")
    return p


def describe() -> pd.DataFrame:
    """The declared mapping as a table: benchmark, shots, metric, accepted tasks, provenance."""
    return pd.DataFrame([{"benchmark": b.name, "n_shot": b.n_shot, "metric": b.metric,
                          "tasks": "; ".join(f"{m.task}:{m.metric}" + ("" if m.filter == "none" else f",{m.filter}")
                                             + ("" if m.exact else " (fallback)") for m in b.measures),
                          "source": b.source} for b in REFERENCE_BENCHMARKS])


__all__ = [
    "BENCHMARKS", "BenchmarkSpec", "BenchmarkTable", "EvaluationProtocolWarning", "MMLU_SUBJECTS", "Measure", "REFERENCE_BENCHMARKS",
    "XWINOGRAD_SIZES", "complete_flops", "describe", "is_evaluation_output", "map_results", "read_benchmark_table",
    "read_benchmarks", "spec", "to_lm_eval_v04",
    "write_lm_eval_v04",
]

