"""``scalescope report DIR... [--out DIR]``: one self-contained HTML page over any result/run directories."""

from __future__ import annotations

from pathlib import Path

import click

from scalescope.errors import InputError
from scalescope.report import build_report


@click.command("report")
@click.argument("directories", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Directory for index.html (default: the first DIRECTORY).")
@click.option("--title", default="scalescope report", show_default=True)
def report(directories: tuple[Path, ...], out_dir: Path | None, title: str) -> None:
    """Render every section found under DIRECTORIES into OUT/index.html.

    A section is any directory with a section.json (written by every scalescope command); directories without one
    still show their figures and JSON metrics.

    \b
    Example:
      scalescope obs reproduce --out obs-out
      scalescope emergence analyze --data olmo-ladder --out emergence-out
      scalescope report obs-out emergence-out --out report/
    """
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: exists and is not a directory")
    out = (out_dir or directories[0]) / "index.html"
    path = build_report(list(directories), out, title=title)
    click.echo(str(path))
