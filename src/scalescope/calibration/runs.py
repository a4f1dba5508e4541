"""Reading calibration run directories and the settings of their analysis (research/entropy_calibration.md §1.4).

A run directory is ``manifest.json`` + ``shards/*.parquet`` (one row per (sample, step); DESIGN.md "Run
directories"). :func:`read_run` loads it, :class:`RunInfo` reads what the manifest says about the model (family,
size axis, sampler, temperature), :class:`AnalysisConfig` says how a run is summarised (windows, bootstrap, units,
smoothing). Part of :mod:`scalescope.calibration.analysis`, which re-exports every public name.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from scalescope.data.validate import load_json
from scalescope.errors import InputError

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
