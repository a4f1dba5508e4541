"""Sigmoid and floor-sigmoid link regressions (Ruan et al. 2024 Sec 3.4, obsscaling spec §1.6; emergence.md §3.5).

Model: ``y = floor + (ceiling - floor) * expit(w . x + b)``.

- ``link="sigmoid"``: floor fixed at 0 (upstream ``sigmoid``: ``y = expit(z)``, ceiling 1);
- ``link="sigmoid-floor"``: floor learned within ``floor_bounds`` (upstream ``sigmoid-parametric`` with fixed height:
  ``y = (1 - b) expit(z) + b``, ``b in [0, 0.2]``, ceiling fixed at ``h = 1``). ``ceiling_bounds`` makes the ceiling
  free too (used by the 1-D emergence curve; upstream's free-height variant is buggy and not ported).

Fitting: :func:`scipy.optimize.least_squares` (TRF; bounds on floor/ceiling only) from several starts: the upstream
initialisation (intercept 0, weights 0.03, floor at its lower bound), a linearised start (OLS of the logit of the
rescaled target) and random perturbations of it; the lowest cost wins. ``exact_upstream=True`` instead reproduces the
authors' single-start optimiser (the path behind the ObsScaling reproduction targets T6-T18, ``obs reproduce``):
from the upstream initial point, ``upstream_method="ols"`` is nonlinear least squares -- TRF with the floor bounded,
Levenberg-Marquardt (MINPACK) without bounds -- and ``"robust"`` minimises the summed Huber(delta) loss with L-BFGS-B
(floor bounded) or BFGS; at most ``max_iter`` iterations / evaluations. Analytic gradients replace upstream's finite
differences (same optimum, faster) and ``expit`` avoids the ``exp`` overflow upstream has for large |z| (spec §4.6).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
from scipy import optimize, special

from scalescope.errors import InputError, check_fitted
from scalescope.fit._validation import (
    as_1d,
    as_2d,
    check_choice,
    check_enough,
    check_n_features,
    check_same_length,
    feature_names,
)
from scalescope.fit.results import FitResult, nls_cov, r2_score

LINKS = ("sigmoid", "sigmoid-floor")
LOSSES = ("linear", "huber", "soft_l1", "cauchy", "arctan")
LN9 = math.log(9.0)
UPSTREAM_INIT_WEIGHT = 0.03  # spec §1.6: w0 = 0, other weights 0.03, b = 0; it matters for reproducing numbers


def link_inverse(z, floor: float = 0.0) -> np.ndarray:
    """The floor-sigmoid link ``(1 - b)·σ(z) + b`` (ceiling 1); ``floor=0`` is the plain sigmoid.

    Examples
    --------
    >>> round(float(link_inverse(0.0, 0.2)), 12)
    0.6
    """
    return (1.0 - floor) * special.expit(np.asarray(z, dtype=float)) + floor


@dataclasses.dataclass(frozen=True, eq=False)
class LinkFit(FitResult):
    """A fitted (floor-)sigmoid link: :class:`FitResult` plus the link, so a law can predict from its result.

    ``params`` is indexed ``intercept``, one weight per feature, then ``floor`` / ``ceiling`` when they were learned.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-3, 3, 30)[:, None]
    >>> r = SigmoidRegression(exact_upstream=True).fit(x, 1 / (1 + np.exp(-(2 * x[:, 0] - 1)))).result_
    >>> np.round(r.params, 2).tolist(), r.converged, round(float(r.predict([[0.5]])[0]), 3)
    ([-1.0, 2.0], True, 0.5)
    """

    link: str = "sigmoid"
    n_features: int = 0

    @property
    def intercept(self) -> float:
        return float(self.params.iloc[0])

    @property
    def weights(self) -> np.ndarray:
        return self.params.to_numpy()[1 : 1 + self.n_features]

    @property
    def floor(self) -> float:
        return float(self.params["floor"]) if "floor" in self.params.index else 0.0

    @property
    def ceiling(self) -> float:
        return float(self.extra.get("ceiling", 1.0))

    def linear_predictor(self, X) -> np.ndarray:
        """``z = intercept + X @ weights``."""
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        return self.intercept + X @ self.weights

    def predict(self, X) -> np.ndarray:
        """``floor + (ceiling - floor) * expit(z)`` (with ceiling 1: :func:`link_inverse`)."""
        z = self.linear_predictor(X)
        if self.ceiling == 1.0:
            return link_inverse(z, self.floor)
        return self.floor + (self.ceiling - self.floor) * special.expit(z)


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    a = np.abs(r)
    quad = a <= delta
    return np.where(quad, 0.5 * r**2, delta * (a - 0.5 * delta)), np.where(quad, r, delta * np.sign(r))


def fit_upstream(A: np.ndarray, y: np.ndarray, p0: np.ndarray, *, floor: bool, floor_bounds=(0.0, 0.2),
                 ceiling: float = 1.0, robust: bool = True, delta: float = 1.0, max_iter: int = 10000):
    """The authors' single-start link fit on a design ``A`` that holds the intercept column (spec §1.6, §4.6).

    ``robust``: minimise sum Huber_delta(yhat - y) by BFGS, or L-BFGS-B with the floor bounded; BFGS often stops on
    "precision loss" at the optimum, which is accepted when the gradient is below 1e-4. Otherwise nonlinear least
    squares: TRF with the floor bounded (the start moved 1e-10 inside the bound), MINPACK Levenberg-Marquardt without.
    Returns ``(theta, cost, converged)``; ``cost`` is the summed Huber loss or half the sum of squares.
    """
    k = A.shape[1] - 1

    def pred_and_jac(p):
        w = p[: k + 1]
        b = p[-1] if floor else 0.0
        s = special.expit(A @ w)
        yhat = (ceiling - b) * s + b
        J = ((ceiling - b) * s * (1.0 - s))[:, None] * A
        if floor:
            J = np.hstack([J, (1.0 - s)[:, None]])
        return yhat, J

    p0 = np.asarray(p0, dtype=float)
    if robust:
        def fun(p):
            yhat, J = pred_and_jac(p)
            v, g = _huber(yhat - y, delta)
            return v.sum(), J.T @ g

        if floor:
            bounds = [(None, None)] * (k + 1) + [tuple(floor_bounds)]
            res = optimize.minimize(fun, p0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": max_iter})
        else:
            res = optimize.minimize(fun, p0, jac=True, method="BFGS", options={"maxiter": max_iter})
        ok = bool(res.success)
        if not ok and np.isfinite(res.fun):
            ok = bool(np.max(np.abs(fun(res.x)[1])) < 1e-4)
        return res.x, float(res.fun), ok

    def resid(p):
        return pred_and_jac(p)[0] - y

    def jac(p):
        return pred_and_jac(p)[1]

    if floor:
        lo = np.r_[np.full(k + 1, -np.inf), floor_bounds[0]]
        hi = np.r_[np.full(k + 1, np.inf), floor_bounds[1]]
        p0 = np.clip(p0, lo + 1e-10 * (lo > -np.inf), hi)
        res = optimize.least_squares(resid, p0, jac=jac, bounds=(lo, hi), method="trf", max_nfev=max_iter)
    else:
        res = optimize.least_squares(resid, p0, jac=jac, method="lm", max_nfev=max_iter)
    return res.x, float(0.5 * np.sum(res.fun**2)), bool(res.success)


class SigmoidRegression:
    """Least-squares (or robust) regression with a (floor-)sigmoid link.

    Parameters
    ----------
    link : {"sigmoid", "sigmoid-floor"}, default "sigmoid"
    floor_bounds : (float, float), default (0, 0.2)
        Bounds of the learned floor (``sigmoid-floor`` only).
    ceiling : float, default 1.0
        Fixed ceiling ``h`` (ignored when ``ceiling_bounds`` is given).
    ceiling_bounds : (float, float) or None
        Learn the ceiling within these bounds.
    loss : {"linear", "huber", "soft_l1", "cauchy", "arctan"}, default "linear"
        ``least_squares`` loss; ``f_scale`` is its delta. Upstream's Huber(1) on [0, 1] targets equals "linear".
    f_scale : float, default 1.0
    n_starts : int, default 6
        Most optimiser starts (upstream init, linearised init, then random perturbations).
    early_stop : bool, default True
        Stop once two starts reach the same minimum (cost equal to 1e-9 relative); ``result_.n_starts`` says how
        many ran.
    n_boot : int, default 0
        Case-resampling bootstrap replicates for ``result_.conf_int(method="bootstrap")`` (each refits from the
        full-data solution, one start).
    random_state : int, default 0
    exact_upstream : bool, default False
        Reproduce the authors' single-start optimiser (see module docstring; fixed ceiling only). It also fits
        fewer points than parameters (a subset-selection law on 4 models), as upstream does.
    upstream_method : {"ols", "robust"}, default "ols"
        Which upstream optimiser ``exact_upstream`` reproduces (``"robust"``: Huber with delta ``f_scale``).
    max_iter : int, default 10000
        Iteration / evaluation limit of the upstream optimisers.

    Attributes
    ----------
    coef_ : ndarray (p,)
    intercept_ : float
    floor_ : float
    ceiling_ : float
    result_ : LinkFit
        ``params`` (intercept, one weight per feature, then floor/ceiling when learned), ``mse``, ``status``...;
        ``result_.predict(X)`` equals :meth:`predict`.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import SigmoidRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(80, 2))
    >>> y = 0.1 + 0.9 / (1 + np.exp(-(1.5 * X[:, 0] - 0.5 * X[:, 1] + 0.3))) + rng.normal(0, 0.01, 80)
    >>> m = SigmoidRegression(link="sigmoid-floor").fit(X, y)
    >>> np.round(m.coef_, 1), round(m.floor_, 2)
    (array([ 1.5, -0.5]), 0.1)
    """

    def __init__(
        self,
        link: str = "sigmoid",
        *,
        floor_bounds: tuple[float, float] = (0.0, 0.2),
        ceiling: float = 1.0,
        ceiling_bounds: tuple[float, float] | None = None,
        loss: str = "linear",
        f_scale: float = 1.0,
        n_starts: int = 6,
        n_boot: int = 0,
        random_state: int | None = 0,
        exact_upstream: bool = False,
        upstream_method: str = "ols",
        early_stop: bool = True,
        max_iter: int = 10000,
    ):
        self.link = link
        self.floor_bounds = floor_bounds
        self.ceiling = ceiling
        self.ceiling_bounds = ceiling_bounds
        self.loss = loss
        self.f_scale = f_scale
        self.n_starts = n_starts
        self.n_boot = n_boot
        self.random_state = random_state
        self.exact_upstream = exact_upstream
        self.upstream_method = upstream_method
        self.early_stop = early_stop
        self.max_iter = max_iter

    # -- parameter layout: theta = [intercept, w_1..w_p, (floor), (ceiling)] ---------------------------------------
    def _layout(self, p: int):
        free_floor = self.link == "sigmoid-floor"
        free_ceil = self.ceiling_bounds is not None
        lo = np.full(p + 1, -np.inf)
        hi = np.full(p + 1, np.inf)
        if free_floor:
            lo = np.append(lo, self.floor_bounds[0])
            hi = np.append(hi, self.floor_bounds[1])
        if free_ceil:
            lo = np.append(lo, self.ceiling_bounds[0])
            hi = np.append(hi, self.ceiling_bounds[1])
        return free_floor, free_ceil, lo, hi

    def _unpack(self, theta: np.ndarray, p: int):
        b, w = theta[0], theta[1 : p + 1]
        i = p + 1
        floor = 0.0
        if self.link == "sigmoid-floor":
            floor, i = theta[i], i + 1
        ceil = theta[i] if self.ceiling_bounds is not None else float(self.ceiling)
        return b, w, floor, ceil

    def _model(self, theta, X):
        b, w, floor, ceil = self._unpack(theta, X.shape[1])
        return floor + (ceil - floor) * special.expit(X @ w + b)

    def _jac(self, theta, X):
        p = X.shape[1]
        b, w, floor, ceil = self._unpack(theta, p)
        s = special.expit(X @ w + b)
        dz = (ceil - floor) * s * (1 - s)
        cols = [dz[:, None], dz[:, None] * X]
        if self.link == "sigmoid-floor":
            cols.append((1 - s)[:, None])
        if self.ceiling_bounds is not None:
            cols.append(s[:, None])
        return np.hstack(cols)

    def _validate(self):
        check_choice(self.link, "link", LINKS)
        check_choice(self.loss, "loss", LOSSES)
        check_choice(self.upstream_method, "upstream_method", ("ols", "robust"))
        for name in ("floor_bounds", "ceiling_bounds"):
            bnd = getattr(self, name)
            if bnd is not None and not (len(bnd) == 2 and bnd[0] < bnd[1]):
                raise InputError(f"{name}={bnd!r} must be a (low, high) pair with low < high")
        if int(self.n_starts) < 1:
            raise InputError(f"n_starts={self.n_starts} must be >= 1")
        if not self.f_scale > 0:
            raise InputError(f"f_scale={self.f_scale} must be > 0")
        if self.exact_upstream and self.ceiling_bounds is not None:
            raise InputError("exact_upstream=True fits a fixed ceiling (upstream has no free height); drop ceiling_bounds")

    def fit(self, X, y) -> SigmoidRegression:
        """Fit on ``X`` (n x p features, e.g. PC scores or log compute) and ``y`` (n targets, normalised)."""
        self._validate()
        names = feature_names(X)
        A = as_2d(X, "X")
        t = as_1d(y, "y")
        check_same_length(A, t)
        n, p = A.shape
        free_floor, free_ceil, lo, hi = self._layout(p)
        k = lo.size
        if not self.exact_upstream:  # upstream fits whatever it is given (a V-optimal subset can have 4 models)
            check_enough(n, k, "SigmoidRegression")
        theta0s = self._starts(A, t, lo, hi)
        best = None
        n_tried = 0
        n_agree = 0
        for theta0 in theta0s:
            n_tried += 1
            theta, cost, status = self._solve(A, t, theta0, lo, hi)
            if best is not None and np.isfinite(cost) and abs(cost - best[1]) <= 1e-9 * max(best[1], 1e-12):
                n_agree += 1
            if best is None or cost < best[1] - 1e-15:
                best = (theta, cost, status)
            # Two independent starts landing on the same minimum is strong evidence it is the global one; the
            # remaining random starts would cost ~2-5 ms each (scipy overhead) for nothing.
            if n_agree >= 1 and self.early_stop:
                break
        theta, _, status = best
        if status == "converged" and k > p + 1:
            tail = theta[p + 1 :]
            if np.any(np.isclose(tail, lo[p + 1 :], atol=1e-9) | np.isclose(tail, hi[p + 1 :], atol=1e-9)):
                status = "at-bound"
        yhat = self._model(theta, A)
        resid = yhat - t
        cov, dof = nls_cov(self._jac(theta, A), resid, k)
        pnames = ["intercept", *(names or [f"w{i + 1}" for i in range(p)])]
        if free_floor:
            pnames.append("floor")
        if free_ceil:
            pnames.append("ceiling")
        boot = self._bootstrap(A, t, theta, lo, hi) if int(self.n_boot) > 0 else None
        b, w, floor, ceil = self._unpack(theta, p)
        self.intercept_ = float(b)
        self.coef_ = np.asarray(w, dtype=float).copy()
        self.floor_ = float(floor)
        self.ceiling_ = float(ceil)
        self.n_features_in_ = p
        self.feature_names_in_ = names
        self.result_ = LinkFit(
            model=self.link,
            link=self.link,
            n_features=p,
            params=pd.Series(theta, index=pnames, dtype=float),
            bse=pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=pnames, dtype=float),
            cov=cov,
            n_obs=n,
            df_resid=dof,
            mse=float(np.mean(resid**2)),
            r2=r2_score(t, yhat),
            status=status,
            n_starts=n_tried,
            boot_params=boot,
            extra={"ceiling": float(ceil), "loss": self.loss if not self.exact_upstream else
                   f"upstream-{self.upstream_method}"},
        )
        return self

    def _starts(self, X, y, lo, hi) -> list[np.ndarray]:
        n, p = X.shape
        k = lo.size
        floor0 = self.floor_bounds[0] if self.link == "sigmoid-floor" else 0.0
        ceil0 = float(self.ceiling) if self.ceiling_bounds is None else float(self.ceiling_bounds[1])
        up = np.zeros(k)
        up[1 : p + 1] = UPSTREAM_INIT_WEIGHT
        tail = []
        if self.link == "sigmoid-floor":
            tail.append(floor0)
        if self.ceiling_bounds is not None:
            tail.append(np.clip(ceil0, *self.ceiling_bounds))
        up[p + 1 :] = tail
        up = np.clip(up, lo, hi)
        if self.exact_upstream:
            return [up]
        starts = [up]
        # Linearised start: logit of the target rescaled into (0, 1), regressed on X by least squares.
        span = max(ceil0 - floor0, 1e-6)
        u = np.clip((y - floor0) / span, 0.02, 0.98)
        A1 = np.hstack([np.ones((n, 1)), X])
        coef, *_ = np.linalg.lstsq(A1, special.logit(u), rcond=None)
        lin = up.copy()
        lin[: p + 1] = coef
        starts.append(lin)
        rng = np.random.default_rng(self.random_state)
        sx = X.std(axis=0)
        sx = np.where(sx > 0, sx, 1.0)
        while len(starts) < int(self.n_starts):
            th = lin.copy()
            th[1 : p + 1] = lin[1 : p + 1] * rng.uniform(0.3, 2.0) + rng.normal(0, 1.0, p) / sx
            th[0] = -(X.mean(axis=0) @ th[1 : p + 1]) + rng.normal(0, 1.0)
            if k > p + 1:
                th[p + 1 :] = rng.uniform(np.where(np.isfinite(lo[p + 1 :]), lo[p + 1 :], 0),
                                          np.where(np.isfinite(hi[p + 1 :]), hi[p + 1 :], 1))
            starts.append(th)
        return starts[: int(self.n_starts)]

    def _solve(self, X, y, theta0, lo, hi):
        if self.exact_upstream:
            return self._solve_upstream(X, y, theta0)
        try:
            res = optimize.least_squares(
                lambda th: self._model(th, X) - y,
                theta0,
                jac=lambda th: self._jac(th, X),
                bounds=(lo, hi),
                method="trf",
                loss=self.loss,
                f_scale=self.f_scale,
                x_scale="jac",
                max_nfev=2000,
            )
        except (ValueError, np.linalg.LinAlgError):
            return theta0, np.inf, "failed"
        status = "converged" if res.status > 0 else ("max-iter" if res.status == 0 else "failed")
        # Compare starts on the true objective so robust losses and LS are ranked consistently.
        return res.x, float(res.cost), status

    def _solve_upstream(self, X, y, theta0):
        A = np.hstack([np.ones((X.shape[0], 1)), X])
        theta, cost, ok = fit_upstream(A, y, theta0, floor=self.link == "sigmoid-floor", floor_bounds=self.floor_bounds,
                                       ceiling=float(self.ceiling), robust=self.upstream_method == "robust",
                                       delta=float(self.f_scale), max_iter=int(self.max_iter))
        return theta, cost, "converged" if ok else "max-iter"

    def _bootstrap(self, X, y, theta, lo, hi) -> np.ndarray:
        rng = np.random.default_rng(None if self.random_state is None else self.random_state + 1)
        n = y.size
        out = np.full((int(self.n_boot), theta.size), np.nan)
        for i in range(int(self.n_boot)):
            idx = rng.integers(0, n, n)
            th, cost, status = self._solve(X[idx], y[idx], theta, lo, hi)
            if np.isfinite(cost):
                out[i] = th
        return out

    def decision_function(self, X) -> np.ndarray:
        """The linear predictor ``z = X @ coef_ + intercept_``."""
        check_fitted(self, "coef_")
        A = as_2d(X, "X")
        check_n_features(A, self.n_features_in_)
        return A @ self.coef_ + self.intercept_

    def predict(self, X) -> np.ndarray:
        """``floor_ + (ceiling_ - floor_) * expit(z)``."""
        z = self.decision_function(X)
        return self.floor_ + (self.ceiling_ - self.floor_) * special.expit(z)


def _sig(x, x0, k, d, c):
    z = np.clip(-k * (x - x0), -60, 60)
    return c + (d - c) / (1.0 + np.exp(z))


class Sigmoid1D:
    """1-D logistic curve ``y = floor + (ceiling - floor) / (1 + exp(-k (x - x0)))`` (emergence.md §3.5).

    For score-vs-log-compute curves. ``floor`` is fixed (chance level for hard metrics); the ceiling is fixed, or
    learned with ``ceiling=None`` (bounded by ``[max(max y, floor), max(1, max y)]``: the curve must reach its best
    measured point) or within ``ceiling_bounds``. Bounded trust-region least squares (``least_squares``, TRF) with the
    analytic Jacobian from ``n_starts`` midpoints spread over ``[min x, max x + span / 2]``; ``k`` is bounded to
    ``(0, 500 / span]`` (``k_sign=-1``: the mirror image, for decreasing curves such as accuracy vs loss). This is the
    fit behind the emergence analyses (``emergence.stats.sigmoid_fit``, the compute-sigmoid backtest predictor).

    Parameters
    ----------
    floor : float, default 0.0
    ceiling : float or None, default 1.0
    ceiling_bounds : (float, float) or None
        Learn the ceiling within these bounds (overrides ``ceiling``).
    k_sign : {1, -1}, default 1
    n_starts : int, default 5
    loss, f_scale : ``least_squares`` loss (default ``"linear"``) and its scale.

    Attributes
    ----------
    k_ : float
        Slope per unit x (per decade when x is log10 compute); negative for decreasing curves (x = loss).
    x0_ : float
        Midpoint.
    ceiling_ : float
    width_10_90_ : float
        ``2 ln 9 / |k|``, the x-distance between 10% and 90% of the rise.
    result_ : FitResult
        Parameters ``k``, ``x0`` (and ``ceiling``) with delta-method (Wald) standard errors from the Jacobian (NaN
        when it is rank-deficient: a step-like fit whose parameters are not identified); ``extra["wald"]`` says
        whether the SEs exist, ``extra["success"]`` whether the optimiser reported convergence.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import Sigmoid1D
    >>> x = np.linspace(20, 25, 30)
    >>> y = 0.25 + 0.75 / (1 + np.exp(-3.0 * (x - 23.0)))
    >>> m = Sigmoid1D(floor=0.25).fit(x, y)
    >>> round(m.k_, 3), round(m.x0_, 3)
    (3.0, 23.0)
    """

    def __init__(self, *, floor: float = 0.0, ceiling: float | None = 1.0, ceiling_bounds=None, k_sign: int = 1,
                 n_starts: int = 5, loss: str = "linear", f_scale: float = 1.0):
        self.floor = floor
        self.ceiling = ceiling
        self.ceiling_bounds = ceiling_bounds
        self.k_sign = k_sign
        self.n_starts = n_starts
        self.loss = loss
        self.f_scale = f_scale

    def fit(self, x, y) -> Sigmoid1D:
        x = as_1d(x, "x")
        y = as_1d(y, "y")
        check_same_length(x[:, None], y, "x", "y")
        check_enough(x.size, 3, "Sigmoid1D")
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        floor = float(self.floor)
        free_ceiling = self.ceiling is None or self.ceiling_bounds is not None
        ceiling = None if free_ceiling else float(self.ceiling)
        span = float(np.ptp(x)) or 1.0
        kmax = 50.0 / span * 10
        if self.ceiling_bounds is not None:
            lo_d, hi_d = (float(v) for v in self.ceiling_bounds)
        else:
            lo_d = max(float(np.max(y)), floor + 1e-6)
            hi_d = max(1.0, lo_d + 1e-6) if floor < 1.0 else lo_d + 1.0
        k_sign = 1 if self.k_sign > 0 else -1

        def resid(p):
            return _sig(x, p[0], p[1], p[2] if free_ceiling else ceiling, floor) - y

        def jac(p):  # analytic: the finite-difference Jacobian was most of `emergence analyze`'s run time
            x0, k = p[0], p[1]
            d = p[2] if free_ceiling else ceiling
            sg = 1.0 / (1.0 + np.exp(np.clip(-k * (x - x0), -60, 60)))
            g = (d - floor) * sg * (1.0 - sg)
            cols = [-g * k, g * (x - x0)] + ([sg] if free_ceiling else [])
            return np.stack(cols, axis=1)

        klo, khi = (1e-6, kmax) if k_sign > 0 else (-kmax, -1e-6)
        lb = [x.min() - 2 * span, klo] + ([lo_d] if free_ceiling else [])
        ub = [x.max() + 2 * span, khi] + ([hi_d] if free_ceiling else [])
        best = None
        for x0s in np.linspace(x.min(), x.max() + 0.5 * span, int(self.n_starts)):
            p0 = [x0s, k_sign * 2.0 / span * 4] + ([min(max(lo_d, min(hi_d, lo_d + 0.05)), hi_d)]
                                                   if free_ceiling else [])
            p0 = np.clip(p0, np.asarray(lb) + 1e-9, np.asarray(ub) - 1e-9)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = optimize.least_squares(resid, p0, jac=jac, bounds=(lb, ub), method="trf", max_nfev=400,
                                               loss=self.loss, f_scale=self.f_scale)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if best is None or r.cost < best.cost:
                best = r
        if best is None:
            raise InputError("Sigmoid1D: every optimiser start failed")
        p, res = best.x, best.fun
        m = len(p)
        dof = max(x.size - m, 1)
        cov = np.full((m, m), np.nan)
        wald = False
        try:
            J = best.jac
            if np.linalg.matrix_rank(J) < m:  # a saturated (step-like) fit: the parameters are not identified
                raise np.linalg.LinAlgError("rank-deficient Jacobian")
            cov = np.linalg.pinv(J.T @ J) * (np.sum(res**2) / dof)
            wald = True
        except np.linalg.LinAlgError:
            pass
        sst = float(np.sum((y - y.mean()) ** 2))
        k, x0 = float(p[1]), float(p[0])
        self.k_, self.x0_, self.floor_ = k, x0, floor
        self.ceiling_ = float(p[2]) if free_ceiling else float(ceiling)
        self.width_10_90_ = float(2 * LN9 / abs(k)) if k else float("inf")
        perm = [1, 0] + ([2] if free_ceiling else [])  # report k, x0 (, ceiling)
        names = ["k", "x0"] + (["ceiling"] if free_ceiling else [])
        cov_r = cov[np.ix_(perm, perm)]
        status = "converged" if best.status > 0 else ("max-iter" if best.status == 0 else "failed")
        self.result_ = FitResult(
            model="sigmoid-1d", params=pd.Series(p[perm], index=names, dtype=float),
            bse=pd.Series(np.sqrt(np.clip(np.diag(cov_r), 0, None)), index=names, dtype=float), cov=cov_r,
            n_obs=x.size, df_resid=dof, mse=float(np.mean(res**2)),
            r2=float(1 - np.sum(res**2) / sst) if sst > 0 else float("nan"), status=status,
            n_starts=int(self.n_starts),
            extra={"floor": floor, "ceiling": self.ceiling_, "width_10_90": self.width_10_90_, "wald": wald,
                   "success": bool(best.success)},
        )
        return self

    def predict(self, x) -> np.ndarray:
        check_fitted(self, "k_")
        return _sig(as_1d(x, "x"), self.x0_, self.k_, self.ceiling_, self.floor_)


class LossSigmoid:
    """Accuracy as a decreasing sigmoid of a loss, ``y = a / (1 + exp(-k (x - x0))) + b`` (model-ladder step 2).

    Bhagia et al. 2024 (arXiv:2412.04403, step 2 of the two-step method): ``a <= 0`` is minus the rise, ``b`` the
    accuracy at zero loss, so ``y -> a + b`` for large loss and ``y -> b`` as the loss falls. Bounds, start and
    optimiser are the authors' (allenai/OLMo @ 9bc064c7, ``scripts/scaling/step2.py::fit_step2`` through
    ``get_coefficients`` = ``scipy.optimize.curve_fit``, i.e. bounded trust-region least squares):
    ``a in [-1, 0]``, ``x0 >= 0``, ``k >= 0``, ``b in [0, 1]``, start ``[chance - 1, 0.9, 3, ceiling]``, and the
    "ideal point" ``(0, ceiling)`` appended to the data (zero loss, perfect accuracy) unless ``anchor=False``.

    Parameters
    ----------
    chance : float, default 0.25
        Task minimum (start of ``a = chance - 1``).
    ceiling : float, default 1.0
        Task maximum: start of ``b`` and the anchor's accuracy.
    anchor : bool, default True
        Append the point ``(0, ceiling)`` (upstream; it is fitted but not a measurement).
    p0, bounds : optional overrides of the start ``[a, x0, k, b]`` and of the ``(lower, upper)`` arrays.

    Attributes
    ----------
    params_ : ndarray ``[a, x0, k, b]``
    result_ : FitResult
        Covariance ``s^2 (J^T J)^-1`` over the fitted points (anchor included), as ``curve_fit``'s ``pcov``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import LossSigmoid
    >>> x = np.linspace(0.6, 1.6, 40)
    >>> y = -0.7 / (1 + np.exp(-6 * (x - 1.1))) + 0.95
    >>> m = LossSigmoid(anchor=False).fit(x, y)
    >>> np.round(m.params_, 3)
    array([-0.7 ,  1.1 ,  6.  ,  0.95])
    """

    def __init__(self, *, chance: float = 0.25, ceiling: float = 1.0, anchor: bool = True, p0=None, bounds=None):
        self.chance = chance
        self.ceiling = ceiling
        self.anchor = anchor
        self.p0 = p0
        self.bounds = bounds

    @staticmethod
    def _f(x, p):
        return p[0] * special.expit(p[2] * (x - p[1])) + p[3]

    @staticmethod
    def _jac(x, p):
        s = special.expit(p[2] * (x - p[1]))
        ds = s * (1 - s)
        return np.column_stack([s, -p[0] * p[2] * ds, p[0] * (x - p[1]) * ds, np.ones_like(x)])

    def fit(self, x, y) -> LossSigmoid:
        """Fit on losses ``x`` and accuracies ``y`` (the anchor point is added here); returns self."""
        xv = as_1d(x, "x")
        yv = as_1d(y, "y")
        check_same_length(xv[:, None], yv, "x", "y")
        if self.anchor:
            xv = np.r_[xv, 0.0]
            yv = np.r_[yv, float(self.ceiling)]
        check_enough(xv.size, 4, "LossSigmoid")
        lo, hi = (np.array([-1.0, 0.0, 0.0, 0.0]), np.array([0.0, np.inf, np.inf, 1.0])) if self.bounds is None \
            else (np.asarray(self.bounds[0], float), np.asarray(self.bounds[1], float))
        p0 = np.asarray(self.p0 if self.p0 is not None else
                        [float(self.chance) - 1.0, 0.9, 3.0, float(self.ceiling)], float)
        p0 = np.clip(p0, lo, hi)
        # curve_fit(bounds=...) is least_squares(method="trf") with these tolerances and max_nfev=maxfev; an
        # analytic Jacobian replaces its 2-point differences (same optimum to ~1e-7).
        try:
            res = optimize.least_squares(lambda p: self._f(xv, p) - yv, p0, jac=lambda p: self._jac(xv, p),
                                         bounds=(lo, hi), method="trf", ftol=1e-8, xtol=1e-8, gtol=1e-8,
                                         max_nfev=500000)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise InputError(f"LossSigmoid: the fit failed ({exc})") from None
        p = res.x
        r = self._f(xv, p) - yv
        cov, dof = nls_cov(self._jac(xv, p), r, 4)
        status = "converged" if res.status > 0 else ("max-iter" if res.status == 0 else "failed")
        if status == "converged" and np.any(np.isclose(p, lo, atol=1e-9) | np.isclose(p, hi, atol=1e-9)):
            status = "at-bound"
        names = ["a", "x0", "k", "b"]
        self.params_ = p.copy()
        self.result_ = FitResult(
            model="loss-sigmoid", params=pd.Series(p, index=names, dtype=float),
            bse=pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=names, dtype=float), cov=cov,
            n_obs=xv.size, df_resid=dof, mse=float(np.mean(r**2)), r2=r2_score(yv, yv + r), status=status,
            extra={"anchor": bool(self.anchor), "floor": float(p[0] + p[3]), "ceiling": float(p[3])},
        )
        return self

    def predict(self, x) -> np.ndarray:
        check_fitted(self, "params_")
        return self._f(as_1d(x, "x"), self.params_)

    def predict_se(self, x) -> np.ndarray:
        """Delta-method standard error of :meth:`predict` (the authors' ``get_std_errors``; 1.96 x SE is their band)."""
        check_fitted(self, "params_")
        G = self._jac(as_1d(x, "x"), self.params_)
        return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", G, self.result_.cov, G), 0, None))
