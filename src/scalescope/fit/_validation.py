"""Input validation shared by the fitters in :mod:`scalescope.fit`.

Every check raises :class:`scalescope.errors.InputError` with a one-line message naming the input, so the CLI can
print it as ``error: ...`` (DESIGN.md, CLI contract).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.errors import InputError


def as_2d(X, name: str = "X", *, allow_nan: bool = False) -> np.ndarray:
    """``X`` as a float64 C-contiguous 2-D array (a 1-D input becomes one column)."""
    if isinstance(X, pd.DataFrame | pd.Series):
        X = X.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = np.array(X, dtype=float, order="C", copy=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: cannot be converted to a float array ({exc})") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"{name}: expected a 2-D array, got {arr.ndim} dimensions")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name}: is empty (shape {arr.shape})")
    if np.isinf(arr).any():
        raise InputError(f"{name}: contains infinite values")
    if not allow_nan and np.isnan(arr).any():
        raise InputError(f"{name}: contains NaN ({int(np.isnan(arr).sum())} entries); impute or drop them first")
    return arr


def as_1d(y, name: str = "y", *, allow_nan: bool = False) -> np.ndarray:
    """``y`` as a float64 1-D array."""
    if isinstance(y, pd.DataFrame | pd.Series):
        y = y.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = np.array(y, dtype=float, copy=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: cannot be converted to a float array ({exc})") from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name}: is empty")
    if np.isinf(arr).any():
        raise InputError(f"{name}: contains infinite values")
    if not allow_nan and np.isnan(arr).any():
        raise InputError(f"{name}: contains NaN ({int(np.isnan(arr).sum())} entries); drop those rows first")
    return arr


def check_same_length(X: np.ndarray, y: np.ndarray, xname: str = "X", yname: str = "y") -> None:
    if X.shape[0] != y.shape[0]:
        raise InputError(f"{xname} and {yname}: mismatched lengths ({X.shape[0]} rows vs {y.shape[0]} values)")


def check_enough(n: int, n_params: int, what: str) -> None:
    if n <= n_params:
        raise InputError(
            f"{what}: too few points ({n}) for {n_params} parameters; need at least {n_params + 1}"
        )


def check_choice(value, name: str, choices) -> None:
    if value not in choices:
        raise InputError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


def check_n_features(X: np.ndarray, n_expected: int, name: str = "X") -> None:
    if X.shape[1] != n_expected:
        raise InputError(f"{name}: has {X.shape[1]} columns but the estimator was fitted on {n_expected}")


def feature_names(X) -> list[str] | None:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return None
