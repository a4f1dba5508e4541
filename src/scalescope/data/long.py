"""The canonical long format: one row per (source, model, checkpoint, task, metric) measurement (research/emergence.md §1.4).

The one schema of long tables: every source (public datasets, lm-eval-harness results, a user's CSV) is brought to
this shape and the emergence analyses consume it. Its columns, in order (:data:`COLUMNS`)::

    source, family, model, params_total, params_nonembed, tokens, train_flops, step, task, subtask, n_shots,
    prompt_format (cloze|mc|generate|cot), metric, metric_kind (hard|soft|loss|lm_loss), value, stderr, n_items,
    chance_level, higher_is_better

A user's CSV needs ``model``, ``task``, ``metric``, ``value``; the short spellings ``params``, ``flops``, ``chance``,
``shots``, ``format``, ``kind`` are accepted as aliases and renamed (:data:`ALIASES`). :func:`read_long_csv` /
:func:`validate_long` check what a user can get wrong in a file (names, numbers, kinds, duplicate keys);
:func:`canonical_table` gives any frame (a user's or a dataset builder's) exactly the canonical columns and dtypes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from scalescope.data.validate import (
    check_numeric,
    check_positive,
    check_unique,
    read_csv_strict,
    require_columns,
)
from scalescope.errors import InputError

REQUIRED = ("model", "task", "metric", "value")
COLUMNS = [
    "source", "family", "model", "params_total", "params_nonembed", "tokens", "train_flops", "step", "task",
    "subtask", "n_shots", "prompt_format", "metric", "metric_kind", "value", "stderr", "n_items", "chance_level",
    "higher_is_better",
]
NUMERIC = ["params_total", "params_nonembed", "tokens", "train_flops", "step", "n_shots", "value", "stderr",
           "n_items", "chance_level"]
STRING = ["source", "family", "model", "task", "subtask", "prompt_format", "metric", "metric_kind"]
OPTIONAL_NUMERIC = tuple(c for c in NUMERIC if c != "value")
OPTIONAL_TEXT = ("family", "subtask", "prompt_format", "metric_kind", "source")
POSITIVE = ("params_total", "params_nonembed", "tokens", "train_flops")
METRIC_KINDS = ("hard", "soft", "loss", "lm_loss")
PROMPT_FORMATS = ("cloze", "mc", "generate", "cot", "")
ALIASES = {"params": "params_total", "flops": "train_flops", "chance": "chance_level", "shots": "n_shots",
           "format": "prompt_format", "kind": "metric_kind"}
# Columns that, with model/task/metric, identify one measurement.
KEY_COLUMNS = ("source", "model", "step", "task", "subtask", "n_shots", "prompt_format", "metric")

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _parse_bool(df: pd.DataFrame, col: str, label: str) -> pd.Series:
    s = df[col]
    out = []
    for i, v in enumerate(s):
        if pd.isna(v) or (isinstance(v, str) and not v.strip()):
            out.append(pd.NA)
            continue
        t = str(v).strip().lower()
        if t in ("1.0",):
            t = "1"
        if t in ("0.0",):
            t = "0"
        if t in _TRUE:
            out.append(True)
        elif t in _FALSE:
            out.append(False)
        else:
            raise InputError(f"{label}: column {col!r} has {str(v)!r} in row {i + 1}; expected true/false")
    return pd.Series(out, index=df.index, dtype="boolean")


def validate_long(df: pd.DataFrame, *, label: str = "long table") -> pd.DataFrame:
    """Check and normalise a long table (aliases renamed, numbers numeric, kinds known, keys unique); returns a copy.

    Examples
    --------
    >>> df = pd.DataFrame({"model": ["a", "b"], "task": "t", "metric": "acc", "value": [0.1, 0.4], "params": [1e8, 1e9]})
    >>> v = validate_long(df)
    >>> v.dtypes["value"], v["params_total"].tolist()
    (dtype('float64'), [100000000.0, 1000000000.0])
    """
    df = df.rename(columns=lambda c: str(c).strip())
    # checks name the user's own spelling of a column; the aliases are renamed at the end
    ren = {k: v for k, v in ALIASES.items() if k in df.columns and v not in df.columns}
    user = {v: k for k, v in ren.items()}

    def present(cols):
        return [user.get(c, c) for c in cols if user.get(c, c) in df.columns]

    require_columns(df, REQUIRED, label=label)
    for c in ("model", "task", "metric"):
        s = df[c]
        empty = s.isna() | (s.astype("string").str.strip() == "")
        if empty.any():
            pos = int(empty.to_numpy().nonzero()[0][0])
            raise InputError(f"{label}: column {c!r} is empty in row {pos + 1}")
        df[c] = s.astype("string").str.strip()
    df = check_numeric(df, ["value"], label=label, key="model", allow_nan=False)
    df = check_numeric(df, present(OPTIONAL_NUMERIC), label=label, key="model")
    check_positive(df, present(POSITIVE), label=label, key="model")
    mk = user.get("metric_kind", "metric_kind")
    if mk in df.columns:
        kinds = df[mk].astype("string").str.strip().str.lower()
        bad = kinds.notna() & ~kinds.isin(METRIC_KINDS)
        if bad.any():
            pos = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{label}: column {mk!r} has {df[mk].iloc[pos]!r} in row {pos + 1}; "
                f"expected one of {', '.join(METRIC_KINDS)}"
            )
        df[mk] = kinds
    if "higher_is_better" in df.columns:
        df["higher_is_better"] = _parse_bool(df, "higher_is_better", label)
    check_unique(df, present(KEY_COLUMNS), label=label)
    return df.rename(columns=ren)


def canonical_table(df: pd.DataFrame, *, name: str = "table") -> pd.DataFrame:
    """Give ``df`` exactly the canonical :data:`COLUMNS` and dtypes, validating what a user could get wrong.

    Missing optional columns are added (NaN / ""), an empty ``metric_kind`` is ``hard``, ``higher_is_better``
    defaults to ``metric_kind`` not in (loss, lm_loss). Raises :class:`InputError` with one line for an unknown
    metric kind or prompt format, non-numeric values, non-positive sizes/tokens/FLOPs, or a table without finite
    values.

    Examples
    --------
    >>> t = canonical_table(pd.DataFrame({"model": ["a"], "task": "t", "metric": "bpb", "metric_kind": "loss",
    ...                                   "value": [0.9]}))
    >>> list(t.columns) == COLUMNS, bool(t["higher_is_better"].iloc[0]), t["params_total"].dtype
    (True, False, dtype('float64'))
    """
    df = df.copy()
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = np.nan if c in NUMERIC or c == "higher_is_better" else ""
    for c in NUMERIC:
        if not pd.api.types.is_numeric_dtype(df[c]):
            conv = pd.to_numeric(df[c], errors="coerce")
            bad = df[c].notna() & (df[c].astype(str).str.strip() != "") & conv.isna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(f"{name}: column '{c}' is not numeric (row {i + 1}: {df[c].iloc[i]!r})")
            df[c] = conv
        df[c] = df[c].astype(float)
    for c in STRING:
        df[c] = df[c].fillna("").astype(str).str.strip()
    df["metric_kind"] = df["metric_kind"].str.lower()
    df.loc[df["metric_kind"] == "", "metric_kind"] = "hard"
    bad = sorted(set(df["metric_kind"]) - set(METRIC_KINDS))
    if bad:
        raise InputError(f"{name}: unknown metric_kind {bad[0]!r} (expected one of: {', '.join(METRIC_KINDS)})")
    df["prompt_format"] = df["prompt_format"].str.lower()
    bad = sorted(set(df["prompt_format"]) - set(PROMPT_FORMATS))
    if bad:
        raise InputError(f"{name}: unknown prompt_format {bad[0]!r} (expected one of: cloze, mc, generate, cot)")
    hib = df["higher_is_better"]
    default = ~df["metric_kind"].isin(["loss", "lm_loss"])
    if hib.dtype == bool:
        df["higher_is_better"] = hib
    else:
        s = hib.astype(str).str.strip().str.lower()
        df["higher_is_better"] = np.where(
            s.isin(["true", "1", "1.0", "yes"]), True, np.where(s.isin(["false", "0", "0.0", "no"]), False, default)
        ).astype(bool)
    if not np.isfinite(df["value"]).any():
        raise InputError(f"{name}: column 'value' has no finite numbers (all NaN)")
    for c in ("params_total", "tokens", "train_flops"):
        v = df[c].to_numpy()
        if np.any(v[np.isfinite(v)] <= 0):
            raise InputError(f"{name}: column '{c}' has zero or negative values")
    return df[COLUMNS].reset_index(drop=True)


def read_long_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a canonical long CSV (see module docstring for columns).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "long.csv"
    >>> _ = p.write_text("model,task,metric,value,params\\na,arith,exact_match,0.0,1e8\\nb,arith,exact_match,0.3,1e10\\n")
    >>> read_long_csv(p)[["model", "value"]].to_dict("records")
    [{'model': 'a', 'value': 0.0}, {'model': 'b', 'value': 0.3}]
    """
    label = Path(path).name
    return validate_long(read_csv_strict(path, label=label), label=label)


