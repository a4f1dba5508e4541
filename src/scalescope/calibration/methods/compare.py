"""Evaluation runner for calibration methods on n-gram models (``scalescope calibrate compare``; spec §5.3 item 5).

Protocol (declared):
1. The n-gram (``ngram:N[:CORPUS][@TOKENS]/char``) is trained on the TRAIN split of the corpus (E1's
   ``resolve_model``; document-level split, seed ``SPLIT_SEED``). Its exact state chain becomes a
   :class:`~scalescope.calibration.methods.markov.FiniteStateLM`.
2. The EVAL documents are divided by a seeded document-level permutation into a FIT half (human text on which
   α, α_t and τ are fitted) and a TEST half (held-out prompts on which every method is scored). Passages:
   prompt = P tokens, human continuation = next T tokens (E1's ``build_passages``). The same passages serve every
   method.
3. Methods: ``base``; ``temperature`` (τ with EntCE = 0 on FIT); ``temperature_slope`` (τ with zero EntCE slope);
   ``top_p``/``min_p`` (fixed values; log loss under the (1−λ)q + λp̂ mixture, coverage reported);
   ``lookahead`` (Braverman α); ``future_entropy`` (Algorithm 1 with exact DP).
4. Scoring is exact given the prompts (DP entropies, exact log loss); CIs are bootstrap over TEST passages.
   ``mc_samples > 0`` adds a sampled-generation estimate of EntCE as a cross-check.
5. Theorem 5.2 check: paired log-loss difference (future_entropy − base) with its standard error, and |EntCE| of
   both; plus the temperature(s) reaching the same |EntCE| as future_entropy on TEST, and their log loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalescope.calibration.methods.evaluate import MethodEvaluation, evaluate_policy, paired_difference
from scalescope.calibration.methods.future_entropy import FutureEntropyCalibrator
from scalescope.calibration.methods.lookahead import LookaheadCalibrator
from scalescope.calibration.methods.markov import FiniteStateLM
from scalescope.calibration.methods.policies import BasePolicy, TemperaturePolicy, TruncationPolicy
from scalescope.calibration.methods.temperature import (
    exact_temperature_curve,
    solve_temperature,
    solve_temperature_exact,
)
from scalescope.errors import InputError
from scalescope.results import Result

METHODS = ("base", "temperature", "temperature_slope", "top_p", "min_p", "lookahead", "future_entropy",
           "future_entropy_eb")
PATH_TAUS = tuple(np.round(np.geomspace(0.6, 2.0, 13), 4))


@dataclass(frozen=True)
class CompareConfig:
    """Settings of one comparison (see the module docstring)."""

    model: str
    corpus: str
    methods: tuple[str, ...] = ("base", "temperature", "top_p", "min_p", "lookahead", "future_entropy")
    steps: int = 64
    samples: int = 500
    prompt_tokens: int = 32
    seed: int = 0
    top_p: float = 0.9
    min_p: float = 0.1
    smoothing: float = 1e-3
    lookahead_top_k: int | None = None
    mc_samples: int = 0
    tol: float = 1e-8

    def validate(self) -> CompareConfig:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise InputError(f"--methods: unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
        if not self.methods:
            raise InputError("--methods: give at least one method")
        for name, v in [("--steps", self.steps), ("--samples", self.samples), ("--prompt-tokens", self.prompt_tokens)]:
            if v < 1:
                raise InputError(f"{name}: must be >= 1 (got {v})")
        if not 0 < self.top_p <= 1 or not 0 <= self.min_p <= 1:
            raise InputError("--top-p must be in (0, 1] and --min-p in [0, 1]")
        if not 0 < self.smoothing < 1:
            raise InputError(f"--smoothing: must be in (0, 1) (got {self.smoothing})")
        if not self.model.startswith("ngram:"):
            raise InputError(
                f"--model '{self.model}': compare runs the exact-DP methods on n-gram models (ngram:N[:CORPUS]/char); "
                "for transformer backends use scalescope.calibration.methods.value_head"
            )
        return self


@dataclass(frozen=True)
class CompareResult(Result):
    """Everything ``summary.json`` holds. ``evaluations`` maps method -> :class:`MethodEvaluation`."""

    config: dict[str, Any]
    model: dict[str, Any]
    n_fit: int
    n_test: int
    evaluations: dict[str, MethodEvaluation]
    fits: dict[str, Any]
    guarantees: dict[str, Any]
    matched_temperature: list[dict[str, Any]]
    temperature_path: list[dict[str, Any]]

    def summary_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.to_dict().items() if k != "evaluations"}
        d["methods"] = {k: e.summary_dict() for k, e in self.evaluations.items()}
        return d


def load_ngram_passages(cfg: CompareConfig):
    """(FiniteStateLM, backend, (fit_prompts, fit_human), (test_prompts, test_human)) per the declared protocol."""
    from scalescope.calibration.corpora import build_passages, load_corpus
    from scalescope.calibration.engine import SPLIT_SEED
    from scalescope.calibration.models import resolve_model

    corpus = load_corpus(cfg.corpus)
    backend = resolve_model(cfg.model, corpus=corpus, seed=cfg.seed)
    fsm = FiniteStateLM.from_ngram(backend.lm, name=cfg.model)
    _, eval_docs = corpus.split(seed=SPLIT_SEED)
    if len(eval_docs) < 2:
        raise InputError(f"corpus '{cfg.corpus}': the eval split has {len(eval_docs)} document(s); need >= 2")
    perm = np.random.default_rng(cfg.seed).permutation(len(eval_docs))
    halves = [[eval_docs[i] for i in sorted(perm[: len(perm) // 2])], [eval_docs[i] for i in sorted(perm[len(perm) // 2 :])]]
    width = cfg.prompt_tokens + cfg.steps
    out = []
    for docs, what in zip(halves, ("fit", "test")):
        enc = [backend.encode(d) for d in docs]
        avail = sum(len(e) // width for e in enc)
        if avail == 0:
            raise InputError(
                f"corpus '{cfg.corpus}': no {what} passages of {width} tokens (--prompt-tokens + --steps); lower them"
            )
        lookup = dict(zip(docs, enc))
        p = build_passages(docs, lambda d, lookup=lookup: lookup[d], prompt_tokens=cfg.prompt_tokens,
                           steps=cfg.steps, n=min(cfg.samples, avail), corpus_name=cfg.corpus)
        out.append((p.ids[:, : cfg.prompt_tokens], p.ids[:, cfg.prompt_tokens :]))
    return fsm, backend, out[0], out[1]


def compare_methods(
    cfg: CompareConfig,
    *,
    fsm: FiniteStateLM | None = None,
    fit: tuple[np.ndarray, np.ndarray] | None = None,
    test: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[str], None] | None = None,
) -> CompareResult:
    """Fit every method on FIT passages and score it on TEST passages (pass ``fsm``/``fit``/``test`` to bypass the
    corpus loading, e.g. in tests with toy models)."""
    cfg.validate() if fsm is None else None
    say = progress or (lambda msg: None)
    model_info: dict[str, Any] = {}
    if fsm is None:
        say("training n-gram and building passages")
        fsm, backend, fit, test = load_ngram_passages(cfg)
        model_info = {k: v for k, v in backend.provenance().items() if k != "discounts"}
    model_info.update({"n_states": fsm.n_states, "vocab_size": fsm.vocab_size, "order": fsm.order})
    fp, fh = fit
    tp, th = test
    ev_kw = {"smoothing": cfg.smoothing, "mc_samples": cfg.mc_samples, "seed": cfg.seed}
    evals: dict[str, MethodEvaluation] = {}
    fits: dict[str, Any] = {}
    methods = list(dict.fromkeys(["base", *cfg.methods]))  # base is always scored (the guarantees need it)
    for m in methods:
        say(f"fitting and scoring {m}")
        if m == "base":
            pol = BasePolicy(fsm)
        elif m in ("temperature", "temperature_slope"):
            sol = solve_temperature_exact(fsm, fp, fh, target="entce" if m == "temperature" else "slope")
            fits[m] = {"tau": sol.tau, "bracketed": sol.bracketed, "target": sol.target, "value_on_fit": sol.value_at_tau}
            pol = TemperaturePolicy(fsm, sol.tau, name=m)
        elif m in ("top_p", "min_p"):
            pol = TruncationPolicy(fsm, m, cfg.top_p if m == "top_p" else cfg.min_p)
        elif m == "lookahead":
            cal = LookaheadCalibrator(top_k=cfg.lookahead_top_k, tol=cfg.tol).fit(fsm, fp, fh)
            fits[m] = {"alpha": cal.alpha_, "top_k": cfg.lookahead_top_k, "converged": cal.solve_.converged,
                       "fit_logloss_base": cal.logloss_base_ / 1.0, "fit_logloss": cal.solve_.f,
                       "sign_convention": "q ∝ p̂·exp(−α·H(p̂(·|w≤t))); α>0 penalises high next-next entropy"}
            pol = cal.policy_
        else:  # future_entropy (exact Algorithm 1) or future_entropy_eb (with empirical-Bayes shrinkage of α_t)
            cal = FutureEntropyCalibrator(tol=cfg.tol, shrinkage="eb" if m.endswith("_eb") else "none").fit(fsm, fp, fh)
            r = cal.result_
            fits[m] = {
                "alphas": r.alphas, "grad_max_abs": float(np.abs(r.grads).max()), "all_converged": bool(r.converged.all()),
                "fit_entce_per_token": r.entce_per_token, "fit_identity_residual": r.identity_residual,
                "fit_bound_per_token": r.bound_per_token,
                "fit_logloss_base": float(r.logloss_base_t.sum() / r.horizon),
                "fit_logloss": float(r.logloss_t.sum() / r.horizon),
                "future_entropy": "exact DP over the n-gram's back-off states (delta = 0)",
            }
            if cal._prior is not None:
                fits[m]["prior_center"], fits[m]["prior_var"] = cal._prior[0], cal._prior[1]
            pol = cal.policy_
            pol.name = m
        evals[m] = evaluate_policy(pol, fsm, tp, th, **ev_kw)

    say("temperature path")
    ent_fn = exact_temperature_curve(fsm, tp, th, quantity="entce")
    ll_fn = exact_temperature_curve(fsm, tp, th, quantity="logloss")
    path = [{"tau": float(t), "entce": ent_fn(float(t)), "logloss": ll_fn(float(t))} for t in PATH_TAUS]

    guarantees: dict[str, Any] = {}
    matched: list[dict[str, Any]] = []
    if "future_entropy" in evals:
        fe, base = evals["future_entropy"], evals["base"]
        d_ll, se_ll = paired_difference(fe, base, "logloss")
        guarantees = {
            "logloss_diff_fe_minus_base": d_ll,
            "logloss_diff_se": se_ll,
            "logloss_not_worse": bool(d_ll <= se_ll),
            "abs_entce_fe": abs(fe.entce),
            "abs_entce_base": abs(base.entce),
            "entce_fe_ci": fe.entce_ci,
            "entce_base_ci": base.entce_ci,
            "abs_entce_smaller": bool(abs(fe.entce) < abs(base.entce)),
            "abs_entce_smaller_beyond_ci": bool(max(abs(x) for x in fe.entce_ci) < min(abs(x) for x in base.entce_ci)
                                                if np.sign(base.entce_ci[0]) == np.sign(base.entce_ci[1]) else False),
        }
        if "future_entropy_eb" in evals:
            eb = evals["future_entropy_eb"]
            d_eb, se_eb = paired_difference(eb, base, "logloss")
            guarantees["eb"] = {"logloss_diff_minus_base": d_eb, "logloss_diff_se": se_eb,
                                "logloss_not_worse": bool(d_eb <= se_eb), "abs_entce": abs(eb.entce),
                                "entce_ci": eb.entce_ci, "abs_entce_smaller": bool(abs(eb.entce) < abs(base.entce))}
        # Temperatures whose TEST EntCE equals +|EntCE_fe| or −|EntCE_fe| (up to two roots, either side of τ*).
        for sign in (+1, -1):
            sol = solve_temperature(ent_fn, grid=PATH_TAUS, offset=sign * abs(fe.entce))
            if sol.bracketed:
                ev = evaluate_policy(TemperaturePolicy(fsm, sol.tau, name="temperature_matched"), fsm, tp, th, **ev_kw)
                d, se = paired_difference(fe, ev, "logloss")
                matched.append({"tau": sol.tau, "entce": ev.entce, "logloss": ev.logloss, "logloss_se": ev.logloss_se,
                                "logloss_diff_fe_minus_temp": d, "logloss_diff_se": se})
    return CompareResult(
        config={k: v for k, v in vars(cfg).items()},
        model=model_info,
        n_fit=int(len(fh)),
        n_test=int(len(th)),
        evaluations=evals,
        fits=fits,
        guarantees=guarantees,
        matched_temperature=matched,
        temperature_path=path,
    )
