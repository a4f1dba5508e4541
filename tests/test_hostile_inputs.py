"""A catalogue of hostile inputs across every command, built by parametrising *input classes* over *commands*.

Each case runs one command on a hostile input and asserts the CLI and output contracts of DESIGN.md:

- the exit code: 2 for bad input, 0 where the input is fine but must be handled safely (``--overwrite`` keeps the
  user's files, a planted symlink is replaced rather than written through, a hand-edited ``section.json`` is
  rendered without embedding anything outside its folder);
- no traceback, at most one ``error:`` line on stderr (exactly one with exit 2);
- the user's files are unchanged and nothing is written outside ``--out``: a snapshot (type and sha256 of every
  file, the set of paths, links read but never followed) of the whole workspace before and after. With exit 2
  the whole workspace must be unchanged, ``--out`` included ("after any error nothing half-written is visible");
  with exit 0, everything but ``--out``.

The classes: output-folder hazards (``OUT_CLASSES``), input-file hazards per file-taking flag (``FILE_FLAGS`` x
``FILE_HAZARDS``), CSV content hazards, numeric flag hazards, hand-edited JSON (``section.json``, a calibration
run's ``manifest.json``, ``predictions.json``, a sweep spec, a model's ``config.json``), dataset names and
``$SCALESCOPE_DATA_DIR``, and real processes for pipes, FIFOs and Ctrl-C.

Commands run in-process (click's ``CliRunner``, stdout and stderr apart); reading a FIFO would block forever, so
every FIFO case runs under :func:`fifo_guard`, which records whether the command opened the FIFO for reading (that
*is* the hang) and then unblocks it; ``/dev/zero`` cases run under a memory cap (:func:`memory_cap`). A few cases
run the real ``scalescope`` process with a timeout (FIFO, broken pipe, SIGINT).

Cases where scalescope misbehaves and the fix belongs to code other engineers own are ``xfail(strict=True)`` with
``BUG:`` in the reason (see ``KNOWN_BUGS``): they start passing, and then fail as strict xfails, once fixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from scalescope.cli import cli
from scalescope.outputs import MARKER

pytestmark = pytest.mark.timeout(180)

SECRET = "TOP-SECRET-user-data-0123456789"
INJECT = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('pwned')</script>"

# ================================================================================================================
# running a command and checking the contract
# ================================================================================================================


@dataclass
class Res:
    rc: int
    stdout: str
    stderr: str
    tb: str = ""  # a Python traceback that escaped the CLI (in-process runs)

    def why(self) -> str:
        return (f"exit {self.rc}\n--- stdout ---\n{self.stdout[-1500:]}\n--- stderr ---\n{self.stderr[-2500:]}"
                + (f"\n--- escaped exception ---\n{self.tb[-3000:]}" if self.tb else ""))


def invoke(args) -> Res:
    """Run ``scalescope ARGS`` in this process (stdout and stderr apart)."""
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
    tb = ""
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        tb = "".join(traceback.format_exception(*r.exc_info))
    return Res(r.exit_code, r.stdout, r.stderr, tb)


def invoke_process(args, *, cwd, timeout: float = 60, env=None) -> Res:
    """Run the real ``scalescope`` process (a hang fails the case instead of the whole run)."""
    cmd = [sys.executable, "-c", "from scalescope.cli import main; main()", *map(str, args)]
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"scalescope {' '.join(map(str, args))} hung (no exit within {timeout} s)\n{e.stderr!r}")
    return Res(p.returncode, p.stdout, p.stderr)


def _lines(text: str) -> list[str]:
    # tqdm redraws with \r: a bar that was erased leaves only blanks between \r's
    return [s.strip() for ln in text.splitlines() for s in ln.split("\r") if s.strip()]


def check(res: Res, expect, *, needles=()) -> None:
    """Exit code ``expect`` (an int or a set), no traceback, at most one ``error:`` line (one with exit 2)."""
    assert not res.tb, f"a Python exception escaped the CLI (traceback)\n{res.why()}"
    assert "Traceback (most recent call last)" not in res.stderr + res.stdout, f"traceback printed\n{res.why()}"
    errors = [ln for ln in _lines(res.stderr) if ln.startswith("error:")]
    assert len(errors) <= 1, f"more than one error line\n{res.why()}"
    ok = res.rc in expect if isinstance(expect, set | frozenset | tuple) else res.rc == expect
    assert ok, f"expected exit {expect}\n{res.why()}"
    if res.rc == 2:
        assert len(errors) == 1, f"exit 2 without one `error: ...` line on stderr\n{res.why()}"
        for n in needles:  # a needle is one string or a tuple of alternatives
            alts = (n,) if isinstance(n, str) else n
            assert any(a.lower() in errors[0].lower() for a in alts), f"{n!r} not in the error line\n{res.why()}"


# ================================================================================================================
# snapshots: the user's files, and that nothing else was written
# ================================================================================================================


def snapshot(root: Path, exclude=()) -> dict[str, tuple]:
    """Type + sha256 of every file and the set of paths under ``root`` (links read, never followed), leaving out
    the trees in ``exclude`` (absolute paths)."""
    excl = {os.path.abspath(p) for p in exclude}
    snap: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            if os.path.abspath(p) in excl:
                continue
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                snap[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    snap[rel] = ("file", hashlib.sha256(f.read()).hexdigest(), stat.S_IMODE(st.st_mode))
            elif stat.S_ISDIR(st.st_mode):
                snap[rel] = ("dir",)
            else:
                snap[rel] = ("special", stat.S_IFMT(st.st_mode))
        dirnames[:] = [d for d in dirnames if os.path.abspath(os.path.join(dirpath, d)) not in excl]
    return snap


def assert_same(before: dict, after: dict, what: str) -> None:
    if before == after:
        return
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    pytest.fail(f"{what}: added {added[:10]}, removed {removed[:10]}, changed {changed[:10]}")


def sha(p: Path) -> str:
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


# ================================================================================================================
# FIFOs, devices, mounts
# ================================================================================================================


@contextlib.contextmanager
def fifo_guard(paths):
    """Record whether anything opens the FIFOs ``paths`` for reading (without a writer that blocks forever: the
    hang), and unblock it. Yields the list of FIFOs that were opened.

    A poller tries a non-blocking open for writing, which succeeds only while a reader has the FIFO open (or waits
    in ``open``); it then closes at once, so the reader sees EOF and the command goes on. The FIFO's inode is held
    (``O_PATH``) and reopened through ``/proc/self/fd``, so a FIFO that the command replaces is still watched.
    """
    opened: list[str] = []
    stop = threading.Event()
    handles = []
    for p in paths:
        with contextlib.suppress(OSError):
            handles.append((str(p), os.open(p, os.O_PATH)))

    def poll():
        while not stop.is_set():
            for p, h in handles:
                try:
                    fd = os.open(f"/proc/self/fd/{h}", os.O_WRONLY | os.O_NONBLOCK)
                except OSError:  # ENXIO: nobody is reading
                    continue
                if p not in opened:
                    opened.append(p)
                os.close(fd)
            stop.wait(0.005)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    try:
        yield opened
    finally:
        stop.set()
        t.join(5)
        for _, h in handles:
            os.close(h)


@contextlib.contextmanager
def memory_cap(extra_bytes: int = 1 << 30):
    """Cap this process's address space at its current size + ``extra_bytes`` (an endless read of ``/dev/zero``
    becomes a MemoryError instead of eating the machine)."""
    try:
        vm = next(int(ln.split()[1]) * 1024 for ln in Path("/proc/self/status").read_text().splitlines()
                  if ln.startswith("VmSize:"))
    except (OSError, StopIteration):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _can_mount() -> str:
    """'' when this process may mount (tmpfs + read-only bind); else why not."""
    if os.geteuid() != 0:
        return "not root: cannot mount a tmpfs / read-only bind mount"
    if shutil.which("mount") is None:
        return "no mount(8)"
    import tempfile

    d = tempfile.mkdtemp()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", d], capture_output=True, timeout=10)
        if r.returncode:
            return f"mount not permitted here ({r.stderr.decode(errors='replace').strip()})"
        subprocess.run(["umount", d], capture_output=True, timeout=10)
        return ""
    except (OSError, subprocess.SubprocessError) as e:
        return f"mount not usable ({e})"
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(d)


_MOUNT_WHY: str | None = None


def mount_why() -> str:
    global _MOUNT_WHY
    if _MOUNT_WHY is None:
        _MOUNT_WHY = _can_mount()
    return _MOUNT_WHY


# ================================================================================================================
# the workspace: the user's tree (inputs, a victim file and folder) with cwd inside it
# ================================================================================================================


@dataclass
class WS:
    root: Path
    mounts: list[Path] = field(default_factory=list)

    @property
    def inp(self) -> Path:
        return self.root / "in"

    @property
    def victim(self) -> Path:
        return self.root / "victim.txt"

    @property
    def victimdir(self) -> Path:
        return self.root / "victimdir"

    def hz(self, name: str) -> Path:
        d = self.root / "hz"
        d.mkdir(exist_ok=True)
        return d / name

    def mount_tmpfs(self, d: Path, size: str = "4k") -> None:
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], check=True, timeout=10)
        self.mounts.append(d)

    def mount_readonly(self, d: Path) -> None:
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", str(d), str(d)], check=True, timeout=10)
        self.mounts.append(d)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(d)], check=True, timeout=10)

    def unmount_all(self) -> None:
        for d in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=10)
        self.mounts.clear()


def _tiny_png() -> bytes:
    import zlib

    def chunk(kind, data):
        c = kind + data
        return len(data).to_bytes(4, "big") + c + zlib.crc32(c).to_bytes(4, "big")

    raw = b"\x00\xff\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="session")
def env(tmp_path_factory, data_dir):
    """Absolute $SCALESCOPE_DATA_DIR (the cases change the working directory) and a private, empty cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCALESCOPE_DATA_DIR", str(data_dir))
        mp.setenv("SCALESCOPE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def golden(tmp_path_factory, data_dir, env) -> Path:
    """Valid tiny inputs of every command, built once; each case copies them to its own workspace."""
    g = tmp_path_factory.mktemp("golden")
    rng = random.Random(0)
    words = "the cat sat on a mat and dog ran far away from home while birds sang in trees".split()
    (g / "cdir").mkdir()
    for i in range(6):
        (g / "cdir" / f"doc{i}.txt").write_text(" ".join(rng.choice(words) for _ in range(200)) + "\n")
    shutil.copy(Path(__file__).parent / "fixtures" / "emergence" / "long.csv", g / "long.csv")
    from scalescope.observational import constants as C

    cols = list(C.BASE_METRICS)
    (g / "models.csv").write_text("Model," + ",".join(cols) + "\nnew-model," + ",".join("0.5" for _ in cols) + "\n")
    (g / "meta.csv").write_text("Model,Model Family,FLOPs (1E21)\nnew-model,Pythia,1.5\n")
    shutil.copy(data_dir / "obsscaling" / "base_llm_benchmark_eval.csv", g / "bench.csv")
    import pandas as pd

    b = pd.read_csv(g / "bench.csv")
    pd.DataFrame({"Model": b["Model"], "acc": (b["MMLU"] * 0.8).round(4)}).to_csv(g / "target.csv", index=False)
    (g / "spec.toml").write_text(
        '[sweep]\nname = "tiny"\n[defaults]\ncorpus = "in/cdir"\nprompt_tokens = 4\nsteps = 4\nsamples = 2\n'
        '[axes]\nmodel = ["ngram:2:in/cdir"]\nseed = [0]\n')
    sec = g / "sec"
    sec.mkdir()
    (sec / "fig.png").write_bytes(_tiny_png())
    (sec / "table.csv").write_text("a,b\n1,2\n")
    (sec / "section.json").write_text(json.dumps({
        "title": "A section", "kind": "other", "summary": "plain", "figures": [{"path": "fig.png", "caption": "c"}],
        "tables": [{"path": "table.csv", "caption": "t"}], "metrics": {"x": 1.0}, "order": 10}))
    # outputs of scalescope that other commands read: a calibration run and pre-registered predictions
    cwd = os.getcwd()
    os.chdir(g.parent)
    try:
        (g.parent / "in").symlink_to(g)
        for args in (["calibrate", "run", "--model", "ngram:2:in/cdir", "--corpus", "in/cdir", "--prompt-tokens", 4,
                      "--steps", 4, "--samples", 2, "--out", g / "run1", "--quiet"],
                     ["obs", "predict", "--models", g / "models.csv", "--target", "word_unscramble",
                      "--out", g / "pred", "--quiet"]):
            r = invoke(args)
            assert r.rc == 0, r.why()
    finally:
        (g.parent / "in").unlink()
        os.chdir(cwd)
    tgt = json.loads((g / "pred" / "predictions.json").read_text())["targets"][0]["target"]
    (g / "actual.csv").write_text(f"Model,{tgt}\nnew-model,0.3\n")
    return g


@pytest.fixture
def ws(tmp_path, golden, monkeypatch):
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copytree(golden, root / "in", symlinks=True)
    (root / "victim.txt").write_text(SECRET + "\n")
    (root / "victimdir").mkdir()
    (root / "victimdir" / "secret.txt").write_text(SECRET + "\n")
    monkeypatch.chdir(root)
    saved = dict(os.environ)  # --quiet sets TQDM_DISABLE for the process: it must not leak into the next case
    w = WS(root)
    yield w
    w.unmount_all()
    os.environ.clear()
    os.environ.update(saved)


# ================================================================================================================
# the commands
# ================================================================================================================


@dataclass(frozen=True)
class Cmd:
    name: str  # as recorded in the output marker, e.g. "obs fit"
    argv: tuple  # a valid tiny run, without --out
    writes: str | None = None  # a file it writes into --out (None: the command has no --out)
    subdir: str | None = None  # a folder it writes inside --out
    overwrite: bool = True  # has --overwrite (calibrate sweep resumes instead)
    inputs_in_ws: bool = True  # its input files live in ws/in
    slow: bool = False  # a successful run takes over ~10 s


OUT_COMMANDS = [
    Cmd("demo", ("demo", "--only", "data", "--quiet"), "index.html", subdir="data", inputs_in_ws=False),
    Cmd("obs fit", ("obs", "fit", "--benchmarks", "in/bench.csv", "--target", "word_unscramble", "--bootstrap", 0,
                    "--quiet"), "result.json"),
    Cmd("obs reproduce", ("obs", "reproduce", "--quiet"), "targets.json", inputs_in_ws=False, slow=True),
    Cmd("obs select", ("obs", "select", "--budget", 4, "--no-evaluate", "--max-families", 3, "--quiet"),
        "selection.json", inputs_in_ws=False),
    Cmd("obs predict", ("obs", "predict", "--models", "in/models.csv", "--target", "word_unscramble", "--quiet"),
        "predictions.json"),
    Cmd("obs place", ("obs", "place", "in/models.csv", "--meta", "in/meta.csv", "--bootstrap", 0, "--target",
                      "word_unscramble", "--quiet"), "placement.json"),
    Cmd("emergence analyze", ("emergence", "analyze", "--data", "in/long.csv", "--n-boot", 2, "--quick", "--quiet"),
        "summary.json"),
    Cmd("emergence backtest", ("emergence", "backtest", "--data", "in/long.csv", "--quiet"), "summary.json"),
    Cmd("calibrate run", ("calibrate", "run", "--model", "ngram:2:in/cdir", "--corpus", "in/cdir", "--prompt-tokens",
                          4, "--steps", 4, "--samples", 2, "--quiet"), "manifest.json", subdir="shards"),
    Cmd("calibrate analyze", ("calibrate", "analyze", "in/run1", "--bootstrap", 0, "--quiet"), "summary.json"),
    Cmd("calibrate compare", ("calibrate", "compare", "--model", "ngram:2:in/cdir/char", "--corpus", "in/cdir",
                              "--methods", "base", "--steps", 4, "--samples", 2, "--prompt-tokens", 4, "--quiet"),
        "summary.json"),
    Cmd("calibrate sweep", ("calibrate", "sweep", "in/spec.toml", "--quiet"), "sweep.json", subdir="cells",
        overwrite=False),
    Cmd("theory simulate", ("theory", "simulate", "--alpha", 1.5, "--vocab", 300, "--m-max", 200, "--points", 2,
                            "--steps", 2, "--samples", 5, "--tables", 2, "--quiet"), "result.json",
        inputs_in_ws=False),
    Cmd("theory zipf-fit", ("theory", "zipf-fit", "--corpus", "in/cdir", "--top-k", 10, "--bootstrap", 2, "--quiet"),
        "result.json"),
    Cmd("report", ("report", "in/sec"), "index.html"),
]
NO_OUT_COMMANDS = [
    Cmd("data list", ("data", "list"), inputs_in_ws=False),
    Cmd("data verify", ("data", "verify", "obsscaling", "--quiet"), inputs_in_ws=False),
    Cmd("data show", ("data", "show", "obsscaling-base", "--rows", 1, "--no-download"), inputs_in_ws=False),
    Cmd("obs score", ("obs", "score", "in/pred/predictions.json", "--actual", "in/actual.csv")),
    Cmd("theory singleton", ("theory", "singleton", "--alpha", 1.5, "--m", 1e4, "--vocab", 1e3, "--json"),
        inputs_in_ws=False),
]
CMDS = {c.name: c for c in OUT_COMMANDS + NO_OUT_COMMANDS}


def argv(cmd: Cmd, out=None, *extra) -> list:
    a = list(cmd.argv)
    if out is not None:
        a += ["--out", out]
    return a + list(extra)


# ================================================================================================================
# known bugs (xfail strict): the case id -> what happens
# ================================================================================================================

KNOWN_BUGS: dict[str, str] = {
}


def _param(case_id: str, *values, slow: bool = False):
    marks = []
    if case_id in KNOWN_BUGS:
        marks.append(pytest.mark.xfail(strict=True, reason="BUG: " + KNOWN_BUGS[case_id]))
    if slow:
        marks.append(pytest.mark.slow)
    return pytest.param(*values, id=case_id, marks=marks)


def run_case(ws: WS, args, expect, *, out: Path | None = None, exclude=(), needles=(), fifos=(),
             devices=False) -> Res:
    """Run ``args`` in-process and apply the contract checks; returns the result for case-specific checks."""
    before = snapshot(ws.root, exclude=() if expect == 2 else [p for p in (out, *exclude) if p is not None])
    with contextlib.ExitStack() as stack:
        opened = stack.enter_context(fifo_guard(fifos)) if fifos else []
        if devices:
            stack.enter_context(memory_cap())
        res = invoke(args)
    assert not opened, f"opened the FIFO {opened} for reading (without a writer that blocks forever)\n{res.why()}"
    check(res, expect, needles=needles)
    after = snapshot(ws.root, exclude=() if expect == 2 else [p for p in (out, *exclude) if p is not None])
    assert_same(before, after, "the workspace changed" + (" (exit 2: nothing may change)" if expect == 2 else
                                                          " outside --out"))
    return res


# ================================================================================================================
# 1. output-folder hazards x every command with --out
# ================================================================================================================


def fake_output(out: Path, command: str, files=(), dirs=(), *, create=None) -> None:
    """An earlier output of ``command`` in ``out``: its marker listing ``files``; the files in ``create`` (default:
    all of them that lie inside ``out``) are written. A sweep reads its earlier output (it resumes), so for
    ``calibrate sweep`` the earlier output is real and ``files`` are added to its marker."""
    if command == "calibrate sweep":
        first = invoke(argv(CMDS[command], out))
        assert first.rc == 0, "the valid first run failed\n" + first.why()
        old = json.loads((out / MARKER).read_text())  # rewritten below, with an old date: a rewrite shows
        files = sorted(set(old["files"]) | set(files))
        dirs = sorted(set(old.get("dirs", [])) | set(dirs))
        create = [f for f in (files if create is None else create) if not os.path.lexists(out / f)]
    out.mkdir(parents=True, exist_ok=True)
    for f in files if create is None else create:
        p = out / f
        if not os.path.isabs(f) and ".." not in Path(f).parts and not os.path.lexists(p):
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("an earlier output\n")
    (out / MARKER).write_text(json.dumps({"tool": "scalescope", "command": command, "written": "2024-01-01T00:00:00Z",
                                          "files": sorted(files), "dirs": sorted(dirs), "version": "0.1.0"}))


@dataclass
class Plan:
    out: Path
    expect: int
    extra: tuple = ()
    exclude: tuple = ()  # folders (besides --out) that the command may write: where --out really is
    needles: tuple = ()
    post: Callable[[WS, Res], None] | None = None
    first_run: bool = False  # run the command once before (a real earlier output)


def _age_marker(out: Path) -> None:
    """Date the marker of a real earlier output in the past, so that any rewrite of it changes its bytes (the
    marker records the second it was written)."""
    m = json.loads((out / MARKER).read_text())
    m["written"] = "2024-01-01T00:00:00Z"
    (out / MARKER).write_text(json.dumps(m))


def _replace(p: Path) -> Path:
    """Remove what is at ``p`` (a file or folder of the earlier output) so that a hazard can be planted there."""
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p)
    elif os.path.lexists(p):
        os.unlink(p)
    return p


