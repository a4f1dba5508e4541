"""Future entropy scaling with an EXACT dynamic programme (Cao et al. 2025, §5, Algorithm 1; spec §3.4).

Algorithm 1 fits, backward over t = T−1 .. 0, one scalar α_t per step by minimising the step-t log loss of human
text under the adjusted model

    q_t(v | s) = softmax_v( (1 + α_t) log p̂(v | s) − α_t F_{t+1}(s ⊕ v) ),

where F_{t+1}(s') is the future entropy of the *adjusted* model itself (its total entropy over steps t+1..T−1 from
state s'), F_T ≡ 0. The paper needs a regression black box (with test error δ) for F; on a finite-state model we
compute F exactly with the backward recursion

    F_t(s) = H(q_t(· | s)) + Σ_v q_t(v | s) F_{t+1}(s ⊕ v),

so δ = 0 and Theorem 5.2 can be checked directly. Backward order works because q_u for u > t depends only on
α_{u..T−1} (Lemma A.4).

What the fit guarantees, in-sample (derivation in ``fit_future_entropy``'s notes): with g_t = dL_t/dα_t,
    (total log loss) − (total entropy) = Σ_t (1 + α_t) g_t        (an exact identity)
so ε-stationary α_t give |EntCE| ≤ Σ_t (1 + α_t) ε / T per token, and L_t(α_t) ≤ L_t(0) = base step-t log loss.
Held out, both hold up to estimation noise; the compare runner measures that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalescope.calibration.methods.dp import human_states
from scalescope.calibration.methods.markov import FiniteStateLM, row_entropy
from scalescope.calibration.methods.policies import FutureEntropyPolicy
from scalescope.calibration.methods.solve1d import exp_family_loss, minimize_convex_1d
from scalescope.errors import InputError, check_fitted
from scalescope.results import Result


@dataclass(frozen=True)
class FutureEntropyFit(Result):
    """In-sample diagnostics of :class:`FutureEntropyCalibrator` (nats; totals are per passage, per-token = /T).

    alphas, grads : per-step α_t and dL_t/dα_t at the optimum (ε-stationarity of Theorem 5.2)
    converged : per-step |grad| <= tol
    logloss_base_t, logloss_t : per-step train log loss before / after (L_t(α_t) ≤ L_t(0) by construction)
    entropy_total, logloss_total, entce_per_token : exact in-sample totals of the adjusted model
    identity_residual : (L − H) − Σ_t (1 + α_t) g_t, zero up to rounding (checks the DP)
    bound_per_token : Σ_t (1 + α_t) |g_t| / T, the Theorem 5.2 bound on |EntCE| with δ = 0
    """

    alphas: np.ndarray
    grads: np.ndarray
    converged: np.ndarray
    logloss_base_t: np.ndarray
    logloss_t: np.ndarray
    entropy_total: float
    logloss_total: float
    entce_per_token: float
    identity_residual: float
    bound_per_token: float
    horizon: int
    n_passages: int


class FutureEntropyCalibrator:
    """Algorithm 1 of Cao et al. with exact DP future entropies on a :class:`FiniteStateLM`.

    Parameters
    ----------
    tol : float
        ε of Theorem 5.2: each α_t is refined until |dL_t/dα_t| <= tol.
    alpha_bounds : (float, float)
        Search interval for α_t (1 + α_t > 0 keeps the base log-probs' sign).

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.calibration.methods.markov import FiniteStateLM
    >>> rng = np.random.default_rng(0)
    >>> lm = FiniteStateLM.from_transition(rng.dirichlet(np.ones(3), size=3))
    >>> truth = FiniteStateLM.from_transition(rng.dirichlet(np.ones(3) * 0.3, size=3))
    >>> from scalescope.calibration.methods.dp import sample_rollouts
    >>> from scalescope.calibration.methods.policies import BasePolicy
    >>> prompts = rng.integers(0, 3, size=(200, 1))
    >>> human = sample_rollouts(BasePolicy(truth), truth, prompts[:, 0], 5, rng)["tokens"]
    >>> cal = FutureEntropyCalibrator(tol=1e-9).fit(lm, prompts, human)
    >>> abs(cal.result_.entce_per_token) < 1e-6
    True
    """

    def __init__(self, *, tol: float = 1e-8, alpha_bounds: tuple[float, float] = (-0.95, 50.0),
                 shrinkage: str = "none"):
        self.tol = tol
        self.alpha_bounds = alpha_bounds
        self.shrinkage = shrinkage

    def fit(self, lm: FiniteStateLM, prompts: np.ndarray, human: np.ndarray) -> FutureEntropyCalibrator:
        """Fit α_0..α_{T−1} on human passages: ``prompts`` int [N, P] (P >= order−1), ``human`` int [N, T].

        ``shrinkage="eb"`` (an extension, declared): a second backward pass minimises
        L_t(α) + (α − c)² / (2 N τ²), an empirical-Bayes prior over steps (c = mean of the first-pass α̂_t,
        τ² = their variance minus the mean Fisher sampling variance 1 / (N L_t''), α_t = c when τ² <= 0). It trades
        exact ε-stationarity (reported in ``bound_per_token``) for less held-out overfitting of T free parameters.
        """
        if self.shrinkage not in ("none", "eb"):
            raise InputError(f"shrinkage={self.shrinkage!r}: use 'none' or 'eb'")
        self._prior = None
        self._fit_pass(lm, prompts, human)
        if self.shrinkage == "eb":
            a, h, n = self.alphas_, self._hess, self.result_.n_passages
            tau2 = float(np.var(a, ddof=1) - np.mean(1.0 / (n * h))) if len(a) > 1 else 0.0
            self._prior = (float(np.mean(a)), tau2, n)
            self._fit_pass(lm, prompts, human)
            self.policy_.extra.update({"shrinkage": "eb", "prior_center": self._prior[0], "prior_var": tau2})
        return self

    def _fit_pass(self, lm, prompts, human) -> None:
        prompts, human = np.asarray(prompts, dtype=np.int64), np.asarray(human, dtype=np.int64)
        if human.ndim != 2 or prompts.ndim != 2 or len(prompts) != len(human) or len(human) == 0:
            raise InputError(f"passages: need prompts [N, P] and human [N, T] with equal N > 0 "
                             f"(got {prompts.shape} and {human.shape})")
        if prompts.shape[1] < lm.order - 1:
            raise InputError(f"prompts: need >= {lm.order - 1} tokens for an order-{lm.order} model")
        N, T = human.shape
        S = lm.n_states
        states = human_states(lm, prompts, human)
        F = np.zeros((T + 1, S))
        alphas, grads, hess = np.zeros(T), np.zeros(T), np.zeros(T)
        conv = np.zeros(T, dtype=bool)
        base_t, fit_t = np.zeros(T), np.zeros(T)
        lo, hi = self.alpha_bounds
        for t in range(T - 1, -1, -1):
            Bfull = F[t + 1][lm.next_state]  # [S, V]: future entropy after each candidate
            s_t, y_t = states[:, t], human[:, t]
            fgh = exp_family_loss(
                lm.logp[s_t], Bfull[s_t], y_t, lambda a: (1.0 + a, 1.0), lambda a: (a, 1.0)
            )
            base_t[t] = fgh(0.0)[0]
            if self._prior is None:
                r = minimize_convex_1d(fgh, x0=0.0, lo=lo, hi=hi, tol=self.tol)
                alphas[t], grads[t], conv[t], fit_t[t] = r.x, r.grad, r.converged, r.f
                hess[t] = fgh(r.x)[2]
            else:
                c, tau2, n = self._prior
                if tau2 <= 0:
                    alphas[t] = c
                else:
                    lam = 1.0 / (n * tau2)

                    def pen(a, fgh=fgh, lam=lam, c=c):
                        f, g, h = fgh(a)
                        return f + 0.5 * lam * (a - c) ** 2, g + lam * (a - c), h + lam

                    alphas[t] = minimize_convex_1d(pen, x0=c, lo=lo, hi=hi, tol=self.tol).x
                fit_t[t], grads[t], hess[t] = fgh(alphas[t])
                conv[t] = abs(grads[t]) <= self.tol
            # The adjusted step-t table, then its own future entropy (backward recursion).
            z = (1.0 + alphas[t]) * lm.logp - alphas[t] * Bfull
            z = np.where(np.isfinite(lm.logp), z, -np.inf)
            logq = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
            F[t] = row_entropy(logq) + (np.exp(logq) * Bfull).sum(1)
        H_total = float(F[0][states[:, 0]].mean())
        L_total = float(fit_t.sum())
        identity = (L_total - H_total) - float(np.sum((1.0 + alphas) * grads))
        self.policy_ = FutureEntropyPolicy(lm, alphas, F, extra={"tol": self.tol, "exact_dp": True})
        self.alphas_ = alphas
        self.future_ = F
        self._hess = np.maximum(hess, 1e-12)
        self.result_ = FutureEntropyFit(
            alphas=alphas,
            grads=grads,
            converged=conv,
            logloss_base_t=base_t,
            logloss_t=fit_t,
            entropy_total=H_total,
            logloss_total=L_total,
            entce_per_token=(H_total - L_total) / T,
            identity_residual=identity,
            bound_per_token=float(np.sum((1.0 + alphas) * np.abs(grads)) / T),
            horizon=T,
            n_passages=N,
        )

    @property
    def policy(self) -> FutureEntropyPolicy:
        check_fitted(self, "policy_")
        return self.policy_
