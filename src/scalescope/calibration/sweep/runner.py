"""Run a sweep: every cell of a :class:`~scalescope.calibration.sweep.spec.SweepSpec` as a run directory under
``DIR/cells/<cell-id>``, through an executor, resumable, with ``DIR/sweep.json`` tracking status.

Re-running a sweep resumes it: finished cells are skipped, interrupted ones resume from their last shard (the engine
seeds shards from (seed, shard), so the result is identical to an uninterrupted run), failed ones are tried again.
Within one run a cell that fails with a transient error (a crash, a lost worker) is retried up to ``retries`` times;
an input error (unknown model, corpus too short) is recorded at once, since retrying cannot fix it. Either way the
other cells finish, and the failed cell's one-line error is in ``sweep.json``.

Example
-------
>>> import pathlib, tempfile
>>> from scalescope.calibration.sweep.spec import parse_spec
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "c.txt").write_text(("the cat sat on the mat and the dog sat on the log . " * 40 + "\\n\\n") * 6)
>>> spec = parse_spec({"defaults": {"corpus": str(d / "c.txt"), "prompt_tokens": 4, "steps": 3, "samples": 2},
...                    "axes": {"model": ["ngram:2@100", "ngram:2@300", "ngram:x"]}})
>>> res = run_sweep(spec, d / "sweep", progress=False)
>>> res.counts["complete"], res.counts["failed"]
(2, 1)
>>> run_sweep(spec, d / "sweep", progress=False).skipped  # the re-run skips the finished cells
2
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalescope.calibration.sweep.executors import CellTask, Executor, LocalExecutor
from scalescope.calibration.sweep.manifest import (
    CELLS_DIR,
    SWEEP_MANIFEST,
    SweepManifest,
    is_sweep_dir,
    utcnow,
)
from scalescope.calibration.sweep.spec import SweepSpec
from scalescope.errors import InputError
from scalescope.results import Result

__all__ = ["SweepResult", "run_sweep", "cell_status", "COMMAND"]

COMMAND = "calibrate sweep"
LOCK = ".sweep.lock"


@dataclass(frozen=True)
class SweepResult(Result):
    """What a run of :func:`run_sweep` did: counts by status, cells skipped/run/failed, the executor, timings."""

    directory: str
    name: str
    executor: dict[str, Any]
    counts: dict[str, int]
    skipped: int
    ran: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def complete(self) -> bool:
        return self.counts.get("complete", 0) == sum(self.counts.values())

    def summary(self) -> str:
        n = sum(self.counts.values())
        lines = [f"sweep {self.name}: {self.counts.get('complete', 0)}/{n} cells complete ({self.skipped} already "
                 f"done, {self.ran} run now, {len(self.failed)} failed) in {self.elapsed_s:.1f} s with "
                 f"{self.executor.get('kind')} executor; {self.directory}/{SWEEP_MANIFEST}"]
        lines += [f"  failed {f['id']}: {f['error']}" for f in self.failed]
        return "\n".join(lines)


def cell_status(run_dir: str | os.PathLike) -> str:
    """Status of a cell from its run directory alone: ``complete``, ``running`` (interrupted) or ``pending``."""
    from scalescope.calibration.store import RunStore

    st = RunStore(run_dir)
    if not st.exists():
        return "pending"
    try:
        return "complete" if st.read_manifest().get("status") == "complete" else "running"
    except InputError:
        return "running"  # a damaged manifest: let the cell's resume report it


@contextlib.contextmanager
def _locked(directory: Path):
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"--out {directory}: another `scalescope calibrate sweep` is running on this "
                             "directory") from None
        yield
    finally:
        os.close(fd)


def _claim(out: Path) -> list[Path]:
    """Check DIR and everything in it that the sweep will read *before* writing anything; then create what it needs.
    Returns the folders created (removed again if the set-up fails)."""
    from scalescope.outputs import claim_run_dir, read_marker, record_files

    if out.is_dir():
        read_marker(out)  # a malformed marker is the first thing to report
    for name in (SWEEP_MANIFEST, CELLS_DIR, LOCK):
        if (out / name).is_symlink():
            raise InputError(f"--out {out}: {name} there is a symlink; a sweep never reads or writes through one "
                             "(nothing was changed)")
    if (out / CELLS_DIR).exists() and not (out / CELLS_DIR).is_dir():
        raise InputError(f"--out {out}: {CELLS_DIR} there is not a folder (nothing was changed)")
    if is_sweep_dir(out):
        SweepManifest.load(out)  # a hand-edited sweep.json is one line, before the marker is touched
    created = claim_run_dir(out, command=COMMAND, resume=True, overwrite=False, is_ours=is_sweep_dir)
    cells_new = not (out / CELLS_DIR).exists()
    try:
        (out / CELLS_DIR).mkdir(exist_ok=True)
        record_files(out, COMMAND, [SWEEP_MANIFEST, LOCK])
    except BaseException:
        _undo_claim(out, created, cells_new)
        raise
    return created


def _undo_claim(out: Path, created: list[Path], cells_new: bool, fresh: bool = False) -> None:
    """Remove what a sweep that failed during set-up created (only its own, still-empty things)."""
    from scalescope.outputs import MARKER

    if cells_new:
        with contextlib.suppress(OSError):
            (out / CELLS_DIR).rmdir()
    if created or fresh:  # DIR held no sweep before: drop our bookkeeping files and the folders we made
        for name in (MARKER, LOCK, SWEEP_MANIFEST):
            with contextlib.suppress(OSError):
                (out / name).unlink()
        for d in reversed(created):
            with contextlib.suppress(OSError):
                os.rmdir(d)


def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike, *, executor: Executor | None = None, retries: int = 2,
              progress: bool = True) -> SweepResult:
    """Run (or resume) every cell of ``spec`` under ``out_dir``; returns a :class:`SweepResult`.

    Parameters
    ----------
    spec : SweepSpec
        From :func:`~scalescope.calibration.sweep.spec.load_spec`.
    out_dir : path
        DIR: created if missing; an existing sweep directory is resumed; any other non-empty folder is refused.
    executor : Executor, optional
        Default :class:`~scalescope.calibration.sweep.executors.LocalExecutor` (in this process).
    retries : int, default 2
        Extra attempts, in this call, for a cell that failed with a transient error (input errors are not retried).
    progress : bool, default True
        A tqdm bar over cells (and, in-process, one within the running cell).

    Raises
    ------
    InputError
        ``out_dir`` unusable or locked by another running sweep.
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InputError(f"--retries {retries}: must be an integer >= 0")
    out = Path(out_dir)
    executor = executor or LocalExecutor()
    fresh = not is_sweep_dir(out)
    created = _claim(out)
    try:
        return _run_claimed(spec, out, executor, retries, progress)
    except BaseException:
        # a sweep that never got a cell started leaves nothing behind (a failure on a full disk, say)
        if fresh and not any((out / CELLS_DIR).glob("*/" + "manifest.json")):
            if (out / CELLS_DIR).is_dir() and not (out / CELLS_DIR).is_symlink():
                shutil.rmtree(out / CELLS_DIR, ignore_errors=True)
            _undo_claim(out, created, cells_new=False, fresh=True)
        raise