def _other(cmd: Cmd) -> str:
    return "theory simulate" if cmd.name != "theory simulate" else "obs fit"


def oc_out_is_file(ws, cmd):
    (ws.root / "out").write_text("the user's notes\n")
    return Plan(ws.root / "out", 2, needles=("--out",))


def oc_out_parent_is_file(ws, cmd):
    (ws.root / "afile").write_text("the user's notes\n")
    return Plan(ws.root / "afile" / "out", 2)


def oc_out_is_dev_null(ws, cmd):
    return Plan(Path("/dev/null"), 2)


def oc_out_nonempty_user_folder(ws, cmd):
    (ws.root / "out").mkdir()
    (ws.root / "out" / "notes.txt").write_text("the user's notes\n")
    return Plan(ws.root / "out", 2, needles=("not empty",))


def oc_out_is_input_folder(ws, cmd):
    return Plan(ws.inp, 2)


def oc_out_other_command_output(ws, cmd):
    fake_output(ws.root / "out", _other(cmd), ["result.json"])
    return Plan(ws.root / "out", 2, extra=("--overwrite",) if cmd.overwrite else ())


def oc_out_earlier_output_no_overwrite(ws, cmd):
    fake_output(ws.root / "out", cmd.name, [cmd.writes])
    return Plan(ws.root / "out", 2)


