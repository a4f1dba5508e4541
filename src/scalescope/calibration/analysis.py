"""Entropy-calibration analysis of calibration runs: EntCE, per-step curves, accumulation, exponents, trade-offs.

Implements the estimators of Cao, Valiant & Liang, *On the Entropy Calibration of Language Models* (NeurIPS 2025)
as specified in ``research/entropy_calibration.md``:

* §1.4 (the paper's empirical estimator): per-step curves H̄_t (entropy of the model's own generations, averaged
  over the samples still alive at step t) and L̄_t (log loss on the human continuation), with standard errors
  sd/sqrt(count); pooled scalars H̄, L̄ over all tokens and ``EntCE_hat = H̄ − L̄`` (nats/token; positive = the
  model is too random).
* §1.5 / §5.3 (beyond the paper): accumulation metrics -- OLS slope of EntCE_t on t (nats per 1000 steps), early vs
  late EntCE over stated windows, the fraction of samples that derail -- and bootstrap CIs over prompts (over source
  documents when prompts share one).
* §1.6: the scaling exponent, OLS of ln EntCE on ln size (parameters for HF models, training tokens for n-gram
  families), with a bootstrap CI (the paper has none) and a guard for EntCE <= 0 (the paper's code has none).
* §4: the temperature trade-off path (log loss vs EntCE) and the temperature where EntCE = 0; for truncating
  samplers the declared smoothed-log-loss convention (mixture (1−λ)q + λp̂, λ ∈ {1e-2, 1e-3, 1e-4}) and human-token
  coverage.

Input is the shard schema of a run directory (``manifest.json`` + ``shards/*.parquet``, one row per (sample, step);
see DESIGN.md "Run directories"), or the same columns in a DataFrame. All logs are natural (nats); ``units="bits"``
divides every entropy/log-loss quantity by ln 2 (the exponent is unit-free).

Bootstrap. The unit is the prompt (``sample_id``): one generation and its human continuation share a prompt, so
both sides are resampled jointly. Replicate weights come from ``numpy.random.default_rng(seed)`` over the sorted
sample ids, so runs evaluated on the same prompts (an n-gram family scored on one held-out split) get *paired*
replicates -- replicate b of every run resamples the same prompts -- which is what the exponent's refit wants.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalescope.data.validate import load_json
from scalescope.errors import InputError
from scalescope.fit.bootstrap import (  # re-exported: the replicate weights live in the fitting core
    bootstrap_weights,
    cluster_bootstrap_weights,
    percentile_interval,
    replicate_weights,
)
from scalescope.results import Result

LN2 = math.log(2.0)
SMOOTH_LAMBDAS = (1e-2, 1e-3, 1e-4)
REQUIRED_COLUMNS = ("sample_id", "step", "entropy_sampled", "human_logprob")


def smooth_column(lam: float) -> str:
    """Shard column holding log((1−λ)q + λp̂) at the human token (spec §4 option 1), e.g. ``human_logprob_smooth_1e-3``."""
    return f"human_logprob_smooth_{lam:.0e}".replace("e-0", "e-")


# ---------------------------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisConfig:
    """How a run is summarised.

    Parameters
    ----------
    early_steps, late_steps : int or None
        Window sizes (in steps) for early vs late EntCE: early = steps [0, early_steps), late = the last
        ``late_steps`` steps. ``None``: first 10% (at least 1 step) and last 50% of the run's steps.
    n_boot : int
        Bootstrap replicates over prompts (0 disables CIs).
    ci : float
        Two-sided confidence level of percentile intervals.
    seed : int
        Seed of the bootstrap weights (same seed => paired replicates across runs on the same prompts).
    entropy : {"sampled", "full"}
        ``sampled`` (default): entropy of q, the distribution actually sampled (spec §4); ``full``: of p̂.
    smooth_lambda : float
        λ of the smoothed log loss used for the headline EntCE when the exact log loss is infinite (truncating
        samplers put zero mass on some human tokens). Must be one of the shard's smoothed columns.
    derail_ratio, derail_k : float
        Derailment rule, see :func:`derail_flags`.
    units : {"nats", "bits"}
    """

    early_steps: int | None = None
    late_steps: int | None = None
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    entropy: str = "sampled"
    smooth_lambda: float = 1e-3
    derail_ratio: float = 2.0
    derail_k: float = 1.0
    units: str = "nats"

    def __post_init__(self):
        if self.entropy not in ("sampled", "full"):
            raise InputError(f"entropy: must be 'sampled' or 'full' (got {self.entropy!r})")
        if self.units not in ("nats", "bits"):
            raise InputError(f"units: must be 'nats' or 'bits' (got {self.units!r})")
        for name in ("early_steps", "late_steps"):
            v = getattr(self, name)
            if v is not None and int(v) < 1:
                raise InputError(f"{name}: must be a positive number of steps (got {v})")
        if not 0 < self.ci < 1:
            raise InputError(f"ci: must be in (0, 1) (got {self.ci})")
        if self.n_boot < 0:
            raise InputError(f"n_boot: must be >= 0 (got {self.n_boot})")

    @property
    def scale(self) -> float:
        return 1.0 / LN2 if self.units == "bits" else 1.0


# ---------------------------------------------------------------------------------------------------------------
# reading runs
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunData:
    """A run's manifest and its per-(sample, step) records."""

    path: Path | None
    manifest: dict[str, Any]
    records: pd.DataFrame

    @property
    def complete(self) -> bool:
        return self.manifest.get("status", "complete") == "complete"


