"""One-breakpoint piecewise-linear ("hinge") fit, emergence.md §3.4.

``y = a + b x + c max(0, x - tau)``: continuous at the breakpoint ``tau``, slope ``b`` before and ``b + c`` after.
``flat_first=True`` is the "flat, then rise" emergence hypothesis (``b = 0``; with ``floor`` given, ``a`` is fixed too,
e.g. to chance).

``tau`` is found by a grid (:func:`hinge_grid`: the midpoints between consecutive distinct x -- the spec's rule --
plus the observed x themselves, so a break exactly at a sampled point is representable; at most :data:`MAX_GRID`
quantile-spaced candidates for dense data), each candidate an OLS in (a, b, c). The solve is vectorised over the grid
*and* over replicate curves (:func:`hinge_sse`: one batched 3x3 solve), so a curve with 30 points and 200 bootstrap
replicates costs a few milliseconds; the emergence analyses run it on hundreds of curves and in their error-rate
simulations. ``refine=True`` then refines tau by a bounded 1-D search between the neighbouring data points (the SSE is
smooth in tau between data points); the emergence analyses keep the grid value (``refine=False``).

The hinge is compared with a straight line by BIC (``delta_bic`` = BIC(line) - BIC(hinge), > 0 favours the hinge).
With ``n_boot > 0`` two bootstraps run (the emergence reference numbers come from this pair): a parametric bootstrap
under the linear null (line + resampled centred residuals) gives the p-value of the SSE reduction, and a residual
bootstrap of the hinge fit gives percentile intervals of every parameter (``result_.conf_int()``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize

from scalescope.errors import InputError, check_fitted
from scalescope.fit._validation import as_1d, check_same_length
from scalescope.fit.results import FitResult

MAX_GRID = 60  # breakpoint candidates at most
MAX_CELLS = 4e6  # R * G * n elements per batched hinge solve


def hinge_grid(x: np.ndarray, min_side: int) -> np.ndarray:
    """Candidate breakpoints: midpoints between distinct ``x`` and the ``x`` themselves, leaving at least
    ``min_side`` points on each side (``x <= tau`` and ``x > tau``) so both slopes are identified.

    Examples
    --------
    >>> hinge_grid(np.arange(6.0), 2).tolist()
    [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    """
    x = np.asarray(x, dtype=float)
    xs = np.unique(x)
    mids = np.unique(np.concatenate([(xs[:-1] + xs[1:]) / 2.0, xs]))
    keep = [(np.sum(x <= m) >= min_side) and (np.sum(x > m) >= min_side) for m in mids]
    mids = mids[np.asarray(keep, dtype=bool)] if len(mids) else mids
    if mids.size > MAX_GRID:  # dense data (all checkpoints): quantile-spaced candidates keep memory bounded
        mids = np.unique(np.quantile(mids, np.linspace(0, 1, MAX_GRID)))
    return mids


def _columns(x: np.ndarray, taus: np.ndarray, flat_first: bool, fixed_level: bool) -> np.ndarray:
    h = np.maximum(0.0, x[None, :] - taus[:, None])  # (G, n)
    if fixed_level:
        return h[..., None]  # (G, n, 1): flat at the given floor, then rise
    ones = np.ones_like(h)
    if flat_first:
        return np.stack([ones, h], axis=-1)  # (G, n, 2): flat then rise
    return np.stack([ones, np.broadcast_to(x, h.shape), h], axis=-1)  # (G, n, 3)


def hinge_sse(x: np.ndarray, Y: np.ndarray, taus: np.ndarray, flat_first: bool = False, residuals: bool = True, *,
              fixed_level: bool = False):
    """SSE (R, G) and coefficients (R, G, p) of hinge fits of every row of ``Y`` (R, n) at every tau (G).

    Columns: (1, x, h) for the free hinge, (1, h) with ``flat_first``, (h,) with ``fixed_level`` (pass ``Y`` minus
    the fixed level). ``residuals=False``: the SSE from the normal equations (``|y - ybar|^2 - b'X'(y - ybar)``)
    without forming the (R, G, n) fitted values -- n times less work, for noisy simulated curves; an exact fit loses
    its last digits there (the SSE is a difference of two sums), so real curves use the residuals.

    Examples
    --------
    >>> x = np.arange(6.0); y = np.maximum(0, x - 2.5)
    >>> sse, coef = hinge_sse(x, y[None], np.array([2.0, 2.5, 3.0]))
    >>> int(np.argmin(sse[0])), (np.round(coef[0, 1], 6) + 0.0).tolist()  # the 1e-12 ridge leaves ~1e-12
    (1, [0.0, 0.0, 1.0])
    """
    if not residuals:
        if fixed_level:
            raise InputError("hinge_sse: residuals=False needs an intercept (fixed_level=False)")
        p = 2 if flat_first else 3
        X = _columns(x, taus, flat_first, False)
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
        parts = [hinge_sse(x, Y[i:i + chunk], taus, flat_first, fixed_level=fixed_level)
                 for i in range(0, Y.shape[0], chunk)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    X = _columns(x, taus, flat_first, fixed_level)
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


def linear_sse(x: np.ndarray, Y: np.ndarray):
    """SSE (R,) and coefficients (R, 2) = (intercept, slope) of the OLS line of every row of ``Y`` on ``x``."""
    X = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(X, Y.T, rcond=None)
    fitted = (X @ coef).T
    return ((Y - fitted) ** 2).sum(-1), coef.T


def bic(sse: float, n: int, k: int) -> float:
    """Gaussian BIC ``n log(SSE / n) + k log n`` (SSE floored at 1e-300 so an exact fit stays finite)."""
    return n * math.log(max(sse, 1e-300) / n) + k * math.log(n)


class HingeFit:
    """Continuous piecewise-linear fit with one breakpoint.

    Parameters
    ----------
    flat_first : bool, default False
        Force slope 0 before the breakpoint.
    floor : float or None, default None
        With ``flat_first``, fix the flat level (e.g. chance accuracy) instead of learning it.
    min_points_per_side : int, default 2
        Candidate breakpoints leave at least this many points on each side.
    refine : bool, default True
        Refine tau continuously around the best grid candidate.
    n_boot : int, default 0
        Replicates of the null bootstrap (``p_value_``) and of the residual bootstrap (``result_.conf_int()``).
    random_state : int, numpy Generator or None, default 0

    Attributes
    ----------
    breakpoint_ : float
    intercept_, slope_before_, slope_after_ : float
    sse_, sse_linear_ : float
        Residual sums of squares of the hinge and of the straight line.
    p_value_ : float
        Parametric-bootstrap p-value of the SSE reduction under the linear null (NaN without ``n_boot``).
    result_ : FitResult
        ``params`` a, b, c, tau (only the free ones); ``boot_params`` the residual-bootstrap replicates; ``extra``:
        ``breakpoint``, ``slope_before``, ``slope_after``, ``sse``, ``sse_linear``, ``bic_hinge``, ``bic_linear``,
        ``delta_bic``, ``p_value``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import HingeFit
    >>> x = np.linspace(0, 10, 41)
    >>> y = 0.1 + 0.3 * np.maximum(0, x - 6.3)
    >>> m = HingeFit(flat_first=True).fit(x, y)
    >>> round(m.breakpoint_, 3), round(m.slope_after_, 3)
    (6.3, 0.3)
    """

    def __init__(self, *, flat_first: bool = False, floor: float | None = None, min_points_per_side: int = 2,
                 refine: bool = True, n_boot: int = 0, random_state=0):
        self.flat_first = flat_first
        self.floor = floor
        self.min_points_per_side = min_points_per_side
        self.refine = refine
        self.n_boot = n_boot
        self.random_state = random_state

    @property
    def _fixed(self) -> bool:
        return bool(self.flat_first and self.floor is not None)

    def _sse_at(self, x, t, tau):
        sse, coef = hinge_sse(x, t[None, :], np.array([tau]), self.flat_first, fixed_level=self._fixed)
        return float(sse[0, 0]), coef[0, 0]

    def fit(self, x, y) -> HingeFit:
        xv = as_1d(x, "x")
        yv = as_1d(y, "y")
        check_same_length(xv[:, None], yv, "x", "y")
        m = int(self.min_points_per_side)
        if xv.size < 2 * m + 1:
            raise InputError(f"HingeFit: too few points: needs at least {2 * m + 1}, got {xv.size}")
        if np.unique(xv).size < 3:  # a line plus a kink needs three distinct x
            raise InputError(f"HingeFit: needs at least 3 distinct x values, got {np.unique(xv).size}")
        order = np.argsort(xv, kind="stable")
        xv, yv = xv[order], yv[order]
        n = xv.size
        taus = hinge_grid(xv, m)
        if taus.size == 0:
            raise InputError(f"HingeFit: needs at least {2 * m + 1} distinct x values, got {np.unique(xv).size}")
        fixed = self._fixed
        t = yv - self.floor if fixed else yv
        sse_g, coef_g = hinge_sse(xv, t[None, :], taus, self.flat_first, fixed_level=fixed)
        g = int(np.argmin(sse_g[0]))
        tau, coef, sse = float(taus[g]), coef_g[0, g], float(sse_g[0, g])
        if self.refine:
            ux = np.unique(xv)
            lo, hi = ux[max(np.searchsorted(ux, tau) - 1, 0)], ux[min(np.searchsorted(ux, tau, "right"), ux.size - 1)]
            if hi > lo:
                res = optimize.minimize_scalar(lambda v: self._sse_at(xv, t, v)[0], bounds=(lo, hi),
                                               method="bounded", options={"xatol": 1e-10 * max(1.0, abs(hi))})
                if res.fun <= sse and m <= np.sum(xv <= res.x) and m <= np.sum(xv > res.x):
                    tau = float(res.x)
                    sse, coef = self._sse_at(xv, t, tau)
        sse_lin_arr, lin_coef = linear_sse(xv, yv[None, :])
        sse_lin = float(sse_lin_arr[0])
        k_lin = coef.size
        k = k_lin + 1  # + tau
        bic_h, bic_l = bic(sse, n, k), bic(sse_lin, n, 2)

        rng = np.random.default_rng(self.random_state)
        p_value, boot = float("nan"), None
        B = int(self.n_boot)
        if B > 0:
            # parametric bootstrap under the linear null: line + resampled centred residuals
            lin_fit = lin_coef[0, 0] + lin_coef[0, 1] * xv
            res0 = yv - lin_fit
            res0 = res0 - res0.mean()
            Y0 = lin_fit[None, :] + rng.choice(res0, size=(B, n), replace=True)
            s_h, _ = hinge_sse(xv, Y0 - self.floor if fixed else Y0, taus, self.flat_first, fixed_level=fixed)
            s_l, _ = linear_sse(xv, Y0)
            stat0 = (s_l - s_h.min(1)) / np.maximum(s_h.min(1), 1e-300)
            stat = (sse_lin - sse) / max(sse, 1e-300)
            p_value = float((1 + np.sum(stat0 >= stat)) / (B + 1))
            # residual bootstrap of the hinge fit: every parameter at each replicate's best grid tau
            fit_h = np.einsum("ni,i->n", _columns(xv, np.array([tau]), self.flat_first, fixed)[0], coef)
            res1 = t - fit_h
            res1 = res1 - res1.mean()
            Y1 = fit_h[None, :] + rng.choice(res1, size=(B, n), replace=True)
            s1, c1 = hinge_sse(xv, Y1, taus, self.flat_first, fixed_level=fixed)
            j = np.argmin(s1, axis=1)
            boot = np.column_stack([c1[np.arange(B), j], taus[j]])
        a, b, c = self._abc(coef)
        names = (["a"] if not fixed else []) + (["b"] if not self.flat_first else []) + ["c", "tau"]
        cov = np.cov(boot, rowvar=False) if boot is not None and B > 1 else np.full((k, k), np.nan)
        fitted = self.predict_from(xv, tau, a, b, c)
        sst = float(((yv - yv.mean()) ** 2).sum())
        self.breakpoint_ = tau
        self.intercept_, self.slope_before_, self.slope_after_ = a, b, b + c
        self.sse_, self.sse_linear_, self.p_value_ = sse, sse_lin, p_value
        self.result_ = FitResult(
            model="hinge-flat-first" if self.flat_first else "hinge",
            params=pd.Series(np.append(coef, tau), index=names, dtype=float),
            bse=pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=names, dtype=float),
            cov=cov, n_obs=n, df_resid=n - k, mse=sse / n,
            r2=float(1 - ((yv - fitted) ** 2).sum() / sst) if sst > 0 else float("nan"), boot_params=boot,
            extra={"breakpoint": tau, "slope_before": b, "slope_after": b + c, "sse": sse, "sse_linear": sse_lin,
                   "bic_hinge": bic_h, "bic_linear": bic_l, "delta_bic": bic_l - bic_h, "p_value": p_value},
        )
        return self

    def _abc(self, beta):
        if not self.flat_first:
            return float(beta[0]), float(beta[1]), float(beta[2])
        if self.floor is not None:
            return float(self.floor), 0.0, float(beta[0])
        return float(beta[0]), 0.0, float(beta[1])

    @staticmethod
    def predict_from(x, tau, a, b, c) -> np.ndarray:
        return a + b * x + c * np.maximum(0.0, x - tau)

    def predict(self, x) -> np.ndarray:
        check_fitted(self, "breakpoint_")
        xv = as_1d(x, "x")
        return self.predict_from(xv, self.breakpoint_, self.intercept_, self.slope_before_,
                                 self.slope_after_ - self.slope_before_)
