"""U-shapes by the two-lines test (Simonsohn 2018), research/emergence.md Test D1.

Simonsohn, U. (2018). "Two lines: A valid alternative to the invalid testing of U-shaped relationships with quadratic
regressions." Advances in Methods and Practices in Psychological Science 1(4), 538-555, doi:10.1177/2515245918805755.
A significant quadratic term with its vertex inside the x range does not make a U: any monotone convex or concave
curve has one (e.g. an accelerating Brier decline). The paper's test, as its author's R code does it
(``twolines()``/``reg2()`` in urisohn/statuser ``R/twolines.R``, "same as webstimate.org/twolines 0.52"):

1. fit a flexible smoother to ``y`` on ``x`` (mgcv cubic regression spline with GCV there; here a cubic smoothing
   spline with the smoothing parameter chosen by GCV, standard errors from its Bayesian posterior covariance);
2. the quadratic regression's slope at the smallest ``x`` says whether to look for a maximum (inverted U, slope > 0)
   or a minimum (U);
3. among the middle 80% of ``x`` (strictly between the 10th and 90th percentiles), find the most extreme fitted
   value; the "flat" region is every middle ``x`` whose fitted value is within one SE of it;
4. interrupted regression ``y = a + b1 xlow + b2 xhigh + c high`` at the median of the flat region gives the two
   slopes' z statistics ``z1``, ``z2`` (HC3 standard errors, HC1 where HC3 is undefined);
5. "Robin Hood": move the breakpoint to the ``z2 / (z1 + z2)`` quantile of the flat region -- towards the side with
   the weaker line, giving it more observations and so more power;
6. final interrupted regression at that breakpoint (the breakpoint counts in the first line for ``b1`` and in the
   second for ``b2``). U (inverted U) only when both slopes are significant with opposite signs.

Deviations, each for a reason stated here: a slope estimated from fewer than 3 distinct ``x`` values has no residual
to estimate its noise (HC standard errors collapse to 0), so it is "not testable" and the curve cannot be called a U;
pooled curves (several families on one axis) use cluster-robust (CR1) standard errors with family as the cluster; and
the critical value ``crit`` (1.96 in the paper) can be raised per sampling design by
:mod:`scalescope.emergence.error_rates` so that the simulated false-positive rate on monotone curves stays <= 5 %.
Curves that are not U are labelled ``flat`` (the slope of one straight line is not significant), otherwise ``convex``
/ ``concave`` (a continuous hinge at the median x changes slope significantly) or ``linear``, with a ``direction``;
these two use classical (or, pooled, cluster-robust) SEs referred to t(n - k), because robust SEs of a two-point
half collapse to 0. The quadratic coefficient and its vertex are reported as described statistics only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from scalescope.errors import InputError
from scalescope.fit.linear import ols, ols_batch
from scalescope.results import Result

Z_CRIT = float(sps.norm.ppf(0.975))  # the paper's two-sided 5 % test of each slope
MIN_SIDE = 3  # distinct x values a testable slope needs (see module docstring)
SHAPES = ("U", "inverted-U", "convex", "concave", "linear", "flat")
_LAMBDAS = np.logspace(-6, 6, 49)  # smoothing parameters, relative to the knot spacing (see _Smoother)


# ------------------------------------------------------------------------------------------------ smoother
class _Smoother:
    """Cubic smoothing spline on fixed knots (the unique x), GCV over a fixed lambda grid, for many y at once.

    Reinsch form (Green & Silverman 1994, §2.3): ``g = (W + lam K)^-1 W ybar`` with ``K = Q R^-1 Q'`` the integrated
    squared second derivative penalty, ``W`` the count of observations per knot. Everything that depends only on x is
    computed once, in the Demmler-Reinsch basis (eigenvectors ``U`` of ``W^-1/2 K W^-1/2``, eigenvalues ``d``): there
    the smoother is diagonal, ``1 / (1 + lam d)``, so the residual sum of squares of *every* lambda is one small
    matrix product per batch, and only the GCV-best fit is formed. A replicate costs O(m^2), not O(L m^2) (the
    error-rate simulations run tens of thousands).
    """

    def __init__(self, x: np.ndarray):
        self.knots, self.inv, counts = np.unique(x, return_inverse=True, return_counts=True)
        self.n, m = x.size, self.knots.size
        self.w = counts.astype(float)
        self.ok = m >= 3
        if not self.ok:
            return
        h = np.diff(self.knots)
        Q = np.zeros((m, m - 2))
        Rm = np.zeros((m - 2, m - 2))
        for c in range(m - 2):
            Q[c, c], Q[c + 1, c], Q[c + 2, c] = 1 / h[c], -1 / h[c] - 1 / h[c + 1], 1 / h[c + 1]
            Rm[c, c] = (h[c] + h[c + 1]) / 3
            if c + 1 < m - 2:
                Rm[c, c + 1] = Rm[c + 1, c] = h[c + 1] / 6
        # lambda in units that make the grid scale-free: K scales like 1/h^3, W like n/m
        lam = _LAMBDAS * float(np.mean(h)) ** 3 * self.n / m
        self.sqw = np.sqrt(self.w)
        # W^-1/2 K W^-1/2 = F F' with F = W^-1/2 Q L^-T (R = L L'): the SVD of F gives the basis with the penalty's
        # null space (lines) exactly unpenalised; an eigh of K itself would leak eps * |K|max (~1/h_min^3) into it
        F = np.linalg.solve(np.linalg.cholesky(Rm), (Q / self.sqw[:, None]).T).T
        self.U, sv, _ = np.linalg.svd(F, full_matrices=True)
        d = np.concatenate([sv**2, np.zeros(m - sv.size)])
        self.shrink = 1 / (1 + lam[:, None] * np.clip(d, 0, None)[None])  # (L, m): the smoother's eigenvalues
        self.resid2 = (1 - self.shrink) ** 2
        self.trace = self.shrink.sum(1)
        # diag (W + lam K)^-1 = diag W^-1/2 U diag(shrink) U' W^-1/2
        self.diagM = (self.shrink @ (self.U**2).T) / self.w[None]

    def fit(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fitted values and their SEs at the knots, (R, m) each, for observations ``Y`` (R, n)."""
        R, m = Y.shape[0], self.knots.size
        if m == self.n:  # no ties (the usual case): the knots are the observations
            ybar = np.empty_like(Y)
            ybar[:, self.inv] = Y
            within = np.zeros(R)
        else:
            onehot = (np.arange(m)[:, None] == self.inv[None, :]).astype(float)
            ybar = (Y @ onehot.T) / self.w
            within = ((Y - ybar[:, self.inv]) ** 2).sum(1)
        z = (ybar * self.sqw) @ self.U  # (R, m) coordinates in the Demmler-Reinsch basis
        rss = within[:, None] + (z**2) @ self.resid2.T  # (R, L)
        den = self.n - self.trace
        with np.errstate(divide="ignore", invalid="ignore"):
            gcv = np.where(den[None] > 1e-6, self.n * rss / den[None] ** 2, np.inf)
        best = np.argmin(gcv, axis=1)
        r = np.arange(R)
        fitted = ((z * self.shrink[best]) @ self.U.T) / self.sqw
        sigma2 = rss[r, best] / np.maximum(den[best], 1e-6)
        return fitted, np.sqrt(np.clip(sigma2[:, None] * self.diagM[best], 0, None))


