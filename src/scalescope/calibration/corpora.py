"""Human-text corpora for calibration runs: loading, deterministic train/eval splits, and prompt passages.

The entropy-calibration protocol (Cao et al. 2025 §2.2, spec §2.2) compares a model's own generations with a human
continuation of the same prompt: a passage is P tokens of human text (the prompt) followed by the next T tokens (the
human continuation that step t of generation is compared with). This module turns a corpus spec into documents and
documents into equal-length passages: a seeded uniform sample of the running text's non-overlapping windows
(``mode="random"``, the default of ``calibrate run``), or each document's opening (``mode="openings"``, the paper's
protocol: the first 128 tokens of a WikiText-103 article).

Corpus specs (:func:`load_corpus`):

- ``wikitext-2`` -- WikiText-2 validation split (via ``scalescope.data``), one document per article (`` = Title = ``);
- ``tinyshakespeare`` -- Tiny Shakespeare, blank-line paragraphs merged into documents of >= 4,000 characters;
- ``python-stdlib`` -- this interpreter's standard-library ``.py`` sources (no tests, no site-packages), one
  document per file, sorted by path;
- ``python-docs`` -- docstrings of those modules (module, class and function docstrings), one document per module;
- a ``.txt``/``.md``/other text file (paragraphs merged as for Tiny Shakespeare), a directory of ``.txt``/``.md``
  files (one document per file, sorted), or ``file.jsonl:FIELD`` (one document per record).

Example
-------
>>> from scalescope.calibration.corpora import Corpus
>>> c = Corpus.from_documents("toy", ["one two three", "four five", "six"])
>>> train, evald = c.split(seed=0, held_out=0.34)
>>> len(train), len(evald)
(2, 1)
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalescope.errors import InputError
from scalescope.outputs import check_input_path

__all__ = ["Corpus", "Passages", "load_corpus", "build_passages", "BUILTIN_CORPORA", "PASSAGE_MODES"]

BUILTIN_CORPORA = ("wikitext-2", "tinyshakespeare", "python-stdlib", "python-docs")
#: Plain text files are split at blank lines and consecutive paragraphs merged until a document has this many
#: characters, so that "document" means a few pages (enough for a 128 + 512-token passage) rather than a line.
MIN_DOC_CHARS = 4000
_TEXT_SUFFIXES = (".txt", ".md", ".rst", ".text")


@dataclass(frozen=True)
class Corpus:
    """A named list of documents with a content hash.

    name : the spec it was loaded from. sha256 : hash of the documents (order-sensitive), recorded in manifests.
    source : where it came from (a path, or a description).
    """

    name: str
    sha256: str
    documents: tuple[str, ...] = field(repr=False)
    source: str = ""

    @classmethod
    def from_documents(cls, name: str, documents: Sequence[str], source: str = "") -> Corpus:
        docs = tuple(d for d in documents if d and d.strip())
        h = hashlib.sha256()
        for d in docs:
            h.update(d.encode("utf-8"))
            h.update(b"\x1e")  # record separator, so ["ab", "c"] and ["a", "bc"] hash differently
        return cls(name=name, sha256=h.hexdigest(), documents=docs, source=source or name)

    def __len__(self) -> int:
        return len(self.documents)

    def split(self, seed: int = 0, held_out: float = 0.1) -> tuple[list[str], list[str]]:
        """Deterministic document-level split -> ``(train_docs, eval_docs)``, each in corpus order.

        ``round(held_out * n)`` documents (at least 1, at most n - 1) are drawn by a seeded permutation.
        """
        n = len(self.documents)
        if n < 2:
            raise InputError(f"corpus '{self.name}': {n} document(s); a train/eval split needs at least 2")
        if not 0.0 < held_out < 1.0:
            raise InputError(f"held_out={held_out}: must be in (0, 1)")
        n_eval = min(n - 1, max(1, round(held_out * n)))
        perm = np.random.default_rng(seed).permutation(n)
        is_eval = np.zeros(n, dtype=bool)
        is_eval[perm[:n_eval]] = True
        train = [d for d, e in zip(self.documents, is_eval) if not e]
        evald = [d for d, e in zip(self.documents, is_eval) if e]
        return train, evald


# -- loading ----------------------------------------------------------------------------------------------------------
def _paragraph_documents(text: str, min_chars: int = MIN_DOC_CHARS) -> list[str]:
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    docs, cur, size = [], [], 0
    for p in paras:
        cur.append(p)
        size += len(p)
        if size >= min_chars:
            docs.append("\n\n".join(cur) + "\n")
            cur, size = [], 0
    if cur:
        docs.append("\n\n".join(cur) + "\n")
    return docs


_WIKI_TITLE = re.compile(r"^ = [^=].* = $")


def _wikitext_documents(text: str) -> list[str]:
    docs, cur = [], []
    for line in text.splitlines(keepends=True):
        if _WIKI_TITLE.match(line.rstrip("\n")) and any(x.strip() for x in cur):
            docs.append("".join(cur))
            cur = []
        cur.append(line)
    if any(x.strip() for x in cur):
        docs.append("".join(cur))
    return docs


def _read_text(path: Path) -> str:
    check_input_path(path, what="corpus file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not valid UTF-8 text ({e.reason} at byte {e.start})") from None


def _builtin_path(name: str) -> Path:
    """The registered file of a built-in corpus, through the data layer (sha256-checked; cache / pinned URL)."""
    from scalescope.data import fetch

    return Path(fetch(name))


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}
    files = [p for p in root.rglob("*.py") if not (set(p.relative_to(root).parts[:-1]) & skip)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _stdlib_documents() -> tuple[list[str], str]:
    docs = []
    for p in _stdlib_files():
        try:
            docs.append(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue  # a handful of legacy-encoded files; skipping them keeps the corpus deterministic
    return docs, sysconfig.get_paths()["stdlib"]


def _docstrings(source: str) -> str:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ""
    parts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            d = ast.get_docstring(node)
            if d:
                parts.append(d)
    return "\n\n".join(parts)


def load_corpus(spec: str) -> Corpus:
    """Load a corpus by built-in name or path (see the module docstring for the forms).

    Raises :class:`InputError` (one line) for a missing path, a non-UTF-8 file, a bad ``.jsonl`` field, or a
    corpus with no text; :class:`DataNotFoundError` when a built-in corpus is not available offline.
    """
    spec = str(spec).strip()
    if not spec:
        raise InputError("--corpus: empty corpus name")
    if spec == "wikitext-2":
        path = _builtin_path(spec)
        return _nonempty(Corpus.from_documents(spec, _wikitext_documents(_read_text(path)), str(path)))
    if spec == "tinyshakespeare":
        path = _builtin_path(spec)
        return _nonempty(Corpus.from_documents(spec, _paragraph_documents(_read_text(path)), str(path)))
    if spec == "python-stdlib":
        docs, src = _stdlib_documents()
        return _nonempty(Corpus.from_documents(spec, docs, src))
    if spec == "python-docs":
        docs, src = _stdlib_documents()
        return _nonempty(Corpus.from_documents(spec, [_docstrings(d) for d in docs], src))
    m = re.match(r"^(.*\.jsonl):([^/\\:]+)$", spec)
    if m:
        return _nonempty(_jsonl_corpus(spec, Path(m.group(1)).expanduser(), m.group(2)))
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _TEXT_SUFFIXES)
        if not files:
            raise InputError(f"corpus '{spec}': directory has no .txt/.md files")
        return _nonempty(Corpus.from_documents(spec, [_read_text(p) for p in files], str(path.resolve())))
    if path.is_file():
        if path.suffix.lower() == ".jsonl":
            raise InputError(f"corpus '{spec}': a .jsonl corpus needs a field, e.g. {spec}:text")
        return _nonempty(Corpus.from_documents(spec, _paragraph_documents(_read_text(path)), str(path.resolve())))
    if path.exists():  # a FIFO, socket or device: refused before anything opens it
        check_input_path(path, what=f"corpus '{spec}'")
    raise InputError(
        f"corpus '{spec}': not a built-in corpus ({', '.join(BUILTIN_CORPORA)}) and no such file or directory"
    )


def _jsonl_corpus(spec: str, path: Path, fieldname: str) -> Corpus:
    if not path.is_file():
        raise InputError(f"corpus '{spec}': no such file {path}")
    docs = []
    for i, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: line {i} is not valid JSON ({e.msg})") from None
        if not isinstance(rec, dict) or fieldname not in rec:
            raise InputError(f"{path}: line {i} has no field '{fieldname}'")
        if not isinstance(rec[fieldname], str):
            raise InputError(f"{path}: line {i} field '{fieldname}' is not a string")
        docs.append(rec[fieldname])
    return Corpus.from_documents(spec, docs, str(path.resolve()))


def _nonempty(c: Corpus) -> Corpus:
    if not c.documents:
        raise InputError(f"corpus '{c.name}': contains no text")
    return c


# -- passages ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Passages:
    """Equal-length token windows: ``ids`` int64 [N, P + T]; provenance counts for the manifest."""

    ids: np.ndarray
    prompt_tokens: int
    steps: int
    doc_index: np.ndarray  # which document each passage came from
    window_index: np.ndarray  # which window (0 = the document's start) of that document
    n_documents_scanned: int
    n_skipped: int  # scanned documents shorter than one window

    def __len__(self) -> int:
        return int(self.ids.shape[0])


PASSAGE_MODES = ("openings", "random")


def build_passages(documents: Sequence[str], encode: Callable[[str], list[int]], *, prompt_tokens: int,
                   steps: int, n: int, corpus_name: str = "corpus", mode: str = "openings",
                   seed: int = 0) -> Passages:
    """``n`` windows of ``prompt_tokens + steps`` tokens from ``documents``.

    ``mode="openings"`` (default; the paper's protocol: a prompt is a passage's opening) takes the first window of
    each document in order; only if that gives fewer than ``n`` passages do later passes take each document's next
    non-overlapping window, round-robin. Documents are tokenised lazily, so a large corpus costs only what is used.

    ``mode="random"`` tiles every document into non-overlapping windows from its start and takes a uniform sample of
    ``n`` of them without replacement (``numpy.random.default_rng(seed)``), in (document, window) order. This samples
    the running text rather than its openings (titles, lead sentences, licence headers); it tokenises every document.

    Raises :class:`InputError` naming the corpus when it has no (or too few) passages that long.

    Examples
    --------
    >>> docs = ["a b c d e f g h", "i j k l", "m n"]
    >>> enc = lambda s: [ord(c) - 97 for c in s.split()]
    >>> build_passages(docs, enc, prompt_tokens=1, steps=1, n=3).ids.tolist()
    [[0, 1], [8, 9], [12, 13]]
    >>> p = build_passages(docs, enc, prompt_tokens=1, steps=1, n=3, mode="random", seed=0)
    >>> len(p), sorted(set(p.doc_index.tolist())) <= [0, 1, 2]
    (3, True)
    """
    if mode not in PASSAGE_MODES:
        raise InputError(f"passages {mode!r}: expected one of {', '.join(PASSAGE_MODES)}")
    if prompt_tokens < 1 or steps < 1 or n < 1:
        raise InputError("prompt_tokens, steps and samples must all be >= 1")
    if mode == "random":
        return _random_passages(documents, encode, prompt_tokens=prompt_tokens, steps=steps, n=n,
                                corpus_name=corpus_name, seed=seed)
    width = prompt_tokens + steps
    tokenised: list[np.ndarray] = []
    out: list[np.ndarray] = []
    where: list[tuple[int, int]] = []
    skipped = 0
    for i, doc in enumerate(documents):
        ids = np.asarray(encode(doc), dtype=np.int64)
        tokenised.append(ids)
        if len(ids) < width:
            skipped += 1
            continue
        out.append(ids[:width])
        where.append((i, 0))
        if len(out) == n:
            break
    scanned = len(tokenised)
    w = 1
    while len(out) < n:
        added = False
        for i, ids in enumerate(tokenised):
            if len(ids) >= (w + 1) * width:
                out.append(ids[w * width:(w + 1) * width])
                where.append((i, w))
                added = True
                if len(out) == n:
                    break
        if not added:
            break
        w += 1
    _check_count(len(out), n, corpus_name, prompt_tokens, steps, skipped, scanned)
    loc = np.asarray(where, dtype=np.int64)
    return Passages(ids=np.stack(out), prompt_tokens=prompt_tokens, steps=steps, doc_index=loc[:, 0],
                    window_index=loc[:, 1], n_documents_scanned=scanned, n_skipped=skipped)


def _check_count(found: int, n: int, corpus_name: str, prompt_tokens: int, steps: int, skipped: int,
                 scanned: int) -> None:
    width = prompt_tokens + steps
    if not found:
        raise InputError(
            f"corpus '{corpus_name}': no document has {width} tokens (--prompt-tokens {prompt_tokens} + "
            f"--steps {steps}); {skipped} of {scanned} documents are too short"
        )
    if found < n:
        raise InputError(
            f"corpus '{corpus_name}': only {found} passages of {width} tokens (need --samples {n}); "
            f"lower --samples, --steps or --prompt-tokens"
        )


def _random_passages(documents: Sequence[str], encode: Callable[[str], list[int]], *, prompt_tokens: int,
                     steps: int, n: int, corpus_name: str, seed: int) -> Passages:
    width = prompt_tokens + steps
    tokenised = [np.asarray(encode(doc), dtype=np.int64) for doc in documents]
    tiles = [(i, w) for i, ids in enumerate(tokenised) for w in range(len(ids) // width)]
    skipped = sum(len(ids) < width for ids in tokenised)
    _check_count(len(tiles), n, corpus_name, prompt_tokens, steps, skipped, len(tokenised))
    pick = np.sort(np.random.default_rng(seed).choice(len(tiles), size=n, replace=False))
    loc = np.asarray([tiles[k] for k in pick], dtype=np.int64)
    ids = np.stack([tokenised[i][w * width:(w + 1) * width] for i, w in loc])
    return Passages(ids=ids, prompt_tokens=prompt_tokens, steps=steps, doc_index=loc[:, 0], window_index=loc[:, 1],
                    n_documents_scanned=len(tokenised), n_skipped=skipped)
