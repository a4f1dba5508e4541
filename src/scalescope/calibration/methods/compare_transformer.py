"""``scalescope calibrate compare`` for transformer backends: every method measured with the engine (spec §3.2–3.4,
§5.3 item 5; Cao et al. 2025 §5, Algorithm 1 with a learned future-entropy head).

Protocol (declared; the FIT/TEST passage split is the n-gram path's, :func:`~.compare.split_passages` over the
corpus's EVAL documents (``SPLIT_SEED`` split), tokenised with the model's tokenizer):

- every number comes from :class:`~scalescope.calibration.engine.CalibrationRun` runs on the same backend (same
  weights, dtype and device for generation and teacher-forced scoring), one run per (method, split), written to
  ``runs_dir/<name>/`` (a normal run directory: ``calibrate analyze`` reads it). EOS does not stop rows
  (``stop_at_eos=False``): the horizon is a fixed T, as Algorithm 1 assumes;
- per TEST passage i: H_i = mean over its ``samples_per_prompt`` generations and T steps of the entropy of q at the
  generated prefix (Rao-Blackwellised, sampled prefixes); L_i = mean −log q(human token) (truncating samplers: the
  (1−λ)q + λp̂ mixture, spec §4 option 1); EntCE = mean_i (H_i − L_i) with a percentile bootstrap CI over passages,
  log loss with its SE -- the n-gram path's schema, but H is *sampled* (the n-gram path's H is an exact DP);
- ``temperature``: τ with EntCE = 0 on FIT, from measured runs at a few τ (τ = 1, then steps of ×/÷ ``1.25·2^k`` in
  the direction that reduces |EntCE| until the sign changes, then Illinois regula falsi in log τ; ``max_runs`` runs
  in all; same seed for every τ, so the runs share random numbers); the root of the final bracket's chord is used;
- ``top_p``/``min_p``: fixed values;
- ``future_entropy``: base-model rollouts on the FIT prompts (``rollouts_per_prompt`` each, hidden states recorded
  through a pass-through transform) -> labels (realised future entropy sums) -> head fit (:func:`~.value_head.train_head`;
  δ = held-out RMSE on the rollouts of unseen FIT prompts, against the per-step-mean baseline) -> α_t fitted per step
  on the FIT human text (teacher forced, the same run) -> TEST run with the sampler ``future_entropy_head=PATH``;
- ``lookahead``, ``temperature_slope``, ``future_entropy_eb`` are skipped (recorded in ``skipped``): the lookahead
  needs one extra forward per candidate token and step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalescope.calibration.methods.evaluate import (
    MethodEvaluation,
    bootstrap_ci,
    mean_se,
    paired_vs_base,
    slope_per_1000,
)
from scalescope.errors import InputError

SUPPORTED = ("base", "temperature", "top_p", "min_p", "future_entropy")
SKIP_REASONS = {
    "lookahead": "skipped for transformers: the Braverman lookahead needs one forward pass per candidate token "
                 "and step (V forwards per step, or top-k with a declared approximation); not implemented here",
    "temperature_slope": "skipped for transformers: the zero-slope temperature needs a dense τ sweep of measured runs",
    "future_entropy_eb": "skipped for transformers: empirical-Bayes shrinkage is implemented for the exact-DP path only",
}


class _Recorder:
    """Pass-through engine transform that keeps hidden states (generate and score mode) and, for the first
    ``score_rows`` rows, the teacher-forced log-probs. Relies on the engine visiting batches in order and steps
    0..T−1 within each batch (a fresh run, not a resume)."""

    spec = "pure"
    truncates = False
    needs_hidden = True

    def __init__(self, score_rows: int):
        self.score_rows = score_rows
        self.gen: list[list[torch.Tensor]] = []
        self.score_h: list[list[torch.Tensor]] = []
        self.score_lp: list[list[torch.Tensor]] = []
        self._score_offset = 0
        self._last_score_rows = 0

    def __call__(self, logits, ctx):
        return self.transform(logits, ctx)

    def transform(self, logits, ctx):
        if ctx.hidden is None:
            raise InputError("future_entropy: the backend exposes no hidden states (needs a transformers model)")
        if ctx.mode == "generate":
            if ctx.step == 0:
                self.gen.append([])
            self.gen[-1].append(ctx.hidden.detach().float().cpu())
        else:
            if ctx.step == 0:
                self._score_offset += self._last_score_rows
                self._last_score_rows = int(logits.shape[0])
                self.score_h.append([])
                self.score_lp.append([])
            keep = max(0, min(int(logits.shape[0]), self.score_rows - self._score_offset))
            if keep:
                self.score_h[-1].append(ctx.hidden[:keep].detach().float().cpu())
                self.score_lp[-1].append(torch.log_softmax(logits[:keep].float(), -1).cpu())
        return logits

    def arrays(self):
        gen = torch.cat([torch.stack(b, 1) for b in self.gen], 0)
        sh = torch.cat([torch.stack(b, 1) for b in self.score_h if b], 0)
        slp = torch.cat([torch.stack(b, 1) for b in self.score_lp if b], 0)
        return gen, sh, slp


class EngineMeasurer:
    """Runs one transform on given passages with the engine and returns the records as [rows, T] arrays."""

    def __init__(self, backend, corpus, *, model_spec: str, runs_dir: Path, seed: int, batch_size: int,
                 dtype: str, device: str):
        self.backend = backend
        self.corpus = corpus
        self.model_spec = model_spec
        self.runs_dir = Path(runs_dir)
        self.seed = seed
        self.batch_size = batch_size
        self.dtype = dtype
        self.device = device

    def run(self, name: str, prompts: np.ndarray, human: np.ndarray, *, sampler: str = "pure", transform=None,
            repeats: int = 1) -> dict[str, np.ndarray]:
        """Rows are blocked: row r·N + i is generation r of passage i (r < ``repeats``)."""
        from scalescope.calibration.corpora import Passages
        from scalescope.calibration.engine import CalibrationConfig, CalibrationRun, PreparedRun
        from scalescope.calibration.samplers import parse_sampler
        from scalescope.calibration.store import load_run

        P, T = prompts.shape[1], human.shape[1]
        ids = np.tile(np.concatenate([prompts, human], 1).astype(np.int64), (repeats, 1))
        n = len(ids)
        passages = Passages(ids=ids, prompt_tokens=P, steps=T, doc_index=np.zeros(n, np.int64),
                            window_index=np.zeros(n, np.int64), n_documents_scanned=0, n_skipped=0)
        cfg = CalibrationConfig(model=self.model_spec, corpus=self.corpus.name, prompt_tokens=P, steps=T, samples=n,
                                sampler=sampler, seed=self.seed, batch_size=self.batch_size, shard_size=max(64, n),
                                stop_at_eos=False, prompt_split="eval", dtype=self.dtype, device=self.device)
        prep = PreparedRun(cfg.validate(), transform or parse_sampler(sampler), passages, (), "eval")
        out = self.runs_dir / name
        try:
            CalibrationRun(cfg).run(self.backend, self.corpus, out, progress=False, prepared=prep)
        finally:
            if hasattr(self.backend, "expose_hidden"):
                self.backend.expose_hidden = False
        _, df = load_run(out)
        cols = ["token_id", "entropy_sampled", "entropy_full", "logprob", "logprob_model", "human_logprob",
                "human_logprob_model", "human_in_kept"]
        return {c: df[c].to_numpy().reshape(n, T) for c in cols}


def evaluation_from_records(name: str, params: dict[str, Any], rec: dict[str, np.ndarray], n: int, repeats: int, *,
                            truncates: bool, smoothing: float, seed: int = 0, n_boot: int = 2000
                            ) -> MethodEvaluation:
    """A :class:`MethodEvaluation` (the n-gram path's schema) from engine records of n passages × ``repeats``."""
    T = rec["entropy_sampled"].shape[1]
    ent = rec["entropy_sampled"].astype(np.float64).reshape(repeats, n, T)
    H = ent.mean(axis=(0, 2))
    lq = rec["human_logprob"][:n].astype(np.float64)
    lp = rec["human_logprob_model"][:n].astype(np.float64)
    if truncates:
        lq = np.logaddexp(np.log1p(-smoothing) + lq, np.log(smoothing) + lp)
    loss = -lq
    L = loss.mean(1)
    d = H - L
    H_t, L_t = ent.mean(axis=(0, 1)), loss.mean(0)
    slope = slope_per_1000(H_t - L_t)
    return MethodEvaluation(
        method=name, params=params, entce=float(d.mean()), entce_ci=bootstrap_ci(d, n_boot=n_boot, seed=seed),
        entce_se=mean_se(d), logloss=float(L.mean()), logloss_se=mean_se(L), entropy=float(H.mean()),
        entce_slope_per_1k=slope, coverage=float(rec["human_in_kept"][:n].mean()) if truncates else None,
        entropy_t=H_t, logloss_t=L_t, n_passages=n, steps=T, per_passage_entropy=H, per_passage_logloss=L,
        n_clusters=n,
    )


def solve_temperature_measured(measure: Callable[[float], float], *, f_at_1: float | None = None,
                               max_runs: int = 5, factor: float = 1.25) -> dict[str, Any]:
    """τ with ``measure(τ) = 0`` (EntCE on FIT) from at most ``max_runs`` measurements (see the module docstring).

    >>> r = solve_temperature_measured(lambda tau: np.log(tau) - np.log(0.9))
    >>> round(r["tau"], 3), r["bracketed"]
    (0.9, True)
    """
    pts: list[tuple[float, float]] = [(0.0, float(measure(1.0) if f_at_1 is None else f_at_1))]
    runs = 1 if f_at_1 is None else 0

    def add(x: float) -> float:
        nonlocal runs
        v = float(measure(float(np.exp(x))))
        runs += 1
        pts.append((x, v))
        return v

    step = np.log(factor)
    direction = -1.0 if pts[0][1] > 0 else 1.0  # EntCE grows with τ: too random -> lower τ
    lo = hi = None
    while runs < max_runs and pts[0][1] != 0:
        x = pts[-1][0] + direction * step
        if add(x) * pts[0][1] <= 0:
            lo, hi = sorted([pts[-2], pts[-1]])
            break
        step *= 2
    if lo is None:
        x, v = min(pts, key=lambda p: abs(p[1]))
        return {"tau": float(np.exp(x)), "bracketed": pts[0][1] == 0, "value_on_fit": v,
                "runs": [{"tau": float(np.exp(a)), "entce_fit": b} for a, b in pts]}
    fl, fh = lo[1], hi[1]
    xl, xh = lo[0], hi[0]
    side = 0
    while runs < max_runs:
        x = xh - fh * (xh - xl) / (fh - fl) if fh != fl else 0.5 * (xl + xh)
        v = add(x)
        if v == 0:
            xl = xh = x
            fl = fh = 0.0
            break
        if v * fl < 0:  # root in [xl, x]
            xh, fh = x, v
            if side == -1:
                fl /= 2  # Illinois: halve the stale end
            side = -1
        else:
            xl, fl = x, v
            if side == 1:
                fh /= 2
            side = 1
    x = xl if fh == fl else xh - fh * (xh - xl) / (fh - fl)
    best = min(pts, key=lambda p: abs(p[1]))
    return {"tau": float(np.exp(x)), "bracketed": True, "value_on_fit": best[1] if best[0] == x else None,
            "bracket": [float(np.exp(min(xl, xh))), float(np.exp(max(xl, xh)))],
            "runs": [{"tau": float(np.exp(a)), "entce_fit": b} for a, b in pts]}


def compare_transformer(cfg, *, backend=None, corpus=None, runs_dir: Path, progress=None):
    """Fit and score the transformer methods (see the module docstring); returns a
    :class:`~scalescope.calibration.methods.compare.CompareResult`. ``backend``/``corpus`` may be given (tests)."""
    from scalescope.calibration.corpora import load_corpus
    from scalescope.calibration.engine import SPLIT_SEED
    from scalescope.calibration.methods.compare import CompareResult, _guarantee, split_passages
    from scalescope.calibration.methods.value_head import LearnedFutureEntropyCalibrator
    from scalescope.calibration.models import resolve_model

    say = progress or (lambda msg: None)
    if corpus is None:
        corpus = load_corpus(cfg.corpus)
    if backend is None:
        backend = resolve_model(cfg.model, dtype=cfg.dtype, device=cfg.device, seed=cfg.seed)
    width = cfg.prompt_tokens + cfg.steps
    ctx = getattr(backend, "context_length", None)
    if ctx is not None and width > ctx:
        raise InputError(f"model '{cfg.model}': --prompt-tokens + --steps = {width} exceeds its context length {ctx}")
    _, eval_docs = corpus.split(seed=SPLIT_SEED)
    enc = [np.asarray(backend.encode(d), dtype=np.int64) for d in eval_docs]
    fit, test = split_passages(enc, prompt_tokens=cfg.prompt_tokens, steps=cfg.steps, split=cfg.split,
                               stride=cfg.stride, samples=cfg.samples or None, seed=cfg.seed, corpus_name=cfg.corpus)
    vmax = max(int(fit.prompts.max()), int(fit.human.max()), int(test.prompts.max()), int(test.human.max()))
    if vmax >= backend.vocab_size:
        raise InputError(f"model '{cfg.model}': tokenizer produced id {vmax} >= vocabulary size {backend.vocab_size}")
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    eng = EngineMeasurer(backend, corpus, model_spec=cfg.model, runs_dir=runs_dir, seed=cfg.seed,
                         batch_size=cfg.batch_size, dtype=cfg.dtype, device=cfg.device)
    R = cfg.samples_per_prompt
    nf, nt = len(fit), len(test)
    methods = list(dict.fromkeys(["base", *cfg.methods]))
    skipped = {m: SKIP_REASONS[m] for m in methods if m in SKIP_REASONS}
    methods = [m for m in methods if m in SUPPORTED]
    evals: dict[str, MethodEvaluation] = {}
    fits: dict[str, Any] = {}
    head_info: dict[str, Any] = {}

    def fit_entce(rec, reps):
        return evaluation_from_records("fit", {}, rec, nf, reps, truncates=False, smoothing=cfg.smoothing,
                                       n_boot=10).entce

    if "future_entropy" in methods:
        say("future_entropy: rollouts on FIT")
        Rr = cfg.rollouts_per_prompt
        rec_t = _Recorder(score_rows=nf)
        rec = eng.run("fit_rollouts", fit.prompts, fit.human, transform=rec_t, repeats=Rr)
        fits["future_entropy_rollouts"] = {"entce_fit_base": fit_entce(rec, Rr), "rollouts_per_prompt": Rr}
        hid, hid_h, logp_h = rec_t.arrays()
        dev = backend.device
        cal = LearnedFutureEntropyCalibrator(horizon=cfg.steps, rollouts_per_prompt=Rr, label=cfg.head_label,
                                             epochs=cfg.head_epochs, lr=cfg.head_lr, tol=cfg.tol, seed=cfg.seed)
        per_step = rec["entropy_full"] if cfg.head_label == "entropy" else -rec["logprob_model"]
        say("future_entropy: head + α_t fit")
        cal.fit_arrays(hid.to(dev), torch.tensor(rec["token_id"]).to(dev), torch.tensor(per_step),
                       torch.arange(nf).repeat(Rr), logp_h, hid_h, torch.tensor(fit.human))
        head_path = runs_dir / "future_entropy_head.pt"
        cal.save(head_path)
        r = cal.result_
        head_info = {"delta_rmse": r.delta_rmse, "baseline_rmse": r.baseline_rmse, "train_rmse": r.train_rmse,
                     "delta_over_baseline": r.delta_rmse / r.baseline_rmse if r.baseline_rmse > 0 else None,
                     "label": r.label, "units": "nats (future-entropy sum over the remaining steps)",
                     "n_train_rollouts": r.n_train_rollouts, "n_test_rollouts": r.n_test_rollouts,
                     "rollouts_per_prompt": Rr, "epochs": cfg.head_epochs,
                     "ridge": r.ridge if math.isfinite(r.ridge) else "inf",
                     "ridge_validation_rmse": r.validation_rmse,
                     "held_out": "rollouts of a seeded 25% of the FIT prompts (unseen by the head)"}
        fits["future_entropy"] = {"alphas": r.alphas, "all_converged": bool(r.converged.all()), "head": head_info,
                                  "future_entropy": "learned head on base-model rollouts (soft-Q; delta = its "
                                                    "held-out RMSE, label noise included)",
                                  "head_file": str(head_path.name)}
    for m in methods:
        say(f"fitting and scoring {m}")
        trunc = m in ("top_p", "min_p")
        if m == "base":
            spec, params = "pure", {}
        elif m == "temperature":
            n_runs = [0]

            def measure(tau, n_runs=n_runs):
                n_runs[0] += 1
                rec = eng.run(f"fit_temperature_{n_runs[0]}", fit.prompts, fit.human, sampler=f"temp={tau:.6g}",
                              repeats=R)
                return fit_entce(rec, R)

            # τ = 1 is measured again (not taken from the rollouts) so every τ shares the same random numbers.
            sol = solve_temperature_measured(measure, max_runs=cfg.temperature_runs)
            fits[m] = {"tau": sol["tau"], "bracketed": sol["bracketed"], "target": "entce", "runs": sol["runs"],
                       "measured_runs": n_runs[0],
                       "method": "measured FIT runs: bracket from τ=1, then Illinois regula falsi in log τ"}
            spec, params = f"temp={sol['tau']:.6g}", {"tau": sol["tau"]}
        elif trunc:
            v = cfg.top_p if m == "top_p" else cfg.min_p
            spec, params = f"{m}={v}", {m: v}
        else:
            spec, params = f"future_entropy_head={runs_dir / 'future_entropy_head.pt'}", {"alphas": r.alphas}
        rec = eng.run(f"test_{m}", test.prompts, test.human, sampler=spec, repeats=R)
        evals[m] = evaluation_from_records(m, params, rec, nt, R, truncates=trunc, smoothing=cfg.smoothing,
                                           seed=cfg.seed)
    base = evals["base"]
    paired = paired_vs_base(evals)
    guarantees: dict[str, Any] = {}
    if "future_entropy" in evals:
        g = _guarantee(evals["future_entropy"], base, test.doc)
        guarantees = {"by_method": {"future_entropy": g}, "head_delta_rmse": head_info.get("delta_rmse"),
                      "note": "Theorem 5.2 assumes an ε-accurate future entropy; here it is a learned head with "
                              "held-out error delta_rmse, and H is sampled, so the guarantees are checked as measured"}
    model_info = dict(backend.provenance())
    model_info.pop("discounts", None)
    split_info = {"split": cfg.split, "stride": cfg.stride or width, "window": width, "se_clusters": "passage",
                  "fit_documents": int(len(np.unique(fit.doc))), "test_documents": int(len(np.unique(test.doc))),
                  "fit_units": int(len(np.unique(fit.group))), "test_units": int(len(np.unique(test.group)))}
    engine = {"device": str(backend.device), "dtype": model_info.get("dtype"), "batch_size": cfg.batch_size,
              "samples_per_prompt": R, "stop_at_eos": False, "runs_dir": runs_dir.name,
              "entropy": "sampled: entropy of q along the method's own generations (mean over samples_per_prompt)"}
    return CompareResult(
        config=dict(vars(cfg)), model=model_info, n_fit=nf, n_test=nt, split=split_info, evaluations=evals,
        fits=fits, guarantees=guarantees, paired_vs_base=paired, matched_temperature=[], temperature_path=[],
        backend_kind="transformer", skipped=skipped, engine=engine, head=head_info,
    )
