"""Tokenizers for count-based (n-gram) language models: characters, whitespace words, or a local Hugging Face tokenizer.

The n-gram backend (``scalescope.calibration.backends.ngram``) needs a fixed, integer vocabulary. Entropy-calibration
numbers are per token (spec §1.4, §5.3 item 8), so a family of n-grams trained on different amounts of data must share
ONE tokenizer: the vocabulary of ``char``/``word`` tokenizers is built once from the whole training split and does not
depend on how many training tokens a particular model then counts.

Conventions
-----------
- Id 0 of ``char`` and ``word`` is ``<unk>``. A character/word not seen when the vocabulary was built maps to it (the
  literal WikiText token ``<unk>`` maps to the same id), so test text never leaves the vocabulary.
- ``word`` splits on whitespace and keeps each newline as its own token ``"\\n"`` (paragraph breaks carry structure
  in WikiText and code); other whitespace is not kept. ``decode`` joins words with single spaces.
- ``hf:<path>`` loads ``AutoTokenizer.from_pretrained(path, local_files_only=True)`` (offline); it has no unknown
  words (byte-level BPE) and needs no fitting. No special tokens are added.

Example
-------
>>> tok = make_tokenizer("word").fit(["the cat sat\\non the mat"])
>>> tok.encode("the dog sat")
[1, 0, 6]
>>> tok.decode(tok.encode("the cat\\nsat"))
'the cat\\nsat'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from scalescope.errors import InputError, NotFittedError

UNK = "<unk>"
_WORD_RE = re.compile(r"\n|[^\s]+")


class Tokenizer:
    """Common interface: ``fit(texts)`` (vocabulary), ``encode(text)``, ``decode(ids)``, ``vocab_size``, ``spec``."""

    spec: str = ""
    unk_id: int | None = None

    def fit(self, texts: Iterable[str]) -> Tokenizer:
        return self

    @property
    def vocab_size(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def token_strings(self) -> list[str]:
        """String of every id (for figures / rank-frequency tables)."""
        return [self.decode([i]) for i in range(self.vocab_size)]


class _VocabTokenizer(Tokenizer):
    """Shared code of ``char`` and ``word``: a frequency-sorted vocabulary built from training text, ``<unk>`` = 0."""

    def __init__(self, *, min_count: int = 1, max_vocab: int | None = None):
        self.min_count = min_count
        self.max_vocab = max_vocab

    def _split(self, text: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, texts: Iterable[str]) -> _VocabTokenizer:
        if isinstance(texts, str):
            texts = [texts]
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(self._split(t))
        counts.pop(UNK, None)
        # Frequency-descending then lexicographic: deterministic ids, and rank = id for rank-frequency plots.
        items = sorted(((w, c) for w, c in counts.items() if c >= self.min_count), key=lambda wc: (-wc[1], wc[0]))
        if self.max_vocab is not None:
            items = items[: max(0, self.max_vocab - 1)]
        self.itos_ = [UNK] + [w for w, _ in items]
        self.stoi_ = {w: i for i, w in enumerate(self.itos_)}
        self.unk_id = 0
        return self

    def _check(self) -> None:
        if getattr(self, "itos_", None) is None:
            raise NotFittedError(f"{type(self).__name__} has no vocabulary yet; call fit(texts) first.")

    @property
    def vocab_size(self) -> int:
        self._check()
        return len(self.itos_)

    def encode(self, text: str) -> list[int]:
        self._check()
        get = self.stoi_.get
        return [get(w, 0) for w in self._split(text)]

    def token_strings(self) -> list[str]:
        self._check()
        return list(self.itos_)


class CharTokenizer(_VocabTokenizer):
    """One token per Unicode character; unseen characters -> ``<unk>`` (id 0, decoded as U+FFFD)."""

    spec = "char"

    def _split(self, text: str) -> list[str]:
        return list(text)

    def decode(self, ids: Iterable[int]) -> str:
        self._check()
        return "".join("\ufffd" if i == 0 else self.itos_[i] for i in ids)


class WordTokenizer(_VocabTokenizer):
    """Whitespace words plus ``"\\n"`` tokens; unseen words -> ``<unk>`` (id 0)."""

    spec = "word"

    def _split(self, text: str) -> list[str]:
        return _WORD_RE.findall(text)

    def decode(self, ids: Iterable[int]) -> str:
        self._check()
        out: list[str] = []
        for i in ids:
            w = self.itos_[i]
            if w == "\n" or (out and out[-1] == "\n") or not out:
                out.append(w)
            else:
                out.append(" " + w)
        return "".join(out)


class HFTokenizer(Tokenizer):
    """A local Hugging Face tokenizer (``hf:<path>``), loaded offline; ``fit`` is a no-op."""

    def __init__(self, path: str):
        self.path = path
        self.spec = f"hf:{path}"
        try:
            from transformers import AutoTokenizer
        except ImportError as e:  # pragma: no cover - depends on the install
            raise InputError(f"tokenizer '{self.spec}': needs the 'transformers' package (pip install scalescope[hf])") from e
        try:
            self._tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        except Exception as e:
            raise InputError(f"tokenizer '{self.spec}': cannot load a local Hugging Face tokenizer ({type(e).__name__})") from e
        self.unk_id = self._tok.unk_token_id

    @property
    def vocab_size(self) -> int:
        return len(self._tok)

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False))

    def decode(self, ids: Iterable[int]) -> str:
        return self._tok.decode(list(ids))

    def token_strings(self) -> list[str]:
        return [self._tok.convert_ids_to_tokens(i) or "" for i in range(self.vocab_size)]


def make_tokenizer(spec: str | Tokenizer = "word", **kwargs) -> Tokenizer:
    """Tokenizer from a spec: ``"char"``, ``"word"`` or ``"hf:<local path>"`` (an existing Tokenizer passes through).

    Example
    -------
    >>> make_tokenizer("char").fit(["abc"]).vocab_size
    4
    """
    if isinstance(spec, Tokenizer):
        return spec
    s = str(spec).strip()
    if s == "char":
        return CharTokenizer(**kwargs)
    if s == "word":
        return WordTokenizer(**kwargs)
    if s.startswith("hf:"):
        path = s[3:]
        if not path:
            raise InputError("tokenizer 'hf:': give a local path after 'hf:', e.g. hf:/models/gpt2")
        if not Path(path).exists():
            raise InputError(f"tokenizer '{s}': {path} does not exist (only local Hugging Face tokenizers work offline)")
        return HFTokenizer(path)
    raise InputError(f"tokenizer '{s}': unknown tokenizer (use char, word or hf:<local path>)")