def read_run(run_dir: str | Path) -> RunData:
    """Read ``RUN_DIR/manifest.json`` and every ``RUN_DIR/shards/*.parquet``.

    Raises :class:`~scalescope.errors.InputError` (one line) when the directory, the manifest or the shards are
    missing, or the shards lack a required column. An incomplete run (status ``running``) with at least one
    finished shard is read with a warning: the analysis covers the finished shards only.

    Examples
    --------
    >>> read_run("/nonexistent")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InputError: /nonexistent: run directory does not exist
    """
    p = Path(run_dir)
    if not p.exists():
        raise InputError(f"{p}: run directory does not exist")
    if not p.is_dir():
        raise InputError(f"{p}: not a directory (expected a calibration run directory)")
    mf = p / "manifest.json"
    if not mf.is_file():
        raise InputError(f"{p}: manifest.json is missing (not a calibration run directory)")
    manifest = load_json(mf)
    if not isinstance(manifest, dict):
        raise InputError(f"{mf}: expected a JSON object")
    shards = sorted((p / "shards").glob("*.parquet")) if (p / "shards").is_dir() else []
    status = manifest.get("status", "complete")
    if not shards:
        raise InputError(f"{p}: no shards in {p / 'shards'} (run status {status!r}; nothing to analyse)")
    if status != "complete":
        warnings.warn(f"{p}: run status is {status!r}; analysing its {len(shards)} finished shard(s)", stacklevel=2)
    from scalescope.outputs import check_input_path

    for s in shards:
        check_input_path(s, what="shard")
    try:
        records = pd.concat([pd.read_parquet(s) for s in shards], ignore_index=True)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise InputError(f"{p}: cannot read shards ({type(e).__name__}: {e})") from None
    return RunData(path=p, manifest=manifest, records=records)


def _get(d: dict, *paths: str, default=None):
    """First present value among dotted ``paths`` in a nested dict (manifests vary slightly between backends)."""
    for path in paths:
        cur: Any = d
        ok = True
        for part in path.split("."):
            if isinstance(cur, dict) and part in cur and cur[part] is not None:
                cur = cur[part]
            else:
                ok = False
                break
        if ok:
            return cur
    return default


def parse_sampler_spec(spec: Any) -> dict[str, float | str]:
    """``"temp=0.9,top_p=0.95"`` -> ``{"temp": 0.9, "top_p": 0.95}``; empty/None -> ``{}`` (pure sampling).

    ``temperature``/``t`` are aliases of ``temp``; a bare ``"ancestral"``/``"base"``/``"pure"`` means ``{}``.
    """
    if spec is None:
        return {}
    if isinstance(spec, dict):
        if "spec" in spec:
            return parse_sampler_spec(spec["spec"])
        return {("temp" if k in ("temperature", "t") else k): v for k, v in spec.items()}
    out: dict[str, float | str] = {}
    for part in str(spec).split(","):
        part = part.strip()
        if not part or part in ("ancestral", "base", "pure", "none"):
            continue
        if "=" not in part:
            out[part] = ""
            continue
        k, v = (s.strip() for s in part.split("=", 1))
        k = "temp" if k in ("temperature", "t") else k
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