def _keeps_user_files(ws, res):
    out = ws.root / "out"
    assert (out / "mine.txt").read_text() == SECRET + "\n", "the user's file in --out was changed or removed"
    assert (out / "mysub" / "mine.txt").read_text() == SECRET + "\n", "the user's folder in --out was changed"


def oc_out_overwrite_keeps_user_files(ws, cmd):
    out = ws.root / "out"
    fake_output(out, cmd.name, [cmd.writes, "old-only.txt"])
    (out / "mine.txt").write_text(SECRET + "\n")
    (out / "mysub").mkdir()
    (out / "mysub" / "mine.txt").write_text(SECRET + "\n")

    def post(ws, res):
        _keeps_user_files(ws, res)
        assert not (out / "old-only.txt").exists(), "a file of the earlier output was not removed"
        assert (out / cmd.writes).is_file() and not (out / cmd.writes).is_symlink()

    return Plan(out, 0, extra=("--overwrite",), post=post)


def oc_out_rerun_keeps_user_files(ws, cmd):
    # the command re-run on its own earlier (real) output: with --overwrite, or resuming (calibrate sweep)
    out = ws.root / "out"

    def post(ws, res):
        _keeps_user_files(ws, res)
        assert (out / cmd.writes).is_file()

    return Plan(out, 0, extra=("--overwrite",) if cmd.overwrite else (), post=post, first_run=True)


def oc_out_is_symlink_to_folder(ws, cmd):
    real = ws.root / "elsewhere" / "real"
    real.mkdir(parents=True)
    (ws.root / "out").symlink_to(real, target_is_directory=True)

    def post(ws, res):
        assert (ws.root / "out").is_symlink(), "--out, a symlink, was replaced"
        assert (real / cmd.writes).is_file(), "the output did not land in the folder --out links to"

    return Plan(ws.root / "out", 0, exclude=(real,), post=post)


def oc_out_parent_is_symlink(ws, cmd):
    real = ws.root / "elsewhere"
    real.mkdir()
    (ws.root / "link").symlink_to(real, target_is_directory=True)

    def post(ws, res):
        assert (real / "out" / cmd.writes).is_file()

    return Plan(ws.root / "link" / "out", 0, exclude=(real / "out",), post=post)


def oc_out_planted_symlink_no_marker(ws, cmd):
    out = ws.root / "out"
    out.mkdir()
    (out / cmd.writes).symlink_to("../victim.txt")
    return Plan(out, 2)


def oc_out_planted_symlink_with_marker(ws, cmd):
    # an earlier output whose file was replaced by a link to a file of the user's: --overwrite must replace the
    # link, never write through it
    out = ws.root / "out"
    fake_output(out, cmd.name, [cmd.writes], create=())
    _replace(out / cmd.writes).symlink_to("../victim.txt")

    def post(ws, res):
        assert ws.victim.read_text() == SECRET + "\n"
        assert (out / cmd.writes).is_file() and not (out / cmd.writes).is_symlink()

    if not cmd.overwrite:  # a sweep resumes from its sweep.json: a link there is refused, not read
        return Plan(out, 2)
    return Plan(out, 0, extra=("--overwrite",), post=post)


def oc_out_planted_fifo_with_marker(ws, cmd):
    out = ws.root / "out"
    fake_output(out, cmd.name, [cmd.writes], create=())
    os.mkfifo(_replace(out / cmd.writes))

    def post(ws, res):
        assert (out / cmd.writes).is_file()

    return Plan(out, 0, extra=("--overwrite",) if cmd.overwrite else (), post=post)


def oc_out_planted_dir_symlink_with_marker(ws, cmd):
    # the folder the command writes inside --out is a link to a folder of the user's: refused, nothing written there
    out = ws.root / "out"
    fake_output(out, cmd.name, [cmd.writes])
    _replace(out / cmd.subdir).symlink_to("../victimdir", target_is_directory=True)
    return Plan(out, 2, extra=("--overwrite",) if cmd.overwrite else ())


def oc_out_marker_lists_outside(ws, cmd):
    # a hand-edited marker listing files outside --out (../, absolute, through a symlinked folder): --overwrite
    # removes only files inside --out
    out = ws.root / "out"
    fake_output(out, cmd.name, [cmd.writes, "../victim.txt", str(ws.victimdir / "secret.txt"), "sub/../../victim.txt",
                                "lnk/secret.txt"], dirs=["../victimdir", "lnk"], create=[cmd.writes])
    (out / "lnk").symlink_to("../victimdir", target_is_directory=True)

    def post(ws, res):
        assert ws.victim.read_text() == SECRET + "\n"
        assert (ws.victimdir / "secret.txt").read_text() == SECRET + "\n"

    return Plan(out, 0, extra=("--overwrite",) if cmd.overwrite else (), post=post)


def oc_out_marker_not_json(ws, cmd):
    out = ws.root / "out"
    out.mkdir()
    (out / MARKER).write_text("{not json")
    (out / cmd.writes).write_text("x\n")
    return Plan(out, 2, extra=("--overwrite",) if cmd.overwrite else (), needles=(MARKER,))


def oc_out_marker_wrong_types(ws, cmd):
    out = ws.root / "out"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"command": cmd.name, "files": cmd.writes}))
    (out / cmd.writes).write_text("x\n")
    return Plan(out, 2, extra=("--overwrite",) if cmd.overwrite else (), needles=(MARKER,))


def oc_out_marker_is_symlink(ws, cmd):
    out = ws.root / "out"
    out.mkdir()
    fake_output(ws.root / "decoy", cmd.name, [cmd.writes])
    (out / MARKER).symlink_to(f"../decoy/{MARKER}")
    (out / cmd.writes).write_text("x\n")
    return Plan(out, 2, extra=("--overwrite",) if cmd.overwrite else ())


def oc_out_name_too_long(ws, cmd):
    return Plan(ws.root / ("x" * 300) / "out", 2, needles=("too long",))


def oc_out_readonly_parent(ws, cmd):
    ws.mount_readonly(ws.root / "ro")
    return Plan(ws.root / "ro" / "out", 2, needles=("read-only",))


def oc_out_readonly_existing_empty(ws, cmd):
    ws.mount_readonly(ws.root / "ro")
    return Plan(ws.root / "ro", 2)


def oc_out_disk_full(ws, cmd):
    ws.mount_tmpfs(ws.root / "full", "4k")
    return Plan(ws.root / "full" / "out", 2, needles=("no space left",))


# name -> (setup, needs a successful run, needs mount, applies to cmd)
OUT_CLASSES: dict[str, tuple] = {
    "out-is-file": (oc_out_is_file, False, False, None),
    "out-parent-is-file": (oc_out_parent_is_file, False, False, None),
    "out-is-dev-null": (oc_out_is_dev_null, False, False, None),
    "out-nonempty-user-folder": (oc_out_nonempty_user_folder, False, False, None),
    "out-is-input-folder": (oc_out_is_input_folder, False, False, lambda c: c.inputs_in_ws),
    "out-other-command-output": (oc_out_other_command_output, False, False, None),
    "out-earlier-output-no-overwrite": (oc_out_earlier_output_no_overwrite, False, False, lambda c: c.overwrite),
    "out-overwrite-keeps-user-files": (oc_out_overwrite_keeps_user_files, True, False, lambda c: c.overwrite),
    "out-rerun-keeps-user-files": (oc_out_rerun_keeps_user_files, True, False,
                                   lambda c: not c.overwrite or c.name in ("theory zipf-fit", "calibrate run")),
    "out-is-symlink-to-folder": (oc_out_is_symlink_to_folder, True, False, None),
    "out-parent-is-symlink": (oc_out_parent_is_symlink, True, False, None),
    "out-planted-symlink-no-marker": (oc_out_planted_symlink_no_marker, False, False, None),
    "out-planted-symlink-with-marker": (oc_out_planted_symlink_with_marker, True, False, None),
    "out-planted-fifo-with-marker": (oc_out_planted_fifo_with_marker, True, False,
                                     lambda c: c.name in ("obs fit", "report", "calibrate run", "theory simulate")),
    "out-planted-dir-symlink-with-marker": (oc_out_planted_dir_symlink_with_marker, True, False,
                                            lambda c: c.subdir is not None),
    "out-marker-lists-outside": (oc_out_marker_lists_outside, True, False, None),
    "out-marker-not-json": (oc_out_marker_not_json, False, False, None),
    "out-marker-wrong-types": (oc_out_marker_wrong_types, False, False, None),
    "out-marker-is-symlink": (oc_out_marker_is_symlink, False, False, None),
    "out-name-too-long": (oc_out_name_too_long, False, False, None),
    "out-readonly-parent": (oc_out_readonly_parent, True, True, None),
    "out-readonly-existing-empty": (oc_out_readonly_existing_empty, False, True, None),
    "out-disk-full": (oc_out_disk_full, True, True, None),
}


# a successful `obs reproduce` takes ~15 s even with its targets computed once (figures): it meets the classes
# that need a successful run only where they are about its own files, the others being the output layer's
SLOW_RUN_CLASSES = {"out-overwrite-keeps-user-files", "out-planted-symlink-with-marker"}


