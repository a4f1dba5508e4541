"""``scalescope calibrate``: measure entropy calibration (``run``); siblings ``analyze`` and ``compare`` register here.

``calibrate run`` implements the measurement protocol of Cao et al. 2025 (spec §2, §7) via
:mod:`scalescope.calibration.engine`: it validates every input (model, corpus, sampler, passage lengths, context
length, output directory) *before* creating RUN_DIR, so a bad input leaves nothing behind.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from scalescope.cli._common import SEED, Group, overwrite_option, quiet_option, silence_hf_progress


@click.group(cls=Group)
def calibrate() -> None:
    """Entropy calibration of language models: measure (run), analyse (analyze), mitigate (compare).

    \b
    Example:
      scalescope calibrate run --model ngram:3 --corpus wikitext-2 --steps 64 --samples 16 --out run1
      scalescope calibrate analyze run1 --out calib-out
      scalescope calibrate compare --model ngram:3@20k/char --corpus tinyshakespeare --steps 16 --out cmp1
    """


@calibrate.command("run")
@click.option("--model", "model_spec", required=True,
              help="HF_ID|PATH|gguf:PATH[#FILE]|smollm2-135m|ngram:N[:CORPUS][@TOKENS][/TOKENIZER]")
@click.option("--corpus", required=True,
              help="wikitext-2|tinyshakespeare|python-stdlib|python-docs|FILE|DIR|FILE.jsonl:FIELD")
@click.option("--prompt-tokens", type=int, default=128, show_default=True, help="P: human tokens given as prompt.")
@click.option("--steps", type=int, required=True, help="T: tokens generated (and human tokens scored) per sample.")
@click.option("--samples", type=int, required=True, help="N: passages, one generation each.")
@click.option("--sampler", default="pure", show_default=True,
              help="Logit transform, e.g. temp=0.9 or temp=0.9,top_p=0.95 (kinds: temp, top_k, top_p, min_p, "
                   "epsilon, eta, typical).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--shard-size", type=int, default=64, show_default=True, help="Samples per Parquet shard.")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]), default="auto",
              show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--chat-template", is_flag=True, help="Wrap prompts in the model's chat template (default: raw text).")
@click.option("--prompt-split", type=click.Choice(["auto", "all", "eval", "train"]), default="auto",
              show_default=True, help="Documents prompts come from; auto = eval split for n-grams trained on "
                                      "this corpus, else all.")
@click.option("--passages", type=click.Choice(["random", "openings"]), default=None,
              help="random (default): a seeded uniform sample of all non-overlapping windows of the running text; "
                   "openings: each document's first window (the paper's protocol for WikiText-103 articles). "
                   "With --resume: the run's own setting.")
@click.option("--passage-seed", type=SEED, default=None,
              help="Seed of --passages random (default 0; independent of --seed, so runs can share prompts).")
@click.option("--engine", type=click.Choice(["simple", "fast"]), default="simple", show_default=True,
              help="simple: any backend, step API; fast: static-cache decoder for transformers models "
                   "(scalescope.calibration.fast), same records.")
@click.option("--ignore-eos", is_flag=True, help="Keep every row alive even after EOS is sampled.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="RUN_DIR to write.")
@click.option("--resume", is_flag=True, help="Continue an interrupted RUN_DIR (same configuration required).")
@overwrite_option
@quiet_option
def run(model_spec, corpus, prompt_tokens, steps, samples, sampler, seed, batch_size, shard_size, dtype, device,
        chat_template, prompt_split, passages, passage_seed, engine, ignore_eos, out_dir, resume, overwrite,
        quiet) -> None:
    """Sample from a model and score human text, recording per-step entropy and log loss.

    Writes RUN_DIR/manifest.json and RUN_DIR/shards/*.parquet (one row per sample and step).

    \b
    Example:
      scalescope calibrate run --model ngram:3 --corpus wikitext-2 --prompt-tokens 32 \\
          --steps 64 --samples 16 --out run1
      scalescope calibrate run --model smollm2-135m --corpus wikitext-2 --steps 128 \\
          --samples 32 --sampler temp=0.9 --out run2
    """
    from scalescope.calibration.engine import CalibrationConfig
    from scalescope.calibration.execute import run_calibration

    cfg = CalibrationConfig(
        model=model_spec, corpus=corpus, prompt_tokens=prompt_tokens, steps=steps, samples=samples, sampler=sampler,
        seed=seed, batch_size=batch_size, shard_size=shard_size, stop_at_eos=not ignore_eos,
        chat_template=chat_template, prompt_split=prompt_split, dtype=dtype, device=device, passages=passages,
        passage_seed=passage_seed,  # None: with --resume the run's own setting, else the default
    )
    if quiet and not model_spec.startswith("ngram:"):
        silence_hf_progress()
    run_calibration(cfg, out_dir, resume=resume, engine=engine, progress=not quiet, overwrite=overwrite)
    click.echo(str(out_dir))


# Sibling commands owned by other modules (E2: analyze, F2: compare) register themselves here when present.
for _mod, _name in [("calibrate_analyze", "analyze"), ("calibrate_compare", "compare"),
                   ("calibrate_sweep", "sweep")]:
    try:
        _m = importlib.import_module(f"scalescope.cli.{_mod}")
    except ModuleNotFoundError as _e:
        if _e.name != f"scalescope.cli.{_mod}":
            raise
        continue
    calibrate.add_command(getattr(_m, _name))
