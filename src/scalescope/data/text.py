"""Human-text corpora for calibration measurements and tests: WikiText-2 (validation split) and Tiny Shakespeare.

The calibration engine scores and continues human text (entropy calibration, Cao, Valiant, Liang 2025; research/
entropy_calibration.md); it reads the raw files through :func:`scalescope.data.fetch` (``fetch("wikitext-2")`` ->
``valid.txt``, ``fetch("tinyshakespeare")`` -> ``input.txt``). :func:`load_wikitext2` and
:func:`load_tinyshakespeare` split them into documents without losing a byte: ``"".join(df.text)`` is the file.
"""

from __future__ import annotations

import re

import pandas as pd

from scalescope.data import registry as _reg
from scalescope.data.validate import read_text

WIKITEXT_SOURCE = (
    "github.com/pytorch/examples @ 77f55b912142e11fcfdf5b530231fb9c52f181e8, "
    "word_language_model/data/wikitext-2/valid.txt"
)
TINYSHAKESPEARE_SOURCE = (
    "github.com/karpathy/char-rnn @ 6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e, data/tinyshakespeare/input.txt"
)
SOURCE = f"{WIKITEXT_SOURCE}; {TINYSHAKESPEARE_SOURCE}"
WIKITEXT_LICENSE = "CC BY-SA 3.0 (Wikipedia text)"
TINYSHAKESPEARE_LICENSE = "public domain text"
LICENSE = f"wikitext-2: {WIKITEXT_LICENSE}; tinyshakespeare: {TINYSHAKESPEARE_LICENSE}"
CITATION = """@inproceedings{merity2017pointer,
  title     = {Pointer Sentinel Mixture Models},
  author    = {Merity, Stephen and Xiong, Caiming and Bradbury, James and Socher, Richard},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2017},
  note      = {arXiv:1609.07843}
}
@misc{karpathy2015charrnn,
  title        = {char-rnn: Multi-layer Recurrent Neural Networks for character-level language models},
  author       = {Karpathy, Andrej},
  year         = {2015},
  howpublished = {\\url{https://github.com/karpathy/char-rnn}}
}"""
NOTE = (
    "WikiText-2 validation split only, word-level tokenised with rare words as <unk> and ' @-@ ' style separators; "
    "articles start with ' = Title = ' lines. Tiny Shakespeare is 40k lines of plays in 'SPEAKER:' blocks. "
    "Documents are exact slices of the file: ''.join(df.text) reproduces it."
)

FILES = {"wikitext-2": "text/wikitext-2/valid.txt", "tinyshakespeare": "text/tinyshakespeare/input.txt"}

# An article title is " = Title = " with single '=' (sections are " = = Section = = ").
_WIKI_TITLE = re.compile(r"^ = (?P<title>[^=].*?) = $")


def _frame(docs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"doc_id": range(len(docs)), "title": [t for t, _ in docs], "text": [x for _, x in docs]}
    )


def split_wikitext(text: str) -> pd.DataFrame:
    """Split WikiText at article-title lines; a preamble before the first title becomes a document titled "".

    Examples
    --------
    >>> df = split_wikitext(" \\n = A = \\n a text \\n = = S = = \\n more \\n = B = \\n b \\n")
    >>> df.title.tolist(), "".join(df.text) == " \\n = A = \\n a text \\n = = S = = \\n more \\n = B = \\n b \\n"
    (['A', 'B'], True)
    """
    docs: list[tuple[str, str]] = []
    title, buf = "", []
    for line in text.splitlines(keepends=True):
        m = _WIKI_TITLE.match(line.rstrip("\r\n"))
        if m:
            if buf:
                docs.append((title, "".join(buf)))
            title, buf = m["title"].strip(), [line]
        else:
            buf.append(line)
    if buf:
        docs.append((title, "".join(buf)))
    # The file opens with a blank line before the first title: glue such whitespace onto the first article rather
    # than emitting an empty document (keeps "".join(text) == file).
    if len(docs) > 1 and docs[0][0] == "" and not docs[0][1].strip():
        docs[1] = (docs[1][0], docs[0][1] + docs[1][1])
        docs.pop(0)
    return _frame(docs)


def split_speaker_blocks(text: str) -> pd.DataFrame:
    """Split Tiny Shakespeare into blank-line separated speaker blocks; title = the speaker (``"First Citizen"``).

    Examples
    --------
    >>> df = split_speaker_blocks("First Citizen:\\nSpeak.\\n\\nAll:\\nSpeak, speak.\\n")
    >>> df.title.tolist(), df.text.tolist()
    (['First Citizen', 'All'], ['First Citizen:\\nSpeak.\\n\\n', 'All:\\nSpeak, speak.\\n'])
    """
    docs: list[tuple[str, str]] = []
    buf: list[str] = []
    seen_blank = False
    for line in text.splitlines(keepends=True):
        blank = not line.strip()
        if not blank and seen_blank and buf:
            docs.append(("", "".join(buf)))
            buf = []
        seen_blank = blank
        buf.append(line)
    if buf:
        docs.append(("", "".join(buf)))
    out = []
    for _, block in docs:
        first = block.lstrip("\n").split("\n", 1)[0].strip()
        out.append((first[:-1] if first.endswith(":") else "", block))
    return _frame(out)


def load_wikitext2(*, download: bool = True) -> pd.DataFrame:
    """WikiText-2 validation articles: ``doc_id``, ``title``, ``text`` (see :func:`split_wikitext`)."""
    key = FILES["wikitext-2"]
    return split_wikitext(read_text(_reg.fetch_file(key, download=download), label=key))


def load_tinyshakespeare(*, download: bool = True) -> pd.DataFrame:
    """Tiny Shakespeare speaker blocks: ``doc_id``, ``title`` (speaker), ``text`` (see :func:`split_speaker_blocks`)."""
    key = FILES["tinyshakespeare"]
    return split_speaker_blocks(read_text(_reg.fetch_file(key, download=download), label=key))