def _out_cases():
    for klass, (_setup, needs_run, _mount, applies) in OUT_CLASSES.items():
        for cmd in OUT_COMMANDS:
            if applies is not None and not applies(cmd):
                continue
            if cmd.slow and needs_run and klass not in SLOW_RUN_CLASSES:
                continue
            yield _param(f"{klass}[{cmd.name.replace(' ', '-')}]", klass, cmd.name, slow=needs_run and cmd.slow)


_REPRODUCE: dict = {}


@pytest.fixture
def reproduce_once(monkeypatch):
    """``obs reproduce`` computes T1-T18 (~20 s) once per session: the output-folder cases exercise its writing,
    which stays real; the computed targets are replayed (a deep copy each time)."""
    import copy

    import scalescope.observational.targets as targets

    real = targets.run_targets

    def once(progress=None):
        if "r" not in _REPRODUCE:
            _REPRODUCE["r"] = real(progress=progress)
        return copy.deepcopy(_REPRODUCE["r"])

    monkeypatch.setattr(targets, "run_targets", once)


@pytest.mark.parametrize("klass, name", list(_out_cases()))
def test_output_folder_hazard(request, ws, klass, name):
    setup, _, needs_mount, _ = OUT_CLASSES[klass]
    cmd = CMDS[name]
    if needs_mount and mount_why():
        pytest.skip(mount_why())
    if name == "obs reproduce":
        request.getfixturevalue("reproduce_once")
    plan = setup(ws, cmd)
    if plan.first_run:
        first = invoke(argv(cmd, plan.out))
        assert first.rc == 0, "the valid first run failed\n" + first.why()
        (plan.out / "mine.txt").write_text(SECRET + "\n")
        (plan.out / "mysub").mkdir()
        (plan.out / "mysub" / "mine.txt").write_text(SECRET + "\n")
    fifos = [p for p in (plan.out / (cmd.writes or "-"),) if p.exists() and stat.S_ISFIFO(os.lstat(p).st_mode)] \
        if os.path.isdir(plan.out) else []
    res = run_case(ws, argv(cmd, plan.out, *plan.extra), plan.expect, out=plan.out, exclude=plan.exclude,
                   needles=plan.needles, fifos=fifos)
    if plan.post is not None:
        plan.post(ws, res)
    if plan.expect == 0 and name != "calibrate run":  # a run directory is written in place, without staging
        left = [n for n in os.listdir(os.path.realpath(plan.out)) if n.startswith(".scalescope-staging")]
        assert not left, f"private staging folders left behind: {left}"


# ================================================================================================================
# 2. input-file hazards x every file-taking flag
# ================================================================================================================


def _fifo(p: Path) -> Path:
    os.mkfifo(p)
    return p


def hz_missing(ws, ext):
    return ws.hz("missing" + ext)


def hz_directory(ws, ext):
    d = ws.hz("adir" + ext)
    d.mkdir()
    return d


def hz_fifo(ws, ext):
    return _fifo(ws.hz("fifo" + ext))


def hz_dir_with_only_fifo(ws, ext):
    d = ws.hz("fifodir")
    d.mkdir()
    _fifo(d / ("data" + (ext if ext not in ("", "/") else ".txt")))
    return d


def hz_dev_zero(ws, ext):
    return Path("/dev/zero")


def hz_dev_null(ws, ext):
    return Path("/dev/null")


def hz_symlink_to_dev_zero(ws, ext):
    p = ws.hz("zero" + ext)
    p.symlink_to("/dev/zero")
    return p


def hz_empty(ws, ext):
    p = ws.hz("empty" + ext)
    p.write_bytes(b"")
    return p


def hz_binary(ws, ext):
    p = ws.hz("garbage" + ext)
    p.write_bytes(random.Random(1).randbytes(4096))
    return p


def hz_bad_utf8(ws, ext):
    p = ws.hz("latin1" + ext)
    p.write_bytes(b"Model,acc,model,task,metric,value\n\xff\xfe caf\xe9,0.5,a,b,c,1\n")
    return p


def hz_dangling_symlink(ws, ext):
    p = ws.hz("dangling" + ext)
    p.symlink_to("does-not-exist" + ext)
    return p


FILE_HAZARDS = {
    "missing": hz_missing,
    "directory": hz_directory,
    "fifo": hz_fifo,
    "dir-with-only-a-fifo": hz_dir_with_only_fifo,
    "dev-zero": hz_dev_zero,
    "symlink-to-dev-zero": hz_symlink_to_dev_zero,
    "dev-null": hz_dev_null,
    "empty": hz_empty,
    "binary-garbage": hz_binary,
    "invalid-utf8": hz_bad_utf8,
    "dangling-symlink": hz_dangling_symlink,
}


@dataclass(frozen=True)
class Flag:
    cmd: str
    ext: str
    build: Callable[[str], list]  # hazard path -> argv (with --out "out" when the command has one)
    takes_dir: bool = False  # a folder is a valid value
    expect: dict = field(default_factory=dict)  # hazard -> exit code where not 2


def _out(*a):
    return [*map(str, a), "--out", "out"]


FILE_FLAGS = {
    "obs-fit--benchmarks": Flag("obs fit", ".csv", lambda p: _out(
        "obs", "fit", "--benchmarks", p, "--target", "word_unscramble", "--bootstrap", 0, "--quiet")),
    "obs-fit--target": Flag("obs fit", ".csv", lambda p: _out(
        "obs", "fit", "--target", f"{p}:acc", "--bootstrap", 0, "--quiet")),
    "obs-select--benchmarks": Flag("obs select", ".csv", lambda p: _out(
        "obs", "select", "--benchmarks", p, "--budget", 4, "--no-evaluate", "--quiet")),
    "obs-predict--models": Flag("obs predict", ".csv", lambda p: _out(
        "obs", "predict", "--models", p, "--target", "word_unscramble", "--quiet")),
    "obs-score-PREDICTIONS": Flag("obs score", ".json", lambda p: [
        "obs", "score", str(p), "--actual", "in/actual.csv"]),
    "obs-score--actual": Flag("obs score", ".csv", lambda p: [
        "obs", "score", "in/pred/predictions.json", "--actual", str(p)]),
    "obs-place-RESULTS": Flag("obs place", ".json", lambda p: _out(
        "obs", "place", p, "--bootstrap", 0, "--target", "word_unscramble", "--quiet"), takes_dir=True),
    "obs-place--meta": Flag("obs place", ".csv", lambda p: _out(
        "obs", "place", "in/models.csv", "--meta", p, "--bootstrap", 0, "--target", "word_unscramble", "--quiet")),
    "emergence-analyze--data": Flag("emergence analyze", ".csv", lambda p: _out(
        "emergence", "analyze", "--data", p, "--n-boot", 2, "--quick", "--quiet")),
    "emergence-backtest--data": Flag("emergence backtest", ".csv", lambda p: _out(
        "emergence", "backtest", "--data", p, "--quiet")),
    "calibrate-run--corpus": Flag("calibrate run", ".txt", lambda p: _out(
        "calibrate", "run", "--model", "ngram:2:in/cdir", "--corpus", p, "--prompt-tokens", 4, "--steps", 4,
        "--samples", 2, "--quiet"), takes_dir=True),
    "calibrate-run--model-ngram-corpus": Flag("calibrate run", ".txt", lambda p: _out(
        "calibrate", "run", "--model", f"ngram:2:{p}", "--corpus", "in/cdir", "--prompt-tokens", 4, "--steps", 4,
        "--samples", 2, "--quiet"), takes_dir=True),
    "calibrate-run--model-PATH": Flag("calibrate run", "", lambda p: _out(
        "calibrate", "run", "--model", p, "--corpus", "in/cdir", "--prompt-tokens", 4, "--steps", 4, "--samples", 2,
        "--quiet"), takes_dir=True),
    "calibrate-run--model-gguf": Flag("calibrate run", ".gguf", lambda p: _out(
        "calibrate", "run", "--model", f"gguf:{p}", "--corpus", "in/cdir", "--prompt-tokens", 4, "--steps", 4,
        "--samples", 2, "--quiet")),
    "calibrate-analyze-RUN_DIR": Flag("calibrate analyze", "", lambda p: _out(
        "calibrate", "analyze", p, "--bootstrap", 0, "--quiet"), takes_dir=True),
    "calibrate-compare--corpus": Flag("calibrate compare", ".txt", lambda p: _out(
        "calibrate", "compare", "--model", "ngram:2:in/cdir/char", "--corpus", p, "--methods", "base", "--steps", 4,
        "--samples", 2, "--prompt-tokens", 4, "--quiet"), takes_dir=True),
    "calibrate-sweep-SPEC": Flag("calibrate sweep", ".toml", lambda p: _out("calibrate", "sweep", p, "--quiet")),
    "theory-zipf-fit--corpus": Flag("theory zipf-fit", ".txt", lambda p: _out(
        "theory", "zipf-fit", "--corpus", p, "--top-k", 10, "--bootstrap", 2, "--quiet"), takes_dir=True),
    # a folder without section.json is shown with whatever figures and JSON metrics it holds (none here): exit 0
    "report-DIR": Flag("report", "", lambda p: _out("report", p), takes_dir=True,
                       expect={"directory": 0, "dir-with-only-a-fifo": 0}),
}


def _file_cases():
    for flag_id, flag in FILE_FLAGS.items():
        for hz in FILE_HAZARDS:
            if hz == "dir-with-only-a-fifo" and not flag.takes_dir:
                continue
            yield _param(f"{hz}[{flag_id}]", flag_id, hz)


@pytest.mark.parametrize("flag_id, hazard", list(_file_cases()))
def test_input_file_hazard(ws, flag_id, hazard):
    flag = FILE_FLAGS[flag_id]
    path = FILE_HAZARDS[hazard](ws, flag.ext)
    # inputs are given as the user would type them: relative to the working directory when inside it
    shown = os.path.relpath(path, ws.root) if path.is_relative_to(ws.root) else str(path)
    fifos = [p for p in ([path] + (list(path.iterdir()) if path.is_dir() and not path.is_symlink() else []))
             if os.path.lexists(p) and stat.S_ISFIFO(os.lstat(p).st_mode)]
    out = ws.root / "out"
    expect = flag.expect.get(hazard, 2)
    run_case(ws, flag.build(shown), expect, out=out, fifos=fifos, devices="zero" in hazard)
    if expect == 2:
        assert not out.exists(), "--out was created for a command that failed"


