"""``scalescope emergence``: emergence statistics and predictability backtests on a dataset or a long CSV."""

from __future__ import annotations

from pathlib import Path

import click

from scalescope.cli._common import Group, check_out, overwrite_option, quiet_option
from scalescope.errors import InputError

DATA_HELP = "Dataset name (olmo-ladder, gadre-scaling, pythia-evals, obsscaling) or a long CSV (model,task,metric,value,...)."


def _prepare(data: str, out: Path, command: str, overwrite: bool):
    from scalescope.emergence.runner import validate_table
    from scalescope.emergence.table import load_table

    check_out(out, command=command, overwrite=overwrite)
    table = load_table(data)
    validate_table(table, Path(data).name if Path(data).suffix else data)
    return table


@click.group("emergence", cls=Group)
def emergence() -> None:
    """Emergent abilities: hard vs soft metrics, x axes, breakthroughness, breakpoints, backtests.

    \b
    Example:
      scalescope emergence analyze --data olmo-ladder --out em-olmo
      scalescope emergence backtest --data olmo-ladder --out bt-olmo
    """


@emergence.command("analyze")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--n-boot", default=100, show_default=True, type=click.IntRange(0, 5000), help="Bootstrap replicates.")
@click.option("--quick", is_flag=True, help="Fewer x axes and subsamples (faster).")
@click.option("--thresholds", type=click.Choice(["calibrated", "default"]), default="calibrated", show_default=True,
              help="Label thresholds: per curve design with simulated false-positive rate <= 5 % per claim, or "
                   "the conventional BIC 6 / |z| 1.96 / alpha 0.05 / R^2 0.9 (rates reported, not controlled).")
@click.option("--pool", is_flag=True,
              help="One curve per task and metric with every family on the shared axis (family-clustered "
                   "intervals) instead of one per family.")
@click.option("--x-axis", "x_axis", type=click.Choice(["log10_flops", "log10_params", "pc1"]), default=None,
              help="Axis of the verdicts: log10 training FLOPs (default where the data have them), log10 "
                   "parameters, or pc1 (capability PC1 of the observational-scaling base benchmarks).")
@overwrite_option
@quiet_option
def analyze(data: str, out_dir: Path, n_boot: int, quick: bool, thresholds: str, pool: bool, x_axis: str | None,
            overwrite: bool, quiet: bool) -> None:
    """Per-task emergence verdicts and the argument tests -> OUT/summary.json, figures, section.json.

    Each label that claims something (breakthrough, non-monotone, inverse, predictable, noisy-monotone) comes
    with its simulated false-positive rate and power; by default each curve's thresholds are raised, for its own
    sampling design, until every claim's rate is <= 5 %. trendless and unresolved say "no evidence" and come with
    their miss rate. verdict_error_rates.csv has the rates, power and thresholds per curve.

    \b
    Example:
      scalescope emergence analyze --data olmo-ladder --out em-olmo
      scalescope emergence analyze --data my_results.csv --out em-mine
      scalescope emergence analyze --data obsscaling --pool --x-axis pc1 --out em-pooled
    """
    from scalescope.emergence.runner import run_analyze

    table = _prepare(data, out_dir, "emergence analyze", overwrite)
    s = run_analyze(table, out_dir, name=data, n_boot=n_boot, progress=not quiet, quick=quick, overwrite=overwrite,
                    thresholds=thresholds, pool=pool, x_axis=x_axis)
    click.echo(f"{out_dir / 'summary.json'} ({s['n_curves']} curves, {s['n_emergent']} flagged emergent at "
               f"{thresholds} thresholds; {s['n_emergent_at_margin_6']} at BIC margin 6)")


@emergence.command("backtest")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--holdout", default=None, help="size:K (K largest sizes), top:Q (top compute fraction) or cutoff:FLOPS.")
@click.option("--methods", default=None,
              help="Comma list of compute-sigmoid, compute-linear, two-step, two-step-nd, two-step-lm, two-step-nd-lm, "
                   "obs-pc "
                   "(default: all that apply to the data).")
@click.option("--ladder-boot", type=click.IntRange(0, 10000), default=0, show_default=True,
              help="Run-bootstrap replicates of the two-step-nd prediction interval per curve (each is a full "
                   "step-1 refit: ~0.15 s per curve per replicate).")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard as JSON.")
@overwrite_option
@quiet_option
def backtest_cmd(data: str, out_dir: Path, holdout: str | None, methods: str | None, ladder_boot: int,
                 as_json: bool, overwrite: bool, quiet: bool) -> None:
    """Hold out the largest models and predict their hard metric from smaller ones, per method.

    Methods: the hard metric extrapolated in log compute (compute-sigmoid, compute-linear); two steps through the
    task loss (two-step: loss from compute; two-step-nd: loss from N and D, Bhagia et al.'s model-ladder method with
    a run-bootstrap interval) or the LM loss (two-step-lm; two-step-nd-lm); observational PC1 (obs-pc). On
    olmo-ladder the paper's own setup (ladder 190M-1B x 1-10xC -> OLMo 2 7B-4T / 13B-5T) is reported too. Writes errors.csv, predictions.csv (with the measurement SE and,
    for two-step methods, step-1 loss predicted vs measured), summary.json and figures.

    \b
    Example:
      scalescope emergence backtest --data olmo-ladder --out bt-olmo
      scalescope emergence backtest --data olmo-ladder --methods two-step,two-step-nd --out bt-olmo-2step
      scalescope emergence backtest --data obsscaling --holdout top:0.25 --out bt-obs
    """
    from scalescope.cli._common import echo_json
    from scalescope.emergence.backtest import METHODS, holdout_mask
    from scalescope.emergence.runner import run_backtest

    chosen = METHODS
    if methods is not None:
        chosen = tuple(dict.fromkeys(m.strip() for m in methods.split(",") if m.strip()))
        bad = [m for m in chosen if m not in METHODS]
        if bad or not chosen:
            raise InputError(f"--methods: unknown method {', '.join(bad) or repr(methods)}; choose from "
                             f"{', '.join(METHODS)}")

    if holdout is not None:
        import pandas as pd

        holdout_mask(pd.DataFrame({"params_total": [1.0], "train_flops": [1.0]}), holdout)  # flag check first
    table = _prepare(data, out_dir, "emergence backtest", overwrite)
    s = run_backtest(table, out_dir, name=data, holdout=holdout, methods=chosen, progress=not quiet,
                     overwrite=overwrite, ladder_n_boot=ladder_boot)
    if as_json:
        echo_json(s["leaderboard"])
    else:
        click.echo(str(out_dir / "summary.json"))


backtest_cmd.name = "backtest"
