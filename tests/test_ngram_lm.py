"""n-gram backend: exact interpolated Kneser-Ney (vs a naive dict implementation), normalisation, states, backend."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalescope.calibration.backends.ngram import BOS, NGramLM
from scalescope.errors import InputError, NotFittedError


# ------------------------------------------------------------------------------------------ naive reference
def _naive_kn(docs, order, V, discount):
    """Dict-based interpolated KN straight from the definition (module docstring of ngram.py)."""
    pad = (BOS,) * (order - 1)
    raw = defaultdict(int)  # highest-order counts
    left = defaultdict(set)  # k-gram -> set of left neighbours (k < order)
    for d in docs:
        s = pad + tuple(d)
        for i in range(order - 1, len(s)):
            raw[s[i - order + 1 : i + 1]] += 1
            for k in range(1, order):
                g = s[i - k + 1 : i + 1]
                left[g].add(s[i - k])
    counts = {order: dict(raw)}
    for k in range(1, order):
        counts[k] = {g: len(v) for g, v in left.items() if len(g) == k}

    def discounts(k):
        if discount != "modified":
            return [min(discount, 1), min(discount, 2), min(discount, 3)]
        n = [sum(1 for c in counts[k].values() if c == r) for r in (1, 2, 3, 4)]
        if min(n) == 0:
            return [0.75] * 3 if n[0] > 0 else [0.5] * 3
        y = n[0] / (n[0] + 2 * n[1])
        d = [1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]]
        return [min(max(x, 0), r) for x, r in zip(d, (1, 2, 3))]

    Ds = {k: discounts(k) for k in range(1, order + 1)}
    by_ctx = {k: defaultdict(dict) for k in range(1, order + 1)}
    for k in range(1, order + 1):
        for g, c in counts[k].items():
            by_ctx[k][g[:-1]][g[-1]] = c

    def prob(w, h, k):
        if k == 0:
            return 1.0 / V
        hh = tuple(h[len(h) - (k - 1) :]) if k > 1 else ()
        row = by_ctx[k].get(hh)
        if not row:
            return prob(w, h, k - 1)
        D = Ds[k]
        C = sum(row.values())
        gamma = sum(D[min(c, 3) - 1] for c in row.values()) / C
        c = row.get(w, 0)
        a = (c - D[min(c, 3) - 1]) / C if c > 0 else 0.0
        return a + gamma * prob(w, h, k - 1)

    return lambda w, h: prob(w, tuple(h), order)


TOY = [[0, 1, 2, 0, 1, 3, 1, 2, 2, 0], [1, 2, 0, 4, 1, 2, 0, 1], [3, 3, 1, 0, 2, 1, 2, 0, 1, 2, 4, 0]]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("discount", [0.75, 0.4, "modified"])
def test_matches_naive_kneser_ney(order, discount):
    V = 6  # token 5 never occurs: it must still get (uniform back-off) mass
    lm = NGramLM(order=order, discount=discount).fit(TOY, vocab_size=V)
    ref = _naive_kn(TOY, order, V, discount)
    rng = np.random.default_rng(0)
    ctxs = [tuple(rng.integers(-1, V, size=order - 1)) for _ in range(25)]
    ctxs += [tuple(TOY[0][i : i + order - 1]) for i in range(5)] + [(BOS,) * (order - 1)]
    for h in ctxs:
        got = np.exp(lm.next_logprobs(np.array([h], dtype=np.int64).reshape(1, order - 1)))[0]
        want = np.array([ref(w, h) for w in range(V)])
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-9)
        assert abs(got.sum() - 1) < 1e-5
        np.testing.assert_allclose(lm.token_probs(np.array([h] * V).reshape(V, order - 1), np.arange(V)), want,
                                   rtol=1e-12)


def test_modified_discounts_estimated_from_count_of_counts():
    rng = np.random.default_rng(1)
    docs = [rng.zipf(1.6, size=400) % 50 for _ in range(5)]
    lm = NGramLM(order=3, discount="modified").fit(docs, vocab_size=50)
    ref = _naive_kn(docs, 3, 50, "modified")
    for h in [(1, 2), (BOS, BOS), (0, 49), (3, 1)]:
        got = np.exp(lm.next_logprobs(np.array([h])))[0]
        np.testing.assert_allclose(got, [ref(w, h) for w in range(50)], rtol=2e-6)
    D = lm.discounts_[3]
    assert 0 < D[0] <= 1 and 0 < D[1] <= 2 and 0 < D[2] <= 3


@settings(max_examples=30, deadline=None)
@given(
    docs=st.lists(st.lists(st.integers(0, 7), min_size=1, max_size=30), min_size=1, max_size=4),
    order=st.integers(1, 5),
    discount=st.sampled_from([0.1, 0.75, 1.0, "modified"]),
    ctx=st.lists(st.integers(-1, 9), min_size=4, max_size=4),
)
def test_probabilities_sum_to_one_everywhere(docs, order, discount, ctx):
    V = 10
    lm = NGramLM(order=order, discount=discount).fit(docs, vocab_size=V)
    lp = lm.next_logprobs(np.array([ctx[4 - (order - 1) :] if order > 1 else []], dtype=np.int64))
    assert lp.dtype == np.float32 and np.isfinite(lp).all()
    assert abs(np.exp(lp.astype(np.float64)).sum() - 1) < 1e-5


def test_logprob_equals_sum_of_next_logprobs():
    lm = NGramLM(order=3).fit(TOY, vocab_size=6)
    seq = [0, 1, 2, 5, 0]
    want = 0.0
    h = [BOS, BOS]
    for w in seq:
        want += float(np.log(np.exp(lm.next_logprobs(np.array([h])).astype(np.float64))[0, w]))
        h = h[1:] + [w]
    assert lm.logprob(seq) == pytest.approx(want, rel=1e-5)
    assert lm.n_train_tokens_ == sum(map(len, TOY))


def test_max_tokens_and_validation():
    lm = NGramLM(order=2).fit(TOY, vocab_size=6, max_tokens=12)
    assert lm.n_train_tokens_ == 12
    with pytest.raises(InputError, match="order"):
        NGramLM(order=0).fit(TOY)
    with pytest.raises(InputError, match="discount"):
        NGramLM(discount=1.5).fit(TOY)
    with pytest.raises(InputError, match="vocab_size"):
        NGramLM().fit(TOY, vocab_size=3)
    with pytest.raises(NotFittedError):
        NGramLM().next_logprobs(np.zeros((1, 2), dtype=np.int64))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_states_form_an_exact_markov_chain(order):
    V = 6
    lm = NGramLM(order=order).fit(TOY, vocab_size=V)
    S = lm.states()
    assert S.n_states == sum(len(t.keys) for t in lm.tables_)
    rng = np.random.default_rng(2)
    hist = rng.integers(0, V, size=(40, 12))
    hist[:5, :3] = 0  # make some seen contexts likely
    hist[5:10] = np.array(TOY[2][:12])
    n = order - 1
    s = S.state_of(hist[:, :n] if n else np.zeros((40, 0), dtype=np.int64))
    for t in range(n, 12):
        ctx = hist[:, t - n : t]
        np.testing.assert_allclose(S.next_probs(s), lm.next_probs(ctx), rtol=1e-12)
        np.testing.assert_array_equal(s, S.state_of(ctx))
        s = S.next_state(s, hist[:, t])


# ------------------------------------------------------------------------------------------ backend
DOCS = ["the cat sat on the mat\nthe dog sat on the log", "a cat and a dog\nthe end", "the cat ran"]


def test_backend_prefill_step_score_agree():
    torch = pytest.importorskip("torch")
    from scalescope.calibration.backends.ngram import NGramBackend

    be = NGramBackend.from_corpus(DOCS, order=3, tokenizer="word")
    assert be.context_length is None and be.vocab_size == be.lm.vocab_size_
    ids = torch.tensor([be.encode("the cat sat on the"), be.encode("a dog and a cat")])
    full = be.score(ids)
    assert full.shape == (2, 5, be.vocab_size) and full.dtype == torch.float32
    logits, st = be.prefill(ids[:, :2])
    torch.testing.assert_close(logits, full[:, 1])
    for t in range(2, 5):
        logits, st = be.step(st, ids[:, t])
        torch.testing.assert_close(logits, full[:, t])
    assert torch.allclose(logits.exp().sum(-1), torch.ones(2), atol=1e-5)
    assert st.length == 5
    assert be.decode(be.encode("the cat\nsat")) == "the cat\nsat"
    assert be.encode("the zebra") == [be.encode("the")[0], 0]  # unseen word -> <unk> = 0
    prov = be.provenance()
    assert prov["order"] == 3 and prov["tokenizer"] == "word" and prov["train_tokens"] == be.lm.n_train_tokens_


def test_backend_family_shares_vocabulary():
    pytest.importorskip("torch")
    from scalescope.calibration.backends.ngram import NGramBackend

    small = NGramBackend.from_corpus(DOCS, 2, 5, "word")
    big = NGramBackend.from_corpus(DOCS, 2, None, "word")
    assert small.vocab_size == big.vocab_size and small.lm.n_train_tokens_ == 5
    assert big.lm.n_train_tokens_ == sum(len(big.encode(d)) for d in DOCS)
    char = NGramBackend.from_corpus(DOCS, 4, tokenizer="char")
    assert char.decode(char.encode("the cat")) == "the cat"
    with pytest.raises(InputError, match="tokenizer"):
        NGramBackend.from_corpus(DOCS, 2, tokenizer="bpe")
    with pytest.raises(InputError, match="max_train_tokens"):
        NGramBackend.from_corpus(DOCS, 2, 0)