# ================================================================================================================
# 3. CSV content hazards x every CSV-taking flag
# ================================================================================================================


def _csv_edit(src: Path, dst: Path, how: str, *, cols: list[str], key: str) -> None:
    import numpy as np
    import pandas as pd

    df = pd.read_csv(src)
    if how == "missing-key-column":
        df = df.drop(columns=[key])
    elif how == "missing-value-columns":
        df = df.drop(columns=cols)
    elif how == "inf-values":
        df[cols] = df[cols].astype(float)
        df.loc[df.index[0], cols[0]] = np.inf
    elif how == "all-nan-values":
        df[cols] = np.nan
    elif how == "duplicated-rows":
        df = pd.concat([df, df.iloc[:1]], ignore_index=True)
    elif how == "percent-not-fraction":
        df[cols] = df[cols].astype(float) * 100
    elif how == "text-in-numbers":
        df[cols] = df[cols].astype(object)
        df.loc[df.index[0], cols[0]] = "n/a%"
    elif how == "header-only":
        df = df.iloc[:0]
    df.to_csv(dst, index=False)


CSV_HAZARDS = ["missing-key-column", "missing-value-columns", "inf-values", "all-nan-values", "duplicated-rows",
               "percent-not-fraction", "text-in-numbers", "header-only"]


def _base_metric_cols():
    from scalescope.observational import constants as C

    return list(C.BASE_METRICS)


# flag id -> (golden file, value columns, key column, argv builder)
CSV_FLAGS: dict[str, tuple] = {
    "obs-fit--benchmarks": ("bench.csv", _base_metric_cols, "Model", FILE_FLAGS["obs-fit--benchmarks"].build),
    "obs-fit--target": ("target.csv", lambda: ["acc"], "Model", FILE_FLAGS["obs-fit--target"].build),
    "obs-predict--models": ("models.csv", _base_metric_cols, "Model", FILE_FLAGS["obs-predict--models"].build),
    "obs-score--actual": ("actual.csv", None, "Model", FILE_FLAGS["obs-score--actual"].build),
    "obs-place-RESULTS-csv": ("models.csv", _base_metric_cols, "Model", FILE_FLAGS["obs-place-RESULTS"].build),
    "obs-place--meta": ("meta.csv", lambda: ["FLOPs (1E21)"], "Model", FILE_FLAGS["obs-place--meta"].build),
    "emergence-analyze--data": ("long.csv", lambda: ["value"], "model", FILE_FLAGS["emergence-analyze--data"].build),
    "emergence-backtest--data": ("long.csv", lambda: ["value"], "model",
                                 FILE_FLAGS["emergence-backtest--data"].build),
}
# the content is fine, or the hazard is how such data legitimately looks: (flag, hazard) -> exit code
CSV_EXPECT = {
    # NaN marks a benchmark not evaluated (imputed), and optional metadata may be absent or empty
    ("obs-place--meta", "missing-value-columns"): 0,
    ("obs-place--meta", "all-nan-values"): 0,
    # FLOPs x 100 is just a bigger model
    ("obs-place--meta", "percent-not-fraction"): 0,
    # obs place recognises lm-eval / leaderboard scores in percent and divides them by 100 (with a warning)
    ("obs-place-RESULTS-csv", "percent-not-fraction"): 0,
}


def _csv_cases():
    for flag_id in CSV_FLAGS:
        for hz in CSV_HAZARDS:
            yield _param(f"{hz}[{flag_id}]", flag_id, hz)


@pytest.mark.parametrize("flag_id, hazard", list(_csv_cases()))
def test_csv_content_hazard(ws, flag_id, hazard):
    src, cols, key, build = CSV_FLAGS[flag_id]
    src = ws.inp / src
    if cols is None:
        import pandas as pd

        cols_ = [c for c in pd.read_csv(src).columns if c != key]
    else:
        cols_ = cols()
    dst = ws.hz("edited" + src.suffix)
    _csv_edit(src, dst, hazard, cols=cols_, key=key)
    out = ws.root / "out"
    expect = CSV_EXPECT.get((flag_id, hazard), 2)
    run_case(ws, build(os.path.relpath(dst, ws.root)), expect, out=out)
    if expect == 2:
        assert not out.exists()


# ================================================================================================================
# 4. numeric flag hazards
# ================================================================================================================

# value batteries per kind of flag: (value, expected exit)
SEED_VALUES = [("-1", 2), (str(2**32), 2), ("nan", 2), ("1e308", 2), ("1.5", 2)]
POS_INT = [("0", 2), ("-3", 2), ("nan", 2), ("inf", 2), ("1e308", 2)]
NONNEG_INT = [("-1", 2), ("nan", 2), ("1e308", 2)]
POS_FLOAT = [("nan", 2), ("inf", 2), ("-inf", 2), ("0", 2), ("-1", 2)]
UNIT_OPEN = [("nan", 2), ("inf", 2), ("0", 2), ("1", 2), ("-0.5", 2), ("1.5", 2)]

# (command, flag, battery); the rest of the command's argv is its valid tiny run
NUMERIC_FLAGS = [
    ("obs fit", "--seed", SEED_VALUES), ("obs fit", "--pcs", POS_INT), ("obs fit", "--bootstrap", NONNEG_INT),
    ("obs fit", "--chance", [("nan", 2), ("inf", 2), ("1e308", 2), ("-inf", 2)]),
    ("obs fit", "--ceiling", [("nan", 2), ("inf", 2), ("-1e308", 2), ("0", 2)]),
    ("obs select", "--budget", [("0", 2), ("-4", 2), ("nan", 2), ("1e308", 2), ("4,0", 2), ("", 2),
                                ("1", 2), ("2", 2), ("4,1", 2)]),  # 1, 2: no whole family fits
    ("obs select", "--cutoff", [("nan", 2), ("-inf", 2), ("-5", 2), ("0", 2)]),
    ("obs select", "--max-families", POS_INT),
    ("obs predict", "--pcs", POS_INT + [("100", 2)]),
    ("obs place", "--pcs", POS_INT + [("100", 2)]), ("obs place", "--seed", SEED_VALUES),
    ("obs place", "--bootstrap", NONNEG_INT),
    ("emergence analyze", "--n-boot", [("-1", 2), ("nan", 2), ("5001", 2), ("0", 0)]),
    ("emergence backtest", "--holdout", [("size:0", 2), ("size:-1", 2), ("top:nan", 2), ("top:1.5", 2),
                                         ("top:0", 2), ("cutoff:inf", 2), ("size:1e308", 2)]),
    ("calibrate run", "--seed", SEED_VALUES + [(str(2**32 - 1), 0)]),
    ("calibrate run", "--steps", POS_INT), ("calibrate run", "--samples", POS_INT),
    ("calibrate run", "--prompt-tokens", [("-1", 2), ("nan", 2), ("1e308", 2)]),
    ("calibrate run", "--batch-size", POS_INT), ("calibrate run", "--shard-size", POS_INT),
    ("calibrate run", "--passage-seed", SEED_VALUES),
    # top_k beyond the vocabulary keeps every token (no truncation): handled, not an error
    ("calibrate run", "--sampler", [("temp=nan", 2), ("temp=0", 2), ("temp=-1", 2), ("temp=inf", 2),
                                    ("top_p=1.5", 2), ("top_k=0", 2), ("top_k=-3", 2), ("top_k=1e308", 0),
                                    ("min_p=nan", 2), ("temp", 2), ("bogus=1", 2)]),
    ("calibrate analyze", "--seed", SEED_VALUES), ("calibrate analyze", "--early", POS_INT),
    ("calibrate analyze", "--late", POS_INT), ("calibrate analyze", "--bootstrap", NONNEG_INT),
    ("calibrate analyze", "--ci", UNIT_OPEN),
    ("calibrate compare", "--seed", SEED_VALUES), ("calibrate compare", "--steps", POS_INT),
    ("calibrate compare", "--samples", [("-1", 2), ("nan", 2)]),
    ("calibrate compare", "--prompt-tokens", [("-1", 2), ("nan", 2)]),
    # top_p in (0, 1], min_p in [0, 1]: 1 and 0 (no truncation) and min_p 1 (the argmax) are valid edges
    ("calibrate compare", "--top-p", [("nan", 2), ("inf", 2), ("0", 2), ("1.5", 2), ("-0.5", 2), ("1", 0)]),
    ("calibrate compare", "--min-p", [("nan", 2), ("inf", 2), ("-0.5", 2), ("1.5", 2), ("0", 0)]),
    ("calibrate compare", "--smoothing", [("nan", 2), ("-0.1", 2), ("1.5", 2)]),
    ("calibrate compare", "--stride", [("0", 2), ("-1", 2)]),
    ("calibrate compare", "--mc-samples", [("-1", 2)]), ("calibrate compare", "--lookahead-top-k", [("0", 2)]),
    ("calibrate sweep", "--workers", [("0", 2), ("-1", 2), ("nan", 2)]),
    ("calibrate sweep", "--retries", [("-1", 2), ("nan", 2)]),
    ("theory singleton", "--alpha", POS_FLOAT + [("1e308", 2)]),
    ("theory singleton", "--m", [("nan", 2), ("inf", 2), ("0", 2), ("1e308", 2)]),
    ("theory singleton", "--vocab", [("nan", 2), ("0", 2), ("-1", 2), ("2.5", 2), ("1e308", 2)]),
    ("theory simulate", "--seed", SEED_VALUES), ("theory simulate", "--points", [("0", 2), ("1", 2), ("-1", 2)]),
    ("theory simulate", "--steps", POS_INT[:3]), ("theory simulate", "--samples", POS_INT[:3]),
    ("theory simulate", "--tables", POS_INT[:3]), ("theory simulate", "--vocab", [("nan", 2), ("0", 2), ("1e308", 2)]),
    ("theory simulate", "--m-min", [("nan", 2), ("0", 2), ("1e308", 2)]),
    ("theory simulate", "--entropy-jump", [("nan", 2), ("inf", 2), ("-1", 2)]),
    ("theory simulate", "--alpha", [("nan", 2), ("0", 2), ("-1", 2), ("inf", 2), ("1.5,x", 2)]),
    ("theory zipf-fit", "--seed", SEED_VALUES), ("theory zipf-fit", "--top-k", [("0", 2), ("-1", 2), ("1", 2)]),
    ("theory zipf-fit", "--bootstrap", [("-1", 2), ("nan", 2)]),
    ("data show", "--rows", [("-1", 2), ("1001", 2), ("nan", 2), ("0", 0)]),
]


