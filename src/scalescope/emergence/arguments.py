"""Tests of each argument of the emergence debate (research/emergence.md §2), one function per argument.

- :func:`metric_choice` -- Test A1: the same predictions scored by hard and soft metrics (Schaeffer et al. 2023);
- :func:`x_axis_choice` -- Tests B1/B2/F1: log vs linear compute, params, LM loss and task loss as x (Du et al. 2024);
- :func:`sampling_density` -- Tests C1/C2: does a jump survive densifying (checkpoints) or subsampling the x axis;
- :func:`u_shape` -- Test D1: U-shaped / inverted-U detection by the two-lines test (Simonsohn 2018), per family or
  pooled across families with family-clustered intervals;
- :func:`cot_vs_direct` -- Test E1/E2: chain-of-thought minus direct exact match vs compute or capability (PC1).

Each returns a frozen results object; the matching figure is in :mod:`scalescope.report.figures.emergence`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.emergence import stats as st
from scalescope.emergence.curves import (
    DEFAULT_THRESHOLDS,
    J_EMERGENT,
    X_AXES,
    Thresholds,
    assess,
    iter_curves,
)
from scalescope.errors import InputError
from scalescope.results import Result

GROUP = ["source", "family", "task", "subtask", "n_shots"]


def _row(a) -> dict:
    return dict(curve=a.curve, **{k: a.key.get(k) for k in ("source", "family", "task", "subtask", "n_shots",
                                                             "prompt_format", "metric")},
                metric_kind=a.metric_kind, x_axis=a.x_axis, n=a.n_points, B=a.breakthroughness,
                B_ci_low=a.breakthroughness_ci[0], B_ci_high=a.breakthroughness_ci[1], J=a.jump_share,
                monotonicity=a.monotonicity, r2_loglinear=a.r2_loglinear,
                delta_bic=a.hinge.get("delta_bic", np.nan), tau=a.hinge.get("tau_raw", np.nan),
                sigmoid_width=a.sigmoid.get("width", np.nan), label=a.label, emergent=a.emergent)


# ------------------------------------------------------------------------------------------------- A1 metric
@dataclass(frozen=True)
class MetricChoiceResult(Result):
    """``stats``: one row per (task, metric) curve; ``verdicts``: per task, ``metric-induced`` when the hard metric is
    emergent and no soft metric / task loss of the same predictions is, ``robust`` when both are, else ``none``."""

    x_axis: str
    stats: pd.DataFrame
    verdicts: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.verdicts


def metric_choice(table: pd.DataFrame, *, x_axis: str = "log10_flops", view: str = "scale", n_boot: int = 100,
                  curves=None, pool: bool = False, by=None,
                  thresholds: Thresholds | str = DEFAULT_THRESHOLDS) -> MetricChoiceResult:
    """Test A1: emergence statistics under hard vs soft metrics of the same predictions, per task.

    ``thresholds``: the label thresholds of every curve (see :func:`~scalescope.emergence.curves.assess`;
    ``"calibrated"`` = per-design, false-positive rate <= 5 %).

    ``pool=True``: each task's hard and soft curves with every family on one axis (family ``"pooled"``); ``by``:
    the columns that define a curve (see :func:`~scalescope.emergence.curves.iter_curves`).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalescope.emergence.table import finalize
    >>> f = np.logspace(19, 23, 10); hard = np.where(f < 1e22, 0.0, 0.6); soft = -np.log10(f)[::-1] / 10
    >>> t = finalize(pd.DataFrame({"model": np.tile([f"m{i}" for i in range(10)], 2), "train_flops": np.tile(f, 2),
    ...     "task": "t", "metric": ["em"] * 10 + ["logp"] * 10, "metric_kind": ["hard"] * 10 + ["soft"] * 10,
    ...     "value": np.r_[hard, np.linspace(-3, -1, 10)], "chance_level": [0.0] * 10 + [np.nan] * 10}))
    >>> metric_choice(t, n_boot=20).verdicts["verdict"].tolist()
    ['metric-induced']
    """
    if curves is None:
        # only tasks scored by a hard AND a soft/loss metric are informative; skip the rest before fitting
        kinds = table.groupby(GROUP, dropna=False)["metric_kind"].agg(lambda k: {"hard"} <= set(k) and
                                                                       bool(set(k) & {"soft", "loss"}))
        keep = kinds[kinds].index
        sub = table.set_index(GROUP).loc[lambda d: d.index.isin(keep)].reset_index() if len(keep) else table.iloc[:0]
        lm = table[table["metric_kind"] == "lm_loss"]
        pcs = None
        if x_axis == "pc1":  # the capability scores come from the base benchmarks, which `sub` may not hold
            from scalescope.emergence.predictors import _obs_pcs

            pcs = _obs_pcs(table, exclude_task="")
        curves = [assess(c, n_boot=n_boot, thresholds=thresholds) for c in
                  iter_curves(pd.concat([sub, lm]) if x_axis == "lm_loss" else sub, x_axis=x_axis, view=view,
                              pool=pool, by=by, pcs=pcs)]
    A = curves
    S = pd.DataFrame([_row(a) for a in A])
    rows = []
    if not S.empty:
        for k, g in S.groupby(GROUP, dropna=False):
            kinds = set(g["metric_kind"])
            if "hard" not in kinds or not (kinds & {"soft", "loss"}):
                continue
            hard = g[g["metric_kind"] == "hard"]
            soft = g[g["metric_kind"] != "hard"]
            he, se = bool(hard["emergent"].any()), bool(soft["emergent"].any())
            verdict = "metric-induced" if he and not se else ("robust" if he and se else
                                                               ("soft-only" if se else "none"))
            rows.append(dict(zip(GROUP, k), hard_metrics=",".join(hard["curve"].str.split(":").str[-1]),
                             hard_emergent=he, soft_emergent=se, B_hard=float(hard["B"].iloc[0]),
                             B_soft=float(soft["B"].iloc[0]), J_hard=float(hard["J"].iloc[0]),
                             J_soft=float(soft["J"].iloc[0]), verdict=verdict))
    return MetricChoiceResult(x_axis=x_axis, stats=S, verdicts=pd.DataFrame(rows))


# ------------------------------------------------------------------------------------------------- B1 x axis
@dataclass(frozen=True)
class XAxisResult(Result):
    """``labels``: curve x axis -> label (wide); ``flips``: curves whose emergent flag changes between log10 FLOPs
    and another axis; ``du``: Test B2, R^2 of accuracy on LM loss alone vs loss + log N + log D per task;
    ``thresholds``: Test F1, the flat-then-rise hinge of accuracy vs LM loss (break = loss threshold eta)."""

    labels: pd.DataFrame
    flips: pd.DataFrame
    du: pd.DataFrame
    thresholds: pd.DataFrame
    axes: tuple


def x_axis_choice(table: pd.DataFrame, *, axes=X_AXES, n_boot: int = 50, kinds=("hard",), pool: bool = False,
                  by=None, thresholds: Thresholds | str = DEFAULT_THRESHOLDS) -> XAxisResult:
    """Tests B1, B2, F1: re-assess every curve with each x axis; Du et al.'s same-loss-same-performance check.

    ``thresholds`` as in :func:`~scalescope.emergence.curves.assess`: with ``"calibrated"`` each axis's curve is
    judged at the thresholds of its own design on that axis (a flip then means the verdict changed at the same
    false-positive rate, not merely that a fixed margin did).

    ``pool=True``: every family on one axis per curve (and the B2/F1 fits over all families' models); ``by``: the
    columns that define a curve (see :func:`~scalescope.emergence.curves.iter_curves`).
    """
    recs = []
    for ax in axes:
        for c in iter_curves(table, x_axis=ax, kinds=kinds, pool=pool, by=by):
            a = assess(c, n_boot=n_boot, sigmoid=ax != "flops", thresholds=thresholds)
            recs.append(dict(curve=a.curve, x_axis=ax, label=a.label, emergent=a.emergent, B=a.breakthroughness))
    R = pd.DataFrame(recs, columns=["curve", "x_axis", "label", "emergent", "B"])
    labels = R.pivot_table(index="curve", columns="x_axis", values="label", aggfunc="first") if len(R) else R
    flips = []
    if len(R) and "log10_flops" in set(R["x_axis"]):
        E = R.pivot_table(index="curve", columns="x_axis", values="emergent", aggfunc="first")
        for ax in E.columns:
            if ax == "log10_flops":
                continue
            d = E[["log10_flops", ax]].dropna()
            for cv, r in d[d["log10_flops"].astype(bool) != d[ax].astype(bool)].iterrows():
                flips.append(dict(curve=cv, axis=ax, emergent_log10_flops=bool(r["log10_flops"]),
                                  emergent_other=bool(r[ax])))
    du, thr = _du_tests(table, pool=pool)
    return XAxisResult(labels=labels.reset_index() if len(R) else labels, flips=pd.DataFrame(flips), du=du,
                       thresholds=thr, axes=tuple(axes))


def _du_tests(table: pd.DataFrame, pool: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    from scalescope.emergence.curves import lm_loss_by_model

    lm = lm_loss_by_model(table)
    if lm.empty:
        return pd.DataFrame(), pd.DataFrame()
    h = table[table["metric_kind"] == "hard"].merge(lm, on=["source", "family", "model", "step"])
    h = h[np.isfinite(h["lm_loss"]) & (h["params_total"] > 0) & (h["tokens"] > 0)]
    du, thr = [], []
    if pool:  # one fit over every family's models (Du et al. pool model families on the LM-loss axis)
        h = h.assign(family="pooled")
    for k, g in h.groupby(["source", "family", "task", "subtask", "n_shots", "prompt_format", "metric"], dropna=False):
        if len(g) < 8 or g["params_total"].nunique() < 2:
            continue
        y = g["value"].to_numpy(float)
        L = g["lm_loss"].to_numpy(float)
        X1 = np.c_[np.ones_like(L), L, L**2]
        X2 = np.c_[X1, np.log(g["params_total"].to_numpy(float)), np.log(g["tokens"].to_numpy(float))]
        sst = float(((y - y.mean()) ** 2).sum())
        if sst == 0:
            continue
        r2 = [1 - float(((y - X @ np.linalg.lstsq(X, y, rcond=None)[0]) ** 2).sum()) / sst for X in (X1, X2)]
        name = f"{k[1]}:{k[2]}{'[' + k[5] + ']' if k[5] else ''}:{k[6]}"
        du.append(dict(curve=name, n=len(g), r2_loss=r2[0], r2_loss_N_D=r2[1], extra_r2=r2[1] - r2[0]))
        chance = float(g["chance_level"].median())
        if math.isfinite(chance) and np.unique(L).size >= 5:
            try:
                # thousands of checkpoints: a fixed random subsample of 400 keeps the bootstrap cheap
                sel = np.random.default_rng(0).choice(L.size, size=min(400, L.size), replace=False)
                hf = st.hinge_fit(-L[sel], y[sel], flat_start=True, n_boot=50)
                thr.append(dict(curve=name, eta=-hf.tau, eta_ci_low=-hf.tau_ci[1], eta_ci_high=-hf.tau_ci[0],
                                flat_level=hf.a, chance=chance, flat_minus_chance=hf.a - chance,
                                slope_after=hf.c, delta_bic_vs_line=hf.delta_bic))
            except InputError:
                pass
    return pd.DataFrame(du), pd.DataFrame(thr)


# -------------------------------------------------------------------------------------------- C1/C2 density
@dataclass(frozen=True)
class DensityResult(Result):
    """``dense_vs_sparse``: per checkpoint curve, J and B on all checkpoints vs on ``n_sparse`` log-spaced ones;
    ``subsample``: per k, the share of random k-point subsamples flagged (J >= 0.5) on the dense curves."""

    dense_vs_sparse: pd.DataFrame
    subsample: pd.DataFrame
    n_sparse: int


def _log_spaced_idx(x: np.ndarray, k: int) -> np.ndarray:
    targets = np.linspace(x.min(), x.max(), k)
    return np.unique([int(np.argmin(np.abs(x - t))) for t in targets])


def sampling_density(table: pd.DataFrame, *, models=None, n_sparse: int = 8, ks=range(4, 13), n_draws: int = 200,
                     random_state: int = 0, kinds=("hard",), max_curves: int = 40) -> DensityResult:
    """Tests C1 (densify with checkpoints) and C2 (subsample: false-positive rate of the J flag on sparse grids)."""
    rng = np.random.default_rng(random_state)
    if models is None:
        cnt = table[table["step"].notna()].groupby("model")["step"].nunique()
        models = list(cnt[cnt >= 2 * n_sparse].index)
    rows, sub = [], []
    curves = [c for m in models for c in iter_curves(table, view="checkpoints", model=m, kinds=kinds)
              if c.n >= 2 * n_sparse][:max_curves]
    for c in curves:
        idx = _log_spaced_idx(c.x, n_sparse)
        y, ys = c.y, c.y[idx]
        rows.append(dict(curve=c.name, model=c.key.get("model"), n_dense=c.n, n_sparse=idx.size,
                         J_dense=st.jump_share(y), J_sparse=st.jump_share(ys), B_dense=st.breakthroughness(y),
                         B_sparse=st.breakthroughness(ys), flag_dense=st.jump_share(y) >= J_EMERGENT,
                         flag_sparse=st.jump_share(ys) >= J_EMERGENT))
        for k in ks:
            if k >= c.n:
                continue
            flags = 0
            for _ in range(n_draws):
                pick = np.sort(rng.choice(c.n, size=k, replace=False))
                flags += st.jump_share(y[pick]) >= J_EMERGENT
            sub.append(dict(curve=c.name, k=k, share_flagged=flags / n_draws))
    S = pd.DataFrame(sub)
    if len(S):
        S = S.groupby("k", as_index=False)["share_flagged"].mean()
    return DensityResult(dense_vs_sparse=pd.DataFrame(rows), subsample=S, n_sparse=n_sparse)


# ------------------------------------------------------------------------------------------------- D1 U-shape
@dataclass(frozen=True)
class UShapeResult(Result):
    """Per curve, the two-lines test (Simonsohn 2018, :mod:`scalescope.emergence.twolines`): ``shape`` (U /
    inverted-U only when both slopes are significant with opposite signs; else convex / concave / linear / flat),
    ``direction``, both slopes with 95 % CIs (``b1_ci_low``...), their z, the ``breakpoint`` (raw axis units where
    the axis is log compute), the critical |z| used (``crit``, raised per design so the simulated false-positive
    rate on monotone curves is <= 5 %), that ``u_fpr`` and the ``u_power`` against U / inverted-U curves of the same
    design with their Monte Carlo SEs (``u_fpr_se``, ``u_power_se``); the quadratic coefficient and vertex as
    described statistics only (``quad``, ``vertex``)."""

    shapes: pd.DataFrame
    pooled: bool = False


def u_shape(table: pd.DataFrame, *, x_axis: str = "log10_flops", view: str = "scale", kinds=("hard", "soft"),
            pool: bool = False, by=None, error_rates: bool = True, **_ignored) -> UShapeResult:
    """Test D1: U / inverted-U by two lines, per family or pooled across families on one axis.

    Parameters
    ----------
    pool : bool
        One curve per ``by`` group with every family on the shared axis (log compute, or ``x_axis="pc1"``),
        standard errors clustered by family (Wu & Lo's argument is about all models per difficulty group).
    by : columns defining a curve (default :data:`~scalescope.emergence.curves.CURVE_KEY`), e.g. per ``subtask``.
    error_rates : attach the simulated FPR and power of the verdict on the curve's design (and use its critical
        value); off: the paper's 1.96 and no rates.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalescope.emergence.table import finalize
    >>> f = np.logspace(19, 23, 8); brier = [0.961, 0.955, 0.951, 0.949, 0.948, 0.92, 0.881, 0.807]
    >>> t = finalize(pd.DataFrame({"model": [f"m{i}" for i in range(8)], "train_flops": f, "task": "t",
    ...     "metric": "brier", "metric_kind": "soft", "value": brier, "higher_is_better": False}))
    >>> u_shape(t).shapes["shape"].tolist()
    ['convex']
    """
    from scalescope.emergence.error_rates import design_for, merge_designs, verdict_rates
    from scalescope.emergence.twolines import Z_CRIT, two_lines_rows

    curves = [c for c in iter_curves(table, x_axis=x_axis, view=view, kinds=kinds, min_points=5, pool=pool, by=by)
              if np.ptp(c.y) > 0 and np.unique(c.x).size >= 3]
    designs = [design_for(c) for c in curves] if error_rates else [None] * len(curves)
    shared = merge_designs(designs) if error_rates else {}
    rates = []
    for design in designs:
        crit, fpr, power, fpr_se, power_se = Z_CRIT, float("nan"), float("nan"), float("nan"), float("nan")
        if error_rates:
            vr = verdict_rates(shared[design], families=("two-lines",))
            crit = vr.crit
            u, iu = vr.get("two-lines", "U"), vr.get("two-lines", "inverted-U")
            worst = u if not iu["fpr"] > u["fpr"] else iu
            fpr, fpr_se = worst["fpr"], worst["fpr_se"]  # Monte Carlo SEs of the simulated rates
            power = float(np.nanmean([u["power"], iu["power"]]))
            power_se = float(np.sqrt(np.nansum([u["power_se"] ** 2, iu["power_se"] ** 2]))
                             / max(1, np.isfinite([u["power"], iu["power"]]).sum()))
        rates.append((crit, fpr, fpr_se, power, power_se))
    # curves measured on the same models (same x, same families) are tested in one batch
    batches: dict = {}
    for i, c in enumerate(curves):
        batches.setdefault((c.x.tobytes(), c.clusters), []).append(i)
    results: dict = {}
    for idx in batches.values():
        c0 = curves[idx[0]]
        res = two_lines_rows(c0.x, np.stack([curves[i].y for i in idx]), groups=c0.clusters or None,
                             crit=np.array([rates[i][0] for i in idx]))
        results.update(zip(idx, res))
    rows = []
    for i, c in enumerate(curves):
        r, (crit, fpr, fpr_se, power, power_se) = results[i], rates[i]
        rows.append(dict(curve=c.name, **{k: c.key.get(k) for k in ("family", "task", "subtask", "metric")},
                         x_axis=c.x_axis, n=c.n, n_clusters=r.n_clusters, shape=r.shape, direction=r.direction,
                         b1=r.b1, b1_ci_low=r.b1_ci[0], b1_ci_high=r.b1_ci[1], z1=r.z1,
                         b2=r.b2, b2_ci_low=r.b2_ci[0], b2_ci_high=r.b2_ci[1], z2=r.z2,
                         breakpoint=r.breakpoint, breakpoint_raw=_raw_x(c, r.breakpoint), crit=crit,
                         u_fpr=fpr, u_fpr_se=fpr_se, u_power=power, u_power_se=power_se, cov_type=r.cov_type,
                         quad=r.quad, vertex=r.vertex))
    return UShapeResult(shapes=pd.DataFrame(rows), pooled=pool)


def _raw_x(curve, v: float) -> float:
    from scalescope.emergence.curves import _raw

    return _raw(curve, v)


# ----------------------------------------------------------------------------------------------- E1/E2 CoT
@dataclass(frozen=True)
class CoTResult(Result):
    """Per BBH task (and GSM8K): hinge fit of ``delta = EM_cot - EM_direct`` vs x, where the fitted delta crosses 0,
    the mean delta below the break (negative = CoT hurts small models). ``points``: per model deltas."""

    x_axis: str
    metric: str
    crossings: pd.DataFrame
    points: pd.DataFrame


def cot_vs_direct(table: pd.DataFrame, *, x_axis: str = "log10_flops", metric: str = "exact_match_flexible",
                  n_boot: int = 100, pool: bool = True) -> CoTResult:
    """Tests E1 (x = log10 FLOPs) and E2 (``x_axis="pc1"``: capability PC1 of the base benchmarks).

    ``pool=True`` (default): one fit per task over every family's models on the shared axis; ``False``: one per
    (family, task) -- ``crossings`` then has a ``family`` column.
    """
    t = table[(table["metric"] == metric) & table["prompt_format"].isin(["cot", "generate"])]
    t = t[t["task"].str.startswith("bbh_") | (t["task"] == "gsm8k")]
    t = t[t["subtask"] != "zeroshot"]
    if t.empty:
        raise InputError(f"cot_vs_direct: no BBH/GSM8K rows with metric {metric!r} in both formats")
    W = t.pivot_table(index=["model", "task"], columns="prompt_format", values="value", aggfunc="mean").dropna()
    if not {"cot", "generate"} <= set(W.columns):
        raise InputError("cot_vs_direct: needs both chain-of-thought and direct rows")
    W = W.reset_index()
    W["family"] = W["model"].map(table.groupby("model")["family"].first()) if not pool else "pooled"
    W["delta"] = W["cot"] - W["generate"]
    if x_axis == "pc1":
        from scalescope.emergence.backtest import _obs_pcs

        pc = _obs_pcs(table, exclude_task="")
        if pc is None:
            raise InputError("cot_vs_direct: no base benchmark scores for capability PCs")
        W["x"] = W["model"].map(pc)
    else:
        fl = table.groupby("model")["train_flops"].first()
        W["x"] = np.log10(W["model"].map(fl))
    W = W[np.isfinite(W["x"])]
    rows = []
    for (family, task), g in W.groupby(["family", "task"]):
        if len(g) < 8:
            continue
        try:
            h = st.hinge_fit(g["x"], g["delta"], n_boot=n_boot)
        except InputError:
            continue
        xs = np.linspace(g["x"].min(), g["x"].max(), 400)
        fitted = h.a + h.b * xs + h.c * np.maximum(0, xs - h.tau)
        sgn = np.sign(fitted)
        cross = xs[np.flatnonzero(np.diff(sgn) > 0)]
        below = g[g["x"] <= h.tau]["delta"]
        rows.append(dict(**({} if pool else {"family": family}), task=task, n=len(g), tau=h.tau, tau_ci_low=h.tau_ci[0], tau_ci_high=h.tau_ci[1],
                         crossing=float(cross[0]) if cross.size else np.nan, slope_before=h.slope_before,
                         slope_after=h.slope_after, delta_bic=h.delta_bic,
                         mean_delta_below=float(below.mean()) if len(below) else np.nan,
                         mean_delta_above=float(g[g["x"] > h.tau]["delta"].mean()),
                         cot_hurts_small=bool(len(below) and below.mean() < 0)))
    return CoTResult(x_axis=x_axis, metric=metric, crossings=pd.DataFrame(rows), points=W)
