"""Emergence statistics of one scaling curve (research/emergence.md §3).

A *curve* is a score ``y`` measured at increasing ``x`` (``x`` = log10 training FLOPs unless stated). This module
implements, with explicit degenerate-case handling:

- :func:`signed_range` -- ``I(y)`` of BIG-bench / Schaeffer et al. (§3.1);
- :func:`breakthroughness` -- BIG-bench breakthroughness ``B = I(y) / sqrt(median(dy^2))`` (§3.2), the "emergence
  score" of Schaeffer et al. 2023. A zero median of the squared consecutive differences (flat steps with one jump)
  gives ``+inf``/``-inf`` (or NaN when the curve is constant), never a silent clip;
- :func:`monotonicity` and :func:`r2_loglinear` -- two clearly named *stand-ins* for BIG-bench "linearity", whose exact
  formula could not be verified (§3.3). Neither is BIG-bench linearity;
- :func:`jump_share` -- ``J = max|dy| / (max y - min y)``, the largest single-interval share of the rise (Test C1);
- :func:`hinge_fit` -- one-breakpoint continuous piecewise-linear fit by grid + OLS, compared with a line by BIC and a
  parametric bootstrap under the linear null, with a bootstrap CI on the breakpoint (§3.4);
- :func:`sigmoid_fit` -- ``y = c + (d - c) / (1 + exp(-k (x - x0)))`` with ``c`` fixed at chance (§3.5), delta-method
  CIs, and the 10%-90% transition width ``w = 2 ln 9 / k``;
- :func:`floor_test` -- is the low end of a curve distinguishable from chance with ``n`` items (Test C3);
- :func:`noise_scale` -- a per-point noise estimate used for parametric-bootstrap CIs when no stderr is known.

The hinge fit is :class:`scalescope.fit.HingeFit` (vectorised over the breakpoint grid *and* the bootstrap replicates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from scalescope.errors import InputError
from scalescope.fit.hinge import HingeFit
from scalescope.fit.sigmoid import Sigmoid1D, _sig
from scalescope.results import Result

LN9 = math.log(9.0)


def _as_curve(x, y, *, min_points: int = 3, name: str = "curve") -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise InputError(f"{name}: x and y have different lengths ({x.size} vs {y.size})")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < min_points:
        raise InputError(f"{name}: needs at least {min_points} finite points, got {x.size}")
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def signed_range(y) -> float:
    """``I(y) = sign(argmax y - argmin y) * (max y - min y)`` (emergence.md §3.1); ``y`` ordered by scale.

    Examples
    --------
    >>> signed_range([0.1, 0.2, 0.6])
    0.5
    >>> signed_range([0.6, 0.2, 0.1])
    -0.5
    """
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return float("nan")
    rng = float(y.max() - y.min())
    return float(np.sign(int(np.argmax(y)) - int(np.argmin(y))) * rng)


def breakthroughness(y) -> float:
    """BIG-bench breakthroughness ``B = I(y) / sqrt(median_i dy_i^2)`` of scores ordered by scale (§3.2).

    Degenerate cases, explicitly: fewer than 3 finite points -> NaN; constant curve -> NaN; median of squared
    consecutive differences equal to 0 while the range is not (flat steps plus one jump) -> ``+inf`` or ``-inf``
    following the sign of ``I``. Callers that need a finite number (plots, means) must clip themselves and say so.
    ``B`` depends on the number of points (a line with ``n-1`` equal steps has ``B = n-1``), so never compare ``B``
    across grids of different size without the subsampling calibration of :func:`scalescope.emergence.arguments.sampling_density`.

    Examples
    --------
    >>> breakthroughness([0.0, 1.0, 2.0, 3.0])
    3.0
    >>> breakthroughness([0.25, 0.25, 0.25, 0.6])
    inf
    """
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 3:
        return float("nan")
    i = signed_range(y)
    if i == 0:
        return float("nan")
    denom = math.sqrt(float(np.median(np.diff(y) ** 2)))
    if denom == 0.0:
        return math.copysign(math.inf, i)
    return i / denom


def monotonicity(y) -> float:
    """Stand-in #1 for BIG-bench linearity (NOT that statistic): ``I(y) / sum |dy|`` in [-1, 1].

    1 for any non-decreasing curve, -1 for non-increasing, near 0 for a curve that goes up and down.

    Examples
    --------
    >>> round(monotonicity([0.1, 0.3, 0.2, 0.5]), 3)
    0.667
    """
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return float("nan")
    tv = float(np.abs(np.diff(y)).sum())
    return float("nan") if tv == 0 else signed_range(y) / tv


def r2_loglinear(x, y) -> float:
    """Stand-in #2 for BIG-bench linearity (NOT that statistic): R^2 of the OLS line of ``y`` on ``x``.

    Pass ``x`` already on the axis you mean (log10 FLOPs for "linear in log compute").

    Examples
    --------
    >>> round(r2_loglinear([1, 2, 3, 4], [1, 2, 3, 4.5]), 3)
    0.989
    """
    x, y = _as_curve(x, y, min_points=3)
    if np.ptp(y) == 0:
        return float("nan")
    r = np.corrcoef(x, y)[0, 1]
    return float(r * r)


def jump_share(y) -> float:
    """``J = max_i |dy_i| / (max y - min y)``: 1 when the whole rise happens in one interval (Test C1).

    Examples
    --------
    >>> jump_share([0.25, 0.25, 0.26, 0.6])
    0.9714285714285714
    """
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 2 or np.ptp(y) == 0:
        return float("nan")
    return float(np.abs(np.diff(y)).max() / np.ptp(y))


def noise_scale(y) -> float:
    """Robust noise SD of a smooth curve from second differences: ``1.4826 * MAD(d2y) / sqrt(6)``.

    Second differences cancel any locally linear trend; for white noise ``var(d2y) = 6 sigma^2``. Used for
    parametric-bootstrap CIs when the data carry no stderr or item counts.
    """
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if y.size < 4:
        return float(np.std(y)) if y.size else float("nan")
    d2 = np.diff(y, 2)
    mad = float(np.median(np.abs(d2 - np.median(d2))))
    s = 1.4826 * mad / math.sqrt(6.0)
    if s == 0.0:  # a staircase with exact repeats: fall back to the RMS of second differences
        s = float(np.sqrt(np.mean(d2**2) / 6.0))
    return s


def binomial_se(p, n_items) -> np.ndarray:
    """Standard error of an accuracy ``p`` measured on ``n_items`` items (NaN where ``n_items`` is unknown)."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    n = np.asarray(n_items, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(p * (1 - p) / n)