def _replace_flag(a: list, flag: str, value: str) -> list:
    a = list(map(str, a))
    if flag in a:
        i = a.index(flag)
        return a[:i + 1] + [value] + a[i + 2:]
    return a + [flag, value]


def _numeric_cases():
    for name, flag, battery in NUMERIC_FLAGS:
        for value, expect in battery:
            cid = f"{flag}={value or 'empty'}[{name.replace(' ', '-')}]"
            yield _param(cid, name, flag, value, expect, slow=expect == 0 and CMDS[name].slow)


@pytest.mark.parametrize("name, flag, value, expect", list(_numeric_cases()))
def test_numeric_flag_hazard(ws, name, flag, value, expect):
    cmd = CMDS[name]
    out = ws.root / "out" if cmd.writes else None
    args = _replace_flag(argv(cmd, out), flag, value)
    # the error line names the input: the flag, its bare name (``alpha=...``, ``ci: ...``) or the value given
    bare = flag.lstrip("-")
    names = (flag, f"{bare}=", f"{bare}:", f"{bare} ", bare.replace("holdout", "hold-out")) + \
        ((value,) if len(value) > 3 else ())
    run_case(ws, args, expect, out=out, needles=(names,) if expect == 2 else ())
    if expect == 2 and out is not None:
        assert not out.exists()


# ================================================================================================================
# 5. hand-edited JSON: section.json (report), a run's manifest.json, predictions.json, a sweep spec, config.json
# ================================================================================================================


def _section(ws: WS, payload) -> Path:
    sec = ws.inp / "sec"
    text = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    if isinstance(text, bytes):
        (sec / "section.json").write_bytes(text)
    else:
        (sec / "section.json").write_text(text)
    return sec


def _good_section(**kw):
    d = {"title": "A section", "kind": "other", "summary": "plain", "figures": [{"path": "fig.png", "caption": "c"}],
         "tables": [{"path": "table.csv", "caption": "t"}], "metrics": {"x": 1.0}, "order": 10}
    d.update(kw)
    return d


def _no_secret_in_page(ws):
    import base64

    html = (ws.root / "out" / "index.html").read_text()
    for s in (SECRET, base64.b64encode((SECRET + "\n").encode()).decode()[:24]):
        assert s not in html, "a file outside the section's folder was embedded in the page"
    return html


def _no_raw_markup(ws):
    html = _no_secret_in_page(ws)
    for s in (INJECT, SCRIPT, "<img src=x", "<script>alert"):
        assert s not in html, f"unescaped {s!r} in the page"


# id -> (edit(ws) -> extra setup, expected exit, post-check)
def _sec_case(payload, expect=2, post=None, setup=None):
    return payload, expect, post, setup


def _mk_out_link(ws):
    (ws.inp / "sec" / "leak.png").symlink_to(ws.victim)
    (ws.inp / "sec" / "leakdir").symlink_to(ws.victimdir, target_is_directory=True)


def _mk_fifo_fig(ws):
    _fifo(ws.inp / "sec" / "pipe.png")
    _fifo(ws.inp / "sec" / "pipe.csv")


SECTION_CASES = {
    "not-an-object": _sec_case([1, 2, 3]),
    "a-string": _sec_case('"just text"'),
    "null": _sec_case("null"),
    "truncated": _sec_case('{"title": "A", "figures": [{"path": "fig.p'),
    "invalid-utf8": _sec_case(b'{"title": "caf\xe9"}'),
    "empty-file": _sec_case(""),
    "deeply-nested": _sec_case("[" * 100000 + "]" * 100000),
    "title-is-a-number": _sec_case(_good_section(title=5)),
    "title-is-a-list": _sec_case(_good_section(title=["a"])),
    "figures-is-a-string": _sec_case(_good_section(figures="fig.png")),
    "figure-path-is-a-number": _sec_case(_good_section(figures=[{"path": 3}])),
    "figure-path-empty": _sec_case(_good_section(figures=[{"path": ""}])),
    "caption-is-an-object": _sec_case(_good_section(figures=[{"path": "fig.png", "caption": {"a": 1}}])),
    "metrics-is-a-list": _sec_case(_good_section(metrics=[1, 2])),
    "order-is-text": _sec_case(_good_section(order="first")),
    "order-is-nan": _sec_case('{"title": "A", "order": NaN}'),
    "order-is-bool": _sec_case(_good_section(order=True)),
    "max-rows-negative": _sec_case(_good_section(tables=[{"path": "table.csv", "max_rows": -5}])),
    "max-rows-huge": _sec_case(_good_section(tables=[{"path": "table.csv", "max_rows": 10**12}])),
    "kind-is-a-number": _sec_case(_good_section(kind=7)),
    "figure-absolute-path": _sec_case(
        None, 0, _no_secret_in_page, lambda ws: _good_section(figures=[{"path": str(ws.victim)}])),
    "figure-dotdot-path": _sec_case(
        _good_section(figures=[{"path": "../../victim.txt"}, {"path": "../../victimdir/secret.txt"}]), 0,
        _no_secret_in_page),
    "table-dotdot-path": _sec_case(_good_section(tables=[{"path": "../../victim.txt"}]), 0, _no_secret_in_page),
    "figure-symlink-leaving-folder": _sec_case(
        _good_section(figures=[{"path": "leak.png"}, {"path": "leakdir/secret.txt"}],
                      tables=[{"path": "leakdir/secret.txt"}]), 0, _no_secret_in_page, _mk_out_link),
    "figure-is-a-fifo": _sec_case(_good_section(figures=[{"path": "pipe.png"}], tables=[{"path": "pipe.csv"}]), 0,
                                  None, _mk_fifo_fig),
    "figure-is-dev-zero": _sec_case(_good_section(figures=[{"path": "/dev/zero"}, {"path": "../../../../dev/zero"}]),
                                    0),
    "figure-is-a-directory": _sec_case(_good_section(figures=[{"path": "."}, {"path": "sub"}]), 0, None,
                                       lambda ws: (ws.inp / "sec" / "sub").mkdir()),
    "script-injection": _sec_case(
        _good_section(title=INJECT, summary=SCRIPT, kind=INJECT, figures=[{"path": "fig.png", "caption": SCRIPT},
                                                                          {"path": INJECT}],
                      tables=[{"path": "table.csv", "caption": INJECT}], metrics={INJECT: SCRIPT, "y": INJECT}),
        0, _no_raw_markup),
    "script-injection-in-table-cells": _sec_case(
        None, 0, _no_raw_markup,
        lambda ws: (ws.inp / "sec" / "table.csv").write_text(f"{INJECT},b\n{SCRIPT},2\n")),
    "script-injection-in-folder-name": _sec_case(
        None, 0, _no_raw_markup, lambda ws: _good_section()),
}


@pytest.mark.parametrize("case", [_param(f"section-json-{k}[report]", k) for k in SECTION_CASES])
def test_report_hand_edited_section(ws, case):
    payload, expect, post, setup = SECTION_CASES[case]
    d = ws.inp / "sec"
    extra = setup(ws) if setup else None
    if payload is None and isinstance(extra, dict):
        payload = extra
    if payload is not None:
        _section(ws, payload)
    if case == "script-injection-in-folder-name":
        d = d.rename(ws.inp / f"sec{INJECT.replace('/', '')}")
    fifos = [p for p in d.iterdir() if stat.S_ISFIFO(os.lstat(p).st_mode)]
    run_case(ws, ["report", os.path.relpath(d, ws.root), "--out", "out"], expect, out=ws.root / "out", fifos=fifos,
             devices=True)
    if post:
        post(ws)


def _section_special(ws, kind):
    f = ws.inp / "sec" / "section.json"
    f.unlink()
    if kind == "fifo":
        _fifo(f)
    elif kind == "symlink-to-dev-zero":
        f.symlink_to("/dev/zero")
    elif kind == "symlink-outside":
        f.symlink_to(ws.victim)
    elif kind == "directory":
        f.mkdir()
    return f


@pytest.mark.parametrize("kind", [_param(f"section-json-is-{k}[report]", k)
                                  for k in ("fifo", "symlink-to-dev-zero", "symlink-outside", "directory")])
def test_report_section_json_not_a_file(ws, kind):
    f = _section_special(ws, kind)
    fifos = [f] if kind == "fifo" else []
    run_case(ws, ["report", "in/sec", "--out", "out"], 2, out=ws.root / "out", fifos=fifos, devices=True)


# -- a calibration run's manifest.json and shards, read by `calibrate analyze` and `calibrate run --resume` --------

def _manifest_edit(ws: WS, how: str) -> None:
    run = ws.inp / "run1"
    f = run / "manifest.json"
    m = json.loads(f.read_text())
    if how == "not-an-object":
        f.write_text("[]")
    elif how == "a-number":
        f.write_text("42")
    elif how == "truncated":
        f.write_text(f.read_text()[:100])
    elif how == "invalid-utf8":
        f.write_bytes(b'{"steps": "\xff"}')
    elif how == "config-is-a-string":
        m["config"] = "pure"
        f.write_text(json.dumps(m))
    elif how == "steps-is-text":
        m["steps"] = "many"
        m["config"]["steps"] = "many"
        f.write_text(json.dumps(m))
    elif how == "steps-negative":
        m["steps"] = -4
        f.write_text(json.dumps(m))
    elif how == "train-tokens-is-text":
        m["train_tokens"] = "lots"
        f.write_text(json.dumps(m))
    elif how == "manifest-is-a-directory":
        f.unlink()
        f.mkdir()
    elif how == "samples-negative":
        m["samples"] = -2
        m["config"]["samples"] = -2
        f.write_text(json.dumps(m))
    elif how == "status-is-a-list":
        m["status"] = ["complete"]
        f.write_text(json.dumps(m))
    elif how == "corpus-is-null":
        m["corpus"] = None
        f.write_text(json.dumps(m))
    elif how == "units-is-a-number":
        m["units"] = 3
        f.write_text(json.dumps(m))
    elif how == "shard-is-garbage":
        (run / "shards" / "shard-00000.parquet").write_bytes(random.Random(2).randbytes(2000))
    elif how == "shard-is-a-fifo":
        (run / "shards" / "shard-00000.parquet").unlink()
        _fifo(run / "shards" / "shard-00000.parquet")
    elif how == "shard-wrong-columns":
        import pandas as pd

        pd.DataFrame({"a": [1, 2]}).to_parquet(run / "shards" / "shard-00000.parquet")
    elif how == "shard-missing":
        (run / "shards" / "shard-00000.parquet").unlink()
    elif how == "manifest-is-a-fifo":
        f.unlink()
        _fifo(f)
    else:
        raise AssertionError(how)


