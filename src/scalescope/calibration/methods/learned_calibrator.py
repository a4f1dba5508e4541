"""Future-entropy scaling for a transformer with a learned head (:class:`LearnedFutureEntropyCalibrator`) and the
engine sampler that runs a saved head, ``future_entropy_head=PATH`` (registered on import of this module; the
samplers module imports it lazily). Cao et al. 2025 §5, Algorithm 1 with the head of
:mod:`~scalescope.calibration.methods.value_head` as its regression black box.
"""

from __future__ import annotations

import torch

from scalescope.calibration.methods.transformer_passes import rollouts, teacher_forced
from scalescope.calibration.methods.value_head import (
    FutureEntropyHead,
    HeadFit,
    fit_alphas,
    rollout_labels,
    train_head,
)
from scalescope.calibration.samplers import Transform, register
from scalescope.errors import InputError, check_fitted


class LearnedFutureEntropyCalibrator:
    """Future-entropy scaling for a transformer with a learned head; see the module docstring.

    Parameters
    ----------
    horizon : int   T
    rollouts_per_prompt : int   rollouts per training prompt
    label : "entropy" | "logloss"
    epochs, lr : head training (Adam, full batch)
    ridge : penalty on the head's per-token part; None (default) chooses it on held-out FIT prompts

    :meth:`fit` samples the rollouts itself through a ``forward`` function (tiny models); :meth:`fit_arrays` takes
    rollouts and teacher-forced human-text arrays measured elsewhere (e.g. by the engine, ``compare_transformer``).
    """

    def __init__(self, *, horizon: int, rollouts_per_prompt: int = 4, label: str = "entropy", epochs: int = 300,
                 lr: float = 0.05, test_fraction: float = 0.25, tol: float = 1e-8, seed: int = 0,
                 ridge: float | None = None):
        self.horizon = horizon
        self.ridge = ridge
        self.rollouts_per_prompt = rollouts_per_prompt
        self.label = label
        self.epochs = epochs
        self.lr = lr
        self.test_fraction = test_fraction
        self.tol = tol
        self.seed = seed

    def fit(self, forward, prompts: torch.Tensor, human: torch.Tensor) -> LearnedFutureEntropyCalibrator:
        """``forward`` as :func:`hf_forward`; ``prompts`` [N, P] and ``human`` [N, T] int64 (the FIT split)."""
        if self.label not in ("entropy", "logloss"):
            raise InputError(f"label={self.label!r}: use 'entropy' or 'logloss'")
        T = self.horizon
        if human.shape[1] < T:
            raise InputError(f"human continuations have {human.shape[1]} tokens; need >= horizon {T}")
        g = torch.Generator().manual_seed(self.seed)
        rep = prompts.repeat_interleave(self.rollouts_per_prompt, 0)
        r = rollouts(forward, rep, T, g)
        per_step = r["entropy"] if self.label == "entropy" else r["neglogq"]
        logp_h, hid_h = teacher_forced(forward, prompts, human[:, :T])
        prompt_of = torch.arange(len(prompts)).repeat_interleave(self.rollouts_per_prompt)
        return self.fit_arrays(r["hidden"], r["tokens"], per_step, prompt_of, logp_h, hid_h, human[:, :T])

    def fit_arrays(self, hidden: torch.Tensor, tokens: torch.Tensor, per_step: torch.Tensor, prompt_of: torch.Tensor,
                   logp_h: torch.Tensor, hid_h: torch.Tensor, human: torch.Tensor,
                   ) -> LearnedFutureEntropyCalibrator:
        """Fit from measured arrays: rollouts (hidden [N, T, d] at the position predicting step t, sampled
        ``tokens`` [N, T], ``per_step`` [N, T] entropy or −log p̂ of the sampled token, ``prompt_of`` [N] prompt index
        of each rollout) and the FIT human text (``logp_h`` [M, T, V], ``hid_h`` [M, T, d], ``human`` [M, T]).

        The held-out rollouts for δ are those of a seeded ``test_fraction`` of the *prompts* (all rollouts of one
        prompt on the same side, so δ is measured on unseen prompts).
        """
        g = torch.Generator().manual_seed(self.seed)
        prompt_of = torch.as_tensor(prompt_of).cpu()
        prompts = torch.unique(prompt_of)
        n_test_p = min(len(prompts) - 1, max(1, int(round(self.test_fraction * len(prompts))))) \
            if len(prompts) > 1 else 0
        test_p = prompts[torch.randperm(len(prompts), generator=g)[:n_test_p]]
        is_test = torch.isin(prompt_of, test_p)
        te, tr = torch.nonzero(is_test)[:, 0], torch.nonzero(~is_test)[:, 0]
        if len(te) == 0:  # a single prompt: hold out rollouts instead
            perm = torch.randperm(len(prompt_of), generator=g)
            te, tr = perm[: max(1, len(perm) // 4)], perm[max(1, len(perm) // 4):]
        dev = hidden.device
        te, tr = te.to(dev), tr.to(dev)
        future = rollout_labels(per_step.float().to(dev))
        head, tr_info = train_head(hidden.float(), tokens.to(dev), future, vocab_size=int(logp_h.shape[-1]),
                                   train_idx=tr, test_idx=te, epochs=self.epochs, lr=self.lr, ridge=self.ridge,
                                   groups=prompt_of, seed=self.seed)
        self.head_ = head
        alphas, conv = fit_alphas(head, logp_h, hid_h, human, tol=self.tol)
        self.alphas_ = alphas
        self.result_ = HeadFit(tr_info.delta_rmse, tr_info.baseline_rmse, tr_info.train_rmse, self.label, len(tr),
                               len(te), alphas, conv, tr_info.ridge, tr_info.validation_rmse)
        return self

    def adjust(self, logp: torch.Tensor, hidden: torch.Tensor, t: int) -> torch.Tensor:
        """log q_t = log_softmax((1 + α_t) log p̂ − α_t f(h, t)); steps past the horizon are unadjusted."""
        check_fitted(self, "head_")
        if t >= self.horizon:
            return logp
        a = float(self.alphas_[t])
        with torch.no_grad():
            if next(self.head_.parameters()).device != hidden.device:
                self.head_ = self.head_.to(hidden.device)
            return torch.log_softmax((1 + a) * logp - a * self.head_(hidden.float(), t), -1)

    def sampler(self) -> FutureEntropyHeadSampler:
        return FutureEntropyHeadSampler(self)

    def save(self, path) -> None:
        """Write the fitted head and α_t (``torch.save``) so ``future_entropy_head=PATH`` samplers can load it."""
        check_fitted(self, "head_")
        torch.save({"horizon": self.horizon, "alphas": torch.as_tensor(self.alphas_),
                    "state_dict": {k: v.cpu() for k, v in self.head_.state_dict().items()}}, path)

    @classmethod
    def load(cls, path) -> LearnedFutureEntropyCalibrator:
        d = torch.load(path, map_location="cpu", weights_only=True)
        w = d["state_dict"]["lin.weight"]
        cal = cls(horizon=int(d["horizon"]))
        cal.head_ = FutureEntropyHead(int(w.shape[1]), int(w.shape[0]), cal.horizon)
        state = dict(d["state_dict"])
        state.setdefault("step_bias", torch.zeros(cal.horizon))  # heads saved before the per-step term
        cal.head_.load_state_dict(state)
        cal.head_.eval()
        cal.alphas_ = d["alphas"].numpy()
        return cal


class FutureEntropyHeadSampler(Transform):
    """Engine sampler (``transform(logits, ctx)``) applying the fitted head; needs ``ctx.hidden`` and ``ctx.step``."""

    needs_hidden = True
    truncates = False

    def __init__(self, cal: LearnedFutureEntropyCalibrator, *, path: str | None = None):
        check_fitted(cal, "head_")
        self.cal = cal
        self.spec = f"future_entropy_head={path}" if path else f"future_entropy_head(T={cal.horizon})"

    def transform(self, logits, ctx):
        if ctx.hidden is None:
            raise InputError("future_entropy_head sampler: the backend exposes no hidden states")
        return self.cal.adjust(torch.log_softmax(logits.float(), -1), ctx.hidden, ctx.step)


_LOADED: dict[tuple[str, float], LearnedFutureEntropyCalibrator] = {}


def _head_sampler_factory(value: str) -> FutureEntropyHeadSampler:
    """``future_entropy_head=PATH`` (a file written by :meth:`LearnedFutureEntropyCalibrator.save`)."""
    import os

    if not os.path.isfile(value):
        raise ValueError(f"no head file {value}")
    key = (os.path.abspath(value), os.path.getmtime(value))
    if key not in _LOADED:  # the engine parses the spec several times per run; load once
        _LOADED[key] = LearnedFutureEntropyCalibrator.load(value)
    return FutureEntropyHeadSampler(_LOADED[key], path=value)


register("future_entropy_head", _head_sampler_factory)