def to_wide(
    long: pd.DataFrame,
    *,
    index: str | Sequence[str] = "model",
    columns: str | Sequence[str] = ("task", "metric"),
    values: str = "value",
    sep: str = "/",
) -> pd.DataFrame:
    """Pivot a long table to one row per ``index`` and one column per ``columns`` combination (joined by ``sep``).

    Duplicated (index, columns) cells are an :class:`InputError` rather than being averaged silently.

    Examples
    --------
    >>> long = pd.DataFrame({"model": ["a", "a", "b"], "task": ["x", "y", "x"], "metric": "acc", "value": [1., 2., 3.]})
    >>> wide = to_wide(long)
    >>> list(wide.columns), wide.loc["a"].tolist()
    (['x/acc', 'y/acc'], [1.0, 2.0])
    """
    idx = [index] if isinstance(index, str) else list(index)
    cols = [columns] if isinstance(columns, str) else list(columns)
    require_columns(long, [*idx, *cols, values], label="to_wide")
    check_unique(long, [*idx, *cols], label="to_wide")
    wide = long.pivot(index=idx if len(idx) > 1 else idx[0], columns=cols, values=values)
    if len(cols) > 1:
        wide.columns = [sep.join(str(p) for p in c) for c in wide.columns]
        wide.columns.name = None
    return wide
