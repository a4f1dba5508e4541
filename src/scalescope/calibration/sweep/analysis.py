"""Analysis of a finished (or partly finished) sweep: per-family EntCE scaling and per-sampler trade-off paths.

Implements, for a sweep directory, the across-model analyses of Cao et al. 2025 (spec §1.6, §4, §5.1):

* per family (and corpus and sampler): ln EntCE against ln model size in parameters (paper Fig. 1), against ln
  training tokens, and against ln log loss on human text (spec §5.3 item 3), each with its exponent and a bootstrap
  CI -- :func:`~scalescope.calibration.analysis.fit_exponent`, i.e. :class:`scalescope.fit.PowerLaw` refitted on
  the paired prompt-bootstrap replicates of every run (a measured x, the log loss, resamples with them);
* per model: the trade-off path over the sweep's samplers, log loss vs EntCE (paper Fig. 3), ordered by temperature.

Every complete cell is read as an ordinary run directory and analysed by
:func:`~scalescope.calibration.analysis.analyze_runs`; the cell's declared metadata (``sweep.json``) tells its
family and sizes. Where a size was derived rather than declared (an n-gram's ``@TOKENS``, a size read from a model
name), the value the run itself recorded wins: an n-gram asked for more tokens than its corpus holds was trained on
fewer, and its manifest says how many.

Example
-------
>>> import pathlib, tempfile
>>> from scalescope.calibration.sweep import parse_spec, run_sweep
>>> from scalescope.calibration.analysis import AnalysisConfig
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> words = " ".join(f"w{(i * 7919) % 97}" for i in range(6000))
>>> _ = (d / "c.txt").write_text((words + "\\n\\n") * 8)
>>> spec = parse_spec({"defaults": {"corpus": str(d / "c.txt"), "prompt_tokens": 4, "steps": 6, "samples": 8},
...                    "axes": {"model": ["ngram:2@300", "ngram:2@3000", "ngram:2@30000"]}})
>>> _ = run_sweep(spec, d / "sweep", progress=False)
>>> sw = analyze_sweep(d / "sweep", AnalysisConfig(n_boot=50))
>>> [f.size_axis for f in sw.fits]
['train_tokens', 'log_loss']
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scalescope.calibration.analysis import (
    AnalysisConfig,
    CalibrationStudy,
    RunCalibration,
    ScalingExponent,
    analyze_runs,
    fit_exponent,
    read_run,
)
from scalescope.calibration.sweep.manifest import SweepManifest, is_sweep_dir
from scalescope.errors import InputError
from scalescope.results import Result

__all__ = ["SweepStudy", "TradeoffPath", "analyze_sweep", "read_sweep", "AXES"]

#: x axes of the family fits, in the order they are reported.
AXES = ("params", "train_tokens", "log_loss")


@dataclass(frozen=True)
class TradeoffPath(Result):
    """One model's path over the sweep's samplers: log loss (x) vs EntCE (y), paper Fig. 3 (spec §4)."""

    family: str
    corpus: str
    model: str
    size: float | None
    labels: list[str]
    samplers: list[str]
    temperatures: list[float]
    log_loss: list[float]
    log_loss_ci: list[tuple[float, float]]
    entce: list[float]
    entce_ci: list[tuple[float, float]]
    units: str = "nats"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"family": self.family, "corpus": self.corpus, "model": self.model, "size": self.size,
                             "label": self.labels, "sampler": self.samplers, "temperature": self.temperatures,
                             "log_loss": self.log_loss, "entce": self.entce,
                             "entce_lower": [c[0] for c in self.entce_ci],
                             "entce_upper": [c[1] for c in self.entce_ci]})


@dataclass(frozen=True)
class SweepStudy(Result):
    """A sweep's analysis: the per-run study, the family fits on every x axis, the trade-off paths, cell status.

    ``fits`` holds one :class:`~scalescope.calibration.analysis.ScalingExponent` per (family, corpus, sampler, x
    axis) with at least two runs; ``size_axis`` is the x axis (``params``, ``train_tokens`` or ``log_loss``) and
    ``family`` reads ``"<family> | <corpus> | <sampler>"``.
    """

    name: str
    directory: str
    study: CalibrationStudy
    fits: list[ScalingExponent]
    paths: list[TradeoffPath]
    cells: pd.DataFrame = field(repr=False)
    not_complete: list[dict[str, Any]] = field(default_factory=list)
    units: str = "nats"

    def fits_on(self, axis: str) -> list[ScalingExponent]:
        return [f for f in self.fits if f.size_axis == axis]

    def to_frame(self) -> pd.DataFrame:
        return self.cells

    def to_dict(self) -> dict[str, Any]:
        from scalescope.results import to_jsonable

        return to_jsonable({
            "name": self.name, "units": self.units,
            "cells": {"total": int(len(self.cells)), "analysed": len(self.study.runs),
                      "not_complete": self.not_complete},
            "families": [_fit_dict(f) for f in self.fits],
            "tradeoff_paths": [p.to_dict() for p in self.paths],
        })

    def summary(self) -> str:
        lines = [f"Sweep {self.name}: {len(self.study.runs)} of {len(self.cells)} cells analysed"]
        for c in self.not_complete:
            lines.append(f"  not analysed: {c['id']} ({c['status']}{': ' + c['error'] if c.get('error') else ''})")
        for f in self.fits:
            lines.append(f"  {_fit_line(f)}")
        for p in self.paths:
            pts = ", ".join(f"{s}: L={ll:.3f} EntCE={e:+.3f}" for s, ll, e in zip(p.samplers, p.log_loss, p.entce))
            lines.append(f"  trade-off {p.model} ({p.corpus}): {pts}")
        return "\n".join(lines)


_AXIS_WORDS = {"params": "parameters", "train_tokens": "training tokens", "log_loss": "log loss"}


def _fit_line(f: ScalingExponent) -> str:
    what = f"ln EntCE on ln {_AXIS_WORDS.get(f.size_axis or '', f.size_axis)}"
    if f.status != "ok":
        return f"{f.family}: {what}: {f.reason}"
    ci = (f"[{f.exponent_ci[0]:+.3f}, {f.exponent_ci[1]:+.3f}]" if math.isfinite(f.exponent_ci[0])
          else "(no CI: bootstrap off)")
    return f"{f.family}: {what}: exponent {f.exponent:+.3f} {ci}, R^2 {f.r2:.2f}, {f.n_runs} runs"


def _fit_dict(f: ScalingExponent) -> dict[str, Any]:
    family, corpus, sampler = (f.family.split(" | ") + ["", ""])[:3]
    d = f.to_dict()
    d.update(family=family, corpus=corpus, sampler=sampler, x_axis=f.size_axis)
    return d


# ---------------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------------
def _resolve(declared: dict, source: dict, recorded: Any, key: str) -> float | None:
    """Declared in the spec > recorded by the run > derived (from a name or an n-gram spec)."""
    v = declared.get(key)
    if v is not None and source.get(key) == "spec":
        return float(v)
    if recorded is not None:
        try:
            return float(recorded)
        except (TypeError, ValueError):
            pass
    return float(v) if v is not None else None


def read_sweep(sweep_dir: str | os.PathLike) -> tuple[SweepManifest, list, list[dict[str, Any]]]:
    """``(manifest, run data of the complete cells, one row per cell)`` of a sweep directory.

    Cells are read in the spec's order; each complete cell's manifest gains a ``sweep`` entry (family, params,
    train_tokens, size_axis) that :class:`~scalescope.calibration.analysis.RunInfo` reads. Cells that are not
    complete are listed in the rows with their status and error.

    Examples
    --------
    >>> read_sweep("/nonexistent")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InputError: /nonexistent: not a sweep directory (no sweep.json)
    """
    p = Path(sweep_dir)
    if not is_sweep_dir(p):
        raise InputError(f"{p}: not a sweep directory (no sweep.json)")
    man = SweepManifest.load(p)
    data, rows = [], []
    for cid, entry in man.cells.items():
        meta = dict(entry.get("meta") or {})
        source = dict(meta.get("source") or {})
        opts = dict(entry.get("options") or {})
        row = {"cell": cid, "status": entry.get("status"), "error": entry.get("error"),
               "model": opts.get("model"), "corpus": opts.get("corpus"), "sampler": opts.get("sampler"),
               "seed": opts.get("seed"), "family": meta.get("family"), "attempts": entry.get("attempts"),
               "elapsed_s": entry.get("elapsed_s")}
        rd = None
        run_dir = man.cell_dir(cid)
        if entry.get("status") == "complete":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rd = read_run(run_dir)
            backend = rd.manifest.get("backend") or {}
            params = _resolve(meta, source, backend.get("params"), "params")
            tokens = _resolve(meta, source, backend.get("train_tokens"), "train_tokens")
            declared_tok = meta.get("train_tokens")
            if (source.get("train_tokens") == "ngram spec" and tokens and declared_tok
                    and abs(tokens - declared_tok) > 0.01 * declared_tok):
                warnings.warn(f"cell {cid}: {opts.get('model')} asked for {declared_tok:.0f} training tokens but was "
                              f"trained on {tokens:.0f} (all its corpus holds); the analysis uses {tokens:.0f}",
                              stacklevel=2)
            rd.manifest["sweep"] = {"cell": cid, "family": meta.get("family"), "params": params,
                                    "train_tokens": tokens, "size_axis": "params" if params else "train_tokens"}
            row.update(params=params, train_tokens=tokens)
            data.append(rd)
        rows.append(row)
    return man, data, rows


# ---------------------------------------------------------------------------------------------------------------
# analysis
# ---------------------------------------------------------------------------------------------------------------
def _family_fits(runs: Sequence[RunCalibration], sizes: dict[str, dict[str, float | None]], *,
                 exclude_nonpositive: bool) -> list[ScalingExponent]:
    groups: dict[tuple[str, str, str], list[RunCalibration]] = {}
    for r in runs:
        groups.setdefault((r.family, r.corpus, r.sampler), []).append(r)
    fits = []
    for (family, corpus, sampler), rs in groups.items():
        if len(rs) < 2:
            continue
        name = f"{family} | {corpus} | {sampler or 'pure'}"
        for axis in AXES:
            if axis == "log_loss":
                xs = [r.log_loss for r in rs]
                boot = [r.boot_log_loss for r in rs]
            else:
                xs = [sizes[r.label].get(axis) for r in rs]
                boot = None
                if any(x is None for x in xs) or len(set(xs)) < 2:
                    continue  # this family has no such size axis (n-grams have no parameter count)
            order = sorted(range(len(rs)), key=lambda i: (xs[i], rs[i].label))
            fit = fit_exponent([rs[i] for i in order], sizes=[xs[i] for i in order], axis=axis,
                               size_boot=None if boot is None else [boot[i] for i in order],
                               exclude_nonpositive=exclude_nonpositive)
            fits.append(dataclasses.replace(fit, family=name))
    return fits


def _paths(runs: Sequence[RunCalibration], seeds: dict[str, Any]) -> list[TradeoffPath]:
    groups: dict[tuple, list[RunCalibration]] = {}
    for r in runs:
        groups.setdefault((r.family, r.corpus, r.model, seeds.get(r.label)), []).append(r)
    out = []
    for (family, corpus, model, _seed), rs in groups.items():
        if len({r.sampler for r in rs}) < 2:
            continue
        rs = sorted(rs, key=lambda r: (-(r.temperature if math.isfinite(r.temperature) else -1.0), r.sampler))
        out.append(TradeoffPath(
            family=family, corpus=corpus, model=model, size=rs[0].size, labels=[r.label for r in rs],
            samplers=[r.sampler or "pure" for r in rs], temperatures=[r.temperature for r in rs],
            log_loss=[r.log_loss for r in rs], log_loss_ci=[r.log_loss_ci for r in rs],
            entce=[r.entce for r in rs], entce_ci=[r.entce_ci for r in rs], units=rs[0].units))
    return sorted(out, key=lambda p: (p.family, p.corpus, p.size or 0.0, p.model))


def analyze_sweep(sweep_dir: str | os.PathLike, config: AnalysisConfig | None = None, *,
                  exclude_nonpositive: bool = False, progress: bool = False) -> SweepStudy:
    """Analyse a sweep directory: per-run calibration, per-family fits on every size axis, trade-off paths.

    Parameters
    ----------
    sweep_dir : path
        A directory written by ``scalescope calibrate sweep`` (holds ``sweep.json``).
    config : AnalysisConfig
        As for :func:`~scalescope.calibration.analysis.analyze_runs` (bootstrap size, windows, units).
    exclude_nonpositive : bool
        Fit the exponents on the runs with EntCE > 0 (default: undefined when any run has EntCE <= 0).
    progress : bool
        A tqdm bar over runs.

    Raises
    ------
    InputError
        Not a sweep directory, or no cell is complete yet.
    """
    cfg = config or AnalysisConfig()
    man, data, rows = read_sweep(sweep_dir)
    if not data:
        raise InputError(f"{sweep_dir}: no complete cell to analyse yet ({len(rows)} cells; run the sweep first)")
    study = analyze_runs(data, cfg, exclude_nonpositive=exclude_nonpositive, progress=progress)
    # run labels are the cell ids (the run directories' names)
    sizes = {x["cell"]: {"params": x.get("params"), "train_tokens": x.get("train_tokens")} for x in rows}
    seeds = {x["cell"]: x.get("seed") for x in rows}
    with warnings.catch_warnings():  # an undefined fit says why in its result; analyze_runs already warned once
        warnings.simplefilter("ignore")
        fits = _family_fits(study.runs, sizes, exclude_nonpositive=exclude_nonpositive)
    by_cell = {r.label: r for r in study.runs}
    table = pd.DataFrame(rows)
    for col, attr in (("entce", "entce"), ("log_loss", "log_loss"), ("entropy", "entropy")):
        table[col] = [getattr(by_cell[c], attr) if c in by_cell else math.nan for c in table["cell"]]
    not_complete = [{"id": r["cell"], "status": r["status"], "error": r["error"]} for r in rows
                    if r["status"] != "complete"]
    return SweepStudy(name=str(man.data.get("name", Path(sweep_dir).name)), directory=str(sweep_dir), study=study,
                      fits=fits, paths=_paths(study.runs, seeds), cells=table, not_complete=not_complete,
                      units=cfg.units)


def write_sweep_parts(sweep: SweepStudy, out: str | os.PathLike) -> dict[str, Any]:
    """Write a sweep's own outputs into ``out`` (already the private folder of an output block): its panels
    (:func:`scalescope.report.figures.sweep.render_sweep`), ``sweep_cells.csv``, ``sweep_fits.csv`` and
    ``sweep_paths.csv``; returns what the analysis writer adds to ``summary.json`` and ``section.json``:
    ``{"summary": dict, "figures": [...], "tables": [...], "lines": [...], "metrics": {...}}``."""
    from scalescope.outputs import write_csv
    from scalescope.report.figures.sweep import render_sweep

    out = Path(out)
    figures = render_sweep(sweep, out)
    cells_csv = write_csv(sweep.cells, out / "sweep_cells.csv")
    fit_rows = [{k: v for k, v in _fit_dict(f).items() if not isinstance(v, list | dict)} for f in sweep.fits]
    tables = [(cells_csv, "Sweep cells: status, error, declared and recorded sizes, EntCE")]
    if fit_rows:
        fits_csv = write_csv(pd.DataFrame(fit_rows), out / "sweep_fits.csv")
        tables.append((fits_csv, "Per-family fits of ln EntCE on ln parameters / training tokens / log loss"))
    if sweep.paths:
        paths_csv = write_csv(pd.concat([p.to_frame() for p in sweep.paths], ignore_index=True),
                              out / "sweep_paths.csv")
        tables.append((paths_csv, "Per-sampler trade-off paths (log loss, EntCE) of every model"))
    lines = [f"Sweep {sweep.name}: {len(sweep.study.runs)} of {len(sweep.cells)} cells analysed."]
    lines += [f"Cell {c['id']} not analysed ({c['status']}): {c.get('error') or 'not run yet'}"
              for c in sweep.not_complete]
    lines += [_fit_line(f) for f in sweep.fits]
    metrics = {f"exponent {f.family} ({f.size_axis})": round(f.exponent, 4) for f in sweep.fits if f.status == "ok"}
    return {"summary": sweep.to_dict(), "figures": figures, "tables": tables, "lines": lines, "metrics": metrics}
