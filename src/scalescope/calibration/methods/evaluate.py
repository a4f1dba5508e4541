"""Exact evaluation of a calibration method on held-out passages of a finite-state model (spec §1.4, §4, §5.3).

For each held-out passage i (prompt + T human tokens) and a policy q:
- entropy H_i: the EXACT expected total entropy of q's own T-step generation from the prompt (backward DP), so
  the only noise left is over prompts (no sampling noise), per token = H_i / T;
- log loss L_i = Σ_t −log q_t(y_t | human prefix) / T (mixture-smoothed for truncating samplers, spec §4 option 1);
- EntCE = mean_i (H_i − L_i) (sign: positive = too random), with a percentile bootstrap CI over passages, log loss
  with its standard error (both clustered when ``groups`` is given: overlapping windows of one segment are resampled
  together, so correlated passages do not fake precision), exact per-step curves (forward DP) and the EntCE slope per 1000 steps (spec §1.5).
Optionally Monte-Carlo generations (the estimator an engine run would give) as a cross-check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalescope.calibration.methods.dp import (
    forward_entropy_curve,
    future_entropy_table,
    human_logloss,
    human_states,
    sample_rollouts,
)
from scalescope.calibration.methods.markov import FiniteStateLM
from scalescope.calibration.methods.policies import Policy
from scalescope.fit import LinearFit
from scalescope.fit.bootstrap import bootstrap_weights, percentile_interval
from scalescope.results import Result


@dataclass(frozen=True)
class MethodEvaluation(Result):
    """Held-out metrics of one method (nats per token). ``per_passage_*`` arrays allow paired comparisons."""

    method: str
    params: dict[str, Any]
    entce: float
    entce_ci: tuple[float, float]
    entce_se: float
    logloss: float
    logloss_se: float
    entropy: float
    entce_slope_per_1k: float
    coverage: float | None
    entropy_t: np.ndarray
    logloss_t: np.ndarray
    n_passages: int
    steps: int
    entce_mc: float | None = None
    entce_mc_se: float | None = None
    per_passage_entropy: np.ndarray = field(default=None, repr=False)
    per_passage_logloss: np.ndarray = field(default=None, repr=False)
    groups: np.ndarray | None = field(default=None, repr=False)
    n_clusters: int | None = None

    def summary_dict(self) -> dict[str, Any]:
        """The JSON record of ``summary.json`` (no per-passage arrays)."""
        d = self.to_dict()
        d.pop("per_passage_entropy", None)
        d.pop("per_passage_logloss", None)
        d.pop("groups", None)
        d["entce_t"] = (np.asarray(self.entropy_t) - np.asarray(self.logloss_t)).tolist()
        return d


def _cluster_totals(x: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and counts of ``x`` (each passage its own cluster when ``groups`` is None)."""
    x = np.asarray(x, dtype=np.float64)
    if groups is None:
        return x, np.ones_like(x)
    _, inv = np.unique(np.asarray(groups), return_inverse=True)
    return np.bincount(inv, weights=x), np.bincount(inv).astype(np.float64)


def bootstrap_ci(x: np.ndarray, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                 groups: np.ndarray | None = None) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``x`` (resampling passages, or whole clusters given ``groups``)."""
    sums, counts = _cluster_totals(x, groups)
    W = bootstrap_weights(len(sums), n_boot, seed)
    return percentile_interval((W @ sums) / (W @ counts), level)


def slope_per_1000(curve) -> float:
    """OLS slope of a per-step curve (EntCE_t) on the step index, in nats per 1000 steps (spec §1.5); NaN for fewer
    than two steps or a non-finite curve.

    >>> round(slope_per_1000([0.0, 0.001, 0.002]), 9)
    1.0
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.size < 2 or not np.isfinite(c).all():
        return float("nan")
    return float(LinearFit().fit(np.arange(c.size, dtype=np.float64)[:, None], c).coef_[0] * 1000)


