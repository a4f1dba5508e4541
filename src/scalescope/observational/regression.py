"""Downstream link regression: sigmoid and floor-sigmoid laws on capability scores or log-compute (spec §1.6).

``ŷ = σ(z)`` (``link="sigmoid"``) or ``ŷ = (1 - b)·σ(z) + b`` with the floor ``b ∈ [0, 0.2]`` (``"sigmoid-floor"``,
upstream ``sigmoid-parametric`` with fixed height), where ``z = w0 + Σ_k w_k x_k``.

The fit is :class:`scalescope.fit.SigmoidRegression` with ``exact_upstream=True``: the authors' initial point
(w0 = 0, other weights 0.03, b = 0) and optimisers, so the published numbers reproduce (spec §1.6, §4.6):
``loss="huber"`` minimises Σ Huber_δ(ŷ - y) (BFGS, or L-BFGS-B with the floor bounded); ``loss="ls"`` is nonlinear
least squares (TRF with the floor bounded, Levenberg-Marquardt without). This module only maps the CLI's loss names
onto it and pins BLAS to one thread (the fits are tiny and run hundreds of times in a sweep).
"""

from __future__ import annotations

import numpy as np

from scalescope.errors import InputError
from scalescope.fit.sigmoid import LinkFit, SigmoidRegression, link_inverse
from scalescope.observational._blas import single_thread_blas

LINKS = ("sigmoid", "sigmoid-floor")
LOSSES = ("huber", "ls")
FLOOR_BOUNDS = (0.0, 0.2)


def fit_link(X, y, *, link: str = "sigmoid", loss: str = "huber", delta: float = 1.0, maxiter: int = 10000
             ) -> LinkFit:
    """Fit ``y ≈ link(w0 + X w)`` with the upstream optimiser; see the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-3, 3, 30)[:, None]
    >>> y = 1 / (1 + np.exp(-(2 * x[:, 0] - 1)))
    >>> fit = fit_link(x, y)
    >>> np.round(fit.params, 2).tolist()
    [-1.0, 2.0]
    """
    if link not in LINKS:
        raise InputError(f"--link: unknown link {link!r} (choose from {', '.join(LINKS)})")
    if loss not in LOSSES:
        raise InputError(f"loss: unknown loss {loss!r} (choose from {', '.join(LOSSES)})")
    X = np.asarray(X, dtype=float)
    est = SigmoidRegression(link, floor_bounds=FLOOR_BOUNDS, exact_upstream=True,
                            upstream_method="robust" if loss == "huber" else "ols", f_scale=delta, max_iter=maxiter)
    with single_thread_blas():
        return est.fit(X.reshape(len(X), -1), y).result_


__all__ = ["FLOOR_BOUNDS", "LINKS", "LOSSES", "LinkFit", "fit_link", "link_inverse"]
