"""Results objects returned by the fitters in :mod:`scalescope.fit` (statsmodels style; DESIGN.md style rule 2).

A :class:`FitResult` is frozen: ``params`` and ``bse`` (pandas Series named by parameter), the covariance, fit
quality (``mse``, ``r2``), optimiser ``status`` and, when a bootstrap was run, the replicate parameters.
``conf_int()`` returns Wald intervals (t distribution, delta-method covariance for nonlinear fits) or bootstrap
percentile intervals.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from scalescope.errors import InputError
from scalescope.results import Result


@dataclasses.dataclass(frozen=True, eq=False)
class FitResult(Result):
    """Parameters, uncertainty and diagnostics of one fit.

    Attributes
    ----------
    model : str
        Which model was fitted, e.g. ``"sigmoid-floor"``, ``"power-law"``.
    params, bse : pandas.Series
        Estimates and standard errors (NaN when not estimable), indexed by parameter name.
    cov : ndarray
        Covariance of the estimates (delta method / OLS; NaN when singular).
    n_obs, df_resid : int
    mse : float
        Mean squared residual on the fitting data (on the scale the model is fitted on).
    r2 : float
        1 - SSE/SST on that scale.
    status : str
        ``"converged"``, ``"at-bound"`` (a bounded parameter ended on its bound), ``"max-iter"`` or ``"failed"``.
    n_starts : int
        Optimiser starts tried (1 for closed-form fits).
    boot_params : ndarray or None
        (n_boot, n_params) bootstrap replicates when a bootstrap was run.
    extra : dict
        Model-specific scalars (e.g. ``breakpoint``, ``width_10_90``).
    """

    model: str
    params: pd.Series
    bse: pd.Series
    cov: np.ndarray
    n_obs: int
    df_resid: int
    mse: float
    r2: float
    status: str = "converged"
    n_starts: int = 1
    boot_params: np.ndarray | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.status in ("converged", "at-bound")

    def conf_int(self, alpha: float = 0.05, method: str = "auto") -> pd.DataFrame:
        """Confidence intervals, one row per parameter, columns ``lower`` and ``upper``.

        Parameters
        ----------
        alpha : float
            1 - coverage (0.05 gives 95% intervals).
        method : {"auto", "wald", "bootstrap"}
            ``"wald"``: ``params ± t_{1-alpha/2, df_resid} * bse``. ``"bootstrap"``: percentiles of ``boot_params``.
            ``"auto"``: bootstrap when replicates exist, otherwise Wald.
        """
        if not 0 < alpha < 1:
            raise InputError(f"alpha={alpha} must be in (0, 1)")
        if method not in ("auto", "wald", "bootstrap"):
            raise InputError(f"method={method!r} is not one of 'auto', 'wald', 'bootstrap'")
        use_boot = method == "bootstrap" or (method == "auto" and self.boot_params is not None)
        if use_boot:
            if self.boot_params is None:
                raise InputError("method='bootstrap' needs a fit run with n_boot > 0")
            with np.errstate(all="ignore"):
                lo = np.nanquantile(self.boot_params, alpha / 2, axis=0)
                hi = np.nanquantile(self.boot_params, 1 - alpha / 2, axis=0)
        else:
            q = stats.t.ppf(1 - alpha / 2, self.df_resid) if self.df_resid > 0 else np.nan
            lo = self.params.to_numpy() - q * self.bse.to_numpy()
            hi = self.params.to_numpy() + q * self.bse.to_numpy()
        return pd.DataFrame({"lower": lo, "upper": hi}, index=self.params.index)

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: estimate, bse, 95% interval."""
        ci = self.conf_int()
        return pd.DataFrame(
            {"param": self.params.index, "estimate": self.params.to_numpy(), "bse": self.bse.to_numpy(),
             "ci_low": ci["lower"].to_numpy(), "ci_high": ci["upper"].to_numpy()}
        )

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.pop("cov", None)
        d.pop("boot_params", None)
        ci = self.conf_int()
        d["ci_low"] = {k: v for k, v in ci["lower"].items()}
        d["ci_high"] = {k: v for k, v in ci["upper"].items()}
        from scalescope.results import to_jsonable

        return to_jsonable(d)

    def summary(self) -> str:
        head = (f"{self.model}: n={self.n_obs}, df_resid={self.df_resid}, mse={self.mse:.4g}, r2={self.r2:.4f}, "
                f"status={self.status}, starts={self.n_starts}")
        lines = [head, f"{'param':<16}{'estimate':>12}{'bse':>12}{'ci_low':>12}{'ci_high':>12}"]
        for row in self.to_frame().itertuples(index=False):
            lines.append(f"{row.param:<16}{row.estimate:>12.5g}{row.bse:>12.4g}{row.ci_low:>12.5g}{row.ci_high:>12.5g}")
        for k, v in self.extra.items():
            if np.isscalar(v):
                lines.append(f"{k:<16}{v}")
        return "\n".join(lines)


def nls_cov(jac: np.ndarray, resid: np.ndarray, n_params: int) -> tuple[np.ndarray, int]:
    """Delta-method covariance ``s^2 (J^T J)^-1`` of a least-squares fit, and its residual degrees of freedom."""
    n = resid.size
    dof = n - n_params
    if dof <= 0:
        return np.full((n_params, n_params), np.nan), max(dof, 0)
    s2 = float(resid @ resid) / dof
    try:
        # pinv, not inv: at a bound or with collinear features J^T J is singular and we'd rather report NaN-ish
        # large variances than crash.
        jtj_inv = np.linalg.pinv(jac.T @ jac, rcond=1e-12)
    except np.linalg.LinAlgError:
        return np.full((n_params, n_params), np.nan), dof
    return s2 * jtj_inv, dof


def r2_score(y: np.ndarray, yhat: np.ndarray) -> float:
    sst = float(((y - y.mean()) ** 2).sum())
    sse = float(((y - yhat) ** 2).sum())
    return 1.0 - sse / sst if sst > 0 else float("nan")
