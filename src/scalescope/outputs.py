"""The output layer: every file scalescope writes goes through here (DESIGN.md "Output contract").

One module implements the contract for every command, ``scalescope demo`` and the library's writers:

- ``--out DIR`` is created if missing. An existing non-empty DIR that scalescope did not write is refused; a DIR
  holding an earlier output of the same command is replaced only with ``overwrite=True``, and then only the files
  listed in its marker (:data:`MARKER`, written last by every output) are removed -- nothing else, ever.
- Atomic: :func:`output_dir` yields a fresh private folder (``tempfile.mkdtemp``, mode 0700, unpredictable name)
  inside DIR; writers fill it, and only when the block succeeds are its files moved into DIR (one ``rename`` each;
  collisions with files scalescope did not write are refused before anything moves). After any error, Ctrl-C
  included, the private folder is removed and DIR is as it was (or absent, when this call created it).
- Never follows a symlink when writing: files are created in the private folder with ``O_EXCL`` temp names
  (:func:`atomic_path`), and ``rename`` replaces a link rather than writing through it; a directory component
  inside DIR that is a symlink is refused.

Writers nested inside an :func:`output_dir` block (``demo`` running every analysis's ``run_demo``) write straight
into the enclosing private folder: the outer call owns the marker and the final move.

Example
-------
>>> import json, pathlib, tempfile
>>> out = pathlib.Path(tempfile.mkdtemp()) / "result"
>>> with output_dir(out, command="example") as d:
...     _ = (d / "table.csv").write_text("a,b\\n1,2\\n")
>>> sorted(p.name for p in out.iterdir())
['.scalescope-output.json', 'table.csv']
>>> json.loads((out / MARKER).read_text())["files"]
['table.csv']
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import functools
import inspect
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scalescope.errors import InputError

__all__ = [
    "MARKER",
    "output_dir",
    "atomic_path",
    "atomic_write_text",
    "write_csv",
    "read_marker",
    "check_input_path",
    "check_out_dir",
    "claim_run_dir",
    "writes_output",
    "record_files",
]

#: The file, written last into every output folder, that lists what scalescope wrote there.
MARKER = ".scalescope-output.json"
_STAGING_PREFIX = ".scalescope-staging-"
_STAGING_SENTINEL = ".scalescope-staging"

# Private folders of the output_dir blocks that are open in this context (nested writers write into them).
_ACTIVE: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("scalescope_active_outputs", default=())


def _file_mode() -> int:
    mask = os.umask(0o022)  # read the process umask (there is no getter) and put it back at once
    os.umask(mask)
    return 0o666 & ~mask


# ----------------------------------------------------------------------------------------------------------------
# single files
# ----------------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success it is renamed onto ``path``.

    The temporary file is created with ``O_EXCL`` under an unpredictable name (``tempfile.mkstemp``), so a planted
    symlink is never followed; ``os.replace`` replaces a symlink at ``path`` instead of writing through it. On any
    error the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(p) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> p.read_text()
    'hello'
    """
    path = Path(path)
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:80]}.", suffix=suffix or (path.suffix or ".tmp"), dir=parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, _file_mode())  # mkstemp makes 0600; an output file gets the usual umask-derived mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_csv(frame, path: str | os.PathLike, **kw) -> Path:
    """Write a DataFrame to ``path`` as CSV atomically (``index=False`` unless given); returns ``path``."""
    kw.setdefault("index", False)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **kw)
    return Path(path)


# ----------------------------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------------------------
def check_input_path(path: str | os.PathLike, *, what: str = "input", allow_dir: bool = False) -> Path:
    """Refuse inputs that are not regular files (FIFOs, sockets, devices) *before* anything opens them.

    Opening a FIFO blocks until a writer appears, so a FIFO given as ``--data`` would hang forever; a device could be
    endless. Returns ``path`` (as a :class:`~pathlib.Path`) when it is a regular file, or a directory where
    ``allow_dir``. A missing path raises :class:`FileNotFoundError` (the CLI turns it into one line).

    Examples
    --------
    >>> check_input_path("/dev/null")
    Traceback (most recent call last):
    ...
    scalescope.errors.InputError: /dev/null: input is a character device, not a regular file
    """
    p = Path(path)
    st = os.stat(p)  # follows a symlink: the target's kind is what matters
    if stat.S_ISREG(st.st_mode) or (allow_dir and stat.S_ISDIR(st.st_mode)):
        return p
    kind = (
        "a directory" if stat.S_ISDIR(st.st_mode)
        else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
        else "a socket" if stat.S_ISSOCK(st.st_mode)
        else "a character device" if stat.S_ISCHR(st.st_mode)
        else "a block device" if stat.S_ISBLK(st.st_mode)
        else "not a regular file"
    )
    raise InputError(f"{path}: {what} is {kind}, not a regular file")


