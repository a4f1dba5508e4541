"""Validation of tabular inputs, with one-line errors that name the file, the column and the row.

Every reader in :mod:`scalescope.data` funnels user files through these checks so that a bad file fails early, before
any analysis runs, with a message the CLI can print as ``error: ...`` (DESIGN.md, "CLI contract"). Each check raises
:class:`~scalescope.errors.InputError`; none of them prints or fixes anything silently.

Row numbers in messages are 1-based data rows (the header is not counted); ``line`` numbers count the header as
line 1, as a text editor does.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.outputs import check_input_path

__all__ = [
    "read_text",
    "read_csv_strict",
    "require_columns",
    "check_unique",
    "check_numeric",
    "check_range",
    "check_positive",
    "check_finite",
    "unknown_name",
]


def _short(value, n: int = 40) -> str:
    s = str(value)
    return s if len(s) <= n else s[: n - 3] + "..."


def read_text(path: str | Path, *, label: str | None = None) -> str:
    """Read a UTF-8 text file; empty files and invalid UTF-8 (with the byte offset) are :class:`InputError`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_bytes(b"ok\\xff")
    >>> try:
    ...     read_text(p, label="a.txt")
    ... except Exception as e:
    ...     print(e)
    a.txt: not valid UTF-8 text (invalid start byte at byte offset 2); save the file as UTF-8
    """
    path = Path(path)
    label = label or str(path)
    if not path.exists():
        raise InputError(f"{label}: no such file")
    if path.is_dir():
        raise InputError(f"{label}: is a directory, expected a file")
    check_input_path(path, what=label if label != str(path) else "input")
    data = path.read_bytes()
    if not data.strip():
        raise InputError(f"{label}: file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{label}: not valid UTF-8 text ({e.reason} at byte offset {e.start}); save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")  # a BOM from spreadsheet exports is harmless; drop it



def load_json(path: str | Path, *, label: str | None = None):
    """Parse a UTF-8 JSON file; a missing/empty file, invalid UTF-8 or invalid JSON is a one-line
    :class:`InputError` naming the file (``label``) and the position."""
    label = label or str(path)
    text = read_text(path, label=label)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{label}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None

def read_csv_strict(path: str | Path, *, label: str | None = None) -> pd.DataFrame:
    """Read a CSV after checking encoding, emptiness and that every row has as many fields as the header.

    pandas silently pads short rows and, for long rows, shifts columns into the index; both corrupt a score table
    without a sound, so rows are counted with the :mod:`csv` module first.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"; _ = p.write_text("Model,MMLU\\na,0.5\\nb,0.6,7\\n")
    >>> try:
    ...     read_csv_strict(p, label="t.csv")
    ... except Exception as e:
    ...     print(e)
    t.csv: malformed CSV: line 3 has 3 fields but the header has 2
    """
    label = label or str(path)
    text = read_text(path, label=label)
    try:
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(rows, None)
        if header is None or not any(h.strip() for h in header):
            raise InputError(f"{label}: file has no header row")
        n = len(header)
        line = 1
        for row in rows:
            line = rows.line_num
            if not row:  # blank lines are skipped by pandas too
                continue
            if len(row) != n:
                raise InputError(
                    f"{label}: malformed CSV: line {line} has {len(row)} fields but the header has {n}"
                )
    except csv.Error as e:
        raise InputError(f"{label}: malformed CSV: {e}") from None
    blank = [i + 1 for i, h in enumerate(header) if not h.strip()]
    if blank:
        raise InputError(f"{label}: header has an empty column name at position {blank[0]}")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{label}: duplicate column names: {', '.join(repr(d) for d in dupes)}")
    df = pd.read_csv(io.StringIO(text))
    if len(df) == 0:
        raise InputError(f"{label}: file has a header but no data rows")
    return df


def require_columns(df: pd.DataFrame, required: Iterable[str], *, label: str) -> None:
    """Raise if any ``required`` column is missing, listing the columns that were found."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns[:20])) + (", ..." if len(df.columns) > 20 else "")
        what = "column" if len(missing) == 1 else "columns"
        names = ", ".join(repr(m) for m in missing)
        # Near misses (case, spaces) are the usual cause; say which.
        hints = []
        for m in missing:
            close = difflib.get_close_matches(m, [str(c) for c in df.columns], n=1, cutoff=0.6)
            if close:
                hints.append(f"{m!r} -> {close[0]!r}?")
        hint = f"; did you mean {', '.join(hints)}" if hints else ""
        raise InputError(f"{label}: {what} {names} missing (found: {found}){hint}")


