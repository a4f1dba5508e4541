"""One-breakpoint piecewise-linear ("hinge") fit, emergence.md §3.4.

``y = a + b x + c max(0, x - tau)``: continuous at the breakpoint ``tau``, slope ``b`` before and ``b + c`` after.
``flat_first=True`` is the "flat, then rise" emergence hypothesis (``b = 0``; with ``floor`` given, ``a`` is fixed too,
e.g. to chance). ``tau`` is found by a grid over midpoints between consecutive distinct x (the spec's rule), where each
candidate is an OLS in (a, b, c), then refined by a bounded 1-D search between the neighbouring data points (the SSE is
smooth in tau between data points). The CI of ``tau`` comes from a case bootstrap (``n_boot``); the hinge is compared
with a straight line by BIC (``extra["delta_bic"]`` = BIC(line) - BIC(hinge), > 0 favours the hinge).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

from scalescope.errors import InputError, check_fitted
from scalescope.fit._validation import as_1d, check_enough, check_same_length
from scalescope.fit.linear import ols
from scalescope.fit.results import FitResult, r2_score


class HingeFit:
    """Continuous piecewise-linear fit with one breakpoint.

    Parameters
    ----------
    flat_first : bool, default False
        Force slope 0 before the breakpoint.
    floor : float or None, default None
        With ``flat_first``, fix the flat level (e.g. chance accuracy) instead of learning it.
    min_points_per_side : int, default 2
        Candidate breakpoints leave at least this many distinct x on each side.
    refine : bool, default True
        Refine tau continuously around the best grid midpoint.
    n_boot : int, default 0
        Case-bootstrap replicates for CIs of all parameters (``result_.conf_int()`` then uses them).
    random_state : int, default 0

    Attributes
    ----------
    breakpoint_ : float
    intercept_, slope_before_, slope_after_ : float
    result_ : FitResult
        ``params`` a, b, c, tau (only the free ones); ``extra``: ``breakpoint``, ``slope_before``, ``slope_after``,
        ``bic_hinge``, ``bic_linear``, ``delta_bic``.

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
                 refine: bool = True, n_boot: int = 0, random_state: int | None = 0):
        self.flat_first = flat_first
        self.floor = floor
        self.min_points_per_side = min_points_per_side
        self.refine = refine
        self.n_boot = n_boot
        self.random_state = random_state

    def _design(self, x, tau):
        h = np.maximum(0.0, x - tau)
        if self.flat_first:
            return h[:, None] if self.floor is not None else np.column_stack([np.ones_like(x), h])
        return np.column_stack([np.ones_like(x), x, h])

    def _sse_at(self, x, y, tau):
        t = y - self.floor if (self.flat_first and self.floor is not None) else y
        D = self._design(x, tau)
        beta, *_ = np.linalg.lstsq(D, t, rcond=None)
        r = t - D @ beta
        return float(r @ r), beta

    def _fit_tau(self, x, y):
        ux = np.unique(x)
        m = int(self.min_points_per_side)
        if ux.size < 2 * m:
            raise InputError(f"HingeFit: need at least {2 * m} distinct x values, got {ux.size}")
        mids = (ux[:-1] + ux[1:]) / 2
        cand = mids[m - 1 : ux.size - m]
        sses = np.array([self._sse_at(x, y, t)[0] for t in cand])
        j = int(np.argmin(sses))
        tau = float(cand[j])
        if self.refine:
            i = j + m - 1  # cand[j] lies between ux[i] and ux[i + 1]
            lo, hi = ux[max(i - 1, m - 1)], ux[min(i + 2, ux.size - m)]
            if hi > lo:
                res = optimize.minimize_scalar(lambda t: self._sse_at(x, y, t)[0], bounds=(lo, hi),
                                               method="bounded", options={"xatol": 1e-10 * max(1.0, abs(hi))})
                if res.fun <= sses[j]:
                    tau = float(res.x)
        return tau

    def fit(self, x, y) -> HingeFit:
        xv = as_1d(x, "x")
        yv = as_1d(y, "y")
        check_same_length(xv[:, None], yv, "x", "y")
        k_lin = 1 if (self.flat_first and self.floor is not None) else (2 if self.flat_first else 3)
        check_enough(xv.size, k_lin + 1, "HingeFit")
        tau = self._fit_tau(xv, yv)
        sse, _ = self._sse_at(xv, yv, tau)
        t = yv - self.floor if (self.flat_first and self.floor is not None) else yv
        beta, cov_lin, resid, _ = ols(self._design(xv, tau), t)
        a, b, c = self._abc(beta)
        n = xv.size
        k = k_lin + 1
        names = (["a"] if k_lin != 1 else []) + (["b"] if not self.flat_first else []) + ["c", "tau"]
        vals = np.append(beta, tau)
        cov = np.full((k, k), np.nan)
        cov[:k_lin, :k_lin] = cov_lin  # conditional on tau; tau's own spread comes from the bootstrap
        boot = None
        if int(self.n_boot) > 0:
            rng = np.random.default_rng(self.random_state)
            boot = np.full((int(self.n_boot), k), np.nan)
            for i in range(int(self.n_boot)):
                idx = rng.integers(0, n, n)
                try:
                    tb = self._fit_tau(xv[idx], yv[idx])
                except InputError:
                    continue
                boot[i] = np.append(self._sse_at(xv[idx], yv[idx], tb)[1], tb)
            cov = np.ma.cov(np.ma.masked_invalid(boot), rowvar=False).filled(np.nan)
        lin_beta, *_ = np.linalg.lstsq(np.column_stack([np.ones_like(xv), xv]), yv, rcond=None)
        sse_lin = float(((yv - lin_beta[0] - lin_beta[1] * xv) ** 2).sum())

        def bic(s, p):
            return n * np.log(max(s, 1e-300) / n) + p * np.log(n)

        self.breakpoint_ = tau
        self.intercept_, self.slope_before_, self.slope_after_ = a, b, b + c
        self.result_ = FitResult(
            model="hinge-flat-first" if self.flat_first else "hinge",
            params=pd.Series(vals, index=names, dtype=float),
            bse=pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=names, dtype=float),
            cov=cov, n_obs=n, df_resid=n - k, mse=sse / n, r2=r2_score(yv, yv - resid), boot_params=boot,
            extra={"breakpoint": tau, "slope_before": b, "slope_after": b + c, "bic_hinge": bic(sse, k),
                   "bic_linear": bic(sse_lin, 2), "delta_bic": bic(sse_lin, 2) - bic(sse, k)},
        )
        return self

    def _abc(self, beta):
        if not self.flat_first:
            return float(beta[0]), float(beta[1]), float(beta[2])
        if self.floor is not None:
            return float(self.floor), 0.0, float(beta[0])
        return float(beta[0]), 0.0, float(beta[1])

    def predict(self, x) -> np.ndarray:
        check_fitted(self, "breakpoint_")
        xv = as_1d(x, "x")
        return self.intercept_ + self.slope_before_ * xv + (self.slope_after_ - self.slope_before_) * np.maximum(
            0.0, xv - self.breakpoint_)
