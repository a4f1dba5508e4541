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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.emergence import stats as st
from scalescope.emergence.curves import CURVE_KEY, lm_loss_by_model
from scalescope.emergence.ladder import LadderConfig, fit_two_step
from scalescope.errors import InputError
from scalescope.fit import PCA, LinearFit, OffsetPowerLaw, PCAImputer, bootstrap_mean_ci
from scalescope.results import Result

METHODS = ("compute-sigmoid", "compute-linear", "two-step", "two-step-nd", "two-step-lm", "two-step-nd-lm",
           "obs-pc")
# Replicates of the chained-prediction bootstrap per curve. Off by default in the leaderboard: each replicate refits
# step 1 to machine precision (its objective is flat; looser tolerances stop near the warm start and make the
# intervals falsely narrow), ~0.15 s per replicate per curve, i.e. minutes on olmo-ladder. The paper-setup
# reproduction (ladder.csv) always carries intervals; ``emergence backtest --ladder-boot N`` adds them per curve.
LADDER_N_BOOT = 0
MIN_TRAIN = 3


# ---------------------------------------------------------------------------------------------------- holdout
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


# ---------------------------------------------------------------------------------------------------- fitters
def _power_law_offset(x_log10: np.ndarray, L: np.ndarray):
    """Compute-only step 1, ``L = E + A * 10^(-alpha (x - x_ref))`` (:class:`scalescope.fit.OffsetPowerLaw`), as a
    predictor; raises InputError when every optimiser start fails."""
    return OffsetPowerLaw().fit(x_log10, L).predict


def _nd_identified(N, D, L) -> bool:
    """Whether ``L(N, D)`` is identified: 6+ points and log N, log D not (nearly) collinear."""
    n, d = np.log(np.asarray(N, float)), np.log(np.asarray(D, float))
    return len(L) >= 6 and np.ptp(n) > 0 and np.ptp(d) > 0 and abs(np.corrcoef(n, d)[0, 1]) <= 0.98


def _power_law_nd(N: np.ndarray, D: np.ndarray, L: np.ndarray):
    """Bhagia et al. step 1 (:class:`scalescope.fit.ChinchillaLaw`, the authors' Huber-on-log fit) as a predictor
    ``f(N, D)``, or None where N and D do not vary independently (the two terms are not identified) or the fit
    fails."""
    from scalescope.fit import ChinchillaLaw

    if not _nd_identified(N, D, L):
        return None
    try:
        m = ChinchillaLaw().fit(np.column_stack([N, D]), L)
    except InputError:
        return None
    return lambda N_, D_: m.predict(np.column_stack([np.ravel(N_), np.ravel(D_)]))


#: The model-ladder configuration used on canonical tables: the paper's, except that the final-checkpoint average
#: is restricted to checkpoints within the last 20 % of tokens (tables with sparse checkpoints).
BACKTEST_LADDER = LadderConfig(n_boot=LADDER_N_BOOT, final_window_frac=0.2)


def predict_two_step_nd(ck: pd.DataFrame, targets: pd.DataFrame, chance: float, n_boot: int = LADDER_N_BOOT):
    """Bhagia et al. on a curve: ``ck`` = training checkpoints (run, n, d, loss, acc; training order), ``targets``
    = (target, n, d). Returns (predicted accuracy, predicted loss, interval low, interval high), NaN where step 1
    is not identified."""
    nan = np.full(len(targets), np.nan)
    fin = ck.groupby("run", sort=False).tail(1)
    if not _nd_identified(fin["n"], fin["d"], fin["loss"]):
        return nan, nan, nan, nan
    p = fit_two_step(ck, targets, chance=_floor(chance) if math.isfinite(chance) else 0.0,
                     config=BACKTEST_LADDER, n_boot=n_boot).predictions
    return (p["pred_acc"].to_numpy(), p["pred_loss"].to_numpy(), p["acc_ci_low"].to_numpy(),
            p["acc_ci_high"].to_numpy())


def _floor(chance: float) -> float:
    return chance if math.isfinite(chance) else 0.0


def predict_compute_sigmoid(x_tr, y_tr, x_te, chance):
    s = st.sigmoid_fit(x_tr, y_tr, floor=_floor(chance), ceiling=None)
    return s.predict(x_te) if math.isfinite(s.x0) else np.full(len(x_te), np.nan)


def predict_compute_linear(x_tr, y_tr, x_te, chance):
    m = LinearFit().fit(np.asarray(x_tr, float)[:, None], np.asarray(y_tr, float))
    return np.clip(m.predict(np.asarray(x_te, float)[:, None]), 0.0, 1.0)


