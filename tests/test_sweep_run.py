"""Running sweeps: the same run directories (Parquet contents) in process, with --workers 2 and on a local 2-CPU Ray
cluster; a driver killed mid-sweep (SIGKILL) resumes to the same result with no duplicate cells; a Ray worker killed
mid-cell is retried by Ray; a bad cell fails alone with its error recorded; and the analysis of a sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from scalescope.calibration.sweep import LocalExecutor, RayExecutor, load_spec, run_sweep
from scalescope.cli import cli

SPEC = """
[sweep]
name = "test-ngram"

[defaults]
corpus = "wikitext-2"
prompt_tokens = 8
steps = 12
samples = 8
shard_size = 2

[axes]
model = ["ngram:3:wikitext-2@2k", "ngram:3:wikitext-2@8k", "ngram:3:wikitext-2@32k"]
"""


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory, data_dir):
    p = tmp_path_factory.mktemp("spec") / "ngram.toml"
    p.write_text(SPEC, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def reference(spec_path, tmp_path_factory):
    """The sweep run in this process, one cell after another (the default executor)."""
    out = tmp_path_factory.mktemp("ref") / "sweep"
    res = run_sweep(load_spec(spec_path), out, progress=False)
    assert res.complete and res.ran == 3
    return out


def shards(sweep_dir: Path) -> dict[str, list]:
    """Every cell's shards as Arrow tables (file names included), keyed by cell id."""
    out = {}
    for cell in sorted((sweep_dir / "cells").iterdir()):
        files = sorted((cell / "shards").iterdir())
        out[cell.name] = [(f.name, pq.read_table(f)) for f in files]
    return out


def assert_same_runs(a: Path, b: Path) -> None:
    sa, sb = shards(a), shards(b)
    assert list(sa) == list(sb)
    for cell in sa:
        assert [n for n, _ in sa[cell]] == [n for n, _ in sb[cell]], cell
        for (name, ta), (_, tb) in zip(sa[cell], sb[cell]):
            assert ta.equals(tb), f"{cell}/{name} differs"


def sweep_json(d: Path) -> dict:
    return json.loads((d / "sweep.json").read_text())


def test_reference_layout(reference, spec_path):
    m = sweep_json(reference)
    spec = load_spec(spec_path)
    assert list(m["cells"]) == [c.id for c in spec.cells]
    assert m["status"] == "complete" and m["executor"]["kind"] == "local"
    for cid, c in m["cells"].items():
        assert c["status"] == "complete" and c["attempts"] == 1 and c["error"] is None
        assert c["meta"]["family"] == "ngram:3:wikitext-2" and c["meta"]["train_tokens"] > 0
        man = json.loads((reference / "cells" / cid / "manifest.json").read_text())
        assert man["status"] == "complete" and man["n_shards"] == 4
    assert len(shards(reference)) == 3 and all(len(v) == 4 for v in shards(reference).values())


def test_rerun_skips_finished_cells(reference, spec_path):
    before = {c: [t for _, t in v] for c, v in shards(reference).items()}
    res = run_sweep(load_spec(spec_path), reference, progress=False)
    assert res.skipped == 3 and res.ran == 0 and res.complete
    assert all(c["attempts"] == 1 for c in sweep_json(reference)["cells"].values())
    assert {c: [t for _, t in v] for c, v in shards(reference).items()} == before


def test_workers_2_identical(reference, spec_path, tmp_path):
    out = tmp_path / "w2"
    res = run_sweep(load_spec(spec_path), out, executor=LocalExecutor(2, gpus=0), progress=False)
    assert res.complete
    assert sweep_json(out)["executor"] == {"kind": "local", "workers": 2, "processes": True, "gpus": 0}
    assert len({c["pid"] for c in sweep_json(out)["cells"].values()}) >= 1
    assert_same_runs(reference, out)


def test_bad_cell_fails_alone(spec_path, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace('"ngram:3:wikitext-2@32k"]', '"ngram:3:wikitext-2@32k"]\n[[cells]]\n'
                                'model = "no-such-org/no-such-model"\n'), encoding="utf-8")
    out = tmp_path / "sweep"
    r = CliRunner().invoke(cli, ["calibrate", "sweep", str(bad), "--out", str(out), "--quiet"])
    assert r.exit_code == 1, r.output
    assert "1 of 4 cells failed" in r.output
    m = sweep_json(out)
    failed = [c for c in m["cells"].values() if c["status"] == "failed"]
    assert len(failed) == 1 and m["status"] == "failed"
    assert "no-such-org/no-such-model" in failed[0]["error"] and "\n" not in failed[0]["error"]
    assert failed[0]["attempts"] == 1  # an input error is not retried
    assert sum(c["status"] == "complete" for c in m["cells"].values()) == 3
    assert sorted(p.name for p in (out / "cells").iterdir()) == sorted(
        cid for cid, c in m["cells"].items() if c["status"] == "complete")  # the bad cell left nothing behind
    # a re-run tries the failed cell again (and only it)
    res = run_sweep(load_spec(bad), out, progress=False)
    assert res.skipped == 3 and res.ran == 0 and len(res.failed) == 1
    assert [c["attempts"] for c in sweep_json(out)["cells"].values() if c["status"] == "failed"] == [2]


