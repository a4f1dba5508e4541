"""Model specs -> backends: ``resolve_model("gpt2")``, ``resolve_model("ngram:3:wikitext-2@100000/word")``, ...

The one place that turns the ``--model`` string of ``scalescope calibrate run`` into a
:class:`~scalescope.calibration.backends.base.Backend` (spec: briefs/calib_shared.md "Model specs"):

- ``HF_ID`` or ``PATH`` -- a transformers ``AutoModelForCausalLM`` (offline: only locally cached ids work);
- ``gguf:PATH[#FILE]``, ``gguf:DIR#FILE``, ``smollm2-135m`` -- GGUF through transformers (``backends.gguf``);
- ``ngram:N[:CORPUS][@TOKENS][/TOKENIZER]`` -- an interpolated Kneser-Ney n-gram model of order N trained on the
  TRAIN split of CORPUS (default: the run's ``--corpus``), on its first TOKENS training tokens (default all; ``1e5``
  and ``100k`` work), with tokenizer ``word`` (default), ``char`` or ``hf:<path>``.

The n-gram's train split is :data:`~scalescope.calibration.engine.SPLIT_SEED`'s split, and the backend is tagged
with the corpus hash, so a run on the same corpus takes its prompts from the held-out EVAL split.

Example
-------
>>> parse_ngram_spec("ngram:3:wikitext-2@100k/char")
NgramSpec(order=3, corpus='wikitext-2', train_tokens=100000, tokenizer='char')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scalescope.calibration.backends.base import Backend
from scalescope.calibration.corpora import Corpus, load_corpus
from scalescope.errors import InputError

__all__ = ["NgramSpec", "parse_ngram_spec", "resolve_model", "parse_count"]


@dataclass(frozen=True)
class NgramSpec:
    order: int
    corpus: str | None
    train_tokens: int | None
    tokenizer: str


def parse_count(text: str, what: str) -> int:
    """``"100000"``, ``"1e5"``, ``"100k"``, ``"2M"`` -> int (InputError naming ``what`` otherwise)."""
    t = text.strip().lower().replace("_", "")
    mult = {"k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9}.get(t[-1:], 1)
    if mult != 1:
        t = t[:-1]
    try:
        v = float(t) * mult
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a token count (e.g. 100000, 1e5, 100k)") from None
    if v < 1 or v != int(v):
        raise InputError(f"{what}: {text!r} must be a positive whole number of tokens")
    return int(v)


#: Largest n-gram order: the backend holds one context column per order for every training token, so a huge N
#: (ngram:1000000) would try to allocate gigabytes before failing.
MAX_NGRAM_ORDER = 32


def parse_ngram_spec(spec: str) -> NgramSpec:
    """Parse ``ngram:N[:CORPUS][@TOKENS][/TOKENIZER]``; raises InputError (one line) on malformed specs.

    The corpus may itself be a path containing ``/`` only when a tokenizer is given after the last ``/``
    that is one of ``word``, ``char`` or ``hf:...``.
    """
    body = spec
    tok = "word"
    # The tokenizer is the part after the last "/" when it is a known tokenizer name (corpora may be paths).
    head, sep, tail = body.rpartition("/")
    if sep and (tail in ("word", "char") or tail.startswith("hf:")):
        body, tok = head, tail
    elif "/hf:" in body:
        body, _, rest = body.partition("/hf:")
        tok = "hf:" + rest
    m = re.match(r"^ngram:(?P<order>[^:@]*)(?::(?P<corpus>.*?))?(?:@(?P<tokens>[^@]*))?$", body)
    if not m:
        raise InputError(f"model '{spec}': expected ngram:N[:CORPUS][@TOKENS][/TOKENIZER], e.g. ngram:3:wikitext-2")
    order_s = m.group("order")
    if not order_s.isdigit() or not 1 <= int(order_s) <= MAX_NGRAM_ORDER:
        raise InputError(f"model '{spec}': n-gram order {order_s!r} must be an integer in 1..{MAX_NGRAM_ORDER}")
    corpus = m.group("corpus") or None
    tokens = parse_count(m.group("tokens"), f"model '{spec}'") if m.group("tokens") else None
    return NgramSpec(order=int(order_s), corpus=corpus, train_tokens=tokens, tokenizer=tok)


def _ngram_backend(spec: str, corpus: str | Corpus | None, seed: int) -> Backend:
    from scalescope.calibration.backends.ngram import NGramBackend
    from scalescope.calibration.engine import SPLIT_SEED

    ns = parse_ngram_spec(spec)
    if ns.corpus is not None:
        c = load_corpus(ns.corpus)
    elif isinstance(corpus, Corpus):
        c = corpus
    elif corpus:
        c = load_corpus(corpus)
    else:
        raise InputError(f"model '{spec}': no training corpus; write ngram:{ns.order}:CORPUS or pass --corpus")
    train, _ = c.split(seed=SPLIT_SEED)
    backend = NGramBackend.from_corpus(train, order=ns.order, max_train_tokens=ns.train_tokens,
                                       tokenizer=ns.tokenizer, name=spec)
    # Tag what it was trained on: the engine then prompts from the held-out split of the same corpus.
    backend.train_corpus_sha256 = c.sha256
    backend.train_corpus = c.name
    return backend


def resolve_model(spec: str, *, dtype: str = "auto", device: str = "auto", corpus: str | Corpus | None = None,
                  seed: int = 0, revision: str | None = None) -> Backend:
    """The backend for a model spec (see the module docstring). ``corpus`` is the run's corpus (n-gram default).

    Raises :class:`InputError` with one line for unknown ids/paths, malformed specs and missing packages.
    """
    spec = str(spec).strip()
    if not spec:
        raise InputError("--model: empty model spec")
    if spec.startswith("ngram:"):
        return _ngram_backend(spec, corpus, seed)
    if spec.startswith("gguf:") or spec == "smollm2-135m":
        from scalescope.calibration.backends.gguf import load_gguf_backend

        return load_gguf_backend(spec, dtype="float32" if dtype == "auto" else dtype, device=device)
    if spec.startswith("ngram") or re.match(r"^[a-z]+:", spec) and not re.match(r"^[A-Za-z]:[\\/]", spec):
        kind = spec.split(":", 1)[0]
        raise InputError(f"model '{spec}': unknown model kind '{kind}:' (use ngram:, gguf:, a Hugging Face id or "
                         f"a local path)")
    from scalescope.calibration.backends.hf import HFBackend

    return HFBackend.from_pretrained(spec, dtype=dtype, device=device, revision=revision)
