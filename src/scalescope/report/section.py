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

    def norm(items, extra=None):
        out = []
        for it in items or []:
            if isinstance(it, tuple | list):
                it = {"path": str(it[0]), "caption": str(it[1]) if len(it) > 1 else ""}
            it = dict(it)
            p = Path(it["path"])
            it["path"] = str(p.relative_to(directory) if p.is_absolute() and p.is_relative_to(directory) else p)
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


def read_section(directory: str | Path) -> Section:
    """Read ``directory/section.json``, or synthesise a section from the figures and JSON files found there."""
    directory = Path(directory)
    f = directory / SECTION_FILE
    if f.exists():
        d = load_json(f)
        if not isinstance(d, dict):
            raise InputError(f"{f}: expected a JSON object (see scalescope.report.write_section)")
        try:
            order = int(d.get("order", 50))
        except (TypeError, ValueError):
            raise InputError(f"{f}: 'order' must be an integer, got {d.get('order')!r}") from None
        return Section(
            directory=directory,
            title=d.get("title") or directory.name,
            kind=d.get("kind", "other"),
            summary=d.get("summary", ""),
            figures=list(d.get("figures", [])),
            tables=list(d.get("tables", [])),
            metrics=dict(d.get("metrics", {})),
            order=order,
        )
    figs = [
        {"path": str(p.relative_to(directory)), "caption": p.stem.replace("_", " ")}
        for p in sorted(directory.rglob("*"))
        if p.suffix.lower() in FIGURE_EXTS
    ]
    metrics: dict[str, Any] = {}
    for name in ("summary.json", "result.json", "manifest.json"):
        p = directory / name
        if p.exists():
            try:
                d = json.loads(p.read_text(encoding="utf-8"))
            except ValueError:  # not JSON or not UTF-8: no metrics from this file
                continue
            if isinstance(d, dict):
                metrics.update({k: v for k, v in d.items() if isinstance(v, int | float | str | bool)})
    return Section(directory=directory, title=directory.name, figures=figs, metrics=metrics, order=90)


def find_sections(directories: list[str | Path]) -> list[Section]:
    """Every section under ``directories`` (a directory with ``section.json`` anywhere below, or the directory itself)."""
    found: list[Section] = []
    seen: set[Path] = set()
    for d in directories:
        d = Path(d)
        hits = sorted(p.parent for p in d.rglob(SECTION_FILE))
        if not hits:
            hits = [d]
        for h in hits:
            r = h.resolve()
            if r not in seen:
                seen.add(r)
                found.append(read_section(h))
    found.sort(key=lambda s: (s.order, str(s.directory)))
    return found
