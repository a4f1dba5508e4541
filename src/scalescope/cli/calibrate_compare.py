"""``scalescope calibrate compare``: fit and compare entropy-calibration methods on held-out human text.

Implements the evaluation runner of the calibration methods (spec §3.2–3.4, §5.3 item 5) via
:mod:`scalescope.calibration.methods.compare`: same prompts for every method, parameters fitted on a FIT half of
the corpus's held-out documents, scored on the TEST half. Writes ``DIR/summary.json``, ``DIR/methods.csv``, the
trade-off and per-step figures and ``DIR/section.json``. Inputs are validated before DIR is created.
"""

from __future__ import annotations

from pathlib import Path

import click
from tqdm.auto import tqdm

from scalescope.cli._common import SEED, Command, check_out, echo_json, overwrite_option, quiet_option
from scalescope.errors import InputError


@click.command("compare", cls=Command)
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
@overwrite_option
@quiet_option
def compare(model_spec, corpus, methods, steps, samples, split, stride, prompt_tokens, seed, top_p, min_p, smoothing,
            lookahead_top_k, mc_samples, device, dtype, batch_size, samples_per_prompt, rollouts_per_prompt,
            head_epochs, temperature_runs, out_dir, as_json, overwrite, quiet) -> None:
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
    from scalescope.calibration.methods.compare import CompareConfig
    from scalescope.calibration.methods.writer import run_comparison

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
    check_out(out_dir, command="calibrate compare", overwrite=overwrite)
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

    try:
        summary = run_comparison(cfg, out_dir, backend=backend, progress=progress, overwrite=overwrite)
    except BaseException:
        # erase the bar so that a bad corpus/model reads as the one `error: ...` line, not appended to a bar
        bar.leave = False
        bar.close()
        raise
    bar.close()
    if as_json:
        extra = {k: summary[k] for k in ("head", "skipped") if summary.get(k)}
        echo_json({k: {x: v[x] for x in ("entce", "entce_ci", "logloss", "logloss_se", "params")}
                   for k, v in summary["methods"].items()} | {"guarantees": summary["guarantees"]} | extra)
    else:
        click.echo(f"wrote {out_dir / 'summary.json'}")
