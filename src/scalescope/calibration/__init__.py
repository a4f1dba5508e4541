"""Entropy calibration of language models (Cao, Valiant & Liang, NeurIPS 2025): measure, analyse, mitigate.

Measurement: :func:`resolve_model` (model spec -> backend), :func:`load_corpus`, :func:`parse_sampler`,
:class:`CalibrationConfig` + :class:`CalibrationRun` (writes a run directory), :func:`run_calibration` (what
``calibrate run`` does), :func:`load_run` (reads one). Sweeps: :func:`load_spec`, :func:`run_sweep`,
:func:`analyze_sweep` (:mod:`scalescope.calibration.sweep`).
Names are imported lazily so ``import scalescope.calibration`` does not import torch.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "CalibrationConfig": "scalescope.calibration.engine",
    "CalibrationRun": "scalescope.calibration.engine",
    "load_run": "scalescope.calibration.store",
    "load_corpus": "scalescope.calibration.corpora",
    "parse_sampler": "scalescope.calibration.samplers",
    "resolve_model": "scalescope.calibration.models",
    "run_calibration": "scalescope.calibration.execute",
    "load_spec": "scalescope.calibration.sweep.spec",
    "run_sweep": "scalescope.calibration.sweep.runner",
    "analyze_sweep": "scalescope.calibration.sweep.analysis",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scalescope.calibration' has no attribute {name!r}")
