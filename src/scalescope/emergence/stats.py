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

The hinge fit is vectorised over the breakpoint grid *and* the bootstrap replicates (one batched 3x3 solve), so a
curve with 30 points and 200 replicates costs a few milliseconds; the analyses run it on hundreds of curves.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from scalescope.errors import InputError
from scalescope.results import Result

LN9 = math.log(9.0)
MAX_GRID = 60  # breakpoint candidates at most
MAX_CELLS = 4e6  # R * G * n elements per batched hinge solve


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
    def params(self) -> dict[str, float]:
        return {"tau": self.tau, "a": self.a, "b": self.b, "c": self.c}

    def conf_int(self) -> dict[str, tuple[float, float]]:
        return {"tau": self.tau_ci}


def _hinge_grid(x: np.ndarray, min_side: int) -> np.ndarray:
    xs = np.unique(x)
    # midpoints between observed x (spec §3.4) plus the observed x themselves, so a break exactly at a sampled
    # point is representable
    mids = np.unique(np.concatenate([(xs[:-1] + xs[1:]) / 2.0, xs]))
    # keep at least `min_side` points on each side so both slopes are identified
    keep = [(np.sum(x <= m) >= min_side) and (np.sum(x > m) >= min_side) for m in mids]
    mids = mids[np.asarray(keep, dtype=bool)] if len(mids) else mids
    if mids.size > MAX_GRID:  # dense data (all checkpoints): quantile-spaced candidates keep memory bounded
        mids = np.unique(np.quantile(mids, np.linspace(0, 1, MAX_GRID)))
    return mids


