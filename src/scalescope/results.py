"""Base class for frozen results objects (statsmodels-style: ``params``, ``conf_int()``, ``summary()``, ``to_frame()``).

Every fit in scalescope returns an immutable results object; figures consume results and never fit. Subclasses are
``@dataclass(frozen=True)`` and may override :meth:`to_frame` and :meth:`summary`. :meth:`to_dict` gives a
JSON-serialisable dict (numpy scalars/arrays and DataFrames converted) used for ``result.json`` files.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def to_jsonable(obj: Any) -> Any:
    """Convert numpy/pandas/dataclass objects into plain JSON types (NaN and inf become ``None``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if not f.name.startswith("_")}
    if isinstance(obj, pd.DataFrame):
        return [to_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as pretty JSON atomically (temp file + rename), so a crash never leaves half a file."""
    from scalescope.outputs import atomic_write_text

    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


@dataclasses.dataclass(frozen=True)
class Result:
    """Base of all results objects. Subclasses add fields; all are frozen."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every public field."""
        return to_jsonable(self)

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of the scalar fields (subclasses with tabular content override this)."""
        d = {k: v for k, v in self.to_dict().items() if not isinstance(v, list | dict)}
        return pd.DataFrame([d])

    def summary(self) -> str:
        """Human-readable multi-line summary."""
        lines = [type(self).__name__]
        for k, v in self.to_dict().items():
            if isinstance(v, list | dict):
                v = f"<{type(v).__name__} of {len(v)}>"
            lines.append(f"  {k:<24} {v}")
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()