# ------------------------------------------------------------------------------------------------ core
def testable(x) -> bool:
    """Whether the two-lines test can run on positions ``x``: at least 5 points on 3 distinct values."""
    x = np.asarray(x)
    return x.size >= 5 and np.unique(x).size >= 3


def u_stat(z1, z2) -> np.ndarray:
    """The largest critical value at which the two-lines test still calls a U (or inverted U): the smaller |z| of
    two slopes of opposite signs, 0 where they share a sign, NaN where a slope is not testable; a U at ``crit``
    <=> ``u_stat > crit`` (NaN never passes)."""
    z1, z2 = np.asarray(z1, dtype=float), np.asarray(z2, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(z1 * z2), np.nan, np.where(z1 * z2 < 0, np.minimum(np.abs(z1), np.abs(z2)), 0.0))


def shape_from_z(z1, z2, zl, zd, crit: float = Z_CRIT) -> tuple[np.ndarray, np.ndarray]:
    """Shape codes (indices into :data:`SHAPES`) and directions from the test statistics: U / inverted-U when both
    slopes pass ``crit`` with opposite signs; else ``flat`` when the straight line's ``zl`` does not; else convex /
    concave by the change of slope ``zd``; else linear. NaN slopes (not testable) never pass."""
    z1, z2, zl, zd = (np.asarray(v, dtype=float) for v in (z1, z2, zl, zd))
    with np.errstate(invalid="ignore"):
        u = (np.abs(z1) > crit) & (np.abs(z2) > crit) & (z1 * z2 < 0)
        curved = np.abs(zd) > crit
        trend = np.abs(zl) > crit
    shape = np.full(z1.shape, SHAPES.index("linear"))
    shape = np.where(curved, np.where(zd > 0, SHAPES.index("convex"), SHAPES.index("concave")), shape)
    shape = np.where(trend, shape, SHAPES.index("flat"))
    shape = np.where(u, np.where(z1 < 0, SHAPES.index("U"), SHAPES.index("inverted-U")), shape)
    direction = np.where(u | ~trend, 0, np.sign(np.nan_to_num(zl))).astype(int)
    return shape, direction


