"""FIT/TEST passage splits of ``calibrate compare`` (passages vs documents; overlapping windows never straddle)."""

from __future__ import annotations

import numpy as np
import pytest

from scalescope.calibration.methods.compare import OVERLAP_SEGMENT_WINDOWS, split_passages
from scalescope.calibration.methods.evaluate import bootstrap_ci, mean_se
from scalescope.errors import InputError


def _docs(lengths, seed=0):
    # Token ids encode (document, position) so windows can be traced back: id = 100_000 * doc + position.
    return [np.arange(n, dtype=np.int64) + 100_000 * i for i, n in enumerate(lengths)]


def _spans(ps):
    full = np.concatenate([ps.prompts, ps.human], axis=1)
    return {(int(r[0] // 100_000), int(r[0] % 100_000), int(r[-1] % 100_000)) for r in full}


def _overlap(a, b):
    return any(d1 == d2 and s1 <= e2 and s2 <= e1 for d1, s1, e1 in a for d2, s2, e2 in b)


@pytest.mark.parametrize("stride", [None, 5, 3])
def test_passage_split_halves_never_overlap(stride):
    enc = _docs([97, 250, 31, 400])
    fit, test = split_passages(enc, prompt_tokens=4, steps=6, split="passages", stride=stride, seed=1)
    a, b = _spans(fit), _spans(test)
    assert not _overlap(a, b)
    assert all(e - s == 9 for _, s, e in a | b)  # contiguous windows of P + T tokens
    assert len(np.unique(fit.doc)) > 1 and len(np.unique(test.doc)) > 1  # passages of several documents
    if stride is None:  # non-overlapping windows: every full window of every document is used exactly once
        assert len(fit) + len(test) == sum(n // 10 for n in (97, 250, 31, 400))
        assert len(np.unique(test.group)) == len(test)
    else:  # overlapping windows inside segments of OVERLAP_SEGMENT_WINDOWS windows: more passages, clustered
        assert len(fit) + len(test) > sum(n // 10 for n in (97, 250, 31, 400))
        assert len(np.unique(test.group)) < len(test)
        seg = OVERLAP_SEGMENT_WINDOWS * 10
        for _, s, e in a | b:  # no window crosses a segment boundary
            assert s // seg == e // seg


def test_document_split_keeps_documents_whole_and_caps_samples():
    enc = _docs([120, 80, 300, 55, 90])
    fit, test = split_passages(enc, prompt_tokens=4, steps=6, split="documents", seed=0, samples=7)
    assert not set(fit.doc) & set(test.doc)
    assert len(fit) <= 7 and len(test) <= 7
    # Round-robin over documents: the first windows are document openings.
    assert {s for _, s, _ in list(_spans(fit))[:1]} <= {0, 10, 20, 30}


def test_split_rejects_too_short_corpus():
    with pytest.raises(InputError, match="need >= 2"):
        split_passages(_docs([12]), prompt_tokens=4, steps=6, split="passages")


def test_clustered_se_and_bootstrap():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    assert mean_se(x) == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)))
    # Perfectly correlated copies (4 per cluster): the clustered SE is the SE of the 100 cluster values.
    xx, groups = np.repeat(x[:100], 4), np.repeat(np.arange(100), 4)
    assert mean_se(xx, groups) == pytest.approx(x[:100].std(ddof=0) / np.sqrt(99), rel=1e-9)
    assert mean_se(xx) < 0.6 * mean_se(xx, groups)
    lo, hi = bootstrap_ci(xx, groups=groups)
    assert lo < xx.mean() < hi and hi - lo > 3 * mean_se(xx)
