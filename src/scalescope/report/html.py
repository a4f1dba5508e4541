"""Render sections into one self-contained HTML page (images embedded as data URIs; no server needed)."""

from __future__ import annotations

import base64
import datetime as _dt
import math
from importlib.resources import files
from pathlib import Path

import jinja2
import pandas as pd

from scalescope import __version__
from scalescope.errors import InputError
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


def _embed(path: Path) -> str | None:
    if not path.exists():
        return None
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table_html(path: Path, max_rows: int) -> str:
    if not path.exists():
        return f"<p><em>missing table {path.name}</em></p>"
    df = pd.read_csv(path)
    more = len(df) - max_rows
    html = df.head(max_rows).to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0, na_rep="")
    if more > 0:
        html += f"<p class='src'>... {more} more rows in {path.name}</p>"
    return html


def render_html(sections: list[Section], out_file: str | Path, *, title: str = "scalescope report", intro: str = "") -> Path:
    """Render ``sections`` into ``out_file`` (written atomically)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("scalescope.report") / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    items = []
    for s in sections:
        figs = [
            {"path": f["path"], "caption": f.get("caption", ""), "src": _embed(s.directory / f["path"])}
            for f in s.figures
        ]
        tabs = [
            {"caption": t.get("caption", ""), "html": _table_html(s.directory / t["path"], int(t.get("max_rows", 30)))}
            for t in s.tables
        ]
        items.append(
            {
                "title": s.title,
                "kind": s.kind,
                "summary": s.summary,
                "directory": str(s.directory),
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
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out_file)
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
