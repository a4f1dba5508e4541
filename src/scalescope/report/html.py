"""Render sections into one self-contained HTML page (images embedded as data URIs; no server needed)."""

from __future__ import annotations

import base64
import datetime as _dt
import math
import os
import stat
from importlib.resources import files
from pathlib import Path

import jinja2
import markupsafe
import pandas as pd

from scalescope import __version__
from scalescope.errors import InputError
from scalescope.outputs import atomic_write_text
from scalescope.report.section import Section, find_sections

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _fmt(v):
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(str(_fmt(x)) for x in v[:8]) + (", ..." if len(v) > 8 else "") + "]"
    return v


def _inside(section_dir: Path, rel: str) -> tuple[Path | None, str]:
    """The regular file ``rel`` names inside ``section_dir``, or ``(None, why)``.

    A section may only embed its own files: absolute paths, ``..``, symlinks that lead out of the folder, FIFOs,
    sockets and devices are refused (a hand-edited ``section.json`` must not copy ``/etc/passwd`` into the page, or
    hang on a pipe).
    """
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        return None, "refused: the path is outside the section's folder"
    base = Path(os.path.realpath(section_dir))
    target = Path(os.path.realpath(section_dir / p))
    if not target.is_relative_to(base):
        return None, "refused: a symlink that leads outside the section's folder"
    try:
        st = os.stat(target)
    except OSError:
        return None, "missing"
    if not stat.S_ISREG(st.st_mode):
        return None, "refused: not a regular file"
    return target, ""


def _embed(section_dir: Path, rel: str) -> tuple[str | None, str]:
    path, why = _inside(section_dir, rel)
    if path is None:
        return None, why
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        return None, "refused: not an image (png, svg, jpg)"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii"), ""


def _table_html(section_dir: Path, rel: str, max_rows: int) -> tuple[str | None, str]:
    """(escaped HTML of the table, "") or (None, why it is not shown)."""
    path, why = _inside(section_dir, rel)
    if path is None:
        return None, why
    try:
        df = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        return None, f"unreadable CSV ({type(e).__name__})"
    more = len(df) - max_rows
    # pandas escapes cell and header text (escape=True is its default, stated here because the page relies on it)
    html = df.head(max_rows).to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0, na_rep="",
                                     escape=True)
    if more > 0:
        html += f"<p class='src'>... {more} more rows in {markupsafe.escape(path.name)}</p>"
    return html, ""


def _shown(directory: Path, out_file: Path) -> str:
    """The section's folder as shown in the page: relative to the page when it lies below it."""
    rel = os.path.relpath(os.path.abspath(directory), os.path.abspath(out_file.parent))
    return rel if not rel.startswith("..") else str(directory)


def render_html(sections: list[Section], out_file: str | Path, *, title: str = "scalescope report", intro: str = "") -> Path:
    """Render ``sections`` into ``out_file`` (written atomically)."""
    out_file = Path(out_file)
    # autoescape=True for every template: titles, captions, summaries, metric names and paths come from
    # section.json files that anyone can edit, so nothing from a section reaches the page unescaped.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("scalescope.report") / "templates")),
        autoescape=True,
    )
    items = []
    for s in sections:
        figs = []
        for f in s.figures:
            src, why = _embed(s.directory, f["path"])
            figs.append({"path": f["path"], "caption": f.get("caption", ""), "src": src, "why": why})
        tabs = []
        for t in s.tables:
            html, why = _table_html(s.directory, t["path"], int(t.get("max_rows", 30)))
            tabs.append({"path": t["path"], "caption": t.get("caption", ""), "html": markupsafe.Markup(html or ""),
                         "why": why})
        items.append(
            {
                "title": s.title,
                "kind": s.kind,
                "summary": s.summary,
                "directory": _shown(s.directory, out_file),
                "metrics": {k: _fmt(v) for k, v in s.metrics.items()},
                "figures_html": figs,
                "tables_html": tabs,
            }
        )
    html = env.get_template("report.html.j2").render(
        title=title,
        intro=intro,
        version=__version__,
        generated=_dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        sections=items,
    )
    atomic_write_text(out_file, html)
    return out_file


def build_report(directories: list[str | Path], out_file: str | Path, **kw) -> Path:
    """Find every section under ``directories`` and render them into ``out_file``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from scalescope.report import write_section
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_section(d / "a", title="A", metrics={"x": 1.0})
    >>> build_report([d], d / "index.html").name
    'index.html'
    """
    for d in directories:
        if not Path(d).is_dir():
            raise InputError(f"{d}: not a directory (scalescope report takes result or run directories)")
    sections = find_sections(directories)
    return render_html(sections, out_file, **kw)


def write_report(directories: list[str | Path], out_dir: str | Path | None = None, *, title: str = "scalescope report",
                 overwrite: bool = False) -> Path:
    """``scalescope report``: render every section under ``directories`` into ``out_dir/index.html``.

    With ``out_dir`` the folder follows the output contract (:func:`scalescope.outputs.output_dir`, command
    ``report``). Without it the page goes into the first directory as ``index.html``, next to that directory's own
    outputs; an ``index.html`` there that scalescope did not write is never replaced.
    """
    from scalescope.outputs import MARKER, output_dir, read_marker, record_files

    for d in directories:
        if not Path(d).is_dir():
            raise InputError(f"{d}: not a directory (scalescope report takes result or run directories)")
    if out_dir is not None:
        with output_dir(out_dir, command="report", overwrite=overwrite) as d:
            build_report(directories, d / "index.html", title=title)
        return Path(out_dir) / "index.html"
    first = Path(directories[0])
    target = first / "index.html"
    marker = read_marker(first)
    ours = marker is not None and "index.html" in marker["files"]
    if os.path.lexists(target) and not ours:
        raise InputError(f"{target}: exists and was not written by scalescope; pass --out DIR for the report")
    build_report(directories, target, title=title)
    if marker is not None or not any(p.name != MARKER for p in first.iterdir() if p.name != "index.html"):
        record_files(first, marker["command"] if marker else "report", ["index.html"])
    return target
