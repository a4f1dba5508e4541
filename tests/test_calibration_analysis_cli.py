"""`scalescope calibrate analyze` on synthetic run directories: outputs, exponent/undefined reason, errors."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from scalescope.calibration.analysis_synth import synthetic_records, write_synthetic_run
from scalescope.cli.calibrate_analyze import analyze


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    dirs = []
    for i, s in enumerate((1e3, 1e4, 1e5)):
        df = synthetic_records(n_samples=24, n_steps=20, h0=1.0 + 2 * s**-0.3, l0=1.0, noise=0.02, seed=i,
                               eos_fraction=0.25)
        dirs.append(write_synthetic_run(root / f"n{int(s)}", df, manifest={
            "model": {"spec": f"ngram:3:wikitext-2@{int(s)}"}, "train_tokens": int(s)}))
    for tau in (0.8, 1.2):
        df = synthetic_records(n_samples=24, n_steps=20, h0=1.0 + (tau - 1.0), l0=1.0, noise=0.02)
        dirs.append(write_synthetic_run(root / f"t{tau}", df, manifest={
            "model": {"spec": "ngram:3:wikitext-2@100000"}, "train_tokens": 100000, "sampler": f"temp={tau}"}))
    return root, dirs


def test_analyze_writes_summary_figures_section(family, tmp_path):
    _, dirs = family
    out = tmp_path / "out"
    res = CliRunner().invoke(analyze, [*map(str, dirs), "--out", str(out), "--quiet", "--bootstrap", "100"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert len(s["runs"]) == 5 and s["units"] == "nats"
    r0 = s["runs"][0]
    for key in ("entce", "entce_ci", "entropy", "log_loss", "slope_per_1000", "entce_early", "entce_late",
                "early_window", "late_window", "derail_fraction", "log_loss_smooth", "coverage"):
        assert key in r0
    assert s["exponent"]["status"] == "ok"
    assert s["exponent"]["exponent"] == pytest.approx(-0.3, abs=0.01)
    assert s["exponent"]["exponent_ci"][0] < s["exponent"]["exponent"] < s["exponent"]["exponent_ci"][1]
    assert len(s["temperature_sweeps"]) == 1
    sec = json.loads((out / "section.json").read_text())
    assert sec["kind"] == "calibration"
    names = {f["path"] for f in sec["figures"]}
    assert {"fig1_exponent_0.png", "fig3_tradeoff_0.png", "sample_traces.png"} <= names
    assert all((out / n).is_file() for n in names)
    assert (out / "runs.csv").is_file() and (out / "curves.csv").is_file()


def test_analyze_bits_json_windows(family, tmp_path):
    _, dirs = family
    res = CliRunner().invoke(analyze, [str(dirs[0]), "--out", str(tmp_path / "o"), "--bits", "--json", "--early",
                                       "3", "--late", "5", "--bootstrap", "0", "--quiet"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    r = s["runs"][0]
    assert r["units"] == "bits" and r["early_window"] == [0, 3] and r["late_window"] == [15, 20]
    assert r["entce"] == pytest.approx(2 * 1e3**-0.3 / math.log(2), rel=0.05)
    assert s["exponent"]["status"] == "undefined" and "no size family" in s["exponent"]["reason"]


def test_analyze_nonpositive_reason(tmp_path):
    dirs = []
    for i, (s, e) in enumerate(((1e3, 0.3), (1e4, 0.1), (1e5, -0.05))):
        df = synthetic_records(n_samples=10, n_steps=6, h0=1.0 + e, l0=1.0, seed=i)
        dirs.append(write_synthetic_run(tmp_path / f"r{i}", df, manifest={
            "model": {"spec": f"ngram:2@{int(s)}"}, "train_tokens": int(s)}))
    out = tmp_path / "out"
    res = CliRunner().invoke(analyze, [*map(str, dirs), "--out", str(out), "--quiet", "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert s["exponent"]["status"] == "undefined"
    assert s["exponent"]["reason"] == "exponent undefined: EntCE <= 0 for runs r2"
    res = CliRunner().invoke(analyze, [*map(str, dirs), "--out", str(tmp_path / "o2"), "--quiet",
                                       "--bootstrap", "20", "--exclude-nonpositive"])
    s2 = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert s2["exponent"]["status"] == "ok" and s2["exponent"]["excluded"] == ["r2"]


def test_analyze_bad_inputs_exit_2_and_write_nothing(family, tmp_path):
    _, dirs = family
    out = tmp_path / "never"
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "missing", tmp_path / "empty"):
        res = CliRunner().invoke(analyze, [str(dirs[0]), str(bad), "--out", str(out), "--quiet"])
        assert res.exit_code == 2
        assert res.output.strip().startswith("error: ") and len(res.output.strip().splitlines()) == 1
        assert not out.exists()
    (tmp_path / "running").mkdir()
    (tmp_path / "running" / "manifest.json").write_text('{"status": "running"}')
    res = CliRunner().invoke(analyze, [str(tmp_path / "running"), "--out", str(out), "--quiet"])
    assert res.exit_code == 2 and "no shards" in res.output and not out.exists()
    res = CliRunner().invoke(analyze, ["--help"])
    assert res.exit_code == 0 and "Example:" in res.output
