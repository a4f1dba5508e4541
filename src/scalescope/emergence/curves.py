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
from scalescope.emergence.twolines import Z_CRIT, testable, two_lines_batch, u_stat
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


@dataclass(frozen=True)
class Thresholds(Result):
    """The thresholds of the §3.6 trend labels, one per claim the labels make.

    ``bic_margin``: ``breakthrough`` needs the hinge (upward kink) or the sigmoid to beat the line by this BIC
    margin; ``crit``: ``non-monotone`` needs both slopes of the two-lines test (Simonsohn 2018) beyond this |z| with
    opposite signs; ``alpha_inverse``: ``inverse`` needs a negative Spearman rho with p below it; ``r2_predictable``:
    ``predictable`` needs the line's R^2 at least this; ``alpha``: a monotone trend (``noisy-monotone``) needs Spearman
    p below it, otherwise the curve is ``trendless``.

    :data:`DEFAULT_THRESHOLDS` are the conventional values (BIC 6, |z| 1.96, alpha 0.05, R^2 0.9): toolkit choices
    whose false-positive rates on 5-12 point curves reach 20-98 % (:mod:`scalescope.emergence.error_rates`).
    ``Thresholds.calibrated(curve)`` (what ``emergence analyze`` uses) raises each one, per sampling design, until
    the claim's simulated false-positive rate is <= 5 %; ``inf`` (or ``alpha = 0``) means no threshold on the grid
    gets there and the claim is never made on that design.
    """

    bic_margin: float = BIC_MARGIN
    crit: float = Z_CRIT
    alpha_inverse: float = ALPHA
    r2_predictable: float = R2_PREDICTABLE
    alpha: float = ALPHA

    @staticmethod
    def calibrated(curve: Curve, random_state: int = 0) -> Thresholds:
        """The per-design thresholds that keep every claim's simulated false-positive rate <= 5 % on ``curve``'s
        sampling design (cached per design; see :func:`scalescope.emergence.error_rates.verdict_rates`)."""
        from scalescope.emergence.error_rates import design_for, verdict_rates

        return verdict_rates(design_for(curve), random_state).thresholds


DEFAULT_THRESHOLDS = Thresholds()
# the label cascade: the first condition that holds names the curve (else noisy-monotone)
CASCADE = ("unresolved", "non-monotone", "breakthrough", "inverse", "predictable", "trendless")
#: labels that claim something (their false-positive rate is controlled); the other two say "no evidence"
CLAIMS = ("breakthrough", "non-monotone", "inverse", "predictable", "noisy-monotone")


