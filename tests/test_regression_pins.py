"""Regression pins for issue 13 (one fitting core): the numbers the shipped analyses print must not move.

Pinned with the code as it was *before* the fitting core was unified (commit that added this file), so a refactor
that routes an analysis through :mod:`scalescope.fit` has to reproduce it:

* ``obs reproduce``: every computed value of the 17 targets T1-T18 (``run_targets``), to the digits it prints
  (the values are already rounded there; floats must agree to 1e-12, everything else exactly);
* ``calibrate analyze`` on fixed seeded n-gram runs written by ``calibrate run`` (a size family at temperature 1.4
  for the exponent, two more temperatures for the trade-off path), bootstrap 50: every leaf of ``summary.json``;
* ``calibrate compare`` on a character bigram, all methods: every leaf of ``summary.json``.

Floats of the calibration summaries agree within 1e-9 (absolute, or relative for large values); strings, ints and
booleans exactly. The constants live in ``tests/fixtures/regression_pins.json``; ``python tests/test_regression_pins.py
OUT.json`` writes the current values (only for a deliberate, explained change of the numbers).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pins import flat

PINS = Path(__file__).parent / "fixtures" / "regression_pins.json"

RUN = ["calibrate", "run", "--corpus", "tinyshakespeare", "--prompt-tokens", "8", "--steps", "12", "--samples", "16",
       "--quiet"]
SIZES = ("1k", "4k", "64k")
TEMPERATURES = ("0.8", "1.0")
COMPARE = ["calibrate", "compare", "--model", "ngram:2@20k/char", "--corpus", "tinyshakespeare", "--methods",
           "base,temperature,temperature_slope,top_p,min_p,lookahead,future_entropy,future_entropy_eb", "--steps", "12",
           "--prompt-tokens", "8", "--samples", "40", "--quiet"]


def _calibration_outputs(root: Path) -> dict:
    from scalescope.cli import cli

    def invoke(args):
        r = CliRunner().invoke(cli, [*map(str, args)])
        assert r.exit_code == 0, r.output
        return r

    runs = []
    for tok in SIZES:
        runs.append(root / f"n{tok}")
        invoke([*RUN, "--model", f"ngram:3@{tok}/char", "--sampler", "temp=1.4", "--out", runs[-1]])
    for t in TEMPERATURES:
        runs.append(root / f"t{t}")
        invoke([*RUN, "--model", "ngram:3@64k/char", "--sampler", f"temp={t}", "--out", runs[-1]])
    invoke(["calibrate", "analyze", *runs, "--out", root / "analyze", "--bootstrap", "50", "--quiet"])
    invoke([*COMPARE, "--out", root / "compare"])
    return {name: dict(flat(json.loads((root / name / "summary.json").read_text())))
            for name in ("analyze", "compare")}


def _targets() -> dict:
    from scalescope.observational.targets import run_targets

    ts, _ = run_targets()
    return {t["id"]: t["computed"] for t in ts}


@pytest.fixture(scope="module")
def pins():
    return json.loads(PINS.read_text())


def _same(got, want, *, tol: float) -> bool:
    if isinstance(want, float) and not isinstance(got, bool) and isinstance(got, int | float):
        return math.isclose(float(got), want, rel_tol=tol, abs_tol=tol)
    return got == want


def test_obs_reproduce_values_pinned(pins, data_dir):
    got, want = _targets(), pins["obs_reproduce"]
    assert list(got) == list(want)
    bad = [(tid, k, got[tid].get(k), v) for tid, d in want.items() for k, v in d.items()
           if not _same(got[tid].get(k), v, tol=1e-12)]
    assert all(set(got[t]) == set(want[t]) for t in want), "a target's checks changed"
    assert not bad, f"{len(bad)} computed target values moved, e.g. {bad[:5]}"


@pytest.fixture(scope="module")
def calibration(tmp_path_factory, data_dir):
    return _calibration_outputs(tmp_path_factory.mktemp("pins"))


@pytest.mark.parametrize("command", ["analyze", "compare"])
def test_calibration_summary_pinned(pins, calibration, command):
    got, want = calibration[command], pins[f"calibrate_{command}"]
    assert set(got) == set(want), f"keys changed: +{sorted(set(got) - set(want))[:5]} -{sorted(set(want) - set(got))[:5]}"
    bad = [(k, got[k], v) for k, v in want.items() if not _same(got[k], v, tol=1e-9)]
    assert not bad, f"{len(bad)} of {len(want)} summary.json values moved, e.g. {bad[:5]}"


if __name__ == "__main__":  # write the current values (see the module docstring)
    import tempfile

    out = {"obs_reproduce": _targets()}
    cal = _calibration_outputs(Path(tempfile.mkdtemp()))
    out["calibrate_analyze"], out["calibrate_compare"] = cal["analyze"], cal["compare"]
    Path(sys.argv[1]).write_text(json.dumps(out, indent=1) + "\n")