@dataclass(frozen=True)
class RunInfo:
    """What the analysis needs from a manifest: a label, the model, sampler, size axis and grouping keys."""

    label: str
    model: str
    sampler: str
    temperature: float
    size: float | None
    size_axis: str | None
    family: str
    corpus: str
    complete: bool = True

    @classmethod
    def from_manifest(cls, manifest: dict, label: str | None = None, where: str = "manifest") -> RunInfo:
        model = str(_get(manifest, "model.spec", "model_spec", "model.id", "model", default="unknown"))
        sampler_raw = _get(manifest, "sampler.spec", "sampler_spec", "sampler", default="")
        sampler = sampler_raw if isinstance(sampler_raw, str) else json.dumps(sampler_raw, sort_keys=True)
        parsed = parse_sampler_spec(sampler_raw)
        temp = float(parsed.get("temp", 1.0)) if not isinstance(parsed.get("temp", 1.0), str) else math.nan
        # A sweep (calibration.sweep) adds its cell's metadata under "sweep": declared sizes and family win.
        train_tokens = _get(manifest, "sweep.train_tokens", "train_tokens", "model.train_tokens", "backend.train_tokens")
        params = _get(manifest, "sweep.params", "params", "model.params", "backend.params", "n_params")
        for name, v in (("train_tokens", train_tokens), ("params", params)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
                                  or v <= 0):
                raise InputError(f"{where}: manifest '{name}' must be a positive number, got {v!r}")
        if train_tokens is not None and not (_get(manifest, "sweep.size_axis") == "params" and params is not None):
            size, axis = float(train_tokens), "train_tokens"
        elif params is not None:
            size, axis = float(params), "params"
        else:
            size, axis = None, None
        # A family = runs that differ only in size: the model spec without its size part (@TOKENS for n-grams).
        family = _get(manifest, "sweep.family") or (
            re.sub(r"@\d+(\.\d+)?([eE]\d+)?[kKmMbB]?", "", model) if axis == "train_tokens" else (
                str(_get(manifest, "family", "model.family", default="hf")) if axis == "params" else model
            )
        )
        corpus = str(_get(manifest, "corpus.name", "corpus_name", "corpus", default=""))
        return cls(
            label=label or model,
            model=model,
            sampler=sampler or "",
            temperature=temp,
            size=size,
            size_axis=axis,
            family=family,
            corpus=corpus,
            complete=manifest.get("status", "complete") == "complete",
        )


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


# ---------------------------------------------------------------------------------------------------------------
# across runs: the scaling exponent (spec §1.6)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScalingExponent(Result):
    """OLS fit ``ln EntCE = a + b ln size`` across runs of one family (spec §1.6); ``Y = e^a X^b``.

    ``status`` is ``"ok"`` or ``"undefined"`` (then ``reason`` says why and the numbers are NaN). ``excluded``
    lists runs left out because their EntCE <= 0 (only with ``exclude_nonpositive=True``). The CI refits on
    bootstrap replicates of every run's EntCE (replicates with EntCE <= 0 in any run are dropped; the count is
    ``n_boot_used``).
    """

    family: str
    size_axis: str | None
    labels: list[str]
    sizes: list[float]
    entce: list[float]
    entce_ci: list[tuple[float, float]]
    exponent: float
    exponent_ci: tuple[float, float]
    intercept: float
    intercept_ci: tuple[float, float]
    r2: float
    n_runs: int
    status: str
    reason: str
    excluded: list[str]
    n_boot_used: int
    ci_level: float
    units: str = "nats"

    @property
    def params(self) -> pd.Series:
        return pd.Series({"intercept": self.intercept, "exponent": self.exponent})

    def conf_int(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"lower": [self.intercept_ci[0], self.exponent_ci[0]], "upper": [self.intercept_ci[1], self.exponent_ci[1]]},
            index=["intercept", "exponent"],
        )

    @property
    def legend(self) -> str:
        if self.status != "ok":
            return "exponent undefined"
        return f"Y = e^{{{self.intercept:.2f}}} X^{{{self.exponent:.3f}}}"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "label": self.labels,
                "size": self.sizes,
                "entce": self.entce,
                "entce_lower": [c[0] for c in self.entce_ci],
                "entce_upper": [c[1] for c in self.entce_ci],
            }
        )

    def summary(self) -> str:
        head = f"Scaling exponent of EntCE on {self.size_axis or 'size'} ({self.family}; {self.n_runs} runs)"
        if self.status != "ok":
            return f"{head}\n  {self.reason}"
        lines = [
            head,
            f"  exponent b = {self.exponent:+.4f}  CI [{self.exponent_ci[0]:+.4f}, {self.exponent_ci[1]:+.4f}]"
            f"  (bootstrap, {self.n_boot_used} replicates)",
            f"  intercept a = {self.intercept:+.4f}   R^2 = {self.r2:.3f}   legend: {self.legend}",
        ]
        if self.excluded:
            lines.append(f"  excluded (EntCE <= 0): {', '.join(self.excluded)}")
        return "\n".join(lines)


