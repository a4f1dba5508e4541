"""Per-run entropy calibration: EntCE, per-step curves, windows and accumulation, derailment (Cao, Valiant & Liang 2025;
research/entropy_calibration.md §1.4, §1.5, §4, §5.3).

:func:`analyze_run` turns a run's records into a :class:`RunCalibration`: pooled H̄, L̄ and ``EntCE = H̄ − L̄``
(nats/token), per-step curves, the OLS slope of EntCE_t on t (nats per 1000 steps), early vs late EntCE over stated
windows, the fraction of samples that derail, human-token coverage for truncating samplers, and bootstrap CIs over
prompts (over source documents when prompts share one). The bootstrap is replicate weights from
:func:`scalescope.fit.replicate_weights` applied to per-prompt totals: one seed gives paired replicates across runs
scored on the same prompts. Part of :mod:`scalescope.calibration.analysis`, which re-exports every public name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalescope.calibration.runs import (
    REQUIRED_COLUMNS,
    SMOOTH_LAMBDAS,
    AnalysisConfig,
    RunData,
    RunInfo,
    _get,
    read_run,
    smooth_column,
)
from scalescope.errors import InputError
from scalescope.fit.bootstrap import percentile_interval, replicate_weights
from scalescope.results import Result


# ---------------------------------------------------------------------------------------------------------------
# per-sample matrices and the bootstrap
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Matrices:
    """Per-sample, per-step sums (0 where absent) and counts; rows = sorted sample ids."""

    sample_ids: np.ndarray
    h: np.ndarray  # entropy where alive
    hc: np.ndarray  # 1 where alive
    h_full: np.ndarray | None
    loss: np.ndarray  # −human_logprob (the headline convention) where present and finite
    lc: np.ndarray
    loss_exact_infinite: bool
    smooth: dict[float, tuple[np.ndarray, np.ndarray]]
    kept: tuple[np.ndarray, np.ndarray] | None  # human_in_kept sums and counts


def _validate_records(df: pd.DataFrame, where: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{where}: expected a DataFrame of shard records")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"{where}: shard column(s) {', '.join(missing)} missing (found: {', '.join(map(str, df.columns))})"
        )
    if len(df) == 0:
        raise InputError(f"{where}: no records")
    if (df["step"] < 0).any():
        raise InputError(f"{where}: negative step values")
    if df.duplicated(["sample_id", "step"]).any():
        raise InputError(f"{where}: duplicate (sample_id, step) rows")
    return df


def _matrices(df: pd.DataFrame, cfg: AnalysisConfig, n_steps: int | None, where: str) -> tuple[_Matrices, str]:
    sids, si = np.unique(df["sample_id"].to_numpy(np.int64), return_inverse=True)
    t = df["step"].to_numpy(np.int64)
    T = int(max(t.max() + 1, n_steps or 0))
    n = len(sids)
    alive = df["alive"].to_numpy(bool) if "alive" in df.columns else np.ones(len(df), bool)

    def scatter(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.zeros((n, T))
        c = np.zeros((n, T))
        s[si[mask], t[mask]] = values[mask]
        c[si[mask], t[mask]] = 1.0
        return s, c

    ent_col = "entropy_sampled" if cfg.entropy == "sampled" else "entropy_full"
    if ent_col not in df.columns:
        raise InputError(f"{where}: shard column {ent_col} missing")
    h_vals = df[ent_col].to_numpy(np.float64)
    h_mask = alive & np.isfinite(h_vals)
    h, hc = scatter(h_vals, h_mask)
    h_full = None
    if "entropy_full" in df.columns and ent_col != "entropy_full":
        hf = df["entropy_full"].to_numpy(np.float64)
        h_full, _ = scatter(hf, h_mask & np.isfinite(hf))

    lp = df["human_logprob"].to_numpy(np.float64)
    present = ~np.isnan(lp)
    exact_inf = bool(np.isinf(lp[present]).any())
    smooth = {}
    for lam in SMOOTH_LAMBDAS:
        col = smooth_column(lam)
        if col in df.columns:
            v = -df[col].to_numpy(np.float64)
            smooth[lam] = scatter(v, np.isfinite(v))
    if exact_inf:
        # Truncation put zero mass on some human tokens: the exact log loss is +inf. The headline switches to the
        # declared smoothing convention (spec §4 option 1) rather than silently dropping those tokens.
        if cfg.smooth_lambda not in smooth:
            raise InputError(
                f"{where}: log loss is infinite (truncating sampler) and column {smooth_column(cfg.smooth_lambda)} "
                "is missing"
            )
        loss, lc = smooth[cfg.smooth_lambda]
        convention = f"smoothed: log((1-λ)q + λp̂), λ={cfg.smooth_lambda:g} (exact log loss is infinite)"
    else:
        loss, lc = scatter(-lp, present)
        convention = "exact"
    kept = None
    if "human_in_kept" in df.columns:
        k = df["human_in_kept"].to_numpy(np.float64)
        kept = scatter(k, ~np.isnan(k))
    return (
        _Matrices(sids, h, hc, h_full, loss, lc, exact_inf, smooth, kept),
        convention,
    )


def prompt_groups(manifest: dict, sample_ids: np.ndarray) -> np.ndarray | None:
    """Source document of each sample (``manifest["passage_documents"]``, written by the engine) when some prompts
    share a document, else None (then prompts are the bootstrap unit)."""
    docs = manifest.get("passage_documents") if isinstance(manifest, dict) else None
    if not isinstance(docs, list) or not docs:
        return None
    ids = np.asarray(sample_ids, dtype=np.int64)
    if ids.min() < 0 or ids.max() >= len(docs):
        return None
    g = np.asarray(docs, dtype=np.int64)[ids]
    return g if len(np.unique(g)) < len(g) else None


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _pct(x: np.ndarray, ci: float) -> tuple[float, float]:
    return percentile_interval(x, ci)


def _ols_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise OLS slope of y [..., T] on x [T] ignoring NaNs in y."""
    m = np.isfinite(y)
    cnt = m.sum(-1)
    xb = np.where(m, x, 0.0).sum(-1) / np.maximum(cnt, 1)
    yz = np.where(m, y, 0.0)
    yb = yz.sum(-1) / np.maximum(cnt, 1)
    dx = np.where(m, x - xb[..., None], 0.0)
    sxx = (dx**2).sum(-1)
    sxy = (dx * (yz - yb[..., None])).sum(-1)
    return np.where((cnt >= 2) & (sxx > 0), sxy / np.where(sxx > 0, sxx, 1.0), np.nan)


