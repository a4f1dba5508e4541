"""Interpolated Kneser-Ney n-gram language models, vectorised, as a calibration backend.

Count-based models make the entropy-calibration study cheap and exact: a family of n-grams trained on growing amounts
of text is the toolkit's offline stand-in for a model-size family (spec §1.6, §3.1: the theory is stated in training-set
size m), and their next-token distributions are explicit, so future entropies can be computed by dynamic programming
over n-gram states (``NGramLM.states()``, used by ``scalescope.calibration.methods``).

Model (Chen & Goodman 1998, interpolated Kneser-Ney), for order N and context h of length k-1::

    P_k(w | h) = (c_k(h w) - D_k(c_k(h w)))_+ / C_k(h)  +  gamma_k(h) * P_{k-1}(w | h[1:])
    gamma_k(h) = sum_{w: c_k(h w) > 0} D_k(c_k(h w)) / C_k(h),      C_k(h) = sum_w c_k(h w)

with c_N = raw counts at the highest order and c_k = continuation counts N1+(. h w) (number of distinct left
neighbours) for k < N. The base is P_0(w) = 1/V (uniform over the vocabulary), so every token has non-zero
probability and log loss is always finite. If a context h was never seen, P_k(w | h) = P_{k-1}(w | h[1:]).
Discounts: one constant ``D`` for every count (``discount=0.75``) or modified Kneser-Ney (``discount="modified"``,
D_1, D_2, D_3+ per order from the count-of-counts). Each document is left-padded with N-1 beginning-of-document
symbols (id -1 in contexts), so probabilities at the start of a document are learned too.

Everything is stored as one sparse CSR matrix of discounted probabilities per order (rows = contexts) plus a vector of
back-off weights, so ``next_logprobs`` for a batch of contexts is N sparse-row gathers and dense axpys over [B, V].

Example
-------
>>> lm = NGramLM(order=3).fit([[0, 1, 2, 0, 1, 3]], vocab_size=4)
>>> p = np.exp(lm.next_logprobs(np.array([[0, 1]])))
>>> round(float(p.sum()), 6)
1.0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from scalescope.errors import InputError, check_fitted

BOS = -1  # beginning-of-document symbol in contexts (left padding)
WILDCARD = -2  # "no constraint" position in a back-off state's context (see NGramStates)


def _kn_discounts(counts: np.ndarray, discount: float | str) -> np.ndarray:
    """Discounts [D(1), D(2), D(3+)] for one order. Modified KN: Chen & Goodman (1998) eq. 26 from count-of-counts."""
    if discount != "modified":
        d = float(discount)
        return np.array([min(d, 1.0), min(d, 2.0), min(d, 3.0)])
    n = np.bincount(np.minimum(counts, 5).astype(np.int64), minlength=6)[1:5].astype(float)
    n1, n2, n3, n4 = n
    if n1 <= 0 or n2 <= 0 or n3 <= 0 or n4 <= 0:
        # Too few types for the estimator (tiny corpora): the classic constant discount.
        return np.array([0.75, 0.75, 0.75]) if n1 > 0 else np.array([0.5, 0.5, 0.5])
    y = n1 / (n1 + 2.0 * n2)
    d = np.array([1.0 - 2.0 * y * n2 / n1, 2.0 - 3.0 * y * n3 / n2, 3.0 - 4.0 * y * n4 / n3])
    # D_r must stay in [0, r] so that every discounted count is >= 0 and probabilities stay normalised.
    return np.clip(d, 0.0, np.array([1.0, 2.0, 3.0]))


@dataclass(frozen=True)
class NGramOrderTable:
    """Order-k tables: contexts of length k-1 (sorted lookup keys), discounted probabilities, back-off weights."""

    keys: np.ndarray  # int64 [n_ctx] sorted: encode(first token) * n_ctx(k-1) + id(suffix)  (k >= 2), [0] for k = 1
    gram_keys: np.ndarray  # int64 [n_grams] sorted: context row * V + word (= the CSR entries in order)
    probs: sp.csr_matrix  # [n_ctx, V] (c - D)/C
    gamma: np.ndarray  # float64 [n_ctx]
    discounts: np.ndarray  # [D1, D2, D3+]
    n_grams: int  # distinct k-grams


class NGramLM:
    """Interpolated Kneser-Ney n-gram LM over integer token ids (numpy/scipy only).

    Parameters
    ----------
    order : int
        N >= 1 (1 = unigram KN interpolated with uniform).
    discount : float or "modified"
        Constant absolute discount in (0, 1], or modified Kneser-Ney per-order discounts D1, D2, D3+.

    Attributes (after ``fit``)
    ---------------------------
    vocab_size_ : int             V, size of the output distribution
    vocab_ : list[str] | None     token strings when fitted from texts with a tokenizer
    n_train_tokens_ : int         training tokens counted
    tables_ : list[NGramOrderTable]   index k-1 holds order k
    unigram_ : float64 [V]        P_1

    Example
    -------
    >>> lm = NGramLM(order=2, discount=0.75).fit([[1, 2, 1, 2]], vocab_size=3)
    >>> round(float(np.exp(lm.logprob([1, 2]))), 9)
    0.494140625
    """

    def __init__(self, order: int = 3, discount: float | str = "modified"):
        self.order = order
        self.discount = discount

    # ------------------------------------------------------------------------------------------------ fitting
    def fit(
        self,
        sequences: Iterable[Sequence[int]] | Iterable[str],
        *,
        vocab_size: int | None = None,
        tokenizer: Any = None,
        max_tokens: int | None = None,
    ) -> NGramLM:
        """Count n-grams in ``sequences`` (documents of token ids, or texts when ``tokenizer`` is given).

        ``vocab_size`` defaults to the tokenizer's size, else max id + 1. ``max_tokens`` keeps only the first that
        many training tokens (documents in order, the last one cut).
        """
        order = self.order
        if not isinstance(order, int | np.integer) or order < 1:
            raise InputError(f"order={order!r}: must be an integer >= 1")
        if self.discount != "modified":
            try:
                d = float(self.discount)
            except (TypeError, ValueError):
                raise InputError(f"discount={self.discount!r}: use a number in (0, 1] or 'modified'") from None
            if not 0.0 < d <= 1.0:
                raise InputError(f"discount={self.discount!r}: must be in (0, 1] (or 'modified')")
        docs: list[np.ndarray] = []
        if tokenizer is not None:
            self.vocab_ = tokenizer.token_strings()
            vocab_size = tokenizer.vocab_size if vocab_size is None else vocab_size
            for t in sequences:
                docs.append(np.asarray(tokenizer.encode(t) if isinstance(t, str) else t, dtype=np.int64))
        else:
            self.vocab_ = None
            for s in sequences:
                if isinstance(s, str):
                    raise InputError("sequences: got text; pass tokenizer=... or token-id sequences")
                docs.append(np.asarray(s, dtype=np.int64).reshape(-1))
        if max_tokens is not None:
            left, kept = int(max_tokens), []
            for d in docs:
                if left <= 0:
                    break
                kept.append(d[:left])
                left -= len(kept[-1])
            docs = kept
        docs = [d for d in docs if len(d)]
        n_tok = int(sum(len(d) for d in docs))
        if n_tok == 0:
            raise InputError("training data: no tokens to count")
        max_id = int(max(d.max() for d in docs))
        if min(int(d.min()) for d in docs) < 0:
            raise InputError("training data: token ids must be >= 0")
        V = int(vocab_size) if vocab_size is not None else max_id + 1
        if max_id >= V:
            raise InputError(f"training data: token id {max_id} >= vocab_size {V}")

        # Windows [T, N] of padded token codes (code = id + 1, BOS = 0) ending at every real token.
        pad = order - 1
        win = np.empty((n_tok, order), dtype=np.int64)
        pos = 0
        for d in docs:
            codes = np.concatenate([np.zeros(pad, dtype=np.int64), d + 1])
            L = len(d)
            for j in range(order):
                win[pos : pos + L, j] = codes[j : j + L]
            pos += L
        words = win[:, -1] - 1

        # Context ids per length j (0..N-1), built right to left so keys never overflow:
        # key_j = code(first token) * n_ctx(j-1) + id(suffix of length j-1).
        ctx_ids = [np.zeros(n_tok, dtype=np.int64)]
        ctx_keys = [np.zeros(1, dtype=np.int64)]
        for j in range(1, order):
            key = win[:, order - 1 - j] * len(ctx_keys[-1]) + ctx_ids[-1]
            uniq, inv = np.unique(key, return_inverse=True)
            ctx_keys.append(uniq)
            ctx_ids.append(inv.reshape(-1))

        # k-gram ids (k = 1..N): (context id of length k-1) * V + word.
        gram_uniq, gram_inv, gram_first = [], [], []
        for k in range(1, order + 1):
            g = ctx_ids[k - 1] * V + words
            uniq, first, inv = np.unique(g, return_index=True, return_inverse=True)
            gram_uniq.append(uniq)
            gram_first.append(first)
            gram_inv.append(inv.reshape(-1))

        tables: list[NGramOrderTable] = []
        for k in range(1, order + 1):
            uniq = gram_uniq[k - 1]
            if k == order:
                counts = np.bincount(gram_inv[k - 1], minlength=len(uniq))
            else:
                # Continuation count of a k-gram = number of distinct (k+1)-grams having it as suffix.
                counts = np.bincount(gram_inv[k - 1][gram_first[k]], minlength=len(uniq))
            D = _kn_discounts(counts, self.discount)
            disc = D[np.minimum(counts, 3) - 1]
            n_ctx = len(ctx_keys[k - 1])
            ctx = uniq // V
            w = uniq % V
            C = np.bincount(ctx, weights=counts, minlength=n_ctx)
            gamma = np.bincount(ctx, weights=disc, minlength=n_ctx) / C
            data = (counts - disc) / C[ctx]
            indptr = np.concatenate([[0], np.cumsum(np.bincount(ctx, minlength=n_ctx))])
            # uniq is sorted by (ctx, w), so (data, w, indptr) is already a canonical CSR matrix.
            probs = sp.csr_matrix((data, w, indptr), shape=(n_ctx, V))
            tables.append(NGramOrderTable(ctx_keys[k - 1], uniq, probs, gamma, D, len(uniq)))

        self.vocab_size_ = V
        self.n_train_tokens_ = n_tok
        self.n_documents_ = len(docs)
        self.tables_ = tables
        uni = tables[0]
        self.unigram_ = uni.probs.toarray()[0] + uni.gamma[0] / V
        self.discounts_ = {k + 1: t.discounts.tolist() for k, t in enumerate(tables)}
        return self

    # ------------------------------------------------------------------------------------------------ lookup
    def _as_contexts(self, contexts) -> np.ndarray:
        check_fitted(self, "tables_")
        c = np.asarray(contexts, dtype=np.int64)
        if c.ndim == 1:
            c = c[None, :]
        n = self.order - 1
        if c.shape[1] < n:  # short histories: pad on the left with BOS (a document start)
            c = np.concatenate([np.full((c.shape[0], n - c.shape[1]), BOS, dtype=np.int64), c], axis=1)
        return c[:, c.shape[1] - n :]

    def context_ids(self, contexts) -> list[np.ndarray]:
        """For contexts [B, N-1] (ids, BOS=-1, WILDCARD=-2), the row of each suffix in each order's table.

        Returns a list indexed by suffix length j = 0..N-1 of int64 [B] arrays (-1 = this suffix was never seen,
        so that order backs off entirely).
        """
        c = self._as_contexts(contexts)
        B, n = c.shape
        ids = [np.zeros(B, dtype=np.int64)]
        for j in range(1, n + 1):
            prev = ids[-1]
            keys = self.tables_[j].keys
            code = c[:, n - j] + 1  # BOS -> 0, WILDCARD -> -1 (never a key)
            key = code * len(self.tables_[j - 1].keys) + prev
            pos = np.searchsorted(keys, key).clip(max=len(keys) - 1)
            ok = (prev >= 0) & (code >= 0) & (keys[pos] == key)
            ids.append(np.where(ok, pos, -1))
        return ids

    def next_probs(self, contexts) -> np.ndarray:
        """P(. | context) as float64 [B, V] for contexts [B, N-1] (shorter rows are left-padded with BOS)."""
        ids = self.context_ids(contexts)
        B = len(ids[0])
        P = np.broadcast_to(self.unigram_, (B, self.vocab_size_)).copy()
        for k in range(2, self.order + 1):
            t = self.tables_[k - 1]
            rid = ids[k - 1]
            rows = np.flatnonzero(rid >= 0)
            if len(rows) == 0:
                continue
            r = rid[rows]
            P[rows] *= t.gamma[r][:, None]
            sub = t.probs[r]  # CSR row gather
            # Scatter-add the sparse rows; (row, column) pairs are unique, so plain fancy-index += is exact.
            row_of = np.repeat(rows, np.diff(sub.indptr))
            P[row_of, sub.indices] += sub.data
        return P

    def next_logprobs(self, contexts) -> np.ndarray:
        """log P(. | context) as float32 [B, V]; every entry finite. Contexts [B, N-1] int (BOS = -1 allowed)."""
        P = self.next_probs(contexts)
        np.log(P, out=P)
        return P.astype(np.float32)

    def token_probs(self, contexts, tokens) -> np.ndarray:
        """P(token_b | context_b) as float64 [B] without building [B, V] (fast log loss)."""
        ids = self.context_ids(contexts)
        w = np.asarray(tokens, dtype=np.int64).reshape(-1)
        p = self.unigram_[w].copy()
        for k in range(2, self.order + 1):
            t = self.tables_[k - 1]
            rid = ids[k - 1]
            ok = rid >= 0
            r = np.where(ok, rid, 0)
            key = r * self.vocab_size_ + w
            pos = np.searchsorted(t.gram_keys, key).clip(max=len(t.gram_keys) - 1)
            a = np.where(t.gram_keys[pos] == key, t.probs.data[pos], 0.0)
            p = np.where(ok, a + t.gamma[r] * p, p)
        return p

    def logprob(self, sequence: Sequence[int], *, from_start: bool = True) -> float:
        """Total natural-log probability of ``sequence`` as one document (BOS-padded when ``from_start``)."""
        s = np.asarray(sequence, dtype=np.int64).reshape(-1)
        n = self.order - 1
        padded = np.concatenate([np.full(n, BOS, dtype=np.int64), s]) if from_start else s
        start = n if from_start else min(n, len(s))
        if len(padded) <= start:
            return 0.0
        idx = np.arange(start, len(padded))
        ctx = np.stack([padded[i - n : i] for i in idx]) if n else np.zeros((len(idx), 0), dtype=np.int64)
        return float(np.log(self.token_probs(ctx, padded[idx])).sum())

    # ------------------------------------------------------------------------------------------------ states (DP)
    def states(self) -> NGramStates:
        """The finite Markov chain behind the model, for exact dynamic programmes (future entropy, F2).

        A history's next-token distribution depends only on its longest suffix seen in training as a context;
        those suffixes (all lengths 0..N-1) are the states. See :class:`NGramStates`.
        """
        check_fitted(self, "tables_")
        if getattr(self, "_states", None) is None:
            self._states = NGramStates(self)
        return self._states

    def summary_dict(self) -> dict[str, Any]:
        check_fitted(self, "tables_")
        return {
            "order": self.order,
            "discount": self.discount,
            "discounts": self.discounts_,
            "vocab_size": self.vocab_size_,
            "train_tokens": self.n_train_tokens_,
            "n_grams": [t.n_grams for t in self.tables_],
            "n_contexts": [len(t.keys) for t in self.tables_],
        }


class NGramStates:
    """Exact state space of a fitted :class:`NGramLM` (a finite Markov chain over back-off contexts).

    State ``s`` is a context seen in training of length ``length[s]`` in 0..N-1 (all lengths together);
    ``contexts[s]`` is it left-padded to N-1 with ``WILDCARD`` (-2). A history maps to the state of its longest
    seen suffix, and the next-token distribution of every history in a state is the same, so::

        P(w | history) = next_probs(state_of(history))[w]
        state_of(history + w) = next_state(state_of(history), w)      (exact)

    (Appending w to the longest seen suffix u of a history gives the longest seen suffix of the new history, since
    seen contexts are prefix- and suffix-closed.) ``n_states`` is the number of distinct contexts of all lengths.

    Example
    -------
    >>> lm = NGramLM(order=2).fit([[0, 1, 0, 2]], vocab_size=3)
    >>> st = lm.states()
    >>> s = st.state_of(np.array([[1]]))
    >>> np.allclose(st.next_probs(s), np.exp(lm.next_logprobs(np.array([[1]]))))
    True
    """

    def __init__(self, lm: NGramLM):
        self.lm = lm
        n = lm.order - 1
        blocks, lengths = [], []
        # Decode every table's keys back into explicit contexts (length j, left-padded with WILDCARD).
        decoded = [np.zeros((1, 0), dtype=np.int64)]
        for j in range(1, n + 1):
            keys = lm.tables_[j].keys
            n_prev = len(lm.tables_[j - 1].keys)
            first = keys // n_prev - 1  # code -> id (BOS = -1)
            suffix = decoded[j - 1][keys % n_prev]
            decoded.append(np.concatenate([first[:, None], suffix], axis=1))
        for j in range(n + 1):
            d = decoded[j]
            blocks.append(np.concatenate([np.full((len(d), n - j), WILDCARD, dtype=np.int64), d], axis=1))
            lengths.append(np.full(len(d), j, dtype=np.int64))
        self.contexts = np.concatenate(blocks, axis=0)
        self.length = np.concatenate(lengths)
        self.offsets = np.concatenate([[0], np.cumsum([len(d) for d in decoded])])
        self.n_states = len(self.contexts)

    def state_of(self, contexts) -> np.ndarray:
        """State id [B] of each history (contexts [B, <=N-1], BOS = -1 at a document start)."""
        ids = self.lm.context_ids(contexts)
        B = len(ids[0])
        out = np.zeros(B, dtype=np.int64)
        for j, rid in enumerate(ids):
            out = np.where(rid >= 0, self.offsets[j] + rid, out)
        return out

    def next_state(self, states, tokens) -> np.ndarray:
        """State after appending ``tokens`` [B] to histories in ``states`` [B]."""
        s = np.asarray(states, dtype=np.int64).reshape(-1)
        w = np.asarray(tokens, dtype=np.int64).reshape(-1)
        n = self.lm.order - 1
        if n == 0:
            return np.zeros_like(s)
        ctx = np.concatenate([self.contexts[s, 1:], w[:, None]], axis=1)
        return self.state_of(ctx)

    def next_probs(self, states) -> np.ndarray:
        """float64 [B, V] next-token distribution of each state."""
        return self.lm.next_probs(self.contexts[np.asarray(states, dtype=np.int64).reshape(-1)])

    def next_logprobs(self, states) -> np.ndarray:
        """float32 [B, V] log of :meth:`next_probs`."""
        return self.lm.next_logprobs(self.contexts[np.asarray(states, dtype=np.int64).reshape(-1)])


# ---------------------------------------------------------------------------------------------------- backend
try:  # torch is an optional dependency; the NGramLM above works without it.
    import torch

    from scalescope.calibration.backends.base import Backend, DecodeState
except ImportError:  # pragma: no cover
    torch = None
    Backend = object  # type: ignore[assignment,misc]
    DecodeState = None  # type: ignore[assignment]


class NGramBackend(Backend):
    """:class:`~scalescope.calibration.backends.base.Backend` over an :class:`NGramLM` and its tokenizer.

    Logits are the exact log-probabilities (float32, every entry finite). The decoding state keeps the last N-1
    token ids of each sequence. ``context_length`` is None (any length). No EOS token: generations run for the
    requested number of steps.

    Example
    -------
    >>> be = NGramBackend.from_corpus(["a b c a b d", "a b c"], order=2, tokenizer="word")
    >>> logits, st = be.prefill(torch.tensor([be.encode("a b")]))
    >>> tuple(logits.shape) == (1, be.vocab_size)
    True
    """

    context_length = None
    eos_token_id = None

    def __init__(self, lm: NGramLM, tokenizer=None, *, name: str | None = None):
        check_fitted(lm, "tables_")
        self.lm = lm
        self.tokenizer = tokenizer
        self.vocab_size = lm.vocab_size_
        self.device = torch.device("cpu")
        self.name = name or f"ngram:{lm.order}"

    @classmethod
    def from_corpus(
        cls,
        train_docs: Sequence[str],
        order: int = 3,
        max_train_tokens: int | None = None,
        tokenizer: Any = "word",
        *,
        discount: float | str = "modified",
        name: str | None = None,
    ) -> NGramBackend:
        """Fit the tokenizer's vocabulary on ALL of ``train_docs`` (so a family trained on different
        ``max_train_tokens`` shares one vocabulary and per-token numbers stay comparable), then count the first
        ``max_train_tokens`` tokens (all when None)."""
        from scalescope.calibration.tokenizers import make_tokenizer

        docs = list(train_docs)
        if not docs:
            raise InputError("training corpus: no documents")
        if max_train_tokens is not None and int(max_train_tokens) < 1:
            raise InputError(f"max_train_tokens={max_train_tokens}: must be >= 1")
        tok = make_tokenizer(tokenizer)
        tok.fit(docs)
        ids = [tok.encode(d) for d in docs]
        lm = NGramLM(order=order, discount=discount).fit(ids, vocab_size=tok.vocab_size, max_tokens=max_train_tokens)
        lm.vocab_ = tok.token_strings()
        return cls(lm, tok, name=name)

    # -- text
    def encode(self, text: str) -> list[int]:
        if self.tokenizer is None:
            raise InputError("this n-gram backend has no tokenizer; pass token ids directly")
        return self.tokenizer.encode(text)

    def decode(self, ids: list[int]) -> str:
        if self.tokenizer is None:
            return " ".join(str(i) for i in ids)
        return self.tokenizer.decode([int(i) for i in ids])

    # -- model
    def _logits(self, ctx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.lm.next_logprobs(ctx))

    def _tail(self, ids: np.ndarray) -> np.ndarray:
        n = self.lm.order - 1
        if ids.shape[1] >= n:
            return ids[:, ids.shape[1] - n :].copy()
        # A prompt shorter than N-1 tokens is treated as a document start (BOS padding).
        return np.concatenate([np.full((ids.shape[0], n - ids.shape[1]), BOS, dtype=np.int64), ids], axis=1)

    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        ids = np.asarray(input_ids.detach().cpu().numpy(), dtype=np.int64)
        ctx = self._tail(ids)
        return self._logits(ctx), DecodeState(cache=ctx, length=ids.shape[1])

    def step(self, state: DecodeState, tokens: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        w = np.asarray(tokens.detach().cpu().numpy(), dtype=np.int64).reshape(-1, 1)
        ctx = np.concatenate([state.cache, w], axis=1)[:, 1:] if self.lm.order > 1 else state.cache
        return self._logits(ctx), DecodeState(cache=ctx, length=state.length + 1, extra=state.extra)

    def score(self, input_ids: torch.Tensor) -> torch.Tensor:
        ids = np.asarray(input_ids.detach().cpu().numpy(), dtype=np.int64)
        B, L = ids.shape
        n = self.lm.order - 1
        padded = np.concatenate([np.full((B, n), BOS, dtype=np.int64), ids], axis=1)
        # Row t predicts token t+1 from tokens <= t: its context is padded[:, t+1 : t+1+n].
        ctx = np.stack([padded[:, t + 1 : t + 1 + n] for t in range(L)], axis=1).reshape(B * L, n)
        out = np.empty((B * L, self.vocab_size), dtype=np.float32)
        chunk = max(1, 2**22 // max(1, self.vocab_size))
        for i in range(0, B * L, chunk):
            out[i : i + chunk] = self.lm.next_logprobs(ctx[i : i + chunk])
        return torch.from_numpy(out.reshape(B, L, self.vocab_size))

    def provenance(self) -> dict[str, Any]:
        d = {"model": self.name, "device": "cpu", "dtype": "float32", "backend": "ngram"}
        d.update(self.lm.summary_dict())
        d["tokenizer"] = getattr(self.tokenizer, "spec", None)
        return d
