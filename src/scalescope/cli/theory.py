"""``scalescope theory``: the Zipf/singleton theory of entropy-calibration scaling (Cao et al. 2025 §3, Fig. 4).

Subcommands: ``singleton`` (exact expected singleton mass, asymptote, predicted exponent), ``simulate`` (Monte-Carlo
toy generator), ``zipf-fit`` (Zipf exponent of a corpus, OLS + MLE with bootstrap CIs).
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from scalescope.cli._common import SEED, Group, check_out, echo_json, overwrite_option, quiet_option
from scalescope.errors import InputError


def _floats(text: str, name: str) -> list[float]:
    try:
        vals = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{name} {text}: expected comma-separated numbers") from None
    if not vals:
        raise InputError(f"{name} {text}: expected at least one number")
    return vals


# Validated ranges of the exact singleton sum (calibration/theory.py); larger values lose precision or memory.
MAX_VOCAB = 10**8
MAX_M = 1e12


def _int_vocab(v: float) -> int:
    if not np.isfinite(v) or v < 1 or float(v) != int(v):
        raise InputError(f"--vocab {v:g}: must be a positive integer (e.g. 100000 or 1e5)")
    if v > MAX_VOCAB:
        raise InputError(f"--vocab {v:g}: must be <= {MAX_VOCAB:g}")
    return int(v)


@click.group(cls=Group)
def theory() -> None:
    """Zipf/singleton theory: why entropy-calibration error scales as m^(1/alpha - 1).

    \b
    Example:
      scalescope theory singleton --alpha 1.5 --m 1e6 --vocab 1e5 --json
      scalescope theory simulate --alpha 1.25,1.5 --vocab 1e5 --out sim/
      scalescope theory zipf-fit --corpus wikitext-2 --out zipf/
    """


@theory.command("singleton")
@click.option("--alpha", type=float, required=True, help="Zipf exponent alpha > 0.")
@click.option("--m", "m", type=float, required=True, help="Training-set size in tokens (>= 1; up to 1e12).")
@click.option("--vocab", type=float, required=True, help="Vocabulary size v (integer; up to 1e8).")
@click.option("--slope", is_flag=True, help="Also fit the finite-v log-log slope of E[q] over m in [100, v/3].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def singleton_cmd(alpha: float, m: float, vocab: float, slope: bool, as_json: bool) -> None:
    """Expected singleton mass E[q] = sum_i p_i (1-p_i)^(m-1) of m Zipf(alpha) tokens over v types (exact),
    the v = infinity asymptote C_alpha m^(1/alpha-1) (null for alpha <= 1) and the predicted exponent 1/alpha-1.

    \b
    Example:
      scalescope theory singleton --alpha 1.5 --m 1e6 --vocab 1e5 --json
    """
    from scalescope.calibration.theory import singleton

    if not np.isfinite(m) or m < 1:
        raise InputError(f"--m {m:g}: must be a number >= 1")
    if m > MAX_M:
        raise InputError(f"--m {m:g}: must be <= {MAX_M:g}")
    if not np.isfinite(alpha) or alpha <= 0:
        raise InputError(f"--alpha {alpha:g}: must be a positive number")
    r = singleton(alpha, m, _int_vocab(vocab), slope=slope)
    d = r.to_dict()
    if as_json:
        if not slope:
            d.pop("finite_v_slope", None)
        echo_json(d)
        return
    click.echo(f"E[q](m={m:g}, alpha={alpha:g}, v={int(vocab):,}) = {r.expected_singleton_mass:.6g}")
    asym = "undefined (alpha <= 1)" if r.asymptote is None else f"{r.asymptote:.6g}"
    click.echo(f"v = inf asymptote C_alpha m^(1/alpha-1) = {asym}")
    click.echo(f"predicted exponent 1/alpha - 1 = {r.predicted_exponent:+.4f}")
    if slope:
        click.echo(f"finite-v slope (m in [100, v/3]) = {r.finite_v_slope:+.4f}")


@theory.command("simulate")
@click.option("--alpha", "alphas", default="1.25,1.5", show_default=True, help="Zipf exponent(s), comma-separated.")
@click.option("--vocab", type=float, default=1e5, show_default=True, help="Vocabulary size v.")
@click.option("--m-min", type=float, default=100, show_default=True, help="Smallest training-set size.")
@click.option("--m-max", type=float, default=None, help="Largest training-set size [default: v/3].")
@click.option("--points", type=int, default=8, show_default=True, help="Number of log-spaced m values.")
@click.option("--steps", type=int, default=10, show_default=True,
              help="Generation steps per sample (keep q*steps small for EntCE to stay linear in q).")
@click.option("--samples", type=int, default=1000, show_default=True, help="Generated sequences per count table.")
@click.option("--tables", type=int, default=16, show_default=True, help="Independent count tables per m.")
@click.option("--entropy-jump", type=float, default=1.0, show_default=True, help="C_H, entropy jump on derail (nats).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the exponents as JSON.")
@overwrite_option
@quiet_option
def simulate_cmd(alphas, vocab, m_min, m_max, points, steps, samples, tables, entropy_jump, seed, out_dir,
                 as_json, overwrite, quiet) -> None:
    """Monte-Carlo simulation of the paper's toy generator: a count table of m Zipf tokens, derailment on emitting
    a singleton, entropy jump C_H. Fits the exponent of the derail rate and of EntCE in m and compares it with the
    exact finite-v slope and with 1/alpha - 1. Writes OUT/result.json, simulation.csv, figures, section.json.

    \b
    Example:
      scalescope theory simulate --alpha 1.25,1.5 --vocab 1e5 --out sim/
    """
    from scalescope.calibration.theory_demo import run_simulate

    v = _int_vocab(vocab)
    m_max = v / 3 if m_max is None else m_max
    if points < 2:
        raise InputError(f"--points {points}: must be >= 2")
    if not (np.isfinite(m_min) and np.isfinite(m_max) and 1 <= m_min < m_max):
        raise InputError(f"--m-min {m_min:g} / --m-max {m_max:g}: need 1 <= m-min < m-max")
    m_values = np.geomspace(m_min, m_max, points)
    check_out(out_dir, command="theory simulate", overwrite=overwrite)
    sims = run_simulate(out_dir, alphas=_floats(alphas, "--alpha"), vocab=v, m_values=m_values, steps=steps,
                        samples=samples, tables=tables, entropy_jump=entropy_jump, seed=seed, quiet=quiet,
                        overwrite=overwrite)
    rows = [{"alpha": s.alpha, "exponent_derail": s.exponent_derail, "exponent_entce": s.exponent_entce,
             "exponent_exact": s.exponent_exact, "predicted_exponent": s.predicted_exponent} for s in sims]
    if as_json:
        echo_json({"out": str(out_dir), "simulations": rows})
    else:
        for r in rows:
            click.echo(f"alpha={r['alpha']:g}: derail-rate exponent {r['exponent_derail']:+.4f}, EntCE exponent "
                       f"{r['exponent_entce']:+.4f}, exact finite-v {r['exponent_exact']:+.4f}, "
                       f"1/alpha-1 {r['predicted_exponent']:+.4f}")
        click.echo(str(out_dir))


@theory.command("zipf-fit")
@click.option("--corpus", "corpora", multiple=True, required=True,
              help="Corpus name (wikitext-2, tinyshakespeare, python-stdlib, python-docs) or path; repeatable.")
@click.option("--tokenizer", default="word", show_default=True, help="word, char or hf:<local path>.")
@click.option("--top-k", type=int, default=5000, show_default=True, help="Fit over the top-k types (paper: 5000).")
@click.option("--bootstrap", "n_boot", type=int, default=200, show_default=True, help="Bootstrap resamples for CIs.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the fits as JSON.")
@overwrite_option
@quiet_option
def zipf_fit_cmd(corpora, tokenizer, top_k, n_boot, seed, out_dir, as_json, overwrite, quiet) -> None:
    """Zipf exponent alpha of a corpus: slope of log frequency on log rank over the top-k types (OLS, the paper's
    recipe) and the truncated-Zipf MLE, with bootstrap CIs and the predicted EntCE exponent 1/alpha - 1.
    Writes OUT/result.json, zipf_fits.csv, rank_frequency.csv, rank_frequency.png, section.json.

    \b
    Example:
      scalescope theory zipf-fit --corpus wikitext-2 --corpus tinyshakespeare --top-k 5000 --out zipf/
    """
    from scalescope.calibration.theory_demo import run_zipf_fit

    check_out(out_dir, command="theory zipf-fit", overwrite=overwrite)
    res = run_zipf_fit(out_dir, corpora=corpora, tokenizer=tokenizer, top_k=top_k, n_boot=n_boot, seed=seed,
                       quiet=quiet, overwrite=overwrite)
    fits = res.pop("_fits")
    if as_json:
        echo_json({"out": str(out_dir)} | {k: v for k, v in res.items() if k != "skipped"})
        return
    for name, d in fits.items():
        for m, f in d.items():
            click.echo(f"{name} [{m}]: alpha = {f.alpha:.4f} (95% CI {f.ci_low:.4f}-{f.ci_high:.4f}), "
                       f"predicted exponent {f.predicted_exponent:+.4f}")
    click.echo(str(out_dir))
