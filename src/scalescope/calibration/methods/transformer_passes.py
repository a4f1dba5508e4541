"""The forward passes a learned future-entropy head needs: a Hugging Face model as a ``forward`` function, the
model's own rollouts (sampled tokens, per-step entropies, hidden states), teacher-forced human text, and the held-out
EntCE / log-loss evaluation of an adjusted model (Cao et al. 2025 §5; spec §3.4, §5.3 item 5).

Split out of :mod:`~scalescope.calibration.methods.value_head` (issue 13): the head and its training live there, the
calibrator and its engine sampler in :mod:`~scalescope.calibration.methods.learned_calibrator`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


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
