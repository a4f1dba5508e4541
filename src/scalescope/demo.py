"""``scalescope demo`` as a library call: every analysis's offline demo part, then one HTML report.

Each analysis package contributes ``run_demo(out_dir, *, quiet=True)``; parts whose data does not resolve locally
(``DataNotFoundError``) are skipped and listed in the report, so the demo always finishes offline on its embedded
defaults (n-gram models on the Python standard library's own sources, the theory, and -- when installed -- the
SmolLM2-135M model shipped on PyPI). The whole folder is written under the output contract
(:mod:`scalescope.outputs`): atomically, and an earlier demo is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from scalescope.errors import DataNotFoundError, InputError
from scalescope.outputs import output_dir

__all__ = ["PARTS", "DEMO_DATASETS", "run_demo", "prefetch"]

# (directory name, module, title). Order in the report is set by each section's own `order`.
PARTS = [
    ("data", "scalescope.data.demo", "Data inventory"),
    ("observational", "scalescope.observational.demo", "Observational scaling laws"),
    ("obs-place", "scalescope.observational.place_demo", "Placing your own models from lm-eval files"),
    ("emergence", "scalescope.emergence.demo", "Emergence"),
    ("calibration", "scalescope.calibration.demo", "Entropy calibration: n-gram family"),
    ("methods", "scalescope.calibration.methods.demo", "Entropy calibration: methods"),
    ("theory", "scalescope.calibration.theory_demo", "Entropy calibration: Zipf/singleton theory"),
    ("real-model", "scalescope.calibration.demo_real", "Entropy calibration: SmolLM2-135M"),
]


def run_demo(out: str | Path, *, only: tuple[str, ...] = (), skip: tuple[str, ...] = (), quiet: bool = True,
             overwrite: bool = False) -> dict:
    """Run the demo parts into ``out`` and render ``out/index.html``; returns per-part status and timings."""
    with output_dir(out, command="demo", overwrite=overwrite) as d:
        return _run_demo(d, only=only, skip=skip, quiet=quiet)


#: ``SCALESCOPE_DEMO_SIZE=small`` runs the measurement-heavy parts at reduced sizes (every figure and table is still
#: made; the numbers are noisier). Used by the README test to keep the suite within its time budget.
DEMO_SIZE_ENV = "SCALESCOPE_DEMO_SIZE"


def _small_config(name: str) -> dict:
    size = os.environ.get(DEMO_SIZE_ENV, "full").strip().lower()
    if size in ("", "full"):
        return {}
    if size != "small":
        raise InputError(f"${DEMO_SIZE_ENV}={size!r}: expected 'full' or 'small'")
    if name == "calibration":
        from scalescope.calibration.demo import DemoConfig

        return {"config": DemoConfig(train_tokens=(3_000, 30_000, 300_000), temperatures=(0.8, 1.25), steps=32,
                                     samples=16, n_boot=100)}
    if name == "real-model":
        from scalescope.calibration.demo_real import RealDemoConfig

        return {"config": RealDemoConfig(samples=8, sampler_samples=4, steps=32, n_boot=200)}
    if name == "methods":
        from scalescope.calibration.methods.demo import MethodsDemoConfig

        return {"config": MethodsDemoConfig(samples=200, steps=32)}
    return {}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _run_demo(out: Path, *, only: tuple[str, ...], skip: tuple[str, ...], quiet: bool) -> dict:
    from scalescope.report import build_report, write_section

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
            _log(f"[demo] {title} ...")
        try:
            mod.run_demo(out / name, quiet=quiet, **_small_config(name))
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
            _log(f"[demo] {title}: {st} ({status[name]['seconds']} s)")

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


def prefetch(*, quiet: bool = True) -> None:
    """Download the demo's datasets into the cache (skipping any that fail, with a one-line warning each)."""
    from scalescope import data

    for name in DEMO_DATASETS:
        try:
            data.load(name, download=True)
        except InputError as e:
            _log(f"warning: {name}: {e}")
        else:
            if not quiet:
                _log(f"[demo] {name}: available")


