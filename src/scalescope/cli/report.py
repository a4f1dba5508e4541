"""``scalescope report DIR... [--out DIR]``: one self-contained HTML page over any result/run directories."""

from __future__ import annotations

from pathlib import Path

import click

from scalescope.cli._common import Command, check_out, overwrite_option


@click.command("report", cls=Command)
@click.argument("directories", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Directory for index.html (default: index.html in the first DIRECTORY).")
@click.option("--title", default="scalescope report", show_default=True)
@overwrite_option
def report(directories: tuple[Path, ...], out_dir: Path | None, title: str, overwrite: bool) -> None:
    """Render every section found under DIRECTORIES into OUT/index.html.

    A section is any directory with a section.json (written by every scalescope command); directories without one
    still show their figures and JSON metrics.

    \b
    Example:
      scalescope obs reproduce --out obs-out
      scalescope emergence analyze --data olmo-ladder --out emergence-out
      scalescope report obs-out emergence-out --out report/
    """
    from scalescope.report.html import write_report

    if out_dir is not None:
        check_out(out_dir, command="report", overwrite=overwrite)
    click.echo(str(write_report(list(directories), out_dir, title=title, overwrite=overwrite)))
