"""Chinchilla-form scaling laws fitted by a Huber loss on log residuals (Bhagia et al. 2024, model ladders, step 1).

Model (one power-law term per column of ``X``, plus an irreducible offset)::

    L(x_1, ..., x_k) = sum_j exp(a_j) / x_j ** alpha_j + E

With ``X = [N, D]`` this is the paper's step 1, ``L(N, D) = A / N^alpha + B / D^beta + E`` (Hoffmann et al.'s form;
arXiv:2412.04403 method section, Eq. for step 1); with ``X = [C]`` (training FLOPs) it is the compute-only variant
the paper contrasts in its design-choice ablations. :class:`ChinchillaSigmoid` is the paper's single-step variant,
``Acc(N, D) = p / (1 + exp(-L(N, D))) + q``.

Objective, bounds and initialisation follow the authors' code (allenai/OLMo @ 9bc064c7,
``olmo/scaling/scaling_laws/fitting_functions.py``: ``get_coefficients_huber``, ``chinchilla_n_d_fit``,
``chinchilla_flops_fit``, ``combined_fit``; ``scripts/scaling/step1.py``, ``step1_flops.py``, ``single_step.py``):
minimise ``sum_i huber_delta(log f(x_i) - log y_i)`` with ``delta = 1e-3`` by L-BFGS-B (``ftol=0``, ``gtol=1e-10``)
from ``p0 = [3, 6, 0.1, 0.2, 1]`` (N, D; every parameter >= 0), ``[3, 0.1, 1]`` (FLOPs; ``0 <= alpha <= 1``) and
``[3, 5, 0.2, 0.3, 0, chance - 1, 1]`` (single step). The log residual makes the fit scale-free across task losses;
``delta = 1e-3`` makes it close to least absolute deviations, i.e. robust to one noisy ladder run.
``exact_upstream=True`` runs that single start only; the default adds a small grid of starts and keeps the lowest
objective (it equals the upstream solution whenever the upstream start already finds the best minimum).
Standard errors are the least-squares delta-method approximation ``s^2 (J^T J)^-1`` on the log scale (the upstream
code's L-BFGS-B inverse-Hessian estimate is not a covariance); use a bootstrap for intervals that matter.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, special

from scalescope.errors import InputError, check_fitted
from scalescope.fit._validation import as_1d, as_2d, check_enough, check_n_features, check_same_length
from scalescope.fit.results import FitResult, nls_cov, r2_score

UPSTREAM_DELTA = 1e-3


def _huber_log_fit(model, grad, X, y, p0, bounds, delta, max_iter):
    """Minimise ``sum huber_delta(log model(X, p) - log y)`` by L-BFGS-B (the authors' optimiser, vectorised).

    ``model(X, p)`` returns predictions (n,), ``grad(X, p)`` their Jacobian (n, k). Returns the scipy result.
    """
    ly = np.log(y)

    def fun(p):
        f = model(X, p)
        if np.any(f <= 0) or not np.all(np.isfinite(f)):
            return np.inf, np.zeros_like(p)
        u = np.log(f) - ly
        au = np.abs(u)
        val = float(np.sum(np.where(au < delta, 0.5 * u**2, delta * (au - 0.5 * delta))))
        psi = np.clip(u, -delta, delta)
        g = (psi / f) @ grad(X, p)
        return val, g

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return optimize.minimize(fun, np.asarray(p0, float), jac=True, method="L-BFGS-B", bounds=bounds, tol=0.0,
                                 options={"ftol": 0.0, "gtol": 1e-10, "maxiter": int(max_iter)})


class _HuberLogEstimator:
    """Shared fit/predict plumbing: subclasses define ``_names``, ``_model``, ``_grad``, ``_p0``, ``_bounds``,
    ``_extra_starts``."""

    _model_name = ""

    def _validate_xy(self, X, y):
        A = as_2d(X, "X")
        t = as_1d(y, "y")
        check_same_length(A, t)
        if (A <= 0).any():
            raise InputError(f"X: {type(self).__name__} needs positive sizes/tokens/FLOPs "
                             f"({int((A <= 0).sum())} values are <= 0)")
        if (t <= 0).any():
            raise InputError(f"y: fitted on the log scale, needs y > 0 ({int((t <= 0).sum())} values are <= 0)")
        if not self.delta > 0:
            raise InputError(f"delta={self.delta} must be > 0")
        return A, t

    def fit(self, X, y):
        """Fit on ``X`` (n rows; columns as documented by the class) and positive targets ``y``; returns self."""
        A, t = self._validate_xy(X, y)
        k = len(self._names(A.shape[1]))
        check_enough(t.size, k, type(self).__name__)
        p0 = np.asarray(self.p0 if self.p0 is not None else self._p0(A, t), float)
        if p0.size != k:
            raise InputError(f"p0: expected {k} starting values, got {p0.size}")
        bounds = list(self.bounds) if self.bounds is not None else self._bounds(A.shape[1])
        starts = [p0] if self.exact_upstream else [p0, *self._extra_starts(A, t, bounds)]
        best = None
        for s in starts:
            lo = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
            hi = np.array([b[1] if b[1] is not None else np.inf for b in bounds])
            res = _huber_log_fit(self._model, self._grad, A, t, np.clip(s, lo, hi), bounds, self.delta,
                                 self.max_iter)
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun - 1e-12 * max(abs(best.fun), 1e-300)):
                best = res
        if best is None:
            raise InputError(f"{type(self).__name__}: every optimiser start failed")
        p = best.x
        f = self._model(A, p)
        resid = np.log(f) - np.log(t)
        J = self._grad(A, p) / f[:, None]  # d log f / d p
        cov, dof = nls_cov(J, resid, p.size)
        names = self._names(A.shape[1])
        # L-BFGS-B with ftol=0 usually stops on "ABNORMAL_TERMINATION_IN_LNSRCH": no further decrease is possible
        # at machine precision, i.e. converged; only the iteration limit is a failure to converge.
        status = "max-iter" if best.status == 1 else "converged"
        lo = [b[0] for b in bounds]
        hi = [b[1] for b in bounds]
        if status == "converged" and any((lo_ is not None and np.isclose(v, lo_, atol=1e-9)) or
                                         (hi_ is not None and np.isclose(v, hi_, atol=1e-9))
                                         for v, lo_, hi_ in zip(p, lo, hi)):
            status = "at-bound"
        self.params_ = p.copy()
        self.n_features_in_ = A.shape[1]
        self.result_ = FitResult(
            model=self._model_name, params=pd.Series(p, index=names, dtype=float),
            bse=pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=names, dtype=float), cov=cov,
            n_obs=t.size, df_resid=dof, mse=float(np.mean(resid**2)), r2=r2_score(np.log(t), np.log(f)),
            status=status, n_starts=len(starts),
            extra={"space": "log", "loss": f"huber(delta={self.delta:g})", "objective": float(best.fun),
                   "optimizer": "L-BFGS-B", "message": str(best.message)},
        )
        return self

    def _check(self, X):
        check_fitted(self, "params_")
        A = as_2d(X, "X")
        check_n_features(A, self.n_features_in_)
        return A

    def predict(self, X) -> np.ndarray:
        """Model value at each row of ``X``."""
        return self._model(self._check(X), self.params_)

    def predict_se(self, X) -> np.ndarray:
        """Delta-method standard error of :meth:`predict` from ``result_.cov`` (least-squares approximation)."""
        A = self._check(X)
        G = self._grad(A, self.params_)
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", G, self.result_.cov, G), 0, None))


class ChinchillaLaw(_HuberLogEstimator):
    """``L = sum_j exp(a_j) / x_j^alpha_j + E`` fitted by Huber loss on log residuals (model-ladder step 1).

    Parameters
    ----------
    delta : float, default 1e-3
        Huber threshold on the log residual (upstream value).
    p0 : sequence or None
        Starting values ``[a_1..a_k, alpha_1..alpha_k, E]``; default upstream's ``[3, 6, 0.1, 0.2, 1]`` (k = 2) or
        ``[3, 0.1, 1]`` (k = 1).
    bounds : sequence of (low, high) or None
        L-BFGS-B bounds (None = unbounded side); default upstream's (every parameter >= 0; ``alpha <= 1`` when k = 1).
    exact_upstream : bool, default False
        Only the upstream start (reproduces the authors' numbers); otherwise a grid of extra starts too.
    max_iter : int, default 100000

    Attributes
    ----------
    params_ : ndarray
        ``[a_1..a_k, alpha_1..alpha_k, E]`` (``a_j = log A_j``).
    result_ : FitResult
        Named ``a``, ``b`` (log coefficients), ``alpha``, ``beta``, ``E`` for k = 2; ``a``, ``alpha``, ``E`` for k = 1.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import ChinchillaLaw
    >>> N = np.repeat([2e8, 4e8, 8e8, 1.3e9], 4); D = N * np.tile([20, 40, 100, 200], 4)
    >>> L = np.exp(5.0) / N**0.3 + np.exp(6.0) / D**0.25 + 0.4
    >>> m = ChinchillaLaw().fit(np.column_stack([N, D]), L)
    >>> bool(np.allclose(m.predict([[7e9, 4e12]]), np.exp(5.0) / 7e9**0.3 + np.exp(6.0) / 4e12**0.25 + 0.4, rtol=1e-3))
    True
    """

    def __init__(self, *, delta: float = UPSTREAM_DELTA, p0=None, bounds=None, exact_upstream: bool = False,
                 max_iter: int = 100000):
        self.delta = delta
        self.p0 = p0
        self.bounds = bounds
        self.exact_upstream = exact_upstream
        self.max_iter = max_iter

    _model_name = "chinchilla"

    @staticmethod
    def _names(k):
        if k == 1:
            return ["a", "alpha", "E"]
        if k == 2:
            return ["a", "b", "alpha", "beta", "E"]
        return [f"a{j + 1}" for j in range(k)] + [f"alpha{j + 1}" for j in range(k)] + ["E"]

    @staticmethod
    def _model(X, p):
        k = X.shape[1]
        return np.exp(p[:k] - np.log(X) * p[k : 2 * k]).sum(axis=1) + p[2 * k]

    @staticmethod
    def _grad(X, p):
        k = X.shape[1]
        lx = np.log(X)
        terms = np.exp(p[:k] - lx * p[k : 2 * k])
        return np.hstack([terms, -terms * lx, np.ones((X.shape[0], 1))])

    @staticmethod
    def _p0(X, y):
        k = X.shape[1]
        if k == 1:
            return [3.0, 0.1, 1.0]  # step1_flops.py
        if k == 2:
            return [3.0, 6.0, 0.1, 0.2, 1.0]  # step1.py
        return [3.0] * k + [0.2] * k + [1.0]

    @staticmethod
    def _bounds(k):
        if k == 1:
            return [(0, None), (0, 1.0), (0, None)]
        return [(0, None)] * (2 * k + 1)

    def _extra_starts(self, X, y, bounds):
        # Each term starts at half of the mean target at the median x, for a few exponents; E at 0 or half min(y).
        k = X.shape[1]
        med = np.log(np.median(X, axis=0))
        out = []
        for alpha in (0.1, 0.3, 0.6):
            for E in (0.0, 0.5 * float(np.min(y))):
                share = max(float(np.mean(y)) - E, 1e-6) / k
                out.append(np.r_[np.log(share) + alpha * med, np.full(k, alpha), E])
        return out


class ChinchillaSigmoid(_HuberLogEstimator):
    """Single-step model-ladder variant: ``Acc(N, D) = p / (1 + exp(-L(N, D))) + q`` with ``L`` as
    :class:`ChinchillaLaw`, fitted by the same Huber-on-log objective (upstream ``combined_fit``).

    Parameters
    ----------
    chance : float, default 0.25
        Task minimum; sets the upstream start ``p = chance - 1``.
    delta, p0, bounds, exact_upstream, max_iter : as :class:`ChinchillaLaw`. Default bounds (upstream):
        ``a, b, alpha, beta >= 0``, ``E`` free, ``-1 <= p <= 0``, ``0 <= q <= 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import ChinchillaSigmoid
    >>> N = np.repeat([2e8, 4e8, 8e8, 1.3e9], 4); D = N * np.tile([20, 40, 100, 200], 4)
    >>> L = np.exp(3.0) / N**0.2 + np.exp(4.0) / D**0.2 - 1.0
    >>> acc = -0.6 / (1 + np.exp(-L)) + 0.9
    >>> m = ChinchillaSigmoid().fit(np.column_stack([N, D]), acc)
    >>> bool(np.abs(m.predict(np.column_stack([N, D])) - acc).max() < 0.01)
    True
    """

    def __init__(self, *, chance: float = 0.25, delta: float = UPSTREAM_DELTA, p0=None, bounds=None,
                 exact_upstream: bool = False, max_iter: int = 100000):
        self.chance = chance
        self.delta = delta
        self.p0 = p0
        self.bounds = bounds
        self.exact_upstream = exact_upstream
        self.max_iter = max_iter

    _model_name = "chinchilla-sigmoid"

    @staticmethod
    def _names(k):
        if k != 2:
            raise InputError(f"X: ChinchillaSigmoid needs 2 columns (N, D), got {k}")
        return ["a", "b", "alpha", "beta", "E", "p", "q"]

    @staticmethod
    def _model(X, p):
        L = ChinchillaLaw._model(X, p[:5])
        # upstream clips at 1e-6 so the log residual stays defined
        return np.maximum(1e-6, p[5] * special.expit(L) + p[6])

    @staticmethod
    def _grad(X, p):
        L = ChinchillaLaw._model(X, p[:5])
        s = special.expit(L)
        g1 = ChinchillaLaw._grad(X, p[:5]) * (p[5] * s * (1 - s))[:, None]
        return np.hstack([g1, s[:, None], np.ones((X.shape[0], 1))])

    def _p0(self, X, y):
        return [3.0, 5.0, 0.2, 0.3, 0.0, float(self.chance) - 1.0, 1.0]

    @staticmethod
    def _bounds(k):
        return [(0, None), (0, None), (0, None), (0, None), (None, None), (-1.0, 0.0), (0.0, 1.0)]

    def _extra_starts(self, X, y, bounds):
        # The objective is nearly L1 in 7 parameters; L-BFGS-B's path from the upstream start depends on
        # floating-point summation order, so a few more starts make the result reproducible (~1 s each).
        med = np.log(np.median(X, axis=0))
        out = []
        for alpha in (0.1, 0.3):
            for E in (-2.0, 0.0):
                out.append(np.r_[alpha * med, alpha, alpha, E, float(self.chance) - 1.0, 1.0])
        return out