def mean_se(x: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Standard error of the mean of ``x``; cluster-robust (ratio estimator over clusters) given ``groups``."""
    sums, counts = _cluster_totals(x, groups)
    g = len(sums)
    if g < 2:
        return float("nan")
    m = sums.sum() / counts.sum()
    return float(np.sqrt(g / (g - 1) * np.sum((sums - m * counts) ** 2)) / counts.sum())


def exact_totals(policy: Policy, lm: FiniteStateLM, prompts, human, *, smoothing: float = 1e-3):
    """Per-passage (entropy, log loss) per token plus human states; the fast core used by root-finding."""
    human = np.asarray(human, dtype=np.int64)
    T = human.shape[1]
    states = human_states(lm, np.asarray(prompts), human)
    G = future_entropy_table(policy, lm, T)
    H = G[0][states[:, 0]] / T
    loss, kept = human_logloss(policy, lm, states, human, smoothing=smoothing)
    return H, loss, kept, states


def evaluate_policy(
    policy: Policy,
    lm: FiniteStateLM,
    prompts: np.ndarray,
    human: np.ndarray,
    *,
    smoothing: float = 1e-3,
    mc_samples: int = 0,
    n_boot: int = 2000,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> MethodEvaluation:
    """Evaluate ``policy`` on held-out passages; see the module docstring.

    ``groups`` (int [N], optional): cluster id of each passage (e.g. the segment its window was cut from); CIs and
    SEs then resample clusters, not passages.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.calibration.methods.markov import FiniteStateLM
    >>> from scalescope.calibration.methods.policies import BasePolicy
    >>> lm = FiniteStateLM.from_transition(np.full((2, 2), 0.5))
    >>> ev = evaluate_policy(BasePolicy(lm), lm, np.zeros((10, 1), int), np.ones((10, 4), int))
    >>> round(ev.entce, 12)   # uniform model: entropy = log loss = log 2
    0.0
    """
    H, loss, kept, states = exact_totals(policy, lm, prompts, human, smoothing=smoothing)
    T = loss.shape[1]
    L = loss.mean(1)
    d = H - L
    H_t = forward_entropy_curve(policy, lm, T, states[:, 0])
    L_t = loss.mean(0)
    slope = slope_per_1000(H_t - L_t)
    n = len(d)
    entce_mc = entce_mc_se = None
    if mc_samples > 0:
        rng = np.random.default_rng(seed)
        start = np.repeat(states[:, 0], mc_samples)
        ent = sample_rollouts(policy, lm, start, T, rng)["entropy"].mean(1).reshape(n, mc_samples).mean(1)
        dm = ent - L
        entce_mc, entce_mc_se = float(dm.mean()), float(dm.std(ddof=1) / np.sqrt(n))
    return MethodEvaluation(
        method=policy.name,
        params=policy.params,
        entce=float(d.mean()),
        entce_ci=bootstrap_ci(d, n_boot=n_boot, seed=seed, groups=groups),
        entce_se=mean_se(d, groups),
        logloss=float(L.mean()),
        logloss_se=mean_se(L, groups),
        entropy=float(H.mean()),
        entce_slope_per_1k=slope,
        coverage=float(kept.mean()) if policy.truncates else None,
        entropy_t=H_t,
        logloss_t=L_t,
        n_passages=n,
        steps=T,
        entce_mc=entce_mc,
        entce_mc_se=entce_mc_se,
        per_passage_entropy=H,
        per_passage_logloss=L,
        groups=None if groups is None else np.asarray(groups),
        n_clusters=int(len(np.unique(groups))) if groups is not None else n,
    )


def paired_difference(a: MethodEvaluation, b: MethodEvaluation, what: str = "logloss",
                      groups: np.ndarray | None = None) -> tuple[float, float]:
    """Mean and standard error of the per-passage difference a − b (``what``: 'logloss' or 'entce').

    The SE is clustered by ``groups`` (default: ``a.groups``, the clusters ``a`` was evaluated with).
    """
    if what == "logloss":
        x = a.per_passage_logloss - b.per_passage_logloss
    else:
        x = (a.per_passage_entropy - a.per_passage_logloss) - (b.per_passage_entropy - b.per_passage_logloss)
    return float(x.mean()), mean_se(x, a.groups if groups is None else groups)


def paired_vs_base(evals: dict[str, MethodEvaluation], base: str = "base") -> dict[str, dict[str, float]]:
    """Paired per-passage differences of every method against ``base``: log loss and EntCE, each with its SE."""
    ref = evals[base]
    out: dict[str, dict[str, float]] = {}
    for m, ev in evals.items():
        if m != base:
            d_ll, se_ll = paired_difference(ev, ref, "logloss")
            d_e, se_e = paired_difference(ev, ref, "entce")
            out[m] = {"logloss_diff": d_ll, "logloss_diff_se": se_ll, "entce_diff": d_e, "entce_diff_se": se_e}
    return out
