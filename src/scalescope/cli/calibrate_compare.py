"""``scalescope calibrate compare``: fit and compare entropy-calibration methods on held-out human text.

Implements the evaluation runner of the calibration methods (spec §3.2–3.4, §5.3 item 5) via
:mod:`scalescope.calibration.methods.compare`: same prompts for every method, parameters fitted on a FIT half of
the corpus's held-out documents, scored on the TEST half. Writes ``DIR/summary.json``, ``DIR/methods.csv``, the
trade-off and per-step figures and ``DIR/section.json``. Inputs are validated before DIR is created.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click
import pandas as pd
from tqdm.auto import tqdm

from scalescope.cli._common import SEED, echo_json, quiet_option
from scalescope.errors import InputError


@click.command("compare")
@click.option("--model", "model_spec", required=True,
              help="ngram:N[:CORPUS][@TOKENS]/char (exact DP; needs a small vocabulary), or a transformer: HF_ID, "
                   "PATH, gguf:..., smollm2-135m (engine-measured methods, learned future-entropy head).")
@click.option("--corpus", required=True, help="wikitext-2|tinyshakespeare|python-stdlib|FILE|DIR")
@click.option("--methods", default="base,temperature,top_p,min_p,lookahead,future_entropy", show_default=True,
              help="Comma list of base, temperature, temperature_slope, top_p, min_p, lookahead, future_entropy, "
                   "future_entropy_eb (α_t shrunk toward their mean, empirical Bayes).")
@click.option("--steps", type=int, default=64, show_default=True, help="T: horizon (generated/scored tokens).")
@click.option("--samples", type=int, default=500, show_default=True,
              help="Passages per split (FIT and TEST each; fewer if the corpus has fewer; 0 = all).")
@click.option("--split", type=click.Choice(["passages", "documents"]), default="passages", show_default=True,
              help="FIT/TEST unit. passages: a seeded permutation of non-overlapping passages (segments) of the eval "
                   "documents -- exchangeable halves, but both halves hold passages of the same documents and those "
                   "are correlated (TEST = new passages, not new documents). documents: whole documents -- "
                   "held out per document, but with few documents the halves differ systematically.")
@click.option("--stride", type=int, default=None,
              help="Tokens between window starts (default P+T: non-overlapping). Smaller packs more, overlapping "
                   "windows into segments of 4 windows' width; FIT and TEST never overlap and CIs/SEs are "
                   "clustered by segment.")
@click.option("--prompt-tokens", type=int, default=32, show_default=True, help="P: prompt tokens.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--top-p", type=float, default=0.9, show_default=True)
@click.option("--min-p", type=float, default=0.1, show_default=True)
@click.option("--smoothing", type=float, default=1e-3, show_default=True,
              help="λ of the (1−λ)q + λp̂ log-loss convention for truncating samplers.")
@click.option("--lookahead-top-k", type=int, default=None, help="Top-k candidates with their own lookahead entropy.")
@click.option("--mc-samples", type=int, default=0, show_default=True,
              help="Sampled generations per prompt for a Monte-Carlo EntCE cross-check (0 = exact only).")
@click.option("--device", default="auto", show_default=True, help="Transformers: auto, cpu, cuda, cuda:N.")
@click.option("--dtype", default="auto", show_default=True,
              help="Transformers: auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16, float16.")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Transformers: rows decoded together.")
@click.option("--samples-per-prompt", type=int, default=2, show_default=True,
              help="Transformers: sampled generations per prompt (FIT temperature runs and TEST scoring).")
@click.option("--rollouts-per-prompt", type=int, default=4, show_default=True,
              help="Transformers: base-model rollouts per FIT prompt for the future-entropy head's labels.")
@click.option("--head-epochs", type=int, default=300, show_default=True, help="Transformers: head training epochs.")
@click.option("--temperature-runs", type=int, default=5, show_default=True,
              help="Transformers: measured FIT runs for the EntCE = 0 temperature (bracket + regula falsi).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the per-method summary as JSON.")
@quiet_option
def compare(model_spec, corpus, methods, steps, samples, split, stride, prompt_tokens, seed, top_p, min_p, smoothing,
            lookahead_top_k, mc_samples, device, dtype, batch_size, samples_per_prompt, rollouts_per_prompt,
            head_epochs, temperature_runs, out_dir, as_json, quiet) -> None:
    """Fit calibration methods on human text and compare EntCE and log loss on held-out prompts.

    FIT (human text on which α, α_t, τ are fitted) and TEST (where every method is scored) are halves of the
    corpus's eval split, by passage (default) or by document (see --split).

    N-gram models get exact (DP) entropies and the exact future-entropy DP. Transformer models run every method
    through the engine (same weights/dtype for generation and scoring; runs kept in DIR/runs/): temperature solved
    from measured FIT runs, future_entropy with a learned head (its held-out error is reported); lookahead,
    temperature_slope and future_entropy_eb are skipped for them (see summary.json "skipped").

    \b
    Example:
      scalescope calibrate compare --model ngram:3@20k/char --corpus tinyshakespeare \\
          --methods base,temperature,lookahead,future_entropy,future_entropy_eb --steps 64 \\
          --split passages --stride 48 --samples 0 --out cmp1
      scalescope calibrate compare --model smollm2-135m --corpus wikitext-2 \\
          --methods base,temperature,top_p,min_p,future_entropy --samples 16 \\
          --prompt-tokens 32 --steps 32 --device cpu --out cmp-smollm2
    """
    from scalescope.calibration.methods.compare import CompareConfig, compare_methods

    cfg = CompareConfig(
        model=model_spec, corpus=corpus, methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        steps=steps, samples=samples, prompt_tokens=prompt_tokens, seed=seed, top_p=top_p, min_p=min_p,
        smoothing=smoothing, lookahead_top_k=lookahead_top_k, mc_samples=mc_samples, split=split, stride=stride,
        device=device, dtype=dtype, batch_size=batch_size, samples_per_prompt=samples_per_prompt,
        rollouts_per_prompt=rollouts_per_prompt, head_epochs=head_epochs, temperature_runs=temperature_runs,
    ).validate()
    if lookahead_top_k is not None and lookahead_top_k < 1:
        raise InputError(f"--lookahead-top-k: must be >= 1 (got {lookahead_top_k})")
    if mc_samples < 0:
        raise InputError(f"--mc-samples: must be >= 0 (got {mc_samples})")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: exists and is not a directory")
    backend = None
    if not cfg.is_ngram:
        from scalescope.calibration.corpora import load_corpus
        from scalescope.calibration.models import resolve_model

        load_corpus(corpus)  # a bad corpus fails before the (slow) model load
        if quiet:
            from scalescope.cli._common import silence_hf_progress

            silence_hf_progress()
        backend = resolve_model(model_spec, dtype=dtype, device=device, seed=seed)
    n_stages = len(set(cfg.methods) | {"base"}) + 2
    bar = tqdm(total=n_stages, disable=quiet, desc="compare", unit="stage")

    def progress(msg: str) -> None:
        bar.set_postfix_str(msg)
        bar.update(1)

    # Everything (engine runs included) goes into a temp dir next to DIR, then moves in: a failure leaves nothing
    # half-written.
    tmp = None
    try:
        if backend is not None:
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        result = compare_methods(cfg, progress=progress, backend=backend,
                                 runs_dir=None if tmp is None else tmp / "runs")
    except BaseException:
        # erase the bar so that a bad corpus/model reads as the one `error: ...` line, not appended to a bar
        bar.leave = False
        bar.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    bar.close()
    summary = result.summary_dict()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if tmp is None:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write_outputs(summary, tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in tmp.iterdir():
            if f.is_dir() and (out_dir / f.name).is_dir():
                shutil.rmtree(out_dir / f.name)  # the engine runs of an earlier comparison in DIR
            f.replace(out_dir / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if as_json:
        extra = {k: summary[k] for k in ("head", "skipped") if summary.get(k)}
        echo_json({k: {x: v[x] for x in ("entce", "entce_ci", "logloss", "logloss_se", "params")}
                   for k, v in summary["methods"].items()} | {"guarantees": summary["guarantees"]} | extra)
    else:
        click.echo(f"wrote {out_dir / 'summary.json'}")


def write_outputs(summary: dict, out: Path, *, title: str = "Entropy-calibration methods", order: int = 60) -> None:
    """summary.json, methods.csv, figures and section.json for a comparison summary."""
    from scalescope.report import write_section
    from scalescope.report.figures.methods import plot_alphas, plot_step_curves, plot_tradeoff
    from scalescope.report.style import new_figure, savefig
    from scalescope.results import write_json

    write_json(summary, out / "summary.json")
    rows = []
    pv = summary.get("paired_vs_base") or {}
    for name, e in summary["methods"].items():
        rows.append({"method": name, "entce": e["entce"], "entce_lo": e["entce_ci"][0], "entce_hi": e["entce_ci"][1],
                     "logloss": e["logloss"], "logloss_se": e["logloss_se"], "entropy": e["entropy"],
                     "logloss_diff_vs_base": pv.get(name, {}).get("logloss_diff", 0.0 if name == "base" else None),
                     "logloss_diff_vs_base_se": pv.get(name, {}).get("logloss_diff_se"),
                     "slope_per_1k": e["entce_slope_per_1k"], "coverage": e["coverage"],
                     "params": ";".join(f"{k}={v}" for k, v in e["params"].items() if k != "alphas")})
    pd.DataFrame(rows).to_csv(out / "methods.csv", index=False, float_format="%.5g")
    figs = []
    for fn, name, cap in [
        (plot_tradeoff, "tradeoff", "Held-out log loss vs |EntCE| per method (bars: SE / 95% bootstrap CI), "
                                    "with the per-step temperature path."),
        (plot_step_curves, "entce_steps", "Per-step EntCE_t of each method ("
         + ("exact DP entropies)." if summary.get("backend_kind", "ngram") == "ngram" else "sampled entropies).")),
        (plot_alphas, "alphas", "Fitted α_t of future-entropy scaling (Algorithm 1, "
         + ("exact DP)." if summary.get("backend_kind", "ngram") == "ngram" else "learned future-entropy head).")),
    ]:
        fig, ax = new_figure()
        fn(summary, ax)
        savefig(fig, out / f"{name}.png")
        figs.append((f"{name}.png", cap))
    g = summary.get("guarantees") or {}
    cfg = summary["config"]
    sp = summary.get("split") or {}
    how = {"passages": "a seeded permutation of non-overlapping passages (exchangeable halves; passages of one "
                       "document are correlated and appear in both halves, so TEST measures new passages of the "
                       "same documents)",
           "documents": "whole documents (held out per document; with few documents FIT and TEST differ "
                        "systematically)"}.get(sp.get("split", ""), "given passages")
    text = (f"Calibration methods on {cfg['model']} / {cfg['corpus']}: parameters fitted on {summary['n_fit']} "
            f"passages, scored on {summary['n_test']} held-out passages (P={cfg['prompt_tokens']}, T={cfg['steps']}; "
            f"FIT/TEST by {how}"
            + (f"; stride {sp['stride']}, SEs clustered by segment" if sp.get("se_clusters") == "segment" else "")
            + ")." + (" EntCE = H − L in nats/token with exact (DP) entropies." if summary.get("backend_kind", "ngram")
                      == "ngram" else " Every method measured with the engine (same weights/dtype for generation "
                      "and scoring); EntCE = H − L in nats/token with H the entropy along sampled generations "
                      f"({(summary.get('engine') or {}).get('samples_per_prompt')} per prompt)."))
    head = summary.get("head") or {}
    if head:
        text += (f" Learned future-entropy head: held-out RMSE δ = {head['delta_rmse']:.3f} nats vs "
                 f"{head['baseline_rmse']:.3f} for the per-step-mean label baseline")
        ridge = head.get("ridge")
        if ridge is not None:
            validated = bool(head.get("ridge_validation_rmse"))
            if ridge == "inf":
                text += ("; per-token part dropped " + ("on validation" if validated else
                                                        "(too few FIT prompts to validate one)")
                         + " (ridge = inf: the adjustment is a per-step temperature)")
            else:
                text += f"; per-token ridge {ridge:g} chosen on validation prompts"
        text += "."
    for m, why in (summary.get("skipped") or {}).items():
        text += f" {m}: {why}."
    label = {"future_entropy": "Future-entropy scaling", "future_entropy_eb": "With empirical-Bayes shrinkage"}
    for m, gm in (g.get("by_method") or {}).items():
        text += (f" {label.get(m, m)} vs base: log loss {gm['logloss_diff_minus_base']:+.4f} ± "
                 f"{gm['logloss_diff_se']:.4f} (paired SE; not worse: {gm['logloss_not_worse']}), |EntCE| "
                 f"{gm['abs_entce']:.4f} vs {gm['abs_entce_base']:.4f} (smaller: {gm['abs_entce_smaller']}).")
        mt = [x for x in summary.get("matched_temperature") or [] if x.get("method", "future_entropy") == m]
        if mt:
            text += " Against the temperature with the same |EntCE| on TEST: log loss " + ", ".join(
                f"{x['logloss_diff_fe_minus_temp']:+.4f} ± {x['logloss_diff_se']:.4f} (τ={x['tau']:.3f})" for x in mt
            ) + " (method − temperature)."
    metrics = {f"{k}.entce": v["entce"] for k, v in summary["methods"].items()}
    metrics |= {f"{k}.logloss": v["logloss"] for k, v in summary["methods"].items()}
    write_section(out, title=title, kind="calibration", summary=text, figures=figs,
                  tables=[("methods.csv", "Per-method held-out EntCE (95% CI), log loss (SE), paired log-loss change vs base (SE), "
                                          "fitted parameters.")],
                  metrics=metrics, order=order)