def _quantile7(xs: np.ndarray, mask: np.ndarray, q: np.ndarray) -> np.ndarray:
    """R's ``quantile(type=7)`` of ``xs[mask[r]]`` at ``q[r]`` for every row (``xs`` sorted ascending)."""
    cnt = mask.sum(1)
    order = np.argsort(~mask, axis=1, kind="stable")  # True positions first, in x order
    h = np.clip((cnt - 1) * q, 0, None)
    lo = np.floor(h).astype(int)
    hi = np.minimum(lo + 1, np.maximum(cnt - 1, 0))
    r = np.arange(mask.shape[0])
    vlo, vhi = xs[order[r, lo]], xs[order[r, hi]]
    return np.where(cnt > 0, vlo + (h - lo) * (vhi - vlo), np.nan)


class _Splits:
    """Everything about the two segments of sorted ``x`` split after its first ``k`` points that does not depend on
    y, for every ``k`` (row k of each table): the interrupted regressions of a batch then only gather rows."""

    def __init__(self, x: np.ndarray):
        n = x.size
        self.n = n
        k = np.arange(n + 1)[:, None]
        lo = np.arange(n)[None, :] < k  # (n + 1, n)
        tol = 1e-10 * (float(np.ptp(x)) ** 2 or 1.0)
        tabs = []
        with np.errstate(divide="ignore", invalid="ignore"):
            for m in (lo, ~lo):
                w = m.astype(float)
                ns = w.sum(1)
                xbar = (w @ x) / np.maximum(ns, 1)
                dx = (x[None, :] - xbar[:, None]) * w
                sxx = (dx**2).sum(1)
                # leverages; a segment without spread in x (one point, or tied x) is rank-deficient: its slope is
                # not identified and its points' leverage is that of their mean (1 for a lone point)
                lev = w / np.maximum(ns, 1)[:, None] + np.where(sxx[:, None] > tol, dx**2 / sxx[:, None], 0.0)
                tabs.append(dict(w=w, ns=ns, dx=dx, sxx=sxx, lev=lev, degenerate=(ns < 2) | ~(sxx > tol)))
        levs = tabs[0]["lev"] + tabs[1]["lev"]  # each point sits in one segment
        self.hc1 = ~(levs < 1 - 1e-9).all(1)  # HC3 undefined at leverage 1: HC1 for the whole row, as before
        k_ = 4
        for t in tabs:
            exact = t["lev"] > 1 - 1e-9  # a point with leverage 1 is fitted exactly: its residual is 0
            t["keep"] = t["w"] * ~exact
            with np.errstate(divide="ignore", invalid="ignore"):
                fac = np.where(self.hc1[:, None], n / max(n - k_, 1), 1 / (1 - np.where(exact, 0.0, t["lev"])) ** 2)
            t["dx2f"] = t["dx"] ** 2 * fac * t["keep"]  # HC weight of each squared residual in var(slope)
        self.tabs = tabs


