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


def ols_batch(A: np.ndarray, Y: np.ndarray, cov_type: str = "HC3", groups=None):
    """Many small OLS fits at once: ``Y[r] ~ A[r] @ beta[r]`` for every replicate ``r``.

    The two-lines test (Simonsohn 2018) and its error-rate simulations fit thousands of 4-parameter interrupted
    regressions whose design changes with each replicate's breakpoint; one batched solve costs what a single
    statsmodels fit does.

    Parameters
    ----------
    A : ndarray (R, n, k) or (n, k)
        Designs (intercept column included). A 2-D design is shared by every replicate.
    Y : ndarray (R, n)
    cov_type : {"nonrobust", "HC1", "HC3", "cluster"}
        ``HC3`` divides each squared residual by ``(1 - h)^2`` (NaN where a point has leverage 1, e.g. a segment of
        two points); ``cluster`` is the CR1 sandwich with statsmodels' small-sample factor
        ``G / (G - 1) * (n - 1) / (n - k)`` (``groups`` required).
    groups : array-like (n,), optional
        Cluster labels for ``cov_type="cluster"``.

    Returns
    -------
    beta : ndarray (R, k)
    cov : ndarray (R, k, k)
    dof : int
        ``n - k`` (``G - 1`` for clustered covariances).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(6.0); A = np.column_stack([np.ones(6), x])
    >>> beta, cov, dof = ols_batch(A, np.stack([1 + 2 * x, 3 - x + 0.1 * (-1) ** x]), cov_type="nonrobust")
    >>> np.round(beta, 3).tolist(), dof  # the alternating +-0.1 correlates with x a little
    ([[1.0, 2.0], [3.043, -1.017]], 4)
    """
    if cov_type not in ("nonrobust", "HC1", "HC3", "cluster"):
        raise InputError(f"ols_batch: cov_type {cov_type!r}; expected nonrobust, HC1, HC3 or cluster")
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    A = np.asarray(A, dtype=float)
    if A.ndim == 2:
        return _ols_shared(A, Y, cov_type, groups)
    R, n, k = A.shape
    # batched matmul, not einsum: einsum without `optimize` loops in C over every index and was 4-5x slower here
    At = np.swapaxes(A, 1, 2)
    XtX = At @ A
    # a replicate whose breakpoint leaves a segment without spread is rank-deficient: a tiny ridge keeps the batch
    # solvable (that coefficient comes back ~0 with a huge variance, as pinv would give) at a tenth of pinv's cost
    ridge = 1e-12 * np.trace(XtX, axis1=1, axis2=2)[:, None, None] * np.eye(k)[None]
    bread = np.linalg.inv(XtX + ridge)
    beta = (bread @ (At @ Y[..., None]))[..., 0]
    resid = Y - (A @ beta[..., None])[..., 0]
    dof = n - k
    if cov_type == "nonrobust":
        s2 = (resid**2).sum(1) / dof if dof > 0 else np.full(R, np.nan)
        return beta, bread * s2[:, None, None], dof
    if cov_type == "cluster":
        if groups is None:
            raise InputError("ols_batch: cov_type='cluster' needs groups")
        _, g = np.unique(np.asarray(groups), return_inverse=True)
        G = int(g.max()) + 1
        onehot = (np.arange(G)[:, None] == g[None, :]).astype(float)  # (G, n): per-cluster sums as one product
        scores = onehot @ (A * resid[..., None])  # (R, G, k)
        meat = np.swapaxes(scores, 1, 2) @ scores
        fac = G / max(G - 1, 1) * (n - 1) / max(n - k, 1)
        return beta, fac * bread @ meat @ bread, G - 1
    h = ((A @ bread) * A).sum(-1)  # leverages
    u2 = resid**2
    if cov_type == "HC1":
        u2 = u2 * n / max(dof, 1)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            u2 = np.where(h < 1 - 1e-9, u2 / (1 - h) ** 2, np.nan)
    meat = At @ (A * u2[..., None])
    return beta, bread @ meat @ bread, dof


def _ols_shared(A: np.ndarray, Y: np.ndarray, cov_type: str, groups):
    """:func:`ols_batch` for one design ``A`` (n, k) shared by every row of ``Y``: plain matrix products."""
    R, (n, k) = Y.shape[0], A.shape
    XtX = A.T @ A
    bread = np.linalg.inv(XtX + 1e-12 * np.trace(XtX) * np.eye(k))
    beta = Y @ (A @ bread)  # (R, k)
    resid = Y - beta @ A.T
    dof = n - k
    if cov_type == "nonrobust":
        s2 = (resid**2).sum(1) / dof if dof > 0 else np.full(R, np.nan)
        return beta, bread[None] * s2[:, None, None], dof
    if cov_type == "cluster":
        if groups is None:
            raise InputError("ols_batch: cov_type='cluster' needs groups")
        _, g = np.unique(np.asarray(groups), return_inverse=True)
        G = int(g.max()) + 1
        onehot = (np.arange(G)[:, None] == g[None, :]).astype(float)
        RA = (resid[:, :, None] * A[None]).transpose(1, 0, 2).reshape(n, R * k)
        scores = (onehot @ RA).reshape(G, R, k).transpose(1, 0, 2)  # (R, G, k): per-cluster sums, one product
        meat = np.swapaxes(scores, 1, 2) @ scores
        fac = G / max(G - 1, 1) * (n - 1) / max(n - k, 1)
        return beta, fac * bread[None] @ meat @ bread[None], G - 1
    h = ((A @ bread) * A).sum(1)  # (n,)
    u2 = resid**2
    if cov_type == "HC1":
        u2 = u2 * n / max(dof, 1)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            u2 = np.where(h[None] < 1 - 1e-9, u2 / (1 - h[None]) ** 2, np.nan)
    meat = (u2 @ (A[:, :, None] * A[:, None, :]).reshape(n, k * k)).reshape(R, k, k)
    return beta, bread[None] @ meat @ bread[None], dof
