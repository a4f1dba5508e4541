"""Benchmark of the calibration engine on CPU/GPU: tokens/s of generate + teacher-forced scoring with full-vocabulary
entropy recorded at every step, on a random-initialised model of a real shape (no download).

Run: ``python benchmarks/bench_calibration_engine.py [--shape gpt2-small|tiny] [--batch 16] [--steps 64]``.
Prints one JSON line (generated+scored tokens per second, and the split between generation and scoring).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

SHAPES = {
    # name: (n_layer, n_embd, n_head, vocab)
    "tiny": (2, 64, 4, 50257),
    "gpt2-small": (12, 768, 12, 50257),
}


def main() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from scalescope.calibration.backends.hf import HFBackend, char_tokenizer
    from scalescope.calibration.corpora import Corpus
    from scalescope.calibration.engine import CalibrationConfig, CalibrationRun

    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="tiny", choices=sorted(SHAPES))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--sampler", default="pure")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    n_layer, n_embd, n_head, vocab = SHAPES[a.shape]
    tok = char_tokenizer("abcdefghijklmnopqrstuvwxyz ")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, vocab_size=vocab))
    be = HFBackend.from_model(model, tok, name=f"random-{a.shape}", device=a.device, dtype=a.dtype)
    doc = "the quick brown fox jumps over the lazy dog " * 40
    corpus = Corpus.from_documents("bench", [doc[i:] for i in range(a.samples)])
    cfg = CalibrationConfig(model=be.name, corpus="bench", prompt_tokens=a.prompt, steps=a.steps,
                            samples=a.samples, batch_size=a.batch, shard_size=a.samples, sampler=a.sampler)
    run = CalibrationRun(cfg)
    prep = run.prepare(be, corpus)
    # time generation and scoring separately on one batch, then the whole run
    ids = torch.as_tensor(prep.passages.ids[: a.batch])
    g = torch.Generator(device=be.device).manual_seed(0)
    with torch.inference_mode():
        t0 = time.perf_counter()
        run._generate(be, prep.transform, ids[:, : a.prompt].to(be.device), a.steps, g, True)
        t1 = time.perf_counter()
        run._score(be, prep.transform, ids[:, : a.prompt].to(be.device), ids[:, a.prompt:].to(be.device))
        t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        t3 = time.perf_counter()
        run.run(be, corpus, f"{d}/run", progress=False, prepared=prep)
        t4 = time.perf_counter()
    n = a.samples * a.steps
    print(json.dumps({
        "shape": a.shape, "params": be.n_params(), "device": str(be.device), "dtype": str(be.dtype),
        "threads": torch.get_num_threads(), "batch": a.batch, "steps": a.steps, "samples": a.samples,
        "sampler": a.sampler,
        "generate_tok_s": round(a.batch * a.steps / (t1 - t0), 1),
        "score_tok_s": round(a.batch * a.steps / (t2 - t1), 1),
        "run_sample_steps_per_s": round(n / (t4 - t3), 1),
    }))


if __name__ == "__main__":
    main()
