"""Temperature solves (spec §3.2, §5.3 item 5): the per-step temperature τ with EntCE = 0, and the τ with zero
EntCE slope over steps (the v0 paper's "stabilising" choice).

Both are 1-D root-finds. :func:`solve_temperature` works on any ``τ -> value`` function -- measured runs from the
engine (noisy; pass a coarse grid) or the exact finite-state estimator of :func:`exact_temperature_curve`.
Per-step temperature has no log-loss guarantee (unlike global sequence temperature, which is intractable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import (
    brentq,  # a root solve (EntCE(tau) = 0), not a fit: no estimator in scalescope.fit applies
)

from scalescope.calibration.methods.dp import forward_entropy_curve
from scalescope.calibration.methods.evaluate import exact_totals, slope_per_1000
from scalescope.calibration.methods.markov import FiniteStateLM
from scalescope.calibration.methods.policies import TemperaturePolicy
from scalescope.results import Result

DEFAULT_GRID = tuple(np.round(np.geomspace(0.4, 2.5, 15), 4))


@dataclass(frozen=True)
class TemperatureSolve(Result):
    """Root τ of ``target`` (``'entce'`` or ``'slope'``), whether a sign change was bracketed, the grid scanned."""

    tau: float
    target: str
    bracketed: bool
    value_at_tau: float
    grid_tau: np.ndarray
    grid_value: np.ndarray


def solve_temperature(
    fn: Callable[[float], float], *, grid=DEFAULT_GRID, target: str = "entce", offset: float = 0.0, xtol=1e-6
) -> TemperatureSolve:
    """τ with ``fn(τ) = offset`` by scanning ``grid`` for a sign change nearest τ = 1, then Brent's method.

    Without a sign change, returns the grid τ with the smallest |fn − offset| and ``bracketed=False``.

    >>> solve_temperature(lambda tau: tau - 0.8).tau
    0.8
    """
    grid = np.asarray(sorted(grid), dtype=np.float64)
    vals = np.array([fn(float(t)) - offset for t in grid])
    changes = [i for i in range(len(grid) - 1) if np.sign(vals[i]) != np.sign(vals[i + 1])]
    if not changes:
        i = int(np.nanargmin(np.abs(vals)))
        return TemperatureSolve(float(grid[i]), target, False, float(vals[i] + offset), grid, vals + offset)
    i = min(changes, key=lambda j: abs(np.log(grid[j] * grid[j + 1]) / 2))  # nearest to τ = 1
    tau = brentq(lambda x: fn(x) - offset, grid[i], grid[i + 1], xtol=xtol)
    return TemperatureSolve(round(float(tau), 10), target, True, float(fn(tau)), grid, vals + offset)


def exact_temperature_curve(lm: FiniteStateLM, prompts, human, *, quantity: str = "entce") -> Callable[[float], float]:
    """``τ -> EntCE`` (per token), ``τ -> EntCE slope`` (nats per 1000 steps) or ``τ -> log loss`` computed exactly."""
    if quantity not in ("entce", "slope", "logloss"):
        raise ValueError(quantity)

    def fn(tau: float) -> float:
        pol = TemperaturePolicy(lm, float(tau))
        H, loss, _, states = exact_totals(pol, lm, prompts, human)
        if quantity == "entce":
            return float(H.mean() - loss.mean())
        if quantity == "logloss":
            return float(loss.mean())
        T = loss.shape[1]
        H_t = forward_entropy_curve(pol, lm, T, states[:, 0])
        return slope_per_1000(H_t - loss.mean(0))

    return fn


def solve_temperature_exact(lm: FiniteStateLM, prompts, human, *, target: str = "entce", grid=DEFAULT_GRID):
    """τ with zero EntCE (``target='entce'``) or zero EntCE slope (``'slope'``) on the given passages."""
    return solve_temperature(exact_temperature_curve(lm, prompts, human, quantity=target), grid=grid, target=target)
