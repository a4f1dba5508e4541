"""Writing an entropy-calibration analysis: ``summary.json``, ``runs.csv``/``curves.csv``, figures, ``section.json``.

What ``scalescope calibrate analyze RUN_DIR... --out DIR`` writes, as library calls: :func:`analyze_dirs` reads and
analyses run directories and :func:`write_analysis` writes the result under the output contract
(:mod:`scalescope.outputs`). The n-gram and SmolLM2 demo parts use the same writer.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import pandas as pd

from scalescope.errors import InputError
from scalescope.outputs import output_dir
from scalescope.outputs import write_csv as _write_csv

__all__ = ["build_summary", "write_analysis", "analyze_dirs"]


def analyze_dirs(run_dirs, cfg, *, exclude_nonpositive: bool = False, progress: bool = False):
    """Read ``run_dirs`` and analyse them; returns ``(study, warnings)``.

    A sweep directory (``scalescope calibrate sweep``; given alone) gives a
    :class:`~scalescope.calibration.sweep.analysis.SweepStudy`, which :func:`write_analysis` also writes.

    Every input is validated before anything is written; a run directory named twice (also through a different
    path or a symlink) is an :class:`InputError`, since counting it twice would shrink every interval.
    """
    from scalescope.calibration.analysis import analyze_runs, read_run
    from scalescope.calibration.sweep import is_sweep_dir

    if any(is_sweep_dir(d) for d in run_dirs):  # a sweep: its cells, their metadata, per-family fits and panels
        if len(run_dirs) != 1:
            raise InputError(f"{next(d for d in run_dirs if is_sweep_dir(d))}: a sweep directory is analysed alone; "
                             "give it as the only input")
        from scalescope.calibration.sweep.analysis import analyze_sweep

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sweep = analyze_sweep(run_dirs[0], cfg, exclude_nonpositive=exclude_nonpositive, progress=progress)
        return sweep, [str(w.message) for w in caught]
    seen: dict[str, str] = {}
    for d in run_dirs:
        key = os.path.realpath(d)
        if key in seen:
            raise InputError(f"{d}: the same run directory is given twice ({seen[key]} and {d}); each run counts once")
        seen[key] = str(d)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = [read_run(d) for d in run_dirs]
        study = analyze_runs(data, cfg, exclude_nonpositive=exclude_nonpositive, progress=progress)
    return study, [str(w.message) for w in caught]


def build_summary(study, cfg, notes: list[str] | None = None) -> dict:
    """The ``summary.json`` payload of a :class:`~scalescope.calibration.analysis.CalibrationStudy`."""
    if study.exponents:
        ok = [e for e in study.exponents if e.status == "ok"]
        main = (ok or study.exponents)[0]
        exponent = main.to_dict()
    else:
        exponent = {
            "status": "undefined",
            "reason": "exponent undefined: no size family (needs >= 2 runs of one family, sampler and corpus with "
            "distinct train_tokens/params in their manifests)",
        }
    return {
        "units": study.units,
        "sign_convention": "EntCE = entropy of generations - log loss on human text (positive = too random)",
        "config": dataclasses.asdict(cfg),
        "runs": [r.to_dict() for r in study.runs],
        "exponent": exponent,
        "exponents": [e.to_dict() for e in study.exponents],
        "temperature_sweeps": [s.to_dict() for s in study.sweeps],
        "warnings": list(notes or []),
    }


def write_analysis(study, cfg, out: str | Path, *, title: str = "Entropy calibration", order: int = 40,
                   notes: list[str] | None = None, intro: str = "", overwrite: bool = False) -> dict:
    """Write summary.json, CSV tables, figures and section.json of ``study`` into ``out``; returns the summary.

    ``out`` follows the output contract (:func:`scalescope.outputs.output_dir`): written atomically, an earlier
    ``calibrate analyze`` output replaced only with ``overwrite=True``.
    """
    with output_dir(out, command="calibrate analyze", overwrite=overwrite) as d:
        return _write_analysis(study, cfg, d, title=title, order=order, notes=notes, intro=intro)


def _write_analysis(study, cfg, out: Path, *, title: str, order: int, notes: list[str] | None, intro: str) -> dict:
    from scalescope.calibration.sweep.analysis import SweepStudy, write_sweep_parts
    from scalescope.report import write_section
    from scalescope.report.figures.calibration import render_study
    from scalescope.results import write_json

    sweep = None
    if isinstance(study, SweepStudy):  # from analyze_dirs on a sweep directory
        sweep, study = write_sweep_parts(study, out), study.study
    figures = (sweep["figures"] if sweep else []) + render_study(study, out)
    runs_csv = _write_csv(study.to_frame(), out / "runs.csv")
    curves = pd.concat([r.curves.assign(run=r.label) for r in study.runs], ignore_index=True)
    curves_csv = _write_csv(curves, out / "curves.csv")
    summary = build_summary(study, cfg, notes)
    if sweep:
        summary["sweep"] = sweep["summary"]
    write_json(summary, out / "summary.json")

    u = study.units
    lines = ([intro] if intro else []) + [
        f"EntCE = entropy of the model's own generations − log loss on the human continuation ({u}/token; "
        "positive = too random). CIs: bootstrap over "
        + "; ".join(sorted({r.bootstrap_unit.split(" (")[0] for r in study.runs}))
        + (" (prompts that share a source document are resampled together)."
           if any(r.bootstrap_unit != "prompts" for r in study.runs) else "."),
    ]
    metrics: dict = dict(sweep["metrics"]) if sweep else {}
    lines += sweep["lines"] if sweep else []
    for r in study.runs:
        lines.append(
            f"{r.label}: EntCE {r.entce:+.4f} [{r.entce_ci[0]:+.4f}, {r.entce_ci[1]:+.4f}], entropy {r.entropy:.3f}, "
            f"log loss {r.log_loss:.3f}, slope {r.slope_per_1000:+.3f}/1000 steps, derailed "
            f"{r.n_derailed}/{r.n_derail_eligible}"
        )
        metrics[f"EntCE {r.label}"] = round(r.entce, 4)
    ex = summary["exponent"]
    if ex.get("status") == "ok":
        lines.append(
            f"Scaling exponent ({ex['family']}, ln EntCE on ln {ex['size_axis']}): {ex['exponent']:+.4f} "
            f"[{ex['exponent_ci'][0]}, {ex['exponent_ci'][1]}]"
        )
        metrics["exponent"] = round(ex["exponent"], 4)
    else:
        lines.append(ex.get("reason", "exponent undefined"))
    for s in study.sweeps:
        lines.append(
            f"Temperature sweep of {s.family}: "
            + (f"EntCE = 0 at τ = {s.tau_zero:.3f} [{s.tau_zero_ci[0]:.3f}, {s.tau_zero_ci[1]:.3f}]"
               if s.status == "ok" else s.reason)
        )
    write_section(
        out,
        title=title,
        kind="calibration",
        summary="\n".join(lines),
        figures=figures,
        tables=(sweep["tables"] if sweep else []) + [
            (runs_csv, "Per-run calibration metrics"),
            {"path": str(curves_csv), "caption": "Per-step curves", "max_rows": 20}],
        metrics=metrics,
        order=order,
    )
    return summary


