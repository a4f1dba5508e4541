"""Finite-state (Markov) language models as explicit tables, the substrate of the exact dynamic programmes.

An order-n n-gram model is a Markov chain whose state is the last ``n - 1`` tokens. Writing it as two dense tables,
``logp[s, v] = log p̂(v | s)`` and ``next_state[s, v]`` (the state after emitting ``v`` in state ``s``), turns every
quantity of Cao et al. (2025) §5 / spec §3.4 that needs "the future" -- the future entropy
``H(Ŷ_>t | y_≤t)`` of the (adjusted) model, Monte-Carlo rollouts (Algorithm 2), per-step entropies of the model's own
generations -- into a finite-horizon dynamic programme over ``S`` states with cost ``O(T · S · V)``.

The state space is the full grid of ``V^(n-1)`` contexts (every context is reachable under a smoothed n-gram), so
the DP is *exact* only when ``V^(n-1) · V`` fits in memory: a character-level trigram (V ≈ 65, S ≈ 4.2k) or a
word bigram over a capped vocabulary. That is why the calibration methods use small vocabularies for the exact
path (spec §3.4 "complexity": the general algorithm is polynomial but impractical at |V| = 1e5).

:class:`FiniteStateLM` can be built from an explicit transition tensor (toy models in tests), from any batched
``contexts -> log-probs`` callable (F1's n-gram backend), or from token counts with interpolated absolute
discounting (a small self-contained fallback so the methods do not depend on a particular n-gram implementation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scalescope.errors import InputError

# S * V cells above which the dense tables are refused (float64 logp + int64 next_state = 16 bytes per cell).
MAX_CELLS = 40_000_000


@dataclass(frozen=True, eq=False)
class FiniteStateLM:
    """A language model whose next-token distribution depends only on the last ``order - 1`` tokens.

    Attributes
    ----------
    logp : float64 [S, V]   log p̂(v | state), rows normalised (may hold -inf for impossible tokens)
    next_state : int64 [S, V]   state index after emitting v in state s
    vocab_size : int  V
    order : int   n (state = last n - 1 tokens; S = V ** (n - 1), order 1 has a single state)
    name : str

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.5, 0.5]])          # a two-token bigram chain
    >>> lm = FiniteStateLM.from_transition(P)
    >>> lm.n_states, lm.vocab_size, int(lm.state_of([0, 1]))
    (2, 2, 1)
    """

    logp: np.ndarray
    next_state: np.ndarray
    vocab_size: int
    order: int
    name: str = "markov"
    # Maps contexts int64 [B, order-1] to state ids [B]; None = the dense grid (state = base-V number of the context).
    context_fn: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def n_states(self) -> int:
        return int(self.logp.shape[0])

    @property
    def probs(self) -> np.ndarray:
        return np.exp(self.logp)

    # -- state bookkeeping ----------------------------------------------------------------------------------
    def state_of(self, context) -> int:
        """State index of a context (a token sequence; only its last ``order - 1`` tokens matter)."""
        k = self.order - 1
        if k == 0:
            return 0
        ctx = [int(x) for x in list(context)[-k:]]
        if len(ctx) < k:
            raise InputError(f"context {ctx}: needs at least {k} tokens for an order-{self.order} model")
        if self.context_fn is not None:
            return int(self.context_fn(np.asarray([ctx], dtype=np.int64))[0])
        s = 0
        for tok in ctx:
            s = s * self.vocab_size + tok
        return s

    def states_of(self, tokens: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`state_of` for int tokens ``[..., L]`` (L >= order - 1): states ``[...]``."""
        k = self.order - 1
        tokens = np.asarray(tokens, dtype=np.int64)
        if k == 0:
            return np.zeros(tokens.shape[:-1], dtype=np.int64)
        if self.context_fn is not None:
            ctx = tokens[..., tokens.shape[-1] - k :]
            return np.asarray(self.context_fn(ctx.reshape(-1, k)), dtype=np.int64).reshape(tokens.shape[:-1])
        s = np.zeros(tokens.shape[:-1], dtype=np.int64)
        for j in range(k):
            s = s * self.vocab_size + tokens[..., tokens.shape[-1] - k + j]
        return s

    def context_of(self, state: int) -> list[int]:
        """The ``order - 1`` tokens of ``state`` (inverse of :meth:`state_of`; dense-grid models only)."""
        out = []
        for _ in range(self.order - 1):
            out.append(int(state % self.vocab_size))
            state //= self.vocab_size
        return out[::-1]

    def entropy_rows(self) -> np.ndarray:
        """Entropy (nats) of p̂(· | s) for every state s: ``[S]``."""
        return row_entropy(self.logp)

    # -- constructors -------------------------------------------------------------------------------------------
    @staticmethod
    def _grid_next_state(vocab_size: int, order: int) -> np.ndarray:
        k = order - 1
        n_states = vocab_size**k
        if k == 0:
            return np.zeros((1, vocab_size), dtype=np.int64)
        s = np.arange(n_states, dtype=np.int64)[:, None]
        v = np.arange(vocab_size, dtype=np.int64)[None, :]
        # Drop the oldest token (the most significant digit in base V), append v.
        return (s % (vocab_size ** (k - 1))) * vocab_size + v

    @classmethod
    def from_transition(cls, table: np.ndarray, *, name: str = "markov") -> FiniteStateLM:
        """Build from an explicit probability tensor of shape ``[V] * (n - 1) + [V]`` (rows sum to 1)."""
        table = np.asarray(table, dtype=np.float64)
        vocab_size = table.shape[-1]
        order = table.ndim
        if any(d != vocab_size for d in table.shape):
            raise InputError(f"transition table: every axis must have length V={vocab_size} (got {table.shape})")
        if np.any(table < 0) or not np.allclose(table.sum(-1), 1.0, atol=1e-8):
            raise InputError("transition table: rows must be non-negative and sum to 1")
        with np.errstate(divide="ignore"):
            logp = np.log(table.reshape(-1, vocab_size))
        return cls(logp, cls._grid_next_state(vocab_size, order), vocab_size, order, name)

    @classmethod
    def from_conditional(
        cls,
        fn: Callable[[np.ndarray], np.ndarray],
        *,
        vocab_size: int,
        order: int,
        batch: int = 4096,
        name: str = "markov",
    ) -> FiniteStateLM:
        """Build by querying ``fn(contexts int64 [B, order-1]) -> log-probs [B, V]`` for every context."""
        _check_size(vocab_size, order)
        n_states = vocab_size ** (order - 1)
        logp = np.empty((n_states, vocab_size), dtype=np.float64)
        for lo in range(0, n_states, batch):
            s = np.arange(lo, min(lo + batch, n_states), dtype=np.int64)
            ctx = np.stack([(s // vocab_size ** (order - 2 - j)) % vocab_size for j in range(order - 1)], axis=1)
            out = np.asarray(fn(ctx), dtype=np.float64)
            logp[lo : lo + len(s)] = out - _logsumexp(out, axis=1)[:, None]
        return cls(logp, cls._grid_next_state(vocab_size, order), vocab_size, order, name)

    @classmethod
    def from_ngram(cls, lm, *, name: str | None = None) -> FiniteStateLM:
        """Build from F1's fitted :class:`~scalescope.calibration.backends.ngram.NGramLM` (Kneser-Ney).

        Uses its exact back-off state chain (``lm.states()``: every context seen in training, all lengths), which is
        much smaller than the ``V^(n-1)`` grid, so the DP stays exact for e.g. a character 4-gram.
        """
        st = lm.states()
        S, V = int(st.n_states), int(lm.vocab_size_)
        if S * V > MAX_CELLS:
            raise InputError(
                f"n-gram '{name or lm.order}': {S} states x V={V} = {S * V:.3g} table cells exceeds the exact-DP limit "
                f"{MAX_CELLS:.0e}; use a char tokenizer or a smaller order/vocabulary"
            )
        logp = np.log(np.concatenate([st.next_probs(np.arange(lo, min(lo + 4096, S))) for lo in range(0, S, 4096)]))
        nxt = np.empty((S, V), dtype=np.int64)
        for lo in range(0, S, 4096):
            s = np.arange(lo, min(lo + 4096, S))
            nxt[lo : lo + len(s)] = st.next_state(np.repeat(s, V), np.tile(np.arange(V), len(s))).reshape(len(s), V)
        return cls(logp, nxt, V, int(lm.order), name or f"ngram:{lm.order}", context_fn=st.state_of)

    @classmethod
    def from_tokens(
        cls, tokens, *, vocab_size: int, order: int, discount: float = 0.75, name: str | None = None
    ) -> FiniteStateLM:
        """Interpolated absolute-discounting n-gram (Ney et al. 1994) fitted on ``tokens`` (ints in [0, V)).

        p(v | h) = max(c(h v) − D, 0) / c(h) + D · N1+(h ·) / c(h) · p(v | h'), recursing down to a uniform
        distribution, so every context has full support (all ``V^(n-1)`` states are reachable). A small fallback;
        F1's Kneser-Ney model can be used through :meth:`from_conditional` instead.
        """
        _check_size(vocab_size, order)
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
            raise InputError(f"tokens: ids must lie in [0, {vocab_size})")
        probs = np.full((1, vocab_size), 1.0 / vocab_size)  # order-0: uniform
        for k in range(0, order):  # k = context length
            n_ctx = vocab_size**k
            counts = np.zeros(n_ctx * vocab_size, dtype=np.float64)
            if tokens.size > k:
                idx = np.zeros(tokens.size - k, dtype=np.int64)
                for j in range(k + 1):
                    idx = idx * vocab_size + tokens[j : tokens.size - k + j]
                np.add.at(counts, idx, 1.0)
            counts = counts.reshape(n_ctx, vocab_size)
            total = counts.sum(1, keepdims=True)
            n_types = (counts > 0).sum(1, keepdims=True)
            # Lower-order distribution for context h = its suffix h' (drop the oldest token).
            lower = probs[np.arange(n_ctx) % max(1, vocab_size ** (k - 1)) if k > 0 else np.zeros(1, int)]
            with np.errstate(invalid="ignore", divide="ignore"):
                p = np.maximum(counts - discount, 0.0) / total + discount * n_types / total * lower
            probs = np.where(total > 0, p, lower)
        with np.errstate(divide="ignore"):
            logp = np.log(probs / probs.sum(1, keepdims=True))
        return cls(logp, cls._grid_next_state(vocab_size, order), vocab_size, order, name or f"abs-disc-{order}gram")


def _check_size(vocab_size: int, order: int) -> None:
    if order < 1:
        raise InputError(f"order {order}: must be >= 1")
    cells = vocab_size**order
    if cells > MAX_CELLS:
        raise InputError(
            f"n-gram of order {order} over V={vocab_size}: the exact DP needs V^order = {cells:.3g} table cells "
            f"(limit {MAX_CELLS:.0e}); use a smaller vocabulary (char tokenizer) or order"
        )


def _logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Row-wise log-softmax that tolerates -inf entries."""
    return x - np.expand_dims(_logsumexp(x, axis=axis), axis)


def row_entropy(logq: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of log-probabilities (``0 · log 0 = 0``)."""
    q = np.exp(logq)
    with np.errstate(invalid="ignore"):
        t = np.where(q > 0, q * logq, 0.0)
    return -t.sum(-1)
