"""The report's unit: a *section*, one per result or run directory, described by ``section.json``.

Any command that writes an output directory also writes ``section.json`` there with :func:`write_section`::

    {"title": "...", "kind": "obs|calibration|emergence|theory|data|...", "summary": "plain text",
     "figures": [{"path": "fig.png", "caption": "..."}],
     "tables":  [{"path": "table.csv", "caption": "...", "max_rows": 30}],
     "metrics": {"name": value, ...}, "order": 50}

``scalescope report DIR...`` finds every ``section.json`` under the given directories and renders them into one
self-contained HTML page. Directories without one still get a section listing their figures and JSON files.
Paths inside a section are relative to its directory.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalescope.data.validate import load_json
from scalescope.errors import InputError
from scalescope.results import to_jsonable, write_json

SECTION_FILE = "section.json"
FIGURE_EXTS = (".png", ".svg", ".jpg", ".jpeg")


@dataclass
class Section:
    """A parsed ``section.json`` (paths resolved against ``directory``)."""

    directory: Path
    title: str
    kind: str = "other"
    summary: str = ""
    figures: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    order: int = 50


def write_section(
    directory: str | Path,
    *,
    title: str,
    kind: str = "other",
    summary: str = "",
    figures: list[dict[str, Any]] | list[tuple[str, str]] | None = None,
    tables: list[dict[str, Any]] | list[tuple[str, str]] | None = None,
    metrics: dict[str, Any] | None = None,
    order: int = 50,
) -> Path:
    """Write ``directory/section.json``. ``figures``/``tables`` are dicts or ``(path, caption)`` pairs.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = write_section(d, title="Demo", figures=[("fig.png", "A figure")], metrics={"mse": 0.01})
    >>> p.name
    'section.json'
    """
    directory = Path(directory)
    base = Path(os.path.realpath(directory))

    def rel(p) -> str:
        # Stored relative to the section's folder, whatever the working directory: a relative path is first taken
        # as given (relative to the working directory, as writers build it from ``out / name``), then relative to
        # the folder itself; either way it must lie inside the folder.
        p = Path(p)
        for cand in ([p] if p.is_absolute() else [p, directory / p]):
            r = Path(os.path.realpath(cand))
            if r.is_relative_to(base) and r != base:
                return r.relative_to(base).as_posix()
        raise ValueError(f"write_section: {p} is not inside the section folder {directory}")

    def norm(items):
        out = []
        for it in items or []:
            if isinstance(it, tuple | list):
                it = {"path": str(it[0]), "caption": str(it[1]) if len(it) > 1 else ""}
            it = dict(it)
            it["path"] = rel(it["path"])
            out.append(it)
        return out

    payload = {
        "title": title,
        "kind": kind,
        "summary": summary,
        "figures": norm(figures),
        "tables": norm(tables),
        "metrics": to_jsonable(metrics or {}),
        "order": int(order),
    }
    return write_json(payload, directory / SECTION_FILE)


def _str(d: dict, key: str, f: Path, default: str) -> str:
    v = d.get(key, default)
    if v is None:
        return default
    if not isinstance(v, str):
        raise InputError(f"{f}: '{key}' must be a string, got {type(v).__name__}")
    return v


def _items(d: dict, key: str, f: Path) -> list[dict[str, Any]]:
    v = d.get(key, [])
    if v is None:
        return []
    if not isinstance(v, list):
        raise InputError(f"{f}: '{key}' must be a list of {{\"path\": ..., \"caption\": ...}} objects")
    out = []
    for i, it in enumerate(v):
        if not isinstance(it, dict) or not isinstance(it.get("path"), str) or not it["path"]:
            raise InputError(f"{f}: {key}[{i}] must be an object with a non-empty string 'path'")
        cap = it.get("caption", "")
        if not isinstance(cap, str):
            raise InputError(f"{f}: {key}[{i}].caption must be a string")
        item = {"path": it["path"], "caption": cap}
        if "max_rows" in it:
            mr = it["max_rows"]
            if isinstance(mr, bool) or not isinstance(mr, int) or not 0 < mr <= 100_000:
                raise InputError(f"{f}: {key}[{i}].max_rows must be an integer in 1..100000")
            item["max_rows"] = mr
        out.append(item)
    return out


def read_section(directory: str | Path) -> Section:
    """Read ``directory/section.json`` (validated: one-line :class:`InputError` naming the file), or synthesise a
    section from the figures and JSON files found there."""
    directory = Path(directory)
    f = directory / SECTION_FILE
    if os.path.lexists(f):
        try:
            st = os.stat(f)
        except OSError:
            raise InputError(f"{f}: cannot be read (a broken symlink?)") from None
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{f}: not a regular file")
        d = load_json(f)
        if not isinstance(d, dict):
            raise InputError(f"{f}: expected a JSON object (see scalescope.report.write_section)")
        order = d.get("order", 50)
        if isinstance(order, bool) or not isinstance(order, int | float) or not math.isfinite(order):
            raise InputError(f"{f}: 'order' must be an integer, got {order!r}")
        metrics = d.get("metrics", {}) or {}
        if not isinstance(metrics, dict):
            raise InputError(f"{f}: 'metrics' must be an object of name: value")
        return Section(
            directory=directory,
            title=_str(d, "title", f, "") or directory.name,
            kind=_str(d, "kind", f, "other"),
            summary=_str(d, "summary", f, ""),
            figures=_items(d, "figures", f),
            tables=_items(d, "tables", f),
            metrics={str(k): v for k, v in metrics.items()},
            order=int(order),
        )
    figs = []
    metrics: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.suffix.lower() in FIGURE_EXTS and not name.startswith("."):
                figs.append({"path": p.relative_to(directory).as_posix(), "caption": p.stem.replace("_", " ")})
    for name in ("summary.json", "result.json", "manifest.json"):
        p = directory / name
        if p.is_file() and not p.is_symlink():
            try:
                d = json.loads(p.read_text(encoding="utf-8"))
            except (ValueError, OSError):  # not JSON, not UTF-8 or unreadable: no metrics from this file
                continue
            if isinstance(d, dict):
                metrics.update({k: v for k, v in d.items() if isinstance(v, int | float | str | bool)})
    return Section(directory=directory, title=directory.name, figures=figs, metrics=metrics, order=90)


def find_sections(directories: list[str | Path]) -> list[Section]:
    """Every section under ``directories`` (a directory with ``section.json`` anywhere below, or the directory itself).

    Symlinked folders are not descended into, and scalescope's private staging folders are skipped.
    """
    found: list[Section] = []
    seen: set[Path] = set()
    for d in directories:
        d = Path(d)
        hits = []
        for dirpath, dirnames, filenames in os.walk(d, followlinks=False):
            dirnames[:] = sorted(n for n in dirnames if not n.startswith(".scalescope-staging-"))
            if SECTION_FILE in filenames:
                hits.append(Path(dirpath))
        hits.sort()
        if not hits:
            hits = [d]
        for h in hits:
            r = h.resolve()
            if r not in seen:
                seen.add(r)
                found.append(read_section(h))
    found.sort(key=lambda s: (s.order, str(s.directory)))
    return found
