"""``scalescope calibrate analyze``: entropy-calibration analysis of one or more run directories.

Reads runs written by ``scalescope calibrate run`` and writes ``DIR/summary.json`` (per run: EntCE with CI,
accumulation metrics, log loss, entropy; across runs: the scaling exponent with CI where every member has
EntCE > 0, otherwise the reason; temperature sweeps), the figures of spec §5.1 (paper Figs. 1–3 style, per-sample
traces, survivors), ``runs.csv``/``curves.csv`` and ``section.json`` for ``scalescope report``.
Registered on the ``calibrate`` group by ``cli/calibrate.py``.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import click
import pandas as pd

from scalescope.cli._common import SEED, echo_json, fail, quiet_option
from scalescope.errors import InputError
from scalescope.outputs import write_csv as _write_csv


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


def write_analysis(study, cfg, out: Path, *, title: str = "Entropy calibration", order: int = 40,
                   notes: list[str] | None = None, intro: str = "") -> dict:
    """Write summary.json, CSV tables, figures and section.json of ``study`` into ``out``; returns the summary."""
    from scalescope.report import write_section
    from scalescope.report.figures.calibration import render_study
    from scalescope.results import write_json

    out.mkdir(parents=True, exist_ok=True)
    figures = render_study(study, out)
    runs_csv = _write_csv(study.to_frame(), out / "runs.csv")
    curves = pd.concat([r.curves.assign(run=r.label) for r in study.runs], ignore_index=True)
    curves_csv = _write_csv(curves, out / "curves.csv")
    summary = build_summary(study, cfg, notes)
    write_json(summary, out / "summary.json")

    u = study.units
    lines = ([intro] if intro else []) + [
        f"EntCE = entropy of the model's own generations − log loss on the human continuation ({u}/token; "
        "positive = too random). CIs: bootstrap over "
        + "; ".join(sorted({r.bootstrap_unit.split(" (")[0] for r in study.runs}))
        + (" (prompts that share a source document are resampled together)."
           if any(r.bootstrap_unit != "prompts" for r in study.runs) else "."),
    ]
    metrics: dict = {}
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
        tables=[(runs_csv, "Per-run calibration metrics"), {"path": str(curves_csv), "caption": "Per-step curves",
                                                            "max_rows": 20}],
        metrics=metrics,
        order=order,
    )
    return summary


@click.command("analyze")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--bits", is_flag=True, help="Report entropies and log losses in bits instead of nats.")
@click.option("--early", type=click.IntRange(min=1), default=None,
              help="Early window: the first N steps (default: first 10%).")
@click.option("--late", type=click.IntRange(min=1), default=None,
              help="Late window: the last N steps (default: last 50%).")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap replicates over prompts (0: no CIs).")
@click.option("--ci", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True,
              help="Confidence level.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--entropy", type=click.Choice(["sampled", "full"]), default="sampled", show_default=True,
              help="Entropy of the distribution actually sampled (q) or of the untransformed model (p̂).")
@click.option("--smooth-lambda", type=click.Choice(["1e-2", "1e-3", "1e-4"]), default="1e-3", show_default=True,
              help="λ of the smoothed log loss used when truncation makes the exact log loss infinite.")
@click.option("--exclude-nonpositive", is_flag=True,
              help="Fit the exponent on the runs with EntCE > 0 (default: undefined if any run has EntCE <= 0).")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json to stdout.")
@quiet_option
def analyze(run_dirs, out, bits, early, late, n_boot, ci, seed, entropy, smooth_lambda, exclude_nonpositive,
            as_json, quiet):
    """Entropy calibration (EntCE, per-step curves, accumulation, exponent) of RUN_DIR... -> OUT/summary.json.

    \b
    Example:
      scalescope calibrate run --model ngram:3@20000 --corpus wikitext-2 --steps 128 --samples 64 --out runs/n20k
      scalescope calibrate run --model ngram:3@200000 --corpus wikitext-2 --steps 128 --samples 64 --out runs/n200k
      scalescope calibrate analyze runs/n20k runs/n200k --out calib-out
    """
    from scalescope.calibration.analysis import AnalysisConfig, analyze_runs, read_run

    try:
        cfg = AnalysisConfig(early_steps=early, late_steps=late, n_boot=n_boot, ci=ci, seed=seed, entropy=entropy,
                             smooth_lambda=float(smooth_lambda), units="bits" if bits else "nats")
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out}: exists and is not a directory")
        # validate every input before creating anything
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = [read_run(d) for d in run_dirs]
            study = analyze_runs(data, cfg, exclude_nonpositive=exclude_nonpositive, progress=not quiet)
        summary = write_analysis(study, cfg, out, notes=[str(w.message) for w in caught])
    except InputError as e:
        fail(str(e))
    for w in caught:
        if not quiet:
            click.echo(f"warning: {w.message}", err=True)
    if as_json:
        echo_json(summary)
    elif not quiet:
        click.echo(study.summary())
    # with --json, stdout is exactly the JSON document; where outputs went goes to stderr
    click.echo(f"wrote {out / 'summary.json'}" + ("" if quiet else f" and figures in {out}"), err=as_json)
