"""Braverman et al. (2020) one-step lookahead ("local entropy-rate") calibration (spec §3.3).

Adjusted model with ONE scalar α shared by all steps:

    q_α(w_t | w_<t) ∝ p̂(w_t | w_<t) · exp(−α · H(p̂(· | w_≤t)))

Sign convention (declared; sources differ): α > 0 penalises candidates after which the next-next token is
uncertain, i.e. lowers entropy; α < 0 raises it. α is fitted by minimising human-text log loss, a 1-D convex
problem (each step is an exponential family in α); at the optimum the lookahead-entropy feature is calibrated,
a *one-step* guarantee only. With ``top_k`` only the k most probable candidates get their own lookahead entropy
(one extra forward pass each on a neural LM); the others get the mean of those k values (declared approximation).
"""

from __future__ import annotations

import numpy as np

from scalescope.calibration.methods.dp import human_states
from scalescope.calibration.methods.markov import FiniteStateLM
from scalescope.calibration.methods.policies import LookaheadPolicy
from scalescope.calibration.methods.solve1d import Solve1D, exp_family_loss, minimize_convex_1d
from scalescope.errors import check_fitted


class LookaheadCalibrator:
    """Fit the single α of the Braverman lookahead on human passages.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.calibration.methods.markov import FiniteStateLM
    >>> rng = np.random.default_rng(0)
    >>> lm = FiniteStateLM.from_transition(rng.dirichlet(np.ones(4), size=4))
    >>> cal = LookaheadCalibrator().fit(lm, rng.integers(0, 4, (50, 1)), rng.integers(0, 4, (50, 6)))
    >>> cal.solve_.converged
    True
    """

    def __init__(self, *, top_k: int | None = None, tol: float = 1e-8, alpha_bounds=(-20.0, 20.0)):
        self.top_k = top_k
        self.tol = tol
        self.alpha_bounds = alpha_bounds

    def fit(self, lm: FiniteStateLM, prompts: np.ndarray, human: np.ndarray) -> LookaheadCalibrator:
        states = human_states(lm, np.asarray(prompts), np.asarray(human)).ravel()
        tokens = np.asarray(human, dtype=np.int64).ravel()
        probe = LookaheadPolicy(lm, 0.0, self.top_k)
        fgh = exp_family_loss(lm.logp[states], probe.features(states), tokens, lambda a: (1.0, 0.0), lambda a: (a, 1.0))
        lo, hi = self.alpha_bounds
        self.logloss_base_ = fgh(0.0)[0]
        self.solve_: Solve1D = minimize_convex_1d(fgh, lo=lo, hi=hi, tol=self.tol)
        self.alpha_ = self.solve_.x
        self.policy_ = LookaheadPolicy(lm, self.alpha_, self.top_k)
        return self

    @property
    def policy(self) -> LookaheadPolicy:
        check_fitted(self, "policy_")
        return self.policy_
