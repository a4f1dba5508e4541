"""Safeguarded Newton for the 1-D convex fits of the calibration methods (spec §3.3–3.4).

Each α fit minimises an average log loss of an exponential family in α, which is convex: the second derivative is
a variance. Newton with a bisection bracket converges in a handful of steps and lets us *certify* the
ε-stationarity (|dL/dα| ≤ ε) that Theorem 5.2 of Cao et al. assumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Solve1D:
    """Outcome of :func:`minimize_convex_1d`: argmin ``x``, value ``f``, gradient ``grad`` there, ``iters``,
    ``converged`` (|grad| <= tol) and ``at_bound`` (stopped at lo/hi with the gradient pointing outward)."""

    x: float
    f: float
    grad: float
    iters: int
    converged: bool
    at_bound: bool


def minimize_convex_1d(
    fgh: Callable[[float], tuple[float, float, float]],
    *,
    x0: float = 0.0,
    lo: float = -np.inf,
    hi: float = np.inf,
    tol: float = 1e-8,
    max_iter: int = 200,
) -> Solve1D:
    """Minimise a convex 1-D function given ``fgh(x) -> (f, f', f'')`` on [lo, hi].

    >>> r = minimize_convex_1d(lambda x: ((x - 2) ** 2, 2 * (x - 2), 2.0))
    >>> round(r.x, 6), r.converged
    (2.0, True)
    """
    x = float(np.clip(x0, lo, hi))
    a, b = lo, hi
    f, g, h = fgh(x)
    for it in range(1, max_iter + 1):
        if abs(g) <= tol:
            return Solve1D(x, f, g, it - 1, True, False)
        if g > 0:
            b = x
        else:
            a = x
        if (x <= lo and g > 0) or (x >= hi and g < 0):
            return Solve1D(x, f, g, it - 1, False, True)
        step = -g / h if h > 1e-300 else -np.sign(g) * max(1.0, abs(x))
        xn = x + step
        if not (a < xn < b):
            if np.isfinite(a) and np.isfinite(b):
                xn = 0.5 * (a + b)
            else:  # unbounded side: expand geometrically toward it
                xn = (x + 2 * max(1.0, abs(x))) if g < 0 else (x - 2 * max(1.0, abs(x)))
                xn = float(np.clip(xn, lo, hi))
        x = xn
        f, g, h = fgh(x)
    return Solve1D(x, f, g, max_iter, abs(g) <= tol, False)


def exp_family_loss(A: np.ndarray, B: np.ndarray, y: np.ndarray, c_a: Callable, c_b: Callable):
    """Return ``fgh(α)`` for L(α) = mean_i −log softmax_v(c_a(α) A_iv − c_b(α) B_iv)[y_i] with linear c_a, c_b.

    ``c_a``/``c_b`` are ``(value, derivative)`` pairs as functions of α: (1+α, 1) and (α, 1) for future-entropy
    scaling, (1, 0) and (α, 1) for the Braverman lookahead. A may hold −inf (zero-probability tokens).
    """
    rows = np.arange(len(y))
    finite = np.isfinite(A)
    A0 = np.where(finite, A, 0.0)
    a_y, b_y = A0[rows, y], B[rows, y]

    def fgh(alpha: float):
        ca, dca = c_a(alpha)
        cb, dcb = c_b(alpha)
        z = np.where(finite, ca * A0 - cb * B, -np.inf)
        m = z.max(1, keepdims=True)
        e = np.exp(z - m)
        Z = e.sum(1, keepdims=True)
        q = e / Z
        lse = (m + np.log(Z))[:, 0]
        dz = np.where(finite, dca * A0 - dcb * B, 0.0)  # d z / d alpha
        mean_dz = (q * dz).sum(1)
        f = np.mean(lse - (ca * a_y - cb * b_y))
        g = np.mean(mean_dz - (dca * a_y - dcb * b_y))
        h = np.mean((q * dz**2).sum(1) - mean_dz**2)
        return float(f), float(g), float(h)

    return fgh
