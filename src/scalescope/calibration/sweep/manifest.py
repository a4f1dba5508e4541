"""The sweep manifest ``DIR/sweep.json``: every cell's status, attempts, error, timings, and the executors used.

Layout of a sweep directory::

    DIR/sweep.json            this manifest (written atomically after every change; only the driver writes it)
    DIR/cells/<cell-id>/      an ordinary calibration run directory (manifest.json + shards/*.parquet)
    DIR/.sweep.lock           held (flock) by the driver while it runs, so two drivers never share a DIR

The run directories are the truth: a cell whose ``manifest.json`` says ``complete`` is complete whatever
``sweep.json`` says (a driver killed between finishing a cell and writing ``sweep.json`` loses nothing), and the
next run of the sweep re-derives every status from them before it starts.

Cell statuses: ``pending`` (not started), ``running`` (handed to an executor), ``complete``, ``failed`` (``error``
holds the one-line reason of the last attempt). ``attempts`` counts every attempt over all runs of the sweep.

Example
-------
>>> import tempfile
>>> m = SweepManifest.new(tempfile.mkdtemp(), name="demo", spec_path=None, spec_sha256=None)
>>> _ = m.set_cell("a", status="failed", error="model 'x': unknown")
>>> _ = m.save()
>>> SweepManifest.load(m.directory).cells["a"]["status"]
'failed'
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scalescope.data.validate import load_json
from scalescope.errors import InputError
from scalescope.results import write_json

__all__ = ["SWEEP_MANIFEST", "CELLS_DIR", "STATUSES", "SweepManifest", "is_sweep_dir", "utcnow"]

SWEEP_MANIFEST = "sweep.json"
CELLS_DIR = "cells"
STATUSES = ("pending", "running", "complete", "failed")
KIND = "calibration-sweep"


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_sweep_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a sweep directory (holds ``sweep.json`` as a regular file, not a link)."""
    f = Path(path) / SWEEP_MANIFEST
    return f.is_file() and not f.is_symlink()


class SweepManifest:
    """In-memory ``sweep.json``; :meth:`save` writes it atomically (temp file + rename)."""

    def __init__(self, directory: str | os.PathLike, data: dict[str, Any]):
        self.directory = Path(directory)
        self.data = data

    @property
    def path(self) -> Path:
        return self.directory / SWEEP_MANIFEST

    @property
    def cells(self) -> dict[str, dict[str, Any]]:
        return self.data["cells"]

    @classmethod
    def new(cls, directory, *, name: str, spec_path: str | None, spec_sha256: str | None) -> SweepManifest:
        from scalescope import __version__

        return cls(directory, {
            "tool": "scalescope", "version": __version__, "kind": KIND, "name": name,
            "spec": {"path": spec_path, "sha256": spec_sha256}, "created_at": utcnow(), "updated_at": utcnow(),
            "status": "running", "sessions": [], "cells": {},
        })

    @classmethod
    def load(cls, directory: str | os.PathLike) -> SweepManifest:
        path = Path(directory) / SWEEP_MANIFEST
        data = load_json(path)
        if not isinstance(data, dict) or data.get("kind") != KIND or not isinstance(data.get("cells"), dict):
            raise InputError(f"{path}: not a scalescope sweep manifest (kind {KIND!r} with a 'cells' table expected)")
        return cls(directory, data)

    def cell_dir(self, cell_id: str) -> Path:
        return self.directory / CELLS_DIR / cell_id

    def set_cell(self, cell_id: str, **fields: Any) -> dict[str, Any]:
        entry = self.cells.setdefault(cell_id, {"status": "pending", "attempts": 0, "error": None})
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"unknown cell status {fields['status']!r}")
        entry.update(fields)
        return entry

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for c in self.cells.values():
            out[c.get("status", "pending")] = out.get(c.get("status", "pending"), 0) + 1
        return out

    def save(self) -> Path:
        self.data["updated_at"] = utcnow()
        return write_json(self.data, self.path)
