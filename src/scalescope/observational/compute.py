"""Capabilities versus compute: per-family log-linear fits and equivalent compute (spec §1.1, §1.7, §2.2).

Within a family, capability is log-linear in training compute, ``S_m ≈ θ_f·log10 C_m + ν_f`` with a separate OLS
per family (families differ in compute efficiency). "Equivalent compute" maps a target's linear predictor back onto
a reference family's log10-FLOPs axis (Llama-2 by default), a reparametrisation that leaves MSE unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.fit import LinearFit
from scalescope.results import Result


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """slope, intercept, R² of y on x (:class:`scalescope.fit.LinearFit`); NaN when x has no spread."""
    if x.size < 2 or np.ptp(x) == 0:
        return float("nan"), float("nan"), float("nan")
    r = LinearFit().fit(x[:, None], y).result_
    return float(r.params.iloc[1]), float(r.params.iloc[0]), float(r.r2)


@dataclass(frozen=True)
class FamilyComputeFit(Result):
    """Per-family OLS of a capability on log10 FLOPs, with the family-mean and pooled R² (spec §2.2)."""

    metric: str
    families: pd.DataFrame  # family, n, slope, intercept, r2
    mean_r2: float
    pooled_slope: float
    pooled_intercept: float
    pooled_r2: float
    n_models: int

    def to_frame(self) -> pd.DataFrame:
        return self.families


def family_compute_fits(values, flops_1e21, families, *, metric: str = "PC-1", min_models: int = 3
                        ) -> FamilyComputeFit:
    """OLS of ``values`` on ``log10(flops_1e21)`` per family (families with ≥ ``min_models`` models with FLOPs).

    Examples
    --------
    >>> import numpy as np
    >>> f = np.array([1, 10, 100, 1, 10, 100.0])
    >>> v = np.r_[0.5 * np.log10(f[:3]), 0.2 * np.log10(f[3:]) + 1]
    >>> res = family_compute_fits(v, f, ["a", "a", "a", "b", "b", "b"])
    >>> res.families["slope"].round(3).tolist(), round(res.mean_r2, 3)
    ([0.5, 0.2], 1.0)
    """
    v = np.asarray(values, dtype=float)
    lf = np.log10(np.asarray(flops_1e21, dtype=float))
    fam = np.asarray(families).astype(str)
    ok = np.isfinite(v) & np.isfinite(lf)
    rows = []
    for f in pd.unique(fam[ok]):
        m = ok & (fam == f)
        if m.sum() >= min_models:
            s, c, r2 = _ols(lf[m], v[m])
            rows.append({"family": f, "n": int(m.sum()), "slope": s, "intercept": c, "r2": r2})
    tab = pd.DataFrame(rows, columns=["family", "n", "slope", "intercept", "r2"])
    ps, pc, pr2 = _ols(lf[ok], v[ok]) if ok.sum() >= 2 else (np.nan, np.nan, np.nan)
    return FamilyComputeFit(metric=metric, families=tab, mean_r2=float(np.nanmean(tab["r2"])) if len(tab) else np.nan,
                            pooled_slope=ps, pooled_intercept=pc, pooled_r2=pr2, n_models=int(ok.sum()))


@dataclass(frozen=True)
class EquivalentCompute(Result):
    """``z ≈ slope·log10(FLOPs_1e21) + intercept`` on the reference family; ``x_log10 = (z - intercept)/slope``."""

    reference_family: str
    slope: float
    intercept: float
    r2: float
    n_reference: int
    x_log10: np.ndarray  # log10 of reference-equivalent FLOPs in units of 1e21, per model

    def to_dict(self) -> dict:
        return {"reference_family": self.reference_family, "slope": self.slope, "intercept": self.intercept,
                "r2": self.r2, "n_reference": self.n_reference}


def equivalent_compute(z, families, flops_1e21, reference_family: str = "Llama-2", *, strict: bool = False
                       ) -> EquivalentCompute | None:
    """Map linear predictors ``z`` to log10 reference-equivalent FLOPs (spec §1.7).

    Returns ``None`` (or raises with ``strict=True``) when the reference family has fewer than 2 models with FLOPs.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([1.0, 2.0, 3.0, 2.5])
    >>> eq = equivalent_compute(z, ["R", "R", "R", "X"], [10, 100, 1000, np.nan], "R")
    >>> round(eq.slope, 3), round(float(eq.x_log10[3]), 3)
    (1.0, 2.5)
    """
    z = np.asarray(z, dtype=float)
    fam = np.asarray(families).astype(str)
    lf = np.log10(np.asarray(flops_1e21, dtype=float))
    m = (fam == reference_family) & np.isfinite(lf) & np.isfinite(z)
    if m.sum() < 2:
        if strict:
            raise InputError(f"--reference-family: {reference_family!r} has {int(m.sum())} model(s) with FLOPs; "
                             "need at least 2")
        return None
    a, c, r2 = _ols(lf[m], z[m])
    return EquivalentCompute(reference_family=reference_family, slope=a, intercept=c, r2=r2,
                             n_reference=int(m.sum()), x_log10=(z - c) / a)