def _lines(x: np.ndarray, Y: np.ndarray, xc: np.ndarray, groups, include_first: bool, side: int,
           splits: _Splits | None = None):
    """Interrupted regression ``y = a + b1 xlow + b2 xhigh + c high`` of every row of ``Y`` at its breakpoint
    ``xc[r]`` (``x`` sorted): ``(slope, its variance, dof)`` of the lower (``side=1``, ``b1``) or upper (``side=2``,
    ``b2``) segment; ``include_first``: the breakpoint belongs to the lower segment.

    With its own intercept on each side (``a`` and ``a + c``) the model separates into one straight line per
    segment, so the slopes, residuals and leverages are those of two simple regressions and the HC3 (HC1 for the
    whole row where a leverage is 1, as the paper's code falls back) or CR1 variances of the slopes are masked sums
    over the points: the same numbers as the 4-parameter sandwich (:func:`scalescope.fit.linear.ols_batch`) at a
    fraction of the cost (``splits``: the y-free parts, per split point, from :class:`_Splits`). A point with
    leverage 1 is fitted exactly (its residual is set to 0, not rounding residue), so a 2-point segment's slope
    has SE 0. Rows where the wanted segment has no spread in x (its slope is not identified) go through
    :func:`~scalescope.fit.linear.ols_batch` and its ridge, as before.
    """
    R, n = Y.shape
    sp = splits if splits is not None else _Splits(x)
    kk = (x[None, :] <= xc[:, None]).sum(1) if include_first else (x[None, :] < xc[:, None]).sum(1)
    t = sp.tabs[side - 1]
    w, dx, sxx, ns = t["w"][kk], t["dx"][kk], t["sxx"][kk], t["ns"][kk]
    with np.errstate(divide="ignore", invalid="ignore"):
        b = (dx * Y).sum(1) / sxx
        e = ((Y - ((w * Y).sum(1) / ns)[:, None]) * w - b[:, None] * dx) * t["keep"][kk]
        if groups is not None:
            _, g = np.unique(np.asarray(groups), return_inverse=True)
            G = int(g.max()) + 1
            onehot = (np.arange(G)[:, None] == g[None, :]).astype(float)  # (G, n)
            fac = G / max(G - 1, 1) * (n - 1) / max(n - 4, 1)
            var = fac * (((dx * e) @ onehot.T) ** 2).sum(1) / sxx**2
            dof = G - 1
        else:
            var = (e**2 * t["dx2f"][kk]).sum(1) / sxx**2
            dof = n - 4
    degenerate = t["degenerate"][kk]  # the wanted slope itself is not identified (the other side's may not be)
    if degenerate.any():
        d = x[None, :] - xc[degenerate][:, None]
        hi = d > 0 if include_first else d >= 0
        A = np.stack([np.ones_like(d), np.where(hi, 0.0, d), np.where(hi, d, 0.0), hi.astype(float)], -1)
        Yd = Y[degenerate]
        if groups is not None:
            beta, cov, _ = ols_batch(A, Yd, "cluster", groups)
        else:
            beta, cov, _ = ols_batch(A, Yd, "HC3")
            bad = ~np.isfinite(cov).all(axis=(1, 2))
            if bad.any():
                cov = cov.copy()
                cov[bad] = ols_batch(A[bad], Yd[bad], "HC1")[1]
        b, var = b.copy(), var.copy()
        b[degenerate], var[degenerate] = beta[:, side], cov[:, side, side]
    return b, var, dof