# fields the analysis reads (steps, the size axis) must have their type; fields it does not read are not checked
MANIFEST_EDITS = ["not-an-object", "a-number", "truncated", "invalid-utf8", "steps-is-text", "steps-negative",
                  "train-tokens-is-text", "shard-is-garbage", "shard-is-a-fifo", "shard-wrong-columns",
                  "shard-missing", "manifest-is-a-fifo", "manifest-is-a-directory"]
# --resume: -> exit code (a FIFO where a shard belongs is not a finished shard: it is measured and replaced)
RESUME_EDITS = {"not-an-object": 2, "truncated": 2, "config-is-a-string": 2, "steps-is-text": 2,
                "samples-negative": 2, "corpus-is-null": 2, "shard-is-garbage": 2, "shard-is-a-fifo": 0,
                "manifest-is-a-fifo": 2}


def _fifos_under(d: Path) -> list[Path]:
    return [Path(dp) / n for dp, dns, fns in os.walk(d) for n in fns if stat.S_ISFIFO(os.lstat(Path(dp) / n).st_mode)]


@pytest.mark.parametrize("how", [_param(f"manifest-{h}[calibrate-analyze]", h) for h in MANIFEST_EDITS])
def test_calibrate_analyze_hand_edited_run(ws, how):
    _manifest_edit(ws, how)
    run_case(ws, ["calibrate", "analyze", "in/run1", "--bootstrap", 0, "--out", "out", "--quiet"], 2,
             out=ws.root / "out", fifos=_fifos_under(ws.inp / "run1"))
    assert not (ws.root / "out").exists()


@pytest.mark.parametrize("how", [_param(f"manifest-{h}[calibrate-run--resume]", h) for h in RESUME_EDITS])
def test_calibrate_resume_hand_edited_run(ws, how):
    _manifest_edit(ws, how)
    if how.startswith("shard-"):  # an interrupted run: --resume keeps its finished shards
        f = ws.inp / "run1" / "manifest.json"
        m = json.loads(f.read_text())
        m["status"] = "running"
        f.write_text(json.dumps(m))
    run_dir = ws.inp / "run1"
    run_case(ws, argv(CMDS["calibrate run"], "in/run1", "--resume"), RESUME_EDITS[how], out=run_dir,
             fifos=_fifos_under(run_dir))
    if RESUME_EDITS[how] == 0:
        assert all(p.is_file() for p in (run_dir / "shards").iterdir())


# -- predictions.json for `obs score` ----------------------------------------------------------------------------

def _pred_edit(ws: WS, how: str):
    f = ws.inp / "pred" / "predictions.json"
    d = json.loads(f.read_text())
    t = d["targets"][0]
    if how == "targets-not-a-list":
        d["targets"] = {"a": 1}
    elif how == "target-entry-a-string":
        d["targets"] = ["word_unscramble"]
    elif how == "target-name-a-number":
        t["target"] = 5
    elif how == "predictions-not-a-list":
        t["predictions"] = "none"
    elif how == "prediction-entry-a-number":
        t["predictions"] = [1.5]
    elif how == "prediction-value-text":
        t["predictions"][0]["y_pred"] = "high"
        t["predictions"][0]["y_pred_normalised"] = "high"
    elif how == "prediction-value-nan":
        f.write_text(json.dumps(d).replace(str(t["predictions"][0]["y_pred_normalised"]), "NaN"))
        return
    elif how == "chance-is-text":
        t["chance"] = "a quarter"
    elif how == "ceiling-equals-chance":
        t["ceiling"] = t["chance"]
    elif how == "model-is-null":
        t["predictions"][0]["Model"] = None
    elif how == "deeply-nested":
        f.write_text('{"targets": ' + "[" * 100000 + "]" * 100000 + "}")
        return
    elif how == "truncated":
        f.write_text(f.read_text()[:80])
        return
    elif how == "sha256-tampered":  # a readable file edited after pre-registration: scored, hash reported bad
        t["predictions"][0]["y_pred"] = 0.99
    elif how == "sha256-not-a-string":
        d["sha256"] = 12
    else:
        raise AssertionError(how)
    f.write_text(json.dumps(d))


PRED_EDITS = {"targets-not-a-list": 2, "target-entry-a-string": 2, "target-name-a-number": 2,
              "predictions-not-a-list": 2, "prediction-entry-a-number": 2, "prediction-value-text": 2,
              "prediction-value-nan": 2, "chance-is-text": 2, "ceiling-equals-chance": 2, "model-is-null": 2,
              "deeply-nested": 2, "truncated": 2, "sha256-tampered": 0, "sha256-not-a-string": 0}


@pytest.mark.parametrize("how", [_param(f"predictions-{h}[obs-score]", h) for h in PRED_EDITS])
def test_obs_score_hand_edited_predictions(ws, how):
    _pred_edit(ws, how)
    res = run_case(ws, argv(CMDS["obs score"]), PRED_EDITS[how])
    if how.startswith("sha256"):
        assert "MISMATCH" in res.stdout, res.why()


# -- a sweep spec (TOML) and the sweep's own sweep.json ----------------------------------------------------------

SPEC_EDITS = {
    "axes-model-a-number": '[sweep]\nname = "t"\n[defaults]\ncorpus = "in/cdir"\nsteps = 4\nsamples = 2\n'
                           '[axes]\nmodel = 5\n',
    "steps-text": '[sweep]\nname = "t"\n[defaults]\ncorpus = "in/cdir"\nsteps = "four"\nsamples = 2\n'
                  '[axes]\nmodel = ["ngram:2:in/cdir"]\n',
    "samples-negative": '[sweep]\nname = "t"\n[defaults]\ncorpus = "in/cdir"\nsteps = 4\nsamples = -2\n'
                        '[axes]\nmodel = ["ngram:2:in/cdir"]\n',
    "seed-too-big": f'[sweep]\nname = "t"\n[defaults]\ncorpus = "in/cdir"\nsteps = 4\nsamples = 2\nseed = {2**40}\n'
                    '[axes]\nmodel = ["ngram:2:in/cdir"]\n',
    "steps-inf": '[sweep]\nname = "t"\n[defaults]\ncorpus = "in/cdir"\nsteps = inf\nsamples = 2\n'
                 '[axes]\nmodel = ["ngram:2:in/cdir"]\n',
    "unknown-key": '[sweep]\nname = "t"\n[defaults]\ncorpus = "in/cdir"\nsteps = 4\nsamples = 2\nstepz = 3\n'
                   '[axes]\nmodel = ["ngram:2:in/cdir"]\n',
    "no-cells": '[sweep]\nname = "t"\n[defaults]\ncorpus = "in/cdir"\nsteps = 4\nsamples = 2\n[axes]\nmodel = []\n',
    "name-escapes-folder": '[sweep]\nname = "../../escape"\n[defaults]\ncorpus = "in/cdir"\nsteps = 4\nsamples = 2\n'
                           'prompt_tokens = 4\n[axes]\nmodel = ["ngram:2:in/cdir"]\n',
    "truncated": '[sweep]\nname = "t"\n[defaults]\ncorpus = "in/cd',
    "corpus-is-a-fifo": '[sweep]\nname = "t"\n[defaults]\ncorpus = "hz/fifo.txt"\nsteps = 4\nsamples = 2\n'
                        'prompt_tokens = 4\n[axes]\nmodel = ["ngram:2:in/cdir"]\n',
}


# the sweep's name is a label: "../../escape" must not place anything outside DIR (exit 0, checked by the snapshot)
SPEC_EXPECT = {"name-escapes-folder": 0}


@pytest.mark.parametrize("how", [_param(f"spec-{h}[calibrate-sweep]", h) for h in SPEC_EDITS])
def test_calibrate_sweep_hand_edited_spec(ws, how):
    (ws.inp / "spec.toml").write_text(SPEC_EDITS[how])
    fifos = [_fifo(ws.hz("fifo.txt"))] if "fifo" in how else []
    run_case(ws, argv(CMDS["calibrate sweep"], "out"), SPEC_EXPECT.get(how, 2), out=ws.root / "out", fifos=fifos)


SWEEP_JSON_EDITS = {"not-json": "{oops", "not-an-object": "[1]", "cells-a-string": None, "invalid-utf8": b"\xff\xfe{"}


@pytest.mark.parametrize("how", [_param(f"sweep-json-{h}[calibrate-sweep]", h) for h in SWEEP_JSON_EDITS])
def test_calibrate_sweep_hand_edited_sweep_json(ws, how):
    cmd = CMDS["calibrate sweep"]
    out = ws.root / "out"
    first = invoke(argv(cmd, out))
    assert first.rc == 0, first.why()
    _age_marker(out)
    f = out / "sweep.json"
    text = SWEEP_JSON_EDITS[how]
    if text is None:
        d = json.loads(f.read_text())
        d["cells"] = "all"
        text = json.dumps(d)
    f.write_bytes(text) if isinstance(text, bytes) else f.write_text(text)
    run_case(ws, argv(cmd, out), 2, out=out)


# -- a model folder for `calibrate run --model DIR` ---------------------------------------------------------------

def _gpt2_config(**kw) -> dict:
    d = {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2, "vocab_size": 64, "n_positions": 64}
    d.update(kw)
    return d


MODEL_DIR_CASES = {
    "config-wrong-type": lambda d: (d / "config.json").write_text(json.dumps(_gpt2_config(n_layer="two"))),
    "config-negative-size": lambda d: (d / "config.json").write_text(json.dumps(_gpt2_config(n_embd=-32))),
    "config-not-an-object": lambda d: (d / "config.json").write_text("[1, 2]"),
    "config-not-json": lambda d: (d / "config.json").write_text("{model_type: gpt2"),
    "config-empty": lambda d: (d / "config.json").write_text(""),
    "config-invalid-utf8": lambda d: (d / "config.json").write_bytes(b'{"model_type": "\xff"}'),
    "config-unknown-model-type": lambda d: (d / "config.json").write_text(json.dumps({"model_type": "nope"})),
    "config-is-a-fifo": lambda d: _fifo(d / "config.json"),
    "config-is-a-directory": lambda d: (d / "config.json").mkdir(),
    "no-config": lambda d: (d / "weights.bin").write_bytes(b"\0" * 16),
    "tokenizer-is-a-fifo": lambda d: ((d / "config.json").write_text(json.dumps(_gpt2_config())),
                                      _fifo(d / "tokenizer.json"), _fifo(d / "vocab.json"),
                                      _fifo(d / "tokenizer_config.json")),
    "tokenizer-garbage": lambda d: ((d / "config.json").write_text(json.dumps(_gpt2_config())),
                                    (d / "tokenizer.json").write_bytes(random.Random(3).randbytes(500))),
}


