"""Hold-out splits of the predictability backtests: which models are held out as "the largest" (Test G1, emergence.md
§2.G): ``size:K`` (the K largest distinct model sizes) or ``top:Q`` (the top fraction Q of training compute), and the
default per table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.errors import InputError


def holdout_mask(models: pd.DataFrame, spec: str) -> np.ndarray:
    """Which models (rows with ``params_total``, ``train_flops``) are held out.

    ``spec``: ``"size:K"`` = the K largest distinct parameter counts (Bhagia/Gadre/Pythia-style: predict 7B/13B from
    the ladder); ``"top:Q"`` = the top fraction Q of models by compute; ``"cutoff:F"`` = compute above F FLOPs.
    """
    kind, _, val = spec.partition(":")
    try:
        v = float(val)
    except ValueError:
        raise InputError(f"--holdout {spec}: expected size:K, top:Q or cutoff:FLOPS") from None
    flops = models["train_flops"].to_numpy(float)
    if kind == "size":
        if not (np.isfinite(v) and v >= 1 and v == int(v)):
            raise InputError(f"--holdout {spec}: K must be a positive integer (number of largest sizes held out)")
        p = models["params_total"].to_numpy(float)
        sizes = np.unique(p[np.isfinite(p)])
        if sizes.size <= int(v):
            return np.zeros(len(models), bool)
        return p >= sizes[-int(v)]
    if kind == "top":
        if not 0 < v < 1:
            raise InputError(f"--holdout {spec}: the fraction must be in (0, 1)")
        f = flops[np.isfinite(flops)]
        if f.size == 0:
            return np.zeros(len(models), bool)
        return flops > np.quantile(f, 1 - v)
    if kind == "cutoff":
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"--holdout {spec}: the FLOPs cutoff must be a positive number")
        return flops > v
    raise InputError(f"--holdout {spec}: expected size:K, top:Q or cutoff:FLOPS")


def default_holdout(table: pd.DataFrame) -> str:
    """``size:2`` for ladder-like sources (few distinct sizes), ``top:0.25`` otherwise."""
    src = set(table["source"])
    if src & {"olmo-ladder", "gadre-scaling", "pythia-evals"}:
        return "size:2"
    n_sizes = table["params_total"].dropna().nunique()
    return "size:2" if 4 <= n_sizes <= 12 else "top:0.25"
