"""Exact finite-horizon dynamic programmes and Monte-Carlo rollouts over a finite-state model (spec §3.4).

For a policy q_t(· | s) on a :class:`~scalescope.calibration.methods.markov.FiniteStateLM`:

- :func:`future_entropy_table` -- backward DP, G_t(s) = H(q_t(· | s)) + Σ_v q_t(v | s) G_{t+1}(s ⊕ v), G_T = 0:
  the total entropy of the policy's own generation over steps t..T−1 from state s (Cao et al.'s
  H(Ŷ_>t | y_≤t), i.e. the expected sum of −log q of its own samples).
- :func:`forward_entropy_curve` -- forward DP of the state distribution from the prompts: exact per-step entropy
  H_t = E[H(q_t(· | Ŝ_t))] of the model's own generations (the Rao-Blackwellised estimator of spec §1.2).
- :func:`monte_carlo_future_entropy` -- Algorithm 2 (sample m continuations, average Σ −log q), used to check the DP.
- :func:`human_logloss` -- per-step −log q_t(y_t | human prefix), with the mixture convention for truncation.

Cost: O(T · S · V) time, O(T · S) memory for the tables.
"""

from __future__ import annotations

import numpy as np

from scalescope.calibration.methods.markov import FiniteStateLM, row_entropy
from scalescope.calibration.methods.policies import Policy


def _tables(policy: Policy, lm: FiniteStateLM, horizon: int):
    """Yield (t, log q_t [S, V]) for t = horizon-1 .. 0, computing a stationary policy's table once."""
    all_states = np.arange(lm.n_states)
    cached = policy.log_probs(0, all_states) if policy.stationary else None
    for t in range(horizon - 1, -1, -1):
        yield t, (cached if cached is not None else policy.log_probs(t, all_states))


def future_entropy_table(policy: Policy, lm: FiniteStateLM, horizon: int) -> np.ndarray:
    """``G`` [horizon + 1, S]: G[t, s] = total entropy (nats) of the policy's generation of steps t..horizon−1.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.calibration.methods.markov import FiniteStateLM
    >>> from scalescope.calibration.methods.policies import BasePolicy
    >>> lm = FiniteStateLM.from_transition(np.full((2, 2), 0.5))
    >>> G = future_entropy_table(BasePolicy(lm), lm, 3)
    >>> np.allclose(G[0], 3 * np.log(2))
    True
    """
    G = np.zeros((horizon + 1, lm.n_states))
    for t, logq in _tables(policy, lm, horizon):
        q = np.exp(logq)
        G[t] = row_entropy(logq) + (q * G[t + 1][lm.next_state]).sum(1)
    return G


def forward_entropy_curve(policy: Policy, lm: FiniteStateLM, horizon: int, start_states: np.ndarray) -> np.ndarray:
    """Exact mean per-step entropy ``[horizon]`` of generations started from ``start_states`` (one per prompt)."""
    mu = np.bincount(np.asarray(start_states), minlength=lm.n_states).astype(np.float64)
    mu /= mu.sum()
    all_states = np.arange(lm.n_states)
    cached = policy.log_probs(0, all_states) if policy.stationary else None
    out = np.empty(horizon)
    for t in range(horizon):
        logq = cached if cached is not None else policy.log_probs(t, all_states)
        out[t] = mu @ row_entropy(logq)
        flow = mu[:, None] * np.exp(logq)
        mu = np.bincount(lm.next_state.ravel(), weights=flow.ravel(), minlength=lm.n_states)
    return out


def human_states(lm: FiniteStateLM, prompts: np.ndarray, human: np.ndarray) -> np.ndarray:
    """States ``[N, T]`` of the human prefixes: state at step t is that of prompt ⊕ human[:t]."""
    prompts, human = np.asarray(prompts), np.asarray(human)
    full = np.concatenate([prompts, human], axis=1)
    P, T, k = prompts.shape[1], human.shape[1], lm.order - 1
    return np.stack([lm.states_of(full[:, P + t - k : P + t]) for t in range(T)], axis=1)


def human_logloss(
    policy: Policy,
    lm: FiniteStateLM,
    states: np.ndarray,
    tokens: np.ndarray,
    *,
    smoothing: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step log loss ``[N, T]`` of human tokens and whether each was in the policy's support.

    For truncating policies the loss is −log((1 − λ) q + λ p̂) with λ = ``smoothing`` (spec §4 option 1, declared);
    full-support policies are scored exactly (λ unused).
    """
    N, T = tokens.shape
    loss = np.empty((N, T))
    kept = np.ones((N, T), dtype=bool)
    for t in range(T):
        logq = policy.log_probs(t, states[:, t])
        lq = np.take_along_axis(logq, tokens[:, t : t + 1], 1)[:, 0]
        if policy.truncates:
            kept[:, t] = np.isfinite(lq)
            lp = lm.logp[states[:, t], tokens[:, t]]
            lq = np.logaddexp(np.log1p(-smoothing) + lq, np.log(smoothing) + lp)
        loss[:, t] = -lq
    return loss, kept


def sample_rollouts(
    policy: Policy,
    lm: FiniteStateLM,
    start_states: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
    *,
    start_step: int = 0,
) -> dict[str, np.ndarray]:
    """Ancestral samples of steps ``start_step .. horizon-1`` from each start state.

    Returns ``tokens``, ``neglogq`` (−log q of the sampled token) and ``entropy`` (H(q_t(· | Ŝ_t))), each ``[N, L]``.
    """
    s = np.asarray(start_states).copy()
    L = horizon - start_step
    toks = np.empty((len(s), L), dtype=np.int64)
    nlq = np.empty((len(s), L))
    ent = np.empty((len(s), L))
    for j, t in enumerate(range(start_step, horizon)):
        logq = policy.log_probs(t, s)
        q = np.exp(logq)
        cdf = np.cumsum(q, 1)
        u = rng.random(len(s)) * cdf[:, -1]
        v = np.minimum((cdf < u[:, None]).sum(1), lm.vocab_size - 1)
        toks[:, j] = v
        nlq[:, j] = -logq[np.arange(len(s)), v]
        ent[:, j] = row_entropy(logq)
        s = lm.next_state[s, v]
    return {"tokens": toks, "neglogq": nlq, "entropy": ent}


def monte_carlo_future_entropy(
    policy: Policy,
    lm: FiniteStateLM,
    state: int,
    start_step: int,
    horizon: int,
    m: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Algorithm 2 of Cao et al.: mean and standard error of Σ_{u ≥ start_step} −log q_u(Ŷ_u) over m rollouts."""
    r = sample_rollouts(policy, lm, np.full(m, state), horizon, rng, start_step=start_step)
    tot = r["neglogq"].sum(1)
    return float(tot.mean()), float(tot.std(ddof=1) / np.sqrt(m)) if m > 1 else float("nan")
