"""The canonical long table of emergence results (research/emergence.md §1.4), built from every source.

One row per (source, model, checkpoint, task, subtask, shots, prompt format, metric)::

    source, family, model, params_total, params_nonembed, tokens, train_flops, step, task, subtask, n_shots,
    prompt_format (cloze|mc|generate|cot), metric, metric_kind (hard|soft|loss|lm_loss), value, stderr, n_items,
    chance_level, higher_is_better

Builders convert the data layer's frames (:func:`scalescope.data.load`) for ``olmo-ladder``, ``gadre-scaling``,
``pythia-evals`` and ``obsscaling`` (base + emergent + post-training tables); :func:`from_long_csv` reads any user CSV in
this format (through :func:`scalescope.data.read_long_csv`), so a new source plugs in without code changes.
:func:`load_table` dispatches on a dataset name or a path.

Metric kinds: ``hard`` = all-or-nothing per item (accuracy, exact match); ``soft`` = a graded score of the same
predictions (p(correct), log p(correct), BLEU, Brier as its negation); ``loss`` = task loss (bits per byte of the
answer, perplexity; lower is better); ``lm_loss`` = held-out language-modelling loss of the model (``task="lm"``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from scalescope.data.long import (  # the schema, re-exported under the emergence API names
    COLUMNS,  # noqa: F401
    METRIC_KINDS,  # noqa: F401
    NUMERIC,  # noqa: F401
    PROMPT_FORMATS,  # noqa: F401
    STRING,  # noqa: F401
    canonical_table,
)
from scalescope.errors import InputError

SOURCES = ("olmo-ladder", "gadre-scaling", "pythia-evals", "obsscaling")
#: The canonical table's columns, dtypes and validation live once, in :mod:`scalescope.data.long`; ``finalize`` is
#: :func:`scalescope.data.long.canonical_table` under the name the emergence API has always had.
finalize = canonical_table


# ------------------------------------------------------------------------------------------------- olmo-ladder
# Per-token training FLOPs of the OLMo 2 sizes (upstream olmo/scaling/scaling_laws/utils.py MODEL_FLOPS, quoted in
# olmo-ladder/SOURCE.md); ladder files log cumulative Gflops directly, the 7B/13B files do not.
OLMO_FLOPS_PER_TOKEN = {"190M": 1903391232, "370M": 3443922944, "760M": 6373843968, "1B": 10109071360,
                        "3B": 22970355200, "7B": 49412071424, "13B": 91335915520}
# Runs that make up the scaling family: the 25 ladder runs and the two full target curves. Re-runs and partial
# exports duplicate checkpoints of these and would double-count models.
OLMO_TARGET_RUNS = {"peteish7_eval_full": "7B", "peteish13_eval_full": "13B"}
_OLMO_CHANCE = {"mmlu": 0.25, "hellaswag": 0.25, "arc_easy": 0.25, "arc_challenge": 0.25, "boolq": 0.5,
                "csqa": 0.2, "openbookqa": 0.25, "piqa": 0.5, "socialiqa": 1 / 3, "winogrande": 0.5}
_OLMO_METRIC = re.compile(
    r"^eval/(downstream|downstream_soft|downstream_soft_log|downstream_bpb)/(?P<task>.+?)_(?P<fmt>rc|mc)_5shot_"
    r"(?P<m>len_norm|acc|soft|soft_log|bpb)$"
)


def _olmo_chance(task: str) -> float:
    for k, v in _OLMO_CHANCE.items():
        if task.startswith(k):
            return v
    return float("nan")


def from_olmo_ladder(frame: pd.DataFrame, *, include_reruns: bool = False) -> pd.DataFrame:
    """Canonical rows from ``scalescope.data.load("olmo-ladder")`` (all run files with ``run``/``size`` columns).

    Model = ``OLMo-2-<size>-<multiplier>xC`` for ladder runs, ``OLMo-2-7B`` / ``OLMo-2-13B`` for the targets; one
    row per checkpoint (``step``). Metrics: ``acc`` (hard; cloze = ranked classification, ``mc`` = answer letter),
    ``p_correct`` and ``logp_correct`` (soft), ``bpb`` (task loss), and the 11 LM losses (``task="lm"``).
    """
    f = frame.copy()
    runs = f["run"].astype(str)
    ladder = runs.str.match(r"^\d+[MB]-[\d.]+xC$")
    keep = ladder | runs.isin(list(OLMO_TARGET_RUNS))
    if include_reruns:
        keep |= runs.str.endswith("-rerun")
    f = f[keep].copy()
    runs = f["run"].astype(str)
    size = runs.map(lambda r: OLMO_TARGET_RUNS.get(r, r.split("-")[0]))
    f["__size"] = size.to_numpy()
    f["__model"] = np.where(runs.isin(list(OLMO_TARGET_RUNS)), "OLMo-2-" + size, "OLMo-2-" + runs)
    step = pd.to_numeric(f["_step"], errors="coerce")
    if "throughput/total_tokens" in f:
        tokens = pd.to_numeric(f["throughput/total_tokens"], errors="coerce")
    else:
        tokens = pd.Series(np.nan, index=f.index)
    bs = pd.to_numeric(f.get("batch_size_in_tokens", pd.Series(np.nan, index=f.index)), errors="coerce")
    tokens = tokens.where(tokens.notna(), step * bs)
    per_tok = f["__size"].map(OLMO_FLOPS_PER_TOKEN).astype(float)
    flops = per_tok * tokens
    if "throughput/total_training_Gflops" in f:
        g = pd.to_numeric(f["throughput/total_training_Gflops"], errors="coerce") * 1e9
        flops = g.where(g.notna() & (g > 0), flops)
    params = pd.to_numeric(f["params"], errors="coerce") if "params" in f else pd.Series(np.nan, index=f.index)
    base = pd.DataFrame({
        "source": "olmo-ladder", "family": "OLMo-2", "model": f["__model"].to_numpy(),
        "params_total": params.to_numpy(), "tokens": tokens.to_numpy(), "train_flops": flops.to_numpy(),
        "step": step.to_numpy(),
    })
    base.loc[base["tokens"] <= 0, ["tokens", "train_flops"]] = np.nan  # step 0: no compute yet
    parts = []
    for col in f.columns:
        m = _OLMO_METRIC.match(col)
        if m:
            task, fmt, kind = m["task"], m["fmt"], m["m"]
            metric, mkind = {"len_norm": ("acc", "hard"), "acc": ("acc", "hard"), "soft": ("p_correct", "soft"),
                             "soft_log": ("logp_correct", "soft"), "bpb": ("bpb", "loss")}[kind]
            chance = _olmo_chance(task) if mkind == "hard" else np.nan
            fmt_name = "mc" if fmt == "mc" else "cloze"
            sub = "" if metric != "acc" or kind == "len_norm" else "acc_raw"
            d = dict(task=task, subtask=sub, n_shots=5.0, prompt_format=fmt_name, metric=metric, metric_kind=mkind,
                     chance_level=chance)
        elif col.startswith("eval/") and col.endswith("-validation/CrossEntropyLoss"):
            d = dict(task="lm", subtask=col[len("eval/"):-len("-validation/CrossEntropyLoss")], n_shots=0.0,
                     prompt_format="", metric="ce_loss_nats", metric_kind="lm_loss", chance_level=np.nan)
        else:
            continue
        p = base.copy()
        for k, v in d.items():
            p[k] = v
        p["value"] = pd.to_numeric(f[col], errors="coerce").to_numpy()
        parts.append(p[np.isfinite(p["value"])])
    out = pd.concat(parts, ignore_index=True)
    out["subtask"] = ""
    return finalize(out, name="olmo-ladder")


# ----------------------------------------------------------------------------------------------- gadre-scaling
_GADRE_FORMAT = {"multiple choice": "cloze", "schema": "cloze", "language modeling": "generate",
                 "question answering": "generate"}


def from_gadre(models: pd.DataFrame, tasks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Canonical rows from ``load("gadre-scaling")`` (one row per model) and ``load("gadre-scaling-tasks")``.

    Family = training corpus (``c4_original``, ``rpj``, ``rw_original``): Du et al. and Gadre et al. compare models
    within a fixed corpus. FLOPs = 6 N D with N the total parameter count (Gadre et al.'s convention).
    """
    m = models.copy()
    name_col = "model" if "model" in m else ("name" if "name" in m else m.columns[0])
    fam_col = "dataset" if "dataset" in m else "dataset_name"
    params = pd.to_numeric(m["params"], errors="coerce")
    tokens = pd.to_numeric(m["tokens"], errors="coerce")
    base = pd.DataFrame({
        "source": "gadre-scaling", "family": m[fam_col].astype(str).to_numpy(),
        "model": m[name_col].astype(str).to_numpy(), "params_total": params.to_numpy(),
        "params_nonembed": pd.to_numeric(m.get("params_no_embed"), errors="coerce").to_numpy()
        if "params_no_embed" in m else np.nan,
        "tokens": tokens.to_numpy(), "train_flops": (6.0 * params * tokens).to_numpy(), "step": np.nan,
    })
    meta = {}
    if tasks is not None and len(tasks):
        t = tasks.rename(columns=lambda c: str(c).strip())
        for _, r in t.iterrows():
            meta[str(r["Eval Task"])] = r
    skip = {name_col, fam_col, "dataset_name", "params", "params_no_embed", "tokens", "chinchilla_multiplier",
            "model_config", "arch", "model", "name", "multiplier", "run"}
    parts = []
    for col in m.columns:
        if col in skip or not pd.api.types.is_numeric_dtype(m[col]):
            continue
        p = base.copy()
        p["value"] = pd.to_numeric(m[col], errors="coerce").to_numpy()
        if col.startswith("loss_"):
            p["task"], p["subtask"], p["metric"], p["metric_kind"] = "lm", col[5:], "ce_loss_nats", "lm_loss"
        else:
            mt = meta.get(col)
            if mt is None and not meta:
                pass
            elif mt is None:
                continue  # not a task column (e.g. a hyperparameter)
            p["task"], p["subtask"], p["metric"], p["metric_kind"] = col, "", "acc", "hard"
            if mt is not None:
                p["chance_level"] = float(mt["Random baseline"]) / 100.0
                p["n_items"] = float(mt["#datapoints"])
                p["n_shots"] = float(mt["#shots"])
                p["prompt_format"] = _GADRE_FORMAT.get(str(mt["Task Type"]).strip(), "")
        parts.append(p[np.isfinite(p["value"])])
    if not parts:
        raise InputError("gadre-scaling: no numeric task or loss columns found")
    return finalize(pd.concat(parts, ignore_index=True), name="gadre-scaling")


