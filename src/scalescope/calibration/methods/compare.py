"""Evaluation runner for calibration methods on n-gram models (``scalescope calibrate compare``; spec §5.3 item 5).

(Transformer models -- anything :func:`~scalescope.calibration.models.resolve_model` gives that is not an n-gram --
are dispatched by :func:`compare_methods` to :mod:`.compare_transformer`: same FIT/TEST split, engine-measured
methods, learned future-entropy head. The protocol below is the n-gram one.)

Protocol (declared):
1. The n-gram (``ngram:N[:CORPUS][@TOKENS]/char``) is trained on the TRAIN split of the corpus (E1's
   ``resolve_model``; document-level split, seed ``SPLIT_SEED``). Its exact state chain becomes a
   :class:`~scalescope.calibration.methods.markov.FiniteStateLM`.
2. Passages (prompt = P tokens, human continuation = next T tokens, window W = P + T) from the EVAL documents are
   divided by a seeded permutation into a FIT half (human text on which α, α_t and τ are fitted) and a TEST half
   (held-out prompts on which every method is scored); the same passages serve every method. ``split``:
   - ``passages`` (default): the permuted units are non-overlapping segments of the documents (one window each, or
     ``OVERLAP_SEGMENT_WINDOWS`` windows' worth when ``stride < W`` packs overlapping windows into a segment), so
     FIT and TEST are exchangeable and no FIT window overlaps a TEST window. Trade-off: both halves contain
     passages of the same documents, and passages of one document are correlated, so TEST measures generalisation
     to new passages of these documents, not to new documents (SEs are per passage, or per segment when windows
     overlap; a document-clustered SE of the key paired differences is reported as well);
   - ``documents``: whole documents go to one half -- held out at the document level, but with few documents (26 in
     Tiny Shakespeare's eval split) the halves differ systematically (e.g. base EntCE −0.307 on FIT vs −0.225 on
     TEST for a 20k-token char 3-gram), which every fitted method then carries to TEST as a bias.
3. Methods: ``base``; ``temperature`` (τ with EntCE = 0 on FIT); ``temperature_slope`` (τ with zero EntCE slope);
   ``top_p``/``min_p`` (fixed values; log loss under the (1−λ)q + λp̂ mixture, coverage reported);
   ``lookahead`` (Braverman α); ``future_entropy`` (Algorithm 1 with exact DP).
4. Scoring is exact given the prompts (DP entropies, exact log loss); CIs are bootstrap over TEST passages
   (clustered by segment when windows overlap).
   ``mc_samples > 0`` adds a sampled-generation estimate of EntCE as a cross-check.
5. Theorem 5.2 check, for ``future_entropy`` and ``future_entropy_eb``: paired log-loss difference (method − base)
   with its standard error, and |EntCE| of both; plus the temperature(s) reaching the same |EntCE| on TEST, and
   their log loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalescope.calibration.methods.evaluate import (
    MethodEvaluation,
    evaluate_policy,
    paired_difference,
    paired_vs_base,
)
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
SPLITS = ("passages", "documents")
#: With overlapping windows (stride < W) the FIT/TEST unit is a segment of this many window widths.
OVERLAP_SEGMENT_WINDOWS = 4


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
    split: str = "passages"
    stride: int | None = None
    # Transformer path only (compare_transformer): engine settings, sampled generations per TEST/FIT prompt,
    # learned-head training and the measured temperature solve.
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 16
    samples_per_prompt: int = 2
    rollouts_per_prompt: int = 4
    head_epochs: int = 300
    head_lr: float = 0.05
    head_label: str = "entropy"
    temperature_runs: int = 5

    @property
    def is_ngram(self) -> bool:
        return self.model.startswith("ngram:")

    def validate(self) -> CompareConfig:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise InputError(f"--methods: unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
        if not self.methods:
            raise InputError("--methods: give at least one method")
        for name, v in [("--steps", self.steps), ("--prompt-tokens", self.prompt_tokens)]:
            if v < 1:
                raise InputError(f"{name}: must be >= 1 (got {v})")
        if self.samples is not None and self.samples < 0:
            raise InputError(f"--samples: must be >= 0 (0 = every passage; got {self.samples})")
        if self.split not in SPLITS:
            raise InputError(f"--split: use one of {', '.join(SPLITS)} (got {self.split!r})")
        if self.stride is not None and self.stride < 1:
            raise InputError(f"--stride: must be >= 1 (got {self.stride})")
        if not 0 < self.top_p <= 1 or not 0 <= self.min_p <= 1:
            raise InputError("--top-p must be in (0, 1] and --min-p in [0, 1]")
        if not 0 < self.smoothing < 1:
            raise InputError(f"--smoothing: must be in (0, 1) (got {self.smoothing})")
        for name, v in [("--batch-size", self.batch_size), ("--samples-per-prompt", self.samples_per_prompt),
                        ("--rollouts-per-prompt", self.rollouts_per_prompt), ("--head-epochs", self.head_epochs)]:
            if v < 1:
                raise InputError(f"{name}: must be >= 1 (got {v})")
        if self.temperature_runs < 2:
            raise InputError(f"--temperature-runs: must be >= 2 (got {self.temperature_runs})")
        if self.head_label not in ("entropy", "logloss"):
            raise InputError(f"--head-label: use entropy or logloss (got {self.head_label!r})")
        if self.is_ngram and (self.device, self.dtype) != ("auto", "auto"):
            raise InputError("--device/--dtype: apply to transformer models only (n-gram models run on the CPU)")
        return self


@dataclass(frozen=True)
class CompareResult(Result):
    """Everything ``summary.json`` holds. ``evaluations`` maps method -> :class:`MethodEvaluation`."""

    config: dict[str, Any]
    model: dict[str, Any]
    n_fit: int
    n_test: int
    split: dict[str, Any]
    evaluations: dict[str, MethodEvaluation]
    fits: dict[str, Any]
    guarantees: dict[str, Any]
    paired_vs_base: dict[str, dict[str, float]]
    matched_temperature: list[dict[str, Any]]
    temperature_path: list[dict[str, Any]]
    backend_kind: str = "ngram"
    skipped: dict[str, str] | None = None
    engine: dict[str, Any] | None = None
    head: dict[str, Any] | None = None

    def summary_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.to_dict().items() if k != "evaluations"}
        d["methods"] = {k: e.summary_dict() for k, e in self.evaluations.items()}
        return d


@dataclass(frozen=True)
class PassageSet:
    """Prompts int [N, P], human continuations int [N, T], the document (``doc``) and the cluster (``group``: the
    unit of the FIT/TEST assignment a window was cut from) of every passage."""

    prompts: np.ndarray
    human: np.ndarray
    doc: np.ndarray
    group: np.ndarray

    def __iter__(self):  # unpacks as (prompts, human), like the plain tuples tests pass
        return iter((self.prompts, self.human))

    def __len__(self) -> int:
        return int(len(self.human))


def _windows(ids: np.ndarray, width: int, stride: int) -> list[np.ndarray]:
    return [ids[o : o + width] for o in range(0, len(ids) - width + 1, stride)]


def split_passages(encoded: list[np.ndarray], *, prompt_tokens: int, steps: int, split: str = "passages",
                   stride: int | None = None, samples: int | None = None, seed: int = 0,
                   corpus_name: str = "corpus") -> tuple[PassageSet, PassageSet]:
    """FIT and TEST passages from tokenised eval documents (see the module docstring, step 2).

    ``split='passages'``: every document is cut into consecutive non-overlapping *segments* -- one window of
    W = P + T tokens when ``stride >= W`` (the default), else ``OVERLAP_SEGMENT_WINDOWS`` · W tokens holding the
    windows that start every ``stride`` tokens inside it -- and a seeded permutation sends half of all segments to
    FIT, half to TEST. No window crosses a segment boundary, so FIT and TEST windows never overlap.
    ``split='documents'``: whole documents go to FIT or TEST (a seeded permutation of documents).
    Each half keeps at most ``samples`` passages, taken round-robin over its units (segments / documents), first
    windows first.
    """
    width = prompt_tokens + steps
    stride = width if stride is None else int(stride)
    if stride < 1:
        raise InputError(f"--stride: must be >= 1 (got {stride})")
    if split not in SPLITS:
        raise InputError(f"--split: use one of {', '.join(SPLITS)} (got {split!r})")
    units: list[tuple[int, np.ndarray]] = []  # (document index, tokens)
    if split == "documents":
        units = [(i, e) for i, e in enumerate(encoded) if len(e) >= width]
    else:
        seg = width if stride >= width else OVERLAP_SEGMENT_WINDOWS * width
        for i, e in enumerate(encoded):
            # The document's tail (shorter than a segment) is a segment of its own if it holds a window.
            units += [(i, e[o : o + seg]) for o in range(0, len(e), seg) if len(e) - o >= width]
    if len(units) < 2:
        raise InputError(
            f"corpus '{corpus_name}': {len(units)} {'document' if split == 'documents' else 'segment'}(s) of >= "
            f"{width} tokens (--prompt-tokens + --steps) in the eval split; need >= 2 (lower them)"
        )
    perm = np.random.default_rng(seed).permutation(len(units))
    halves = [perm[: len(perm) // 2], perm[len(perm) // 2 :]]
    out = []
    for half in halves:
        # Documents in corpus order (reproduces the old document split); segments in permuted order.
        order = sorted(half) if split == "documents" else list(half)
        per_unit = [_windows(units[u][1], width, stride) for u in order]
        rows, doc, grp = [], [], []
        for w in range(max(len(x) for x in per_unit)):
            for u, wins in zip(order, per_unit):
                if w < len(wins):
                    rows.append(wins[w])
                    doc.append(units[u][0])
                    grp.append(u)
        if samples is not None:
            rows, doc, grp = rows[:samples], doc[:samples], grp[:samples]
        ids = np.stack(rows)
        out.append(PassageSet(ids[:, :prompt_tokens], ids[:, prompt_tokens:], np.asarray(doc), np.asarray(grp)))
    return out[0], out[1]


def load_ngram_passages(cfg: CompareConfig):
    """(FiniteStateLM, backend, fit PassageSet, test PassageSet) per the declared protocol."""
    from scalescope.calibration.corpora import load_corpus
    from scalescope.calibration.engine import SPLIT_SEED
    from scalescope.calibration.models import resolve_model

    corpus = load_corpus(cfg.corpus)
    backend = resolve_model(cfg.model, corpus=corpus, seed=cfg.seed)
    fsm = FiniteStateLM.from_ngram(backend.lm, name=cfg.model)
    _, eval_docs = corpus.split(seed=SPLIT_SEED)
    if cfg.split == "documents" and len(eval_docs) < 2:
        raise InputError(f"corpus '{cfg.corpus}': the eval split has {len(eval_docs)} document(s); need >= 2")
    enc = [np.asarray(backend.encode(d), dtype=np.int64) for d in eval_docs]
    fit, test = split_passages(enc, prompt_tokens=cfg.prompt_tokens, steps=cfg.steps, split=cfg.split,
                               stride=cfg.stride, samples=cfg.samples or None, seed=cfg.seed, corpus_name=cfg.corpus)
    return fsm, backend, fit, test


def _guarantee(fe: MethodEvaluation, base: MethodEvaluation, docs: np.ndarray | None) -> dict[str, Any]:
    """Theorem 5.2 as measured on TEST: paired log-loss change vs base and |EntCE| vs base's."""
    d_ll, se_ll = paired_difference(fe, base, "logloss")
    lo, hi = base.entce_ci
    g = {
        "logloss_diff_minus_base": d_ll, "logloss_diff_se": se_ll, "logloss_not_worse": bool(d_ll <= se_ll),
        "abs_entce": abs(fe.entce), "abs_entce_base": abs(base.entce), "entce_ci": fe.entce_ci,
        "abs_entce_smaller": bool(abs(fe.entce) < abs(base.entce)),
        "abs_entce_smaller_beyond_ci": bool(max(abs(x) for x in fe.entce_ci) < min(abs(lo), abs(hi))
                                            if np.sign(lo) == np.sign(hi) else False),
    }
    if docs is not None and len(np.unique(docs)) > 1:
        # Passages of one document are correlated: the same differences with a document-clustered SE.
        g["logloss_diff_se_doc_clustered"] = paired_difference(fe, base, "logloss", groups=docs)[1]
        dx, se_dx = paired_difference(fe, base, "entce", groups=docs)
        g["entce_diff_minus_base"], g["entce_diff_se_doc_clustered"] = dx, se_dx
    return g


