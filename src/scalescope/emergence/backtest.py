"""Predictability backtests: hold out the largest models, predict their hard metric from smaller ones (Test G1).

Wei et al. ask for a surrogate that predicts emergent abilities in advance; this module scores candidate predictors
on every task with enough models (research/emergence.md §2.G, §3.7):

(a) ``compute-sigmoid`` / ``compute-linear`` -- the hard metric extrapolated directly in log10 training FLOPs
    (sigmoid with the floor at chance; a line, clipped to [0, 1]);
(b) ``two-step`` -- compute -> task loss (bits per byte of the correct answer, or perplexity) by the model-ladder
    paper's compute-only ablation ``L(C) = A / C^alpha + E`` (:class:`scalescope.fit.OffsetPowerLaw` on log10
    training FLOPs), then task loss -> accuracy by the paper's step-2 sigmoid (:class:`scalescope.fit.LossSigmoid`) fitted
    on the training models' checkpoints; ``two-step-lm`` does the same through the model's held-out LM loss
    (Gadre et al., Du et al.). ``two-step-nd`` is Bhagia et al.'s method proper (:mod:`scalescope.emergence.ladder`,
    arXiv:2412.04403): step 1 ``L(N, D) = A / N^alpha + B / D^beta + E`` on the training models' final checkpoints
    (mean of the last 5 within the last 20 % of tokens; N = non-embedding parameters where the table has them),
    step 2 on every checkpoint after the first 10 % of each model, 5-point moving average, ideal point (0, 1), with a
    run-level bootstrap interval of the chained prediction (``pi_low``, ``pi_high``); it needs N and D that vary
    independently (a ladder of token multipliers). ``two-step-nd-lm`` is the same through the LM loss (the paper's
    "C4 loss" design choice; it is what applies to gadre-scaling, which has no task loss);
(c) ``obs-pc`` -- observational scaling (Ruan et al.): PC1 of the base benchmark vector (imputed, standardised),
    then a sigmoid of the target in PC1; only where benchmark scores exist (obsscaling).

Errors are absolute errors in metric units per held-out model; per curve the mean absolute error (MAE) with a
bootstrap CI over held-out models; :func:`leaderboard` aggregates per method over curves with a bootstrap CI over
curves. :func:`olmo_mmlu_mc_case` is the named case of spec §0.3 (OLMo 2 7B MMLU multiple-choice jump).

One concept per module: the hold-out splits live in :mod:`~scalescope.emergence.splits`, the predictors in
:mod:`~scalescope.emergence.predictors`, the leaderboard in :mod:`~scalescope.emergence.leaderboard`, the named case
in :mod:`~scalescope.emergence.mc_case`; this module runs the backtest and re-exports their names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.emergence.curves import CURVE_KEY, lm_loss_by_model
from scalescope.emergence.leaderboard import leaderboard
from scalescope.emergence.mc_case import MCJumpCase, olmo_mmlu_mc_case
from scalescope.emergence.predictors import (
    BACKTEST_LADDER,
    LADDER_N_BOOT,
    _floor,
    _ladder_checkpoints,
    _n_params,
    _nd_identified,
    _obs_pcs,
    _power_law_nd,
    _power_law_offset,
    _step2,
    predict_compute_linear,
    predict_compute_sigmoid,
    predict_two_step,
    predict_two_step_nd,
)
from scalescope.emergence.splits import default_holdout, holdout_mask
from scalescope.errors import InputError
from scalescope.fit import bootstrap_mean_ci
from scalescope.results import Result

# the names this module had before it was split by concept (splits, predictors, leaderboard, the MC case)
__all__ = [
    "BACKTEST_LADDER", "LADDER_N_BOOT", "METHODS", "MIN_TRAIN", "BacktestResult", "MCJumpCase", "_floor",
    "_ladder_checkpoints", "_n_params", "_nd_identified", "_obs_pcs", "_power_law_nd", "_power_law_offset", "_step2",
    "backtest", "default_holdout", "holdout_mask", "leaderboard", "measurement_se", "olmo_mmlu_mc_case",
    "predict_compute_linear", "predict_compute_sigmoid", "predict_two_step", "predict_two_step_nd",
]

METHODS = ("compute-sigmoid", "compute-linear", "two-step", "two-step-nd", "two-step-lm", "two-step-nd-lm",
           "obs-pc")
MIN_TRAIN = 3



@dataclass(frozen=True)
class BacktestResult(Result):
    """Per-model predictions (``predictions``: curve, method, model, x, actual, predicted, abs_error, and for the
    two-step methods the step-1 ``predicted_loss`` beside the held-out model's ``actual_loss``, so an error can be
    traced to step 1 or to the loss -> accuracy link) and per-curve
    errors (``errors``: curve, method, n_train, n_test, mae, mae_ci_low, mae_ci_high, max_abs_error)."""

    holdout: str
    predictions: pd.DataFrame
    errors: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.errors


def measurement_se(rows: pd.DataFrame) -> np.ndarray:
    """Standard error of each measured value: the table's ``stderr``, else a binomial SE from ``n_items`` (Agresti-Coull:
    ``p = (y n + 2) / (n + 4)``, ``sqrt(p (1 - p) / (n + 4))``, so a score of 0 or 1 does not get SE 0), else NaN
    (OLMo ladder and obsscaling carry neither). The spec §3.6 "predictable" rule asks whether a held-out prediction
    lands within 2 of these of the measurement.

    >>> measurement_se(pd.DataFrame({"value": [0.5, 0.5, 1.0], "stderr": [0.01, np.nan, np.nan],
    ...                              "n_items": [np.nan, 96, 96]})).round(4)
    array([0.01 , 0.05 , 0.014])
    """
    y = rows["value"].to_numpy(float)
    se = rows["stderr"].to_numpy(float) if "stderr" in rows else np.full(len(rows), np.nan)
    if "n_items" in rows:
        n = rows["n_items"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            pt = (np.clip(y, 0, 1) * n + 2) / (n + 4)
            binom = np.sqrt(pt * (1 - pt) / (n + 4))
        se = np.where(np.isfinite(se), se, np.where(n > 0, binom, np.nan))
    return se


def backtest(table: pd.DataFrame, *, holdout: str | None = None, methods=METHODS, pool_families: bool | None = None,
             min_train: int = MIN_TRAIN, random_state: int = 0, progress: bool = False,
             ladder_n_boot: int = LADDER_N_BOOT) -> BacktestResult:
    """Leave-top-out backtest of every hard-metric curve of ``table`` (Test G1).

    Parameters
    ----------
    table : canonical long table (:mod:`scalescope.emergence.table`).
    holdout : ``size:K`` / ``top:Q`` / ``cutoff:F`` (:func:`holdout_mask`); default :func:`default_holdout`.
    pool_families : fit one curve across families (default: yes for obsscaling, whose families are small).
    ladder_n_boot : run-bootstrap replicates of the model-ladder (two-step-nd) prediction intervals per curve
        (``pi_low``/``pi_high``; 0 = none, the default, since each replicate is a full step-1 refit).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalescope.emergence.table import finalize
    >>> p = np.array([1e7, 3e7, 1e8, 3e8, 1e9, 3e9]); f = 6 * p * 20 * p
    >>> acc = 0.25 + 0.5 / (1 + np.exp(-2 * (np.log10(f) - 19)))
    >>> t = finalize(pd.DataFrame({"model": list("abcdef"), "params_total": p, "train_flops": f, "task": "t",
    ...                            "metric": "acc", "metric_kind": "hard", "value": acc, "chance_level": 0.25}))
    >>> r = backtest(t, holdout="size:1", methods=("compute-sigmoid",))
    >>> bool(r.errors["mae"].iloc[0] < 0.01)
    True
    """
    holdout = holdout or default_holdout(table)
    if pool_families is None:
        pool_families = set(table["source"]) == {"obsscaling"}
    rng = np.random.default_rng(random_state)
    t = table.copy()
    lm = lm_loss_by_model(t)
    if not lm.empty:
        t = t.merge(lm, on=["source", "family", "model", "step"], how="left")
    else:
        t["lm_loss"] = np.nan
    # last checkpoint per model
    s = t["step"].fillna(-1)
    last = s.groupby([t["source"], t["family"], t["model"]]).transform("max")
    t["is_last"] = s == last
    models = t[t["is_last"]].groupby("model", as_index=False)[["params_total", "train_flops"]].first()
    hold = dict(zip(models["model"], holdout_mask(models, holdout)))
    t["held_out"] = t["model"].map(hold).fillna(False).astype(bool)

    loss_rows = t[t["metric_kind"] == "loss"]
    lkey = ["source", "family", "model", "step", "task", "subtask", "n_shots"]
    task_loss = loss_rows.groupby(lkey, dropna=False, as_index=False)["value"].first().rename(
        columns={"value": "task_loss"})
    hard = t[t["metric_kind"] == "hard"].merge(task_loss, on=lkey, how="left")
    key = [k for k in CURVE_KEY if not (pool_families and k == "family")]
    groups = list(hard.groupby(key, dropna=False, sort=True))
    if progress:
        from tqdm.auto import tqdm

        groups = tqdm(groups, desc="backtest", leave=False)
    pcs_cache: dict[str, pd.Series | None] = {}
    preds, errs = [], []
    for k, g in groups:
        kd = dict(zip(key, k))
        name = f"{kd.get('family', 'pooled')}:{kd['task']}{'/' + kd['subtask'] if kd['subtask'] else ''}" \
               f"{'[' + kd['prompt_format'] + ']' if kd['prompt_format'] else ''}:{kd['metric']}"
        gl = g[g["is_last"] & np.isfinite(g["train_flops"]) & (g["train_flops"] > 0)]
        tr, te = gl[~gl["held_out"]], gl[gl["held_out"]]
        if len(tr) < min_train or len(te) == 0 or tr["value"].nunique() < 2:
            continue
        chance = float(g["chance_level"].median()) if g["chance_level"].notna().any() else float("nan")
        x_tr, y_tr = np.log10(tr["train_flops"].to_numpy(float)), tr["value"].to_numpy(float)
        x_te, y_te = np.log10(te["train_flops"].to_numpy(float)), te["value"].to_numpy(float)
        all_tr = g[~g["held_out"]]
        out: dict[str, np.ndarray] = {}
        step1: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # two-step methods: (predicted, measured) loss
        pis: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # methods with a prediction interval: (low, high)
        for m in methods:
            try:
                if m == "compute-sigmoid":
                    out[m] = predict_compute_sigmoid(x_tr, y_tr, x_te, chance)
                elif m == "compute-linear":
                    out[m] = predict_compute_linear(x_tr, y_tr, x_te, chance)
                elif m in ("two-step", "two-step-lm"):
                    col = "task_loss" if m == "two-step" else "lm_loss"
                    L_tr = tr[col].to_numpy(float)
                    link = all_tr[np.isfinite(all_tr[col]) & np.isfinite(all_tr["value"])]
                    if np.isfinite(L_tr).sum() < min_train or len(link) < 4:
                        continue
                    ok = np.isfinite(L_tr)
                    out[m], L_hat = predict_two_step(x_tr[ok], L_tr[ok], x_te, link[col].to_numpy(float),
                                                     link["value"].to_numpy(float), chance)
                    step1[m] = (L_hat, te[col].to_numpy(float))
                elif m in ("two-step-nd", "two-step-nd-lm"):
                    col = "task_loss" if m == "two-step-nd" else "lm_loss"
                    ck = _ladder_checkpoints(all_tr, col)
                    if ck["run"].nunique() < 6:
                        continue
                    tg = pd.DataFrame({"target": te["model"].to_numpy(), "n": _n_params(te), "d": te["tokens"]})
                    if not (np.isfinite(tg["n"]).all() and (tg["d"] > 0).all()):
                        continue
                    yhat, L_hat, lo_, hi_ = predict_two_step_nd(ck, tg, chance, n_boot=ladder_n_boot)
                    if np.isfinite(yhat).any():
                        out[m] = yhat
                        step1[m] = (L_hat, te[col].to_numpy(float))
                        pis[m] = (lo_, hi_)
                elif m == "obs-pc":
                    if "obsscaling" not in set(g["source"]):
                        continue
                    if kd["task"] not in pcs_cache:
                        pcs_cache[kd["task"]] = _obs_pcs(table, kd["task"])
                    pc = pcs_cache[kd["task"]]
                    if pc is None:
                        continue
                    # PCs need no compute, so every model with benchmark scores is usable; the split stays the same
                    ptr = pc.reindex(tr["model"]).to_numpy(float)
                    pte = pc.reindex(te["model"]).to_numpy(float)
                    ok = np.isfinite(ptr)
                    if ok.sum() < min_train:
                        continue
                    out[m] = predict_compute_sigmoid(ptr[ok], y_tr[ok], pte, chance)
            except (InputError, np.linalg.LinAlgError, ValueError):
                continue
        se_te = measurement_se(te)
        for m, yhat in out.items():
            err = np.abs(np.asarray(yhat, float) - y_te)
            scored = np.isfinite(err) & np.isfinite(se_te)
            within = err <= 2 * se_te
            lp, la = step1.get(m, (np.full(len(te), np.nan), np.full(len(te), np.nan)))
            pl, ph = pis.get(m, (np.full(len(te), np.nan), np.full(len(te), np.nan)))
            for mdl, xv, a, p_, e, se_, ok_, w_, lp_, la_, pl_, ph_ in zip(te["model"], te["train_flops"], y_te, yhat,
                                                                          err, se_te, scored, within, lp, la, pl, ph):
                preds.append(dict(curve=name, method=m, model=mdl, train_flops=xv, actual=a, predicted=p_,
                                  abs_error=e, measurement_se=se_, within_2se=bool(w_) if ok_ else None,
                                  predicted_loss=lp_, actual_loss=la_, pi_low=pl_, pi_high=ph_))
            share2 = float(within[scored].mean()) if scored.any() else float("nan")
            lo, hi = bootstrap_mean_ci(err, n_boot=500, random_state=rng)
            errs.append(dict(curve=name, **{kk: kd[kk] for kk in key}, method=m, n_train=len(tr), n_test=len(te),
                             mae=float(np.nanmean(err)) if np.isfinite(err).any() else float("nan"),
                             mae_ci_low=lo, mae_ci_high=hi,
                             max_abs_error=float(np.nanmax(err)) if np.isfinite(err).any() else float("nan"),
                             share_within_2se=share2))
    pred_cols = ["curve", "method", "model", "train_flops", "actual", "predicted", "abs_error", "measurement_se",
                 "within_2se", "predicted_loss", "actual_loss", "pi_low", "pi_high"]
    err_cols = ["curve", *key, "method", "n_train", "n_test", "mae", "mae_ci_low", "mae_ci_high", "max_abs_error",
                "share_within_2se"]
    return BacktestResult(holdout=holdout, predictions=pd.DataFrame(preds, columns=pred_cols),
                          errors=pd.DataFrame(errs, columns=err_cols))
