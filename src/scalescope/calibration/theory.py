"""Zipf/singleton theory of entropy-calibration scaling (Cao, Valiant & Liang 2025, §3 and App. B.4, E; spec §3.1).

Simplified setting: data are i.i.d. tokens from a Zipf(alpha) law over a finite vocabulary of size v,
p_i = i^-alpha / Z. The "model" is the count table of m training tokens; it generates by sampling a token seen in
training, and is *derailed* (its entropy jumps by C_H for the rest of the generation) once it emits a token seen only
once. The per-step derail probability is the singleton mass q = K_{m,1}/m, with

    E[q](m, alpha, v) = sum_{i<=v} p_i (1 - p_i)^(m-1)                              (exact; the standard identity)
                     ~ (1/alpha) Z^(-1/alpha) m^(1/alpha-1) [Gamma(s, m p_v) - Gamma(s, m/Z)],  s = 1 - 1/alpha
                                                                                    (Poisson / incomplete-gamma form)
                     -> C_alpha m^(1/alpha - 1),  C_alpha = Gamma(1 - 1/alpha) / (alpha zeta(alpha)^(1/alpha))
                                                                                    (v = inf, alpha > 1, Prop. 3.1)

so log EntCE ~ (1/alpha - 1) log m + const: the *predicted exponent*. This module computes all three forms (the exact
sum stays exact and finite for m up to 1e12 and v up to 1e8 by summing a head exactly and the smooth tail with
Euler-Maclaurin, in the log domain), the finite-v log-log slope, a Monte-Carlo simulator of the toy generator, and
Zipf-exponent estimation from a corpus (rank-frequency OLS over the top-k types, the paper's recipe, and the
truncated-Zipf maximum-likelihood estimator, both with bootstrap CIs).

Example
-------
>>> round(float(expected_singleton_mass(1e4, 1.5, 10**5)), 4)
0.0413
>>> round(predicted_exponent(1.5), 3)
-0.333
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special

from scalescope.errors import InputError
from scalescope.results import Result

_DIRECT_MAX_V = 2_000_000  # exact direct sum up to this vocabulary size
_HEAD = 200_000  # exact head of the hybrid sum; beyond it the summand is smooth (rel. change < 1e-3 per type)


# ------------------------------------------------------------------------------------------------ Zipf basics
#: Zipf exponents the theory functions accept.
ALPHA_RANGE = (0.01, 100.0)


def _check_alpha_v(alpha: float, v: float | None) -> None:
    if not (np.isfinite(alpha) and alpha > 0):
        raise InputError(f"alpha={alpha}: must be a positive number")
    # Zipf exponents of text are near 1 (the paper's corpora: 1.0-1.5); outside [0.01, 100] the sums and the
    # incomplete-gamma recurrence lose all precision (and 1/alpha - 1 is meaningless as a scaling prediction).
    if not ALPHA_RANGE[0] <= alpha <= ALPHA_RANGE[1]:
        raise InputError(f"alpha={alpha:g}: must lie in [{ALPHA_RANGE[0]:g}, {ALPHA_RANGE[1]:g}]")
    if v is not None and (not np.isfinite(v) or v < 1 or float(v) != int(v)):
        raise InputError(f"vocab={v}: must be a positive integer")


def zipf_normaliser(alpha: float, v: int | None) -> float:
    """Z = sum_{i<=v} i^-alpha (v=None: infinite vocabulary, needs alpha > 1, Z = zeta(alpha))."""
    _check_alpha_v(alpha, v)
    if v is None:
        if alpha <= 1:
            raise InputError(f"alpha={alpha}: an infinite vocabulary needs alpha > 1")
        return float(special.zeta(alpha))
    v = int(v)
    if alpha > 1:  # Hurwitz zeta: exact and fast for any v
        return float(special.zeta(alpha) - special.zeta(alpha, v + 1))
    h = min(v, _HEAD)
    z = float(np.sum(np.arange(1, h + 1, dtype=np.float64) ** -alpha))
    if v > h:  # Euler-Maclaurin tail sum_{a}^{b} x^-alpha
        a, b = h + 1.0, float(v)
        integral = math.log(b / a) if alpha == 1 else (b ** (1 - alpha) - a ** (1 - alpha)) / (1 - alpha)
        z += integral + 0.5 * (a**-alpha + b**-alpha) + (-alpha * b ** (-alpha - 1) + alpha * a ** (-alpha - 1)) / 12
    return z


def zipf_probs(alpha: float, v: int) -> np.ndarray:
    """float64 [v] probabilities p_i = i^-alpha / Z, i = 1..v."""
    _check_alpha_v(alpha, v)
    p = np.arange(1, int(v) + 1, dtype=np.float64) ** -alpha
    return p / p.sum()


def predicted_exponent(alpha: float) -> float:
    """The paper's predicted scaling exponent of EntCE in training-set size: 1/alpha - 1."""
    _check_alpha_v(alpha, None)
    return 1.0 / alpha - 1.0