def label_rule(*, unresolved, hinge_dbic, sigmoid_dbic, J, sharp, rho, p_rho, r2, u_stat=np.nan,
               thresholds: Thresholds = DEFAULT_THRESHOLDS, j_emergent=J_EMERGENT) -> np.ndarray:
    """The §3.6 trend label as an index into :data:`LABELS`, elementwise over arrays of statistics.

    The one home of the rule: :func:`assess` applies it to one curve, and
    :mod:`scalescope.emergence.error_rates` to thousands of simulated ones. ``hinge_dbic`` is the hinge's BIC gain
    over the line where the hinge kinks upward (``-inf`` otherwise or where no hinge was fitted); ``u_stat`` the
    two-lines statistic (the smaller |z| of two opposite-signed slopes, 0 if they share a sign, NaN where the test
    cannot run); NaN statistics never satisfy a condition. Order (:data:`CASCADE`, first that applies):
    unresolved, non-monotone (two-lines U or inverted U), breakthrough, inverse, predictable, trendless, else
    noisy-monotone. The quadratic term is not part of the rule: curvature is not a U. Non-monotone comes before
    breakthrough because a U is fitted well by a hinge with an upward kink too (a fall, then a rise), and where
    the sampling leaves a wide gap one interval can carry half the rise: on such designs (e.g. the OLMo ladder's
    27 checkpoints, the last two far apart) 18-20 % of simulated U curves passed the breakthrough rule at any BIC
    margin; a breakthrough is flat, then rising, which the two-lines test does not call a U.

    Examples
    --------
    >>> LABELS[int(label_rule(unresolved=False, hinge_dbic=9.0, sigmoid_dbic=-np.inf, J=0.8, sharp=False, rho=0.9,
    ...                       p_rho=0.01, r2=0.6))]
    'breakthrough'
    >>> LABELS[int(label_rule(unresolved=False, hinge_dbic=9.0, sigmoid_dbic=-np.inf, J=0.8, sharp=False, rho=0.9,
    ...                       p_rho=0.01, r2=0.6, thresholds=Thresholds(bic_margin=20.0)))]
    'noisy-monotone'
    """
    a = {k: np.asarray(v, dtype=float) for k, v in dict(unresolved=unresolved, hinge_dbic=hinge_dbic,
                                                         sigmoid_dbic=sigmoid_dbic, J=J, sharp=sharp, rho=rho,
                                                         p_rho=p_rho, r2=r2, u_stat=u_stat).items()}
    t = thresholds
    with np.errstate(invalid="ignore"):
        conds = [
            a["unresolved"] > 0,
            a["u_stat"] > t.crit,
            ((a["hinge_dbic"] > t.bic_margin) | (a["sigmoid_dbic"] > t.bic_margin))
            & ((a["J"] >= j_emergent) | (a["sharp"] > 0)),
            (a["rho"] < 0) & (a["p_rho"] < t.alpha_inverse),
            a["r2"] >= t.r2_predictable,
            a["p_rho"] >= t.alpha,
        ]
    return np.select(conds, [LABELS.index(c) for c in CASCADE], default=LABELS.index("noisy-monotone"))


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
    tag: str = ""  # what tells this curve from another of the same family/task/metric (e.g. "@5-shot"), else ""

    @property
    def name(self) -> str:
        k = self.key
        fmt = f"[{k['prompt_format']}]" if k.get("prompt_format") else ""
        sub = f"/{k['subtask']}" if k.get("subtask") else ""
        return f"{k['family']}:{k['task']}{sub}{fmt}{self.tag}:{k['metric']}"

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
                min_points: int = 3, model: str | None = None, pool: bool = False, by=None,
                pcs: pd.Series | None = None) -> Iterator[Curve]:
    """Yield every curve of ``table`` with at least ``min_points`` finite points on ``x_axis``.

    ``view="scale"``: one point per model (its last checkpoint). ``view="checkpoints"``: one point per checkpoint of
    each model (``model`` restricts to one), keyed additionally by model. ``pool=True``: all families on one shared
    axis per curve (family ``"pooled"``; ``Curve.clusters`` holds each point's family, for cluster-robust intervals);
    ``by``: the columns that define a curve (default :data:`CURVE_KEY`, e.g. per difficulty group in ``subtask``).
    ``x_axis="pc1"``: the capability PC1 of the base benchmarks (observational scaling, Ruan et al. 2024) instead
    of compute -- the shared axis across families (``pcs``: those scores per model when ``table`` is a subset
    without the base benchmarks).
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

        pc = pcs if pcs is not None else _obs_pcs(table, exclude_task="")
        if pc is None:
            raise InputError("x axis pc1: no base benchmark scores to compute capability PCs from")
        t = t.assign(pc1=t["model"].map(pc))
    base = list(by) if by is not None else list(CURVE_KEY)
    keys = [c for c in base if not (pool and c == "family")] + (["model"] if view == "checkpoints" else [])
    groups = list(t.groupby(keys, dropna=False, sort=True))
    tags = _name_tags([dict(zip(keys, k)) for k, _ in groups])
    for (k, g), tag in zip(groups, tags):
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
            tag=tag,
        )


def _name_tags(keys: list[dict]) -> list[str]:
    """A suffix for each curve key whose plain name (family, task, subtask, format, metric) another key shares:
    ``@<n>-shot`` where the shots differ, then ``@<source>``, then ``@<model>`` -- so names stay unique (they key
    summary.json) and the common case, one curve per name, keeps its plain name."""
    def base(k):
        return tuple(str(k.get(c)) for c in ("family", "task", "subtask", "prompt_format", "metric"))

    tags = [""] * len(keys)
    for extra in ("n_shots", "source", "model"):
        seen: dict = {}
        for i, k in enumerate(keys):
            seen.setdefault((base(k), tags[i]), []).append(i)
        for idx in seen.values():
            if len(idx) < 2 or len({str(keys[i].get(extra)) for i in idx}) < 2:
                continue
            for i in idx:
                v = keys[i].get(extra)
                lab = ("?" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):g}") + "-shot" \
                    if extra == "n_shots" else str(v)
                tags[i] += f"@{lab}"
    return tags


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
    two_lines: dict = field(default_factory=dict)  # z1, z2 (slopes of the two lines), u_stat; {} when not testable
    thresholds: dict = field(default_factory=dict)  # the Thresholds the label was given at
    label_at_default: str = ""  # the label at DEFAULT_THRESHOLDS, for comparison

    def label_inputs(self) -> dict:
        """The statistics :func:`label_rule` reads, from this assessment's fields."""
        h, s, f = self.hinge, self.sigmoid, self.floor
        return dict(
            unresolved=bool(f) and f.get("max_above_chance", np.inf) < f.get("resolution", -np.inf),
            hinge_dbic=h.get("delta_bic", -np.inf) if h and h.get("c", 0) > 0 else -np.inf,
            sigmoid_dbic=s.get("delta_bic", -np.inf) if s else -np.inf, J=self.jump_share,
            sharp=bool(s.get("sharper_than_sampling", False)) if s else False, rho=self.spearman_rho,
            p_rho=self.spearman_p, r2=self.r2_loglinear, u_stat=self.two_lines.get("u_stat", np.nan))

    def relabel(self, thresholds: Thresholds) -> CurveAssessment:
        """The same statistics labelled at other ``thresholds`` (label, emergent flag and evidence change)."""
        from dataclasses import replace

        inputs = self.label_inputs()
        label = LABELS[int(label_rule(**inputs, thresholds=thresholds)[()])]
        at_default = LABELS[int(label_rule(**inputs)[()])]
        return replace(self, label=label, emergent=label == "breakthrough",
                       evidence=_evidence(self, label, thresholds),
                       thresholds=thresholds.to_dict(), label_at_default=at_default)


