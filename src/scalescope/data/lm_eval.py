"""Reader for lm-evaluation-harness result files (EleutherAI; research/ecosystem.md §4.2, "results format").

Three layouts are understood:

- **v0.4+** (``results_<timestamp>.json`` from ``lm_eval --output_path``): ``results`` = {task: {"acc,none": v,
  "acc_stderr,none": v, "alias": ...}}, where the part after the comma is the *filter* (``none``,
  ``strict-match``, ``flexible-extract``, ...); ``n-shot`` = {task: k}; ``higher_is_better`` = {task: {metric: bool}};
  ``group_subtasks`` = {group: [task, ...]}; the model from ``model_name`` or ``config.model_args``.
- **v0.3** (e.g. the Pythia files): ``results`` = {task: {"acc": v, "acc_stderr": v}}; ``config.num_fewshot`` and
  ``config.model_args`` (``pretrained=...,revision=stepN``).
- **Open LLM Leaderboard v1** result files (``results_<date>.json`` of the ``open-llm-leaderboard/results``
  dataset, produced by the harness @b281b09 through lighteval): ``results`` = {"harness|<task>|<shots>": {"acc": v,
  "acc_stderr": v, ...}, "all": {...}}, e.g. ``harness|arc:challenge|25``, ``harness|hendrycksTest-anatomy|5``,
  ``harness|truthfulqa:mc|0``; the model in ``config_general.model_name`` (``config.model_name`` in the oldest
  files), its commit in ``model_sha``; task versions in ``versions`` under the same keys. The ``all`` average is
  skipped (it mixes benchmarks).

A task whose entry holds no numeric metric (only an alias, or ``"N/A"``) gives one row with an empty ``metric`` and a
NaN ``value``, so a reader can say which task had nothing usable. All become the same long rows, one per (task,
metric, filter): ``model, revision, task, metric, filter, value,
stderr, n_shot, higher_is_better, is_group, source_file, format, task_version, n_samples`` (``format`` is
``"v0.4"``, ``"v0.3"`` or ``"leaderboard-v1"``; ``n_samples`` the evaluated documents where the file says).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from scalescope.data.validate import is_finite_number, load_json
from scalescope.errors import InputError

COLUMNS = (
    "model", "revision", "task", "metric", "filter", "value", "stderr", "n_shot",
    "higher_is_better", "is_group", "source_file", "format", "task_version", "n_samples",
)  # fmt: skip

#: ``harness|<task>|<shots>`` keys of the Open LLM Leaderboard v1 result files.
_LEADERBOARD_KEY = re.compile(r"^harness\|(?P<task>[^|]+)\|(?P<shots>\d+)$")


def _model_args(args) -> dict[str, str]:
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    out = {}
    for part in str(args or "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _number(x) -> float:
    """A metric value or stderr as float; ``"N/A"``, None, strings and non-finite values become NaN."""
    if is_finite_number(x):
        return float(x)
    if isinstance(x, str):
        try:
            v = float(x)
            return v if np.isfinite(v) else np.nan
        except ValueError:
            return np.nan
    return np.nan


def parse_results(obj: dict, *, label: str) -> pd.DataFrame:
    """Long rows from one parsed results JSON object (either format); ``label`` names it in errors.

    Examples
    --------
    >>> obj = {"results": {"arc_easy": {"acc,none": 0.5, "acc_stderr,none": 0.01, "alias": "arc_easy"}},
    ...        "n-shot": {"arc_easy": 0}, "model_name": "m", "config": {}}
    >>> parse_results(obj, label="x.json")[["model", "task", "metric", "filter", "value", "n_shot"]].to_dict("records")
    [{'model': 'm', 'task': 'arc_easy', 'metric': 'acc', 'filter': 'none', 'value': 0.5, 'n_shot': 0}]
    """
    return rows_to_frame(result_rows(obj, label=label))


def rows_to_frame(rows: list[dict]) -> pd.DataFrame:
    """DataFrame with :data:`COLUMNS` and proper dtypes from :func:`result_rows` output."""
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["value"] = df["value"].astype(float)
    df["stderr"] = df["stderr"].astype(float)
    df["n_shot"] = df["n_shot"].astype("Int64")
    df["higher_is_better"] = df["higher_is_better"].astype("boolean")
    df["is_group"] = df["is_group"].astype(bool)
    df["n_samples"] = df["n_samples"].astype("Int64")
    return df


def is_leaderboard(obj) -> bool:
    """Whether a parsed results object is an Open LLM Leaderboard v1 file (``harness|task|shots`` keys)."""
    res = obj.get("results") if isinstance(obj, dict) else None
    return isinstance(res, dict) and any(_LEADERBOARD_KEY.match(str(k)) for k in res)


def _version(v) -> str:
    return "" if v is None or isinstance(v, dict | list) else str(v)


def _leaderboard_rows(obj: dict, *, label: str) -> list[dict]:
    cfg = obj.get("config_general") if isinstance(obj.get("config_general"), dict) else None
    if cfg is None:  # the oldest leaderboard files kept the same fields under "config"
        cfg = obj.get("config") if isinstance(obj.get("config"), dict) else {}
    model = str(cfg.get("model_name") or "")
    if not model:
        raise InputError(f"{label}: Open LLM Leaderboard file without config_general.model_name")
    versions = obj.get("versions") if isinstance(obj.get("versions"), dict) else {}
    rows = []
    for key, metrics in obj["results"].items():
        m = _LEADERBOARD_KEY.match(str(key))
        if m is None:
            if key == "all":
                continue  # the leaderboard's average over everything in the file
            raise InputError(f"{label}: results key {key!r} is not of the form 'harness|<task>|<shots>'")
        if not isinstance(metrics, dict):
            raise InputError(f"{label}: results[{key!r}] is not an object of metrics")
        n_before = len(rows)
        for name, v in metrics.items():
            if name.endswith("_stderr") or isinstance(v, bool) or not isinstance(v, int | float | str):
                continue
            value = _number(v)
            if isinstance(v, str) and np.isnan(value):
                continue
            rows.append({
                "model": model, "revision": str(cfg.get("model_sha") or ""), "task": m["task"], "metric": name,
                "filter": "none", "value": value, "stderr": _number(metrics.get(f"{name}_stderr")),
                "n_shot": int(m["shots"]), "higher_is_better": None, "is_group": False, "source_file": label,
                "format": "leaderboard-v1", "task_version": _version(versions.get(key)), "n_samples": None,
            })
        if len(rows) == n_before:
            rows.append(_placeholder(model, cfg.get("model_sha") or "", m["task"], label, "leaderboard-v1")
                        | {"n_shot": int(m["shots"])})
    return rows


def result_rows(obj: dict, *, label: str) -> list[dict]:
    """The long rows (dicts) of one results object; see :func:`parse_results`."""
    if not isinstance(obj, dict) or not isinstance(obj.get("results"), dict):
        raise InputError(f"{label}: not an lm-evaluation-harness results file (no 'results' object)")
    if is_leaderboard(obj):
        return _leaderboard_rows(obj, label=label)
    config = obj.get("config") if isinstance(obj.get("config"), dict) else {}
    margs = _model_args(config.get("model_args"))
    model = (
        obj.get("model_name") or margs.get("pretrained") or margs.get("model") or config.get("model") or ""
    )
    revision = margs.get("revision", "")
    nshot_map = obj.get("n-shot") if isinstance(obj.get("n-shot"), dict) else {}
    default_shot = config.get("num_fewshot")
    hib_map = obj.get("higher_is_better") if isinstance(obj.get("higher_is_better"), dict) else {}
    # v0.4 lists every task in group_subtasks, standalone ones with []: only a non-empty list makes a group.
    subtasks = obj.get("group_subtasks") if isinstance(obj.get("group_subtasks"), dict) else {}
    groups = {g for g, subs in subtasks.items() if subs} | set(obj.get("groups", {}) or {})
    # v0.4 metric keys carry a filter ("acc,none"); v0.3 keys never do.
    fmt = "v0.4" if ("n-shot" in obj or any("," in str(k) for m in obj["results"].values() if isinstance(m, dict)
                                             for k in m)) else "v0.3"
    versions = obj.get("versions") if isinstance(obj.get("versions"), dict) else {}
    nsamp = obj.get("n-samples") if isinstance(obj.get("n-samples"), dict) else {}

    rows = []
    for task, metrics in obj["results"].items():
        if not isinstance(metrics, dict):
            raise InputError(f"{label}: results[{task!r}] is not an object of metrics")
        n_before = len(rows)
        # Map "<metric>[,<filter>]" -> value, splitting stderr entries out.
        values, errs = {}, {}
        for key, v in metrics.items():
            if key == "alias" or key == "samples":
                continue
            name, _, filt = str(key).partition(",")
            if name.endswith("_stderr"):
                errs[(name[: -len("_stderr")], filt)] = v
            else:
                values[(name, filt)] = v
        shots = nshot_map.get(task, default_shot)
        hib = hib_map.get(task, {}) if isinstance(hib_map.get(task), dict) else {}
        for (name, filt), v in values.items():
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                continue  # lists/objects/flags are metadata, not metric values
            value = _number(v)
            if isinstance(v, str) and np.isnan(value):
                continue  # e.g. a string setting
            h = hib.get(name)
            rows.append(
                {
                    "model": str(model),
                    "revision": str(revision),
                    "task": str(task),
                    "metric": name,
                    "filter": filt or "none",
                    "value": value,
                    "stderr": _number(errs.get((name, filt))),
                    "n_shot": int(shots) if is_finite_number(shots) else None,
                    "higher_is_better": bool(h) if isinstance(h, bool) else None,
                    "is_group": task in groups,
                    "source_file": label,
                    "format": fmt,
                    "task_version": _version(versions.get(task)),
                    "n_samples": _n_samples(nsamp.get(task)),
                }
            )
        if len(rows) == n_before:  # a task with no numeric metric: say it was there, so readers can name it
            rows.append(_placeholder(model, revision, task, label, fmt))
    return rows


def _placeholder(model, revision, task, label, fmt) -> dict:
    """The row of a task whose entry holds no numeric metric (``metric`` empty, ``value`` NaN)."""
    return {"model": str(model), "revision": str(revision), "task": str(task), "metric": "", "filter": "none",
            "value": np.nan, "stderr": np.nan, "n_shot": None, "higher_is_better": None, "is_group": False,
            "source_file": label, "format": fmt, "task_version": "", "n_samples": None}


def _n_samples(x) -> int | None:
    """Evaluated documents from a v0.4 ``n-samples`` entry (``{"original": N, "effective": M}``)."""
    v = x.get("effective", x.get("original")) if isinstance(x, dict) else x
    return int(v) if is_finite_number(v) and not isinstance(v, bool) and v >= 0 else None


def read_results_file(path: str | Path, *, label: str | None = None) -> pd.DataFrame:
    """Parse one results JSON file (see :func:`parse_results`)."""
    label = label or str(path)
    return parse_results(load_json(path, label=label), label=label)


def read_lm_eval(path_or_dir: str | Path) -> pd.DataFrame:
    """lm-evaluation-harness results as long rows, from one file or every ``results_*.json`` under a directory.

    A directory is searched recursively for ``results_*.json`` (the harness's output names); if there are none, every
    ``*.json`` under it is read (older layouts such as the Pythia evals name files freely). ``source_file`` is the
    path relative to the directory.

    Parameters
    ----------
    path_or_dir : str or Path

    Returns
    -------
    DataFrame with columns model, revision, task, metric, filter, value, stderr, n_shot, higher_is_better,
    is_group, source_file, format, task_version, n_samples.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "results_2024.json").write_text(json.dumps({"results": {"piqa": {"acc,none": 0.7}},
    ...     "n-shot": {"piqa": 0}, "config": {"model_args": "pretrained=EleutherAI/pythia-70m"}}))
    >>> read_lm_eval(d)[["model", "task", "metric", "value"]].to_dict("records")
    [{'model': 'EleutherAI/pythia-70m', 'task': 'piqa', 'metric': 'acc', 'value': 0.7}]
    """
    p = Path(path_or_dir)
    if not p.exists():
        raise InputError(f"{p}: no such file or directory")
    if p.is_file():
        return read_results_file(p, label=str(p))
    files = sorted(p.rglob("results_*.json")) or sorted(p.rglob("*.json"))
    if not files:
        raise InputError(f"{p}: no results_*.json (or any .json) files found under this directory")
    rows = []
    for f in files:
        label = f.relative_to(p).as_posix()
        rows.extend(result_rows(load_json(f, label=label), label=label))
    return rows_to_frame(rows)