# ----------------------------------------------------------------------------------------------------- hinge fit

def _ci_frame(ci: dict) -> pd.DataFrame:
    """``{name: (lower, upper)}`` as the results API's interval frame (index: parameter; ``lower``, ``upper``)."""
    return pd.DataFrame([(float(v[0]), float(v[1])) if v is not None else (np.nan, np.nan) for v in ci.values()],
                        index=list(ci), columns=["lower", "upper"])

@dataclass(frozen=True)
class HingeResult(Result):
    """One-breakpoint hinge fit ``y = a + b x + c max(0, x - tau)`` compared with the line ``y = a + b x``.

    ``delta_bic = BIC(line) - BIC(hinge)`` (positive favours the hinge); ``p_value`` is the parametric-bootstrap
    p-value of the SSE reduction under the linear null; ``tau_ci`` a residual-bootstrap percentile interval.
    """

    tau: float
    a: float
    b: float
    c: float
    slope_before: float
    slope_after: float
    sse: float
    sse_linear: float
    bic: float
    bic_linear: float
    delta_bic: float
    p_value: float
    tau_ci: tuple[float, float]
    n: int
    n_boot: int
    flat_start: bool = False

    @property
    def params(self) -> pd.Series:
        return pd.Series({"tau": self.tau, "a": self.a, "b": self.b, "c": self.c}, name="params")

    def conf_int(self) -> pd.DataFrame:
        """Bootstrap interval of the breakpoint (rows: parameters; columns ``lower``, ``upper``)."""
        return _ci_frame({"tau": self.tau_ci})


def hinge_fit(x, y, *, flat_start: bool = False, n_boot: int = 200, min_side: int = 2,
              random_state: int = 0) -> HingeResult:
    """Fit ``y = a + b x + c max(0, x - tau)`` by a grid over midpoints of ``x`` and OLS at each tau (§3.4).

    :class:`scalescope.fit.HingeFit` on the grid (``refine=False``), reported as a :class:`HingeResult`.

    Parameters
    ----------
    x, y : array-like
        The curve (``x`` on the axis of interest, e.g. log10 FLOPs). At least ``2 * min_side + 1`` points.
    flat_start : bool
        Fit the "flat then rise" emergence hypothesis (``b = 0``) instead of the free hinge.
    n_boot : int
        Replicates for the residual bootstrap of tau and for the parametric bootstrap of the p-value under the
        linear null (with 8-12 points an F-test is not trustworthy; §3.4).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 4, 17); y = np.where(x < 2, 0.25, 0.25 + 0.3 * (x - 2))
    >>> r = hinge_fit(x, y, n_boot=50)
    >>> round(r.tau, 2), r.delta_bic > 6
    (2.0, True)
    """
    x, y = _as_curve(x, y, min_points=2 * min_side + 1, name="hinge_fit")
    m = HingeFit(flat_first=flat_start, min_points_per_side=min_side, refine=False, n_boot=n_boot,
                 random_state=random_state).fit(x, y)
    e = m.result_.extra
    tau_ci = (float("nan"), float("nan"))
    if n_boot > 0:
        tb = m.result_.boot_params[:, -1]
        tau_ci = (float(np.quantile(tb, 0.025)), float(np.quantile(tb, 0.975)))
    return HingeResult(
        tau=m.breakpoint_, a=m.intercept_, b=m.slope_before_, c=float(m.result_.params["c"]),
        slope_before=m.slope_before_, slope_after=m.slope_after_, sse=m.sse_, sse_linear=m.sse_linear_,
        bic=e["bic_hinge"], bic_linear=e["bic_linear"], delta_bic=e["delta_bic"], p_value=m.p_value_,
        tau_ci=tau_ci, n=x.size, n_boot=n_boot, flat_start=flat_start,
    )


