"""Scaling curves from the canonical table, and the per-curve "emergent?" verdict with its evidence.

A :class:`Curve` is one (source, family, task, subtask, shots, prompt format, metric) measured along an x axis:
across models (``view="scale"``, each model's last checkpoint) or across one model's checkpoints
(``view="checkpoints"``). X axes (research/emergence.md §2.B): ``log10_flops`` (default), ``log10_params``,
``flops`` (linear), ``lm_loss`` (the model's held-out LM loss, Du et al.) and ``task_loss`` (the same task's loss
metric, e.g. bits per byte, Bhagia et al.). Loss axes are negated internally so that "larger x = more scale" holds
for every statistic; figures and reports show the loss itself.

:func:`assess` computes the §3 statistics and the §3.6 trend label, and calls a curve *emergent* only with its
evidence: metric, x variable, number of points, resolution floor (Test C3) and, via
:func:`scalescope.emergence.arguments.metric_choice`, whether a soft metric of the same predictions agrees.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from scalescope.emergence import stats as st
from scalescope.errors import InputError
from scalescope.fit.bootstrap import normal_replicates, order_interval
from scalescope.fit.hinge import bic, linear_sse
from scalescope.results import Result

CURVE_KEY = ["source", "family", "task", "subtask", "n_shots", "prompt_format", "metric"]
X_AXES = ("log10_flops", "log10_params", "flops", "lm_loss", "task_loss")
LM_LOSS_PREFERENCE = ("c4_en", "c4_val", "paloma_c4_en", "openlm", "pile")

# Thresholds of the trend labels (§3.6). Toolkit choices, not paper values.
BIC_MARGIN = 6.0
J_EMERGENT = 0.5
R2_PREDICTABLE = 0.9
ALPHA = 0.05
LABELS = ("unresolved", "breakthrough", "inverse", "non-monotone", "predictable", "trendless", "noisy-monotone")


def label_rule(*, unresolved, hinge_dbic, sigmoid_dbic, J, sharp, rho, p_rho, quad_p, r2, bic_margin=BIC_MARGIN,
               j_emergent=J_EMERGENT, r2_predictable=R2_PREDICTABLE, alpha=ALPHA) -> np.ndarray:
    """The §3.6 trend label as an index into :data:`LABELS`, elementwise over arrays of statistics.

    The one home of the rule: :func:`assess` applies it to one curve, and
    :mod:`scalescope.emergence.error_rates` to thousands of simulated ones. ``hinge_dbic`` is the hinge's BIC gain
    over the line where the hinge kinks upward (``-inf`` otherwise or where no hinge was fitted); NaN statistics
    never satisfy a condition. Order: unresolved, breakthrough, inverse, non-monotone, predictable, trendless,
    noisy-monotone (first that applies).

    Examples
    --------
    >>> LABELS[int(label_rule(unresolved=False, hinge_dbic=9.0, sigmoid_dbic=-np.inf, J=0.8, sharp=False, rho=0.9,
    ...                       p_rho=0.01, quad_p=0.5, r2=0.6))]
    'breakthrough'
    """
    a = {k: np.asarray(v, dtype=float) for k, v in dict(unresolved=unresolved, hinge_dbic=hinge_dbic,
                                                         sigmoid_dbic=sigmoid_dbic, J=J, sharp=sharp, rho=rho,
                                                         p_rho=p_rho, quad_p=quad_p, r2=r2).items()}
    with np.errstate(invalid="ignore"):
        conds = [
            a["unresolved"] > 0,
            ((a["hinge_dbic"] > bic_margin) | (a["sigmoid_dbic"] > bic_margin))
            & ((a["J"] >= j_emergent) | (a["sharp"] > 0)),
            (a["rho"] < 0) & (a["p_rho"] < alpha),
            (a["p_rho"] >= alpha) & (a["quad_p"] < alpha),
            a["r2"] >= r2_predictable,
            a["p_rho"] >= alpha,
        ]
    return np.select(conds, np.arange(len(conds)), default=len(conds))


@dataclass(frozen=True)
class Curve:
    """One scaling curve. ``x`` is the fitting coordinate (increasing = more scale); ``y`` is oriented so higher is
    better (losses negated); ``value`` is the metric as reported."""

    key: dict
    x_axis: str
    x: np.ndarray
    x_raw: np.ndarray
    y: np.ndarray
    value: np.ndarray
    se: np.ndarray
    models: tuple
    steps: np.ndarray
    chance: float
    n_items: float
    metric_kind: str
    view: str = "scale"
    clusters: tuple = ()  # pooled curves: the family of each point (cluster-robust intervals)

    @property
    def name(self) -> str:
        k = self.key
        fmt = f"[{k['prompt_format']}]" if k.get("prompt_format") else ""
        sub = f"/{k['subtask']}" if k.get("subtask") else ""
        return f"{k['family']}:{k['task']}{sub}{fmt}:{k['metric']}"

    @property
    def n(self) -> int:
        return int(self.x.size)


def lm_loss_by_model(table: pd.DataFrame) -> pd.DataFrame:
    """One reference LM loss per (source, family, model, step): the first of :data:`LM_LOSS_PREFERENCE` present."""
    lm = table[table["metric_kind"] == "lm_loss"]
    if lm.empty:
        return pd.DataFrame(columns=["source", "family", "model", "step", "lm_loss"])
    subs = list(dict.fromkeys(lm["subtask"]))
    pick = next((s for p in LM_LOSS_PREFERENCE for s in subs if s.startswith(p)), subs[0])
    r = lm[lm["subtask"] == pick][["source", "family", "model", "step", "value"]].rename(columns={"value": "lm_loss"})
    return r.groupby(["source", "family", "model", "step"], dropna=False, as_index=False)["lm_loss"].mean()


def _last_checkpoint(df: pd.DataFrame) -> pd.DataFrame:
    if df["step"].notna().any():
        s = df["step"].fillna(-1)
        last = s.groupby([df["source"], df["family"], df["model"]]).transform("max")
        df = df[s == last]
    return df


def iter_curves(table: pd.DataFrame, *, x_axis: str = "log10_flops", view: str = "scale", kinds=("hard", "soft", "loss"),
                min_points: int = 3, model: str | None = None, pool: bool = False, by=None) -> Iterator[Curve]:
    """Yield every curve of ``table`` with at least ``min_points`` finite points on ``x_axis``.

    ``view="scale"``: one point per model (its last checkpoint). ``view="checkpoints"``: one point per checkpoint of
    each model (``model`` restricts to one), keyed additionally by model. ``pool=True``: all families on one shared
    axis per curve (family ``"pooled"``; ``Curve.clusters`` holds each point's family, for cluster-robust intervals);
    ``by``: the columns that define a curve (default :data:`CURVE_KEY`, e.g. per difficulty group in ``subtask``).
    ``x_axis="pc1"``: the capability PC1 of the base benchmarks (observational scaling, Ruan et al. 2024) instead
    of compute -- the shared axis across families.
    """
    if x_axis not in (*X_AXES, "pc1"):
        raise InputError(f"x axis {x_axis!r}: expected one of {', '.join(X_AXES)}, pc1")
    t = table[table["metric_kind"].isin(kinds)]
    if model is not None:
        t = t[t["model"] == model]
    if view == "scale":
        t = _last_checkpoint(t)
    if x_axis == "lm_loss":
        t = t.merge(lm_loss_by_model(table), on=["source", "family", "model", "step"], how="left")
    if x_axis == "task_loss":
        loss = table[table["metric_kind"] == "loss"]
        key = ["source", "family", "model", "step", "task", "subtask", "n_shots"]
        loss = loss.groupby(key, dropna=False, as_index=False)["value"].first().rename(columns={"value": "task_loss"})
        t = t[t["metric_kind"] != "loss"].merge(loss, on=key, how="left")
    if x_axis == "pc1":
        from scalescope.emergence.backtest import _obs_pcs

        pc = _obs_pcs(table, exclude_task="")
        if pc is None:
            raise InputError("x axis pc1: no base benchmark scores to compute capability PCs from")
        t = t.assign(pc1=t["model"].map(pc))
    base = list(by) if by is not None else list(CURVE_KEY)
    keys = [c for c in base if not (pool and c == "family")] + (["model"] if view == "checkpoints" else [])
    for k, g in t.groupby(keys, dropna=False, sort=True):
        if x_axis == "pc1":
            xr = g["pc1"].to_numpy(float)
            x = xr.copy()
        elif x_axis == "log10_flops":
            xr = g["train_flops"].to_numpy(float)
            x = np.log10(np.where(xr > 0, xr, np.nan))
        elif x_axis == "log10_params":
            xr = g["params_total"].to_numpy(float)
            x = np.log10(np.where(xr > 0, xr, np.nan))
        elif x_axis == "flops":
            xr = g["train_flops"].to_numpy(float)
            x = xr.copy()
        else:
            xr = g[x_axis].to_numpy(float)
            x = -xr
        v = g["value"].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(v)
        if ok.sum() < min_points:
            continue
        hib = bool(g["higher_is_better"].iloc[0])
        order = np.argsort(x[ok], kind="stable")
        se = g["stderr"].to_numpy(float)[ok][order]
        n_items = float(g["n_items"].median()) if g["n_items"].notna().any() else float("nan")
        chance = float(g["chance_level"].median()) if g["chance_level"].notna().any() else float("nan")
        vv = v[ok][order]
        if not np.isfinite(se).any() and math.isfinite(n_items) and g["metric_kind"].iloc[0] == "hard":
            se = st.binomial_se(vv, n_items)
        key = dict(zip(keys, k))
        for c in CURVE_KEY:
            if c not in key:  # (not setdefault: its default would be computed for every column, ~30 % of the loop)
                key[c] = "pooled" if c == "family" else (g[c].iloc[0] if g[c].nunique(dropna=False) == 1 else "*")
        yield Curve(
            key=key, x_axis=x_axis, x=x[ok][order], x_raw=xr[ok][order], y=vv if hib else -vv,
            value=vv, se=se, models=tuple(g["model"].to_numpy()[ok][order]),
            steps=g["step"].to_numpy(float)[ok][order], chance=chance, n_items=n_items,
            metric_kind=str(g["metric_kind"].iloc[0]), view=view,
            clusters=tuple(g["family"].to_numpy()[ok][order]) if pool else (),
        )


# ------------------------------------------------------------------------------------------------- assessment
@dataclass(frozen=True)
class CurveAssessment(Result):
    """Statistics of one curve, its §3.6 trend label and the evidence behind the "emergent?" verdict."""

    curve: str
    key: dict
    x_axis: str
    n_points: int
    metric_kind: str
    breakthroughness: float
    breakthroughness_ci: tuple
    jump_share: float
    monotonicity: float
    r2_loglinear: float
    spearman_rho: float
    spearman_p: float
    quad_p: float
    hinge: dict
    sigmoid: dict
    floor: dict
    label: str
    emergent: bool
    evidence: str
    x_range: tuple = field(default=(float("nan"), float("nan")))


def _b_bootstrap(y: np.ndarray, se: np.ndarray, n_boot: int, rng) -> tuple[float, float]:
    """Percentile CI of B from a parametric bootstrap of per-point noise (stderr, binomial, or second differences)."""
    if n_boot <= 0 or y.size < 3:
        return (float("nan"), float("nan"))
    s = np.where(np.isfinite(se), se, st.noise_scale(y))
    if not np.all(np.isfinite(s)) or np.all(s == 0):
        return (float("nan"), float("nan"))
    Y = normal_replicates(y, s, n_boot, rng)
    rngs = Y.max(1) - Y.min(1)
    sign = np.sign(Y.argmax(1) - Y.argmin(1))
    den = np.sqrt(np.median(np.diff(Y, axis=1) ** 2, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        B = np.where(den > 0, sign * rngs / den, np.sign(sign * rngs) * np.inf)
    # B may be +-inf in some replicates (flat steps): order statistics handle that without arithmetic
    return order_interval(B, (0.025, 0.975))


def assess(curve: Curve, *, n_boot: int = 200, random_state: int = 0, sigmoid: bool = True,
           bic_margin: float = BIC_MARGIN) -> CurveAssessment:
    """Statistics (§3), trend label (§3.6) and the emergence verdict of one curve.

    Labels: ``unresolved`` (hard metric never clearly above chance: Test C3), ``breakthrough`` (hinge -- with an upward
    kink -- or sigmoid beats the line by BIC > 6, and either one interval carries J >= 0.5 of the whole rise or the sigmoid's
    10-90% width is below the local sampling gap; B is reported but not thresholded because it grows with n), ``inverse`` (significant negative Spearman rho),
    ``non-monotone`` (rho not significant, quadratic term significant), ``predictable`` (R^2 of the line >= 0.9),
    ``trendless`` (neither), else ``noisy-monotone``. ``emergent`` is ``label == "breakthrough"``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalescope.emergence.table import finalize
    >>> x = np.logspace(19, 23, 12); y = np.where(x < 1e22, 0.25, 0.7)
    >>> t = finalize(pd.DataFrame({"model": [f"m{i}" for i in range(12)], "train_flops": x, "task": "t",
    ...     "metric": "acc", "metric_kind": "hard", "value": y, "chance_level": 0.25, "n_items": 1000}))
    >>> a = assess(next(iter_curves(t)), n_boot=50)
    >>> a.label, a.emergent
    ('breakthrough', True)
    """
    rng = np.random.default_rng(random_state)
    x, y = curve.x, curve.y
    n = x.size
    B = st.breakthroughness(y)
    B_ci = _b_bootstrap(y, curve.se, n_boot, rng)
    J = st.jump_share(y)
    mono = st.monotonicity(y)
    r2 = st.r2_loglinear(x, y) if n >= 3 and np.ptp(x) > 0 else float("nan")
    if np.ptp(y) > 0 and np.ptp(x) > 0:
        rho, p_rho = sps.spearmanr(x, y)
        rho, p_rho = float(rho), float(p_rho)
    else:
        rho, p_rho = 0.0, 1.0
    quad_p = _quad_p(x, y)
    hinge: dict = {}
    if n >= 5 and np.unique(x).size >= 5:
        h = st.hinge_fit(x, y, n_boot=n_boot, random_state=random_state)
        hinge = {k: v for k, v in h.to_dict().items()}
        hinge["tau_raw"] = _raw(curve, h.tau)
        hinge["tau_ci_raw"] = [_raw(curve, v) for v in h.tau_ci]
    sig: dict = {}
    if sigmoid and curve.metric_kind == "hard" and math.isfinite(curve.chance) and n >= 4:
        s = st.sigmoid_fit(x, curve.value, floor=curve.chance, ceiling=None)
        sig = s.to_dict()
        sig["x0_raw"] = _raw(curve, s.x0)
        gaps = np.diff(x)
        i = int(np.clip(np.searchsorted(x, s.x0), 1, n - 1)) if n > 1 else 0
        sig["local_gap"] = float(gaps[i - 1]) if gaps.size else float("nan")
        sig["sharper_than_sampling"] = bool(math.isfinite(s.width) and s.width < sig["local_gap"])
        sse_s = float(s.mse) * n
        sse_l = float(linear_sse(x, y[None, :])[0][0]) if np.ptp(x) > 0 else float("nan")
        sig["delta_bic"] = (bic(sse_l, n, 2) - bic(sse_s, n, 3)) if math.isfinite(sse_l) else float("nan")
    floor: dict = {}
    if curve.metric_kind == "hard" and math.isfinite(curve.chance):
        low = curve.value[: max(2, n // 3)]
        fr = st.floor_test(low, curve.chance, curve.n_items if math.isfinite(curve.n_items) else None)
        floor = fr.to_dict()
        # unknown item counts: the noise of the low segment itself (second differences) sets the resolution
        resolution = (fr.min_detectable if math.isfinite(fr.min_detectable)
                      else 2 * st.noise_scale(curve.value[: max(4, n // 3 + 2)]))
        floor["resolution"] = resolution
        floor["max_above_chance"] = float(np.max(curve.value) - curve.chance)
    # ---- label (§3.6)
    evidence = []
    label = LABELS[int(label_rule(
        unresolved=bool(floor) and floor["max_above_chance"] < floor["resolution"],
        hinge_dbic=hinge["delta_bic"] if hinge and hinge["c"] > 0 else -np.inf,
        sigmoid_dbic=sig.get("delta_bic", -np.inf), J=J, sharp=sig.get("sharper_than_sampling", False), rho=rho,
        p_rho=p_rho, quad_p=quad_p, r2=r2, bic_margin=bic_margin)[()])]
    if label == "unresolved":
        evidence.append(f"max {np.max(curve.value):.3f} within resolution {floor['resolution']:.3f} of chance "
                        f"{curve.chance:.3f}")
    elif label == "breakthrough":
        if hinge:
            pv = hinge.get("p_value")  # None without bootstrap replicates (--n-boot 0)
            evidence.append(f"hinge vs line: dBIC {hinge['delta_bic']:.1f}"
                            + (f" (p={pv:.3f})" if pv is not None else " (no bootstrap p-value)")
                            + f", break at {curve.x_axis}={hinge['tau_raw']:.4g}")
        if sig:
            evidence.append(f"sigmoid vs line: dBIC {sig['delta_bic']:.1f}, width {sig['width']:.3g} vs local gap "
                            f"{sig['local_gap']:.3g}")
        evidence.append(f"B={B:.3g}, J={J:.2f}")
    elif label == "inverse":
        evidence.append(f"Spearman rho={rho:.2f} (p={p_rho:.3g})")
    elif label == "non-monotone":
        evidence.append(f"rho={rho:.2f} (p={p_rho:.2g}) not significant, quadratic term p={quad_p:.2g}")
    elif label == "predictable":
        evidence.append(f"R^2 of line on {curve.x_axis} = {r2:.3f}")
    elif label == "trendless":
        evidence.append(f"rho={rho:.2f} (p={p_rho:.2g}), quadratic p={quad_p:.2g}")
    else:
        evidence.append(f"rho={rho:.2f} (p={p_rho:.2g}), R^2={r2:.2f}")
    evidence.append(f"metric={curve.key['metric']} ({curve.metric_kind}), x={curve.x_axis}, n={n}")
    if floor:
        evidence.append(f"floor resolution {floor['resolution']:.3g}")
    return CurveAssessment(
        curve=curve.name, key={k: v for k, v in curve.key.items()}, x_axis=curve.x_axis, n_points=n,
        metric_kind=curve.metric_kind, breakthroughness=B, breakthroughness_ci=B_ci, jump_share=J,
        monotonicity=mono, r2_loglinear=r2, spearman_rho=rho, spearman_p=p_rho, quad_p=quad_p, hinge=hinge,
        sigmoid=sig, floor=floor, label=label, emergent=label == "breakthrough", evidence="; ".join(evidence),
        x_range=(float(np.min(curve.x_raw)), float(np.max(curve.x_raw))),
    )


def _raw(curve: Curve, v: float) -> float:
    """Fitting coordinate -> the axis as reported (FLOPs/params for log axes, the loss for loss axes)."""
    if not math.isfinite(v):
        return float("nan")
    if curve.x_axis in ("log10_flops", "log10_params"):
        return float(10.0**v)
    if curve.x_axis in ("lm_loss", "task_loss"):
        return float(-v)
    return float(v)


def _quad_p(x: np.ndarray, y: np.ndarray) -> float:
    """p-value of the quadratic term in OLS y ~ 1 + x + x^2 (x centred and scaled for conditioning)."""
    n = x.size
    if n < 4 or np.ptp(x) == 0:
        return float("nan")
    z = (x - x.mean()) / x.std()
    X = np.stack([np.ones(n), z, z * z], 1)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    res = y - X @ coef
    dof = n - 3
    s2 = float(res @ res) / dof
    if s2 <= 0:
        return 0.0 if abs(coef[2]) > 0 else 1.0
    cov = s2 * np.linalg.pinv(X.T @ X)
    t = coef[2] / math.sqrt(max(cov[2, 2], 1e-300))
    return float(2 * sps.t.sf(abs(t), dof))


def assess_table(table: pd.DataFrame, *, x_axis: str = "log10_flops", view: str = "scale", n_boot: int = 200,
                 kinds=("hard", "soft", "loss"), min_points: int = 3, progress: bool = False) -> list[CurveAssessment]:
    """:func:`assess` every curve of ``table`` (see :func:`iter_curves`)."""
    curves = list(iter_curves(table, x_axis=x_axis, view=view, kinds=kinds, min_points=min_points))
    if progress:
        from tqdm.auto import tqdm

        curves = tqdm(curves, desc=f"assess ({x_axis})", leave=False)
    return [assess(c, n_boot=n_boot) for c in curves]