# ----------------------------------------------------------------------------------------------------------------
# the marker
# ----------------------------------------------------------------------------------------------------------------
def read_marker(directory: str | os.PathLike) -> dict | None:
    """The marker of an output folder (``None`` when there is none). A malformed marker is an :class:`InputError`."""
    f = Path(directory) / MARKER
    try:
        st = os.lstat(f)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{f}: not a regular file; this folder was not written by scalescope")
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{f}: malformed scalescope marker (not JSON); remove the folder or choose another --out") \
            from None
    files = d.get("files") if isinstance(d, dict) else None
    if (not isinstance(d, dict) or not isinstance(d.get("command"), str) or not isinstance(files, list)
            or not all(isinstance(x, str) for x in files)):
        raise InputError(f"{f}: malformed scalescope marker (needs 'command' and a list of 'files')")
    return d


def _safe_rel(rel: str) -> bool:
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and p.parts[0] != MARKER


def _write_marker(directory: Path, command: str, files: list[str], dirs: list[str], extra: dict | None = None) -> None:
    payload = {
        "tool": "scalescope",
        "command": command,
        "written": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": sorted(set(files)),
        "dirs": sorted(set(dirs)),
    }
    if extra:
        payload.update(extra)
    from scalescope import __version__

    payload["version"] = __version__
    atomic_write_text(directory / MARKER, json.dumps(payload, indent=2) + "\n")


def record_files(directory: str | os.PathLike, command: str, files: list[str]) -> None:
    """Add ``files`` (relative to ``directory``) to the folder's marker, creating it for ``command`` if missing.

    Used by outputs that grow in place (a calibration run's shards), which cannot be staged as one block.
    """
    directory = Path(directory)
    old = read_marker(directory) or {"files": [], "dirs": []}
    _write_marker(directory, command, list(old["files"]) + list(files), list(old.get("dirs", [])))


# ----------------------------------------------------------------------------------------------------------------
# folders
# ----------------------------------------------------------------------------------------------------------------
def _entries(directory: Path) -> list[str]:
    """Names in ``directory``, leaving out our own stale private folders (left by a killed process)."""
    names = []
    for name in os.listdir(directory):
        if name.startswith(_STAGING_PREFIX) and (directory / name / _STAGING_SENTINEL).is_file():
            continue
        names.append(name)
    return names


def _remove_stale_staging(directory: Path) -> None:
    for name in os.listdir(directory):
        d = directory / name
        if name.startswith(_STAGING_PREFIX) and not d.is_symlink() and (d / _STAGING_SENTINEL).is_file():
            shutil.rmtree(d, ignore_errors=True)


@dataclass
class _Plan:
    out: Path
    command: str
    overwrite: bool
    created: list[Path] = field(default_factory=list)  # folders this call made (removed again on failure)
    old: dict | None = None
    inputs: frozenset[str] = frozenset()  # real paths of the command's input files: never replaced or removed


def _check_out(out: Path, *, command: str, overwrite: bool, resume: bool = False, flag: str = "--out",
               inputs=()) -> _Plan:
    plan = _Plan(out=out, command=command, overwrite=overwrite,
                 inputs=frozenset(os.path.realpath(p) for p in inputs if p is not None and os.path.exists(p)))
    try:
        st = os.stat(out)  # --out itself may be reached through a symlink
    except FileNotFoundError:
        return plan
    except NotADirectoryError:
        raise InputError(f"{flag} {out}: a part of this path is a file, not a directory") from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{flag} {out}: exists and is not a directory")
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {out}: permission denied (not writable)")
    names = _entries(out)
    if not names:
        return plan
    marker = read_marker(out)
    if marker is None:
        raise InputError(f"{flag} {out}: exists, is not empty and was not written by scalescope; choose a new or "
                         "empty folder (nothing there was changed)")
    if marker["command"] != command:
        raise InputError(f"{flag} {out}: holds the output of `scalescope {marker['command']}`, not of "
                         f"`scalescope {command}`; choose another folder")
    if not (overwrite or resume):
        raise InputError(f"{flag} {out}: holds an earlier output of `scalescope {command}`; pass --overwrite to "
                         "replace it (only the files scalescope wrote there are removed)")
    plan.old = marker
    real = os.path.realpath(out)
    for rel in marker["files"]:
        if _safe_rel(rel) and os.path.realpath(os.path.join(real, rel)) in plan.inputs:
            raise InputError(f"{flag} {out}: {rel} there is an input of this command; --overwrite would replace it, "
                             "choose another folder")
    return plan


