"""Benchmark of the n-gram backend: fit time and next_logprobs throughput (WikiText-2, word level, order 3).

Run: ``SCALESCOPE_DATA_DIR=../shared/data python benchmarks/bench_ngram.py [--order 3] [--batch 256]``.
Prints one JSON line. Results go into BENCHMARKS.md by hand (no timed assertions in tests).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    from scalescope.calibration.backends.ngram import NGramBackend
    from scalescope.calibration.corpora import load_corpus

    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="wikitext-2")
    ap.add_argument("--order", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--tokenizer", default="word")
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    train, evald = load_corpus(a.corpus).split(seed=0, held_out=0.1)
    t0 = time.perf_counter()
    be = NGramBackend.from_corpus(train, a.order, None, a.tokenizer)
    fit_s = time.perf_counter() - t0
    ids = np.concatenate([np.asarray(be.encode(d)) for d in evald])
    n = a.order - 1
    ctx = np.stack([ids[i : i + n] for i in range(a.batch)])
    be.lm.next_logprobs(ctx)
    t0 = time.perf_counter()
    for _ in range(a.repeats):
        be.lm.next_logprobs(ctx)
    step_s = (time.perf_counter() - t0) / a.repeats
    t0 = time.perf_counter()
    ll = be.lm.logprob(ids, from_start=False)
    eval_s = time.perf_counter() - t0
    print(json.dumps({
        "corpus": a.corpus, "order": a.order, "tokenizer": a.tokenizer, "train_tokens": be.lm.n_train_tokens_,
        "vocab": be.vocab_size, "fit_s": round(fit_s, 3), "batch": a.batch,
        "next_logprobs_ms": round(1e3 * step_s, 2), "contexts_per_s": round(a.batch / step_s),
        "eval_tokens": int(len(ids) - n), "eval_ppl": round(float(np.exp(-ll / (len(ids) - n))), 2),
        "eval_s": round(eval_s, 3),
    }))


if __name__ == "__main__":
    main()
