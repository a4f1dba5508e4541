"""``scalescope demo``: the main job. Runs every analysis's offline demo part and renders one HTML report.

Each analysis package contributes ``run_demo(out_dir, *, quiet=True)``; parts whose data does not resolve locally
(``DataNotFoundError``) are skipped and listed in the report, so the demo always finishes offline on its embedded
defaults (n-gram models on the Python standard library's own sources, the theory, and -- when installed -- the
SmolLM2-135M model shipped on PyPI).
"""

from __future__ import annotations

import importlib
import time
import traceback
from pathlib import Path

import click

from scalescope.cli._common import fail, quiet_option
from scalescope.errors import DataNotFoundError, InputError

# (directory name, module, title). Order in the report is set by each section's own `order`.
PARTS = [
    ("data", "scalescope.data.demo", "Data inventory"),
    ("observational", "scalescope.observational.demo", "Observational scaling laws"),
    ("emergence", "scalescope.emergence.demo", "Emergence"),
    ("calibration", "scalescope.calibration.demo", "Entropy calibration: n-gram family"),
    ("methods", "scalescope.calibration.methods.demo", "Entropy calibration: methods"),
    ("theory", "scalescope.calibration.theory_demo", "Entropy calibration: Zipf/singleton theory"),
    ("real-model", "scalescope.calibration.demo_real", "Entropy calibration: SmolLM2-135M"),
]


def run_demo(out: Path, *, only: tuple[str, ...] = (), skip: tuple[str, ...] = (), quiet: bool = True) -> dict:
    """Run the demo parts into ``out`` and render ``out/index.html``; returns per-part status and timings."""
    from scalescope.report import build_report, write_section

    out.mkdir(parents=True, exist_ok=True)
    status: dict[str, dict] = {}
    for name, module, title in PARTS:
        if (only and name not in only) or name in skip:
            status[name] = {"status": "not requested", "seconds": 0.0}
            continue
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and module.startswith(e.name):
                status[name] = {"status": "not available in this version", "seconds": 0.0}
                continue
            raise
        if not quiet:
            click.echo(f"[demo] {title} ...", err=True)
        try:
            mod.run_demo(out / name, quiet=quiet)
            st = "ok"
        except DataNotFoundError as e:
            st = f"skipped: {e}"
        except InputError as e:
            st = f"skipped: {e}"
        except Exception as e:  # a bug in one part must not hide the others; reported and exit code 1
            st = f"failed: {type(e).__name__}: {e}"
            if not quiet:
                traceback.print_exc()
        status[name] = {"status": st, "seconds": round(time.perf_counter() - t0, 1)}
        if not quiet:
            click.echo(f"[demo] {title}: {st} ({status[name]['seconds']} s)", err=True)

    lines = [f"{n}: {s['status']} ({s['seconds']} s)" for n, s in status.items()]
    write_section(
        out / "_demo",
        title="About this demo",
        kind="demo",
        summary="Parts run by `scalescope demo` and how long each took:\n" + "\n".join(lines),
        metrics={"total_seconds": round(sum(s["seconds"] for s in status.values()), 1)},
        order=0,
    )
    build_report(
        [out],
        out / "index.html",
        title="scalescope demo",
        intro="What scalescope measures, on models and data available offline: entropy calibration of generations, "
        "observational scaling laws and emergence tests.",
    )
    return status


# Datasets the demo's parts read (the others are only listed in the data inventory).
DEMO_DATASETS = ("obsscaling-base", "obsscaling-emergent", "olmo-ladder", "wikitext-2")


def _prefetch(*, quiet: bool) -> None:
    """Download the demo's datasets into the cache (skipping any that fail, with a one-line warning each)."""
    from scalescope import data

    for name in DEMO_DATASETS:
        try:
            data.load(name, download=True)
        except InputError as e:
            click.echo(f"warning: {name}: {e}", err=True)
        else:
            if not quiet:
                click.echo(f"[demo] {name}: available", err=True)


@click.command("demo")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True,
              help="Output directory; the report is OUT/index.html.")
@click.option("--only", multiple=True, type=click.Choice([p[0] for p in PARTS]), help="Run only these parts.")
@click.option("--skip", multiple=True, type=click.Choice([p[0] for p in PARTS]), help="Skip these parts.")
@click.option("--download", is_flag=True,
              help="First fetch the datasets the demo uses (pinned, sha256-checked) into the cache; needs network. "
                   "Without it the demo never touches the network.")
@quiet_option
def demo(out_dir: Path, only: tuple[str, ...], skip: tuple[str, ...], download: bool, quiet: bool) -> None:
    """Run the offline demo study and write OUT/index.html.

    Works without network: parts whose datasets are not available locally ($SCALESCOPE_DATA_DIR or the cache) are
    skipped and listed in the report; --download fetches them first.

    \b
    Example:
      scalescope demo --out demo-out
      SCALESCOPE_DATA_DIR=../shared/data scalescope demo --out demo-out --skip real-model
      scalescope demo --download --out demo-out     # fetch the public datasets into the cache first
    """
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir}: exists and is not a directory")
    if quiet:
        from scalescope.cli._common import silence_hf_progress

        silence_hf_progress()
    if download:
        _prefetch(quiet=quiet)
    status = run_demo(out_dir, only=only, skip=skip, quiet=quiet)
    click.echo(str(out_dir / "index.html"))
    failed = [n for n, s in status.items() if s["status"].startswith("failed")]
    if failed:
        click.echo(f"demo parts failed: {', '.join(failed)} (see the report)", err=True)
        raise SystemExit(1)
