"""``scalescope demo``: the main job. Runs every analysis's offline demo part and renders one HTML report.

Each analysis package contributes ``run_demo(out_dir, *, quiet=True)``; parts whose data does not resolve locally
(``DataNotFoundError``) are skipped and listed in the report, so the demo always finishes offline on its embedded
defaults (n-gram models on the Python standard library's own sources, the theory, and -- when installed -- the
SmolLM2-135M model shipped on PyPI).
"""

from __future__ import annotations

from pathlib import Path

import click

from scalescope.cli._common import Command, check_out, overwrite_option, quiet_option
from scalescope.demo import PARTS, prefetch, run_demo


@click.command("demo", cls=Command)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True,
              help="Output directory; the report is OUT/index.html.")
@click.option("--only", multiple=True, type=click.Choice([p[0] for p in PARTS]), help="Run only these parts.")
@click.option("--skip", multiple=True, type=click.Choice([p[0] for p in PARTS]), help="Skip these parts.")
@click.option("--download", is_flag=True,
              help="First fetch the datasets the demo uses (pinned, sha256-checked) into the cache; needs network. "
                   "Without it the demo never touches the network.")
@overwrite_option
@quiet_option
def demo(out_dir: Path, only: tuple[str, ...], skip: tuple[str, ...], download: bool, overwrite: bool,
         quiet: bool) -> None:
    """Run the offline demo study and write OUT/index.html.

    Works without network: parts whose datasets are not available locally ($SCALESCOPE_DATA_DIR or the cache) are
    skipped and listed in the report; --download fetches them first. SCALESCOPE_DEMO_SIZE=small runs the
    measurement-heavy parts at reduced sizes (about 2 minutes instead of 4.5; same figures, noisier numbers).

    \b
    Example:
      scalescope demo --out demo-out
      SCALESCOPE_DATA_DIR=../shared/data scalescope demo --out demo-out --skip real-model
      scalescope demo --download --out demo-out     # fetch the public datasets into the cache first
      scalescope demo --out demo-out --overwrite    # replace an earlier demo (only its own files)
    """
    check_out(out_dir, command="demo", overwrite=overwrite)
    if quiet:
        from scalescope.cli._common import silence_hf_progress

        silence_hf_progress()
    if download:
        prefetch(quiet=quiet)
    status = run_demo(out_dir, only=only, skip=skip, quiet=quiet, overwrite=overwrite)
    click.echo(str(out_dir / "index.html"))
    failed = [n for n, s in status.items() if s["status"].startswith("failed")]
    if failed:
        click.echo(f"demo parts failed: {', '.join(failed)} (see the report)", err=True)
        raise SystemExit(1)
