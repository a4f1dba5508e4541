"""A learned future-entropy head for transformer LMs: the practical stand-in for Algorithm 1's regression black box
(Cao et al. 2025 §5, Assumption 5.1; spec §3.4 and §5.3 item 5).

For a neural LM the future entropy H(Ŷ_>t | y_≤t) of every candidate token cannot be computed exactly. We regress
it, soft-Q style: a head f(h_t, t) ∈ R^V on the last hidden state h_t (which predicts token t) outputs, for every
candidate v, the expected entropy of the model's own continuation after v. Training data are the model's own
rollouts: at each step t the label of the *sampled* token v_t is the realised future sum over steps t+1..T−1
(``label="entropy"``: Σ_s H(p̂(· | Ŷ_<s)), the Rao-Blackwellised form with the same expectation and lower variance;
``label="logloss"``: Σ_s −log p̂(Ŷ_s), Algorithm 2 with m = 1). Only the taken action's output is trained
(as in Q-learning), so unbiased single-rollout labels suffice. Parametrisation: f_v(h, t) = (T − 1 − t) · (W h + b)_v,
so f ≡ 0 at the last step (F_T = 0) and the head learns a per-step future entropy *rate*: a part shared by all
tokens (per-step and hidden-state terms) plus a ridge-penalised per-token part whose penalty is chosen on held-out
prompts (:func:`train_head`).

Declared approximation vs Algorithm 1: labels come from the BASE model's rollouts (one round), not from the
adjusted model's own rollouts re-fitted backward per step; α_t is then fitted per step on human text exactly as in
the exact-DP method. The head's held-out RMSE against fresh rollout labels is reported as the theorem's δ (it
includes label noise, so it is an upper bound on the regression error). Tokens never sampled in the training
rollouts keep the shared part only, so they get no adjustment relative to the others' shared rate.

The fitted head can be saved and run by the engine as the sampler ``future_entropy_head=PATH`` (registered on import
of this module).

The forward passes (rollouts, teacher forcing, evaluation) are in
:mod:`~scalescope.calibration.methods.transformer_passes`; the calibrator and its engine sampler in
:mod:`~scalescope.calibration.methods.learned_calibrator`; their names are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from scalescope.calibration.methods.solve1d import exp_family_loss, minimize_convex_1d
from scalescope.errors import InputError
from scalescope.results import Result


class FutureEntropyHead(torch.nn.Module):
    """f_v(h, t) = (T − 1 − t) · ((W h + b)_v + c_t): per-candidate future entropy (nats) after step t.

    ``c_t`` (``step_bias``) is the same for every candidate, so it cancels in the adjustment's softmax; it makes f
    an estimate of the future entropy itself (the δ reported), whose rate changes over steps as errors accumulate.
    """

    def __init__(self, hidden_size: int, vocab_size: int, horizon: int):
        super().__init__()
        self.horizon = horizon
        self.lin = torch.nn.Linear(hidden_size, vocab_size)
        self.step_bias = torch.nn.Parameter(torch.zeros(horizon), requires_grad=False)

    def forward(self, h: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        t = torch.as_tensor(t, device=h.device)
        remaining = (self.horizon - 1 - t.to(h.dtype)).clamp_min(0)
        c = self.step_bias[t.long().clamp(0, self.horizon - 1)]
        if remaining.ndim:
            remaining, c = remaining[..., None], c[..., None]
        return remaining * (self.lin(h) + c)


@dataclass(frozen=True)
class HeadFit(Result):
    """Head training diagnostics: ``delta_rmse`` = held-out RMSE vs rollout labels (the theorem's δ, label noise
    included), ``baseline_rmse`` = RMSE of the per-step mean label, ``label`` kind, sample counts, the ridge penalty
    used on the per-token part and the validation RMSE of each candidate (``inf`` = shared part only)."""

    delta_rmse: float
    baseline_rmse: float
    train_rmse: float
    label: str
    n_train_rollouts: int
    n_test_rollouts: int
    alphas: np.ndarray
    converged: np.ndarray
    ridge: float = math.nan
    validation_rmse: dict[str, float] = field(default_factory=dict)


def rollout_labels(per_step: torch.Tensor) -> torch.Tensor:
    """Label at step t = realised sum of ``per_step`` over steps t+1..T−1 (reverse cumulative sum, shifted by one)."""
    return per_step.flip(1).cumsum(1).flip(1) - per_step


RIDGE_GRID: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, math.inf)


@dataclass(frozen=True)
class HeadTraining:
    """What :func:`train_head` returns besides the head: RMSEs (nats, label units) and the ridge selection."""

    train_rmse: float
    delta_rmse: float
    baseline_rmse: float
    ridge: float
    validation_rmse: dict[str, float]


def _rate(params, z: torch.Tensor, j: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """Predicted future-entropy rate ``c_t + u·z + b_v + W_v·z`` of rows (z [n, d], token row index ``j`` [n] into
    the per-token tables, −1 for tokens without one, ``step`` [n])."""
    c, u, W, b = params
    js = j.clamp_min(0)
    known = (j >= 0).to(z.dtype)
    return c[step] + z @ u + known * ((z * W[js]).sum(-1) + b[js])


def _fit_rates(z: torch.Tensor, j: torch.Tensor, step: torch.Tensor, y: torch.Tensor, rem: torch.Tensor, *,
               n_tok: int, n_steps: int, ridge: float, epochs: int, lr: float):
    """Minimise Σ w (rate − y/rem)² / n + ridge · (‖u‖² + ‖W‖² + ‖b‖²) / n, w = rem² / mean(rem²), with the rate
    of :func:`_rate`; c_t starts at (and with ridge = inf stays at) the weighted per-step mean rate.
    Rows: z [n, d], token row index j [n], step [n]."""
    n, d = z.shape
    w = rem**2 / (rem**2).mean()
    target = y / rem
    c0 = torch.zeros(n_steps, dtype=z.dtype, device=z.device).index_add_(0, step, w * target)
    c0 = c0 / torch.zeros(n_steps, dtype=z.dtype, device=z.device).index_add_(0, step, w).clamp_min(1e-12)
    free = math.isfinite(ridge)
    c = c0.clone().requires_grad_(free)
    u = torch.zeros(d, dtype=z.dtype, device=z.device, requires_grad=free)
    W = torch.zeros(n_tok, d, dtype=z.dtype, device=z.device, requires_grad=free)
    b = torch.zeros(n_tok, dtype=z.dtype, device=z.device, requires_grad=free)
    if free:
        opt = torch.optim.Adam([c, u, W, b], lr=lr)
        for _ in range(epochs):
            opt.zero_grad()
            loss = (w * (_rate((c, u, W, b), z, j, step) - target) ** 2).mean()
            if ridge > 0:
                loss = loss + ridge * ((u**2).sum() + (W**2).sum() + (b**2).sum()) / n
            loss.backward()
            opt.step()
    return c.detach(), u.detach(), W.detach(), b.detach()


def train_head(hidden: torch.Tensor, tokens: torch.Tensor, future: torch.Tensor, *, vocab_size: int,
               train_idx: torch.Tensor, test_idx: torch.Tensor, epochs: int = 300, lr: float = 0.05,
               ridge: float | None = None, groups: torch.Tensor | None = None, val_fraction: float = 0.25,
               seed: int = 0) -> tuple[FutureEntropyHead, HeadTraining]:
    """Fit a :class:`FutureEntropyHead` on rollouts: hidden [N, T, d], sampled tokens [N, T], labels [N, T].

    The future-entropy *rate* after sampling v at step t is ``c_t + u·z + b_v + W_v·z`` with z the hidden state
    standardised on the training rows: a per-step rate c_t and a shared term u·z (both the same for every candidate,
    so they cancel in the adjustment's softmax, but they absorb what all tokens share) and a per-token part
    (b_v, W_v). ``u``, ``b`` and ``W`` carry a ridge penalty in units of pseudo-observations at 0; ``ridge = inf``
    leaves only c_t, i.e. the per-step mean label (the baseline). Only the sampled token's output is trained
    (soft-Q) by gathering its row, so an epoch costs O(N·T·d), not O(N·T·d·V); tokens never sampled in the training
    rollouts keep the shared part only. ``ridge=None`` picks the penalty from :data:`RIDGE_GRID` by RMSE on a seeded
    ``val_fraction`` of the training rollouts' ``groups`` (prompts; rollouts when None), then refits on all of them:
    unpenalised, the d + 1 parameters per token memorise single-rollout labels (measured on SmolLM2: held-out δ
    16.7 nats vs 14.6 for the per-step-mean baseline). δ and the baseline (per-step mean label of the training
    rollouts) are measured on ``test_idx``, steps 0..T−2 (step T−1 has label 0 and f = 0).
    """
    N, T, d = hidden.shape
    dev = hidden.device
    rem_t = (T - 1 - torch.arange(T, device=dev, dtype=hidden.dtype))
    if T < 2:
        raise InputError(f"horizon {T}: the future-entropy head needs at least 2 steps")

    steps_t = torch.arange(T - 1, device=dev)
    h_tr = hidden[train_idx][:, : T - 1].reshape(-1, d)
    mu = h_tr.mean(0)
    sd = h_tr.std(0, unbiased=False).clamp_min(1e-6)  # population sd: defined for a single training row
    seen = torch.unique(tokens[train_idx][:, : T - 1])
    index = torch.full((vocab_size,), -1, dtype=torch.long, device=dev)
    index[seen] = torch.arange(len(seen), device=dev)

    def rows(sel):  # steps 0..T-2 of the selected rollouts, flattened: (z, token row index, step, label, remaining)
        z = (hidden[sel][:, : T - 1].reshape(-1, d) - mu) / sd
        return (z, index[tokens[sel][:, : T - 1].reshape(-1)], steps_t.repeat(len(sel)),
                future[sel][:, : T - 1].reshape(-1), rem_t[: T - 1].repeat(len(sel)))

    def fit(data, lam):
        return _fit_rates(*data, n_tok=len(seen), n_steps=T - 1, ridge=lam, epochs=epochs, lr=lr)

    def rmse(params, data):
        z, j, st, y, r = data
        return float(((_rate(params, z, j, st) * r - y) ** 2).mean().sqrt())

    val_rmse: dict[str, float] = {}
    if ridge is None:
        g = torch.Generator().manual_seed(seed)
        grp = (groups[train_idx.cpu()] if groups is not None else torch.arange(len(train_idx))).cpu()
        uniq = torch.unique(grp)
        n_val = max(1, int(round(val_fraction * len(uniq))))
        if len(uniq) < 2:
            ridge = RIDGE_GRID[-1]
        else:
            val_g = uniq[torch.randperm(len(uniq), generator=g)[:n_val]]
            is_val = torch.isin(grp, val_g).to(dev)
            fit_rows, val_rows = rows(train_idx[~is_val]), rows(train_idx[is_val])  # built once for the grid
            for lam in RIDGE_GRID:
                val_rmse[f"{lam:g}"] = rmse(fit(fit_rows, lam), val_rows)
            ridge = min(RIDGE_GRID, key=lambda lam: val_rmse[f"{lam:g}"])
    train_rows = rows(train_idx)
    c, u, W, b = params = fit(train_rows, ridge)
    train_rmse = rmse(params, train_rows)
    delta = rmse(params, rows(test_idx))
    base = float(((future[test_idx] - future[train_idx].mean(0)) ** 2)[:, : T - 1].mean().sqrt())
    head = FutureEntropyHead(d, vocab_size, T).to(dev)
    with torch.no_grad():  # fold the standardisation and the shared part into one linear layer
        w_shared = u / sd
        head.lin.weight.copy_(w_shared.expand(vocab_size, d))
        head.lin.bias.fill_(float(-(w_shared @ mu)))
        w_tok = (u + W) / sd
        head.lin.weight[seen] = w_tok
        head.lin.bias[seen] = b - w_tok @ mu
        head.step_bias[: T - 1] = c
    return head.eval(), HeadTraining(train_rmse, delta, base, float(ridge), val_rmse)


@torch.no_grad()
def fit_alphas(head: FutureEntropyHead, logp_h: torch.Tensor, hid_h: torch.Tensor, human: torch.Tensor, *,
               tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Per-step α_t minimising the step-t log loss of q_t ∝ exp((1 + α) log p̂ − α f) on human text (Algorithm 1
    step a). ``logp_h`` [N, T, V] and ``hid_h`` [N, T, d] along the human continuation ``human`` [N, T]."""
    T = human.shape[1]
    dev = next(head.parameters()).device
    alphas, conv = np.zeros(T), np.zeros(T, dtype=bool)
    y = human.cpu().numpy()
    for t in range(T):
        A = logp_h[:, t].double().cpu().numpy()
        B = head(hid_h[:, t].to(dev).float(), t).double().cpu().numpy()
        fgh = exp_family_loss(A, B, y[:, t], lambda a: (1.0 + a, 1.0), lambda a: (a, 1.0))
        s = minimize_convex_1d(fgh, lo=-0.95, hi=50.0, tol=tol)
        alphas[t], conv[t] = s.x, s.converged
    return alphas, conv


# re-exports: the passes directly; the calibrator lazily (learned_calibrator imports this module)
from scalescope.calibration.methods.transformer_passes import (  # noqa: E402,F401
    evaluate_transformer,
    hf_forward,
    rollouts,
    teacher_forced,
)


def __getattr__(name: str):
    if name in ("LearnedFutureEntropyCalibrator", "FutureEntropyHeadSampler"):
        from scalescope.calibration.methods import learned_calibrator

        return getattr(learned_calibrator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
