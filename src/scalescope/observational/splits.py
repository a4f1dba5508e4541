"""Hold-out protocols for backtesting observational laws (spec §1.8).

All splits are weak-to-strong: they hold out the strongest or largest models. Each returns a boolean *train* mask
aligned with the input rows; everything else is test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.observational.constants import FAMILY_COL, FLOPS_COL


def split_cutoff(df: pd.DataFrame, column: str = FLOPS_COL, threshold: float = 84.0) -> np.ndarray:
    """Train = ``df[column] <= threshold``. NaN goes to **test**, as upstream (``NaN <= τ`` is False, spec §1.5)."""
    if column not in df.columns:
        raise InputError(f"--split: column {column!r} not in the benchmark table")
    return (pd.to_numeric(df[column], errors="coerce") <= threshold).fillna(False).to_numpy(dtype=bool)


def split_top_fraction(y, q: float) -> np.ndarray:
    """Hold out the top ``int(q·n)`` models by ``y`` (descending, NaN first), as upstream ``rank_by_y_metric``.

    Ties are broken exactly as pandas' default ``sort_values`` (quicksort) breaks them, because the tie order at the
    boundary changes which model is held out: with a stable sort the Persian-QA FLOPs AUE is 1.36e-2 instead of the
    upstream 1.08e-2 (spec §6, T18).
    """
    if not 0.0 <= q < 1.0:
        raise InputError(f"--split: top fraction must be in [0, 1), got {q}")
    y = np.asarray(y, dtype=float)
    n_test = int(q * len(y))
    order = pd.Series(y).sort_values(ascending=False, na_position="first").index.to_numpy()
    train = np.ones(len(y), dtype=bool)
    train[order[:n_test]] = False
    return train


def split_leave_family_out(df: pd.DataFrame, family: str) -> np.ndarray:
    """Train = every family except ``family``."""
    fams = df[FAMILY_COL].astype(str)
    if family not in set(fams):
        raise InputError(f"--split: family {family!r} not in the benchmark table")
    return (fams != family).to_numpy(dtype=bool)


@dataclass(frozen=True)
class SplitSpec:
    """A parsed ``--split`` value: ``cutoff:COLUMN=T`` / ``cutoff:T``, ``top:Q``, ``family:NAME`` or ``lofo``."""

    kind: str
    value: float | str
    column: str = FLOPS_COL

    @classmethod
    def parse(cls, text: str) -> SplitSpec:
        text = text.strip()
        m = re.fullmatch(r"cutoff:(?:(?P<col>[^=]+)=)?(?P<v>[-+0-9.eE]+)", text)
        if m:
            col = m.group("col")
            col = FLOPS_COL if col in (None, "FLOPs", "flops") else ("Model Size (B)" if col in ("size", "Size")
                                                                       else col)
            return cls("cutoff", float(m.group("v")), col)
        m = re.fullmatch(r"top:(?P<q>[0-9.eE+-]+)", text)
        if m:
            q = float(m.group("q"))
            if not 0.0 < q < 1.0:
                raise InputError(f"--split: top fraction must be in (0, 1), got {q}")
            return cls("top", q)
        if text in ("lofo", "leave-one-family-out"):
            return cls("lofo", "all")
        m = re.fullmatch(r"(?:family|lofo):(?P<f>.+)", text)
        if m:
            return cls("family", m.group("f"))
        raise InputError(f"--split: cannot parse {text!r} (use cutoff:FLOPs=84, top:0.1, family:NAME or lofo)")

    def train_mask(self, df: pd.DataFrame, y) -> np.ndarray:
        if self.kind == "lofo":
            raise InputError("--split: lofo runs one fit per family; use leave_one_family_out()")
        if self.kind == "cutoff":
            return split_cutoff(df, self.column, float(self.value))
        if self.kind == "top":
            return split_top_fraction(y, float(self.value))
        return split_leave_family_out(df, str(self.value))

    def describe(self) -> str:
        if self.kind == "cutoff":
            return f"train = {self.column} <= {self.value:g}"
        if self.kind == "top":
            return f"test = top {self.value:g} fraction by target"
        if self.kind == "lofo":
            return "leave-one-family-out (each family held out in turn)"
        return f"test = family {self.value}"
