"""Bootstrap and cluster-bootstrap confidence intervals (emergence.md §3; obsscaling issue 3: CIs on predictions and
test MSE).

Scaling data are clustered: models of one family share data and recipe, tasks share a benchmark. Resampling whole
clusters (families, tasks) keeps that dependence inside each replicate, so the interval is honest about how few
independent units there are. Intervals: ``"percentile"``, ``"basic"`` and ``"bca"`` (bias-corrected and accelerated,
acceleration from the leave-one-unit-out jackknife, Efron 1987).

Replicate weights. Estimators that are sums over units (calibration's EntCE: per-prompt totals) bootstrap fastest as
``W @ totals`` with ``W`` the [n_boot, n] resampling counts of :func:`bootstrap_weights` (or of whole clusters,
:func:`cluster_bootstrap_weights`); :func:`replicate_weights` puts the all-ones point estimate in row 0. One seed
gives the same draws to every run resampled over the same units, i.e. *paired* replicates across runs.
:func:`multinomial_replicates` is the same case bootstrap for data summarised as type counts (a corpus's tokens).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from scalescope.errors import InputError
from scalescope.results import Result

CI_METHODS = ("percentile", "basic", "bca")


@dataclasses.dataclass(frozen=True, eq=False)
class BootstrapResult(Result):
    """A bootstrap estimate with its interval.

    Attributes
    ----------
    estimate : float or ndarray
        The statistic on the full data.
    ci_low, ci_high : float or ndarray
        Interval at level ``ci``.
    se : float or ndarray
        Standard deviation of the replicates.
    replicates : ndarray
        (n_boot,) or (n_boot, m) statistic values; failed replicates are NaN and ignored.
    n_boot, n_units : int
        Replicates drawn, and units (rows or clusters) resampled.
    ci : float
    method : str
    """

    estimate: Any
    ci_low: Any
    ci_high: Any
    se: Any
    replicates: np.ndarray
    n_boot: int
    n_units: int
    ci: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        from scalescope.results import to_jsonable

        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "replicates"}
        return to_jsonable(d)

    def to_frame(self) -> pd.DataFrame:
        est = np.atleast_1d(self.estimate)
        return pd.DataFrame({"estimate": est, "ci_low": np.atleast_1d(self.ci_low),
                             "ci_high": np.atleast_1d(self.ci_high), "se": np.atleast_1d(self.se)})

    @property
    def params(self) -> pd.Series:
        """The estimate(s) as a Series (index ``estimate`` for a scalar statistic, else 0..m-1)."""
        est = np.atleast_1d(self.estimate)
        return pd.Series(est, index=["estimate"] if np.ndim(self.estimate) == 0 else range(est.size), dtype=float)

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Interval(s) as a DataFrame with ``lower`` / ``upper`` (index as :attr:`params`).

        ``alpha=None`` returns the interval the bootstrap was run with (level ``ci``); another ``alpha`` takes
        percentiles of the stored replicates.
        """
        if alpha is None or math.isclose(1 - alpha, self.ci):
            lo, hi = np.atleast_1d(self.ci_low), np.atleast_1d(self.ci_high)
        else:
            reps = self.replicates.reshape(self.replicates.shape[0], -1)
            lo, hi = (np.asarray(v) for v in zip(*(percentile_interval(reps[:, j], 1 - alpha)
                                                    for j in range(reps.shape[1])), strict=True))
        return pd.DataFrame({"lower": lo, "upper": hi}, index=self.params.index)