def singleton_constant(alpha: float) -> float | None:
    """C_alpha = Gamma(1 - 1/alpha) / (alpha zeta(alpha)^(1/alpha)) for alpha > 1 (None for alpha <= 1)."""
    _check_alpha_v(alpha, None)
    if alpha <= 1:
        return None
    return float(special.gamma(1 - 1 / alpha) / (alpha * special.zeta(alpha) ** (1 / alpha)))


def singleton_asymptote(m, alpha: float):
    """v = infinity asymptote C_alpha m^(1/alpha - 1) (None where alpha <= 1: no limit exists)."""
    c = singleton_constant(alpha)
    if c is None:
        return None
    return c * np.asarray(m, dtype=np.float64) ** (1 / alpha - 1)


# ------------------------------------------------------------------------------------------------ E[q] exact
def _check_m(m) -> np.ndarray:
    m = np.atleast_1d(np.asarray(m, dtype=np.float64))
    if not np.all(np.isfinite(m)) or np.any(m < 1):
        raise InputError(f"m={m.tolist() if m.size < 6 else '...'}: training-set sizes must be finite and >= 1")
    return m


def _log_direct(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    """log sum_i p_i (1-p_i)^(m-1), exactly, chunked over types, log-sum-exp over the chunk partial sums."""
    out = np.full(len(m), -np.inf)
    with np.errstate(divide="ignore"):  # p_i = 1 (v = 1) or p_i underflowing to 0: log 0 = -inf is exact here
        lp, l1p = np.log(p), np.log1p(-np.minimum(p, 1 - 1e-300))
    chunk = max(1, 4_000_000 // max(1, len(m)))
    for s in range(0, len(p), chunk):
        # (m-1) * log1p(-p): exact; m = 1 gives 0 * finite = 0 (p < 1 after the clip above).
        t = lp[s : s + chunk, None] + (m[None, :] - 1) * l1p[s : s + chunk, None]
        out = np.logaddexp(out, special.logsumexp(t, axis=0))
    return out


def _log_tail_em(m: float, alpha: float, Z: float, a: float, b: float) -> float:
    """log sum_{i=a}^{b} f(i), f(x) = p(1-p)^(m-1), p = x^-alpha/Z, by Euler-Maclaurin (integral + 2 corrections).

    Everything is scaled by the maximum of log f on [a, b] so that nothing underflows even when m p_v >> 700.
    """

    def logf(x):
        p = x ** (-alpha) / Z
        return np.log(p) + (m - 1) * np.log1p(-p)

    def dlogf(x):  # d log f / dx
        p = x ** (-alpha) / Z
        return (-alpha / x) * (1 - (m - 1) * p / (1 - p))

    x_star = (m / Z) ** (1 / alpha)  # where m p = 1, the summand's maximum
    cands = [a, b] + ([x_star] if a < x_star < b else [])
    c = max(float(logf(x)) for x in cands)
    # Integral in t = log x of f(e^t) e^t; its own maximum is near x_star too, so scale by c + log(x) at peak.
    ta, tb = math.log(a), math.log(b)
    grid = np.linspace(ta, tb, 2049)
    c2 = float(np.max(logf(np.exp(grid)) + grid))
    pts = [math.log(x_star)] if a < x_star < b else None
    integral, _ = integrate.quad(lambda t: math.exp(float(logf(math.exp(t))) + t - c2), ta, tb, points=pts,
                                 limit=400, epsabs=0.0, epsrel=1e-11)
    fa, fb = math.exp(float(logf(a)) - c), math.exp(float(logf(b)) - c)
    corr = 0.5 * (fa + fb) + (fb * float(dlogf(b)) - fa * float(dlogf(a))) / 12.0
    total = integral * math.exp(c2 - c) + corr
    return c + math.log(total) if total > 0 else -np.inf


def log_expected_singleton_mass(m, alpha: float, v: int, *, method: str = "auto") -> np.ndarray:
    """log E[q] for every m (array), exact for a finite vocabulary of size v (see :func:`expected_singleton_mass`)."""
    _check_alpha_v(alpha, v)
    m = _check_m(m)
    v = int(v)
    if method == "auto":
        method = "direct" if v <= _DIRECT_MAX_V else "hybrid"
    if method in ("direct", "hybrid"):
        out = _log_exact(m, alpha, v, method)
        return np.where(m == 1, 0.0, out)  # one token is always a singleton: exactly 1, not 1 - rounding
    if method == "poisson":
        return np.log(singleton_mass_poisson(m, alpha, v))
    raise InputError(f"method={method!r}: use auto, direct, hybrid or poisson")


def _log_exact(m: np.ndarray, alpha: float, v: int, method: str) -> np.ndarray:
    if method == "direct":
        return _log_direct(m, zipf_probs(alpha, v))
    if method == "hybrid":
        h = min(v, _HEAD)
        Z = zipf_normaliser(alpha, v)
        p_head = np.arange(1, h + 1, dtype=np.float64) ** -alpha / Z
        out = _log_direct(m, p_head)
        if v > h:
            tail = np.array([_log_tail_em(float(mi), alpha, Z, h + 1.0, float(v)) for mi in m])
            out = np.logaddexp(out, tail)
        return out
    raise AssertionError(method)


def expected_singleton_mass(m, alpha: float, v: int, *, method: str = "auto"):
    """Expected singleton mass E[K_{m,1}/m] = sum_{i<=v} p_i (1-p_i)^(m-1) of m i.i.d. Zipf(alpha, v) tokens.

    Parameters
    ----------
    m : float or array   training-set sizes (>= 1; up to ~1e12)
    alpha : float        Zipf exponent (> 0)
    v : int              vocabulary size (up to ~1e8)
    method : "auto" | "direct" | "hybrid" | "poisson"
        ``direct`` sums all v terms; ``hybrid`` sums the first 200k exactly and the smooth tail by Euler-Maclaurin
        (relative error < 1e-8); ``auto`` picks direct for v <= 2e6; ``poisson`` is the incomplete-gamma
        approximation (:func:`singleton_mass_poisson`).

    Returns a float for scalar ``m``, else float64 array.

    Example
    -------
    >>> float(expected_singleton_mass(1, 1.2, 10))  # one token is always a singleton
    1.0
    """
    scalar = np.ndim(m) == 0
    out = np.exp(log_expected_singleton_mass(m, alpha, v, method=method))
    return float(out[0]) if scalar else out


def _upper_gamma(s: float, x: np.ndarray) -> np.ndarray:
    """Unnormalised upper incomplete gamma Gamma(s, x) for any real s (x > 0), via recurrence for s <= 0."""
    x = np.asarray(x, dtype=np.float64)
    if s > 0:
        return special.gammaincc(s, x) * special.gamma(s)
    if s == 0:
        return special.exp1(x)
    # Gamma(s, x) = (Gamma(s+1, x) - x^s e^-x) / s, unrolled upward from s + k > 0 (a loop, not recursion:
    # s = 1 - 1/alpha is about -99 at the smallest accepted alpha)
    k = math.floor(-s) + 1
    g = _upper_gamma(s + k, x)
    for j in range(k - 1, -1, -1):
        sj = s + j
        g = special.exp1(x) if sj == 0 else (g - x**sj * np.exp(-x)) / sj
    return g


def singleton_mass_poisson(m, alpha: float, v: int | None):
    """Poisson / incomplete-gamma approximation of E[q] (spec §3.1 [derived]), replacing the sum by an integral:

    (1/alpha) Z^(-1/alpha) m^(1/alpha - 1) [Gamma(s, m p_v) - Gamma(s, m/Z)],  s = 1 - 1/alpha  (v=None: infinite).
    """
    _check_alpha_v(alpha, v)
    scalar = np.ndim(m) == 0
    m = _check_m(m)
    Z = zipf_normaliser(alpha, v)
    s = 1.0 - 1.0 / alpha
    lo = m * (float(v) ** -alpha / Z) if v is not None else np.zeros_like(m)
    hi = m / Z
    if v is None:
        g = special.gamma(s) * special.gammainc(s, hi)
    else:
        g = _upper_gamma(s, lo) - _upper_gamma(s, hi)
    out = (1 / alpha) * Z ** (-1 / alpha) * m ** (1 / alpha - 1) * g
    return float(out[0]) if scalar else out


def finite_v_slope(alpha: float, v: int, *, m_min: float = 1e2, m_max: float | None = None, n: int = 25) -> float:
    """OLS slope of log E[q] on log m over n log-spaced m in [m_min, m_max] (default v/3, the paper's range)."""
    m_max = v / 3 if m_max is None else m_max
    if not m_min < m_max:
        raise InputError(f"m range [{m_min}, {m_max}]: needs m_min < m_max")
    m = np.geomspace(m_min, m_max, n)
    return _loglog_slope(m, np.exp(log_expected_singleton_mass(m, alpha, v)))


@dataclass(frozen=True)
class SingletonResult(Result):
    """What ``scalescope theory singleton`` prints."""

    alpha: float
    m: float
    vocab: int
    expected_singleton_mass: float
    asymptote: float | None
    predicted_exponent: float
    log_expected_singleton_mass: float | None = None  # stays finite when E[q] underflows (m >> v)
    finite_v_slope: float | None = None
    poisson_approximation: float | None = None


def singleton(alpha: float, m: float, vocab: int, *, slope: bool = False) -> SingletonResult:
    """E[q] (exact, finite vocabulary), the v = inf asymptote and the predicted exponent, in one result."""
    logq = float(log_expected_singleton_mass(m, alpha, vocab)[0])
    q = math.exp(logq)
    asym = singleton_asymptote(m, alpha)
    if slope and not vocab / 3 > 1e2:
        raise InputError(f"--vocab {vocab}: the finite-v slope is fitted over m in [100, v/3], empty for v < 301; "
                         "use a larger vocabulary or drop --slope")
    sl = finite_v_slope(alpha, vocab) if slope else None
    return SingletonResult(
        alpha=float(alpha), m=float(m), vocab=int(vocab), expected_singleton_mass=q,
        asymptote=None if asym is None else float(asym), predicted_exponent=predicted_exponent(alpha),
        log_expected_singleton_mass=logq,
        finite_v_slope=sl, poisson_approximation=float(singleton_mass_poisson(m, alpha, vocab)),
    )


# ------------------------------------------------------------------------------------------------ simulator
@dataclass(frozen=True)
class ToySimulation(Result):
    """Monte-Carlo run of the paper's toy generator (see :func:`simulate_toy`).

    Per m (arrays aligned with ``m``): ``singleton_mass`` (mean K_{m,1}/m over count tables), ``exact_singleton_mass``
    (E[q]), ``derail_rate`` (hazard MLE: derails / steps at risk), ``entce`` (mean excess entropy H_t - H_0 over all
    samples and steps, nats/token), ``entropy_curves`` [len(m), steps] (mean H_t - H_0). Exponents are OLS slopes
    on log m.
    """

    alpha: float
    vocab: int
    steps: int
    samples: int
    tables: int
    entropy_jump: float
    m: np.ndarray
    singleton_mass: np.ndarray
    exact_singleton_mass: np.ndarray
    derail_rate: np.ndarray
    entce: np.ndarray
    entropy_curves: np.ndarray
    exponent_derail: float
    exponent_entce: float
    exponent_exact: float
    predicted_exponent: float
    seed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({
            "m": self.m, "singleton_mass": self.singleton_mass, "exact_singleton_mass": self.exact_singleton_mass,
            "derail_rate": self.derail_rate, "entce": self.entce,
        })


def simulate_toy(
    alpha: float,
    vocab: int,
    m_values: Sequence[float],
    *,
    steps: int = 50,
    samples: int = 2000,
    tables: int = 4,
    entropy_jump: float = 1.0,
    seed: int = 0,
) -> ToySimulation:
    """Simulate the paper's toy generator (§3, App. B.4) and fit the exponent of EntCE in m.

    For each m: draw ``tables`` count tables of m i.i.d. Zipf(alpha, vocab) tokens; from each, generate ``samples``
    sequences of ``steps`` tokens by sampling a training token (the empirical unigram distribution). A sequence is
    derailed from the step after it first emits a token seen exactly once; derailed steps have entropy H_0 + C_H
    (``entropy_jump``). The undereailed generator is calibrated by assumption (its log loss equals H_0), so
    EntCE = mean over steps of C_H * P(derailed before t) = C_H (1 - (1-q)^t) averaged, ~ C_H q (steps-1)/2 when
    q * steps << 1. Exponents are OLS slopes of log(derail rate), log(EntCE) and log E[q] on log m.

    Example
    -------
    >>> r = simulate_toy(1.5, 10_000, [100, 1000], steps=20, samples=200, tables=2)
    >>> r.derail_rate.shape
    (2,)
    """
    _check_alpha_v(alpha, vocab)
    m_arr = np.asarray(sorted(float(x) for x in m_values), dtype=np.float64)
    _check_m(m_arr)
    if len(m_arr) < 1:
        raise InputError("m values: give at least one training-set size")
    for name, val in (("steps", steps), ("samples", samples), ("tables", tables)):
        if int(val) < 1:
            raise InputError(f"{name}={val}: must be >= 1")
    rng = np.random.default_rng(seed)
    p = zipf_probs(alpha, vocab)
    qs, rates, entces, curves = [], [], [], []
    t_idx = np.arange(steps)
    for m in m_arr:
        q_tab, derails, exposure = [], 0, 0
        curve = np.zeros(steps)
        for _ in range(tables):
            counts = rng.multinomial(int(m), p)
            q_tab.append(np.count_nonzero(counts == 1) / m)
            cum = np.cumsum(counts)
            draws = rng.integers(0, int(m), size=(samples, steps))
            tok = np.searchsorted(cum, draws, side="right")  # a uniformly chosen training token's type
            single = counts[tok] == 1
            first = np.where(single.any(axis=1), single.argmax(axis=1), steps)  # step of the first singleton
            derails += int(np.count_nonzero(first < steps))
            exposure += int(np.minimum(first + 1, steps).sum())
            # derailed at step t iff the first singleton was emitted at a step < t
            curve += (first[:, None] < t_idx[None, :]).mean(axis=0) * entropy_jump
        curve /= tables
        qs.append(np.mean(q_tab))
        rates.append(derails / exposure)
        entces.append(curve.mean())
        curves.append(curve)
    exact = expected_singleton_mass(m_arr, alpha, vocab)

    def slope(y):
        y = np.asarray(y, dtype=np.float64)
        ok = y > 0
        return _loglog_slope(m_arr[ok], y[ok]) if ok.sum() >= 2 else float("nan")

    notes = []
    if np.any(np.asarray(rates) * steps > 0.3):
        notes.append("q*steps > 0.3 at small m: EntCE saturates (1-(1-q)^t is not linear), so its exponent is "
                     "flatter than the derail-rate exponent; use fewer steps or larger m")
    return ToySimulation(
        alpha=float(alpha), vocab=int(vocab), steps=int(steps), samples=int(samples), tables=int(tables),
        entropy_jump=float(entropy_jump), m=m_arr, singleton_mass=np.asarray(qs), exact_singleton_mass=exact,
        derail_rate=np.asarray(rates), entce=np.asarray(entces), entropy_curves=np.asarray(curves),
        exponent_derail=slope(rates), exponent_entce=slope(entces), exponent_exact=slope(exact),
        predicted_exponent=predicted_exponent(alpha), seed=int(seed), notes=tuple(notes),
    )


def _loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Exponent b of ``y = a x^b`` by log-log OLS (:class:`scalescope.fit.PowerLaw`)."""
    from scalescope.fit import PowerLaw

    return float(PowerLaw().fit(x, y).b_)


# ------------------------------------------------------------------------------------------------ Zipf fits
@dataclass(frozen=True)
class ZipfFit(Result):
    """Zipf exponent alpha of a rank-frequency table (p_r ∝ r^-alpha over ranks 1..top_k).

    ``method`` is "ols" (slope of log frequency on log rank, the paper's recipe, §4.1) or "mle" (truncated-Zipf
    maximum likelihood over the top-k ranks). ``ci_low``/``ci_high``: bootstrap (multinomial resampling of the
    corpus counts, ranks re-estimated each time; quantiles of the bootstrap deviations from their mean, added to
    the estimate) at level ``ci_level``; ``se``: the analytic standard error
    (OLS residual SE, or the inverse Fisher information for the MLE), which ignores rank-estimation noise and is
    too small. Both estimators are biased by estimating ranks from the same counts (Pilgrim & Hills 2021).
    """

    alpha: float
    method: str
    top_k: int
    n_types: int
    n_tokens: int
    se: float
    ci_low: float
    ci_high: float
    ci_level: float
    n_boot: int
    intercept: float | None = None
    r2: float | None = None

    @property
    def params(self) -> pd.Series:
        return pd.Series({"alpha": self.alpha})

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """The interval at ``ci_level`` as a DataFrame (row ``alpha``, columns ``lower``/``upper``)."""
        if alpha is not None and not math.isclose(1 - alpha, self.ci_level):
            raise InputError(f"alpha={alpha}: this fit's interval is at level {self.ci_level}; refit with "
                             f"ci_level={1 - alpha}")
        return pd.DataFrame({"lower": [self.ci_low], "upper": [self.ci_high]}, index=["alpha"])

    @property
    def predicted_exponent(self) -> float:
        return predicted_exponent(self.alpha)


def rank_frequency(counts) -> np.ndarray:
    """Type counts sorted descending (zeros dropped): entry r-1 is the frequency of rank r."""
    c = np.asarray(counts, dtype=np.int64).reshape(-1)
    c = np.sort(c[c > 0])[::-1]
    return c


def _ols_alpha(freq: np.ndarray) -> tuple[float, float, float, float]:
    """(alpha, classical SE, intercept, R^2) of log frequency on log rank: a power law, ``scalescope.fit.PowerLaw``."""
    from scalescope.fit import PowerLaw

    r = PowerLaw().fit(np.arange(1, len(freq) + 1, dtype=np.float64), freq.astype(np.float64)).result_
    se = float(r.bse["b"]) if len(freq) > 2 else float("nan")
    return float(-r.params["b"]), se, float(r.extra["log_a"]), float(r.r2)


def _mle_alpha(freq: np.ndarray) -> tuple[float, float]:
    logr = np.log(np.arange(1, len(freq) + 1, dtype=np.float64))
    n = freq.astype(np.float64)
    N = n.sum()
    target = float(n @ logr) / N

    def mean_logr(a):
        w = np.exp(-a * logr - special.logsumexp(-a * logr))
        return float(w @ logr), float(w @ logr**2) - float(w @ logr) ** 2

    # Score equation E_alpha[log r] = mean observed log r; E_alpha[log r] decreases in alpha (concave likelihood).
    lo, hi = -5.0, 20.0
    if not (mean_logr(hi)[0] < target < mean_logr(lo)[0]):
        a = lo if target >= mean_logr(lo)[0] else hi
    else:
        # a root solve of the MLE's score equation (not a curve fit), the one scipy.optimize use left here
        a = optimize.brentq(lambda a: mean_logr(a)[0] - target, lo, hi, xtol=1e-12)
    var = mean_logr(a)[1]
    return float(a), (1 / math.sqrt(N * var) if var > 0 else float("nan"))


def fit_zipf(counts, *, top_k: int = 5000, method: str = "ols", n_boot: int = 200, ci_level: float = 0.95,
             seed: int = 0) -> ZipfFit:
    """Fit the Zipf exponent alpha to type counts (any order) over the top ``top_k`` ranks.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> c = rng.multinomial(500_000, zipf_probs(1.2, 20_000))
    >>> abs(fit_zipf(c, top_k=500, method="mle", n_boot=0).alpha - 1.2) < 0.05
    True
    """
    if method not in ("ols", "mle"):
        raise InputError(f"method={method!r}: use ols or mle")
    if int(top_k) < 3:
        raise InputError(f"top_k={top_k}: must be >= 3")
    freq_all = rank_frequency(counts)
    if len(freq_all) < 3:
        raise InputError(f"counts: need at least 3 distinct types, got {len(freq_all)}")
    k = min(int(top_k), len(freq_all))
    est = (lambda f: _ols_alpha(f)[0]) if method == "ols" else (lambda f: _mle_alpha(f)[0])
    if method == "ols":
        alpha, se, intercept, r2 = _ols_alpha(freq_all[:k])
    else:
        alpha, se = _mle_alpha(freq_all[:k])
        intercept = r2 = None
    from scalescope.fit import multinomial_replicates

    boots = []
    for rep in multinomial_replicates(freq_all, int(n_boot), seed):
        f = rank_frequency(rep)
        boots.append(est(f[: min(k, len(f))]))
    q = (1 - ci_level) / 2
    if boots:
        # Re-ranking resampled counts shifts the bootstrap distribution (rank noise in the tail), so centre its
        # spread on the estimate: the CI is sampling variability only, not the estimator's bias.
        b = np.asarray(boots)
        lo, hi = alpha + np.quantile(b - b.mean(), [q, 1 - q])
    else:
        z = special.ndtri(1 - q)
        lo, hi = alpha - z * se, alpha + z * se
    return ZipfFit(alpha=alpha, method=method, top_k=k, n_types=len(freq_all), n_tokens=int(freq_all.sum()),
                   se=se, ci_low=float(lo), ci_high=float(hi), ci_level=ci_level, n_boot=int(n_boot) if boots else 0,
                   intercept=intercept, r2=r2)


DROP_WORD_TOKENS = ("<unk>", "\n")


def token_counts(texts: Iterable[str], tokenizer: str = "word", *, drop: Sequence[str] = DROP_WORD_TOKENS) -> Counter:
    """Counter of tokens over ``texts`` (tokenizer ``word``, ``char`` or ``hf:<path>``, the latter counting ids).

    For ``word``, the tokens in ``drop`` are removed: WikiText's ``<unk>`` merges all rare words into one very
    frequent pseudo-word (it would distort the rank-frequency curve), and newline tokens are not words.
    """
    from scalescope.calibration.tokenizers import _WORD_RE, make_tokenizer

    c: Counter = Counter()
    if tokenizer == "word":
        for t in texts:
            c.update(_WORD_RE.findall(t))
        for d in drop:
            c.pop(d, None)
    elif tokenizer == "char":
        for t in texts:
            c.update(t)
    else:
        tok = make_tokenizer(tokenizer)
        for t in texts:
            c.update(tok.encode(t))
    return c
