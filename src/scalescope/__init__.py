"""scalescope: how language-model behaviour scales.

Three analyses over one data layer and one fitting core:

- :mod:`scalescope.calibration` -- entropy calibration of generations (Cao, Valiant, Liang 2025),
- :mod:`scalescope.observational` -- observational scaling laws (Ruan, Maddison, Hashimoto 2024),
- :mod:`scalescope.emergence` -- emergent abilities, their critics, and predictability backtests.

Sub-packages are imported lazily so ``import scalescope`` stays fast and torch is only imported when a model runs.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("data", "fit", "observational", "emergence", "calibration", "report")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"scalescope.{name}")
    raise AttributeError(f"module 'scalescope' has no attribute {name!r}")


__all__ = ["__version__", *_SUBPACKAGES]
