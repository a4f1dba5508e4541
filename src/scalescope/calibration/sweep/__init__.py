"""Sweeps: many ``calibrate run`` cells (models x corpora x samplers x seeds), resumable, local or on a Ray cluster.

The paper's central results are sweeps (Cao et al. 2025 §4, spec §2.1, §5.1): a model family at several sizes x
datasets x temperatures, then one scaling exponent per family. This package turns a TOML spec into cells
(:mod:`~scalescope.calibration.sweep.spec`), runs each cell as an ordinary run directory under ``DIR/cells/<id>``
through an executor (:mod:`~scalescope.calibration.sweep.executors`: in-process, worker processes, or Ray), tracks
them in ``DIR/sweep.json`` (:mod:`~scalescope.calibration.sweep.manifest`, :mod:`~scalescope.calibration.sweep.runner`)
and analyses the finished sweep per family (:mod:`~scalescope.calibration.sweep.analysis`).

Example
-------
>>> from scalescope.calibration.sweep import parse_spec
>>> spec = parse_spec({"defaults": {"corpus": "wikitext-2", "steps": 8, "samples": 4},
...                    "axes": {"model": ["ngram:3@5k", "ngram:3@50k"], "sampler": ["pure", "temp=0.9"]}})
>>> [c.axes["sampler"] for c in spec.cells]
['pure', 'temp=0.9', 'pure', 'temp=0.9']
"""

from scalescope.calibration.sweep.executors import (
    CellTask,
    Executor,
    LocalExecutor,
    RayExecutor,
    make_executor,
    run_cell,
)
from scalescope.calibration.sweep.manifest import SWEEP_MANIFEST, SweepManifest, is_sweep_dir
from scalescope.calibration.sweep.runner import SweepResult, run_sweep
from scalescope.calibration.sweep.spec import Cell, ModelMeta, SweepSpec, load_spec, model_meta, parse_spec

__all__ = [
    "SWEEP_MANIFEST",
    "Cell",
    "CellTask",
    "Executor",
    "LocalExecutor",
    "ModelMeta",
    "RayExecutor",
    "SweepManifest",
    "SweepResult",
    "SweepSpec",
    "is_sweep_dir",
    "load_spec",
    "make_executor",
    "model_meta",
    "parse_spec",
    "run_cell",
    "run_sweep",
]
