"""Ordinary least squares with classical or heteroskedasticity-robust (HC0-HC3) standard errors.

Used for per-family capability-vs-compute fits (Ruan et al. 2024 Sec 3.3, obsscaling spec §1.1/§1.7: a separate OLS
of each PC on log10 FLOPs per family, and the reference-family fit behind equivalent compute) and as the log-log core
of :class:`scalescope.fit.PowerLaw`. Pure numpy: these fits run thousands of times in sweeps, and statsmodels' OLS
object costs ~100x more than the arithmetic for a 3-point family.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.errors import InputError, check_fitted
from scalescope.fit._validation import (
    as_1d,
    as_2d,
    check_choice,
    check_n_features,
    check_same_length,
    feature_names,
)
from scalescope.fit.results import FitResult, r2_score

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")


def ols(A: np.ndarray, y: np.ndarray, cov_type: str = "nonrobust"):
    """Solve ``y ~ A beta``; return ``(beta, cov, resid, df_resid)``. ``A`` already holds any intercept column."""
    n, k = A.shape
    beta, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ beta
    dof = n - k
    bread = np.linalg.pinv(A.T @ A)
    if cov_type == "nonrobust":
        s2 = float(resid @ resid) / dof if dof > 0 else np.nan
        cov = s2 * bread
    else:
        h = np.einsum("ij,jk,ik->i", A, bread, A)  # leverages
        u2 = resid**2
        if cov_type == "HC1":
            u2 = u2 * n / max(dof, 1)
        elif cov_type == "HC2":
            u2 = u2 / np.clip(1 - h, 1e-12, None)
        elif cov_type == "HC3":
            u2 = u2 / np.clip(1 - h, 1e-12, None) ** 2
        meat = (A * u2[:, None]).T @ A
        cov = bread @ meat @ bread
    return beta, cov, resid, dof


class LinearFit:
    """OLS ``y = intercept + X @ coef`` with classical or HC standard errors.

    Parameters
    ----------
    fit_intercept : bool, default True
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, default "nonrobust"
        As statsmodels' ``OLS(...).fit(cov_type=...)``; CIs use the t distribution with ``n - k`` dof.

    Attributes
    ----------
    coef_ : ndarray (p,)
    intercept_ : float
    result_ : FitResult
        ``params`` (``intercept``, then one per feature), ``bse``, ``r2``, ``mse``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import LinearFit
    >>> x = np.arange(10.0)
    >>> m = LinearFit().fit(x, 2.0 + 0.5 * x)
    >>> round(m.intercept_, 6), np.round(m.coef_, 6), round(m.result_.r2, 6)
    (2.0, array([0.5]), 1.0)
    """

    def __init__(self, *, fit_intercept: bool = True, cov_type: str = "nonrobust"):
        self.fit_intercept = fit_intercept
        self.cov_type = cov_type

    def fit(self, X, y) -> LinearFit:
        check_choice(self.cov_type, "cov_type", COV_TYPES)
        names = feature_names(X)
        A = as_2d(X, "X")
        t = as_1d(y, "y")
        check_same_length(A, t)
        n, p = A.shape
        k = p + int(self.fit_intercept)
        # n == k gives an exact fit with no residual dof: allowed (a 2-model family), but CIs are NaN.
        if n < k:
            raise InputError(f"LinearFit: too few points ({n}) for {k} parameters; need at least {k}")
        D = np.hstack([np.ones((n, 1)), A]) if self.fit_intercept else A
        beta, cov, resid, dof = ols(D, t, self.cov_type)
        pnames = (["intercept"] if self.fit_intercept else []) + (names or [f"x{i + 1}" for i in range(p)])
        self.intercept_ = float(beta[0]) if self.fit_intercept else 0.0
        self.coef_ = beta[int(self.fit_intercept) :].copy()
        self.n_features_in_ = p
        self.result_ = FitResult(
            model="ols",
            params=pd.Series(beta, index=pnames, dtype=float),
            bse=pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=pnames, dtype=float),
            cov=cov, n_obs=n, df_resid=dof, mse=float(np.mean(resid**2)), r2=r2_score(t, t - resid),
            extra={"cov_type": self.cov_type},
        )
        return self

    def predict(self, X) -> np.ndarray:
        check_fitted(self, "coef_")
        A = as_2d(X, "X")
        check_n_features(A, self.n_features_in_)
        return A @ self.coef_ + self.intercept_
