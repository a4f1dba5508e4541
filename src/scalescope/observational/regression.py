"""Downstream link regression: sigmoid and floor-sigmoid laws on capability scores or log-compute (spec §1.6).

``ŷ = σ(z)`` (``link="sigmoid"``) or ``ŷ = (1 - b)·σ(z) + b`` with the floor ``b ∈ [0, 0.2]`` (``"sigmoid-floor"``,
upstream ``sigmoid-parametric`` with fixed height), where ``z = w0 + Σ_k w_k x_k``.

Loss/optimiser choices follow the authors so the published numbers reproduce (spec §1.6, §4.6):
- ``loss="huber"``: minimise Σ Huber_δ(ŷ - y) with BFGS (no bounds) or L-BFGS-B (floor bounded);
- ``loss="ls"``: nonlinear least squares, TRF with bounds (floor) or Levenberg-Marquardt without.
The initial point (w0 = 0, other weights 0.03, b = 0) matters for reproduction and is kept. We use analytic
gradients and ``scipy.special.expit`` (no overflow) instead of finite differences, which is faster and converges to
the same optimum. Implemented inside the observational package (not ``scalescope.fit``) because exact optimiser and
initialisation parity with upstream is part of the reproduction contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import expit

from scalescope.errors import InputError
from scalescope.fit.sigmoid import link_inverse  # noqa: F401  (re-exported: used by callers)
from scalescope.observational._blas import single_thread_blas
from scalescope.results import Result

LINKS = ("sigmoid", "sigmoid-floor")
LOSSES = ("huber", "ls")
FLOOR_BOUNDS = (0.0, 0.2)


@dataclass(frozen=True)
class LinkFit(Result):
    """Fitted link regression: ``params = [w0, w_1..w_k]`` (+ ``b`` for the floor link)."""

    link: str
    loss: str
    params: np.ndarray
    n_obs: int
    converged: bool
    objective: float

    @property
    def intercept(self) -> float:
        return float(self.params[0])

    @property
    def weights(self) -> np.ndarray:
        k = len(self.params) - (2 if self.link == "sigmoid-floor" else 1)
        return np.asarray(self.params[1 : 1 + k])

    @property
    def floor(self) -> float:
        return float(self.params[-1]) if self.link == "sigmoid-floor" else 0.0

    def linear_predictor(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        return self.intercept + X @ self.weights

    def predict(self, X) -> np.ndarray:
        return link_inverse(self.linear_predictor(X), self.floor)


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    a = np.abs(r)
    quad = a <= delta
    val = np.where(quad, 0.5 * r**2, delta * (a - 0.5 * delta))
    grad = np.where(quad, r, delta * np.sign(r))
    return val, grad


def fit_link(X, y, *, link: str = "sigmoid", loss: str = "huber", delta: float = 1.0,
             init: np.ndarray | None = None, maxiter: int = 10000) -> LinkFit:
    """Fit ``y ≈ link(w0 + X w)``; see the module docstring for the optimiser choices.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-3, 3, 30)[:, None]
    >>> y = 1 / (1 + np.exp(-(2 * x[:, 0] - 1)))
    >>> fit = fit_link(x, y)
    >>> np.round(fit.params, 2).tolist()
    [-1.0, 2.0]
    """
    with single_thread_blas():
        return _fit_link(X, y, link=link, loss=loss, delta=delta, init=init, maxiter=maxiter)


def _fit_link(X, y, *, link, loss, delta, init, maxiter) -> LinkFit:
    if link not in LINKS:
        raise InputError(f"--link: unknown link {link!r} (choose from {', '.join(LINKS)})")
    if loss not in LOSSES:
        raise InputError(f"loss: unknown loss {loss!r} (choose from {', '.join(LOSSES)})")
    X = np.asarray(X, dtype=float)
    X = X.reshape(len(X), -1)
    y = np.asarray(y, dtype=float)
    n, k = X.shape
    floor = link == "sigmoid-floor"
    A = np.hstack([np.ones((n, 1)), X])
    p0 = np.r_[0.0, np.full(k, 0.03)] if init is None else np.asarray(init, dtype=float)[: k + 1]
    if floor:
        p0 = np.r_[p0, 0.0 if init is None else float(np.asarray(init)[-1])]

    def pred_and_jac(p):
        w = p[: k + 1]
        b = p[-1] if floor else 0.0
        s = expit(A @ w)
        yhat = (1.0 - b) * s + b
        J = ((1.0 - b) * s * (1.0 - s))[:, None] * A
        if floor:
            J = np.hstack([J, (1.0 - s)[:, None]])
        return yhat, J

    if loss == "huber":
        def fun(p):
            yhat, J = pred_and_jac(p)
            v, g = _huber(yhat - y, delta)
            return v.sum(), J.T @ g

        if floor:
            bounds = [(None, None)] * (k + 1) + [FLOOR_BOUNDS]
            res = optimize.minimize(fun, p0, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options={"maxiter": maxiter})
        else:
            res = optimize.minimize(fun, p0, jac=True, method="BFGS", options={"maxiter": maxiter})
        params, obj, ok = res.x, float(res.fun), bool(res.success)
        if not ok and np.isfinite(res.fun):
            # BFGS often stops on "precision loss" at the optimum; accept it if the gradient is small.
            ok = bool(np.max(np.abs(fun(params)[1])) < 1e-4)
    else:
        def resid(p):
            return pred_and_jac(p)[0] - y

        def jac(p):
            return pred_and_jac(p)[1]

        if floor:
            lo = np.r_[np.full(k + 1, -np.inf), FLOOR_BOUNDS[0]]
            hi = np.r_[np.full(k + 1, np.inf), FLOOR_BOUNDS[1]]
            p0 = np.clip(p0, lo + 1e-10 * (lo > -np.inf), hi)
            res = optimize.least_squares(resid, p0, jac=jac, bounds=(lo, hi), method="trf", max_nfev=maxiter)
        else:
            res = optimize.least_squares(resid, p0, jac=jac, method="lm", max_nfev=maxiter)
        params, obj, ok = res.x, float(0.5 * np.sum(res.fun**2)), bool(res.success)
    return LinkFit(link=link, loss=loss, params=np.asarray(params), n_obs=n, converged=ok, objective=obj)