def _z_equiv(b: np.ndarray, se: np.ndarray, dof: int) -> np.ndarray:
    """``b / se`` referred to t(dof), returned as the normal quantile with the same two-sided p (so one critical
    value serves every statistic); an exact fit (se 0) with a non-zero ``b`` is infinitely significant."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, b / se, np.where(b != 0, np.sign(b) * np.inf, 0.0))
    if dof <= 0:
        return np.zeros_like(t)
    # scipy.special's t CDF and normal quantile: the same numbers as sps.t.sf / sps.norm.isf without the
    # distribution objects' per-call overhead (the simulations call this thousands of times)
    p = 2 * special.stdtr(dof, -np.abs(t))
    return np.sign(t) * -special.ndtri(np.clip(p, 1e-300, 1.0) / 2) + 0.0  # + 0.0: no -0.0


def _n_distinct(x: np.ndarray, xc: np.ndarray, below: bool) -> np.ndarray:
    ux = np.unique(x)
    return ((ux[None, :] <= xc[:, None]) if below else (ux[None, :] >= xc[:, None])).sum(1)


def two_lines_batch(x, Y, *, groups=None, crit: float = Z_CRIT, smoother: _Smoother | None = None) -> dict:
    """The two-lines test on every row of ``Y`` (R, n) at the same ``x`` (n,): a dict of (R,) arrays.

    Keys: ``shape`` (index into :data:`SHAPES`), ``direction`` (+1/-1/0), ``b1``, ``se1``, ``z1``, ``b2``, ``se2``,
    ``z2``, ``breakpoint``, ``slope``, ``slope_se`` (one straight line), ``dslope``, ``dslope_se`` (change of slope at
    the median x), ``zl``, ``zd`` (their z-equivalents), ``x_most`` (where the smoother is most extreme), ``dof``. Used by :func:`two_lines` (R = 1) and by
    the simulations of :mod:`scalescope.emergence.error_rates`.
    """
    x = np.asarray(x, dtype=float)
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    order = np.argsort(x, kind="stable")
    x, Y = x[order], Y[:, order]
    g = None if groups is None else np.asarray(groups)[order]
    R, n = Y.shape
    sm = smoother if smoother is not None else _Smoother(x)
    # 2. which extreme to look for: the quadratic's slope at the smallest x
    z = (x - x.mean()) / (x.std() or 1.0)
    Xq = np.column_stack([np.ones(n), z, z * z])
    cq = np.linalg.pinv(Xq) @ Y.T  # the least-squares solution, one pseudo-inverse for every row
    s0 = cq[1] + 2 * cq[2] * z[0]
    look_max = s0 > 0
    # 3. most extreme fitted value in the middle 80 %, flat region within 1 SE of it
    fitted, se = sm.fit(Y) if sm.ok else (np.nan * np.ones((R, sm.knots.size)),) * 2
    q10, q90 = np.quantile(x, [0.1, 0.9])
    mid_k = (sm.knots > q10) & (sm.knots < q90)
    if not mid_k.any():
        mid_k = (sm.knots > sm.knots[0]) & (sm.knots < sm.knots[-1])
    f_mid = np.where(mid_k[None], fitted, np.nan)
    with np.errstate(invalid="ignore"):
        most = np.where(look_max, np.nanmax(np.where(np.isfinite(f_mid), f_mid, -np.inf), 1),
                        np.nanmin(np.where(np.isfinite(f_mid), f_mid, np.inf), 1))
        flat_k = mid_k[None] & np.where(look_max[:, None], fitted + se >= most[:, None], fitted - se <= most[:, None])
    kmost = np.argmax(np.where(mid_k[None], np.where(look_max[:, None], fitted, -fitted), -np.inf), 1)
    x_most = sm.knots[kmost]
    flat_k[~np.isfinite(most)] = mid_k  # smoother undefined (< 3 knots): the whole middle is "flat"
    flat = flat_k[:, sm.inv]  # observation level, as the paper's quantiles are over observations
    # 4.-5. preliminary lines at the median of the flat region, then Robin Hood
    xmed = _quantile7(x, flat, np.full(R, 0.5))
    sp = _Splits(x)
    b_a, v_a, _ = _lines(x, Y, xmed, g, True, 1, sp)
    b_b, v_b, _ = _lines(x, Y, xmed, g, False, 2, sp)
    with np.errstate(divide="ignore", invalid="ignore"):
        z1m = np.abs(b_a / np.sqrt(v_a))
        z2m = np.abs(b_b / np.sqrt(v_b))
        qrh = z2m / (z1m + z2m)
    # an exact fit on one side (a 2-point segment: se 0, z infinite) gives the limit 0 or 1; NaN otherwise
    qrh = np.where(np.isinf(z1m) & np.isfinite(z2m), 0.0, np.where(np.isinf(z2m) & np.isfinite(z1m), 1.0, qrh))
    qrh = np.where(np.isfinite(qrh), qrh, 0.5)
    xc = _quantile7(x, flat, qrh)
    # 6. final lines
    b1, v1, dof = _lines(x, Y, xc, g, True, 1, sp)
    b2, v2, _ = _lines(x, Y, xc, g, False, 2, sp)
    with np.errstate(invalid="ignore"):
        se1, se2 = np.sqrt(v1), np.sqrt(v2)
    ok1 = _n_distinct(x, xc, True) >= MIN_SIDE
    ok2 = _n_distinct(x, xc, False) >= MIN_SIDE
    with np.errstate(divide="ignore", invalid="ignore"):
        if g is None:  # the paper's z statistics
            z1 = np.where(ok1 & (se1 > 0), b1 / se1, np.nan)
            z2 = np.where(ok2 & (se2 > 0), b2 / se2, np.nan)
        else:  # clustered SEs with few clusters are t(G - 1)-like: refer them there, as z-equivalents
            z1 = np.where(ok1 & (se1 > 0), _z_equiv(b1, se1, dof), np.nan)
            z2 = np.where(ok2 & (se2 > 0), _z_equiv(b2, se2, dof), np.nan)
    # monotone sub-shape: one straight line (flat or not), and the change of slope at the median x of a continuous
    # hinge (convex / concave); classical SEs with t(n - k) there, as z-equivalents, because HC SEs of a 2-point
    # half collapse to 0 and would call every small curve curved
    xm = np.full(R, float(np.median(np.unique(x))))
    Al = np.column_stack([np.ones(n), x])
    Ah = np.column_stack([Al, np.maximum(0.0, x - xm[0])])
    ct = "cluster" if g is not None else "nonrobust"
    bl, cl, dofl = ols_batch(Al, Y, ct, g)
    bh, ch, dofh = ols_batch(Ah, Y, ct, g)
    slope, slope_se = bl[:, 1], np.sqrt(np.clip(cl[:, 1, 1], 0, None))
    dslope, dslope_se = bh[:, 2], np.sqrt(np.clip(ch[:, 2, 2], 0, None))
    zl = _z_equiv(slope, slope_se, dofl)
    zd = _z_equiv(dslope, dslope_se, dofh)
    shape, direction = shape_from_z(z1, z2, zl, zd, crit)
    return dict(shape=shape, direction=direction, zl=zl, zd=zd, b1=b1, se1=se1, z1=z1, b2=b2, se2=se2, z2=z2, breakpoint=xc,
                slope=slope, slope_se=slope_se, dslope=dslope, dslope_se=dslope_se, x_most=x_most, dof=dof,
                quad=cq[2] / (x.std() or 1.0) ** 2)


# ------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class TwoLinesResult(Result):
    """Two-lines test of one curve.

    ``shape`` is one of :data:`SHAPES`; ``b1``/``b2`` are the average slopes below/above ``breakpoint`` with 95 %
    CIs (normal, with the robust SEs); ``z1``/``z2`` their z statistics (NaN: not testable, fewer than 3 distinct x
    on that side). ``crit`` is the |z| both slopes had to exceed. ``quad`` and ``vertex`` (quadratic regression,
    in x units) are described only: they decide nothing.
    """

    shape: str
    direction: int
    b1: float
    b1_ci: tuple
    z1: float
    p1: float
    b2: float
    b2_ci: tuple
    z2: float
    p2: float
    breakpoint: float
    slope: float
    slope_ci: tuple
    dslope: float
    dslope_ci: tuple
    x_most: float
    crit: float
    cov_type: str
    n: int
    n_clusters: int
    quad: float
    vertex: float
    notes: list = field(default_factory=list)

    @property
    def is_u(self) -> bool:
        return self.shape in ("U", "inverted-U")

    def conf_int(self) -> pd.DataFrame:
        """Intervals of both slopes, the single slope and the change of slope (rows; ``lower``, ``upper``)."""
        from scalescope.emergence.stats import _ci_frame

        return _ci_frame({"b1": self.b1_ci, "b2": self.b2_ci, "slope": self.slope_ci, "dslope": self.dslope_ci})


def two_lines(x, y, *, groups=None, crit: float = Z_CRIT) -> TwoLinesResult:
    """Two-lines test of a U / inverted-U relationship between ``x`` and ``y`` (Simonsohn 2018).

    Parameters
    ----------
    x, y : array-like
        The curve, any order; at least 5 finite points (3 distinct x per side are needed for a U).
    groups : array-like, optional
        Cluster labels (e.g. model family) of a pooled curve: cluster-robust (CR1) standard errors.
    crit : float, default 1.96
        |z| both slopes must exceed. :func:`scalescope.emergence.error_rates.two_lines_rates` gives the value that
        keeps the false-positive rate on monotone curves <= 5 % for a sampling design.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 12)
    >>> two_lines(x, (x - 0.5) ** 2 + 0.01 * np.sin(40 * x)).shape
    'U'
    >>> two_lines([1, 2, 3, 4, 5], [0.961, 0.949, 0.948, 0.881, 0.807]).shape  # accelerating decline, not a U
    'concave'
    """
    xv = np.asarray(x, dtype=float).ravel()
    yv = np.asarray(y, dtype=float).ravel()
    if xv.shape != yv.shape:
        raise InputError(f"two_lines: x and y have different lengths ({xv.size} vs {yv.size})")
    ok = np.isfinite(xv) & np.isfinite(yv)
    g = None if groups is None else np.asarray(groups)[ok]
    xv, yv = xv[ok], yv[ok]
    if not testable(xv):
        raise InputError(f"two_lines: needs at least 5 finite points on 3 distinct x, got {xv.size}")
    return _results(xv, yv[None], g, crit)[0]


def two_lines_rows(x, Y, *, groups=None, crit=Z_CRIT) -> list[TwoLinesResult]:
    """:func:`two_lines` of every row of ``Y`` (R, n) on the same finite ``x`` (n,), in one batch.

    ``crit``: one critical value, or one per row. Curves of one family measured on the same models share their x:
    testing them together costs little more than testing one.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 12)
    >>> Y = np.stack([(x - 0.5) ** 2, x, 0.02 * np.cos(30 * x)]) + 0.01 * np.sin(40 * x)
    >>> [r.shape for r in two_lines_rows(x, Y)]
    ['U', 'linear', 'flat']
    """
    xv = np.asarray(x, dtype=float).ravel()
    Yv = np.atleast_2d(np.asarray(Y, dtype=float))
    if Yv.shape[1] != xv.size or not (np.isfinite(xv).all() and np.isfinite(Yv).all()):
        raise InputError(f"two_lines_rows: Y needs {xv.size} finite columns (one per x), got shape {Yv.shape}")
    if not testable(xv):
        raise InputError(f"two_lines: needs at least 5 finite points on 3 distinct x, got {xv.size}")
    g = None if groups is None else np.asarray(groups)
    if g is not None and np.unique(g).size < 2:
        g = None
    return _results(xv, Yv, g, crit)


def _results(xv: np.ndarray, Y: np.ndarray, g, crit) -> list[TwoLinesResult]:
    crits = np.broadcast_to(np.asarray(crit, dtype=float), (Y.shape[0],))
    b = two_lines_batch(xv, Y, groups=g)
    shape, direction = shape_from_z(b["z1"], b["z2"], b["zl"], b["zd"], crits)
    V = np.column_stack([xv**2, xv, np.ones_like(xv)])  # the quadratic's vertex, described only
    lin = [float(ols(V, y)[0][1]) for y in Y]
    zc = Z_CRIT

    def ci(b_, s):
        return (float(b_ - zc * s), float(b_ + zc * s)) if math.isfinite(s) else (float("nan"), float("nan"))

    def p(zv):
        return float(2 * sps.norm.sf(abs(zv))) if math.isfinite(zv) else float("nan")

    out = []
    for i in range(Y.shape[0]):
        r = {k: (v[i] if isinstance(v, np.ndarray) else v) for k, v in b.items()}
        notes = []
        if not math.isfinite(r["z1"]) or not math.isfinite(r["z2"]):
            notes.append(f"a slope rests on fewer than {MIN_SIDE} distinct x values: not testable, no U possible")
        vx = -lin[i] / (2 * float(r["quad"])) if r["quad"] else float("nan")
        out.append(TwoLinesResult(
            shape=SHAPES[int(shape[i])], direction=int(direction[i]), b1=float(r["b1"]), b1_ci=ci(r["b1"], r["se1"]),
            z1=float(r["z1"]), p1=p(r["z1"]), b2=float(r["b2"]), b2_ci=ci(r["b2"], r["se2"]), z2=float(r["z2"]),
            p2=p(r["z2"]), breakpoint=float(r["breakpoint"]), slope=float(r["slope"]),
            slope_ci=ci(r["slope"], r["slope_se"]), dslope=float(r["dslope"]),
            dslope_ci=ci(r["dslope"], r["dslope_se"]),
            x_most=float(r["x_most"]), crit=float(crits[i]), cov_type="cluster (CR1)" if g is not None else "HC3",
            n=int(xv.size), n_clusters=int(np.unique(g).size) if g is not None else 0, quad=float(r["quad"]),
            vertex=vx, notes=notes,
        ))
    return out
