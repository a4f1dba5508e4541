"""Run one calibration measurement end to end: what ``scalescope calibrate run`` does, as a library call.

The measurement protocol is Cao et al. 2025 (spec §2, §7), implemented by :mod:`scalescope.calibration.engine`.
This module adds what a *command* needs around the engine -- validate every input (model, corpus, sampler, passage
lengths, context length, output directory) before RUN_DIR is created, resolve the model, pick the engine, resume an
interrupted run, and remove a run directory that failed before it held any shard -- so the CLI stays thin and a
sweep (:mod:`scalescope.calibration.sweep`) runs each of its cells through exactly the same code.

Example
-------
>>> import tempfile
>>> from scalescope.calibration.corpora import Corpus
>>> from scalescope.calibration.engine import CalibrationConfig
>>> from scalescope.calibration.store import load_run
>>> text = tempfile.mkdtemp() + "/toy.txt"
>>> _ = open(text, "w").write(("the cat sat on the mat and the dog sat on the log . " * 40 + "\\n\\n") * 6)
>>> cfg = CalibrationConfig(model="ngram:2", corpus=text, prompt_tokens=4, steps=3, samples=2)
>>> out = run_calibration(cfg, tempfile.mkdtemp() + "/run", progress=False)
>>> manifest, df = load_run(out)
>>> manifest["status"], len(df)
('complete', 6)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from pathlib import Path

from scalescope.calibration.engine import CalibrationConfig
from scalescope.errors import InputError
from scalescope.outputs import claim_run_dir, read_marker, record_files

__all__ = ["ENGINES", "run_calibration", "resolve_resume_config"]

#: ``simple``: any backend, step API; ``fast``: the static-cache decoder for transformers models.
ENGINES = ("simple", "fast")


def resolve_resume_config(config: CalibrationConfig, out_dir: str | os.PathLike, *, resume: bool) -> CalibrationConfig:
    """Fill ``passages`` / ``passage_seed`` left as ``None``: a resumed run keeps what it was started with, a new
    run gets the defaults (``random``, seed 0). Other fields are returned unchanged."""
    if config.passages is not None and config.passage_seed is not None:
        return config
    from scalescope.calibration.engine import stored_config
    from scalescope.calibration.store import RunStore

    store = RunStore(out_dir)
    old = stored_config(store.read_manifest(), store.manifest_path) if resume and store.exists() else {}
    passages = config.passages or old.get("passages") or "random"
    seed = config.passage_seed if config.passage_seed is not None else (old.get("passage_seed") or 0)
    return dataclasses.replace(config, passages=passages, passage_seed=seed)


def run_calibration(config: CalibrationConfig, out_dir: str | os.PathLike, *, resume: bool = False,
                    engine: str = "simple", progress: bool = True, overwrite: bool = False) -> Path:
    """Measure entropy and log loss for ``config`` and write the run directory ``out_dir``; returns its path.

    Parameters
    ----------
    config : CalibrationConfig
        The run. ``passages=None`` / ``passage_seed=None`` mean "the run's own setting" with ``resume`` and the
        defaults otherwise (see :func:`resolve_resume_config`).
    out_dir : path
        RUN_DIR: created if missing; an existing run directory needs ``resume=True``; any other non-empty
        directory is refused.
    resume : bool
        Continue an interrupted run (same configuration required): finished shards are kept, the rest are measured.
        Resuming a finished run changes nothing but its status.
    engine : {"simple", "fast"}
        ``fast`` is the static-cache decoder of :mod:`scalescope.calibration.fast` (transformers models only).
    progress : bool
        Show a tqdm bar over samples.
    overwrite : bool
        Replace an earlier run in ``out_dir``: only the files that run wrote (its manifest and shards) are removed.

    Raises
    ------
    InputError
        One line naming the input, before anything is written: bad model spec or id, corpus, sampler, lengths,
        context length, or an unusable ``out_dir``.

    Examples
    --------
    >>> run_calibration(CalibrationConfig(model="ngram:2", corpus="/nonexistent.txt", steps=2, samples=1),
    ...                 "/tmp/never-written")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InputError: corpus '/nonexistent.txt': ...
    """
    from scalescope.calibration.corpora import load_corpus
    from scalescope.calibration.engine import CalibrationRun
    from scalescope.calibration.models import resolve_model
    from scalescope.calibration.store import RunStore

    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r}: expected one of {', '.join(ENGINES)}")
    out_dir = Path(out_dir)
    cfg = resolve_resume_config(config, out_dir, resume=resume).validate()
    if resume and overwrite:
        raise InputError("--resume and --overwrite: choose one (continue the run, or replace it)")
    if resume and not RunStore(out_dir).exists():
        raise InputError(f"{out_dir}: --resume given but it is not a run directory (no manifest.json)")
    check_run_dir(out_dir, resume=resume, overwrite=overwrite)
    corp = load_corpus(cfg.corpus)
    backend = resolve_model(cfg.model, dtype=cfg.dtype, device=cfg.device, corpus=corp, seed=cfg.seed)
    if engine == "fast":
        try:
            from scalescope.calibration.fast.engine import FastCalibrationRun
        except ImportError as e:
            raise InputError(f"--engine fast: the fast engine is not available ({e})") from e
        runner = FastCalibrationRun(cfg)
    else:
        runner = CalibrationRun(cfg)
    prepared = runner.prepare(backend, corp)
    created = claim_run_dir(out_dir, command=COMMAND, resume=resume, overwrite=overwrite,
                            is_ours=lambda d: RunStore(d).exists(), own_files=_run_files)
    try:
        runner.run(backend, corp, out_dir, resume=resume, progress=progress, prepared=prepared)
    except BaseException:
        # A run that failed before writing any shard leaves nothing behind; with shards, keep them for --resume.
        if created and out_dir.exists() and not RunStore(out_dir).shard_indices():
            shutil.rmtree(out_dir, ignore_errors=True)
            for d in reversed(created[:-1]):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
        raise
    record_files(out_dir, COMMAND, _run_files(out_dir))
    return out_dir


COMMAND = "calibrate run"


def _run_files(run_dir) -> list[str]:
    """The files a run writes: its manifest and its shards (what ``overwrite`` may remove)."""
    from scalescope.calibration.store import MANIFEST, SHARD_DIR

    d = Path(run_dir)
    files = [MANIFEST] if (d / MANIFEST).is_file() else []
    if (d / SHARD_DIR).is_dir():
        files += sorted(f"{SHARD_DIR}/{p.name}" for p in (d / SHARD_DIR).glob("shard-*.parquet"))
    return files


def check_run_dir(out_dir, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse an unusable RUN_DIR before any work (the output contract, applied to a run written in place)."""
    from scalescope.calibration.store import RunStore
    from scalescope.outputs import check_out_dir

    if not (resume or overwrite) and RunStore(out_dir).exists():
        raise InputError(f"{out_dir}: run directory already exists; pass --resume to continue it, --overwrite to "
                         "replace it, or choose another --out")
    try:
        check_out_dir(out_dir, command=COMMAND, overwrite=overwrite or resume)
    except InputError:
        if not (Path(out_dir).is_dir() and read_marker(out_dir) is None and RunStore(out_dir).exists()):
            raise
    from scalescope.calibration.store import SHARD_DIR

    shards = Path(out_dir) / SHARD_DIR
    if os.path.islink(shards) or (os.path.lexists(shards) and not shards.is_dir()):
        raise InputError(f"{shards}: is a symlink or a file where a run writes its shards folder; refusing "
                         "(nothing was changed)")
