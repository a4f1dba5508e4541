"""Step policies: the adjusted next-token distributions q_t(· | state) that each calibration method samples from.

A policy maps (step t, states) to log-probabilities over the vocabulary, computed from a
:class:`~scalescope.calibration.methods.markov.FiniteStateLM` p̂. One class per method of spec §3.2–3.4 and §4.1:

- :class:`BasePolicy`            q = p̂ (pure ancestral sampling)
- :class:`TemperaturePolicy`     q ∝ p̂^(1/τ) (per-step temperature, spec §3.2 "what practitioners do")
- :class:`TruncationPolicy`      top-p / min-p on p̂ (spec §4.1); log loss under the declared mixture convention
- :class:`LookaheadPolicy`       Braverman et al. (2020) one-step lookahead, q ∝ p̂(v) · exp(−α · H(p̂(· | s ⊕ v)))
- :class:`FutureEntropyPolicy`   Cao et al. (2025) Eq. 9/10: q_t ∝ exp((1 + α_t) log p̂(v) − α_t · F_{t+1}(s ⊕ v))

Sign convention (all methods): α > 0 *penalises* tokens whose continuation is high-entropy (and, for the
future-entropy form, also lowers the temperature); α < 0 rewards them. α = 0 is the base model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalescope.calibration.methods.markov import FiniteStateLM, log_softmax


class Policy:
    """Base class. ``log_probs(t, states) -> float64 [len(states), V]``; ``stationary`` = independent of t."""

    name: str = "policy"
    stationary: bool = True
    truncates: bool = False

    def log_probs(self, t: int, states: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:
        return {}


@dataclass
class BasePolicy(Policy):
    """The unadjusted model p̂."""

    lm: FiniteStateLM
    name: str = "base"

    def log_probs(self, t, states):
        return self.lm.logp[np.asarray(states)]


@dataclass
class TemperaturePolicy(Policy):
    """q ∝ p̂^(1/τ) at every step (τ = 1 is the base model; the paper's α ↔ τ = 1/(1+α))."""

    lm: FiniteStateLM
    tau: float
    name: str = "temperature"

    def log_probs(self, t, states):
        return log_softmax(self.lm.logp[np.asarray(states)] / self.tau)

    @property
    def params(self):
        return {"tau": float(self.tau)}


@dataclass
class TruncationPolicy(Policy):
    """top-p (``kind='top_p'``, keep the smallest prefix with mass >= value) or min-p (keep p >= value · max p).

    Entropy is that of the renormalised truncated q (spec §4). Log loss of human text is infinite when the human
    token is removed, so :func:`~scalescope.calibration.methods.dp.human_logloss` scores the declared mixture
    (1 − λ) q + λ p̂ (spec §4 option 1) and reports coverage alongside.
    """

    lm: FiniteStateLM
    kind: str
    value: float
    name: str = ""
    truncates: bool = True

    def __post_init__(self):
        if self.kind not in ("top_p", "min_p"):
            raise ValueError(f"truncation kind {self.kind!r}: expected top_p or min_p")
        self.name = self.name or self.kind

    def log_probs(self, t, states):
        lp = self.lm.logp[np.asarray(states)]
        p = np.exp(lp)
        if self.kind == "min_p":
            keep = p >= self.value * p.max(1, keepdims=True)
        else:
            order = np.argsort(-p, axis=1, kind="stable")
            sp = np.take_along_axis(p, order, 1)
            before = np.cumsum(sp, 1) - sp  # mass strictly before each sorted token
            keep_sorted = before < self.value  # the token crossing the threshold is kept
            keep = np.zeros_like(keep_sorted)
            np.put_along_axis(keep, order, keep_sorted, 1)
        return log_softmax(np.where(keep, lp, -np.inf))

    @property
    def params(self):
        return {self.kind: float(self.value)}


@dataclass
class LookaheadPolicy(Policy):
    """Braverman et al. (2020) local calibration: q(v | s) ∝ p̂(v | s) · exp(−α · h(s ⊕ v)).

    ``h(s')`` is the one-step lookahead entropy H(p̂(· | s')). With ``top_k`` set, only the k most probable
    candidates get their own lookahead entropy; the others get the mean of the top-k values (the declared
    approximation of the public re-implementation, which saves one forward pass per remaining candidate).
    """

    lm: FiniteStateLM
    alpha: float
    top_k: int | None = None
    name: str = "lookahead"

    def features(self, states: np.ndarray) -> np.ndarray:
        """Lookahead entropy of every candidate, ``[len(states), V]`` (top-k approximated if set)."""
        states = np.asarray(states)
        h = self.lm.entropy_rows()[self.lm.next_state[states]]
        if self.top_k is not None and self.top_k < self.lm.vocab_size:
            lp = self.lm.logp[states]
            top = np.argpartition(-lp, self.top_k - 1, axis=1)[:, : self.top_k]
            mean = np.take_along_axis(h, top, 1).mean(1, keepdims=True)
            approx = np.broadcast_to(mean, h.shape).copy()
            np.put_along_axis(approx, top, np.take_along_axis(h, top, 1), 1)
            h = approx
        return h

    def log_probs(self, t, states):
        return log_softmax(self.lm.logp[np.asarray(states)] - self.alpha * self.features(states))

    @property
    def params(self):
        return {"alpha": float(self.alpha), "top_k": self.top_k}


@dataclass
class FutureEntropyPolicy(Policy):
    """Cao et al. (2025) future-entropy scaling with per-step α_t and future entropies ``F`` [T + 1, S].

    q_t(v | s) = softmax_v((1 + α_t) log p̂(v | s) − α_t F_{t+1}(s ⊕ v)), where F_{t+1}(s') is the entropy of the
    *adjusted* model's own continuation over steps t+1..T−1 from state s' (``F[T] = 0``); see
    :func:`~scalescope.calibration.methods.future_entropy.fit_future_entropy`. Steps ``t >= T`` fall back to p̂.
    """

    lm: FiniteStateLM
    alphas: np.ndarray
    future: np.ndarray
    name: str = "future_entropy"
    stationary: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        return int(len(self.alphas))

    def features(self, t: int, states: np.ndarray) -> np.ndarray:
        return self.future[t + 1][self.lm.next_state[np.asarray(states)]]

    def log_probs(self, t, states):
        states = np.asarray(states)
        if t >= self.horizon:
            return self.lm.logp[states]
        a = float(self.alphas[t])
        return log_softmax((1.0 + a) * self.lm.logp[states] - a * self.features(t, states))

    @property
    def params(self):
        return {"alphas": [float(a) for a in self.alphas], "horizon": self.horizon, **self.extra}