def test_out_dir_rules(spec_path, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    r = CliRunner().invoke(cli, ["calibrate", "sweep", str(spec_path), "--out", str(other), "--quiet"])
    assert r.exit_code == 2 and "not written by scalescope" in r.output
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def _driver(spec: Path, out: Path) -> subprocess.Popen:
    code = "import sys; from scalescope.cli import main; sys.argv = ['scalescope'] + sys.argv[1:]; main()"
    return subprocess.Popen([sys.executable, "-c", code, "calibrate", "sweep", str(spec), "--out", str(out),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_driver_sigkill_mid_sweep_then_rerun(reference, spec_path, tmp_path):
    out = tmp_path / "killed"
    proc = _driver(spec_path, out)
    spec = load_spec(spec_path)
    second = out / "cells" / spec.cells[1].id / "shards"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if second.is_dir() and any(second.glob("shard-*.parquet")):
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read().decode()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    m = sweep_json(out)  # written atomically: still valid JSON
    assert m["status"] == "running" and m["cells"][spec.cells[0].id]["status"] == "complete"
    partial = len(list(second.glob("shard-*.parquet")))
    assert 1 <= partial <= 4
    res = run_sweep(spec, out, progress=False)
    assert res.complete and res.skipped == 1 and res.ran == 2
    assert_same_runs(reference, out)
    m = sweep_json(out)
    assert len(m["cells"]) == 3 and sorted(p.name for p in (out / "cells").iterdir()) == sorted(m["cells"])
    for cid in m["cells"]:
        assert sorted(p.name for p in (out / "cells" / cid / "shards").iterdir()) == [
            f"shard-{i:05d}.parquet" for i in range(4)]  # no duplicate or temporary shards
    resumed = json.loads((out / "cells" / spec.cells[1].id / "manifest.json").read_text())
    assert len(resumed.get("resumed_at", [])) == 1  # the interrupted cell resumed from its last shard
    assert len(m["sessions"]) == 2


# ---------------------------------------------------------------------------------------------------------------
# Ray on a local 2-CPU cluster, started by the test
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_identical(reference, spec_path, tmp_path, ray_cluster):
    out = tmp_path / "ray"
    res = run_sweep(load_spec(spec_path), out, executor=RayExecutor(), progress=False)
    assert res.complete and res.ran == 3
    m = sweep_json(out)
    assert m["executor"]["kind"] == "ray" and m["executor"]["cluster_resources"]["CPU"] == 2
    assert_same_runs(reference, out)


def _ray_cell_pids() -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"ray::scalescope-cell:"):
            pids.append(int(name))
    return pids


@pytest.mark.slow
def test_ray_worker_killed_is_retried(reference, spec_path, tmp_path, ray_cluster):
    out = tmp_path / "ray-kill"
    result = {}
    t = threading.Thread(target=lambda: result.update(
        res=run_sweep(load_spec(spec_path), out, executor=RayExecutor(max_retries=2), progress=False)))
    t.start()
    killed = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and t.is_alive() and killed is None:
        pids = _ray_cell_pids()
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.01)
    t.join(180)
    assert killed is not None, "no Ray cell worker was seen"
    res = result["res"]
    assert res.complete and not res.failed
    m = sweep_json(out)
    assert killed not in {c.get("pid") for c in m["cells"].values()}  # the killed attempt was re-run elsewhere
    assert_same_runs(reference, out)


def test_analyze_a_sweep(reference, tmp_path):
    out = tmp_path / "analysis"
    r = CliRunner().invoke(cli, ["calibrate", "analyze", str(reference), "--out", str(out), "--bootstrap", "200",
                                 "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    sw = s["sweep"]
    assert sw["cells"]["analysed"] == 3 and sw["cells"]["not_complete"] == []
    fams = {(f["family"], f["x_axis"]) for f in sw["families"]}
    assert fams == {("ngram:3:wikitext-2", "train_tokens"), ("ngram:3:wikitext-2", "log_loss")}
    for f in sw["families"]:
        assert f["n_runs"] == 3
        if f["status"] == "ok":
            assert f["exponent_ci"][0] <= f["exponent"] <= f["exponent_ci"][1]
        else:
            assert "EntCE <= 0" in f["reason"] or "fewer than 2" in f["reason"]
    sizes = [f for f in sw["families"] if f["x_axis"] == "train_tokens"][0]["sizes"]
    assert sizes == [2000.0, 8000.0, 32000.0]
    sec = json.loads((out / "section.json").read_text())
    figs = [f["path"] for f in sec["figures"]]
    assert "sweep_fig1_train_tokens.png" in figs and "sweep_fig1_log_loss.png" in figs
    assert all((out / p).is_file() for p in figs)
    assert any("ln EntCE on ln training tokens" in ln for ln in sec["summary"].splitlines())
    assert {t["path"] for t in sec["tables"]} >= {"sweep_cells.csv", "sweep_fits.csv"}
