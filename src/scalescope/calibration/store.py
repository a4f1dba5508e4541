"""Run directories of calibration measurements: a manifest plus atomic Parquet shards, with resume.

Layout (DESIGN.md "Run directories"; schema in briefs/calib_shared.md)::

    RUN_DIR/manifest.json            provenance + config + status ("running" / "complete")
    RUN_DIR/shards/shard-00000.parquet   one row per (sample, step)

Each shard is written to a temporary file and renamed into place, so a crash never leaves half a shard; resuming
skips every shard that exists. Shards are seeded from (seed, shard index) by the engine, so an interrupted and
resumed run is identical to an uninterrupted one. :func:`load_run` is the reader everyone else uses.

Example
-------
>>> import tempfile, pandas as pd
>>> from scalescope.calibration.store import RunStore, load_run
>>> d = tempfile.mkdtemp()
>>> st = RunStore(d)
>>> st.create({"config": {"seed": 0}, "status": "running"})
>>> _ = st.write_shard(0, pd.DataFrame({"sample_id": [0], "step": [0]}))
>>> _ = st.finish({"status": "complete"})
>>> manifest, df = load_run(d)
>>> manifest["status"], len(df)
('complete', 1)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scalescope.errors import InputError
from scalescope.outputs import atomic_path
from scalescope.results import to_jsonable, write_json

__all__ = ["RunStore", "load_run", "load_manifest", "SCHEMA", "MANIFEST", "SHARD_DIR"]

MANIFEST = "manifest.json"
SHARD_DIR = "shards"

#: Column schema of every shard (briefs/calib_shared.md). Float columns are float32; -inf is allowed in
#: ``human_logprob`` (a truncating sampler removed the human token); NaN marks rows after EOS in generation columns.
SCHEMA = pa.schema([
    ("sample_id", pa.int64()),
    ("step", pa.int32()),
    ("token_id", pa.int64()),
    ("alive", pa.bool_()),
    ("logprob", pa.float32()),
    ("logprob_model", pa.float32()),
    ("entropy_sampled", pa.float32()),
    ("entropy_full", pa.float32()),
    ("human_token_id", pa.int64()),
    ("human_logprob", pa.float32()),
    ("human_logprob_model", pa.float32()),
    ("human_entropy_sampled", pa.float32()),
    ("human_entropy_full", pa.float32()),
    ("human_in_kept", pa.bool_()),
    ("human_logprob_smooth_1e-2", pa.float32()),
    ("human_logprob_smooth_1e-3", pa.float32()),
    ("human_logprob_smooth_1e-4", pa.float32()),
])


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.shard_dir = self.run_dir / SHARD_DIR
        self.manifest_path = self.run_dir / MANIFEST

    # -- manifest ------------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any]:
        return load_manifest(self.run_dir)

    def _real_shard_dir(self) -> None:
        """Create ``shards/`` as a real folder; a symlink (or file) there is refused, never written through."""
        if os.path.islink(self.shard_dir) or (os.path.lexists(self.shard_dir) and not self.shard_dir.is_dir()):
            raise InputError(f"{self.shard_dir}: is a symlink or a file where a run writes its shards folder; "
                             "refusing to write through it")
        self.shard_dir.mkdir(parents=True, exist_ok=True)

    def create(self, manifest: dict[str, Any]) -> None:
        self._real_shard_dir()
        write_json(manifest, self.manifest_path)

    def update(self, fields: dict[str, Any]) -> dict[str, Any]:
        m = self.read_manifest()
        m.update(to_jsonable(fields))
        write_json(m, self.manifest_path)
        return m

    finish = update

    # -- shards --------------------------------------------------------------------------------------------------
    def shard_path(self, index: int) -> Path:
        return self.shard_dir / f"shard-{index:05d}.parquet"

    def has_shard(self, index: int) -> bool:
        return self.shard_path(index).is_file()

    def write_shard(self, index: int, frame: pd.DataFrame | pa.Table | dict) -> Path:
        """Write shard ``index`` atomically (temp file + rename).

        ``frame`` is a DataFrame, an Arrow table, or a dict of column arrays; anything holding every
        :data:`SCHEMA` column is cast to that schema (column order and dtypes fixed, so bytes are reproducible).
        """
        if isinstance(frame, dict):
            if set(SCHEMA.names) <= set(frame):
                table = pa.table([pa.array(frame[n], type=SCHEMA.field(n).type) for n in SCHEMA.names], schema=SCHEMA)
            else:
                table = pa.table(frame)
        elif isinstance(frame, pd.DataFrame):
            if set(SCHEMA.names) <= set(frame.columns):
                table = pa.Table.from_pandas(frame[SCHEMA.names], schema=SCHEMA, preserve_index=False)
            else:
                table = pa.Table.from_pandas(frame, preserve_index=False)
        else:
            table = frame
        self._real_shard_dir()
        path = self.shard_path(index)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return path

    def shard_indices(self) -> list[int]:
        if not self.shard_dir.is_dir():
            return []
        return sorted(int(p.stem.split("-")[1]) for p in self.shard_dir.glob("shard-*.parquet"))


def load_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The manifest of ``run_dir`` as a dict (InputError if it is not a run directory)."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise InputError(f"{run_dir}: not a calibration run directory (no {MANIFEST})")
    from scalescope.data.validate import load_json

    m = load_json(path)
    if not isinstance(m, dict):
        raise InputError(f"{path}: expected a JSON object (a calibration run manifest)")
    return m


def load_run(run_dir: str | os.PathLike, *, require_complete: bool = False,
             columns: list[str] | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """``(manifest, records)`` of a run: every shard concatenated, sorted by (sample_id, step).

    Parameters
    ----------
    run_dir : a directory written by ``scalescope calibrate run``.
    require_complete : raise InputError if the run's status is not "complete" (interrupted runs are readable).
    columns : subset of columns to read (faster for big runs).
    """
    manifest = load_manifest(run_dir)
    if require_complete and manifest.get("status") != "complete":
        raise InputError(f"{run_dir}: run is not complete (status {manifest.get('status')!r}); resume it first")
    store = RunStore(run_dir)
    paths = [store.shard_path(i) for i in store.shard_indices()]
    if not paths:
        cols = columns or SCHEMA.names
        empty = pa.Table.from_pylist([], schema=pa.schema([SCHEMA.field(c) for c in cols if c in SCHEMA.names]))
        return manifest, empty.to_pandas()
    tables = [pq.read_table(p, columns=columns) for p in paths]
    df = pa.concat_tables(tables).to_pandas()
    if {"sample_id", "step"} <= set(df.columns):
        df = df.sort_values(["sample_id", "step"], kind="stable", ignore_index=True)
    return manifest, df