def compare_methods(
    cfg: CompareConfig,
    *,
    fsm: FiniteStateLM | None = None,
    fit: PassageSet | tuple[np.ndarray, np.ndarray] | None = None,
    test: PassageSet | tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[str], None] | None = None,
    runs_dir=None,
    backend=None,
) -> CompareResult:
    """Fit every method on FIT passages and score it on TEST passages (pass ``fsm``/``fit``/``test`` to bypass the
    corpus loading, e.g. in tests with toy models).

    Models that are not n-grams go to :func:`~.compare_transformer.compare_transformer` (engine-measured methods,
    learned future-entropy head); their engine runs are written under ``runs_dir`` (a temporary directory, deleted
    afterwards, when None). ``backend``: an already-resolved backend for that path.
    """
    cfg.validate() if fsm is None else None
    if fsm is None and not cfg.is_ngram:
        import tempfile
        from pathlib import Path

        from scalescope.calibration.methods.compare_transformer import compare_transformer

        if runs_dir is not None:
            return compare_transformer(cfg, backend=backend, runs_dir=Path(runs_dir), progress=progress)
        with tempfile.TemporaryDirectory() as tmp:
            return compare_transformer(cfg, backend=backend, runs_dir=Path(tmp) / "runs", progress=progress)
    say = progress or (lambda msg: None)
    model_info: dict[str, Any] = {}
    if fsm is None:
        say("training n-gram and building passages")
        fsm, backend, fit, test = load_ngram_passages(cfg)
        model_info = {k: v for k, v in backend.provenance().items() if k != "discounts"}
    model_info.update({"n_states": fsm.n_states, "vocab_size": fsm.vocab_size, "order": fsm.order})
    fp, fh = fit
    tp, th = test
    test_groups = test.group if isinstance(test, PassageSet) else None
    test_docs = test.doc if isinstance(test, PassageSet) else None
    overlapping = cfg.stride is not None and cfg.stride < cfg.prompt_tokens + cfg.steps
    split_info = {"split": cfg.split, "stride": cfg.stride or cfg.prompt_tokens + cfg.steps,
                  "window": cfg.prompt_tokens + cfg.steps, "se_clusters": "segment" if overlapping else "passage"}
    if isinstance(fit, PassageSet) and isinstance(test, PassageSet):
        split_info |= {"fit_documents": int(len(np.unique(fit.doc))), "test_documents": int(len(np.unique(test.doc))),
                       "fit_units": int(len(np.unique(fit.group))), "test_units": int(len(np.unique(test.group)))}
    # Overlapping windows of one segment are resampled together; otherwise passages are the bootstrap unit.
    ev_kw = {"smoothing": cfg.smoothing, "mc_samples": cfg.mc_samples, "seed": cfg.seed,
             "groups": test_groups if overlapping else None}
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
    base = evals["base"]
    paired = paired_vs_base(evals)
    for m in ("future_entropy", "future_entropy_eb"):
        if m not in evals:
            continue
        fe = evals[m]
        g = _guarantee(fe, base, test_docs)
        if m == "future_entropy":
            guarantees.update({  # the original flat keys (future_entropy only)
                "logloss_diff_fe_minus_base": g["logloss_diff_minus_base"], "logloss_diff_se": g["logloss_diff_se"],
                "logloss_not_worse": g["logloss_not_worse"], "abs_entce_fe": g["abs_entce"],
                "abs_entce_base": g["abs_entce_base"], "entce_fe_ci": g["entce_ci"], "entce_base_ci": base.entce_ci,
                "abs_entce_smaller": g["abs_entce_smaller"],
                "abs_entce_smaller_beyond_ci": g["abs_entce_smaller_beyond_ci"],
            })
        guarantees.setdefault("by_method", {})[m] = g
        if m == "future_entropy_eb":
            guarantees["eb"] = g
        # Temperatures whose TEST EntCE equals +|EntCE_m| or −|EntCE_m| (up to two roots, either side of τ*).
        for sign in (+1, -1):
            sol = solve_temperature(ent_fn, grid=PATH_TAUS, offset=sign * abs(fe.entce))
            if sol.bracketed:
                ev = evaluate_policy(TemperaturePolicy(fsm, sol.tau, name="temperature_matched"), fsm, tp, th, **ev_kw)
                d, se = paired_difference(fe, ev, "logloss")
                matched.append({"method": m, "tau": sol.tau, "entce": ev.entce, "logloss": ev.logloss,
                                "logloss_se": ev.logloss_se, "logloss_diff_fe_minus_temp": d, "logloss_diff_se": se})
    return CompareResult(
        config={k: v for k, v in vars(cfg).items()},
        model=model_info,
        n_fit=int(len(fh)),
        n_test=int(len(th)),
        split=split_info,
        evaluations=evals,
        fits=fits,
        guarantees=guarantees,
        paired_vs_base=paired,
        matched_temperature=matched,
        temperature_path=path,
    )