def _run_claimed(spec, out: Path, executor, retries: int, progress: bool) -> SweepResult:
    t_start = time.perf_counter()
    with _locked(out):
        if is_sweep_dir(out):
            man = SweepManifest.load(out)
            man.data.update(name=spec.name, spec={"path": spec.path, "sha256": spec.sha256})
        else:
            man = SweepManifest.new(out, name=spec.name, spec_path=spec.path, spec_sha256=spec.sha256)
        ids = [c.id for c in spec.cells]
        stale = sorted(set(man.cells) - set(ids))
        old = man.cells
        man.data["cells"] = {}
        for c in spec.cells:
            entry = dict(old.get(c.id, {}))
            entry.update(dir=f"{CELLS_DIR}/{c.id}", options=dict(c.options), axes=dict(c.axes), meta=c.meta.to_dict())
            entry.setdefault("attempts", 0)
            entry.setdefault("error", None)
            disk = cell_status(out / CELLS_DIR / c.id)
            if disk == "complete":
                entry.update(status="complete", error=None)
            elif entry.get("status") in (None, "complete", "running"):
                entry["status"] = "pending" if disk == "pending" else "running"
            man.cells[c.id] = entry
        man.data["stale_cells"] = stale  # cells of an earlier version of the spec: left on disk, not analysed
        session = {"started_at": utcnow(), "executor": executor.describe(), "retries": retries}
        man.data.setdefault("sessions", []).append(session)
        man.data["executor"] = session["executor"]
        man.data["status"] = "running"
        man.save()

        for c in spec.cells:  # a planted link in place of a cell folder would take its run outside DIR
            if (out / CELLS_DIR / c.id).is_symlink():
                raise InputError(f"--out {out}: {CELLS_DIR}/{c.id} is a symlink; refusing to write a cell through it")
        todo = [c for c in spec.cells if man.cells[c.id]["status"] != "complete"]
        skipped = len(spec.cells) - len(todo)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(spec.cells), initial=skipped, unit="cell", desc=f"sweep {spec.name}",
                       dynamic_ncols=True, position=0)
        ran = 0
        in_process = isinstance(executor, LocalExecutor) and executor.workers == 1
        tries = dict.fromkeys((c.id for c in todo), 0)
        try:
            while todo:
                tasks = [CellTask(cell_id=c.id, options=dict(c.options), run_dir=str((out / CELLS_DIR / c.id).resolve()),
                                  gpus=c.meta.gpus, progress=progress and in_process) for c in todo]
                for c in todo:
                    man.set_cell(c.id, status="running")
                man.save()
                again = []
                for task, res in executor.run(tasks):
                    tries[task.cell_id] += 1
                    entry = man.cells[task.cell_id]
                    fields: dict[str, Any] = {
                        "status": res["status"], "error": res.get("error"),
                        "attempts": int(entry.get("attempts", 0)) + (0 if res.get("skipped") else 1),
                    }
                    for k in ("started_at", "finished_at", "elapsed_s", "host", "pid", "cuda_visible_devices"):
                        if res.get(k) is not None:
                            fields[k] = res[k]
                    man.set_cell(task.cell_id, **fields)
                    if res["status"] == "complete":
                        ran += 0 if res.get("skipped") else 1
                        if bar is not None:
                            bar.update(1)
                    elif not res.get("permanent") and tries[task.cell_id] <= retries:
                        man.set_cell(task.cell_id, status="running")
                        again.append(spec.cell(task.cell_id))
                    elif bar is not None:
                        bar.update(1)
                    man.save()
                todo = again
        finally:
            if bar is not None:
                bar.close()
            executor_desc = executor.describe()
            executor.close()
            for c in spec.cells:  # a Ctrl-C leaves cells "running": the next run resumes them
                if man.cells[c.id]["status"] == "running" and cell_status(out / CELLS_DIR / c.id) == "pending":
                    man.set_cell(c.id, status="pending")
            counts = man.counts()
            session.update(finished_at=utcnow(), elapsed_s=round(time.perf_counter() - t_start, 3), counts=counts,
                           executor=executor_desc)
            man.data["executor"] = executor_desc
            man.data["status"] = "complete" if counts["complete"] == len(spec.cells) else (
                "failed" if counts["pending"] == counts["running"] == 0 else "interrupted")
            man.save()
    failed = [{"id": i, "error": e.get("error")} for i, e in man.cells.items() if e["status"] == "failed"]
    return SweepResult(directory=str(out), name=spec.name, executor=executor_desc, counts=counts, skipped=skipped,
                       ran=ran, failed=failed, elapsed_s=round(time.perf_counter() - t_start, 3))
