"""The data registry: every public file scalescope reads, pinned by sha256 to an upstream commit, and how to find it.

One row per file in the committed text file ``registry.txt`` (``<folder>/<relative path> <sha256> <url>``), where the
URL is the raw GitHub address of the file at the exact commit the shared copy was taken from. The registry is data,
not code: :func:`make_registry` regenerates it from a directory of byte copies (run by a maintainer, never at import
or load time), so a silent upstream change can never slip in.

Resolution order of :func:`fetch_file` (DESIGN.md "scalescope/data", ecosystem.md §4.2-4.3):

1. ``$SCALESCOPE_DATA_DIR/<folder>/<relative path>`` if it exists. Its sha256 must match the registry; a mismatch is
   an :class:`~scalescope.errors.InputError` naming the file and both hashes (a modified copy is never used quietly).
2. The pooch cache (``$SCALESCOPE_CACHE_DIR``, default ``pooch.os_cache("scalescope")``), when the cached file's hash
   matches.
3. A download from the pinned URL with sha256 verification (only when ``download=True``).

If none works a :class:`~scalescope.errors.DataNotFoundError` says, on one line, which file, the variable to set and
the URL.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from scalescope.errors import DataNotFoundError, InputError

REGISTRY_FILE = Path(__file__).with_name("registry.txt")
DATA_DIR_ENV = "SCALESCOPE_DATA_DIR"
CACHE_DIR_ENV = "SCALESCOPE_CACHE_DIR"


@dataclass(frozen=True)
class Upstream:
    """Where a shared-data folder comes from: ``owner/repo`` at ``commit``; local paths map to ``prefix + path``."""

    repo: str
    commit: str
    prefix: str
    license: str


# Folder (as under $SCALESCOPE_DATA_DIR) -> upstream. Local sub-paths that differ from the upstream layout get a
# per-subfolder prefix (the key with a slash wins over the bare folder).
UPSTREAMS: dict[str, Upstream] = {
    "obsscaling": Upstream(
        "ryoungj/ObsScaling", "4d6e1e43fd2635d04654aa77d1df9d5266ea0382", "eval_results/", "Apache-2.0"
    ),
    "obsscaling/LICENSE": Upstream(
        "ryoungj/ObsScaling", "4d6e1e43fd2635d04654aa77d1df9d5266ea0382", "LICENSE", "Apache-2.0"
    ),
    "olmo-ladder": Upstream(
        "allenai/OLMo",
        "9bc064c72b1439640993e7ff28238e7b8f855aee",
        "scripts/scaling/data/peteish-moreeval/",
        "Apache-2.0",
    ),
    "gadre-scaling": Upstream(
        "mlfoundations/scaling", "a003c4913793ac2ae7ef87b28ecb562955d026d5", "exp_data/", "MIT"
    ),
    "pythia-evals": Upstream(
        "EleutherAI/pythia", "a19eecb807ec2c79a39ebf18108816e6ffffc1d5", "evals/", "Apache-2.0"
    ),
    "text/wikitext-2": Upstream(
        "pytorch/examples",
        "77f55b912142e11fcfdf5b530231fb9c52f181e8",
        "word_language_model/data/wikitext-2/",
        "CC-BY-SA-3.0",
    ),
    "text/tinyshakespeare": Upstream(
        "karpathy/char-rnn",
        "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e",
        "data/tinyshakespeare/",
        "public domain",
    ),
}

# Files in the shared folders that are ours, not upstream's (provenance notes), and so are not registered.
_NOT_UPSTREAM = {"SOURCE.md"}


@dataclass(frozen=True)
class Entry:
    """One registered file: ``key`` = ``<folder>/<relative path>`` (POSIX), its sha256 and pinned URL."""

    key: str
    sha256: str
    url: str

    @property
    def folder(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def relpath(self) -> str:
        return self.key.split("/", 1)[1]


def upstream_for(key: str) -> tuple[str, Upstream]:
    """The ``(matched prefix, Upstream)`` responsible for registry ``key`` (longest matching prefix wins)."""
    best = None
    for prefix, up in UPSTREAMS.items():
        if key == prefix or key.startswith(prefix + "/"):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, up)
    if best is None:
        raise InputError(
            f"{key}: no upstream is known for this data folder (known: {', '.join(sorted(UPSTREAMS))})"
        )
    return best


def url_for(key: str) -> str:
    """The pinned raw-GitHub URL of registry ``key``."""
    prefix, up = upstream_for(key)
    # A single-file mapping (key == prefix) names the upstream path itself; a folder mapping prepends its prefix.
    path = up.prefix if key == prefix else up.prefix + key[len(prefix) + 1 :]
    return f"https://raw.githubusercontent.com/{up.repo}/{up.commit}/{quote(path, safe='/=')}"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    from scalescope.outputs import check_input_path

    check_input_path(path, what="data file")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def make_registry(data_dir: str | Path, out: str | Path | None = REGISTRY_FILE) -> list[Entry]:
    """Regenerate the registry from byte copies of the upstream files in ``data_dir`` (maintainers only).

    Walks every folder named in :data:`UPSTREAMS`, hashes each file (except provenance notes such as ``SOURCE.md``)
    and writes ``out`` sorted by key. Run it deliberately after checking new copies against upstream, then commit the
    result: ``python tools/make_data_registry.py ../shared/data``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "olmo-ladder").mkdir(); _ = (d / "olmo-ladder" / "a.csv").write_text("x")
    >>> [e.key for e in make_registry(d, out=None)]
    ['olmo-ladder/a.csv']
    """
    data_dir = Path(data_dir)
    folders = sorted({k.split("/", 1)[0] for k in UPSTREAMS})
    entries = []
    for folder in folders:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.name in _NOT_UPSTREAM:
                continue
            key = p.relative_to(data_dir).as_posix()
            if " " in key:
                raise InputError(f"{key}: file names with spaces cannot be registered")
            entries.append(Entry(key, sha256_file(p), url_for(key)))
    entries.sort(key=lambda e: e.key)
    if out is not None:
        from scalescope.outputs import atomic_write_text

        out = Path(out)
        lines = [
            "# scalescope data registry: <folder>/<relative path> <sha256> <pinned upstream URL>",
            "# Generated by scalescope.data.registry.make_registry from byte copies of upstream; do not edit by hand.",
        ]
        lines += [f"{e.key} {e.sha256} {e.url}" for e in entries]
        atomic_write_text(out, "\n".join(lines) + "\n")
    return entries


_REGISTRY: dict[str, Entry] | None = None


def registry() -> dict[str, Entry]:
    """All registered files, ``key -> Entry`` (read once from ``registry.txt``)."""
    global _REGISTRY
    if _REGISTRY is None:
        reg = {}
        for line in REGISTRY_FILE.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            key, sha, url = line.split()
            reg[key] = Entry(key, sha, url)
        _REGISTRY = reg
    return _REGISTRY


def entries(prefix: str) -> list[Entry]:
    """Registered files whose key is ``prefix`` or lies under folder ``prefix``, sorted by key."""
    prefix = prefix.rstrip("/")
    return [e for k, e in sorted(registry().items()) if k == prefix or k.startswith(prefix + "/")]


def data_dir() -> Path | None:
    """``$SCALESCOPE_DATA_DIR`` as a path, or None when unset/empty."""
    v = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(v).expanduser() if v else None


def cache_dir() -> Path:
    """``$SCALESCOPE_CACHE_DIR``, else pooch's per-user cache for scalescope."""
    v = os.environ.get(CACHE_DIR_ENV, "").strip()
    if v:
        return Path(v).expanduser()
    import pooch

    return Path(pooch.os_cache("scalescope"))


