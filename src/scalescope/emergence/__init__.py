"""Emergent abilities, their critics, and predictability backtests (research/emergence.md).

- :mod:`~scalescope.emergence.table` -- the canonical long table (§1.4) from every source and from user CSVs;
- :mod:`~scalescope.emergence.stats` -- breakthroughness, linearity stand-ins, jump share, hinge and sigmoid fits (§3);
"""

from scalescope.emergence.stats import (
    FloorResult,
    HingeResult,
    SigmoidResult,
    breakthroughness,
    floor_test,
    hinge_fit,
    jump_share,
    monotonicity,
    noise_scale,
    r2_loglinear,
    sigmoid_fit,
    signed_range,
)
from scalescope.emergence.table import COLUMNS, finalize, from_long_csv, load_table

__all__ = [
    "COLUMNS",
    "FloorResult",
    "HingeResult",
    "SigmoidResult",
    "breakthroughness",
    "finalize",
    "floor_test",
    "from_long_csv",
    "hinge_fit",
    "jump_share",
    "load_table",
    "monotonicity",
    "noise_scale",
    "r2_loglinear",
    "sigmoid_fit",
    "signed_range",
]
