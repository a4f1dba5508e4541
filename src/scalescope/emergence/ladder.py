"""Model-ladder task scaling laws: (N, D) -> task loss -> accuracy (Bhagia, Liu et al. 2024, arXiv:2412.04403).

The paper's method section and Figure 1: step 1 fits the task loss of each ladder run's final checkpoint as
``L(N, D) = A / N^alpha + B / D^beta + E`` (:class:`scalescope.fit.ChinchillaLaw`); step 2 fits accuracy as a sigmoid
of task loss over the ladder's intermediate checkpoints, ``Acc(L) = a / (1 + exp(-k (L - L0))) + b``
(:class:`scalescope.fit.LossSigmoid`); the chained prediction evaluates step 2 at step 1's loss for the target
(N, D). The design-choice ablations it contrasts are here too: the single-step fit ``Acc(N, D)``
(:class:`scalescope.fit.ChinchillaSigmoid`) and step 1 from training FLOPs only. The paper's variance analysis
(relative standard deviation of task loss and accuracy over a ladder run's last checkpoints, which it relates to
prediction error) is :func:`checkpoint_variance`.

Every choice follows the authors' code (allenai/OLMo @ 9bc064c7, branch ``ladder-1xC``; provenance per choice):

- ladder: 190M, 370M, 760M, 1B (upstream "1.3B") x 1, 2, 5, 10 x Chinchilla (``scripts/scaling/final.json``; the 3B
  and 0.5xC runs in the data are not used by the paper);
- N: upstream's ``n`` per size (``FinalConfig.n``, "non-embedding parameter count"; 6 887 575 552 for 7B is OLMo 2
  7B's 7.30B minus its 100 352 x 4096 input embedding), D: ``throughput/total_tokens`` of the last row
  (``utils.get_step1_data_by_name``);
- task loss: bits per byte of the correct continuation in ranked-classification (RC) format, 5-shot
  (``eval/downstream_bpb/<task>_rc_5shot_bpb``); accuracy: ``..._rc_5shot_len_norm`` (``_acc`` for BoolQ);
  MMLU = the 4 test splits weighted 0.215 / 0.335 / 0.219 / 0.231 (``utils.WEIGHT_BY_KEY``); the 8 tasks are
  ``get_task_sets(["v2_main"])``;
- step 1 target: mean of the last 5 checkpoints (``--moving_avg 5``); step 2 points: every checkpoint after the
  first 10 % (``--skip_perc 0.1``) of each ladder run, smoothed by a trailing 5-point moving average
  (``utils.moving_average``), plus the ideal point (0, 1) (``step2.fit_step2``);
- targets: 7B-4T = ``peteish7_eval_anneal`` (N = 6 887 575 552, D = 3 945 065 873 408) and 13B-5T =
  ``peteish13_eval_final`` (N = 13 202 396 160, D = 596 057 x 8 388 608 = 5 000 088 518 656), the values passed to
  ``scripts/scaling/predict.py``; the measured accuracy is the mean of the last 5 rows (upstream moving average);
- variance: 1B-10xC, last 10 checkpoints, population SD and SD / mean (``scripts/scaling/variance_analysis.py``,
  ``final_variance.json``).

Uncertainty: the authors draw a 1.96 x delta-method band for step 2 only; :func:`fit_two_step` reports it
(``step2_se``) and a run-level cluster bootstrap of the whole chain (both steps refitted on resampled ladder runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from scalescope.data.olmo_ladder import MODEL_FLOPS_PER_TOKEN, MODEL_PARAMS
from scalescope.errors import InputError
from scalescope.fit import ChinchillaLaw, ChinchillaSigmoid, LossSigmoid, cluster_bootstrap
from scalescope.fit.results import FitResult
from scalescope.results import Result

#: Paper task set (upstream ``v2_main``): name -> (task keys, weights, display name, chance = upstream task_minimum).
MMLU_TEST = ("mmlu_stem_test", "mmlu_humanities_test", "mmlu_social_sciences_test", "mmlu_other_test")
PAPER_TASKS: dict[str, tuple[tuple[str, ...], tuple[float, ...], str, float]] = {
    "mmlu": (MMLU_TEST, (0.215, 0.335, 0.219, 0.231), "MMLU", 0.25),
    "hellaswag": (("hellaswag_val",), (1.0,), "HellaSwag", 0.25),
    "arc_challenge": (("arc_challenge_test",), (1.0,), "ARC-Challenge", 0.25),
    "arc_easy": (("arc_easy_test",), (1.0,), "ARC-Easy", 0.25),
    "piqa": (("piqa_val",), (1.0,), "PIQA", 0.5),
    "csqa": (("csqa_val",), (1.0,), "CommonsenseQA", 0.2),
    "socialiqa": (("socialiqa_val",), (1.0,), "Social IQa", 1 / 3),
    "openbookqa": (("openbookqa_test",), (1.0,), "OpenBookQA", 0.25),
}
#: Upstream ``FinalConfig.n`` per size and per-token training FLOPs (olmo/scaling/scaling_laws/utils.py; the data
#: layer keeps the one copy). The compute-only ablation multiplies FLOPs per token by D.
LADDER_N = MODEL_PARAMS
LADDER_FLOPS_PER_TOKEN = MODEL_FLOPS_PER_TOKEN


@dataclass(frozen=True)
class LadderTarget:
    """A target run: label, upstream file stem, size key, and the (N, D) passed to upstream predict.py."""

    label: str
    run: str
    size: str
    n: float
    d: float


@dataclass(frozen=True)
class LadderConfig:
    """The paper's configuration (module docstring gives each value's upstream source)."""

    sizes: tuple[str, ...] = ("190M", "370M", "760M", "1B")
    multipliers: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)
    moving_avg: int = 5
    final_window_frac: float | None = None  # None: upstream (last ``moving_avg`` rows, however far apart)
    skip_frac: float = 0.1
    delta: float = 1e-3
    anchor: bool = True
    targets: tuple[LadderTarget, ...] = (
        LadderTarget("7B-4T", "peteish7_eval_anneal", "7B", 6887575552, 3945065873408),
        LadderTarget("13B-5T", "peteish13_eval_final", "13B", 13202396160, 5000088518656),
    )
    variance_run: str = "1B-10xC"
    variance_last_n: int = 10
    n_boot: int = 200
    random_state: int = 0


# ------------------------------------------------------------------------------------------------ data preparation
def _moving_average(v: np.ndarray, n: int) -> np.ndarray:
    """Trailing mean over ``n`` points; the first ``n - 1`` use the points so far (upstream ``moving_average``)."""
    c = np.cumsum(v, dtype=float)
    if len(c) < n:
        return c / np.arange(1, len(c) + 1)
    out = c.copy()
    out[n:] = c[n:] - c[:-n]
    return np.concatenate([c[: n - 1] / np.arange(1, n), out[n - 1 :] / n])


def step1_points(checkpoints: pd.DataFrame, *, moving_avg: int = 5, window_frac: float | None = None) -> pd.DataFrame:
    """One row per run: N, D and FLOPs of the last checkpoint, task loss and accuracy averaged over the last
    ``moving_avg`` checkpoints (upstream ``get_step1_data_by_name``); with ``window_frac`` only those within the last
    ``window_frac`` of the run's tokens (for sparse checkpoints, where the last 5 would reach far back).

    ``checkpoints``: columns ``run, n, d, loss, acc`` (``flops`` optional), rows in training order per run.

    Examples
    --------
    >>> ck = pd.DataFrame({"run": ["r"] * 6, "n": 1e8, "d": np.arange(1, 7) * 1e9, "loss": np.arange(6.0),
    ...                    "acc": 0.5})
    >>> step1_points(ck, moving_avg=5)[["run", "d", "loss"]].to_dict("records")
    [{'run': 'r', 'd': 6000000000.0, 'loss': 3.0}]
    """
    rows = []
    for run, g in checkpoints.groupby("run", sort=False):
        tail = g.iloc[-int(moving_avg):]
        if window_frac is not None:
            tail = tail[tail["d"] >= (1 - window_frac) * float(g["d"].iloc[-1])]
        rows.append({"run": run, "n": float(g["n"].iloc[-1]), "d": float(g["d"].iloc[-1]),
                     "flops": float(g["flops"].iloc[-1]) if "flops" in g else float("nan"),
                     "loss": float(tail["loss"].mean()), "acc": float(tail["acc"].mean())})
    return pd.DataFrame(rows, columns=["run", "n", "d", "flops", "loss", "acc"])


def step2_points(checkpoints: pd.DataFrame, *, skip_frac: float = 0.1, moving_avg: int = 5) -> pd.DataFrame:
    """Per run: drop the first ``ceil(skip_frac * n)`` checkpoints, then a trailing moving average of loss and
    accuracy (upstream ``get_step2_data_by_name``, training runs). A run with one checkpoint keeps it.

    Examples
    --------
    >>> ck = pd.DataFrame({"run": ["r"] * 10, "n": 1e8, "d": np.arange(1, 11) * 1e9, "loss": np.arange(10.0),
    ...                    "acc": 0.5})
    >>> step2_points(ck, skip_frac=0.1, moving_avg=2)["loss"].tolist()
    [1.0, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]
    """
    parts = []
    for run, g in checkpoints.groupby("run", sort=False):
        if len(g) > 1:
            g = g.iloc[int(math.ceil(skip_frac * len(g))):]
        parts.append(pd.DataFrame({"run": run, "d": g["d"].to_numpy(float),
                                   "loss": _moving_average(g["loss"].to_numpy(float), int(moving_avg)),
                                   "acc": _moving_average(g["acc"].to_numpy(float), int(moving_avg))}))
    if not parts:
        return pd.DataFrame(columns=["run", "d", "loss", "acc"])
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------------------------------ fitting
@dataclass(frozen=True)
class TwoStepPrediction(Result):
    """Chained model-ladder prediction for a set of targets.

    Attributes
    ----------
    step1, step2 : FitResult
        ``ChinchillaLaw`` (a, b, alpha, beta, E; ``A = exp(a)``) and ``LossSigmoid`` (a, x0, k, b) fits.
    predictions : DataFrame
        One row per target: ``target, n, d, pred_loss, loss_ci_low, loss_ci_high, pred_acc, acc_ci_low,
        acc_ci_high, step2_se`` (intervals: run-level cluster bootstrap of both steps, 95 %; ``step2_se``: the
        authors' delta-method SE of step 2 at the predicted loss).
    n_runs, n_step2_points : int
    """

    step1: FitResult
    step2: FitResult
    predictions: pd.DataFrame
    n_runs: int
    n_step2_points: int

    def to_frame(self) -> pd.DataFrame:
        return self.predictions

    def loss(self, n, d) -> np.ndarray:
        """Step 1 at (n, d) from the stored parameters."""
        return ChinchillaLaw._model(np.column_stack([np.ravel(n), np.ravel(d)]).astype(float),
                                    self.step1.params.to_numpy())

    def accuracy(self, loss) -> np.ndarray:
        """Step 2 at ``loss`` from the stored parameters."""
        return LossSigmoid._f(np.asarray(loss, float), self.step2.params.to_numpy())


def _fit_steps(s1: pd.DataFrame, s2: pd.DataFrame, chance: float, config: LadderConfig, p1=None, exact=False):
    m1 = ChinchillaLaw(delta=config.delta, p0=p1, exact_upstream=exact).fit(s1[["n", "d"]].to_numpy(float),
                                                                            s1["loss"].to_numpy(float))
    m2 = LossSigmoid(chance=chance, anchor=config.anchor).fit(s2["loss"].to_numpy(float), s2["acc"].to_numpy(float))
    return m1, m2


def fit_two_step(checkpoints: pd.DataFrame, targets: pd.DataFrame, *, chance: float,
                 config: LadderConfig = LadderConfig(), n_boot: int | None = None) -> TwoStepPrediction:
    """Fit both steps on the ladder ``checkpoints`` and predict ``targets`` (columns ``target, n, d``).

    Parameters
    ----------
    checkpoints : DataFrame
        ``run, n, d, loss, acc`` per checkpoint, in training order within each run (the ladder only).
    targets : DataFrame
        ``target, n, d``.
    chance : float
        The task's minimum (start of the step-2 sigmoid).
    n_boot : int, optional
        Bootstrap replicates over ladder runs (default ``config.n_boot``; 0 = no intervals).

    Examples
    --------
    >>> rows = []
    >>> for N in (2e8, 4e8, 8e8, 1.3e9):
    ...     for k in (20, 40, 100, 200):
    ...         for f in np.linspace(0.1, 1, 12):
    ...             L = np.exp(4.0) / N**0.25 + np.exp(5.0) / (f * k * N)**0.25 + 0.5
    ...             rows.append(dict(run=f"{N:.0e}-{k}", n=N, d=f * k * N, loss=L,
    ...                              acc=-0.7 / (1 + np.exp(-5 * (L - 1.2))) + 1.0))
    >>> p = fit_two_step(pd.DataFrame(rows), pd.DataFrame({"target": ["7B"], "n": [7e9], "d": [4e12]}),
    ...                  chance=0.25, n_boot=0)
    >>> L = np.exp(4.0) / 7e9**0.25 + np.exp(5.0) / 4e12**0.25 + 0.5
    >>> bool(abs(p.predictions["pred_acc"].iloc[0] - (-0.7 / (1 + np.exp(-5 * (L - 1.2))) + 1.0)) < 0.01)
    True
    """
    n_boot = config.n_boot if n_boot is None else int(n_boot)
    s1 = step1_points(checkpoints, moving_avg=config.moving_avg, window_frac=config.final_window_frac)
    s2 = step2_points(checkpoints, skip_frac=config.skip_frac, moving_avg=config.moving_avg)
    if len(s1) < 6:
        raise InputError(f"model ladder: step 1 has 5 parameters and needs at least 6 runs, got {len(s1)}")
    m1, m2 = _fit_steps(s1, s2, chance, config)
    TX = targets[["n", "d"]].to_numpy(float)
    L_hat = m1.predict(TX)
    acc = m2.predict(L_hat)
    pred = pd.DataFrame({"target": targets["target"].to_numpy(), "n": TX[:, 0], "d": TX[:, 1], "pred_loss": L_hat,
                         "loss_ci_low": np.nan, "loss_ci_high": np.nan, "pred_acc": acc, "acc_ci_low": np.nan,
                         "acc_ci_high": np.nan, "step2_se": m2.predict_se(L_hat)})
    if n_boot > 0:
        runs = s1["run"].to_numpy()
        p1 = m1.params_
        s2_by_run = {r: g for r, g in s2.groupby("run", sort=False)}

        def stat(sub: pd.DataFrame) -> np.ndarray:
            # ``sub`` repeats the drawn runs' step-1 rows; step 2 takes the same runs' checkpoints
            b2 = pd.concat([s2_by_run[r] for r in sub["run"] if r in s2_by_run], ignore_index=True)
            b1, b2m = _fit_steps(sub, b2, chance, config, p1=p1, exact=True)
            lh = b1.predict(TX)
            return np.r_[lh, b2m.predict(lh)]

        bs = cluster_bootstrap(s1, stat, clusters=runs, n_boot=n_boot, random_state=config.random_state)
        k = len(TX)
        pred["loss_ci_low"], pred["loss_ci_high"] = bs.ci_low[:k], bs.ci_high[:k]
        pred["acc_ci_low"], pred["acc_ci_high"] = bs.ci_low[k:], bs.ci_high[k:]
    return TwoStepPrediction(step1=m1.result_, step2=m2.result_, predictions=pred, n_runs=len(s1),
                             n_step2_points=len(s2))


def fit_single_step(checkpoints: pd.DataFrame, targets: pd.DataFrame, *, chance: float,
                    config: LadderConfig = LadderConfig()) -> tuple[FitResult, np.ndarray]:
    """The paper's single-step ablation: ``Acc(N, D)`` fitted on the runs' final accuracy (mean of the last
    ``moving_avg`` checkpoints; upstream ``single_step.py``). Returns the fit and the targets' predictions."""
    s1 = step1_points(checkpoints, moving_avg=config.moving_avg, window_frac=config.final_window_frac)
    m = ChinchillaSigmoid(chance=chance, delta=config.delta).fit(s1[["n", "d"]].to_numpy(float),
                                                                  s1["acc"].to_numpy(float))
    return m.result_, m.predict(targets[["n", "d"]].to_numpy(float))


def fit_compute_two_step(checkpoints: pd.DataFrame, target_flops, *, chance: float,
                         config: LadderConfig = LadderConfig()) -> tuple[FitResult, np.ndarray, np.ndarray]:
    """The paper's compute-only ablation: step 1 ``L(C) = A / C^alpha + E`` on the runs' final training FLOPs
    (``checkpoints["flops"]``; upstream ``step1_flops.py``), step 2 as :func:`fit_two_step`. Returns the step-1 fit,
    predicted losses and accuracies at ``target_flops``."""
    s1 = step1_points(checkpoints, moving_avg=config.moving_avg, window_frac=config.final_window_frac)
    s2 = step2_points(checkpoints, skip_frac=config.skip_frac, moving_avg=config.moving_avg)
    m1 = ChinchillaLaw(delta=config.delta).fit(s1[["flops"]].to_numpy(float), s1["loss"].to_numpy(float))
    m2 = LossSigmoid(chance=chance, anchor=config.anchor).fit(s2["loss"].to_numpy(float), s2["acc"].to_numpy(float))
    L = m1.predict(np.asarray(target_flops, float)[:, None])
    return m1.result_, L, m2.predict(L)


def checkpoint_variance(checkpoints: pd.DataFrame, *, last_n: int = 10) -> dict[str, float]:
    """Spread of task loss and accuracy over a run's last ``last_n`` checkpoints (paper's variance analysis;
    upstream ``variance_analysis.compute_variance``: population SD and SD / mean of the raw values).

    Examples
    --------
    >>> ck = pd.DataFrame({"loss": [1.0, 1.2, 1.0, 1.2], "acc": [0.5, 0.5, 0.5, 0.5]})
    >>> {k: round(v, 4) for k, v in checkpoint_variance(ck, last_n=4).items()}
    {'loss_sd': 0.1, 'loss_rel_sd': 0.0909, 'acc_sd': 0.0, 'acc_rel_sd': 0.0}
    """
    t = checkpoints.iloc[-int(last_n):]
    lsd, asd = float(np.std(t["loss"])), float(np.std(t["acc"]))
    return {"loss_sd": lsd, "loss_rel_sd": lsd / float(np.mean(t["loss"])), "acc_sd": asd,
            "acc_rel_sd": asd / float(np.mean(t["acc"]))}


# ----------------------------------------------------------------------------------------- the OLMo 2 reproduction
def _task_columns(key: str) -> tuple[str, str]:
    acc = f"eval/downstream/{key}_rc_5shot_{'acc' if key.startswith('boolq') else 'len_norm'}"
    return f"eval/downstream_bpb/{key}_rc_5shot_bpb", acc


def ladder_checkpoints(frame: pd.DataFrame, task: str, runs) -> pd.DataFrame:
    """``run, size, multiplier, n, d, flops, loss, acc`` per checkpoint of ``runs`` (file stems) for ``task`` (a
    :data:`PAPER_TASKS` name or one task key such as ``boolq_val``), from ``scalescope.data.load("olmo-ladder")``.
    Rows missing the task's loss or accuracy are dropped."""
    keys, weights, _, _ = PAPER_TASKS.get(task, ((task,), (1.0,), task, float("nan")))
    cols = [_task_columns(k) for k in keys]
    missing = [c for pair in cols for c in pair if c not in frame.columns]
    if missing:
        raise InputError(f"olmo-ladder: task {task!r}: column {missing[0]!r} is missing")
    w = np.asarray(weights, float)
    out = []
    for run in runs:
        g = frame[frame["run"] == run]
        if g.empty:
            raise InputError(f"olmo-ladder: run {run!r} is not in the data")
        L = np.column_stack([pd.to_numeric(g[c[0]], errors="coerce") for c in cols])
        A = np.column_stack([pd.to_numeric(g[c[1]], errors="coerce") for c in cols])
        if "throughput/total_tokens" in g and g["throughput/total_tokens"].notna().all():
            d = pd.to_numeric(g["throughput/total_tokens"]).to_numpy(float)
        else:
            d = pd.to_numeric(g["_step"]).to_numpy(float) * pd.to_numeric(g["batch_size_in_tokens"]).to_numpy(float)
        size = str(g["size"].iloc[0])
        df = pd.DataFrame({"run": run, "size": size, "multiplier": g["multiplier"].to_numpy(float),
                           "n": float(LADDER_N[size]), "d": d, "flops": d * LADDER_FLOPS_PER_TOKEN[size],
                           "loss": L @ w / w.sum(), "acc": A @ w / w.sum()})
        out.append(df[np.isfinite(df["loss"]) & np.isfinite(df["acc"])])
    return pd.concat(out, ignore_index=True)


def _fmt_mult(m: float) -> str:
    return f"{m:g}xC"


@dataclass(frozen=True)
class LadderResult(Result):
    """The model-ladder reproduction on OLMo 2 (every task x target) and what the figures need.

    Attributes
    ----------
    predictions : DataFrame
        task, display, target, n, d, actual_acc, pred_acc, acc_ci_low, acc_ci_high, abs_error, step2_se,
        actual_loss, pred_loss, loss_ci_low, loss_ci_high, loss_rel_error, step2_only_error (step 2 at the
        measured loss), single_step_acc, single_step_error, compute_acc, compute_error.
    params : DataFrame
        task, step1 (a, b, alpha, beta, E), step2 (a, x0, k, b), single-step and compute-only parameters.
    variance : DataFrame
        task, loss_sd, loss_rel_sd, acc_sd, acc_rel_sd (``config.variance_run``, last checkpoints), mean_abs_error.
    variance_error_spearman : float
        Rank correlation across tasks between accuracy relative SD and the mean absolute error of the two targets.
    ladder_points, step2_data, curves : DataFrame
        Step-1 points per ladder run, step-2 points, and the chained curve per ladder size over D (figures).
    config : LadderConfig
    """

    predictions: pd.DataFrame
    params: pd.DataFrame
    variance: pd.DataFrame
    variance_error_spearman: float
    ladder_points: pd.DataFrame
    step2_data: pd.DataFrame
    curves: pd.DataFrame
    config: LadderConfig = field(default_factory=LadderConfig)

    def to_frame(self) -> pd.DataFrame:
        return self.predictions

    def headline(self, tasks=("mmlu", "hellaswag", "piqa", "socialiqa")) -> pd.DataFrame:
        """Absolute errors on ``tasks`` (default: the four this data puts closest to the paper's <= 2-point claim)."""
        p = self.predictions[self.predictions["task"].isin(tasks)]
        return p.pivot_table(index="task", columns="target", values="abs_error")


def reproduce_olmo_ladder(frame: pd.DataFrame | None = None, *, tasks=tuple(PAPER_TASKS),
                          config: LadderConfig = LadderConfig(), n_boot: int | None = None,
                          progress: bool = False) -> LadderResult:
    """The paper's prediction of OLMo 2 7B-4T and 13B-5T from the ladder, per task, with its ablations.

    Parameters
    ----------
    frame : DataFrame, optional
        ``scalescope.data.load("olmo-ladder")`` (loaded when omitted).
    tasks : names of :data:`PAPER_TASKS` or raw task keys (``boolq_val``...).
    config : LadderConfig
    n_boot : bootstrap replicates over ladder runs for the chained intervals (default ``config.n_boot``).

    Examples
    --------
    >>> r = reproduce_olmo_ladder(tasks=("mmlu",), n_boot=0)  # doctest: +SKIP
    >>> r.predictions[["target", "pred_acc", "actual_acc"]].round(3)  # doctest: +SKIP
    """
    if frame is None:
        from scalescope.data import load

        frame = load("olmo-ladder")
    runs = [f"{s}-{_fmt_mult(m)}" for s in config.sizes for m in config.multipliers]
    targets = pd.DataFrame({"target": [t.label for t in config.targets], "n": [t.n for t in config.targets],
                            "d": [t.d for t in config.targets]})
    tflops = np.array([t.d * LADDER_FLOPS_PER_TOKEN[t.size] for t in config.targets])
    rows, prow, vrows, pts, s2d, curves = [], [], [], [], [], []
    it = list(tasks)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="ladder", leave=False)
    for task in it:
        _, _, display, chance = PAPER_TASKS.get(task, ((task,), (1.0,), task, float("nan")))
        if not math.isfinite(chance):
            from scalescope.emergence.table import _olmo_chance

            chance = _olmo_chance(task)
        ck = ladder_checkpoints(frame, task, runs)
        two = fit_two_step(ck, targets, chance=chance, config=config, n_boot=n_boot)
        ss_fit, ss_acc = fit_single_step(ck, targets, chance=chance, config=config)
        cf_fit, cf_loss, cf_acc = fit_compute_two_step(ck, tflops, chance=chance, config=config)
        for i, t in enumerate(config.targets):
            tck = ladder_checkpoints(frame, task, [t.run]).iloc[-config.moving_avg:]
            actual_acc, actual_loss = float(tck["acc"].mean()), float(tck["loss"].mean())
            p = two.predictions.iloc[i]
            rows.append({"task": task, "display": display, "target": t.label, "n": t.n, "d": t.d,
                         "actual_acc": actual_acc, "pred_acc": p["pred_acc"], "acc_ci_low": p["acc_ci_low"],
                         "acc_ci_high": p["acc_ci_high"], "abs_error": abs(p["pred_acc"] - actual_acc),
                         "step2_se": p["step2_se"], "actual_loss": actual_loss, "pred_loss": p["pred_loss"],
                         "loss_ci_low": p["loss_ci_low"], "loss_ci_high": p["loss_ci_high"],
                         "loss_rel_error": (p["pred_loss"] - actual_loss) / actual_loss,
                         "step2_only_error": abs(float(two.accuracy([actual_loss])[0]) - actual_acc),
                         "single_step_acc": float(ss_acc[i]), "single_step_error": abs(float(ss_acc[i]) - actual_acc),
                         "compute_acc": float(cf_acc[i]), "compute_error": abs(float(cf_acc[i]) - actual_acc)})
        prow.append({"task": task, **{f"step1_{k}": v for k, v in two.step1.params.items()},
                     **{f"step2_{k}": v for k, v in two.step2.params.items()},
                     **{f"single_{k}": v for k, v in ss_fit.params.items()},
                     **{f"compute_{k}": v for k, v in cf_fit.params.items()},
                     "step1_status": two.step1.status, "step2_status": two.step2.status})
        vr = ladder_checkpoints(frame, task, [config.variance_run])
        vrows.append({"task": task, **checkpoint_variance(vr, last_n=config.variance_last_n)})
        s1 = step1_points(ck, moving_avg=config.moving_avg).merge(
            ck.groupby("run", as_index=False)[["size", "multiplier"]].first(), on="run")
        pts.append(s1.assign(task=task))
        s2 = step2_points(ck, skip_frac=config.skip_frac, moving_avg=config.moving_avg)
        s2d.append(s2.assign(task=task))
        dgrid = np.exp(np.linspace(np.log(0.8 * ck["d"].min()), np.log(1.5 * max(targets["d"].max(), 1)), 100))
        for size in [*config.sizes, *[t.size for t in config.targets]]:
            L = two.loss(np.full(dgrid.size, LADDER_N[size]), dgrid)
            curves.append(pd.DataFrame({"task": task, "size": size, "d": dgrid, "loss": L, "acc": two.accuracy(L)}))
    pred = pd.DataFrame(rows)
    var = pd.DataFrame(vrows).merge(pred.groupby("task", as_index=False)["abs_error"].mean().rename(
        columns={"abs_error": "mean_abs_error"}), on="task")
    rho = float(stats.spearmanr(var["acc_rel_sd"], var["mean_abs_error"]).statistic) if len(var) >= 3 else math.nan
    return LadderResult(predictions=pred, params=pd.DataFrame(prow), variance=var, variance_error_spearman=rho,
                        ladder_points=pd.concat(pts, ignore_index=True), step2_data=pd.concat(s2d, ignore_index=True),
                        curves=pd.concat(curves, ignore_index=True), config=config)
