"""The offline n-gram family demo (calibration.demo.run_demo) on a tiny configuration."""

from __future__ import annotations

import json
import math

import pytest

from scalescope.calibration.demo import DemoConfig, run_demo


def test_run_demo_small(tmp_path):
    cfg = DemoConfig(train_tokens=(2_000, 20_000), temperatures=(0.8, 1.5), prompt_tokens=16, steps=12, samples=8,
                     n_boot=30)
    s = run_demo(tmp_path, quiet=True, config=cfg)
    assert len(s["runs"]) == 4
    assert {r["label"] for r in s["runs"]} == {"n2000", "n20000", "n20000-temp0.8", "n20000-temp1.5"}
    for r in s["runs"]:
        assert math.isfinite(r["entce"]) and r["n_samples"] == 8 and r["n_steps"] == 12
        assert r["size_axis"] == "train_tokens"
    # this tiny configuration (8 samples, 12 steps) is under-dispersed at both sizes: the exponent must say so
    entce = {r["label"]: r["entce"] for r in s["runs"]}
    assert entce["n2000"] == pytest.approx(-0.8654950143148503, abs=1e-9)
    assert entce["n20000"] == pytest.approx(-1.1684316491882782, abs=1e-9)
    assert entce["n20000-temp1.5"] == pytest.approx(0.8392578903585672, abs=1e-9)
    ex = s["exponent"]
    assert ex["status"] == "undefined" and ex["exponent"] is None
    assert ex["reason"] == "exponent undefined: EntCE <= 0 for runs n2000, n20000"
    assert len(s["temperature_sweeps"]) == 1
    assert s["temperature_sweeps"][0]["temperatures"] == [0.8, 1.0, 1.5]
    sec = json.loads((tmp_path / "section.json").read_text())
    assert sec["order"] == 40 and sec["kind"] == "calibration"
    assert all((tmp_path / f["path"]).is_file() for f in sec["figures"])
    assert (tmp_path / "runs" / "n2000" / "manifest.json").is_file()
    assert json.loads((tmp_path / "summary.json").read_text())["demo"]["config"]["order"] == 3
