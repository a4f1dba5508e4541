"""Power laws ``y = a * x**b`` and ``y = a * x**b + c`` (irreducible term), fitted in log space.

The workhorse of compute scaling (emergence.md §3.7: task loss vs N or D; Chinchilla-style terms). Without an offset
``method="ols"`` is the textbook log-log OLS. With an offset, or ``method="robust"``, the fit is nonlinear least
squares of ``log y`` against ``log(a x^b + c)`` by :func:`scipy.optimize.least_squares` (``loss="soft_l1"`` or
``"huber"`` for robust), parameterised by ``log a`` and ``log c`` so both stay positive, from several starts for
``c`` (fractions of ``min y``). Residuals are in log space because scaling data span decades: a linear-space fit would
only see the smallest models.

:class:`OffsetPowerLaw` is the saturating law ``E + A 10^(-alpha (x - x_ref))`` on a log10 axis with residuals in
``y``, the emergence backtest's compute-only step 1.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import optimize

from scalescope.errors import InputError, check_fitted
from scalescope.fit._validation import as_1d, check_choice, check_enough, check_same_length
from scalescope.fit.linear import ols
from scalescope.fit.results import FitResult, nls_cov, r2_score

METHODS = ("ols", "nls", "robust")


class PowerLaw:
    """Fit ``y = a x^b`` (+ ``c`` with ``with_offset=True``) in log space.

    Parameters
    ----------
    method : {"ols", "nls", "robust"}, default "ols"
        ``"ols"``: log-log OLS (no offset; two distinct x suffice, then the fit is exact and its SEs NaN) -- with an
        offset it falls back to ``"nls"``. ``"nls"``: nonlinear least
        squares on log residuals. ``"robust"``: same with ``loss`` (default ``"soft_l1"``).
    with_offset : bool, default False
        Learn an irreducible term ``c > 0`` (``y -> c`` as ``x -> inf`` when ``b < 0``).
    loss : str, default "soft_l1"
        ``least_squares`` loss for ``method="robust"``; ``f_scale`` is its scale (log units).
    f_scale : float, default 0.1

    Attributes
    ----------
    a_, b_, c_ : float
        Fitted parameters (``c_ = 0`` without offset).
    result_ : FitResult
        ``params`` a, b (, c) with delta-method ``bse``; ``r2`` and ``mse`` are in log space.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import PowerLaw
    >>> x = np.logspace(0, 4, 20)
    >>> m = PowerLaw().fit(x, 3.0 * x ** -0.3)
    >>> round(m.a_, 6), round(m.b_, 6)
    (3.0, -0.3)
    >>> m = PowerLaw(with_offset=True).fit(x, 3.0 * x ** -0.3 + 1.5)
    >>> round(m.a_, 3), round(m.b_, 3), round(m.c_, 3)
    (3.0, -0.3, 1.5)
    """

    def __init__(self, method: str = "ols", *, with_offset: bool = False, loss: str = "soft_l1",
                 f_scale: float = 0.1):
        self.method = method
        self.with_offset = with_offset
        self.loss = loss
        self.f_scale = f_scale

    def fit(self, x, y) -> PowerLaw:
        check_choice(self.method, "method", METHODS)
        xv = as_1d(x, "x")
        yv = as_1d(y, "y")
        check_same_length(xv[:, None], yv, "x", "y")
        if (xv <= 0).any():
            raise InputError(f"x: power laws need x > 0 ({int((xv <= 0).sum())} values are <= 0)")
        if (yv <= 0).any():
            raise InputError(f"y: power laws are fitted in log space and need y > 0 ({int((yv <= 0).sum())} "
                             "values are <= 0)")
        k = 3 if self.with_offset else 2
        if self.method == "ols" and not self.with_offset:
            # two sizes give an exact log-log line (a two-model family): allowed, with NaN standard errors
            if xv.size < 2 or np.ptp(xv) == 0:
                raise InputError(f"PowerLaw: need at least 2 distinct x values, got {np.unique(xv).size}")
        else:
            check_enough(xv.size, k, "PowerLaw")
        lx, ly = np.log(xv), np.log(yv)
        if self.method == "ols" and not self.with_offset:
            beta, cov_l, resid, dof = ols(np.column_stack([np.ones_like(lx), lx]), ly)
            theta, n_starts, status = beta, 1, "converged"
        else:
            theta, cov_l, resid, dof, n_starts, status = self._nls(lx, ly)
        # Reported parameters are a = exp(log a), b, c = exp(log c): transform the covariance by the delta method.
        G = np.diag([np.exp(theta[0]), 1.0] + ([np.exp(theta[2])] if self.with_offset else []))
        cov = G @ cov_l @ G.T
        vals = G.diagonal().copy()
        vals[1] = theta[1]
        names = ["a", "b"] + (["c"] if self.with_offset else [])
        self.a_, self.b_ = float(vals[0]), float(vals[1])
        self.c_ = float(vals[2]) if self.with_offset else 0.0
        self.result_ = FitResult(
            model="power-law" + ("+offset" if self.with_offset else ""),
            params=pd.Series(vals, index=names, dtype=float),
            bse=pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=names, dtype=float),
            cov=cov, n_obs=xv.size, df_resid=dof, mse=float(np.mean(resid**2)), r2=r2_score(ly, ly - resid),
            status=status, n_starts=n_starts,
            extra={"space": "log", "method": self.method, "log_a": float(theta[0])},
        )
        return self

    @staticmethod
    def _log_model(th, lx, with_offset):
        p = th[0] + th[1] * lx
        return np.logaddexp(p, th[2]) if with_offset else p

    def _nls(self, lx, ly):
        wo = self.with_offset

        def resid(th):
            return self._log_model(th, lx, wo) - ly

        def jac(th):
            p = th[0] + th[1] * lx
            if not wo:
                return np.column_stack([np.ones_like(lx), lx])
            wp = np.exp(p - np.logaddexp(p, th[2]))  # share of the power term in a x^b + c
            return np.column_stack([wp, wp * lx, 1 - wp])

        loss = self.loss if self.method == "robust" else "linear"
        starts = []
        ymin = float(np.exp(ly.min()))
        fracs = (0.0, 0.25, 0.5, 0.75, 0.9) if wo else (0.0,)
        for frac in fracs:
            yy = np.log(np.clip(np.exp(ly) - frac * ymin, 1e-300, None))
            beta, *_ = np.linalg.lstsq(np.column_stack([np.ones_like(lx), lx]), yy, rcond=None)
            th = list(beta) + ([np.log(max(frac, 0.05) * ymin)] if wo else [])
            starts.append(np.array(th))
        best = None
        for th0 in starts:
            try:
                res = optimize.least_squares(resid, th0, jac=jac, method="trf", loss=loss, f_scale=self.f_scale,
                                             max_nfev=2000)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if best is None or res.cost < best.cost:
                best = res
        if best is None:
            raise InputError("PowerLaw: every optimiser start failed; check x and y span more than one value")
        r = resid(best.x)
        cov, dof = nls_cov(jac(best.x), r, best.x.size)
        status = "converged" if best.status > 0 else ("max-iter" if best.status == 0 else "failed")
        return best.x, cov, -r, dof, len(starts), status

    def predict(self, x) -> np.ndarray:
        check_fitted(self, "a_")
        xv = as_1d(x, "x")
        return self.a_ * np.power(xv, self.b_) + self.c_


class OffsetPowerLaw:
    """``y = E + A * 10**(-alpha (x - x_ref))`` on a log10 axis ``x`` (e.g. log10 FLOPs), fitted in linear space.

    The compute-only step 1 of the emergence two-step backtest (task loss vs log10 compute, emergence.md §3.7): a
    saturating power law in compute ``C = 10**x`` with irreducible loss ``E``. Unlike :class:`PowerLaw` the residuals
    are in ``y`` itself (the losses span well under a decade) and the parameters are bounded:
    ``E in [0, min y]`` (an irreducible term cannot exceed the best measured loss), ``log A in [-30, 30]``,
    ``alpha in [0, 5]``. ``x_ref`` is the mean of the training ``x`` (conditioning). Bounded trust-region least
    squares (``least_squares``, TRF, finite-difference Jacobian, 400 evaluations) from three starts,
    ``E = 0, min y / 2, 0.9 min y`` (``log A`` from the mean of ``y - E``, ``alpha = 0.2``); the lowest cost wins.

    Attributes
    ----------
    E_, A_, alpha_, x_ref_ : float
    result_ : FitResult
        ``params`` E, log_A, alpha (no standard errors: a predictor, not an inference); ``mse`` in ``y`` units.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import OffsetPowerLaw
    >>> x = np.linspace(19, 23, 9)
    >>> m = OffsetPowerLaw().fit(x, 1.5 + 2.0 * 10 ** (-0.3 * (x - 21)))
    >>> round(m.E_, 4), round(m.alpha_, 4), round(float(m.predict([24])[0]), 4)
    (1.5, 0.3, 1.7518)
    """

    def fit(self, x, y) -> OffsetPowerLaw:
        x = as_1d(x, "x")
        L = as_1d(y, "y")
        check_same_length(x[:, None], L, "x", "y")
        check_enough(x.size, 2, "OffsetPowerLaw")
        xr = float(np.mean(x))
        Lmin = float(np.min(L))

        def resid(p):
            E, logA, alpha = p
            return E + np.exp(logA) * 10 ** (-alpha * (x - xr)) - L

        best = None
        for E0 in (0.0, 0.5 * Lmin, 0.9 * Lmin):
            p0 = [E0, math.log(max(float(np.mean(L)) - E0, 1e-6)), 0.2]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = optimize.least_squares(resid, p0, bounds=([0.0, -30, 0.0], [max(Lmin, 1e-9), 30, 5.0]),
                                               max_nfev=400)
            except ValueError:
                continue
            if best is None or r.cost < best.cost:
                best = r
        if best is None:
            raise InputError("OffsetPowerLaw: every optimiser start failed (is min y <= 0?)")
        self.E_, log_a, self.alpha_ = (float(v) for v in best.x)
        self.A_, self.x_ref_ = float(np.exp(log_a)), xr
        names = ["E", "log_A", "alpha"]
        nan3 = np.full(3, np.nan)
        self.result_ = FitResult(
            model="offset-power-law-log10", params=pd.Series(best.x, index=names, dtype=float),
            bse=pd.Series(nan3, index=names), cov=np.full((3, 3), np.nan), n_obs=x.size, df_resid=x.size - 3,
            mse=float(np.mean(best.fun**2)), r2=r2_score(L, L - best.fun),
            status="converged" if best.status > 0 else ("max-iter" if best.status == 0 else "failed"),
            n_starts=3, extra={"x_ref": xr},
        )
        self._log_a = log_a
        return self

    def predict(self, x) -> np.ndarray:
        check_fitted(self, "E_")
        return self.E_ + np.exp(self._log_a) * 10 ** (-self.alpha_ * (np.asarray(x, dtype=float) - self.x_ref_))
