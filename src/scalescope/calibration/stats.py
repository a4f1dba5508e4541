"""Float32, NaN-safe per-step statistics of next-token distributions (entropy, log-probs, smoothed mixtures).

Implements the quantities of the entropy-calibration spec (Cao et al. 2025, §1.2 and §1.4): the full-vocabulary
(Rao-Blackwellised) entropy H(p) = -sum_v p(v) log p(v) of every distribution the engine samples from or scores
with, the log-probability of one token, and the mixture-smoothed log-probability log((1-lam) q + lam p) that §4
option 1 uses to give truncated samplers a finite log loss.

Everything is computed in float32 from float32 logits, whatever dtype the model weights are in. Logits may contain
``-inf`` (masked vocabulary entries, truncating samplers): a naive ``-(p * log p).sum()`` then gives ``0 * -inf =
NaN``, so entropies mask non-finite log-probs explicitly (research/real-model.md, "Gotchas").

Example
-------
>>> import torch
>>> from scalescope.calibration import stats
>>> logits = torch.tensor([[0.0, 0.0, float("-inf")]])
>>> round(float(stats.entropy(logits)[0]), 6)  # two equally likely tokens -> log 2
0.693147
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "SMOOTHING_LAMBDAS",
    "log_softmax",
    "entropy",
    "entropy_from_logprobs",
    "entropy_and_probs",
    "token_logprob",
    "mixture_logprob",
    "sample_categorical",
]

#: Mixture weights of the smoothed log loss recorded for every run (spec §4 option 1): columns
#: ``human_logprob_smooth_1e-2`` etc. hold log((1 - lam) q + lam p_model) at the human token.
SMOOTHING_LAMBDAS: tuple[tuple[str, float], ...] = (("1e-2", 1e-2), ("1e-3", 1e-3), ("1e-4", 1e-4))


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Float32 log-softmax over the last dimension (``-inf`` logits stay ``-inf``)."""
    return torch.log_softmax(logits.float(), dim=-1)


def entropy_from_logprobs(logprobs: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of normalised log-probabilities ``[..., V]`` -> ``[...]``; entries at ``-inf`` contribute 0.

    ``-inf`` log-probs are clamped to the most negative finite float before multiplying, so ``p * log p`` is
    ``0 * -3.4e38 = 0`` instead of ``0 * -inf = NaN``; this is one fused-friendly pass (about 3x faster on CPU than
    masking with ``isfinite``) and never recomputes a log.
    """
    lp = logprobs.float()
    return -(lp.exp() * lp.clamp(min=torch.finfo(lp.dtype).min)).sum(dim=-1)


def entropy_and_probs(logprobs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(entropy [...], probs [..., V])`` sharing one ``exp`` (the engine samples from the same probabilities)."""
    lp = logprobs.float()
    p = lp.exp()
    return -(p * lp.clamp(min=torch.finfo(lp.dtype).min)).sum(dim=-1), p


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of ``softmax(logits)`` over the last dimension, NaN-safe with ``-inf`` logits."""
    return entropy_from_logprobs(log_softmax(logits))


def token_logprob(logprobs: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """``logprobs[b, token_ids[b]]`` for ``logprobs`` [B, V] and ``token_ids`` [B] (int64) -> [B]."""
    return logprobs.gather(-1, token_ids.long().unsqueeze(-1)).squeeze(-1)


def mixture_logprob(logq_token: torch.Tensor, logp_token: torch.Tensor, lam: float) -> torch.Tensor:
    """log((1 - lam) q + lam p) from the token log-probs under q (transformed) and p (model), computed stably.

    Finite whenever ``logp_token`` is, even if the sampler removed the token (``logq_token = -inf``).
    """
    if not 0.0 < lam < 1.0:
        raise ValueError(f"mixture weight lam={lam!r} must be in (0, 1)")
    return torch.logaddexp(logq_token + math.log1p(-lam), logp_token + math.log(lam))


def sample_categorical(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One exact draw per row of ``probs`` [B, V] (unnormalised is fine) by inverse-CDF search -> int64 [B].

    Same distribution as ``torch.multinomial(probs, 1)`` (which also searches a float32 cumulative sum on CPU) but
    ~20x faster on CPU for V ~ 50k; zero-probability tokens are never drawn. Uses one uniform per row, so the
    generator's stream (and hence a run's records) depends only on the batch shape.
    """
    cum = probs.float().cumsum(dim=-1)
    total = cum[:, -1:]
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device, dtype=cum.dtype) * total
    # right=True: the first index whose cumulative mass exceeds u, so a zero-width (p = 0) interval is skipped.
    idx = torch.searchsorted(cum, u, right=True).squeeze(1)
    return idx.clamp_(max=probs.shape[-1] - 1)
