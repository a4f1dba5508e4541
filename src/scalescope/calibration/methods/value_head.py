"""A learned future-entropy head for transformer LMs: the practical stand-in for Algorithm 1's regression black box
(Cao et al. 2025 §5, Assumption 5.1; spec §3.4 and §5.3 item 5).

For a neural LM the future entropy H(Ŷ_>t | y_≤t) of every candidate token cannot be computed exactly. We regress
it, soft-Q style: a head f(h_t, t) ∈ R^V on the last hidden state h_t (which predicts token t) outputs, for every
candidate v, the expected entropy of the model's own continuation after v. Training data are the model's own
rollouts: at each step t the label of the *sampled* token v_t is the realised future sum over steps t+1..T−1
(``label="entropy"``: Σ_s H(p̂(· | Ŷ_<s)), the Rao-Blackwellised form with the same expectation and lower variance;
``label="logloss"``: Σ_s −log p̂(Ŷ_s), Algorithm 2 with m = 1). Only the taken action's output is trained
(as in Q-learning), so unbiased single-rollout labels suffice. Parametrisation: f_v(h, t) = (T − 1 − t) · (W h + b)_v,
so f ≡ 0 at the last step (F_T = 0) and the head learns a per-step future entropy *rate*.

Declared approximation vs Algorithm 1: labels come from the BASE model's rollouts (one round), not from the
adjusted model's own rollouts re-fitted backward per step; α_t is then fitted per step on human text exactly as in
the exact-DP method. The head's held-out RMSE against fresh rollout labels is reported as the theorem's δ (it
includes label noise, so it is an upper bound on the regression error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from scalescope.calibration.methods.solve1d import exp_family_loss, minimize_convex_1d
from scalescope.errors import InputError, check_fitted
from scalescope.results import Result

try:  # the engine's sampler base class, so the adjusted model runs in `calibrate run` like any sampler
    from scalescope.calibration.samplers import StepContext, Transform
except ImportError:  # pragma: no cover
    Transform, StepContext = object, None


def hf_forward(model) -> Any:
    """``forward(ids [B, L]) -> (log-probs [B, V], last hidden [B, d])`` at the last position of a HF causal LM."""

    @torch.no_grad()
    def fwd(ids: torch.Tensor):
        out = model(input_ids=ids, output_hidden_states=True)
        return torch.log_softmax(out.logits[:, -1].float(), -1), out.hidden_states[-1][:, -1].float()

    return fwd


@torch.no_grad()
def rollouts(forward, prompts: torch.Tensor, steps: int, generator: torch.Generator, adjust=None) -> dict[str, torch.Tensor]:
    """Sample ``steps`` tokens per prompt (full recompute each step: fine for tiny models).

    ``adjust(logp, hidden, t) -> logq`` optionally transforms the distribution. Returns hidden [N, T, d], tokens,
    neglogq [N, T] (of the sampled token under q) and entropy [N, T] of q.
    """
    ids = prompts.clone()
    H, toks, nlq, ent = [], [], [], []
    for t in range(steps):
        logp, h = forward(ids)
        logq = adjust(logp, h, t) if adjust is not None else logp
        v = torch.multinomial(logq.exp(), 1, generator=generator)[:, 0]
        H.append(h)
        toks.append(v)
        nlq.append(-logq.gather(1, v[:, None])[:, 0])
        ent.append(-(logq.exp() * logq.clamp_min(-1e30)).sum(1))
        ids = torch.cat([ids, v[:, None]], 1)
    return {"hidden": torch.stack(H, 1), "tokens": torch.stack(toks, 1), "neglogq": torch.stack(nlq, 1),
            "entropy": torch.stack(ent, 1)}


@torch.no_grad()
def teacher_forced(forward, prompts: torch.Tensor, human: torch.Tensor):
    """log p̂ [N, T, V] and hidden [N, T, d] along the human continuation (position t predicts human[:, t])."""
    ids = prompts.clone()
    LP, H = [], []
    for t in range(human.shape[1]):
        logp, h = forward(ids)
        LP.append(logp)
        H.append(h)
        ids = torch.cat([ids, human[:, t : t + 1]], 1)
    return torch.stack(LP, 1), torch.stack(H, 1)


class FutureEntropyHead(torch.nn.Module):
    """f_v(h, t) = (T − 1 − t) · (W h + b)_v: per-candidate future entropy (nats) after step t."""

    def __init__(self, hidden_size: int, vocab_size: int, horizon: int):
        super().__init__()
        self.horizon = horizon
        self.lin = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, h: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        remaining = (self.horizon - 1 - torch.as_tensor(t, dtype=h.dtype)).clamp_min(0)
        if remaining.ndim:
            remaining = remaining[..., None]
        return remaining * self.lin(h)


@dataclass(frozen=True)
class HeadFit(Result):
    """Head training diagnostics: ``delta_rmse`` = held-out RMSE vs rollout labels (the theorem's δ, label noise
    included), ``baseline_rmse`` = RMSE of the per-step mean label, ``label`` kind, sample counts."""

    delta_rmse: float
    baseline_rmse: float
    train_rmse: float
    label: str
    n_train_rollouts: int
    n_test_rollouts: int
    alphas: np.ndarray
    converged: np.ndarray


class LearnedFutureEntropyCalibrator:
    """Future-entropy scaling for a transformer with a learned head; see the module docstring.

    Parameters
    ----------
    horizon : int   T
    rollouts_per_prompt : int   rollouts per training prompt
    label : "entropy" | "logloss"
    epochs, lr : head training (Adam, full batch)
    """

    def __init__(self, *, horizon: int, rollouts_per_prompt: int = 4, label: str = "entropy", epochs: int = 300,
                 lr: float = 0.05, test_fraction: float = 0.25, tol: float = 1e-8, seed: int = 0):
        self.horizon = horizon
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
        # label at t = realised sum over steps t+1..T-1 (reverse cumulative sum, shifted by one)
        future = per_step.flip(1).cumsum(1).flip(1) - per_step
        N, _, d = r["hidden"].shape
        n_test = max(1, int(round(self.test_fraction * len(prompts)))) * self.rollouts_per_prompt
        idx = torch.randperm(N, generator=g)
        te, tr = idx[:n_test], idx[n_test:]
        logp0, _ = forward(prompts[:1])
        V = logp0.shape[1]
        head = FutureEntropyHead(d, V, T)
        opt = torch.optim.Adam(head.parameters(), lr=self.lr)
        tt = torch.arange(T).expand(N, T)

        def loss_on(sel):
            pred = head(r["hidden"][sel], tt[sel]).gather(2, r["tokens"][sel][..., None])[..., 0]
            return ((pred - future[sel]) ** 2)[:, : T - 1].mean()  # step T-1 has label 0 and f = 0

        for _ in range(self.epochs):
            opt.zero_grad()
            loss = loss_on(tr)
            loss.backward()
            opt.step()
        with torch.no_grad():
            train_rmse = float(loss_on(tr).sqrt())
            delta = float(loss_on(te).sqrt())
            base = float(((future[te] - future[tr].mean(0)) ** 2)[:, : T - 1].mean().sqrt())
        self.head_ = head.eval()
        # α_t per step on human text (Algorithm 1 step a), with the head's features.
        logp_h, hid_h = teacher_forced(forward, prompts, human[:, :T])
        alphas, conv = np.zeros(T), np.zeros(T, dtype=bool)
        with torch.no_grad():
            for t in range(T):
                A = logp_h[:, t].double().numpy()
                B = head(hid_h[:, t], t).double().numpy()
                fgh = exp_family_loss(A, B, human[:, t].numpy(), lambda a: (1.0 + a, 1.0), lambda a: (a, 1.0))
                s = minimize_convex_1d(fgh, lo=-0.95, hi=50.0, tol=self.tol)
                alphas[t], conv[t] = s.x, s.converged
        self.alphas_ = alphas
        self.result_ = HeadFit(delta, base, train_rmse, self.label, len(tr), len(te), alphas, conv)
        return self

    def adjust(self, logp: torch.Tensor, hidden: torch.Tensor, t: int) -> torch.Tensor:
        """log q_t = log_softmax((1 + α_t) log p̂ − α_t f(h, t)); steps past the horizon are unadjusted."""
        check_fitted(self, "head_")
        if t >= self.horizon:
            return logp
        a = float(self.alphas_[t])
        with torch.no_grad():
            return torch.log_softmax((1 + a) * logp - a * self.head_(hidden.float(), t), -1)

    def sampler(self) -> FutureEntropyHeadSampler:
        return FutureEntropyHeadSampler(self)


class FutureEntropyHeadSampler(Transform):
    """Engine sampler (``transform(logits, ctx)``) applying the fitted head; needs ``ctx.hidden`` and ``ctx.step``."""

    needs_hidden = True
    truncates = False

    def __init__(self, cal: LearnedFutureEntropyCalibrator):
        check_fitted(cal, "head_")
        self.cal = cal
        self.spec = f"future_entropy_head(T={cal.horizon})"

    def transform(self, logits, ctx):
        if ctx.hidden is None:
            raise InputError("future_entropy_head sampler: the backend exposes no hidden states")
        return self.cal.adjust(torch.log_softmax(logits.float(), -1), ctx.hidden, ctx.step)


@torch.no_grad()
def evaluate_transformer(forward, prompts, human, *, adjust=None, samples_per_prompt: int = 4, seed: int = 0):
    """Held-out EntCE (sampled generations, Rao-Blackwellised entropies) and exact human log loss under q.

    Returns a dict with per-token ``entce``, ``entce_se``, ``logloss``, ``logloss_se``, ``entropy`` (SEs over prompts).
    """
    T = human.shape[1]
    g = torch.Generator().manual_seed(seed)
    r = rollouts(forward, prompts.repeat_interleave(samples_per_prompt, 0), T, g, adjust=adjust)
    H = r["entropy"].double().mean(1).reshape(len(prompts), samples_per_prompt).mean(1).numpy()
    logp, hid = teacher_forced(forward, prompts, human)
    if adjust is not None:
        logq = torch.stack([adjust(logp[:, t], hid[:, t], t) for t in range(T)], 1)
    else:
        logq = logp
    L = (-logq.gather(2, human[..., None])[..., 0]).double().mean(1).numpy()
    d = H - L
    n = len(d)
    return {"entce": float(d.mean()), "entce_se": float(d.std(ddof=1) / np.sqrt(n)), "logloss": float(L.mean()),
            "logloss_se": float(L.std(ddof=1) / np.sqrt(n)), "entropy": float(H.mean()), "per_prompt_logloss": L,
            "per_prompt_entce": d}