def _hinge_sse(x: np.ndarray, Y: np.ndarray, taus: np.ndarray, flat_start: bool, residuals: bool = True):
    """SSE (R, G) and coefficients (R, G, p) of hinge fits of every row of ``Y`` (R, n) at every tau (G).

    ``residuals=False``: the SSE from the normal equations (``|y - ybar|^2 - b'X'(y - ybar)``) without forming the
    (R, G, n) fitted values -- n times less work, for noisy simulated curves (error_rates.py); an exact fit loses
    its last digits there (the SSE is a difference of two sums), so real curves use the residuals.
    """
    if not residuals:
        p = 2 if flat_start else 3
        h = np.maximum(0.0, x[None, :] - taus[:, None])
        X = np.stack([np.ones_like(h), h] if flat_start else [np.ones_like(h), np.broadcast_to(x, h.shape), h], -1)
        inv = np.linalg.inv(np.swapaxes(X, 1, 2) @ X + 1e-12 * np.eye(p)[None])
        ybar = Y.mean(1, keepdims=True)
        Yc = Y - ybar
        Xty = np.tensordot(Yc, X, axes=([1], [1]))  # (R, G, p)
        coef = np.empty_like(Xty)
        for i in range(p):  # coef = inv @ Xty per (row, tau), spelled out over the p <= 3 columns
            coef[..., i] = sum(inv[None, :, i, j] * Xty[..., j] for j in range(p))
        sse = np.maximum((Yc**2).sum(1)[:, None] - (coef * Xty).sum(-1), 0.0)
        coef[..., 0] += ybar  # back from the centred rows (only the intercept moves)
        return sse, coef
    chunk = max(1, int(MAX_CELLS // max(1, taus.size * x.size)))
    if Y.shape[0] > chunk:  # bound the (R, G, n) intermediate
        parts = [_hinge_sse(x, Y[i:i + chunk], taus, flat_start) for i in range(0, Y.shape[0], chunk)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    h = np.maximum(0.0, x[None, :] - taus[:, None])  # (G, n)
    ones = np.ones_like(h)
    if flat_start:
        X = np.stack([ones, h], axis=-1)  # (G, n, 2): flat then rise
    else:
        X = np.stack([ones, np.broadcast_to(x, h.shape), h], axis=-1)  # (G, n, 3)
    # products and sums over the p <= 3 columns instead of einsum: einsum without `optimize` loops in C over every
    # index and made this the hot spot of the error-rate simulations
    p = X.shape[-1]
    XtX = np.swapaxes(X, 1, 2) @ X + 1e-12 * np.eye(p)[None]
    Xty = np.tensordot(Y, X, axes=([1], [1]))  # (R, G, p), one matrix product
    inv = np.linalg.inv(XtX)  # (G, p, p): shared by every row
    coef = (inv[None] * Xty[:, :, None, :]).sum(-1)  # (R, G, p)
    fitted = coef[..., 0, None] * X[None, :, :, 0]
    for i in range(1, p):
        fitted = fitted + coef[..., i, None] * X[None, :, :, i]
    sse = ((Y[:, None, :] - fitted) ** 2).sum(-1)
    return sse, coef


def _linear_sse(x: np.ndarray, Y: np.ndarray):
    X = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(X, Y.T, rcond=None)
    fitted = (X @ coef).T
    return ((Y - fitted) ** 2).sum(-1), coef.T


def _bic(sse: float, n: int, k: int) -> float:
    return n * math.log(max(sse, 1e-300) / n) + k * math.log(n)


def hinge_fit(x, y, *, flat_start: bool = False, n_boot: int = 200, min_side: int = 2,
              random_state: int = 0) -> HingeResult:
    """Fit ``y = a + b x + c max(0, x - tau)`` by a grid over midpoints of ``x`` and OLS at each tau (§3.4).

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
    n = x.size
    taus = _hinge_grid(x, min_side)
    if taus.size == 0:
        raise InputError(f"hinge_fit: needs at least {2 * min_side + 1} distinct x values, got {np.unique(x).size}")
    sse_g, coef_g = _hinge_sse(x, y[None, :], taus, flat_start)
    g = int(np.argmin(sse_g[0]))
    tau = float(taus[g])
    coef = coef_g[0, g]
    if flat_start:
        a, b, c = float(coef[0]), 0.0, float(coef[1])
    else:
        a, b, c = (float(v) for v in coef)
    sse = float(sse_g[0, g])
    sse_lin_arr, lin_coef = _linear_sse(x, y[None, :])
    sse_lin = float(sse_lin_arr[0])
    k_h = (3 if flat_start else 4)  # a, (b), c, tau
    bic_h, bic_l = _bic(sse, n, k_h), _bic(sse_lin, n, 2)

    rng = np.random.default_rng(random_state)
    p_value, tau_ci = float("nan"), (float("nan"), float("nan"))
    if n_boot > 0:
        # parametric bootstrap under the linear null: line + resampled centred residuals
        lin_fit = lin_coef[0, 0] + lin_coef[0, 1] * x
        res0 = y - lin_fit
        res0 = res0 - res0.mean()
        Y0 = lin_fit[None, :] + rng.choice(res0, size=(n_boot, n), replace=True)
        s_h, _ = _hinge_sse(x, Y0, taus, flat_start)
        s_l, _ = _linear_sse(x, Y0)
        stat0 = (s_l - s_h.min(1)) / np.maximum(s_h.min(1), 1e-300)
        stat = (sse_lin - sse) / max(sse, 1e-300)
        p_value = float((1 + np.sum(stat0 >= stat)) / (n_boot + 1))
        # residual bootstrap of the hinge fit for tau
        fit_h = np.einsum("ni,i->n", _design(x, tau, flat_start), coef)
        res1 = y - fit_h
        res1 = res1 - res1.mean()
        Y1 = fit_h[None, :] + rng.choice(res1, size=(n_boot, n), replace=True)
        s1, _ = _hinge_sse(x, Y1, taus, flat_start)
        tb = taus[np.argmin(s1, axis=1)]
        tau_ci = (float(np.quantile(tb, 0.025)), float(np.quantile(tb, 0.975)))
    return HingeResult(
        tau=tau, a=a, b=b, c=c, slope_before=b, slope_after=b + c, sse=sse, sse_linear=sse_lin, bic=bic_h,
        bic_linear=bic_l, delta_bic=bic_l - bic_h, p_value=p_value, tau_ci=tau_ci, n=n, n_boot=n_boot,
        flat_start=flat_start,
    )


def _design(x: np.ndarray, tau: float, flat_start: bool) -> np.ndarray:
    h = np.maximum(0.0, x - tau)
    return np.stack([np.ones_like(x), h], 1) if flat_start else np.stack([np.ones_like(x), x, h], 1)


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
    def params(self) -> dict[str, float]:
        return {"x0": self.x0, "k": self.k, "ceiling": self.ceiling, "floor": self.floor}

    def conf_int(self) -> dict[str, tuple[float, float]]:
        return dict(self.ci)

    def predict(self, x) -> np.ndarray:
        return _sig(np.asarray(x, dtype=float), self.x0, self.k, self.ceiling, self.floor)


def _sig(x, x0, k, d, c):
    z = np.clip(-k * (x - x0), -60, 60)
    return c + (d - c) / (1.0 + np.exp(z))


def sigmoid_fit(x, y, *, floor: float = 0.0, ceiling: float | None = 1.0, k_sign: int = 1,
                n_starts: int = 5) -> SigmoidResult:
    """Fit a sigmoid with a fixed floor (chance) and a fixed or free ceiling (free: bounded by ``[max y, 1]``).

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
    free_ceiling = ceiling is None
    span = float(np.ptp(x)) or 1.0
    kmax = 50.0 / span * 10
    lo_d = max(float(np.max(y)), floor + 1e-6)
    hi_d = max(1.0, lo_d + 1e-6) if floor < 1.0 else lo_d + 1.0

    def model(p):
        x0, k = p[0], p[1]
        d = p[2] if free_ceiling else ceiling
        return _sig(x, x0, k, d, floor)

    def resid(p):
        return model(p) - y

    def jac(p):  # analytic: the finite-difference Jacobian was most of `emergence analyze`'s run time
        x0, k = p[0], p[1]
        d = p[2] if free_ceiling else ceiling
        sg = 1.0 / (1.0 + np.exp(np.clip(-k * (x - x0), -60, 60)))
        g = (d - floor) * sg * (1.0 - sg)
        cols = [-g * k, g * (x - x0)] + ([sg] if free_ceiling else [])
        return np.stack(cols, axis=1)

    if k_sign > 0:
        klo, khi = 1e-6, kmax
    else:
        klo, khi = -kmax, -1e-6
    lb = [x.min() - 2 * span, klo] + ([lo_d] if free_ceiling else [])
    ub = [x.max() + 2 * span, khi] + ([hi_d] if free_ceiling else [])
    best = None
    for x0s in np.linspace(x.min(), x.max() + 0.5 * span, n_starts):
        p0 = [x0s, k_sign * 2.0 / span * 4] + ([min(max(lo_d, min(hi_d, lo_d + 0.05)), hi_d)] if free_ceiling else [])
        p0 = np.clip(p0, np.asarray(lb) + 1e-9, np.asarray(ub) - 1e-9)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = optimize.least_squares(resid, p0, jac=jac, bounds=(lb, ub), method="trf", max_nfev=400)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if best is None or r.cost < best.cost:
            best = r
    if best is None:
        nan = float("nan")
        return SigmoidResult(nan, nan, nan, floor, nan, nan, nan, False, {}, x.size)
    p = best.x
    res = best.fun
    mse = float(np.mean(res**2))
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = float(1 - np.sum(res**2) / sst) if sst > 0 else float("nan")
    names = ["x0", "k"] + (["ceiling"] if free_ceiling else [])
    ci: dict[str, tuple[float, float]] = {}
    dof = max(x.size - len(p), 1)
    try:
        J = best.jac
        if np.linalg.matrix_rank(J) < len(p):  # a saturated (step-like) fit: the parameters are not identified
            raise np.linalg.LinAlgError("rank-deficient Jacobian")
        cov = np.linalg.pinv(J.T @ J) * (np.sum(res**2) / dof)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        t = stats.t.ppf(0.975, dof)
        ci = {nm: (float(p[i] - t * se[i]), float(p[i] + t * se[i])) for i, nm in enumerate(names)}
    except np.linalg.LinAlgError:
        pass
    k = float(p[1])
    d = float(p[2]) if free_ceiling else float(ceiling)
    return SigmoidResult(
        x0=float(p[0]), k=k, ceiling=d, floor=float(floor), width=float(2 * LN9 / abs(k)) if k else float("inf"),
        mse=mse, r2=r2, success=bool(best.success), ci=ci, n=x.size,
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
