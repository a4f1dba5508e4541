"""Offline entropy-calibration demo: a family of n-gram models trained on growing amounts of text (paper §4.1, §4.3).

The paper (Cao, Valiant & Liang 2025) regresses ln EntCE on ln model size across a family (spec §1.6) and traces
log loss vs EntCE along a temperature path (spec §4, Fig. 3). Its theory (§3) is stated in training-set size m, so a
family of count models trained on the first m tokens of one corpus is the cheapest faithful stand-in that needs no
download: here interpolated Kneser-Ney n-grams (``backends.ngram``) over the Python standard library's own sources
(``corpora.load_corpus("python-stdlib")``), character tokens, prompts from the held-out documents.

:func:`run_demo` writes one run directory per model/temperature under ``out_dir/runs/`` (the same format as
``scalescope calibrate run``) and the analysis (``summary.json``, figures, ``section.json``) into ``out_dir``.
n-gram models are Markov: they need not accumulate error over steps the way the paper's transformers do, and the
section reports what was measured, whatever its sign.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from scalescope.errors import InputError
from scalescope.outputs import writes_output


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo study (defaults budgeted for < 2 minutes on 2 CPU cores)."""

    corpus: str = "python-stdlib"
    order: int = 3
    tokenizer: str = "char"
    train_tokens: tuple[int, ...] = (3_000, 30_000, 300_000, 3_000_000)
    temperatures: tuple[float, ...] = (0.8, 0.9, 1.1, 1.25, 1.5)
    prompt_tokens: int = 64
    steps: int = 96
    samples: int = 48
    n_boot: int = 500
    seed: int = 0


def _family_backends(cfg: DemoConfig, corpus):
    """One tokenizer fitted on the whole TRAIN split (shared vocabulary: per-token numbers stay comparable), then
    one n-gram per training size; only the documents the largest model needs are encoded."""
    from scalescope.calibration.backends.ngram import NGramBackend, NGramLM
    from scalescope.calibration.engine import SPLIT_SEED
    from scalescope.calibration.tokenizers import make_tokenizer

    train, _ = corpus.split(seed=SPLIT_SEED)
    tok = make_tokenizer(cfg.tokenizer).fit(train)
    need = max(cfg.train_tokens)
    ids, have = [], 0
    for d in train:
        if have >= need:
            break
        ids.append(tok.encode(d))
        have += len(ids[-1])
    out = []
    for m in sorted(cfg.train_tokens):
        spec = f"ngram:{cfg.order}:{corpus.name}@{m}/{cfg.tokenizer}"
        lm = NGramLM(order=cfg.order).fit(ids, vocab_size=tok.vocab_size, max_tokens=m)
        be = NGramBackend(lm, tok, name=spec)
        # same tag as models.resolve_model: the engine then prompts from the held-out split
        be.train_corpus_sha256 = corpus.sha256
        be.train_corpus = corpus.name
        out.append((spec, m, be))
    return out, have


@writes_output("demo calibration")
def run_demo(out_dir: Path, *, quiet: bool = True, config: DemoConfig | None = None) -> dict:
    """Run the n-gram family study into ``out_dir`` (runs under ``out_dir/runs``); returns the summary dict.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> cfg = DemoConfig(train_tokens=(1000, 10000), temperatures=(0.9,), steps=8, samples=4, n_boot=20)
    >>> s = run_demo(pathlib.Path(tempfile.mkdtemp()), config=cfg)  # doctest: +SKIP
    """
    from scalescope.calibration.analysis import AnalysisConfig, analyze_runs
    from scalescope.calibration.corpora import load_corpus
    from scalescope.calibration.engine import CalibrationConfig, CalibrationRun
    from scalescope.calibration.writer import write_analysis

    cfg = config or DemoConfig()
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    corpus = load_corpus(cfg.corpus)
    family, n_encoded = _family_backends(cfg, corpus)
    if n_encoded < max(cfg.train_tokens):
        raise InputError(f"corpus '{cfg.corpus}': only {n_encoded} training tokens, fewer than {max(cfg.train_tokens)}")
    runs_dir = out_dir / "runs"
    run_dirs = []
    jobs = [(spec, be, "pure", f"n{m}") for spec, m, be in family]
    top_spec, top_m, top_be = family[-1]
    jobs += [(top_spec, top_be, f"temp={t:g}", f"n{top_m}-temp{t:g}") for t in cfg.temperatures]
    timings = {}
    for spec, be, sampler, name in jobs:
        t1 = time.perf_counter()
        rc = CalibrationConfig(model=spec, corpus=cfg.corpus, prompt_tokens=cfg.prompt_tokens, steps=cfg.steps,
                               samples=cfg.samples, sampler=sampler, seed=cfg.seed, batch_size=cfg.samples,
                               shard_size=cfg.samples)
        d = runs_dir / name
        if d.exists():  # a re-run of the demo into the same directory: start each run afresh
            import shutil

            shutil.rmtree(d)
        CalibrationRun(rc).run(be, corpus, d, progress=not quiet)
        run_dirs.append(d)
        timings[name] = round(time.perf_counter() - t1, 2)
    acfg = AnalysisConfig(n_boot=cfg.n_boot, seed=cfg.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = analyze_runs(run_dirs, acfg)
    fam = [r for r in study.runs if r.sampler in ("", "pure")]
    signs = {r.entce > 0 for r in fam}
    # how many sizes are significant: the CI excludes 0 on the side of the point estimate
    sig = sum(1 for r in fam if math.isfinite(r.entce_ci[0]) and (r.entce_ci[1] < 0 or r.entce_ci[0] > 0))
    n_sig = f" ({sig} of {len(fam)} with a CI that excludes 0)"
    verdict = (
        f"Every training size has EntCE < 0{n_sig}: generations are LESS random than the model's log loss on held-out "
        "text (over-confident; the opposite sign to the paper's transformers), so ln EntCE and the exponent do not "
        "exist." if signs == {False} else
        f"Every training size has EntCE > 0{n_sig} (generations more random than the held-out log loss)."
        if signs == {True} else f"EntCE changes sign across training sizes{n_sig}."
    )
    intro = (
        f"Offline study: interpolated Kneser-Ney {cfg.order}-gram models ({cfg.tokenizer} tokens) trained on the first "
        f"{', '.join(f'{m:,}' for m in sorted(cfg.train_tokens))} tokens of the train split of '{cfg.corpus}', each "
        f"prompted with {cfg.samples} held-out passages ({cfg.prompt_tokens} tokens) and sampled for {cfg.steps} "
        f"steps; temperature sweep {', '.join(f'{t:g}' for t in sorted({1.0, *cfg.temperatures}))} on the largest "
        f"model. {verdict} n-gram models are Markov: they need not accumulate error over steps as transformers do."
    )
    summary = write_analysis(study, acfg, out_dir, title="Entropy calibration: n-gram family (offline)", order=40,
                             notes=[str(w.message) for w in caught], intro=intro)
    summary["demo"] = {
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()},
        "run_seconds": timings,
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    from scalescope.results import write_json

    write_json(summary, out_dir / "summary.json")
    return summary