def fit_exponent(
    runs: Sequence[RunCalibration],
    *,
    sizes: Sequence[float] | None = None,
    exclude_nonpositive: bool = False,
    ci: float | None = None,
    axis: str | None = None,
    size_boot: Sequence[np.ndarray] | None = None,
) -> ScalingExponent:
    """Scaling exponent: slope of ln EntCE on ln size across ``runs`` (spec §1.6), with a bootstrap CI.

    ``sizes`` default to each run's ``size`` (``train_tokens`` for n-gram families, ``params`` for HF models);
    ``axis`` names what ``sizes`` are (default: the runs' ``size_axis``), e.g. ``"log_loss"`` for ln EntCE on ln
    log loss. ``size_boot`` (one array of bootstrap replicates per run, paired with ``boot_entce``) makes the x
    values resample too, as a measured x such as the log loss should. The fit is the log-log OLS of
    :class:`scalescope.fit.LinearFit` (the core of :class:`scalescope.fit.PowerLaw`, which also accepts two sizes);
    the CI refits it on every paired replicate.
    EntCE <= 0 makes ln EntCE undefined: by default the exponent is then *undefined* and ``reason`` names the
    runs; with ``exclude_nonpositive=True`` those runs are excluded (and listed in ``excluded``) and the rest fit.
    Needs at least two runs with distinct sizes.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> def run(e, size):
    ...     df = pd.DataFrame({"sample_id": [0, 1], "step": [0, 0], "entropy_sampled": [1 + e] * 2,
    ...                        "human_logprob": [-1.0] * 2})
    ...     return analyze_run(df, AnalysisConfig(n_boot=0), manifest={"train_tokens": size})
    >>> fit = fit_exponent([run(0.5 * s ** -0.2, s) for s in (1e3, 1e4, 1e5)])
    >>> round(fit.exponent, 3)
    -0.2
    """
    runs = list(runs)
    level = ci if ci is not None else (runs[0].ci_level if runs else 0.95)
    family = runs[0].family if runs else ""
    axis = axis or (runs[0].size_axis if runs else None)
    labels = [r.label for r in runs]
    sz = [float(s) if s is not None else math.nan for s in (sizes if sizes is not None else [r.size for r in runs])]
    if len(sz) != len(runs):
        raise InputError(f"sizes: {len(sz)} values for {len(runs)} runs")
    ent = [float(r.entce) for r in runs]
    eci = [tuple(r.entce_ci) for r in runs]
    units = runs[0].units if runs else "nats"

    def undefined(reason: str, excluded: list[str] | None = None) -> ScalingExponent:
        warnings.warn(reason, stacklevel=3)
        return ScalingExponent(
            family=family, size_axis=axis, labels=labels, sizes=sz, entce=ent, entce_ci=eci, exponent=math.nan,
            exponent_ci=(math.nan, math.nan), intercept=math.nan, intercept_ci=(math.nan, math.nan), r2=math.nan,
            n_runs=len(runs), status="undefined", reason=reason, excluded=excluded or [], n_boot_used=0,
            ci_level=level, units=units,
        )

    bad_size = [lab for lab, s in zip(labels, sz) if not (math.isfinite(s) and s > 0)]
    if bad_size:
        return undefined(f"exponent undefined: no positive size for runs {', '.join(bad_size)}")
    nonpos = [lab for lab, e in zip(labels, ent) if not (math.isfinite(e) and e > 0)]
    keep = [i for i, e in enumerate(ent) if math.isfinite(e) and e > 0]
    excluded: list[str] = []
    if nonpos:
        if not exclude_nonpositive:
            return undefined(f"exponent undefined: EntCE <= 0 for runs {', '.join(nonpos)}")
        excluded = nonpos
        warnings.warn(f"excluding runs with EntCE <= 0 from the exponent fit: {', '.join(nonpos)}", stacklevel=2)
    if len({sz[i] for i in keep}) < 2:
        return undefined(
            "exponent undefined: fewer than 2 runs with distinct sizes and EntCE > 0"
            + (f" (EntCE <= 0 for runs {', '.join(nonpos)})" if nonpos else ""),
            excluded,
        )
    from scalescope.fit import LinearFit

    def loglog(xv: np.ndarray, yv: np.ndarray) -> LinearFit:
        # the power law y = e^a x^b as OLS in log space (what PowerLaw does for >= 3 points; LinearFit also takes
        # a 2-model family, an exact fit without residual dof)
        return LinearFit().fit(np.log(xv)[:, None], np.log(yv))

    xs = np.array([sz[i] for i in keep])
    pl = loglog(xs, np.array([ent[i] for i in keep]))
    a, b, r2 = float(pl.intercept_), float(pl.coef_[0]), float(pl.result_.r2)

    boots = [runs[i].boot_entce for i in keep]
    xboots = [np.asarray(size_boot[i], float) for i in keep] if size_boot is not None else None
    nb = min((len(bb) for bb in boots + (xboots or [])), default=0)
    a_ci = b_ci = (math.nan, math.nan)
    used = 0
    if nb > 0:
        Y = np.vstack([bb[:nb] for bb in boots])  # [runs, B]
        X = np.vstack([xb[:nb] for xb in xboots]) if xboots else np.repeat(xs[:, None], nb, axis=1)
        ok = np.all((Y > 0) & np.isfinite(Y) & (X > 0) & np.isfinite(X), axis=0)
        ok &= np.array([len(np.unique(X[:, j])) >= 2 for j in range(nb)])
        used = int(ok.sum())
        if used >= 2:
            refits = [loglog(X[:, j], Y[:, j]) for j in np.flatnonzero(ok)]
            b_ci = _pct(np.array([f.coef_[0] for f in refits]), level)
            a_ci = _pct(np.array([f.intercept_ for f in refits]), level)
    return ScalingExponent(
        family=family, size_axis=axis, labels=labels, sizes=sz, entce=ent, entce_ci=eci, exponent=b, exponent_ci=b_ci,
        intercept=a, intercept_ci=a_ci, r2=r2, n_runs=len(runs), status="ok",
        reason="" if not excluded else f"excluded runs with EntCE <= 0: {', '.join(excluded)}",
        excluded=excluded, n_boot_used=used, ci_level=level, units=units,
    )


