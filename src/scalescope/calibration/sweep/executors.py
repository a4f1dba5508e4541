"""Executors: where a sweep's cells run. One small interface, three implementations.

* :class:`LocalExecutor` (the default; embedded, no extra service): ``workers=1`` runs the cells one after another
  in this process; ``workers=N`` runs them in N worker processes (``spawn``ed), each pinned to one GPU through
  ``CUDA_VISIBLE_DEVICES`` when the machine has GPUs (worker i gets GPU i mod #GPUs).
* :class:`RayExecutor` (``pip install 'scalescope[ray]'``): one Ray task per cell, asking for the resources the
  cell needs (``num_gpus`` = the model's ``gpus``, 1 by default for a transformers model, 0 for an n-gram; Ray then
  sets ``CUDA_VISIBLE_DEVICES``), retried by Ray when its worker process or node is lost (``max_retries``).
  **Shared storage is required**: each task writes its run directory itself under the sweep's DIR, so DIR must be
  on a filesystem every node mounts at the same path (NFS, Lustre, a cloud filestore); the driver only tracks
  status. Every node needs scalescope (and the models' weights or hub access) installed.

Every executor runs :func:`run_cell`, so a cell's run directory is the same whichever executor ran it: the engine
seeds each shard from (seed, shard index), and a cell found interrupted resumes from its last finished shard.

The interface: ``executor.run(tasks)`` yields ``(task, outcome)`` pairs as cells finish (in any order);
``executor.describe()`` is what ``sweep.json`` records; ``executor.close()`` releases workers.

Example
-------
>>> ex = LocalExecutor()
>>> ex.describe()["kind"], ex.describe()["workers"]
('local', 1)
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scalescope.errors import InputError

__all__ = ["CellTask", "Executor", "LocalExecutor", "RayExecutor", "run_cell", "detect_gpus", "make_executor"]


@dataclass(frozen=True)
class CellTask:
    """What a worker needs to run one cell: its id, ``calibrate run`` options, run directory and GPU need."""

    cell_id: str
    options: dict[str, Any]
    run_dir: str
    gpus: int = 0
    progress: bool = False
    env: dict[str, str] = field(default_factory=dict)


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    if isinstance(e, InputError):
        return msg
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def run_cell(task: CellTask) -> dict[str, Any]:
    """Run one cell to completion and return its outcome; never raises for a failed cell.

    A finished run directory is left alone (``skipped``); an interrupted one is resumed from its last shard; a new
    one is measured. The outcome is ``{"status": "complete"|"failed", "error", "permanent", "skipped",
    "elapsed_s", "started_at", "finished_at", "host", "pid"}``; ``permanent`` marks an input error (a bad model id,
    a corpus too short) that retrying cannot fix.

    Examples
    --------
    >>> out = run_cell(CellTask("bad", {"model": "ngram:x"}, "/nonexistent/never"))
    >>> out["status"], out["permanent"]
    ('failed', True)
    """
    from scalescope.calibration.sweep.manifest import utcnow

    os.environ.update(task.env)
    t0 = time.perf_counter()
    out: dict[str, Any] = {"started_at": utcnow(), "host": socket.gethostname(), "pid": os.getpid(),
                           "skipped": False, "error": None, "permanent": False}
    try:
        from scalescope.calibration.execute import run_calibration
        from scalescope.calibration.store import RunStore
        from scalescope.calibration.sweep.spec import OPTIONS, config_from_options

        opts = {k: d for k, (_, d) in OPTIONS.items()}
        opts.update(task.options)
        store = RunStore(task.run_dir)
        if store.exists() and store.read_manifest().get("status") == "complete":
            out.update(status="complete", skipped=True)
        else:
            cfg = config_from_options(opts)
            run_calibration(cfg, task.run_dir, resume=store.exists(), engine=opts["engine"], progress=task.progress)
            out["status"] = "complete"
    except InputError as e:
        out.update(status="failed", error=_one_line(e), permanent=True)
    except Exception as e:  # a crash of one cell is recorded; the sweep goes on
        out.update(status="failed", error=_one_line(e), traceback=traceback.format_exc(limit=8))
    out["finished_at"] = utcnow()
    out["elapsed_s"] = round(time.perf_counter() - t0, 3)
    return out


class Executor:
    """Base of the executors: ``run(tasks)`` yields ``(task, outcome)`` as cells finish; ``close()`` frees workers."""

    kind = "base"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def run(self, tasks: Iterable[CellTask]) -> Iterator[tuple[CellTask, dict[str, Any]]]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def detect_gpus() -> int:
    """Number of CUDA devices visible to this process (0 without torch or CUDA)."""
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:  # no torch, broken driver: CPU only
        return 0


# Set in each worker process by the pool initializer: the GPU it is pinned to (None without GPUs).
_WORKER_GPU: str | None = None


def _init_worker(gpu_queue, threads: int) -> None:
    global _WORKER_GPU
    # N workers share the machine's cores: each gets its share of intra-op threads (what Ray does with num_cpus).
    # Without this every worker starts one thread per core, and on a busy machine torch's spinning threads made an
    # n-gram cell 20-40x slower (BENCHMARKS.md, issue 15).
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    if gpu_queue is not None:
        _WORKER_GPU = str(gpu_queue.get())
        os.environ["CUDA_VISIBLE_DEVICES"] = _WORKER_GPU  # before anything in this process touches CUDA
    os.environ.setdefault("TQDM_DISABLE", "1")


class LocalExecutor(Executor):
    """Cells on this machine: in this process one after another (``workers=1``), or in ``workers`` processes.

    Parameters
    ----------
    workers : int, default 1
        ``1``: in this process (a tqdm bar within the running cell). ``N > 1``: N spawned worker processes; each is
        pinned to one GPU (``CUDA_VISIBLE_DEVICES``) when there are GPUs, round-robin.
    gpus : int or None
        GPUs to pin workers to (default: :func:`detect_gpus`); 0 disables pinning.

    Examples
    --------
    >>> LocalExecutor(workers=2, gpus=0).describe()
    {'kind': 'local', 'workers': 2, 'processes': True, 'gpus': 0}
    """

    kind = "local"

    def __init__(self, workers: int = 1, *, gpus: int | None = None):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InputError(f"--workers {workers}: must be an integer >= 1")
        self.workers = workers
        self.gpus = gpus
        self._pool = None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers, "processes": self.workers > 1,
                "gpus": self._n_gpus() if self.workers > 1 else None}

    def _n_gpus(self) -> int:
        if self.gpus is None:
            self.gpus = detect_gpus()
        return self.gpus

    def _new_pool(self):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")  # fork after torch/CUDA initialisation is unsafe
        queue = None
        n = self._n_gpus()
        if n > 0:
            queue = ctx.Queue()
            for i in range(self.workers):
                queue.put(i % n)
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(queue, threads))

    def run(self, tasks):
        tasks = list(tasks)
        if self.workers == 1:
            for t in tasks:
                yield t, run_cell(t)
            return
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        if self._pool is None:
            self._pool = self._new_pool()
        futures = {self._pool.submit(run_cell, CellTask(t.cell_id, t.options, t.run_dir, t.gpus, False, t.env)): t
                   for t in tasks}
        broken = False
        while futures:
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for f in done:
                t = futures.pop(f)
                try:
                    yield t, f.result()
                except BrokenProcessPool as e:
                    # A worker process died (killed, out of memory): every cell still in the pool is lost with it.
                    # Report them as failed attempts (not permanent) so the driver retries them in a new pool.
                    broken = True
                    yield t, {"status": "failed", "error": f"worker process died ({_one_line(e)})",
                              "permanent": False, "skipped": False, "elapsed_s": None}
        if broken:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _ray_cell(task: CellTask) -> dict[str, Any]:
    """The Ray task body: :func:`run_cell` on whatever node Ray picked (writes to the shared DIR)."""
    out = run_cell(task)
    out["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    return out


class RayExecutor(Executor):
    """One Ray task per cell (``pip install 'scalescope[ray]'``); see the module docstring for shared storage.

    Parameters
    ----------
    address : str, default "auto"
        ``"auto"``: the running cluster this machine belongs to (``ray start``, ``RAY_ADDRESS``); ``"local"``: start
        a private single-machine Ray instance for this sweep; otherwise a cluster address (``ray://host:10001``,
        ``host:6379``). When Ray is already initialised in this process (a test, a notebook) that session is used.
    max_retries : int, default 2
        Ray re-runs a cell whose worker process or node was lost up to this many times; the rerun resumes from the
        cell's last finished shard.
    num_cpus : float, default 1
        CPUs each cell reserves.
    init_kwargs : dict, optional
        Passed to ``ray.init`` when this executor starts or connects to Ray (e.g. ``num_cpus`` for ``"local"``).

    Examples
    --------
    >>> RayExecutor("local", max_retries=1).describe()["max_retries"]
    1
    """

    kind = "ray"

    def __init__(self, address: str = "auto", *, max_retries: int = 2, num_cpus: float = 1.0,
                 init_kwargs: dict[str, Any] | None = None):
        if not isinstance(address, str) or not address.strip():
            raise InputError("--ray: expected auto, local or a cluster address")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InputError(f"--retries {max_retries}: must be an integer >= 0")
        self.address = address.strip()
        self.max_retries = max_retries
        self.num_cpus = num_cpus
        self.init_kwargs = dict(init_kwargs or {})
        self._started = False
        self._resources: dict[str, float] = {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "address": self.address, "max_retries": self.max_retries,
                "cluster_resources": {k: v for k, v in self._resources.items() if k in ("CPU", "GPU")} or None}

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise InputError("--ray: Ray is not installed; install the extra: pip install 'scalescope[ray]'") from None
        if not ray.is_initialized():
            kw = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            kw.update(self.init_kwargs)
            try:
                if self.address == "local":
                    ray.init(**kw)
                else:
                    ray.init(address=self.address, **kw)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise InputError(f"--ray {self.address}: cannot connect to a Ray cluster ({_one_line(e)})") from None
            self._started = True
        self._resources = dict(ray.cluster_resources())
        return ray

    def run(self, tasks):
        tasks = list(tasks)
        if not tasks:
            return
        ray = self._ray()
        remote = ray.remote(_ray_cell)
        gpu_total = float(self._resources.get("GPU", 0.0))
        refs = {}
        for t in tasks:
            need = int(t.gpus)
            explicit_cuda = str(t.options.get("device", "auto")).startswith("cuda")
            if need > 0 and gpu_total == 0 and not explicit_cuda:
                need = 0  # device "auto" on a CPU-only cluster: run on CPU rather than wait forever for a GPU
            if need > gpu_total:
                yield t, {"status": "failed", "permanent": True, "skipped": False, "elapsed_s": None,
                          "error": f"cell needs {need} GPU(s) but the Ray cluster has {gpu_total:g}"}
                continue
            ref = remote.options(num_cpus=self.num_cpus, num_gpus=need, max_retries=self.max_retries,
                                 retry_exceptions=False, name=f"scalescope-cell:{t.cell_id}").remote(t)
            refs[ref] = t
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for r in done:
                t = refs.pop(r)
                try:
                    yield t, ray.get(r)
                except Exception as e:  # worker or node lost more than max_retries times, task cancelled, ...
                    yield t, {"status": "failed", "permanent": True, "skipped": False, "elapsed_s": None,
                              "error": f"Ray task lost after {self.max_retries} retries ({_one_line(e)[:300]})"}

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def make_executor(*, workers: int = 1, ray: str | None = None, retries: int = 2) -> Executor:
    """The executor the CLI flags ask for: ``--ray ADDRESS`` -> :class:`RayExecutor`, else :class:`LocalExecutor`.

    With ``--ray local``, ``--workers N`` caps the private Ray instance at N CPUs.

    Examples
    --------
    >>> make_executor(workers=3).describe()["workers"]
    3
    """
    if ray:
        kw = {"num_cpus": workers} if ray.strip() == "local" and workers > 1 else {}
        return RayExecutor(ray, max_retries=retries, init_kwargs=kw)
    return LocalExecutor(workers)
