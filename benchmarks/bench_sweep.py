"""Sweep executors: 8 n-gram cells, local sequential vs Ray with 2 workers, and Ray's fixed start-up overhead (issue 15;
results in BENCHMARKS.md).

Usage: SCALESCOPE_DATA_DIR=../shared/data python benchmarks/bench_sweep.py [--steps 128] [--samples 256]
                                                                          [--out benchmarks/results/bench_sweep.json]

In one process, on the same spec (8 cells: a trigram family at 4 WikiText-2 training sizes x 2 samplers):

1. sequential: ``run_sweep`` with the default executor, cells one after another in this (already warm) process,
   with one torch thread like each Ray worker (``--default-threads-too`` also times torch's default threads);
2. Ray: ``ray.init(num_cpus=2)`` started cold, then the same sweep with one Ray task per cell (2 at a time);
   the ratio sequential / Ray is reported end to end (``ray.init`` and worker start included) and without init;
3. Ray's fixed overhead, in a second, fresh Ray instance: ``ray.init`` plus a sweep of two 1-step, 1-sample cells,
   minus the same two cells run in this process (what remains is start-up, worker spawn and import, scheduling).

Both sweeps must produce identical shards (checked). The machine's load average is recorded before and after: other
jobs on the same cores inflate both timings and shrink the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from scalescope.calibration.sweep import LocalExecutor, RayExecutor, parse_spec, run_sweep

SIZES = ("8k", "32k", "96k", "200k")


def spec(steps: int, samples: int, sizes=SIZES, samplers=("pure", "temp=0.9"), name="bench"):
    return parse_spec({
        "sweep": {"name": name},
        # prompts from every document (not only the held-out split, which holds ~100 passages of 144 tokens): a
        # timing benchmark needs cells long enough to amortise Ray's start-up, not held-out prompts
        "defaults": {"corpus": "wikitext-2", "prompt_tokens": 16, "steps": steps, "samples": samples,
                     "shard_size": max(1, samples // 2), "prompt_split": "all"},
        "axes": {"model": [f"ngram:3:wikitext-2@{s}" for s in sizes], "sampler": list(samplers)},
    })


def shards(d: Path) -> dict:
    return {f"{c.name}/{f.name}": pq.read_table(f) for c in sorted((d / "cells").iterdir())
            for f in sorted((c / "shards").iterdir())}


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_sweep.json"))
    ap.add_argument("--default-threads-too", action="store_true",
                    help="Also time the sequential sweep with torch's default threads (one per core).")
    args = ap.parse_args()
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    s = spec(args.steps, args.samples)
    load_before = os.getloadavg()

    # warm this process (imports, corpus cache) the way a user's driver would be, outside both timings
    run_sweep(spec(1, 1, sizes=("1k",), samplers=("pure",), name="warm"), tmp / "warm", progress=False)

    import torch

    default_threads = torch.get_num_threads()
    t_seq_default = None
    if args.default_threads_too:
        t = time.perf_counter()
        run_sweep(s, tmp / "seq-default", executor=LocalExecutor(1), progress=False)
        t_seq_default = time.perf_counter() - t
    # The baseline runs with one torch thread, as each Ray worker does (Ray sets OMP_NUM_THREADS = num_cpus = 1):
    # the ratio then measures the executor, not torch's threading (which on a busy machine costs far more).
    torch.set_num_threads(1)
    t = time.perf_counter()
    c0 = cpu_s()
    seq = run_sweep(s, tmp / "seq", executor=LocalExecutor(1), progress=False)
    t_seq, cpu_seq = time.perf_counter() - t, cpu_s() - c0
    assert seq.complete, seq.summary()
    torch.set_num_threads(default_threads)

    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_init = time.perf_counter() - t
    t1 = time.perf_counter()
    par = run_sweep(s, tmp / "ray", executor=RayExecutor(), progress=False)
    t_ray = time.perf_counter() - t1
    ray.shutdown()
    assert par.complete, par.summary()
    a, b = shards(tmp / "seq"), shards(tmp / "ray")
    identical = list(a) == list(b) and all(a[k].equals(b[k]) for k in a)

    tiny = spec(1, 1, sizes=("1k", "2k"), samplers=("pure",), name="tiny")
    t = time.perf_counter()
    run_sweep(tiny, tmp / "tiny-local", progress=False)
    t_tiny_local = time.perf_counter() - t
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_init2 = time.perf_counter() - t
    t = time.perf_counter()
    run_sweep(tiny, tmp / "tiny-ray", executor=RayExecutor(), progress=False)
    t_tiny_ray = time.perf_counter() - t
    ray.shutdown()
    load_after = os.getloadavg()

    res = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "ray_version": ray.__version__,
        "cells": len(s.cells), "steps": args.steps, "samples": args.samples,
        "sequential_s": round(t_seq, 2), "sequential_cpu_s": round(cpu_seq, 2), "sequential_torch_threads": 1,
        "sequential_default_threads_s": None if t_seq_default is None else round(t_seq_default, 2),
        "default_torch_threads": default_threads,
        "ray_init_s": round(t_init, 2), "ray_sweep_s": round(t_ray, 2),
        "ray_end_to_end_s": round(t_init + t_ray, 2),
        "ratio_end_to_end": round(t_seq / (t_init + t_ray), 3),
        "ratio_excluding_init": round(t_seq / t_ray, 3),
        "identical_shards": identical,
        "ray_fixed_overhead_s": round(t_init2 + t_tiny_ray - t_tiny_local, 2),
        "ray_fixed_overhead_parts": {"ray_init_s": round(t_init2, 2), "two_tiny_cells_on_ray_s": round(t_tiny_ray, 2),
                                     "same_cells_in_process_s": round(t_tiny_local, 2)},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }
    print(json.dumps(res, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
