"""False-positive rates and power of every emergence verdict, by simulation on each curve's own sampling design.

With 5-12 models per family, a verdict ("breakthrough", "U", "predictable", ...) means little without its error
rates. For a *design* -- the curve's x positions (scaled to [0, 1]), its number of items (binomial noise; for soft
metrics Gaussian noise, where every verdict is invariant to the scale of y) and its chance level -- this module
simulates curves whose truth is known and applies the very rules the analyses apply:

- null and alternative shapes (:data:`SCENARIOS`): flat, linear, accelerating / decelerating power laws in either
  direction (convex / concave), a smooth sigmoid spanning the range, a sharp sigmoid (a jump between two adjacent
  models: the emergence alternative), and U / inverted-U parabolas with the vertex anywhere in the middle 40 %;
  each at three amplitudes;
- the two-lines shape (:func:`scalescope.emergence.twolines.two_lines_batch`, Simonsohn 2018) and the §3.6 trend
  label (:func:`scalescope.emergence.curves.label_rule` on vectorised statistics).

For each verdict: ``fpr`` = the largest rate at which it is given on a scenario where it is wrong (worst case over
shapes and amplitudes), ``power`` = the mean rate at which it is given where it is the right answer. Where the
conventional threshold gives ``fpr > 5 %`` the design's threshold is raised to the smallest value on a grid with
``fpr <= 5 %``: the two-lines critical |z| (:data:`CRITS`, 1.96 in the paper; one value for its U, convex, concave
and linear calls), and for the labels, in the order the label cascade applies them (:data:`LABEL_GRIDS`), the
two-lines |z| of ``non-monotone``, the BIC margin of ``breakthrough`` (:data:`MARGINS`, 6 by convention), the
Spearman alpha of ``inverse`` and of ``noisy-monotone`` (:data:`ALPHAS`) and the R^2 of ``predictable``
(:data:`R2S`) -- the :class:`~scalescope.emergence.curves.Thresholds` that ``emergence analyze`` labels at
(``VerdictRates.thresholds``; ``crit`` / ``bic_margin`` kept as fields). The rates are reported at those
thresholds (``fpr``, ``power``) and at the conventional ones (``*_at_default``). ``trendless`` and ``unresolved``
claim nothing (no evidence of a trend): their ``fpr`` is a miss rate where a real trend of at least the middle
amplitude exists, and no threshold is raised for it (``claim`` is False in ``rates``).

Replicates come in two stages: :data:`N_REPS` per scenario x amplitude cell, then :data:`DECISIVE_REPS` more for
the few null cells that decide each calibrated threshold (:data:`DECISIVE_CELLS` per threshold). Every rate comes
with its Monte Carlo standard error (``fpr_se``, ``power_se``: binomial, from the replicates its cells got; 2.2
points on a 5 % rate from 100 replicates, 1.1 from 400).

Cost. A design is simulated once per process (cached on its canonical form, :func:`design_for`: x positions
rescaled to [0, 1] and rounded to 0.05, curves of more than 20 points resampled to a size on :data:`N_GRID` and
rounded to 0.01; ``n_items`` on a powers-of-4 grid (powers of 16 where it is estimated from the curve's noise);
chance rounded to 0.05; clusters numbered by first appearance), near-identical large designs of one analysis share
one simulation (:func:`merge_designs`), and all scenario x amplitude cells go through the two-lines test and the
label statistics as one batch: the smoother in its Demmler-Reinsch basis, the interrupted regressions as masked
sums per split, the hinge by its normal equations, the sigmoid profile as one float32 matrix product over its grid.
BLAS runs single-threaded meanwhile (its worker threads spin on a busy machine and made each small product ~100x
slower). One documented approximation: the simulated sigmoid fit is a profile over a (x0, k) grid with the ceiling
in closed form, instead of :func:`scalescope.emergence.stats.sigmoid_fit`'s multi-start least squares (milliseconds
per curve, minutes per design).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from scalescope.emergence import stats as st
from scalescope.emergence.curves import (
    ALPHA,
    BIC_MARGIN,
    CLAIMS,
    DEFAULT_THRESHOLDS,
    LABELS,
    R2_PREDICTABLE,
    Curve,
    Thresholds,
    label_rule,
)
from scalescope.emergence.twolines import (
    SHAPES,
    Z_CRIT,
    _Smoother,
    shape_from_z,
    testable,
    two_lines_batch,
    u_stat,
)
from scalescope.fit.hinge import hinge_grid, hinge_sse, linear_sse
from scalescope.observational._blas import single_thread_blas
from scalescope.results import Result

FPR_TARGET = 0.05
# Replicates, in two stages. Every scenario x amplitude cell (33) gets N_REPS; then the DECISIVE_CELLS cells that
# decide each calibrated threshold (the null cells that need the highest critical |z| / BIC margin) get
# DECISIVE_REPS more. The worst-case FPR is a maximum over cells, and its Monte Carlo error comes from the few cells
# near the top: with 100 everywhere the maximum is biased up by the noise of 27 cells and the calibrated threshold
# scattered over three grid steps from seed to seed; 400 replicates where they decide it and 100 elsewhere
# calibrate more tightly than 200 everywhere (true worst-case FPR closer to, still below, 5 %; more power) at ~80 % of
# its cost (.notes/issue17.md, "Performance"). Every rate is reported with its Monte Carlo SE (``<rate>_se``).
N_REPS = 100
DECISIVE_CELLS = 3  # per calibrated threshold (two-lines crit, breakthrough margin)
DECISIVE_REPS = 300
CRITS = (Z_CRIT, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0, 5.0, 7.0, 10.0, math.inf)
MARGINS = (BIC_MARGIN, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0, 50.0, math.inf)
GAUSS_SNR = (4.0, 10.0, 30.0)  # amplitude / noise SD for soft metrics
BINOM_AMPS = (0.1, 0.3, 0.6)  # amplitude as a share of (1 - floor) for hard metrics
# curves with more than 20 points are simulated at the nearest of these sizes (their x quantiles resampled): 34 and
# 35 models on the same grid are one design, at most ~8 % more or fewer points than the curve; pooled curves with
# more points are thinned to the largest
N_GRID = (20, 24, 28, 32, 36, 42, 48, 54, 60)
MAX_RATE_POINTS = N_GRID[-1]
MERGE_TOL = 0.05  # large designs whose x positions differ by at most this (of the range) share a simulation
N_ITEMS_RANGE = (4.0, 4.0**7)  # from 16,384 items on, binomial noise is < 0.4 % and the rates have converged
CHUNK_ROWS = 2200  # simulated curves per vectorised pass (bounds the (rows, grid) intermediates to ~10 MB)

# truth per scenario: (two-lines shapes that are not wrong, the right one or None), (labels not wrong, right one)
_NOT_TREND = ("trendless", "unresolved")
# "predictable" (a line fits) and "noisy-monotone" (a monotone trend) do not say which way: right on a decreasing
# curve too (the cascade gives "inverse" first where the decrease is significant at its calibrated level)
_DESCRIBE = ("predictable", "noisy-monotone")
# on a U / inverted U (vertex in the middle 40 %) "inverse" is not wrong: one side is a real decrease, up to 70 % of
# the range, which is what inverse scaling reports before the recovery is seen (McKenzie et al. 2023; Wei et al.
# 2023, "Inverse scaling can become U-shaped"); "non-monotone" comes first in the cascade wherever the two-lines
# test sees both sides. "inverse" is wrong wherever nothing decreases (flat, increasing, sigmoids).
_NON_MONOTONE_OK = ("non-monotone", "inverse", "noisy-monotone", *_NOT_TREND)
SCENARIOS: dict[str, tuple[tuple, str | None, tuple, str | None]] = {
    "flat": (("flat",), "flat", _NOT_TREND, "trendless"),
    "linear": (("linear", "flat"), "linear", ("predictable", "noisy-monotone", *_NOT_TREND), "predictable"),
    "linear-down": (("linear", "flat"), "linear", ("inverse", *_DESCRIBE, *_NOT_TREND), "inverse"),
    "convex": (("convex", "linear", "flat"), "convex", ("predictable", "noisy-monotone", *_NOT_TREND), None),
    "concave": (("concave", "linear", "flat"), "concave", ("predictable", "noisy-monotone", *_NOT_TREND), None),
    "convex-down": (("convex", "linear", "flat"), "convex", ("inverse", *_DESCRIBE, *_NOT_TREND), None),
    "concave-down": (("concave", "linear", "flat"), "concave", ("inverse", *_DESCRIBE, *_NOT_TREND), None),
    "sigmoid-smooth": (("convex", "concave", "linear", "flat"), None, ("predictable", "noisy-monotone", *_NOT_TREND),
                       None),
    "sigmoid-sharp": (("convex", "concave", "linear", "flat"), None, ("breakthrough", "noisy-monotone", *_NOT_TREND),
                      "breakthrough"),
    "U": (("U", "convex", "linear", "flat"), "U", _NON_MONOTONE_OK, "non-monotone"),
    "inverted-U": (("inverted-U", "concave", "linear", "flat"), "inverted-U", _NON_MONOTONE_OK, "non-monotone"),
}


@dataclass(frozen=True, eq=False)
class Design:
    """What the error rates of a curve depend on: x positions scaled to [0, 1] (see :func:`design_for`), ``n_items``
    (on a geometric grid; NaN = Gaussian noise), the chance level (rounded to 0.05; NaN = none), the metric kind,
    and for pooled curves the cluster (family) index of each point.

    Two designs are equal (and share one cached simulation) when their :attr:`key` is: NaN fields compare equal
    there, which a plain dataclass would not do (``nan != nan`` made every Gaussian design a cache miss).
    """

    positions: tuple
    n_items: float
    chance: float
    kind: str
    clusters: tuple | None = None

    @property
    def n(self) -> int:
        return len(self.positions)

    @property
    def key(self) -> tuple:
        def f(v):
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

        return (tuple(round(float(p), 6) for p in self.positions), f(self.n_items), f(self.chance), self.kind,
                self.clusters)

    def __eq__(self, other) -> bool:
        return isinstance(other, Design) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def design_for(curve: Curve) -> Design:
    """The canonical :class:`Design` of a curve, which curves that differ only trivially share.

    x is rescaled to [0, 1]; up to 20 points, rounded to 0.05; more points are resampled (their quantiles) to the
    nearest size on :data:`N_GRID` and rounded to 0.01. Hard metrics: ``n_items`` rounded to a power of 4 in
    [4, 16384]; without item counts, the count equivalent to the measured noise (``p (1 - p) / noise_scale^2``)
    rounded to a power of 16 in [16, 4096]; the chance level rounded to 0.05. Pooled curves: families numbered by
    first appearance along x.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalescope.emergence.table import finalize
    >>> from scalescope.emergence.curves import iter_curves
    >>> t = finalize(pd.DataFrame({"model": list("abcde"), "train_flops": [1e20, 1e21, 1e22, 1e23, 1e24],
    ...     "task": "t", "metric": "acc", "metric_kind": "hard", "value": [.25, .26, .3, .4, .6],
    ...     "chance_level": 0.25, "n_items": 1000}))
    >>> d = design_for(next(iter_curves(t)))
    >>> d.positions, d.n_items, d.chance
    ((0.0, 0.25, 0.5, 0.75, 1.0), 1024.0, 0.25)
    """
    x = curve.x
    u = (x - x.min()) / (np.ptp(x) or 1.0)
    clusters = np.asarray(curve.clusters) if curve.clusters else None
    if x.size > N_GRID[0]:
        m = min(N_GRID, key=lambda k: abs(math.log(k / x.size)))
        u = np.interp(np.linspace(0, 1, m), np.linspace(0, 1, x.size), u)
        if clusters is not None:
            clusters = clusters[np.round(np.linspace(0, x.size - 1, m)).astype(int)]
    if clusters is not None:  # numbered by first appearance along x: the names of the families do not matter
        _, first, inv = np.unique(clusters, return_index=True, return_inverse=True)
        clusters = np.argsort(np.argsort(first))[inv]
    # 0.05 of the x range on a small design; on a large one 0.01, since rounding its dense x to 0.05 makes ties the
    # data do not have (and ties change the rates: a tied pair has no slope between them)
    step = 0.05 if x.size <= N_GRID[0] else 0.01
    pos = tuple(float(v) for v in np.round(u / step) * step)
    kind = "binomial" if curve.metric_kind == "hard" else "gaussian"
    n_items, chance = float("nan"), float("nan")
    if kind == "binomial":
        n_items, base, top = curve.n_items, 4.0, N_ITEMS_RANGE[1]  # rates move slowly with n: a power of 4
        if not (math.isfinite(n_items) and n_items > 0):
            p = float(np.clip(np.mean(curve.value), 0.02, 0.98))
            s = st.noise_scale(curve.value)
            n_items = p * (1 - p) / s**2 if math.isfinite(s) and s > 0 else 100.0
            # an item count read off a few second differences is uncertain by a factor of 2-3 (1 SD) with <= 10
            # points: a power of 16 (x/ 4) adds little to that and shares the simulation across many curves
            base, top = 16.0, 16.0**3
        n_items = float(base ** round(math.log(min(max(n_items, base), top), base)))
        chance = round(curve.chance / 0.05) * 0.05 if math.isfinite(curve.chance) else float("nan")
    return Design(positions=pos, n_items=n_items, chance=chance, kind=kind,
                  clusters=tuple(int(c) for c in clusters) if clusters is not None else None)


def merge_designs(designs, tol: float = MERGE_TOL) -> dict:
    """Map every design to the one its simulation is shared with: large designs (more than ``N_GRID[0]`` points)
    with the same size, noise, chance, kind and clusters whose x positions differ by at most ``tol`` of the x
    range at every point (e.g. the same model grid with one model missing) form one group (single linkage), and
    all of them use the group's member with the smallest :attr:`Design.key`. Small designs map to themselves.

    The mapping depends only on the *set* of designs, not on their order, so an analysis gives the same rates
    whatever order it meets its curves in.

    Examples
    --------
    >>> a = Design(tuple(np.linspace(0, 1, 24).round(2)), 256.0, 0.25, "binomial")
    >>> b = Design(tuple((np.linspace(0, 1, 24) ** 1.02).round(2)), 256.0, 0.25, "binomial")
    >>> m = merge_designs([a, b])
    >>> m[a] is m[b]
    True
    """
    uniq = sorted(set(designs), key=lambda d: repr(d.key))
    out = {d: d for d in uniq}
    groups: dict = {}
    for d in uniq:
        if d.n > N_GRID[0]:
            groups.setdefault((d.n, *d.key[1:]), []).append(d)
    for members in groups.values():
        P = np.array([d.positions for d in members])
        close = np.abs(P[:, None, :] - P[None, :, :]).max(-1) <= tol + 1e-9
        label = np.arange(len(members))
        for _ in range(len(members)):  # single-linkage components: propagate the smallest index
            new = np.where(close, label[None, :], len(members)).min(1)
            if (new == label).all():
                break
            label = new
        for i, d in enumerate(members):
            out[d] = members[int(label[i])]
    return out


# ------------------------------------------------------------------------------------------------ simulation
def _shape(name: str, u: np.ndarray, rng, R: int) -> np.ndarray:
    """(R, n) curve shapes in [0, 1] at positions ``u``."""
    U = np.broadcast_to(u, (R, u.size))
    if name == "flat":
        return np.zeros((R, u.size))
    if name == "linear":
        return U.copy()
    if name == "linear-down":
        return 1 - U
    if name == "convex":
        return U**3
    if name == "concave":
        return 1 - (1 - U) ** 3
    if name == "convex-down":
        return (1 - U) ** 3
    if name == "concave-down":
        return 1 - U**3
    if name == "sigmoid-smooth":  # 10-90 % width = the whole range
        s = 1 / (1 + np.exp(-2 * math.log(9) * (U - 0.5)))
        return (s - s.min(1, keepdims=True)) / np.ptp(s, axis=1, keepdims=True)
    if name == "sigmoid-sharp":  # a jump between two adjacent design points in the middle 60 %
        us = np.unique(u)
        mids = (us[:-1] + us[1:]) / 2
        mids = mids[(mids > 0.2) & (mids < 0.8)] if ((mids > 0.2) & (mids < 0.8)).any() else mids
        c = rng.choice(mids, size=(R, 1))
        gap = max(float(np.min(np.diff(us))), 1e-3)
        return 1 / (1 + np.exp(-np.clip(2 * math.log(9) / (0.25 * gap) * (U - c), -60, 60)))
    if name in ("U", "inverted-U"):
        v = rng.uniform(0.3, 0.7, size=(R, 1))
        f = ((U - v) / np.maximum(v, 1 - v)) ** 2
        return f if name == "U" else 1 - f
    raise ValueError(name)


def _simulate(design: Design, name: str, amp_i: int, rng, reps: int = N_REPS) -> np.ndarray:
    """(reps, n) simulated *values* (as reported: accuracy for hard metrics) of one scenario and amplitude."""
    return _simulate_cells(design, [CELLS.index((name, amp_i))], rng, reps)


def _simulate_cells(design: Design, cells, rng, reps: int) -> np.ndarray:
    """(len(cells) * reps, n) simulated values, ``reps`` rows per cell (indices into :data:`CELLS`) in order: the
    shapes first, then all the noise in one draw."""
    u = np.asarray(design.positions, dtype=float)
    F = np.concatenate([_shape(CELLS[c][0], u, rng, reps) for c in cells])
    amp_i = np.repeat([CELLS[c][1] for c in cells], reps)
    if design.kind == "gaussian":
        return np.asarray(GAUSS_SNR)[amp_i][:, None] * F + rng.normal(size=F.shape)
    floor = design.chance if math.isfinite(design.chance) else 0.0
    amp = np.asarray(BINOM_AMPS)[amp_i] * (1 - floor)
    p = np.clip(floor + amp[:, None] * F, 0, 1)
    n = int(design.n_items)
    return rng.binomial(n, p) / n


def _spearman(x: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise Spearman rho and its two-sided p-value (t approximation, as scipy's ``spearmanr``)."""
    from scipy import stats as sps

    ry = sps.rankdata(Y, axis=1)
    rx = sps.rankdata(x)
    ry = ry - ry.mean(1, keepdims=True)
    rx = rx - rx.mean()
    den = np.sqrt((ry**2).sum(1) * (rx**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(den > 0, (ry * rx).sum(1) / den, 0.0)
        n = x.size
        t = rho * np.sqrt((n - 2) / np.clip(1 - rho**2, 1e-300, None))
        p = np.where(den > 0, 2 * sps.t.sf(np.abs(t), n - 2), 1.0)
    return rho, p


def _sigmoid_grid(x: np.ndarray, V: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profile least squares of ``V ~ floor + A / (1 + exp(-k (x - x0)))`` over a (x0, k) grid, ``A`` in closed form
    within sigmoid_fit's bounds ``floor + A in [max V, max(1, max V)]``: (SSE, x0, k) per row."""
    span = float(np.ptp(x)) or 1.0
    x0s = np.linspace(x.min() - 0.25 * span, x.max() + 0.25 * span, 25)
    ks = np.geomspace(0.2 / span, 500.0 / span, 18)
    X0, K = (a.ravel() for a in np.meshgrid(x0s, ks))
    S = 1 / (1 + np.exp(np.clip(-K[:, None] * (x[None, :] - X0[:, None]), -60, 60)))  # (G, n)
    T = V - floor  # (R, n)
    ss = (S**2).sum(1)  # (G,)
    lo = np.maximum(V.max(1), floor + 1e-6) - floor
    hi = np.maximum(1.0, lo + floor + 1e-6) - floor
    # the search over the grid in float32 (the (R, G) arrays are the whole cost; a near-tie between two grid points
    # may go either way, which a grid approximation allows), the SSE of the chosen point in float64
    T32, S32 = T.astype(np.float32), S.astype(np.float32)
    TS = T32 @ S32.T  # (R, G)
    inv_ss = (1 / np.maximum(ss, 1e-30)).astype(np.float32)  # a sigmoid ~0 at every x: amplitude at the bound
    A = TS * inv_ss[None]
    np.maximum(A, lo[:, None].astype(np.float32), out=A)
    np.minimum(A, hi[:, None].astype(np.float32), out=A)
    # SSE = |T|^2 - A (2 TS - A ss): maximise the gain, in place
    gain = A * ss.astype(np.float32)[None]
    np.subtract(TS, gain, out=gain)
    gain += TS
    gain *= A
    g = np.argmax(gain, 1)
    Sg = S[g]  # (R, n)
    Ag = np.clip((T * Sg).sum(1) / ss[g], lo, hi)
    return ((T - Ag[:, None] * Sg) ** 2).sum(1), X0[g], K[g]


def label_stats(design: Design, V: np.ndarray) -> dict:
    """The statistics :func:`~scalescope.emergence.curves.label_rule` needs, for every row of ``V`` (R, n)."""
    x = np.asarray(design.positions, dtype=float)
    n = x.size
    R = V.shape[0]
    Y = V  # every simulated metric is higher-is-better
    rng_y = np.ptp(Y, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        J = np.where(rng_y > 0, np.abs(np.diff(Y, axis=1)).max(1) / rng_y, np.nan)
        xc = x - x.mean()
        yc = Y - Y.mean(1, keepdims=True)
        r = (yc @ xc) / np.sqrt((yc**2).sum(1) * (xc**2).sum())
        r2 = np.where(rng_y > 0, r * r, np.nan)
    rho, p_rho = _spearman(x, Y)
    hinge_dbic = np.full(R, -np.inf)
    if n >= 5 and np.unique(x).size >= 5:
        taus = hinge_grid(x, 2)
        sse_h, coef = hinge_sse(x, Y, taus, False, residuals=False)
        g = np.argmin(sse_h, 1)
        sse_l, _ = linear_sse(x, Y)
        bic = lambda s, k: n * np.log(np.maximum(s, 1e-300) / n) + k * math.log(n)  # noqa: E731
        d = bic(sse_l, 2) - bic(sse_h[np.arange(R), g], 4)
        hinge_dbic = np.where(coef[np.arange(R), g, 2] > 0, d, -np.inf)
    sig_dbic = np.full(R, -np.inf)
    sharp = np.zeros(R, dtype=bool)
    unresolved = np.zeros(R, dtype=bool)
    if design.kind == "binomial" and math.isfinite(design.chance):
        if n >= 4:
            sse_s, x0, k = _sigmoid_grid(x, V, design.chance)
            sse_l = ((yc - np.outer((yc @ xc) / (xc @ xc), xc)) ** 2).sum(1)
            bic = lambda s, kk: n * np.log(np.maximum(s, 1e-300) / n) + kk * math.log(n)  # noqa: E731
            sig_dbic = bic(sse_l, 2) - bic(sse_s, 3)
            gaps = np.diff(x)
            i = np.clip(np.searchsorted(x, x0), 1, n - 1)
            sharp = (2 * math.log(9) / k) < gaps[i - 1]
        p0 = min(max(design.chance, 1e-3), 1 - 1e-3)
        mde = 2 * math.sqrt(p0 * (1 - p0) / design.n_items)
        unresolved = (V.max(1) - design.chance) < mde
    return dict(unresolved=unresolved, hinge_dbic=hinge_dbic, sigmoid_dbic=sig_dbic, J=J, sharp=sharp, rho=rho,
                p_rho=p_rho, r2=r2)


@dataclass(frozen=True)
class VerdictRates(Result):
    """Simulated error rates of every verdict on one :class:`Design`.

    ``rates``: one row per verdict (``family`` "two-lines" or "label", ``verdict``, ``fpr``, ``power``,
    ``threshold`` used, ``default_threshold``, ``fpr_at_default``, ``power_at_default``, each rate with its Monte
    Carlo SE in ``<rate>_se``, ``claim`` False for the no-evidence labels); ``thresholds``: the label thresholds
    this design needs for every claim's fpr <= 5 % (``inf`` / alpha 0: no value on the grid reaches it, the claim
    is never made); ``crit`` (two-lines) and ``bic_margin``: the same for those two; ``by_scenario``: the rate of each
    verdict per scenario and amplitude (the raw material, for tables and figures).
    """

    design: Design
    crit: float
    bic_margin: float
    rates: pd.DataFrame
    by_scenario: pd.DataFrame
    n_reps: int
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    _lookup: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        # one dict per verdict, built once: analyses look up thousands of curves (a pandas filter per lookup
        # cost more than the simulation itself on obsscaling)
        cols = [c for c in self.rates.columns if c not in ("family", "verdict", "claim")]
        self._lookup.update({(r["family"], r["verdict"]): {c: float(r[c]) for c in cols}
                             for r in self.rates.to_dict("records")})

    def to_frame(self) -> pd.DataFrame:
        return self.rates

    def get(self, family: str, verdict: str) -> dict:
        """The row of one verdict as a dict: ``fpr``, ``fpr_se``, ``power``, ``power_se``, ``threshold``,
        ``default_threshold``, ``fpr_at_default`` (+ ``_se``), ``power_at_default`` (+ ``_se``); NaNs where it was
        not simulated."""
        r = self._lookup.get((family, verdict))
        if r is None:
            return dict.fromkeys(_RATE_COLUMNS, float("nan"))
        return dict(r)


_RATE_COLUMNS = ("fpr", "fpr_se", "power", "power_se", "threshold", "default_threshold", "fpr_at_default",
                 "fpr_at_default_se", "power_at_default", "power_at_default_se")


def _rates(freq: np.ndarray, verdicts, truth_col: int, primary_col: int, floor_primary: bool,
           n_reps=N_REPS) -> dict:
    """Worst-case FPR and mean power of each verdict from per-cell frequencies ``freq`` ((cells, verdicts), rows
    in :data:`CELLS` order), with their Monte Carlo SEs: ``{verdict: (fpr, power, fpr_se, power_se)}``.

    "No evidence" verdicts (``trendless``, ``unresolved``) are wrong only where the simulated rise is at least the
    middle amplitude (a faint trend may honestly be unresolved); with a chance level the flat curve's right answer
    is ``unresolved`` rather than ``trendless``. ``fpr_se`` is the binomial SE of the worst cell's rate,
    ``power_se`` that of the mean over the right cells (``n_reps``: replicates per cell, a number or one per cell).
    """
    out = {}
    reps = np.broadcast_to(np.asarray(n_reps, dtype=float), (freq.shape[0],))
    for j, v in enumerate(verdicts):
        wrong, right = _truth(v, truth_col, primary_col, floor_primary)
        f, p = freq[wrong, j], freq[right, j]
        if f.size:
            w = int(np.argmax(f))
            fpr, fpr_se = float(f[w]), math.sqrt(float(f[w] * (1 - f[w]) / reps[wrong][w]))
        else:
            fpr, fpr_se = float("nan"), float("nan")
        power = float(p.mean()) if p.size else float("nan")
        power_se = math.sqrt(float((p * (1 - p) / reps[right]).sum())) / p.size if p.size else float("nan")
        out[v] = (fpr, power, fpr_se, power_se)
    return out


@cache
def _truth(verdict: str, truth_col: int, primary_col: int, floor_primary: bool) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over :data:`CELLS`: where ``verdict`` is wrong, and where it is the right answer."""
    scen = np.array([name for name, _ in CELLS])
    amp = np.array([ai for _, ai in CELLS])
    if verdict in _NOT_TREND:
        wrong = (scen != "flat") & (amp >= 1)
    else:
        wrong = np.array([verdict not in SCENARIOS[s_][truth_col] for s_ in scen], dtype=bool)
    prim = [SCENARIOS[s_][primary_col] for s_ in scen]
    if floor_primary:
        prim = ["unresolved" if (s_ == "flat" and p_ == "trendless") else p_ for s_, p_ in zip(scen, prim)]
    right = np.array([p_ == verdict for p_ in prim], dtype=bool)
    return wrong, right


#: every (scenario, amplitude index) cell of a simulation, in the order of the rows of one batch
CELLS = tuple((name, ai) for name in SCENARIOS for ai in range(len(GAUSS_SNR)))


FAMILIES = ("label", "two-lines")
_LABEL_STATS = ("unresolved", "hinge_dbic", "sigmoid_dbic", "J", "sharp", "rho", "p_rho", "r2")
_CACHE: dict = {}
_CACHE_MAX = 4096


def verdict_rates(design: Design, random_state: int = 0, *, families=FAMILIES) -> VerdictRates:
    """Simulate every scenario of :data:`SCENARIOS` on ``design`` and measure each verdict's FPR and power.

    Parameters
    ----------
    design : Design
    random_state : int
        Seed; the same design and seed give the same rates in any process and call order.
    families : tuple of {"label", "two-lines"}
        The verdicts wanted: the §3.6 labels, the two-lines shapes, or both (pooled curves only need the
        two-lines test). The simulated curves are the same either way, so the rates of a family do not depend on
        which others were asked for.

    Results are cached in-process per (canonical) design, seed and families: equal designs return the same object,
    and a request for one family is answered from a cached result that holds both.

    Examples
    --------
    >>> d = Design(positions=(0.0, 0.14, 0.29, 0.43, 0.57, 0.71, 0.86, 1.0), n_items=float("nan"),
    ...            chance=float("nan"), kind="gaussian")
    >>> r = verdict_rates(d)
    >>> bool(r.get("two-lines", "U")["fpr"] <= 0.05), r.crit >= Z_CRIT, r.n_reps
    (True, True, 100)
    >>> verdict_rates(Design(d.positions, float("nan"), float("nan"), "gaussian")) is r  # NaN fields: same design
    True
    """
    fams = tuple(f for f in FAMILIES if f in set(families))
    if not fams:
        raise ValueError(f"verdict_rates: families must name some of {FAMILIES}, got {families!r}")
    for key in ((design, random_state, fams), (design, random_state, FAMILIES)):
        if key in _CACHE:
            return _CACHE[key]
    with single_thread_blas():
        r = _verdict_rates(design, random_state, fams)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[(design, random_state, fams)] = r
    return r


def _cell_rates(cell: np.ndarray, hits, n_cells: int) -> np.ndarray:
    """(cells, len(hits)) share of each cell's rows where each boolean row array of ``hits`` is true."""
    reps = np.bincount(cell, minlength=n_cells)
    return np.stack([np.bincount(cell, weights=h, minlength=n_cells) for h in hits], 1) / reps[:, None]


def _calibrate(F: np.ndarray, grid, null: np.ndarray) -> tuple[float, np.ndarray]:
    """The smallest grid threshold whose worst null-cell rate is <= FPR_TARGET (``inf`` if none), and the null
    cells that can decide it, from the most to the least decisive: by the grid index each cell needs, then by its
    rate one grid step lower (``F``: (cells, grid) rates, falling along the grid). A cell that passes the lowest
    threshold without a single false positive decides nothing (and is left out)."""
    ok = F[null] <= FPR_TARGET + 1e-12
    need = np.where(ok.any(1), ok.argmax(1), len(grid))  # first grid index at which the cell passes
    thr = math.inf if need.max() >= len(grid) else grid[int(need.max())]
    below = F[null][np.arange(null.sum()), np.maximum(need - 1, 0)]
    order = np.lexsort((-below, -need))
    live = (need > 0) | (F[null][:, 0] > 0)
    return thr, np.flatnonzero(null)[order][live[order]]


def _verdict_rates(design: Design, random_state: int, families=FAMILIES) -> VerdictRates:
    rng = np.random.default_rng(random_state)
    x = np.asarray(design.positions, dtype=float)
    labels = "label" in families
    # the label family needs the two-lines statistic too (its non-monotone claim is the two-lines U)
    two = testable(x) and ("two-lines" in families or labels)
    groups = np.asarray(design.clusters) if design.clusters is not None else None
    if groups is not None and np.unique(groups).size < 2:
        groups = None
    C = len(CELLS)
    sm = _Smoother(x) if two else None
    fp = design.kind == "binomial" and math.isfinite(design.chance)

    def run(V, cells):  # the statistics of simulated rows V whose cells are `cells`
        out = {"cell": np.asarray(cells, dtype=int)}
        for i in range(0, V.shape[0], CHUNK_ROWS):
            Vc = V[i:i + CHUNK_ROWS]
            part = dict(label_stats(design, Vc)) if labels else {}
            if two:
                o = two_lines_batch(x, Vc, groups=groups, smoother=sm)
                part.update({k: o[k] for k in ("z1", "z2", "zl", "zd")})
            for k, v in part.items():
                out.setdefault(k, []).append(v)
        return {k: (np.concatenate(v) if isinstance(v, list) else v) for k, v in out.items()}

    # stage 1: every cell; stage 2: more replicates of each family's decisive cells, each cell from its own seeded
    # stream, so that a family's rates do not depend on which other families were asked for
    sim = run(_simulate_cells(design, list(range(C)), rng, N_REPS), np.repeat(np.arange(C), N_REPS))
    first = np.ones(sim["cell"].size, dtype=bool)
    crit1, dec_u = _calibrate_two_lines(sim, first, C) if two else (math.inf, np.array([], int))
    dec_b = _calibrate_labels(sim, first, crit1, C, fp)[1] if labels else np.array([], int)
    decisive = sorted(set(dec_u.tolist()) | set(dec_b.tolist())) if DECISIVE_REPS > 0 else []
    if decisive:
        V2 = np.concatenate([_simulate_cells(design, [c], np.random.default_rng([random_state, 1, c]), DECISIVE_REPS)
                             for c in decisive])
        more = run(V2, np.repeat(decisive, DECISIVE_REPS))
        sim = {k: np.concatenate([sim[k], more[k]]) for k in sim}
        first = np.r_[first, np.zeros(more["cell"].size, dtype=bool)]
    rows_u = first | np.isin(sim["cell"], dec_u)  # the rows each family's rates use
    rows_b = first | np.isin(sim["cell"], dec_b)
    crit = _calibrate_two_lines(sim, rows_u, C)[0] if two else (math.inf if "two-lines" in families else float("nan"))
    thr = _calibrate_labels(sim, rows_b, crit if two else math.inf, C, fp)[0] if labels else Thresholds(
        bic_margin=float("nan"), crit=crit, alpha_inverse=float("nan"), r2_predictable=float("nan"),
        alpha=float("nan"))

    def freq(codes: np.ndarray, names, rows) -> np.ndarray:  # (cells, verdicts)
        return _cell_rates(sim["cell"][rows], [codes == i for i in range(len(names))], C)

    fams = []
    if labels:
        lab = _label_inputs(sim, rows_b)
        fams.append(("label", LABELS, 2, 3, thr, DEFAULT_THRESHOLDS,
                     freq(label_rule(**lab, thresholds=thr), LABELS, rows_b),
                     freq(label_rule(**lab), LABELS, rows_b),
                     np.bincount(sim["cell"][rows_b], minlength=C)))
    if two and "two-lines" in families:
        z = {k: sim[k][rows_u] for k in ("z1", "z2", "zl", "zd")}
        fams.append(("two-lines", SHAPES, 0, 1, crit, Z_CRIT,
                     freq(shape_from_z(z["z1"], z["z2"], z["zl"], z["zd"], crit)[0], SHAPES, rows_u),
                     freq(shape_from_z(z["z1"], z["z2"], z["zl"], z["zd"], Z_CRIT)[0], SHAPES, rows_u),
                     np.bincount(sim["cell"][rows_u], minlength=C)))
    out, by = [], []
    cell_names = np.array([name for name, _ in CELLS])
    amp_names = GAUSS_SNR if design.kind == "gaussian" else BINOM_AMPS
    for fam, verdicts, tcol, pcol, t_used, t_default, f, f0, reps in fams:
        r = _rates(f, verdicts, tcol, pcol, fp and fam == "label", reps)
        r0 = _rates(f0, verdicts, tcol, pcol, fp and fam == "label", reps)
        for v in verdicts:
            if fam == "label":
                attr = LABEL_THRESHOLD[v]
                used = getattr(t_used, attr) if attr else float("nan")
                default = getattr(t_default, attr) if attr else float("nan")
            else:
                used, default = t_used, t_default
            out.append(dict(family=fam, verdict=v, claim=v in (CLAIMS if fam == "label" else TWO_LINES_CLAIMS),
                            fpr=r[v][0], fpr_se=r[v][2], power=r[v][1], power_se=r[v][3],
                            threshold=used, default_threshold=default, fpr_at_default=r0[v][0],
                            fpr_at_default_se=r0[v][2], power_at_default=r0[v][1], power_at_default_se=r0[v][3]))
        by.append(pd.DataFrame({"family": fam, "scenario": cell_names, "amp_index": [ai for _, ai in CELLS],
                                "amplitude": [amp_names[ai] for _, ai in CELLS], "n_reps": reps,
                                **{v: f[:, j] for j, v in enumerate(verdicts)}}))
    by = pd.concat(by, ignore_index=True) if by else pd.DataFrame(columns=["family", "scenario", "amp_index",
                                                                            "amplitude", "n_reps"])
    out = pd.DataFrame(out, columns=["family", "verdict", "claim", *_RATE_COLUMNS[:4], "threshold",
                                     "default_threshold", *_RATE_COLUMNS[6:]])
    return VerdictRates(design=design, crit=crit, bic_margin=thr.bic_margin, rates=out, by_scenario=by,
                        n_reps=N_REPS, thresholds=thr)


#: the Thresholds field each label's claim is calibrated by (None: an abstention, or not thresholded)
LABEL_THRESHOLD = {"unresolved": None, "breakthrough": "bic_margin", "non-monotone": "crit",
                   "inverse": "alpha_inverse", "predictable": "r2_predictable", "trendless": "alpha",
                   "noisy-monotone": "alpha"}
#: two-lines verdicts that claim a shape (``flat`` = no significant trend, an abstention)
TWO_LINES_CLAIMS = ("U", "inverted-U", "convex", "concave", "linear")
# calibration grids of the label thresholds, in the order the label cascade applies them (each given the ones
# before it); the rate of the claim falls along each grid; the last value never makes the claim
ALPHAS = (ALPHA, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0)
R2S = (R2_PREDICTABLE, 0.95, 0.98, 0.99, 0.995, 0.999, math.inf)
LABEL_GRIDS = (("non-monotone", "crit", CRITS), ("breakthrough", "bic_margin", MARGINS),
               ("inverse", "alpha_inverse", ALPHAS), ("predictable", "r2_predictable", R2S),
               ("noisy-monotone", "alpha", ALPHAS))


def _label_inputs(sim: dict, rows: np.ndarray) -> dict:
    lab = {k: sim[k][rows] for k in _LABEL_STATS}
    lab["u_stat"] = (u_stat(sim["z1"][rows], sim["z2"][rows]) if "z1" in sim
                     else np.full(int(rows.sum()), np.nan))
    return lab


def _calibrate_two_lines(sim: dict, rows: np.ndarray, C: int) -> tuple[float, np.ndarray]:
    """One critical |z| for every two-lines claim: the smallest on :data:`CRITS` at which the U / inverted-U call
    (either one: the statistic :func:`~scalescope.emergence.twolines.u_stat`), convex, concave and linear each have worst-case FPR <= 5 %; and
    the decisive cells of the claim that needs the highest value."""
    cells = sim["cell"][rows]
    z1, z2, zl, zd = (sim[k][rows] for k in ("z1", "z2", "zl", "zd"))
    ustat = u_stat(z1, z2)
    with np.errstate(invalid="ignore"):  # NaN (not testable) never passes
        F_u = _cell_rates(cells, [ustat > c for c in CRITS], C)
    # a U or an inverted U (either call) is wrong where neither shape is
    cands = [_calibrate(F_u, CRITS, _truth("U", 0, 1, False)[0] & _truth("inverted-U", 0, 1, False)[0])]
    shapes = [shape_from_z(z1, z2, zl, zd, c)[0] for c in CRITS]
    for v in ("convex", "concave", "linear"):
        code = SHAPES.index(v)
        F = _cell_rates(cells, [s == code for s in shapes], C)
        cands.append(_calibrate(F, CRITS, _truth(v, 0, 1, False)[0]))
    thr, dec = max(cands, key=lambda c: c[0])  # the claim that needs the highest critical value decides it
    return thr, dec[:DECISIVE_CELLS]


def _calibrate_labels(sim: dict, rows: np.ndarray, crit: float, C: int, floor_primary: bool):
    """Label thresholds in cascade order (:data:`LABEL_GRIDS`), each the smallest step on its grid at which that
    claim's worst-case FPR is <= 5 % given the thresholds before it; non-monotone starts from the two-lines
    ``crit`` (the same claim) and goes higher only where this family's replicates need it. Returns (Thresholds, decisive cells of all of them)."""
    from dataclasses import replace

    lab = _label_inputs(sim, rows)
    cells = sim["cell"][rows]
    t = replace(DEFAULT_THRESHOLDS, crit=crit)
    decisive = []
    for verdict, attr, grid in LABEL_GRIDS:
        code = LABELS.index(verdict)
        if attr == "crit":  # at least the two-lines test's own critical value (the same claim, its rows' noise)
            grid = tuple(g for g in grid if g >= crit)
        F = _cell_rates(cells, [label_rule(**lab, thresholds=replace(t, **{attr: g})) == code for g in grid], C)
        # every grid ends in its never-claim value (inf, or alpha 0), where the rate is 0: one always passes
        thr, dec = _calibrate(F, grid, _truth(verdict, 2, 3, floor_primary)[0])
        t = replace(t, **{attr: float(thr)})
        decisive.extend(dec[:DECISIVE_CELLS].tolist())
    return t, np.array(sorted(set(decisive)), dtype=int)