class CalibrationExponent:
    """Estimator wrapper of :func:`fit_exponent` (scikit-learn style: ``fit`` returns self, result in ``result_``).

    Examples
    --------
    >>> est = CalibrationExponent(exclude_nonpositive=True)
    >>> est.result_ is None
    True
    """

    def __init__(self, *, exclude_nonpositive: bool = False, ci: float | None = None):
        self.exclude_nonpositive = exclude_nonpositive
        self.ci = ci
        self.result_: ScalingExponent | None = None

    def fit(self, runs: Sequence[RunCalibration], sizes: Sequence[float] | None = None) -> CalibrationExponent:
        self.result_ = fit_exponent(runs, sizes=sizes, exclude_nonpositive=self.exclude_nonpositive, ci=self.ci)
        return self


# ---------------------------------------------------------------------------------------------------------------
# temperature sweep (spec §4)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemperatureSweep(Result):
    """The trade-off path of runs that differ only in temperature: log loss vs EntCE (paper Fig. 3), and the
    temperature where EntCE = 0 by linear interpolation between the adjacent temperatures whose EntCE changes
    sign (CI: the same on every bootstrap replicate; replicates without a crossing are counted, not used)."""

    family: str
    labels: list[str]
    temperatures: list[float]
    log_loss: list[float]
    log_loss_ci: list[tuple[float, float]]
    entce: list[float]
    entce_ci: list[tuple[float, float]]
    tau_zero: float
    tau_zero_ci: tuple[float, float]
    status: str
    reason: str
    n_boot_used: int
    units: str

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "label": self.labels,
                "temperature": self.temperatures,
                "log_loss": self.log_loss,
                "entce": self.entce,
                "entce_lower": [c[0] for c in self.entce_ci],
                "entce_upper": [c[1] for c in self.entce_ci],
            }
        )

    def summary(self) -> str:
        lines = [f"Temperature sweep ({self.family}; {len(self.temperatures)} temperatures)"]
        for t, ll, e in zip(self.temperatures, self.log_loss, self.entce):
            lines.append(f"  tau={t:<6g} log loss {ll:.4f}  EntCE {e:+.4f} {self.units}/token")
        if self.status == "ok":
            lines.append(
                f"  EntCE = 0 at tau = {self.tau_zero:.4f}  CI [{self.tau_zero_ci[0]:.4f}, {self.tau_zero_ci[1]:.4f}]"
            )
        else:
            lines.append(f"  {self.reason}")
        return "\n".join(lines)


