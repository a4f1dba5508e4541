"""``scalescope calibrate analyze``: entropy-calibration analysis of one or more run directories.

Reads runs written by ``scalescope calibrate run`` and writes ``DIR/summary.json`` (per run: EntCE with CI,
accumulation metrics, log loss, entropy; across runs: the scaling exponent with CI where every member has
EntCE > 0, otherwise the reason; temperature sweeps), the figures of spec §5.1 (paper Figs. 1–3 style, per-sample
traces, survivors), ``runs.csv``/``curves.csv`` and ``section.json`` for ``scalescope report``.
Registered on the ``calibrate`` group by ``cli/calibrate.py``.
"""

from __future__ import annotations

from pathlib import Path

import click

from scalescope.cli._common import SEED, Command, check_out, echo_json, overwrite_option, quiet_option


@click.command("analyze", cls=Command)
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
@overwrite_option
@quiet_option
def analyze(run_dirs, out, bits, early, late, n_boot, ci, seed, entropy, smooth_lambda, exclude_nonpositive,
            as_json, overwrite, quiet):
    """Entropy calibration (EntCE, per-step curves, accumulation, exponent) of RUN_DIR... -> OUT/summary.json.

    \b
    Example:
      scalescope calibrate run --model ngram:3@20000 --corpus wikitext-2 --steps 128 --samples 64 --out runs/n20k
      scalescope calibrate run --model ngram:3@200000 --corpus wikitext-2 --steps 128 --samples 64 --out runs/n200k
      scalescope calibrate analyze runs/n20k runs/n200k --out calib-out
      scalescope calibrate analyze sweep1 --out sweep1-out   # a `calibrate sweep` DIR: per-family fits, panels
    """
    from scalescope.calibration.analysis import AnalysisConfig
    from scalescope.calibration.writer import analyze_dirs, write_analysis

    cfg = AnalysisConfig(early_steps=early, late_steps=late, n_boot=n_boot, ci=ci, seed=seed, entropy=entropy,
                         smooth_lambda=float(smooth_lambda), units="bits" if bits else "nats")
    check_out(out, command="calibrate analyze", overwrite=overwrite)  # before the (long) analysis
    study, notes = analyze_dirs(run_dirs, cfg, exclude_nonpositive=exclude_nonpositive, progress=not quiet)
    summary = write_analysis(study, cfg, out, notes=notes, overwrite=overwrite)
    for w in notes:
        if not quiet:
            click.echo(f"warning: {w}", err=True)
    if as_json:
        echo_json(summary)
    elif not quiet:
        click.echo(study.summary())
    # with --json, stdout is exactly the JSON document; where outputs went goes to stderr
    click.echo(f"wrote {out / 'summary.json'}" + ("" if quiet else f" and figures in {out}"), err=as_json)