def wilson_interval(k: int, n: int, ci: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n (NaNs when n = 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + ci / 2))
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, c - h), min(1.0, c + h))


# ---------------------------------------------------------------------------------------------------------------
# derailment
# ---------------------------------------------------------------------------------------------------------------
def derail_flags(
    h_early: np.ndarray,
    h_late: np.ndarray,
    human_threshold: float,
    *,
    ratio: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Which samples derail (v0 Fig. 2 made a number; beyond the paper).

    A sample *derails* iff its mean entropy over the late window exceeds ``ratio`` x its own mean entropy over the
    early window (it drifted), OR exceeds ``human_threshold`` (it reached a regime human text does not; the
    analysis uses μ + k·σ of the human log loss over the late window, μ = pooled mean and σ = per-token standard
    deviation, so the threshold does not shrink with the window length). Samples with no alive tokens in either
    window (ended by EOS) are not *eligible* and count neither way.

    Returns (derailed bool [n], eligible bool [n]).

    Examples
    --------
    >>> d, e = derail_flags(np.array([1.0, 1.0, 1.0]), np.array([1.2, 3.0, 1.9]), 1.8)
    >>> d.tolist(), e.tolist()
    ([False, True, True], [True, True, True])
    """
    eligible = np.isfinite(h_early) & np.isfinite(h_late)
    with np.errstate(invalid="ignore"):
        derailed = eligible & ((h_late > ratio * h_early) | (h_late > human_threshold))
    return derailed, eligible


# ---------------------------------------------------------------------------------------------------------------
# per-run result
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunCalibration(Result):
    """Entropy calibration of one run (spec §1.4–1.5, §4). All entropy/log-loss numbers are in ``units``/token.

    ``entce = entropy − log_loss`` (positive = too random). CIs are bootstrap percentile intervals over prompts.
    ``curves`` has one row per step: ``step, entropy, entropy_se, log_loss, log_loss_se, entce, survivors,
    n_human`` (``entropy_se`` = sd/sqrt(survivors) over the samples alive at that step).
    """

    label: str
    model: str
    sampler: str
    temperature: float
    size: float | None
    size_axis: str | None
    family: str
    corpus: str
    complete: bool
    units: str
    n_samples: int
    n_steps: int
    n_tokens: int
    n_human_tokens: int
    entropy: float
    entropy_ci: tuple[float, float]
    entropy_full: float | None
    log_loss: float
    log_loss_ci: tuple[float, float]
    log_loss_convention: str
    entce: float
    entce_ci: tuple[float, float]
    slope_per_1000: float
    slope_per_1000_ci: tuple[float, float]
    early_window: tuple[int, int]
    late_window: tuple[int, int]
    entce_early: float
    entce_early_ci: tuple[float, float]
    entce_late: float
    entce_late_ci: tuple[float, float]
    entce_growth: float
    entce_growth_ci: tuple[float, float]
    derail_fraction: float
    derail_fraction_ci: tuple[float, float]
    n_derailed: int
    n_derail_eligible: int
    derail_rule: str
    collapse_fraction: float
    n_collapsed: int
    coverage: float | None
    log_loss_smooth: dict[str, float]
    entce_smooth: dict[str, float]
    ci_level: float
    n_boot: int
    curves: pd.DataFrame = field(repr=False)
    traces: pd.DataFrame = field(repr=False)
    _boot_entce: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    _boot_log_loss: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    bootstrap_unit: str = "prompts"

    @property
    def boot_entce(self) -> np.ndarray:
        """Bootstrap replicates of ``entce`` (replicate b resamples the same prompt positions in every run)."""
        return self._boot_entce

    @property
    def boot_log_loss(self) -> np.ndarray:
        return self._boot_log_loss

    def conf_int(self) -> pd.DataFrame:
        """CIs of the headline quantities as a DataFrame (columns lower, upper)."""
        rows = {
            "entropy": self.entropy_ci,
            "log_loss": self.log_loss_ci,
            "entce": self.entce_ci,
            "slope_per_1000": self.slope_per_1000_ci,
            "entce_early": self.entce_early_ci,
            "entce_late": self.entce_late_ci,
            "entce_growth": self.entce_growth_ci,
            "derail_fraction": self.derail_fraction_ci,
        }
        return pd.DataFrame(rows, index=["lower", "upper"]).T

    @property
    def params(self) -> pd.Series:
        return pd.Series(
            {
                "entropy": self.entropy,
                "log_loss": self.log_loss,
                "entce": self.entce,
                "slope_per_1000": self.slope_per_1000,
                "entce_early": self.entce_early,
                "entce_late": self.entce_late,
                "entce_growth": self.entce_growth,
                "derail_fraction": self.derail_fraction,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.pop("curves", None)
        d.pop("traces", None)
        return d

    def summary(self) -> str:
        u = self.units
        lo, hi = self.entce_ci
        s0, s1 = self.slope_per_1000_ci
        lines = [
            f"Entropy calibration of {self.label} ({self.sampler or 'pure sampling'}; {self.n_samples} prompts x "
            f"{self.n_steps} steps{'' if self.complete else '; INCOMPLETE run'})",
            f"  entropy   {self.entropy:.4f} {u}/token   CI [{self.entropy_ci[0]:.4f}, {self.entropy_ci[1]:.4f}]",
            f"  log loss  {self.log_loss:.4f} {u}/token   CI [{self.log_loss_ci[0]:.4f}, {self.log_loss_ci[1]:.4f}]"
            f"   ({self.log_loss_convention})",
            f"  EntCE     {self.entce:+.4f} {u}/token   CI [{lo:+.4f}, {hi:+.4f}]",
            f"  slope of EntCE_t  {self.slope_per_1000:+.4f} {u} per 1000 steps   CI [{s0:+.4f}, {s1:+.4f}]",
            f"  EntCE early (steps {self.early_window[0]}-{self.early_window[1] - 1}) {self.entce_early:+.4f}   CI "
            f"[{self.entce_early_ci[0]:+.4f}, {self.entce_early_ci[1]:+.4f}]",
            f"  EntCE late  (steps {self.late_window[0]}-{self.late_window[1] - 1}) {self.entce_late:+.4f}   CI "
            f"[{self.entce_late_ci[0]:+.4f}, {self.entce_late_ci[1]:+.4f}]",
            f"  growth late - early {self.entce_growth:+.4f}   paired CI [{self.entce_growth_ci[0]:+.4f}, "
            f"{self.entce_growth_ci[1]:+.4f}]",
            f"  derailed  {self.n_derailed}/{self.n_derail_eligible} = {self.derail_fraction:.3f}   collapsed "
            f"(late entropy < early / ratio) {self.n_collapsed}/{self.n_derail_eligible}",
        ]
        if self.coverage is not None:
            lines.append(f"  human-token coverage {self.coverage:.4f}")
        if self.n_boot:
            lines.append(f"  CIs: {self.ci_level:.0%} percentile bootstrap over {self.bootstrap_unit}")
        return "\n".join(lines)


def _windows(T: int, cfg: AnalysisConfig, where: str = "run") -> tuple[tuple[int, int], tuple[int, int]]:
    for flag, v in (("--early", cfg.early_steps), ("--late", cfg.late_steps)):
        if v is not None and int(v) > T:
            raise InputError(f"{where}: {flag} {int(v)} is longer than the run's {T} steps")
    e = int(cfg.early_steps) if cfg.early_steps is not None else max(1, int(round(0.1 * T)))
    late = int(cfg.late_steps) if cfg.late_steps is not None else max(1, int(round(0.5 * T)))
    return (0, min(e, T)), (max(0, T - late), T)


def analyze_run(
    run: str | Path | RunData | pd.DataFrame,
    config: AnalysisConfig | None = None,
    *,
    manifest: dict | None = None,
    label: str | None = None,
    max_traces: int = 24,
) -> RunCalibration:
    """Entropy calibration of one run: curves, EntCE with CI, accumulation metrics (spec §1.4–1.5, §4).

    Parameters
    ----------
    run : path to a run directory, a :class:`RunData`, or a DataFrame with the shard columns
        (at least ``sample_id, step, entropy_sampled, human_logprob``; ``alive`` defaults to True).
    config : AnalysisConfig
    manifest : dict, optional
        Used with a DataFrame input (size axis, sampler, label).
    label : str, optional
        Name of the run in tables and figures (default: the directory name or the model spec).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sample_id": [0, 0, 1, 1], "step": [0, 1, 0, 1],
    ...                    "entropy_sampled": [2.0, 2.0, 2.0, 2.0], "human_logprob": [-1.5] * 4})
    >>> r = analyze_run(df, AnalysisConfig(n_boot=50))
    >>> round(r.entce, 3)
    0.5
    """
    cfg = config or AnalysisConfig()
    if isinstance(run, pd.DataFrame):
        data = RunData(path=None, manifest=dict(manifest or {}), records=run)
    elif isinstance(run, RunData):
        data = run
    else:
        data = read_run(run)
    where = str(data.path) if data.path is not None else (label or "records")
    df = _validate_records(data.records, where)
    info = RunInfo.from_manifest(data.manifest, label=label or (data.path.name if data.path is not None else None),
                                 where=where)
    n_steps_manifest = _get(data.manifest, "steps")
    if n_steps_manifest is not None and (isinstance(n_steps_manifest, bool) or not isinstance(n_steps_manifest, int)
                                         or n_steps_manifest < 0):
        raise InputError(f"{where}: manifest 'steps' must be a non-negative integer, got {n_steps_manifest!r}")
    m, convention = _matrices(df, cfg, int(n_steps_manifest) if n_steps_manifest else None, where)
    n, T = m.h.shape
    sc = cfg.scale
    steps = np.arange(T, dtype=float)
    early, late = _windows(T, cfg, where)

    # --- per-step curves (spec §1.4 step 3) ---------------------------------------------------------------
    surv = m.hc.sum(0)
    nh = m.lc.sum(0)
    H_t = _ratio(m.h.sum(0), surv)
    L_t = _ratio(m.loss.sum(0), nh)

    def se(s, c, mean):
        # sd (ddof=1) over the samples present at t, divided by sqrt(count)
        dev = np.where(c > 0, (s - mean[None, :]) ** 2, 0.0).sum(0)
        cnt = c.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 1, np.sqrt(dev / np.maximum(cnt - 1, 1)) / np.sqrt(np.maximum(cnt, 1)), np.nan)

    curves = pd.DataFrame(
        {
            "step": np.arange(T),
            "entropy": H_t * sc,
            "entropy_se": se(m.h, m.hc, np.nan_to_num(H_t)) * sc,
            "log_loss": L_t * sc,
            "log_loss_se": se(m.loss, m.lc, np.nan_to_num(L_t)) * sc,
            "entce": (H_t - L_t) * sc,
            "survivors": surv.astype(np.int64),
            "n_human": nh.astype(np.int64),
        }
    )

    # --- per-prompt totals; point estimates = all-ones weights --------------------------------------------
    def win(a, w):
        return a[:, w[0] : w[1]].sum(1)

    tot = {
        "h": m.h.sum(1),
        "hc": m.hc.sum(1),
        "l": m.loss.sum(1),
        "lc": m.lc.sum(1),
        "he": win(m.h, early),
        "hce": win(m.hc, early),
        "le": win(m.loss, early),
        "lce": win(m.lc, early),
        "hl": win(m.h, late),
        "hcl": win(m.hc, late),
        "ll": win(m.loss, late),
        "lcl": win(m.lc, late),
    }
    n_boot = int(cfg.n_boot)
    groups = prompt_groups(data.manifest, m.sample_ids)
    W = replicate_weights(n, n_boot, cfg.seed, groups)
    unit = "prompts" if groups is None else f"source documents ({len(np.unique(groups))} for {n} prompts)"

    def pooled(num: str, den: str) -> np.ndarray:
        return _ratio(W @ tot[num], W @ tot[den])

    Hb, Lb = pooled("h", "hc"), pooled("l", "lc")
    Eb = Hb - Lb
    Eeb = pooled("he", "hce") - pooled("le", "lce")
    Elb = pooled("hl", "hcl") - pooled("ll", "lcl")
    # slope: per-replicate per-step curves [B+1, T] (the cost is one [B, n] x [n, T] product per side)
    Ht_b = _ratio(W @ m.h, W @ m.hc)
    Lt_b = _ratio(W @ m.loss, W @ m.lc)
    slope_b = _ols_slope(steps, Ht_b - Lt_b) * 1000.0

    def est(x: np.ndarray) -> tuple[float, tuple[float, float]]:
        point = float(x[0]) * sc
        ci = _pct(x[1:] * sc, cfg.ci) if n_boot > 0 else (math.nan, math.nan)
        return point, ci

    H, H_ci = est(Hb)
    L, L_ci = est(Lb)
    E, E_ci = est(Eb)
    Ee, Ee_ci = est(Eeb)
    El, El_ci = est(Elb)
    # growth = late - early on the SAME bootstrap replicates: a paired test of accumulation, far tighter than
    # comparing the two windows' separate CIs (prompt difficulty cancels)
    G, G_ci = est(Elb - Eeb)
    S, S_ci = est(slope_b)

    # --- derailment ----------------------------------------------------------------------------------------
    he = _ratio(tot["he"], tot["hce"])
    hl = _ratio(tot["hl"], tot["hcl"])
    lm = m.lc[:, late[0] : late[1]] > 0
    lv = m.loss[:, late[0] : late[1]][lm]
    thr = float(lv.mean() + cfg.derail_k * lv.std(ddof=1)) if lv.size >= 2 else math.inf
    derailed, eligible = derail_flags(he, hl, thr, ratio=cfg.derail_ratio)
    k_d, n_e = int(derailed.sum()), int(eligible.sum())
    # The mirror image (v0: too-low entropy = repetition): late mean entropy < early mean / ratio.
    with np.errstate(invalid="ignore"):
        k_c = int((eligible & (hl < he / cfg.derail_ratio)).sum())
    rule = (
        f"a sample's mean entropy over steps [{late[0]}, {late[1]}) > {cfg.derail_ratio:g} x its mean over steps "
        f"[{early[0]}, {early[1]}), or > mean + {cfg.derail_k:g} x per-token sd of the human log loss over the "
        f"late window (= {thr * sc:.4g} {cfg.units}); samples without alive tokens in both windows are not counted"
    )

    # --- smoothed log loss and coverage (spec §4) ----------------------------------------------------------
    smooth_ll: dict[str, float] = {}
    smooth_e: dict[str, float] = {}
    for lam, (s, c) in m.smooth.items():
        v = float(_ratio(np.array([s.sum()]), np.array([c.sum()]))[0])
        smooth_ll[f"{lam:g}"] = v * sc
        smooth_e[f"{lam:g}"] = (float(Hb[0]) - v) * sc
    coverage = float(m.kept[0].sum() / m.kept[1].sum()) if m.kept is not None and m.kept[1].sum() > 0 else None
    h_full = float(m.h_full.sum() / m.hc.sum()) * sc if m.h_full is not None and m.hc.sum() > 0 else None

    # --- a few per-sample traces for the v0 Fig. 2 style plot ---------------------------------------------
    pick = np.arange(min(n, max_traces))
    rows = []
    for i in pick:
        alive_t = np.nonzero(m.hc[i] > 0)[0]
        rows.append(
            pd.DataFrame(
                {
                    "sample_id": np.int64(m.sample_ids[i]),
                    "step": alive_t,
                    "entropy": m.h[i, alive_t] * sc,
                    "derailed": bool(derailed[i]),
                }
            )
        )
    traces = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["sample_id", "step", "entropy", "derailed"]
    )

    return RunCalibration(
        label=info.label,
        model=info.model,
        sampler=info.sampler,
        temperature=info.temperature,
        size=info.size,
        size_axis=info.size_axis,
        family=info.family,
        corpus=info.corpus,
        complete=info.complete,
        units=cfg.units,
        n_samples=int(n),
        n_steps=int(T),
        n_tokens=int(m.hc.sum()),
        n_human_tokens=int(m.lc.sum()),
        entropy=H,
        entropy_ci=H_ci,
        entropy_full=h_full,
        log_loss=L,
        log_loss_ci=L_ci,
        log_loss_convention=convention,
        entce=E,
        entce_ci=E_ci,
        slope_per_1000=S,
        slope_per_1000_ci=S_ci,
        early_window=early,
        late_window=late,
        entce_early=Ee,
        entce_early_ci=Ee_ci,
        entce_late=El,
        entce_late_ci=El_ci,
        entce_growth=G,
        entce_growth_ci=G_ci,
        derail_fraction=k_d / n_e if n_e else math.nan,
        derail_fraction_ci=wilson_interval(k_d, n_e, cfg.ci),
        n_derailed=k_d,
        n_derail_eligible=n_e,
        derail_rule=rule,
        collapse_fraction=k_c / n_e if n_e else math.nan,
        n_collapsed=k_c,
        coverage=coverage,
        log_loss_smooth=smooth_ll,
        entce_smooth=smooth_e,
        ci_level=cfg.ci,
        n_boot=n_boot,
        curves=curves,
        traces=traces,
        _boot_entce=Eb[1:] * sc,
        _boot_log_loss=Lb[1:] * sc,
        bootstrap_unit=unit,
    )