def check_out_dir(out: str | os.PathLike, *, command: str, overwrite: bool = False, flag: str = "--out",
                  inputs=()) -> None:
    """Raise :class:`InputError` now if :func:`output_dir` would refuse ``out`` (call before long work)."""
    _check_out(Path(out), command=command, overwrite=overwrite, flag=flag, inputs=inputs)


def _makedirs(out: Path) -> list[Path]:
    """``mkdir -p out``; returns the folders made, outermost first."""
    made: list[Path] = []
    p = Path(os.path.abspath(out))
    missing = []
    while not os.path.lexists(p):
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        os.mkdir(d)
        made.append(d)
    return made


def _real_dir_inside(root: Path, rel_parent: Path) -> None:
    """Make ``root/rel_parent`` a real directory chain (no symlinks), creating missing parts."""
    cur = root
    for part in rel_parent.parts:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            os.mkdir(cur)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise InputError(f"{cur}: is not a real directory (a file or a symlink); refusing to write through it")


def _walk_files(root: Path) -> tuple[list[str], list[str]]:
    files, dirs = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = os.path.relpath(dirpath, root)
        for d in dirnames:
            dirs.append(os.path.normpath(os.path.join(rel, d)))
        for f in filenames:
            if rel == "." and f in (_STAGING_SENTINEL, MARKER):
                continue
            files.append(os.path.normpath(os.path.join(rel, f)))
    return sorted(files), sorted(dirs)


def _remove_listed(out: Path, old: dict, keep: set[str]) -> None:
    """Remove the files an earlier output listed (never following a link, never outside ``out``)."""
    for rel in old.get("files", []):
        if rel in keep or not _safe_rel(rel):
            continue
        target = out / rel
        if any(os.path.islink(out / Path(*Path(rel).parts[:i])) for i in range(1, len(Path(rel).parts))):
            continue  # a component was replaced by a link since: leave it alone
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            os.unlink(target)
    for rel in sorted(old.get("dirs", []), key=lambda r: -len(Path(r).parts)):
        if not _safe_rel(rel):
            continue
        d = out / rel
        if os.path.isdir(d) and not os.path.islink(d) and not os.listdir(d):
            with contextlib.suppress(OSError):
                os.rmdir(d)


def _commit(staging: Path, plan: _Plan) -> None:
    out = plan.out
    files, dirs = _walk_files(staging)
    old_files = set(plan.old["files"]) if plan.old else set()
    # 1. refuse collisions with anything scalescope did not write, before anything moves
    for rel in files:
        target = out / rel
        if os.path.realpath(target) in plan.inputs:
            raise InputError(f"{target}: is an input of this command; refusing to replace it (nothing was changed)")
        if os.path.lexists(target) and rel not in old_files:
            raise InputError(f"{target}: exists and was not written by scalescope; refusing to replace it "
                             "(nothing was changed)")
        parts = Path(rel).parts
        for i in range(1, len(parts)):
            comp = out / Path(*parts[:i])
            if os.path.lexists(comp) and (os.path.islink(comp) or not os.path.isdir(comp)):
                raise InputError(f"{comp}: is a file or a symlink where scalescope writes a folder; refusing "
                                 "(nothing was changed)")
    new_dirs = [d for d in dirs if not os.path.lexists(out / d)]
    old_dirs = list(plan.old.get("dirs", [])) if plan.old else []
    # 2. the marker first lists both generations, so an interruption never leaves an unlisted file of ours
    _write_marker(out, plan.command, sorted(old_files | set(files)), old_dirs + new_dirs)
    # 3. replace: drop the earlier output's own files, then move the new ones in (one rename each)
    if plan.old:
        _remove_listed(out, plan.old, keep=set(files))
    for rel in dirs:
        _real_dir_inside(out, Path(rel))
    for rel in files:
        os.replace(staging / rel, out / rel)
    _write_marker(out, plan.command, files, [d for d in set(old_dirs + new_dirs) if os.path.isdir(out / d)])


def _inside_active_block(out: Path) -> Path | None:
    """``out`` as an absolute path (created as a real folder chain) when it lies inside the private folder of an
    open :func:`output_dir` block, else ``None``."""
    abs_out = Path(os.path.abspath(out))
    for root in _ACTIVE.get():
        if abs_out == root or abs_out.is_relative_to(root):
            _real_dir_inside(root, abs_out.relative_to(root))
            return abs_out
    return None