# (resolved path, size, mtime_ns) -> sha256, so loading the 685 pythia files twice hashes them once per process.
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def _cached_hash(path: Path) -> str:
    st = path.stat()
    k = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    h = _HASH_CACHE.get(k)
    if h is None:
        h = _HASH_CACHE[k] = sha256_file(path)
    return h


def locate(entry: Entry) -> tuple[Path | None, str]:
    """Find ``entry`` locally without network: ``(path, where)`` with where in {"data_dir", "cache", "missing"}.

    A data-dir copy with the wrong hash raises :class:`InputError`; a cached copy with the wrong hash is ignored
    (it will be re-downloaded).
    """
    d = data_dir()
    if d is not None:
        p = d / entry.key
        if p.is_file():
            actual = _cached_hash(p)
            if actual != entry.sha256:
                raise InputError(
                    f"{p}: sha256 mismatch for registered file {entry.key} "
                    f"(expected {entry.sha256}, got {actual}); restore the upstream copy or unset {DATA_DIR_ENV}"
                )
            return p, "data_dir"
    p = cache_dir() / entry.key
    if p.is_file() and _cached_hash(p) == entry.sha256:
        return p, "cache"
    return None, "missing"


def check_entry(entry: Entry) -> tuple[str, str, Path | None]:
    """``(status, where, path)`` of ``entry`` without network: status ok | mismatch | missing; where data_dir |
    cache | "" (for ``scalescope data verify``; unlike :func:`locate` a mismatch is reported, not raised)."""
    d = data_dir()
    candidates = ([(d / entry.key, "data_dir")] if d is not None else []) + [
        (cache_dir() / entry.key, "cache")
    ]
    for p, where in candidates:
        if p.is_file():
            return ("ok" if _cached_hash(p) == entry.sha256 else "mismatch"), where, p
    return "missing", "", None


def _download(entry: Entry) -> Path:
    """Download ``entry`` into the cache with pooch, verifying its sha256."""
    import pooch

    target = cache_dir() / entry.key
    path = pooch.retrieve(
        entry.url,
        known_hash=f"sha256:{entry.sha256}",
        fname=target.name,
        path=target.parent,
        progressbar=False,
    )
    return Path(path)


def _not_found(entry: Entry, why: str = "") -> DataNotFoundError:
    d = data_dir()
    where = f"{d / entry.key} does not exist" if d is not None else f"{DATA_DIR_ENV} is not set"
    return DataNotFoundError(
        f"data file {entry.key} is not available offline ({where}; not in cache {cache_dir()}){why}: "
        f"set {DATA_DIR_ENV} to a folder holding {entry.key}, or download it from {entry.url}"
    )


def fetch_file(key: str, *, download: bool = True) -> Path:
    """Local path of registered file ``key`` (``<folder>/<relative path>``), following the resolution order."""
    entry = registry().get(key)
    if entry is None:
        raise InputError(f"{key}: not a registered data file")
    path, _ = locate(entry)
    if path is not None:
        return path
    if not download:
        raise _not_found(entry, "; downloads are disabled")
    try:
        return _download(entry)
    except Exception as e:
        # Network errors, HTTP errors, a hash mismatch of the download: all mean "not available" to the caller.
        reason = " ".join(str(e).split())
        reason = reason if len(reason) <= 120 else reason[:117] + "..."
        raise _not_found(entry, f"; download failed: {type(e).__name__}: {reason}") from e
