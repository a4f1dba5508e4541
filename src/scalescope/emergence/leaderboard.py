"""The backtest leaderboard: per method, mean MAE over curves with a bootstrap CI (:func:`scalescope.fit.bootstrap_mean_ci`),
median MAE, wins on the curves every method scored, share of predictions within 2 measurement SEs (Test G1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from scalescope.fit import bootstrap_mean_ci

if TYPE_CHECKING:
    from scalescope.emergence.backtest import BacktestResult


def leaderboard(result: BacktestResult, *, n_boot: int = 1000, random_state: int = 0) -> pd.DataFrame:
    """Per method: curves scored, mean MAE with a bootstrap CI over curves, median MAE, wins on the curves that
    every listed method scored (ties split), and the share of held-out predictions within 2 measurement SEs
    (NaN where the data carry no SE)."""
    e = result.errors.dropna(subset=["mae"])
    if e.empty:
        return pd.DataFrame(columns=["method", "n_curves", "mean_mae", "ci_low", "ci_high", "median_mae", "wins",
                                     "n_common", "share_within_2se"])
    rng = np.random.default_rng(random_state)
    W = e.pivot_table(index="curve", columns="method", values="mae", aggfunc="mean")
    common = W.dropna()
    wins = pd.Series(0.0, index=W.columns)
    if len(common):
        best = common.eq(common.min(axis=1), axis=0)
        wins = best.div(best.sum(axis=1), axis=0).sum()
    rows = []
    for m, g in e.groupby("method"):
        v = g["mae"].to_numpy(float)
        lo, hi = bootstrap_mean_ci(v, n_boot=n_boot, random_state=rng)
        pr = result.predictions[result.predictions["method"] == m]["within_2se"].dropna()
        rows.append(dict(method=m, n_curves=int(v.size), mean_mae=float(v.mean()),
                         ci_low=lo, ci_high=hi,
                         median_mae=float(np.median(v)), wins=float(wins.get(m, 0.0)),
                         n_common=int(len(common)),
                         share_within_2se=float(pr.astype(bool).mean()) if len(pr) else float("nan")))
    return pd.DataFrame(rows).sort_values("mean_mae", ignore_index=True)
