"""Corpora: built-in names, files, directories, jsonl fields, deterministic splits and passage windows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scalescope.calibration.corpora import Corpus, build_passages, load_corpus
from scalescope.errors import InputError


def _enc(text):
    return [ord(c) for c in text]


def test_split_is_deterministic_document_level_and_disjoint():
    c = Corpus.from_documents("toy", [f"doc {i}" for i in range(50)])
    tr1, ev1 = c.split(seed=0, held_out=0.1)
    tr2, ev2 = c.split(seed=0, held_out=0.1)
    assert (tr1, ev1) == (tr2, ev2) and len(ev1) == 5 and len(tr1) == 45
    assert set(tr1).isdisjoint(ev1) and set(tr1) | set(ev1) == set(c.documents)
    assert tr1 == [d for d in c.documents if d in set(tr1)]  # corpus order kept
    assert c.split(seed=1)[1] != ev1
    with pytest.raises(InputError, match="at least 2"):
        Corpus.from_documents("one", ["x"]).split()


def test_sha256_depends_on_content_and_boundaries():
    a = Corpus.from_documents("a", ["ab", "c"])
    assert a.sha256 == Corpus.from_documents("other name", ["ab", "c"]).sha256
    assert a.sha256 != Corpus.from_documents("a", ["a", "bc"]).sha256


def test_passages_first_windows_then_round_robin():
    docs = ["a" * 10, "b" * 25, "c" * 3, "d" * 12]
    p = build_passages(docs, _enc, prompt_tokens=3, steps=2, n=3)
    assert [chr(r[0]) for r in p.ids] == ["a", "b", "d"]
    assert p.n_skipped == 1 and p.n_documents_scanned == 4
    p = build_passages(docs, _enc, prompt_tokens=3, steps=2, n=6)
    assert [(chr(r[0]), w) for r, w in zip(p.ids, p.window_index)] == [
        ("a", 0), ("b", 0), ("d", 0), ("a", 1), ("b", 1), ("d", 1)]
    assert p.ids.shape == (6, 5) and p.ids.dtype == np.int64
    # lazy: stops tokenising once enough first windows are found
    p = build_passages(docs, _enc, prompt_tokens=3, steps=2, n=1)
    assert p.n_documents_scanned == 1
    with pytest.raises(InputError, match="corpus 'tiny': only 9 passages"):
        build_passages(docs, _enc, prompt_tokens=3, steps=2, n=20, corpus_name="tiny")
    with pytest.raises(InputError, match="corpus 'tiny': no document has 100 tokens"):
        build_passages(docs, _enc, prompt_tokens=50, steps=50, n=1, corpus_name="tiny")


def test_random_passages_are_a_seeded_sample_of_all_tiles():
    # each document is a run of distinct ids: document k holds ids 1000k, 1000k+1, ...
    docs = [" ".join(str(1000 * k + i) for i in range(n)) for k, n in enumerate([10, 25, 3, 12, 40])]
    enc = lambda s: [int(x) for x in s.split()]  # noqa: E731
    width = 5
    tiles = {(k, w) for k, n in enumerate([10, 25, 3, 12, 40]) for w in range(n // width)}
    assert len(tiles) == 2 + 5 + 0 + 2 + 8
    p = build_passages(docs, enc, prompt_tokens=3, steps=2, n=10, mode="random", seed=7)
    q = build_passages(docs, enc, prompt_tokens=3, steps=2, n=10, mode="random", seed=7)
    assert np.array_equal(p.ids, q.ids)  # deterministic
    got = list(zip(p.doc_index.tolist(), p.window_index.tolist()))
    assert len(set(got)) == 10 and set(got) <= tiles and got == sorted(got)  # distinct tiles, in corpus order
    for row, (k, w) in zip(p.ids, got):  # each passage is exactly tile w of document k
        assert row.tolist() == [1000 * k + w * width + i for i in range(width)]
    assert p.n_skipped == 1 and p.n_documents_scanned == 5
    r = build_passages(docs, enc, prompt_tokens=3, steps=2, n=10, mode="random", seed=8)
    assert not np.array_equal(p.ids, r.ids)
    # all tiles when n equals their number; too many is the usual one-line error
    assert len(build_passages(docs, enc, prompt_tokens=3, steps=2, n=17, mode="random")) == 17
    with pytest.raises(InputError, match="corpus 'tiny': only 17 passages"):
        build_passages(docs, enc, prompt_tokens=3, steps=2, n=18, mode="random", corpus_name="tiny")
    with pytest.raises(InputError, match="passages 'middle'"):
        build_passages(docs, enc, prompt_tokens=3, steps=2, n=1, mode="middle")


def test_text_file_directory_and_jsonl(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("para one\n\npara two\n", encoding="utf-8")
    c = load_corpus(str(f))
    assert c.name == str(f) and len(c) == 1 and "para two" in c.documents[0]
    d = tmp_path / "dir"
    d.mkdir()
    (d / "b.md").write_text("second", encoding="utf-8")
    (d / "a.txt").write_text("first", encoding="utf-8")
    (d / "skip.bin").write_bytes(b"\x00\xff")
    assert load_corpus(str(d)).documents == ("first", "second")
    j = tmp_path / "c.jsonl"
    j.write_text(json.dumps({"text": "hello", "n": 1}) + "\n\n" + json.dumps({"text": "world"}) + "\n")
    assert load_corpus(f"{j}:text").documents == ("hello", "world")
    with pytest.raises(InputError, match="line 1 has no field 'body'"):
        load_corpus(f"{j}:body")
    with pytest.raises(InputError, match="needs a field"):
        load_corpus(str(j))


@pytest.mark.parametrize("content, message", [(b"", "contains no text"), (b"  \n\n ", "contains no text"),
                                              (b"caf\xe9\n", "not valid UTF-8")])
def test_bad_files(tmp_path, content, message):
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_corpus(str(f))


def test_unknown_name():
    with pytest.raises(InputError, match="not a built-in corpus"):
        load_corpus("wikitext-3")


def test_builtin_text_corpora(data_dir):
    w = load_corpus("wikitext-2")
    assert len(w) == 60 and w.documents[0].lstrip().startswith("= Homarus gammarus =")
    s = load_corpus("tinyshakespeare")
    assert len(s) > 200 and all(len(d) >= 4000 for d in s.documents[:-1])
    assert load_corpus("wikitext-2").sha256 == w.sha256


def test_python_stdlib_is_sorted_and_deterministic():
    c = load_corpus("python-stdlib")
    assert len(c) > 300 and c.source
    assert any("def " in d for d in c.documents[:20])