# ------------------------------------------------------------------------------------------------ pythia-evals
_PYTHIA_CHANCE = {"arc_easy": 0.25, "arc_challenge": 0.25, "piqa": 0.5, "winogrande": 0.5, "wsc": 0.5,
                  "sciq": 0.25, "logiqa": 0.25, "lambada_openai": 0.0}


def from_pythia(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical rows from ``load("pythia-evals")`` (long: model, params, step, tokens, shots, task, metric, ...).

    ``acc``/``acc_norm`` are hard (MMLU ``hendrycksTest-*`` subjects get chance 0.25); LAMBADA ``ppl`` is a task loss
    from the same predictions as LAMBADA ``acc``. CrowS-Pairs rows (bias, not capability) are dropped.
    FLOPs = 6 N D with D = tokens seen at the checkpoint.
    """
    f = frame[~frame["task"].astype(str).str.startswith("crows_pairs")].copy()
    f = f[f["metric"].isin(["acc", "acc_norm", "ppl"])]
    params = pd.to_numeric(f["params"], errors="coerce")
    tokens = pd.to_numeric(f["tokens"], errors="coerce") if "tokens" in f else pd.Series(np.nan, index=f.index)
    family = f["family"].astype(str) if "family" in f else pd.Series("pythia", index=f.index)
    if "deduped" in f:
        ded = f["deduped"].fillna(False).astype(bool)
        family = family.where(~ded, family + "-deduped")
    task = f["task"].astype(str)
    chance = task.map(lambda t: 0.25 if t.startswith("hendrycksTest") else _PYTHIA_CHANCE.get(t, np.nan))
    metric = f["metric"].astype(str)
    kind = np.where(metric == "ppl", "loss", "hard")
    out = pd.DataFrame({
        "source": "pythia-evals", "family": family.to_numpy(), "model": f["model"].astype(str).to_numpy(),
        "params_total": params.to_numpy(), "tokens": tokens.to_numpy(), "train_flops": (6 * params * tokens).to_numpy(),
        "step": pd.to_numeric(f["step"], errors="coerce").to_numpy(), "task": task.to_numpy(),
        "n_shots": pd.to_numeric(f.get("shots", f.get("n_shots")), errors="coerce").to_numpy(),
        "prompt_format": "cloze", "metric": metric.to_numpy(), "metric_kind": kind,
        "value": pd.to_numeric(f["value"], errors="coerce").to_numpy(),
        "stderr": pd.to_numeric(f.get("stderr"), errors="coerce").to_numpy() if "stderr" in f else np.nan,
        "chance_level": np.where(kind == "hard", chance.to_numpy(dtype=float), np.nan),
    })
    out.loc[out["tokens"] <= 0, ["tokens", "train_flops"]] = np.nan
    return finalize(out[np.isfinite(out["value"])], name="pythia-evals")


# ------------------------------------------------------------------------------------------------- obsscaling
OBS_BASE_BENCHMARKS = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval"]
_OBS_BASE_CHANCE = {"MMLU": 0.25, "ARC-C": 0.25, "HellaSwag": 0.25, "Winograd": 0.5, "XWinograd": 0.5,
                    "TruthfulQA": np.nan, "GSM8K": 0.0, "HumanEval": 0.0}
_OBS_EMERGENT = re.compile(r"^(?P<task>.+)_(?P<shots>\d+)_(?P<m>acc|exact_match|bleu)$")
_OBS_POST = re.compile(
    r"^(?P<task>bbh_cot_fewshot_|bbh_fewshot_|gsm8k_cot_zeroshot_|gsm8k_cot_|gsm8k_)(?P<name>[a-z_]*?)_?"
    r"(?P<shots>\d+)_exact_match,(?P<filter>strict-match|flexible-extract)$"
)


def from_obsscaling(base: pd.DataFrame, emergent: pd.DataFrame | None = None,
                    post: pd.DataFrame | None = None) -> pd.DataFrame:
    """Canonical rows from the obsscaling tables (``Model``-keyed, upstream column names).

    Base benchmarks become hard metrics of ``source="obsscaling"``; the emergent table gives Wei-style tasks
    (``ipa_transliterate`` exact match is hard, its BLEU soft, rescaled from 0-100 to 0-1); the post-training
    table gives BBH and GSM8K in direct (``prompt_format="generate"``) and chain-of-thought (``"cot"``) form, metric
    ``exact_match_flexible`` / ``exact_match_strict`` (the ``,norm`` variants are derivable and skipped).
    """
    b = base.copy()
    meta = pd.DataFrame({
        "Model": b["Model"].astype(str), "family": b["Model Family"].astype(str),
        "params_total": pd.to_numeric(b["Model Size (B)"], errors="coerce") * 1e9,
        "tokens": pd.to_numeric(b["Pretraining Data Size (T)"], errors="coerce") * 1e12,
        "train_flops": pd.to_numeric(b["FLOPs (1E21)"], errors="coerce") * 1e21,
    }).set_index("Model")
    rows = []

    def emit(table: pd.DataFrame, col: str, **kw):
        v = pd.to_numeric(table[col], errors="coerce")
        ok = v.notna()
        mdl = table.loc[ok, "Model"].astype(str)
        p = meta.reindex(mdl.to_numpy()).reset_index().rename(columns={"index": "model", "Model": "model"})
        p["value"] = v[ok].to_numpy() * kw.pop("scale", 1.0)
        for k, val in kw.items():
            p[k] = val
        rows.append(p)

    for col in OBS_BASE_BENCHMARKS:
        if col in b:
            emit(b, col, task=col, metric="score", metric_kind="hard", chance_level=_OBS_BASE_CHANCE[col],
                 prompt_format="")
    if emergent is not None:
        for col in emergent.columns:
            m = _OBS_EMERGENT.match(col)
            if not m:
                continue
            task, metric = m["task"], m["m"]
            kind = "soft" if metric == "bleu" else "hard"
            chance = 0.25 if task == "parsinlu_qa" else (0.0 if kind == "hard" else np.nan)
            emit(emergent, col, task=task, metric=metric, metric_kind=kind, n_shots=float(m["shots"]),
                 chance_level=chance, prompt_format="mc" if task == "parsinlu_qa" else "generate",
                 scale=0.01 if metric == "bleu" else 1.0)
    if post is not None:
        for col in post.columns:
            m = _OBS_POST.match(col)
            if not m:
                continue
            pre, name = m["task"], m["name"]
            if "overall" in name:
                continue
            task = "bbh_" + name if pre.startswith("bbh") else "gsm8k"
            fmt = "cot" if "cot" in pre else "generate"
            metric = "exact_match_flexible" if m["filter"] == "flexible-extract" else "exact_match_strict"
            emit(post, col, task=task, metric=metric, metric_kind="hard", n_shots=float(m["shots"]),
                 prompt_format=fmt, chance_level=np.nan, subtask="zeroshot" if "zeroshot" in pre else "")
    out = pd.concat(rows, ignore_index=True)
    out["source"] = "obsscaling"
    return finalize(out, name="obsscaling")


# -------------------------------------------------------------------------------------------------- user CSV
def from_long_csv(path: str | Path) -> pd.DataFrame:
    """Read a user's long CSV (at least ``model, task, metric, value``) into the canonical table.

    :func:`scalescope.data.read_long_csv` parses, validates and maps the aliases (``params``, ``flops``, ``chance``,
    ``shots``, ``format``, ``kind``) to the canonical names; :func:`finalize` gives the canonical columns.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.csv")
    >>> _ = open(p, "w").write("model,params,task,metric,metric_kind,value\\na,1e8,t,acc,hard,0.3\\n")
    >>> from_long_csv(p)[["model", "params_total", "value"]].values.tolist()
    [['a', 100000000.0, 0.3]]
    """
    from scalescope.data import read_long_csv

    path = Path(path)
    df = read_long_csv(path)
    if "source" not in df or (df["source"].astype(str).str.strip() == "").all():
        df["source"] = path.stem
    if "family" not in df:
        df["family"] = path.stem
    df["family"] = df["family"].fillna("").astype(str).replace("", path.stem)
    return finalize(df, name=path.name)


# ----------------------------------------------------------------------------------------------------- dispatch
def load_table(spec: str | Path) -> pd.DataFrame:
    """The canonical table for a shared dataset name (``olmo-ladder``, ``gadre-scaling``, ``pythia-evals``,
    ``obsscaling``) or a path to a long CSV. Raises ``DataNotFoundError`` when a dataset does not resolve offline."""
    s = str(spec)
    if s in SOURCES:
        from scalescope import data

        if s == "olmo-ladder":
            return from_olmo_ladder(data.load("olmo-ladder"))
        if s == "gadre-scaling":
            return from_gadre(data.load("gadre-scaling"), data.load("gadre-scaling-tasks"))
        if s == "pythia-evals":
            return from_pythia(data.load("pythia-evals"))
        return from_obsscaling(data.load("obsscaling-base"), data.load("obsscaling-emergent"),
                               data.load("obsscaling-post-training"))
    p = Path(s)
    if p.suffix.lower() in (".csv", ".tsv", ".txt") or p.exists():
        if not p.exists():
            raise InputError(f"--data {s}: no such file")
        if p.is_dir():
            raise InputError(f"--data {s}: is a directory, expected a long CSV file")
        return from_long_csv(p)
    import difflib

    close = difflib.get_close_matches(s, SOURCES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(f"--data {s}: not a dataset name ({', '.join(SOURCES)}) nor an existing CSV file{hint}")