def _evidence(a: CurveAssessment, label: str, t: Thresholds) -> str:
    """The one-line evidence behind ``label`` (statistics as measured, at thresholds ``t``)."""
    ev = []
    h, s, f, tl = a.hinge, a.sigmoid, a.floor, a.two_lines
    rho, p_rho = a.spearman_rho, a.spearman_p
    if label == "unresolved":
        ev.append(f"max {f['max_above_chance']:.3f} above chance, within resolution {f['resolution']:.3f}")
    elif label == "breakthrough":
        if h:
            pv = h.get("p_value")  # None without bootstrap replicates (--n-boot 0)
            ev.append(f"hinge vs line: dBIC {h['delta_bic']:.1f} (margin {t.bic_margin:g})"
                      + (f" (p={pv:.3f})" if pv is not None else " (no bootstrap p-value)")
                      + f", break at {a.x_axis}={h['tau_raw']:.4g}")
        if s:
            ev.append(f"sigmoid vs line: dBIC {s['delta_bic']:.1f}, width {s['width']:.3g} vs local gap "
                      f"{s['local_gap']:.3g}")
        ev.append(f"B={a.breakthroughness:.3g}, J={a.jump_share:.2f}")
    elif label == "inverse":
        ev.append(f"Spearman rho={rho:.2f} (p={p_rho:.3g} < {t.alpha_inverse:g})")
    elif label == "non-monotone":
        ev.append(f"two-lines slopes z={tl['z1']:.2f} then z={tl['z2']:.2f} (opposite signs, both beyond "
                  f"{t.crit:.2f}); quadratic p={a.quad_p:.2g} (described only)")
    elif label == "predictable":
        ev.append(f"R^2 of line on {a.x_axis} = {a.r2_loglinear:.3f} (>= {t.r2_predictable:g})")
    elif label == "trendless":
        ev.append(f"rho={rho:.2f} (p={p_rho:.2g})")
    else:
        ev.append(f"rho={rho:.2f} (p={p_rho:.2g}), R^2={a.r2_loglinear:.2f}")
    ev.append(f"metric={a.key.get('metric')} ({a.metric_kind}), x={a.x_axis}, n={a.n_points}")
    if f:
        ev.append(f"floor resolution {f['resolution']:.3g}")
    return "; ".join(ev)


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
           thresholds: Thresholds | str = DEFAULT_THRESHOLDS) -> CurveAssessment:
    """Statistics (§3), trend label (§3.6) and the emergence verdict of one curve.

    Labels (:func:`label_rule`, first that applies): ``unresolved`` (hard metric never clearly above chance: Test
    C3), ``breakthrough`` (hinge -- with an upward kink -- or sigmoid beats the line by the BIC margin, and either one
    interval carries J >= 0.5 of the whole rise or the sigmoid's 10-90% width is below the local sampling gap; B is
    reported but not thresholded because it grows with n), ``non-monotone`` (two-lines test: both slopes
    significant with opposite signs), ``inverse`` (significant negative Spearman rho), ``predictable`` (R^2 of the
    line at least the threshold), ``trendless`` (rho not significant), else ``noisy-monotone``. ``emergent`` is
    ``label == "breakthrough"``.

    ``thresholds``: :data:`DEFAULT_THRESHOLDS` (the conventional values, whose false-positive rates on small
    designs are far above 5 %), any :class:`Thresholds`, or ``"calibrated"``: the per-design thresholds that keep
    every claim's simulated false-positive rate <= 5 % (what ``scalescope emergence analyze`` prints; simulating a
    new design takes 0.05-1 s, then it is cached). ``label_at_default`` always holds the label at the defaults.

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
    # two-lines test (Simonsohn 2018) for the non-monotone label: both slopes significant, opposite signs
    tl: dict = {}
    if testable(x):
        # pooled curves: family-clustered SEs, as the simulations of their design (error_rates) use
        groups = np.asarray(curve.clusters) if curve.clusters and len(set(curve.clusters)) > 1 else None
        o = two_lines_batch(x, y[None, :], groups=groups)
        tl = {"z1": float(o["z1"][0]), "z2": float(o["z2"][0]), "u_stat": float(u_stat(o["z1"], o["z2"])[0])}
    a = CurveAssessment(
        curve=curve.name, key={k: v for k, v in curve.key.items()}, x_axis=curve.x_axis, n_points=n,
        metric_kind=curve.metric_kind, breakthroughness=B, breakthroughness_ci=B_ci, jump_share=J,
        monotonicity=mono, r2_loglinear=r2, spearman_rho=rho, spearman_p=p_rho, quad_p=quad_p, hinge=hinge,
        sigmoid=sig, floor=floor, label="", emergent=False, evidence="",
        x_range=(float(np.min(curve.x_raw)), float(np.max(curve.x_raw))), two_lines=tl,
    )
    if isinstance(thresholds, str):
        if thresholds != "calibrated":
            raise ValueError(f"thresholds: expected a Thresholds or 'calibrated', got {thresholds!r}")
        thresholds = Thresholds.calibrated(curve)
    return a.relabel(thresholds)


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
                 kinds=("hard", "soft", "loss"), min_points: int = 3, progress: bool = False,
                 thresholds: Thresholds | str = DEFAULT_THRESHOLDS) -> list[CurveAssessment]:
    """:func:`assess` every curve of ``table`` (see :func:`iter_curves`) at ``thresholds``."""
    curves = list(iter_curves(table, x_axis=x_axis, view=view, kinds=kinds, min_points=min_points))
    if progress:
        from tqdm.auto import tqdm

        curves = tqdm(curves, desc=f"assess ({x_axis})", leave=False)
    return [assess(c, n_boot=n_boot, thresholds=thresholds) for c in curves]