# --------------------------------------------------------------------------------------------------- sigmoid fit
@dataclass(frozen=True)
class SigmoidResult(Result):
    """``y = floor + (ceiling - floor) / (1 + exp(-k (x - x0)))`` with ``floor`` fixed (chance) (§3.5).

    ``width`` is the 10%-90% transition width ``2 ln 9 / |k|`` in units of ``x`` (decades for log10 FLOPs).
    CIs are delta-method (Wald) from the least-squares Jacobian, so they are cheap but optimistic for tiny n.
    """

    x0: float
    k: float
    ceiling: float
    floor: float
    width: float
    mse: float
    r2: float
    success: bool
    ci: dict = field(default_factory=dict)
    n: int = 0

    @property
    def params(self) -> pd.Series:
        return pd.Series({"x0": self.x0, "k": self.k, "ceiling": self.ceiling, "floor": self.floor}, name="params")

    def conf_int(self) -> pd.DataFrame:
        """Wald intervals (rows: parameters; columns ``lower``, ``upper``)."""
        return _ci_frame(dict(self.ci))

    def predict(self, x) -> np.ndarray:
        return _sig(np.asarray(x, dtype=float), self.x0, self.k, self.ceiling, self.floor)


def sigmoid_fit(x, y, *, floor: float = 0.0, ceiling: float | None = 1.0, k_sign: int = 1,
                n_starts: int = 5) -> SigmoidResult:
    """Fit a sigmoid with a fixed floor (chance) and a fixed or free ceiling (free: bounded by ``[max y, 1]``).

    :class:`scalescope.fit.Sigmoid1D`, reported as a :class:`SigmoidResult` with 95% Wald intervals; a fit whose
    every start fails is a result of NaNs with ``success=False``.
    ``k_sign=-1`` fits a decreasing link (accuracy vs task loss, Bhagia step 2). Several starts over ``x0``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(20, 24, 12); y = 0.25 + 0.7 / (1 + np.exp(-3 * (x - 22)))
    >>> r = sigmoid_fit(x, y, floor=0.25, ceiling=0.95)
    >>> round(r.x0, 2), round(r.k, 2)
    (22.0, 3.0)
    """
    x, y = _as_curve(x, y, min_points=3, name="sigmoid_fit")
    try:
        m = Sigmoid1D(floor=floor, ceiling=ceiling, k_sign=k_sign, n_starts=n_starts).fit(x, y)
    except InputError:
        nan = float("nan")
        return SigmoidResult(nan, nan, nan, floor, nan, nan, nan, False, {}, x.size)
    r = m.result_
    ci: dict[str, tuple[float, float]] = {}
    if r.extra["wald"]:
        t = stats.t.ppf(0.975, r.df_resid)
        ci = {nm: (float(r.params[nm] - t * r.bse[nm]), float(r.params[nm] + t * r.bse[nm]))
              for nm in ("x0", "k", "ceiling") if nm in r.params.index}
    return SigmoidResult(
        x0=m.x0_, k=m.k_, ceiling=m.ceiling_, floor=float(floor), width=m.width_10_90_, mse=r.mse, r2=r.r2,
        success=r.extra["success"], ci=ci, n=x.size,
    )


# ------------------------------------------------------------------------------------------------- floor (C3)
@dataclass(frozen=True)
class FloorResult(Result):
    """Binomial test of the low segment of a curve against chance (Test C3)."""

    mean_low: float
    chance: float
    n_items: float
    p_value: float
    min_detectable: float
    resolved: bool


def floor_test(acc_low, chance: float, n_items: float | None) -> FloorResult:
    """Is the mean of ``acc_low`` (the small models) above ``chance``, given ``n_items`` per evaluation?

    ``min_detectable ~ 2 sqrt(p (1-p) / n)``; with unknown ``n_items`` the test is not possible and the result says
    ``resolved=False`` with NaN p-value.

    Examples
    --------
    >>> r = floor_test([0.26, 0.25, 0.27], chance=0.25, n_items=1000)
    >>> round(r.min_detectable, 4)
    0.0274
    """
    a = np.asarray(acc_low, dtype=float)
    a = a[np.isfinite(a)]
    m = float(a.mean()) if a.size else float("nan")
    if n_items is None or not np.isfinite(n_items) or n_items <= 0 or not a.size:
        return FloorResult(m, chance, float("nan"), float("nan"), float("nan"), False)
    n = float(n_items)
    k = int(round(m * n * a.size))
    p = float(stats.binomtest(k, int(n * a.size), min(max(chance, 1e-9), 1 - 1e-9), alternative="greater").pvalue)
    p0 = min(max(chance, 1e-3), 1 - 1e-3)
    mde = 2 * math.sqrt(p0 * (1 - p0) / n)
    return FloorResult(m, chance, n, p, mde, True)