@pytest.mark.parametrize("case", [_param(f"model-dir-{k}[calibrate-run]", k) for k in MODEL_DIR_CASES])
def test_calibrate_run_model_dir(ws, case):
    d = ws.inp / "model"
    d.mkdir()
    MODEL_DIR_CASES[case](d)
    run_case(ws, ["calibrate", "run", "--model", "in/model", "--corpus", "in/cdir", "--prompt-tokens", 4, "--steps", 4,
                  "--samples", 2, "--out", "out", "--quiet"], 2, out=ws.root / "out", fifos=_fifos_under(d))


# ================================================================================================================
# 6. dataset names and $SCALESCOPE_DATA_DIR
# ================================================================================================================

NAME_CASES = {
    "show-path-traversal": ["data", "show", "../../etc/passwd", "--no-download"],
    "show-absolute-path": ["data", "show", "/etc/passwd", "--no-download"],
    "show-empty-name": ["data", "show", "", "--no-download"],
    "show-very-long-name": ["data", "show", "x" * 5000, "--no-download"],
    "show-newline-in-name": ["data", "show", "obsscaling-base\nerror: fake", "--no-download"],
    "verify-path-traversal": ["data", "verify", "../obsscaling"],
    "verify-dev-zero": ["data", "verify", "/dev/zero"],
    "emergence-unknown-dataset": ["emergence", "analyze", "--data", "olmo-ladderr", "--out", "out", "--quiet"],
    "obs-fit-unknown-target": ["obs", "fit", "--target", "../../etc/passwd", "--out", "out", "--quiet"],
    "obs-fit-target-without-column": ["obs", "fit", "--target", "in/target.csv:", "--out", "out", "--quiet"],
    "obs-fit-target-unknown-column": ["obs", "fit", "--target", "in/target.csv:nope", "--out", "out", "--quiet"],
    "obs-place-unknown-reference": ["obs", "place", "in/models.csv", "--reference", "../../etc", "--out", "out"],
    "calibrate-run-unknown-corpus-name": ["calibrate", "run", "--model", "ngram:2", "--corpus", "wikitext-9",
                                          "--steps", 4, "--samples", 2, "--out", "out", "--quiet"],
    "calibrate-run-model-kind-unknown": ["calibrate", "run", "--model", "http://evil/x", "--corpus", "in/cdir",
                                         "--steps", 4, "--samples", 2, "--out", "out", "--quiet"],
    "calibrate-run-ngram-order-text": ["calibrate", "run", "--model", "ngram:two", "--corpus", "in/cdir",
                                       "--steps", 4, "--samples", 2, "--out", "out", "--quiet"],
    "calibrate-run-ngram-order-huge": ["calibrate", "run", "--model", "ngram:1000000", "--corpus", "in/cdir",
                                       "--steps", 4, "--samples", 2, "--out", "out", "--quiet"],
    "calibrate-run-jsonl-field-missing": ["calibrate", "run", "--model", "ngram:2:in/cdir", "--corpus",
                                          "in/long.csv:nofield", "--steps", 4, "--samples", 2, "--out", "out",
                                          "--quiet"],
    "theory-zipf-fit-tokenizer-path": ["theory", "zipf-fit", "--corpus", "in/cdir", "--tokenizer", "hf:/dev/zero",
                                       "--out", "out", "--quiet"],
    "report-no-directory": ["report", "--out", "out"],
}


@pytest.mark.parametrize("case", [_param(f"name-{k}", k) for k in NAME_CASES])
def test_names_and_specs(ws, case):
    run_case(ws, NAME_CASES[case], 2, out=ws.root / "out", devices=True)
    assert not (ws.root / "out").exists()


def _data_dir_case(ws, how, real: Path) -> Path:
    d = ws.root / "datadir"
    if how == "is-a-file":
        d.write_text("not a folder\n")
        return d
    if how == "missing":
        return d
    if how == "is-dev-null":
        return Path("/dev/null")
    shutil.copytree(real / "obsscaling", d / "obsscaling")
    f = d / "obsscaling" / "base_llm_benchmark_eval.csv"
    if how == "tampered-file":
        f.write_text(f.read_text().replace("0.4379", "0.9379", 1))
    elif how == "file-is-a-fifo":
        f.unlink()
        _fifo(f)
    elif how == "file-is-dev-zero-link":
        f.unlink()
        f.symlink_to("/dev/zero")
    elif how == "file-is-a-directory":
        f.unlink()
        f.mkdir()
    return d


DATA_DIR_CASES = ["is-a-file", "missing", "is-dev-null", "tampered-file", "file-is-a-fifo", "file-is-dev-zero-link",
                  "file-is-a-directory"]
DATA_DIR_CMDS = {"data-list": (["data", "list"], 0),  # lists the registry: reads no data file
                 "data-verify": (["data", "verify", "obsscaling", "--quiet"], 2),
                 "data-show": (["data", "show", "obsscaling-base", "--no-download"], 2),
                 "obs-select": (["obs", "select", "--budget", 4, "--no-evaluate", "--out", "out", "--quiet"], 2)}
# a data dir that is absent, or a file there that is not a regular file, is "not available locally": data verify
# only counts missing files (exit 0); obs select would then download, so it only meets the tampered copy
DATA_DIR_EXPECT = {(h, "data-verify"): 0 for h in DATA_DIR_CASES if h != "tampered-file"}


@pytest.mark.parametrize("how, which", [_param(f"data-dir-{h}[{c}]", h, c) for h in DATA_DIR_CASES
                                        for c in DATA_DIR_CMDS if c != "obs-select" or h == "tampered-file"])
def test_data_dir_hazard(ws, data_dir, monkeypatch, how, which):
    d = _data_dir_case(ws, how, data_dir)
    monkeypatch.setenv("SCALESCOPE_DATA_DIR", str(d))
    cache = ws.root / "cache"
    cache.mkdir()
    monkeypatch.setenv("SCALESCOPE_CACHE_DIR", str(cache))  # nothing there; never downloads (--no-download / offline)
    args, expect = DATA_DIR_CMDS[which]
    fifos = _fifos_under(d) if d.is_dir() else []
    run_case(ws, args, DATA_DIR_EXPECT.get((how, which), expect), out=ws.root / "out", fifos=fifos, devices=True)


# ================================================================================================================
# 7. real processes: a FIFO without the guard, a closed stdout, Ctrl-C
# ================================================================================================================


@pytest.mark.parametrize("args", [
    _param("process-fifo[emergence-analyze--data]", ["emergence", "analyze", "--data", "hz/fifo.csv", "--out", "out"]),
    _param("process-fifo[calibrate-run--corpus]", ["calibrate", "run", "--model", "ngram:2", "--corpus", "hz/fifo.csv",
                                                   "--steps", 4, "--samples", 2, "--out", "out"]),
])
def test_process_fifo_input_does_not_hang(ws, args):
    _fifo(ws.hz("fifo.csv"))
    before = snapshot(ws.root)
    res = invoke_process(args, cwd=ws.root, timeout=60)
    check(res, 2)
    assert_same(before, snapshot(ws.root), "the workspace changed")


def test_process_closed_stdout_is_not_a_traceback(ws):
    # `scalescope data list | head -1`: the reader goes away; no traceback about a broken pipe
    cmd = [sys.executable, "-c", "from scalescope.cli import main; main()", "data", "list"]
    p = subprocess.Popen(cmd, cwd=ws.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    p.stdout.close()  # nobody reads: the first write fails with EPIPE
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("scalescope data list hung on a closed stdout")
    err = err.decode(errors="replace")
    assert "Traceback" not in err, err
    assert p.returncode != 0 or not err.strip(), err


@pytest.mark.parametrize("args", [
    _param("process-sigint[calibrate-run]",
           ["calibrate", "run", "--model", "ngram:2", "--corpus", "wikitext-2", "--prompt-split", "all",
            "--prompt-tokens", 4, "--steps", 64, "--samples", 3000, "--shard-size", 3000, "--out", "out"]),
    _param("process-sigint[obs-reproduce]", ["obs", "reproduce", "--out", "out"]),
])
def test_process_ctrl_c_leaves_nothing_half_written(ws, args):
    before = snapshot(ws.root)
    cmd = [sys.executable, "-c", "from scalescope.cli import main; main()", *map(str, args)]
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}  # the progress bar says when work started
    # A user's Ctrl-C reaches a process whose SIGINT has the default disposition. A test runner started in the
    # background by a non-interactive shell ignores SIGINT, and children inherit that (Python then installs no
    # KeyboardInterrupt handler): give the child a terminal's default disposition.
    p = subprocess.Popen(cmd, cwd=ws.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _interrupt_and_check(ws, p, before)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _interrupt_and_check(ws, p, before):
    # wait for the progress bar (work under way), then Ctrl-C
    err = ""
    deadline = time.monotonic() + 90
    os.set_blocking(p.stderr.fileno(), False)
    while time.monotonic() < deadline and p.poll() is None:
        try:
            err += os.read(p.stderr.fileno(), 65536).decode(errors="replace")
        except BlockingIOError:
            pass
        if "%|" in err or "it/s" in err or "s/it" in err:
            break
        time.sleep(0.1)
    if p.poll() is not None:
        pytest.fail(f"finished before it could be interrupted (make the run longer)\n{err}")
    if "%|" not in err and "it/s" not in err and "s/it" not in err:
        pytest.fail(f"no progress bar within 90 s\n{err}")
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    os.set_blocking(p.stderr.fileno(), True)
    try:
        out, rest = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("did not stop on SIGINT")
    err += (rest or b"").decode(errors="replace")
    assert "Traceback" not in err, err
    assert "interrupted" in err, err
    assert p.returncode == 130, (p.returncode, err[-2000:])
    after = snapshot(ws.root, exclude=[ws.root / "out"])
    assert_same(snapshot_minus(before, "out"), after, "the workspace changed outside --out")
    o = ws.root / "out"
    if o.exists():  # a calibration run keeps finished shards for --resume; nothing else may be left
        left = sorted(str(p.relative_to(o)) for p in o.rglob("*"))
        assert all(x.startswith("shards") or x in ("manifest.json", MARKER) for x in left), left
        assert not any(x.startswith(".scalescope-staging") for x in left), left


def snapshot_minus(snap: dict, top: str) -> dict:
    return {k: v for k, v in snap.items() if k != top and not k.startswith(top + os.sep)}