def check_unique(df: pd.DataFrame, column: str | Sequence[str], *, label: str) -> None:
    """Raise if values of ``column`` (or combinations of columns) repeat, naming the first few repeats."""
    cols = [column] if isinstance(column, str) else list(column)
    dup = df.duplicated(subset=cols, keep=False)
    if dup.any():
        keys = df.loc[dup, cols].drop_duplicates()
        shown = [
            (repr(r[0]) if len(cols) == 1 else "(" + ", ".join(repr(v) for v in r) + ")")
            for r in keys.itertuples(index=False)
        ][:5]
        more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
        what = f"column {cols[0]!r}" if len(cols) == 1 else f"columns ({', '.join(cols)})"
        raise InputError(f"{label}: duplicate values in {what}: {', '.join(shown)}{more}")


def _row_desc(df: pd.DataFrame, pos: int, key: str | None) -> str:
    desc = f"row {pos + 1}"
    if key and key in df.columns:
        desc += f" ({key} {_short(df[key].iloc[pos])!r})"
    return desc


def check_numeric(
    df: pd.DataFrame, columns: Iterable[str], *, label: str, key: str | None = None, allow_nan: bool = True
) -> pd.DataFrame:
    """Coerce ``columns`` to float; raise on the first non-numeric value (column, value, row), and on NaN/inf.

    Returns a new frame with the columns converted. Empty cells are NaN and allowed unless ``allow_nan=False``;
    infinities are never allowed (no score, size or compute is infinite; they come from division bugs upstream).
    """
    out = df.copy()
    for c in columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            # Already parsed as numbers (the common case): only NaN/inf remain to check.
            out[c] = s.astype(float)
            check_finite(out, [c], label=label, key=key, allow_nan=allow_nan)
            continue
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna() & s.notna() & (s.astype("string").str.strip() != "")
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{label}: column {c!r} has non-numeric value {_short(s.iloc[pos])!r} in {_row_desc(df, pos, key)}"
            )
        num = num.astype(float)
        out[c] = num
        check_finite(out, [c], label=label, key=key, allow_nan=allow_nan)
    return out


def check_finite(
    df: pd.DataFrame, columns: Iterable[str], *, label: str, key: str | None = None, allow_nan: bool = True
) -> None:
    """Raise on inf (always) and NaN/empty (unless ``allow_nan``) in numeric ``columns``."""
    for c in columns:
        v = df[c].to_numpy(dtype=float, na_value=np.nan)
        inf = np.isinf(v)
        if inf.any():
            pos = int(np.flatnonzero(inf)[0])
            raise InputError(f"{label}: column {c!r} has an infinite value in {_row_desc(df, pos, key)}")
        if not allow_nan:
            nan = np.isnan(v)
            if nan.any():
                pos = int(np.flatnonzero(nan)[0])
                raise InputError(
                    f"{label}: column {c!r} has a missing (empty/NaN) value in {_row_desc(df, pos, key)}, "
                    "which is not allowed here"
                )


def check_range(
    df: pd.DataFrame,
    columns: Iterable[str],
    lo: float,
    hi: float,
    *,
    label: str,
    key: str | None = None,
    hint: str = "",
) -> None:
    """Raise if any non-missing value of numeric ``columns`` lies outside ``[lo, hi]``."""
    for c in columns:
        v = df[c].to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(v) & ((v < lo) | (v > hi))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            extra = f"; {hint}" if hint else ""
            raise InputError(
                f"{label}: column {c!r} has value {v[pos]:g} in {_row_desc(df, pos, key)}, outside the declared "
                f"score range [{lo:g}, {hi:g}]{extra}"
            )


def check_positive(df: pd.DataFrame, columns: Iterable[str], *, label: str, key: str | None = None) -> None:
    """Raise if any non-missing value of numeric ``columns`` is zero or negative (sizes, tokens, FLOPs)."""
    for c in columns:
        v = df[c].to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(v) & (v <= 0)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{label}: column {c!r} must be positive but has {v[pos]:g} in {_row_desc(df, pos, key)}"
            )


def unknown_name(name: str, known: Iterable[str], *, what: str = "dataset") -> InputError:
    """An :class:`InputError` for an unknown ``name``: lists the known ones and suggests the closest (difflib).

    Examples
    --------
    >>> print(unknown_name("obsscaling-bsae", ["obsscaling-base", "olmo-ladder"]))
    unknown dataset 'obsscaling-bsae'; did you mean 'obsscaling-base'? (known: obsscaling-base, olmo-ladder)
    """
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return InputError(f"unknown {what} {name!r}{hint} (known: {', '.join(known)})")


def is_finite_number(x) -> bool:
    """True for int/float values that are finite (used when parsing JSON results)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