@contextlib.contextmanager
def output_dir(out: str | os.PathLike, *, command: str, overwrite: bool = False, flag: str = "--out",
               inputs=()) -> Iterator[Path]:
    """Write one command's output folder atomically under the output contract; yields the private folder to fill.

    Parameters
    ----------
    out : path
        The output folder (``--out``). Relative, absolute or reached through a symlink.
    command : str
        The command whose output this is (e.g. ``"obs fit"``); an earlier output of another command is never
        replaced.
    overwrite : bool
        Replace an earlier output of the same command (only the files it listed are removed).
    flag : str
        How the folder is named in error messages.
    inputs : iterable of paths
        The command's input files; a file of the output that would replace or remove one of them is refused.

    Raises
    ------
    InputError
        When ``out`` is a file, is not empty and was not written by scalescope, holds another command's output,
        or holds this command's output and ``overwrite`` is false -- before anything is written.
    """
    out = Path(out)
    nested = _inside_active_block(out)
    if nested is not None:  # nested writer: the enclosing block commits
        yield nested
        return
    plan = _check_out(out, command=command, overwrite=overwrite, flag=flag, inputs=inputs)
    plan.created = _makedirs(out)
    real_out = Path(os.path.realpath(out))
    plan.out = real_out
    if plan.old is not None or not plan.created:
        _remove_stale_staging(real_out)
    staging: Path | None = None
    token = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=real_out))
        (staging / _STAGING_SENTINEL).write_text("scalescope private staging folder\n", encoding="utf-8")
        token = _ACTIVE.set(_ACTIVE.get() + (staging,))
        yield staging
        _ACTIVE.reset(token)
        token = None
        _commit(staging, plan)
    except BaseException:
        if token is not None:
            _ACTIVE.reset(token)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for d in reversed(plan.created):  # folders this call made, innermost first, only when still empty
            with contextlib.suppress(OSError):
                os.rmdir(d)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def writes_output(command: str, arg: str | None = None):
    """Decorate a writer so that it writes under the output contract.

    The wrapped function takes an extra keyword ``overwrite``; its output-folder argument (``arg``, by default the
    first parameter) is replaced by the private folder of an :func:`output_dir` block, which is committed when the
    function returns. Whatever the function returns is returned.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> @writes_output("example")
    ... def write_note(out_dir, text):
    ...     (out_dir / "note.txt").write_text(text)
    ...     return "done"
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "o"
    >>> write_note(out, "hi"), (out / "note.txt").read_text()
    ('done', 'hi')
    """

    def deco(f):
        sig = inspect.signature(f)
        name = arg or next(iter(sig.parameters))

        @functools.wraps(f)
        def wrapper(*args, overwrite: bool = False, **kwargs):
            bound = sig.bind(*args, **kwargs)
            with output_dir(bound.arguments[name], command=command, overwrite=overwrite) as d:
                bound.arguments[name] = d
                return f(*bound.args, **bound.kwargs)

        return wrapper

    return deco


def claim_run_dir(out: str | os.PathLike, *, command: str, resume: bool, overwrite: bool,
                  is_ours=None, own_files=None) -> list[Path]:
    """Claim a folder that is written in place (a calibration run: shards appear as they finish, for ``--resume``).

    Applies the same refusals as :func:`output_dir`. ``is_ours(path)`` recognises such a folder written before
    markers existed (e.g. a run directory with its manifest); ``own_files(path)`` lists the relative paths it wrote
    there, which ``overwrite`` removes. Returns the folders created (remove them on failure while they are empty).
    """
    out = Path(out)
    if _inside_active_block(out) is not None:  # the enclosing output block owns the checks
        return []
    try:
        plan = _check_out(out, command=command, overwrite=overwrite, resume=resume)
    except InputError:
        if not (os.path.isdir(out) and read_marker(out) is None and is_ours is not None and is_ours(out)):
            raise
        if not (resume or overwrite):
            raise InputError(f"--out {out}: run directory already exists; pass --resume to continue it, "
                             "--overwrite to replace it, or choose another --out") from None
        files = list(own_files(out)) if own_files else []
        plan = _Plan(out=out, command=command, overwrite=overwrite, old={"command": command, "files": files})
    if plan.old is not None and overwrite and not resume:
        extra = list(own_files(out)) if own_files else []
        _remove_listed(Path(os.path.realpath(out)), {"files": list(plan.old["files"]) + extra,
                                                     "dirs": plan.old.get("dirs", [])}, keep=set())
    created = _makedirs(out)
    return created