def percentile_interval(replicates, ci: float = 0.95) -> tuple[float, float]:
    """Two-sided percentile interval of the finite ``replicates`` (NaN, NaN with fewer than two).

    Examples
    --------
    >>> percentile_interval([1.0, 2.0, 3.0, np.nan], 0.5)
    (1.5, 2.5)
    """
    x = np.asarray(replicates, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (math.nan, math.nan)
    a = (1 - ci) / 2
    lo, hi = np.quantile(x, [a, 1 - a])
    return (float(lo), float(hi))


def bootstrap_mean_ci(values, *, n_boot: int = 1000, ci: float = 0.95, random_state=None) -> tuple[float, float]:
    """Percentile interval of the mean of the finite ``values`` over ``n_boot`` case-resampling replicates.

    One draw ``integers(0, n, (n_boot, n))`` from ``random_state`` (an int or a numpy ``Generator``, so successive
    calls can share one stream); no values gives (NaN, NaN) and a single value (v, v), neither drawing.

    Examples
    --------
    >>> lo, hi = bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0, np.nan], n_boot=200, random_state=0)
    >>> 1.0 <= lo < 2.5 < hi <= 4.0
    True
    >>> bootstrap_mean_ci([0.3])
    (0.3, 0.3)
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan)
    if v.size == 1:
        return (float(v[0]), float(v[0]))
    rng = np.random.default_rng(random_state)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    return percentile_interval(v[idx].mean(1), ci)


def normal_replicates(y, se, n_boot: int, random_state=None) -> np.ndarray:
    """Parametric-bootstrap replicates [n_boot, n] of a measured curve: ``y + se * N(0, 1)`` per point.

    ``random_state`` is an int or a numpy ``Generator`` (one draw of ``normal(size=(n_boot, n))``).

    Examples
    --------
    >>> Y = normal_replicates([0.1, 0.5], [0.0, 0.01], 1000, random_state=0)
    >>> Y.shape, bool((Y[:, 0] == 0.1).all()), round(float(Y[:, 1].std()), 2)
    ((1000, 2), True, 0.01)
    """
    y = np.asarray(y, dtype=float).ravel()
    rng = np.random.default_rng(random_state)
    return y[None, :] + rng.normal(size=(n_boot, y.size)) * np.asarray(se, dtype=float)[None, :]


def order_interval(replicates, q=(0.025, 0.975)) -> tuple[float, float]:
    """Percentile interval from order statistics: the ``floor(q0 (B-1))``-th and ``ceil(q1 (B-1))``-th smallest of
    the ``B`` replicates. Unlike :func:`percentile_interval` nothing is interpolated or dropped, so replicates of
    ``+-inf`` (a statistic that diverges on some replicates, e.g. breakthroughness of flat steps) are fine.

    Examples
    --------
    >>> order_interval([np.inf, 1.0, 2.0, 3.0, -np.inf], q=(0.25, 0.75))
    (1.0, 3.0)
    """
    s = np.sort(np.asarray(replicates, dtype=float).ravel())
    n = s.size
    return (float(s[int(np.floor(q[0] * (n - 1)))]), float(s[int(np.ceil(q[1] * (n - 1)))]))


def bootstrap_weights(n: int, n_boot: int, seed: int | None) -> np.ndarray:
    """Multinomial resampling counts [n_boot, n]: row b says how often each unit appears in replicate b.

    Examples
    --------
    >>> w = bootstrap_weights(5, 3, 0)
    >>> w.shape, w.sum(1).tolist()
    ((3, 5), [5.0, 5.0, 5.0])
    """
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    w = np.zeros((n_boot, n))
    np.add.at(w, (np.arange(n_boot)[:, None], idx), 1.0)
    return w


def cluster_bootstrap_weights(groups, n_boot: int, seed: int | None) -> np.ndarray:
    """Cluster resampling counts [n_boot, n]: the groups (e.g. source documents) are drawn with replacement and a
    unit counts as often as its group was drawn. With every unit its own group this is :func:`bootstrap_weights`.

    Examples
    --------
    >>> w = cluster_bootstrap_weights(np.array([0, 0, 1]), 4, 0)
    >>> bool((w[:, 0] == w[:, 1]).all()), w[:, [0, 2]].sum(1).tolist()
    (True, [2.0, 2.0, 2.0, 2.0])
    """
    _, inv = np.unique(np.asarray(groups), return_inverse=True)
    return bootstrap_weights(int(inv.max()) + 1, n_boot, seed)[:, inv]


def replicate_weights(n: int, n_boot: int, seed: int | None, groups=None) -> np.ndarray:
    """[1 + n_boot, n] weights: row 0 all ones (the point estimate), then the bootstrap draws -- over units, or over
    ``groups`` (:func:`cluster_bootstrap_weights`) when given. Estimates are ``W @ per-unit totals``.

    Examples
    --------
    >>> replicate_weights(3, 2, 0)[0].tolist()
    [1.0, 1.0, 1.0]
    """
    ones = np.ones((1, n))
    if n_boot <= 0:
        return ones
    draws = bootstrap_weights(n, n_boot, seed) if groups is None else cluster_bootstrap_weights(groups, n_boot, seed)
    return np.vstack([ones, draws])


def multinomial_replicates(counts, n_boot: int, seed: int | None):
    """Yield ``n_boot`` case-bootstrap replicates of type counts: ``multinomial(N, counts / N)``, i.e. the N
    observations (tokens) resampled with replacement and counted again.

    Examples
    --------
    >>> [r.sum() for r in multinomial_replicates(np.array([5, 3, 2]), 2, 0)]
    [np.int64(10), np.int64(10)]
    """
    c = np.asarray(counts)
    N = int(c.sum())
    p = c / N
    rng = np.random.default_rng(seed)
    for _ in range(int(n_boot)):
        yield rng.multinomial(N, p)


def _take(data, idx: np.ndarray):
    if isinstance(data, pd.DataFrame | pd.Series):
        return data.iloc[idx]
    if isinstance(data, tuple):
        return tuple(_take(d, idx) for d in data)
    return np.asarray(data)[idx]


def _n_rows(data) -> int:
    if isinstance(data, tuple):
        ns = {_n_rows(d) for d in data}
        if len(ns) != 1:
            raise InputError(f"data: the arrays in the tuple have different lengths {sorted(ns)}")
        return ns.pop()
    return len(data)


def _interval(est, reps, jack, alpha, method):
    reps = reps[~np.isnan(reps).any(axis=1)]
    if reps.shape[0] < 2:
        nan = np.full(est.shape, np.nan)
        return nan, nan.copy()
    if method == "percentile":
        return np.quantile(reps, alpha / 2, axis=0), np.quantile(reps, 1 - alpha / 2, axis=0)
    if method == "basic":
        return 2 * est - np.quantile(reps, 1 - alpha / 2, axis=0), 2 * est - np.quantile(reps, alpha / 2, axis=0)
    lo, hi = np.empty(est.shape), np.empty(est.shape)
    for j in range(est.size):
        r = reps[:, j]
        prop = (np.sum(r < est[j]) + 0.5 * np.sum(r == est[j])) / r.size
        z0 = stats.norm.ppf(np.clip(prop, 1e-10, 1 - 1e-10))
        jj = jack[:, j]
        d = jj.mean() - jj
        den = 6.0 * (d @ d) ** 1.5
        a = float((d**3).sum() / den) if den > 0 else 0.0
        qs = []
        for q in (alpha / 2, 1 - alpha / 2):
            zq = stats.norm.ppf(q)
            qs.append(stats.norm.cdf(z0 + (z0 + zq) / (1 - a * (z0 + zq))))
        lo[j], hi[j] = np.quantile(r, qs[0]), np.quantile(r, qs[1])
    return lo, hi


def _run(data, statistic, groups: list[np.ndarray], n_boot, ci, method, random_state, progress, vectorized):
    if not 0 < ci < 1:
        raise InputError(f"ci={ci} must be in (0, 1)")
    if method not in CI_METHODS:
        raise InputError(f"method={method!r} is not one of {', '.join(map(repr, CI_METHODS))}")
    if int(n_boot) < 2:
        raise InputError(f"n_boot={n_boot} must be >= 2")
    g = len(groups)
    if g < 2:
        raise InputError(f"data: need at least 2 resampling units (rows or clusters), got {g}")
    raw = np.asarray(statistic(data), dtype=float)
    if raw.ndim > 1:
        raise InputError(f"statistic: must return a scalar or a 1-D array, got shape {raw.shape}")
    est = np.atleast_1d(raw)
    shape = raw.shape
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, g, size=(int(n_boot), g))
    singleton = all(len(x) == 1 for x in groups)
    if vectorized:
        if not singleton or isinstance(data, tuple | pd.DataFrame | pd.Series):
            raise InputError("vectorized=True needs a plain array resampled by row (no clusters)")
        reps = np.asarray(statistic(np.asarray(data)[draws]), dtype=float).reshape(int(n_boot), -1)
    else:
        reps = np.full((int(n_boot), est.size), np.nan)
        it = tqdm(range(int(n_boot)), desc="bootstrap", disable=not progress, leave=False)
        for b in it:
            idx = draws[b] if singleton else np.concatenate([groups[i] for i in draws[b]])
            try:
                reps[b] = np.asarray(statistic(_take(data, idx)), dtype=float).ravel()
            except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
                # A degenerate resample (e.g. one cluster drawn g times) can make the statistic undefined; skip it.
                continue
    jack = None
    if method == "bca":
        jack = np.empty((g, est.size))
        for i in range(g):
            keep = np.concatenate([groups[j] for j in range(g) if j != i])
            jack[i] = np.asarray(statistic(_take(data, keep)), dtype=float).ravel()
    lo, hi = _interval(est, reps, jack, 1 - ci, method)
    se = np.nanstd(reps, axis=0, ddof=1)

    def out(v):
        return float(v[0]) if est.size == 1 and shape == () else np.asarray(v).reshape(shape)

    return BootstrapResult(estimate=out(est), ci_low=out(lo), ci_high=out(hi), se=out(se),
                           replicates=reps[:, 0] if shape == () else reps, n_boot=int(n_boot), n_units=g, ci=ci,
                           method=method)


def bootstrap(data, statistic: Callable, *, n_boot: int = 1000, ci: float = 0.95, method: str = "percentile",
              random_state: int | None = 0, vectorized: bool = False, progress: bool = False) -> BootstrapResult:
    """Case-resampling bootstrap of ``statistic(data)``.

    Parameters
    ----------
    data : array, DataFrame or tuple of equal-length arrays
        Rows are resampled with replacement (jointly across a tuple).
    statistic : callable
        ``statistic(resampled_data) -> float or 1-D array``. With ``vectorized=True`` it receives an
        (n_boot, n, ...) array and must return (n_boot,) or (n_boot, m) -- much faster for means and quantiles.
    n_boot : int, default 1000
    ci : float, default 0.95
    method : {"percentile", "basic", "bca"}
    random_state : int or None
    progress : bool, default False
        Show a tqdm bar.

    Returns
    -------
    BootstrapResult

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import bootstrap
    >>> x = np.random.default_rng(0).normal(1.0, 1.0, size=200)
    >>> r = bootstrap(x, lambda s: s.mean(axis=-1), vectorized=True, n_boot=2000)
    >>> bool(r.ci_low < 1.0 < r.ci_high)
    True
    """
    n = _n_rows(data)
    groups = [np.array([i]) for i in range(n)]
    return _run(data, statistic, groups, n_boot, ci, method, random_state, progress, vectorized)


def cluster_bootstrap(data, statistic: Callable, *, clusters, n_boot: int = 1000, ci: float = 0.95,
                      method: str = "percentile", random_state: int | None = 0,
                      progress: bool = False) -> BootstrapResult:
    """Bootstrap that resamples whole clusters (e.g. model families) with replacement.

    Parameters
    ----------
    data : array, DataFrame or tuple of equal-length arrays
    statistic : callable
        ``statistic(resampled_data) -> float or 1-D array``. A resample can contain a cluster several times; the
        rows are simply repeated. Raise ``ValueError`` for an undefined resample: it is skipped (NaN replicate).
    clusters : array-like of labels (one per row) or, for a DataFrame, a column name
    n_boot, ci, method, random_state, progress : as :func:`bootstrap` (BCa uses the leave-one-cluster-out jackknife)

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalescope.fit import cluster_bootstrap
    >>> df = pd.DataFrame({"family": list("aabbccdd"), "err": [1, 1.2, 2, 2.1, 0.5, 0.4, 1, 1.1]})
    >>> r = cluster_bootstrap(df, lambda d: d["err"].mean(), clusters="family", n_boot=500)
    >>> r.n_units, bool(r.ci_low < r.estimate < r.ci_high)
    (4, True)
    """
    n = _n_rows(data)
    if isinstance(clusters, str):
        if not isinstance(data, pd.DataFrame):
            raise InputError(f"clusters={clusters!r}: a column name needs a DataFrame as data")
        if clusters not in data.columns:
            raise InputError(f"clusters: column {clusters!r} is missing (found: {', '.join(map(str, data.columns))})")
        labels = data[clusters].to_numpy()
    else:
        labels = np.asarray(clusters)
    if labels.shape != (n,):
        raise InputError(f"clusters: expected one label per row ({n}), got shape {labels.shape}")
    if pd.isna(labels).any():
        raise InputError("clusters: contains missing labels")
    _, inv = np.unique(labels.astype(str), return_inverse=True)
    order = np.argsort(inv, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(inv[order])) + 1)
    return _run(data, statistic, groups, n_boot, ci, method, random_state, progress, False)