def _zero_crossing(t: np.ndarray, e: np.ndarray) -> float:
    """First temperature (ascending) where the piecewise-linear EntCE(τ) crosses 0; NaN if it does not."""
    for i in range(len(t) - 1):
        e0, e1 = e[i], e[i + 1]
        if not (np.isfinite(e0) and np.isfinite(e1)):
            continue
        if e0 == 0:
            return float(t[i])
        if e0 * e1 < 0:
            return float(t[i] + (t[i + 1] - t[i]) * (-e0) / (e1 - e0))
    if len(e) and e[-1] == 0:
        return float(t[-1])
    return math.nan


def temperature_sweep(runs: Sequence[RunCalibration], *, ci: float | None = None) -> TemperatureSweep:
    """Trade-off path over temperature and the temperature where EntCE = 0 (spec §4, §5.3 item 5).

    Examples
    --------
    >>> import pandas as pd
    >>> def run(tau, e):
    ...     df = pd.DataFrame({"sample_id": [0, 1], "step": [0, 0], "entropy_sampled": [2 + e] * 2,
    ...                        "human_logprob": [-2.0] * 2})
    ...     return analyze_run(df, AnalysisConfig(n_boot=0), manifest={"sampler": f"temp={tau}"})
    >>> sw = temperature_sweep([run(0.8, -0.2), run(1.0, 0.2)])
    >>> round(sw.tau_zero, 3)
    0.9
    """
    runs = sorted(runs, key=lambda r: r.temperature)
    level = ci if ci is not None else (runs[0].ci_level if runs else 0.95)
    t = np.array([r.temperature for r in runs], float)
    e = np.array([r.entce for r in runs], float)
    if len(runs) < 2 or len(set(t.tolist())) < len(t):
        status, reason, tz, tz_ci, used = (
            "undefined",
            "temperature sweep needs >= 2 runs with distinct temperatures",
            math.nan,
            (math.nan, math.nan),
            0,
        )
    else:
        tz = _zero_crossing(t, e)
        used = 0
        tz_ci = (math.nan, math.nan)
        if math.isnan(tz):
            status = "undefined"
            reason = (
                f"EntCE does not change sign over tau in [{t.min():g}, {t.max():g}] "
                f"(EntCE from {e.min():+.3g} to {e.max():+.3g})"
            )
        else:
            status, reason = "ok", ""
            nb = min(len(r.boot_entce) for r in runs)
            if nb > 0:
                Y = np.vstack([r.boot_entce[:nb] for r in runs])
                zs = np.array([_zero_crossing(t, Y[:, b]) for b in range(nb)])
                used = int(np.isfinite(zs).sum())
                tz_ci = _pct(zs, level)
                if used < nb:
                    reason = f"{nb - used} of {nb} bootstrap replicates had no crossing (left out of the CI)"
    return TemperatureSweep(
        family=runs[0].model if runs else "",
        labels=[r.label for r in runs],
        temperatures=t.tolist(),
        log_loss=[r.log_loss for r in runs],
        log_loss_ci=[r.log_loss_ci for r in runs],
        entce=e.tolist(),
        entce_ci=[r.entce_ci for r in runs],
        tau_zero=tz,
        tau_zero_ci=tz_ci,
        status=status,
        reason=reason,
        n_boot_used=used,
        units=runs[0].units if runs else "nats",
    )


