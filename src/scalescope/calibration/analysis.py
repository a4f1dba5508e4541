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

The implementation is split by concept; this module groups runs into size families and temperature sweeps
(:func:`group_runs`, :func:`analyze_runs`) and re-exports the public names of :mod:`~scalescope.calibration.runs`
(reading runs, :class:`AnalysisConfig`), :mod:`~scalescope.calibration.entce` (per-run EntCE, windows,
accumulation, derailment), :mod:`~scalescope.calibration.exponent` (scaling exponent) and
:mod:`~scalescope.calibration.temperature_path` (trade-off path), and the replicate weights of
:mod:`scalescope.fit.bootstrap`.
"""


from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from scalescope.calibration.entce import (
    RunCalibration,
    analyze_run,
    derail_flags,
    prompt_groups,
    wilson_interval,
)
from scalescope.calibration.exponent import CalibrationExponent, ScalingExponent, fit_exponent
from scalescope.calibration.runs import (
    LN2,
    REQUIRED_COLUMNS,
    SMOOTH_LAMBDAS,
    AnalysisConfig,
    RunData,
    RunInfo,
    _get,
    parse_sampler_spec,
    read_run,
    smooth_column,
)
from scalescope.calibration.temperature_path import TemperatureSweep, temperature_sweep
from scalescope.fit.bootstrap import bootstrap_weights, cluster_bootstrap_weights, replicate_weights
from scalescope.results import Result


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
    "LN2",
    "REQUIRED_COLUMNS",
    "SMOOTH_LAMBDAS",
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