def _step2(L_hat, L_link, y_link, chance):
    """Two-step methods' step 2: the model-ladder sigmoid of accuracy in task loss (:class:`scalescope.fit.LossSigmoid`,
    the authors' bounds, start and ideal point) fitted on every checkpoint of the training models (``L_link``,
    ``y_link``), evaluated at the predicted losses; NaN where the fit fails."""
    from scalescope.fit import LossSigmoid

    try:
        m = LossSigmoid(chance=_floor(chance)).fit(L_link, y_link)
    except InputError:
        return np.full(len(L_hat), np.nan)
    return m.predict(np.asarray(L_hat, float))


def predict_two_step(x_tr, L_tr, x_te, L_link, y_link, chance):
    """Step 1 on (x_tr, L_tr) -- one point per training model; step 2 on (L_link, y_link) -- every checkpoint."""
    L_hat = _power_law_offset(np.asarray(x_tr), np.asarray(L_tr))(np.asarray(x_te))
    return _step2(L_hat, L_link, y_link, chance), L_hat


# ---------------------------------------------------------------------------------------------------- results
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


def _obs_pcs(table: pd.DataFrame, exclude_task: str) -> pd.Series | None:
    """PC1 of the obsscaling base benchmarks per model (the target benchmark excluded), or None."""
    base = table[(table["source"] == "obsscaling") & (table["metric"] == "score") & (table["task"] != exclude_task)]
    if base.empty:
        return None
    W = base.pivot_table(index="model", columns="task", values="value", aggfunc="mean")
    W = W.loc[:, W.notna().mean() > 0.7]
    W = W[W.notna().sum(1) >= max(2, W.shape[1] // 2)]
    if W.shape[0] < 5 or W.shape[1] < 2:
        return None
    Xf = np.asarray(PCAImputer(n_components=1).fit_transform(W.to_numpy(float)), dtype=float)
    pc = np.asarray(PCA(n_components=1, standardize=True).fit_transform(Xf), dtype=float)[:, 0]
    # orient: higher PC1 = more capable (positive correlation with the mean score)
    if np.corrcoef(pc, np.nanmean(W.to_numpy(float), 1))[0, 1] < 0:
        pc = -pc
    return pd.Series(pc, index=W.index)


def _n_params(rows: pd.DataFrame) -> np.ndarray:
    """N for the (N, D) law: non-embedding parameters where the table has them (Bhagia et al. and Kaplan et al. use
    them), else ``params_total`` (for olmo-ladder these are upstream's N, which already exclude the input
    embedding; see :mod:`scalescope.emergence.ladder`)."""
    ne = rows["params_nonembed"].to_numpy(float) if "params_nonembed" in rows else np.full(len(rows), np.nan)
    return np.where(np.isfinite(ne) & (ne > 0), ne, rows["params_total"].to_numpy(float))


def _ladder_checkpoints(rows: pd.DataFrame, col: str) -> pd.DataFrame:
    """Training models' checkpoints as the model-ladder functions want them: run, n, d, loss, acc in step order."""
    r = rows[np.isfinite(rows[col]) & np.isfinite(rows["value"]) & (rows["tokens"] > 0)]
    r = r.assign(_n=_n_params(r)).sort_values(["model", "step"], kind="stable")
    r = r[np.isfinite(r["_n"]) & (r["_n"] > 0)]
    return pd.DataFrame({"run": r["model"].to_numpy(), "n": r["_n"].to_numpy(float),
                         "d": r["tokens"].to_numpy(float), "loss": r[col].to_numpy(float),
                         "acc": r["value"].to_numpy(float)})


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


def leaderboard(result: BacktestResult, *, n_boot: int = 1000, random_state: int = 0) -> pd.DataFrame:
    """Per method: curves scored, mean MAE with a bootstrap CI over curves, median MAE, wins on the curves that
    every listed method scored (ties split), and the share of held-out predictions within 2 measurement SEs
    (NaN where the data carry no SE)."""
    e = result.errors.dropna(subset=["mae"])
    if e.empty:
        return pd.DataFrame(columns=["method", "n_curves", "mean_mae", "ci_low", "ci_high", "median_mae", "wins",
                                     "n_common", "share_within_2se"])
    rng = np.random.default_rng(random_state)
    W = e.pivot_table(index="curve", columns="method", values="mae", aggfunc="mean")
    common = W.dropna()
    wins = pd.Series(0.0, index=W.columns)
    if len(common):
        best = common.eq(common.min(axis=1), axis=0)
        wins = best.div(best.sum(axis=1), axis=0).sum()
    rows = []
    for m, g in e.groupby("method"):
        v = g["mae"].to_numpy(float)
        lo, hi = bootstrap_mean_ci(v, n_boot=n_boot, random_state=rng)
        pr = result.predictions[result.predictions["method"] == m]["within_2se"].dropna()
        rows.append(dict(method=m, n_curves=int(v.size), mean_mae=float(v.mean()),
                         ci_low=lo, ci_high=hi,
                         median_mae=float(np.median(v)), wins=float(wins.get(m, 0.0)),
                         n_common=int(len(common)),
                         share_within_2se=float(pr.astype(bool).mean()) if len(pr) else float("nan")))
    return pd.DataFrame(rows).sort_values("mean_mae", ignore_index=True)


# -------------------------------------------------------------------------------------------- the named case
@dataclass(frozen=True)
class MCJumpCase(Result):
    """OLMo 2 7B MMLU (mean of the 4 validation splits) across checkpoints: MC-letter vs cloze accuracy vs bpb.

    ``anchors``: the spec §4.5 rows; ``jump``: the largest single-interval MC increase and the cloze/bpb change
    over the same interval relative to their typical |change|; ``backtest``: each series predicted at the final
    checkpoint from checkpoints up to ``fit_until_step`` (compute-sigmoid; two-step through bpb).
    """

    series: pd.DataFrame
    anchors: pd.DataFrame
    jump: dict
    backtest: pd.DataFrame
    fit_until_step: int


def olmo_mmlu_mc_case(table: pd.DataFrame, *, model: str = "OLMo-2-7B", fit_until_step: int = 55000) -> MCJumpCase:
    """The named emergence case of spec §0.3 / §4.5 from the olmo-ladder canonical table."""
    t = table[(table["model"] == model) & table["task"].str.match(r"^mmlu_.*_val$")]
    if t.empty:
        raise InputError(f"olmo_mmlu_mc_case: no MMLU validation rows for model {model!r}")
    sel = {"mc_acc": (t["metric"] == "acc") & (t["prompt_format"] == "mc"),
           "cloze_acc": (t["metric"] == "acc") & (t["prompt_format"] == "cloze"),
           "bpb": t["metric"] == "bpb"}
    cols = {}
    for name, m in sel.items():
        g = t[m].groupby("step")
        # mean of the 4 splits, only at steps where all 4 are present
        cols[name] = g["value"].mean().where(g["value"].count() == 4)
    S = pd.DataFrame(cols).dropna().reset_index()
    fl = t.groupby("step")["train_flops"].first()
    S["train_flops"] = S["step"].map(fl)
    anchors = S[S["step"].isin([0, 50000, 55000, 60000, 65000, S["step"].max()])].reset_index(drop=True)
    d = S[["mc_acc", "cloze_acc", "bpb"]].diff().iloc[1:]
    i = int(d["mc_acc"].to_numpy().argmax()) + 1
    typical = d.abs().median()
    jump = {
        "from_step": int(S["step"].iloc[i - 1]), "to_step": int(S["step"].iloc[i]),
        "mc_change": float(d["mc_acc"].iloc[i - 1]), "cloze_change": float(d["cloze_acc"].iloc[i - 1]),
        "bpb_change": float(d["bpb"].iloc[i - 1]),
        "mc_change_over_typical": float(abs(d["mc_acc"].iloc[i - 1]) / typical["mc_acc"]),
        "cloze_change_over_typical": float(abs(d["cloze_acc"].iloc[i - 1]) / typical["cloze_acc"]),
        "bpb_change_over_typical": float(abs(d["bpb"].iloc[i - 1]) / typical["bpb"]),
    }
    pre = S[(S["step"] <= fit_until_step) & (S["train_flops"] > 0)]
    fin = S.iloc[[-1]]
    x_tr, x_te = np.log10(pre["train_flops"].to_numpy(float)), np.log10(fin["train_flops"].to_numpy(float))
    rows = []
    for series in ("mc_acc", "cloze_acc"):
        y = pre[series].to_numpy(float)
        p1 = predict_compute_sigmoid(x_tr, y, x_te, 0.25)[0]
        p2, _ = predict_two_step(x_tr, pre["bpb"].to_numpy(float), x_te, pre["bpb"].to_numpy(float), y, 0.25)
        for m, p in (("compute-sigmoid", p1), ("two-step", float(p2[0]))):
            a = float(fin[series].iloc[0])
            rows.append(dict(series=series, method=m, actual=a, predicted=float(p), abs_error=abs(float(p) - a)))
    return MCJumpCase(series=S, anchors=anchors, jump=jump, backtest=pd.DataFrame(rows), fit_until_step=fit_until_step)