# ---------------------------------------------------------------------------------------------------------------
# a study = many runs, grouped into size families and temperature sweeps
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationStudy(Result):
    """Every run's calibration plus the exponent of each size family and each temperature sweep found."""

    runs: list[RunCalibration]
    exponents: list[ScalingExponent]
    sweeps: list[TemperatureSweep]
    units: str

    def to_frame(self) -> pd.DataFrame:
        return pd.concat([r.to_frame() for r in self.runs], ignore_index=True)

    def summary(self) -> str:
        parts = [r.summary() for r in self.runs] + [e.summary() for e in self.exponents]
        parts += [s.summary() for s in self.sweeps]
        return "\n\n".join(parts)


def group_runs(runs: Sequence[RunCalibration]) -> tuple[list[list[RunCalibration]], list[list[RunCalibration]]]:
    """Split runs into size families (same family, sampler, corpus; >= 2 distinct sizes) and temperature sweeps
    (same model, corpus and non-temperature sampler settings; >= 2 distinct temperatures)."""
    fam: dict[tuple, list[RunCalibration]] = {}
    for r in runs:
        if r.size is not None:
            fam.setdefault((r.family, r.size_axis, r.sampler, r.corpus), []).append(r)
    families = [sorted(v, key=lambda r: r.size) for v in fam.values() if len({r.size for r in v}) >= 2]

    def rest(s: str) -> str:
        p = parse_sampler_spec(s)
        p.pop("temp", None)
        return json.dumps(p, sort_keys=True)

    sw: dict[tuple, list[RunCalibration]] = {}
    for r in runs:
        if math.isfinite(r.temperature):
            sw.setdefault((r.model, r.corpus, rest(r.sampler)), []).append(r)
    sweeps = [sorted(v, key=lambda r: r.temperature) for v in sw.values() if len({r.temperature for r in v}) >= 2]
    return families, sweeps


def analyze_runs(
    run_dirs: Sequence[str | Path | RunData],
    config: AnalysisConfig | None = None,
    *,
    exclude_nonpositive: bool = False,
    progress: bool = False,
) -> CalibrationStudy:
    """Analyse several runs; fit the exponent of every size family and every temperature sweep among them.

    Inputs are validated first (every run directory is read before any analysis), so a bad directory fails fast.
    For size families the τ = 1 runs are the paper's setting (spec §1.6); each sampler setting gets its own fit.
    """
    cfg = config or AnalysisConfig()
    data = [d if isinstance(d, RunData) else read_run(d) for d in run_dirs]
    labels = _unique_labels(data)
    it = zip(data, labels)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(list(it), desc="analysing runs", unit="run")
    results = [analyze_run(d, cfg, label=lab) for d, lab in it]
    families, sweeps = group_runs(results)
    exps = [fit_exponent(f, exclude_nonpositive=exclude_nonpositive) for f in families]
    sws = [temperature_sweep(s) for s in sweeps]
    return CalibrationStudy(runs=results, exponents=exps, sweeps=sws, units=cfg.units)


def _unique_labels(data: Sequence[RunData]) -> list[str]:
    names = [d.path.name if d.path is not None else str(_get(d.manifest, "model.spec", "model", default="run"))
             for d in data]
    if len(set(names)) == len(names):
        return names
    # same basename in different parents (e.g. a/run, b/run): use parent/name
    return [f"{d.path.parent.name}/{d.path.name}" if d.path is not None else f"{nm}#{i}"
            for i, (d, nm) in enumerate(zip(data, names))]


__all__ = [
    "AnalysisConfig",
    "CalibrationExponent",
    "CalibrationStudy",
    "RunCalibration",
    "RunData",
    "RunInfo",
    "ScalingExponent",
    "TemperatureSweep",
    "analyze_run",
    "analyze_runs",
    "bootstrap_weights",
    "cluster_bootstrap_weights",
    "replicate_weights",
    "prompt_groups",
    "derail_flags",
    "fit_exponent",
    "group_runs",
    "parse_sampler_spec",
    "read_run",
    "smooth_column",
    "temperature_sweep",
    "wilson_interval",
]
