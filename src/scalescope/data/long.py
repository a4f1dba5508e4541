"""The canonical long format: one row per (model, checkpoint, task, metric) measurement (research/emergence.md §1.4).

Every source (public datasets, lm-eval-harness results, a user's CSV) can be brought to this shape; the emergence
analyses consume it. Required columns: ``model``, ``task``, ``metric``, ``value``. Optional: ``family``, ``params``,
``params_nonembed``, ``tokens``, ``flops``, ``step``, ``subtask``, ``n_shots``, ``prompt_format``, ``metric_kind``
(hard | soft | loss | lm_loss), ``higher_is_better``, ``chance``, ``stderr``, ``n_items``, ``source``. The §1.4
spellings ``params_total``, ``train_flops``, ``chance_level`` are accepted as aliases and renamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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
OPTIONAL_NUMERIC = (
    "params",
    "params_nonembed",
    "tokens",
    "flops",
    "step",
    "n_shots",
    "chance",
    "stderr",
    "n_items",
)
OPTIONAL_TEXT = ("family", "subtask", "prompt_format", "metric_kind", "source")
POSITIVE = ("params", "params_nonembed", "tokens", "flops")
METRIC_KINDS = ("hard", "soft", "loss", "lm_loss")
ALIASES = {"params_total": "params", "train_flops": "flops", "chance_level": "chance", "shots": "n_shots"}
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
    >>> validate_long(df).dtypes["value"]
    dtype('float64')
    """
    df = df.rename(columns={k: v for k, v in ALIASES.items() if k in df.columns and v not in df.columns})
    require_columns(df, REQUIRED, label=label)
    for c in ("model", "task", "metric"):
        s = df[c]
        empty = s.isna() | (s.astype("string").str.strip() == "")
        if empty.any():
            pos = int(empty.to_numpy().nonzero()[0][0])
            raise InputError(f"{label}: column {c!r} is empty in row {pos + 1}")
        df[c] = s.astype("string").str.strip()
    df = check_numeric(df, ["value"], label=label, key="model", allow_nan=False)
    num = [c for c in OPTIONAL_NUMERIC if c in df.columns]
    df = check_numeric(df, num, label=label, key="model")
    check_positive(df, [c for c in POSITIVE if c in df.columns], label=label, key="model")
    if "metric_kind" in df.columns:
        kinds = df["metric_kind"].astype("string").str.strip().str.lower()
        bad = kinds.notna() & ~kinds.isin(METRIC_KINDS)
        if bad.any():
            pos = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{label}: column 'metric_kind' has {df['metric_kind'].iloc[pos]!r} in row {pos + 1}; "
                f"expected one of {', '.join(METRIC_KINDS)}"
            )
        df["metric_kind"] = kinds
    if "higher_is_better" in df.columns:
        df["higher_is_better"] = _parse_bool(df, "higher_is_better", label)
    keys = [c for c in KEY_COLUMNS if c in df.columns]
    check_unique(df, keys, label=label)
    return df


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
