"""Issue 17: emergence verdicts with measured error rates.

Two-lines U test (Simonsohn 2018) on simulated monotone and U curves, the accelerating Brier curve of the issue,
pooled analyses across families with clustered SEs, simulated FPR / power of the printed verdicts, the §3.6
"predictable within 2 SE" rule and Test A2 (acc ~ p_tok^l), and that `emergence analyze` reports all of it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from scalescope.cli import cli
from scalescope.emergence.arguments import u_shape
from scalescope.emergence.curves import LABELS
from scalescope.emergence.error_rates import Design, verdict_rates
from scalescope.emergence.predictability import per_token_consistency
from scalescope.emergence.table import finalize
from scalescope.emergence.twolines import SHAPES, two_lines, two_lines_batch
from scalescope.fit.linear import ols_batch

FIX = Path(__file__).parent / "fixtures" / "emergence" / "long.csv"
U_CODES = (SHAPES.index("U"), SHAPES.index("inverted-U"))
# Monte Carlo tolerance on a 5 % rate estimated from 600 fresh replicates: 2 binomial SEs
MC_TOL = 2 * math.sqrt(0.05 * 0.95 / 600)
BRIER = [0.961, 0.949, 0.948, 0.881, 0.807]  # GPT-Neo/J, one task, difficulty group 2 (issue 17)


def _gauss_design(n: int) -> Design:
    return Design(positions=tuple(np.round(np.linspace(0, 1, n) / 0.05) * 0.05), n_items=float("nan"),
                  chance=float("nan"), kind="gaussian")


MONOTONE = {"convex": lambda u: u**3, "concave": lambda u: 1 - (1 - u) ** 3, "linear": lambda u: u,
            "convex-down": lambda u: (1 - u) ** 3}


@pytest.mark.parametrize("n", [5, 8, 12])
@pytest.mark.parametrize("noise", [0.02, 0.1])
def test_two_lines_fpr_on_monotone_curves_at_most_5pct(n, noise):
    x = np.linspace(0, 1, n)
    vr = verdict_rates(_gauss_design(n))
    assert vr.get("two-lines", "U")["fpr"] <= 0.05 and vr.get("two-lines", "inverted-U")["fpr"] <= 0.05
    rng = np.random.default_rng(1000 + n)  # fresh draws, not the calibration's
    for name, f in MONOTONE.items():
        Y = 0.5 * f(x)[None] + rng.normal(0, noise, (600, n))
        shape = two_lines_batch(x, Y, crit=vr.crit)["shape"]
        fpr = float(np.isin(shape, U_CODES).mean())
        assert fpr <= 0.05 + MC_TOL, (name, n, noise, fpr)


def test_two_lines_power_reported_and_real():
    powers = {n: verdict_rates(_gauss_design(n)).get("two-lines", "U")["power"] for n in (5, 8, 12)}
    assert all(0 <= p <= 1 for p in powers.values())
    # the price of FPR <= 5 %: HC3 slopes on 3-6 points have heavy-tailed z, so the critical value rises and the
    # power against U shapes of amplitude 4-30 noise SDs stays modest; it is measured, not assumed
    assert all(p > 0.1 for p in powers.values())
    x = np.linspace(0, 1, 12)
    rng = np.random.default_rng(7)
    Y = 0.5 * ((x - 0.5) / 0.5) ** 2 + rng.normal(0, 0.05, (400, 12))
    shape = two_lines_batch(x, Y, crit=verdict_rates(_gauss_design(12)).crit)["shape"]
    assert (shape == SHAPES.index("U")).mean() > 0.3


def test_accelerating_brier_curve_is_monotone_not_u():
    x = np.log10([1e20, 3e20, 1e21, 3e21, 1e22])
    r = two_lines(x, BRIER)
    assert r.shape == "concave" and r.direction == -1  # Brier falls faster and faster: monotone, curved
    assert not r.is_u
    # the quadratic the old test relied on is still there, as a described statistic only
    q = np.polyfit(x, BRIER, 2)
    assert q[0] < 0 and x.min() < r.vertex < x.max() + 1
    # through the table (Brier is lower-is-better, so y is negated: an accelerating rise)
    t = finalize(pd.DataFrame({"model": [f"m{i}" for i in range(5)], "family": "GPT-Neo/J", "train_flops": 10**x,
                               "task": "t", "subtask": "group2", "metric": "brier", "metric_kind": "soft",
                               "value": BRIER, "higher_is_better": False}))
    s = u_shape(t).shapes.iloc[0]
    assert s["shape"] not in ("U", "inverted-U") and s["u_fpr"] <= 0.05


def _pooled_fixture(seed=0):
    """Six families, each covering one stretch of log compute, together a U per difficulty group 'hard';
    a monotone rise for group 'easy'."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(6):
        xs = np.linspace(19 + 0.8 * f, 20 + 0.8 * f, 5)
        for i, x in enumerate(xs):
            for grp, y in (("hard", 0.6 + 0.08 * (x - 21.4) ** 2), ("easy", 0.3 + 0.1 * (x - 19))):
                rows.append(dict(model=f"f{f}-{i}", family=f"fam{f}", train_flops=10**x, task="mmlu", subtask=grp,
                                 metric="acc", metric_kind="soft", value=y + rng.normal(0, 0.01) + 0.01 * f))
    return finalize(pd.DataFrame(rows))


def test_pooled_u_shape_across_families_with_cluster_se():
    t = _pooled_fixture()
    per_family = u_shape(t)
    assert len(per_family.shapes) == 12  # 6 families x 2 groups
    pooled = u_shape(t, pool=True, error_rates=False).shapes.set_index("subtask")  # the paper's 1.96
    assert set(pooled.index) == {"hard", "easy"}
    assert pooled.loc["hard", "shape"] == "U" and pooled.loc["hard", "n_clusters"] == 6
    # with FPR <= 5 % enforced on this 6-cluster design the critical value rises; the rates are reported
    cal = u_shape(t, pool=True).shapes.set_index("subtask")
    assert cal.loc["hard", "u_fpr"] <= 0.05 and cal.loc["hard", "crit"] >= pooled.loc["hard", "crit"]
    assert pooled.loc["hard", "cov_type"].startswith("cluster")
    assert pooled.loc["hard", "b1_ci_high"] < 0 < pooled.loc["hard", "b2_ci_low"]
    assert pooled.loc["easy", "shape"] in ("linear", "convex", "concave")
    # the breakpoint sits near the vertex (10^21.4 FLOPs)
    assert abs(math.log10(pooled.loc["hard", "breakpoint_raw"]) - 21.4) < 0.8
    # pc1-free grouping by another column: one curve per task when subtask is not in the key
    by_task = u_shape(t, pool=True, by=["source", "task", "metric"]).shapes
    assert len(by_task) == 1


def test_cluster_covariance_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    n = 40
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    g = rng.integers(0, 7, n)
    y = X @ [1.0, 2.0] + rng.normal(size=n) + 0.5 * g
    ref = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": g})
    beta, cov, dof = ols_batch(X, y[None], "cluster", g)
    np.testing.assert_allclose(beta[0], ref.params, rtol=1e-10)
    np.testing.assert_allclose(cov[0], ref.cov_params(), rtol=1e-8)
    ref3 = sm.OLS(y, X).fit(cov_type="HC3")
    np.testing.assert_allclose(ols_batch(X, y[None], "HC3")[1][0], ref3.cov_params(), rtol=1e-8)


def test_breakthrough_rates_and_calibrated_margin():
    d = Design(positions=tuple(np.round(np.linspace(0, 1, 8) / 0.05) * 0.05), n_items=1024.0, chance=0.25,
               kind="binomial")
    vr = verdict_rates(d)
    assert verdict_rates(d) is vr  # cached per design
    bt = vr.rates.set_index(["family", "verdict"]).loc[("label", "breakthrough")]
    assert bt["fpr"] <= 0.05 and bt["threshold"] == vr.bic_margin >= 6
    assert 0 <= bt["power"] <= 1 and bt["fpr_at_default"] >= bt["fpr"]
    # the default margin of 6 is not enough on 8-model grids: smooth accelerating curves get flagged
    assert bt["fpr_at_default"] > 0.05


def test_per_token_a2_recovers_target_length_and_predicts():
    rng = np.random.default_rng(0)
    p = np.array([1e7, 3e7, 1e8, 3e8, 1e9, 3e9, 1e10])
    ppl = np.array([60, 30, 14, 8, 4.5, 3.0, 2.2])
    acc = np.clip((1 / ppl) ** 2.0 + rng.normal(0, 0.002, 7), 1e-4, 1)
    t = finalize(pd.DataFrame({"model": np.tile(list("abcdefg"), 2), "params_total": np.tile(p, 2),
                               "train_flops": np.tile(6 * p * 3e11, 2), "task": "lambada",
                               "metric": ["acc"] * 7 + ["ppl"] * 7, "metric_kind": ["hard"] * 7 + ["loss"] * 7,
                               "value": np.r_[acc, ppl], "n_items": 5000}))
    r = per_token_consistency(t, holdout="size:2")
    f = r.fits.iloc[0]
    assert f["l"] == pytest.approx(2.0, abs=0.1) and f["n_test"] == 2
    assert f["mae"] < 0.02 and f["share_within_2se"] == 1.0


def test_analyze_reports_fpr_and_power_per_verdict(tmp_path):
    r = CliRunner().invoke(cli, ["emergence", "analyze", "--data", str(FIX), "--out", str(tmp_path / "a"),
                                 "--quiet", "--n-boot", "30", "--quick"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    er = s["tasks"]["toy:arith:exact_match"]["error_rates"]
    task = s["tasks"]["toy:arith:exact_match"]
    margin = task["thresholds"]["bic_margin"]
    assert 0 <= er["label_fpr"] <= 0.05 and 0 <= er["emergent_fpr"] <= 0.05 and (margin is None or margin >= 6)
    assert s["thresholds"] == "calibrated" and task["label_at_default"] in LABELS
    v = pd.read_csv(tmp_path / "a" / "verdict_error_rates.csv")
    assert {"label_fpr", "label_power", "emergent_fpr", "emergent_power", "emergent_at_margin_6",
            "threshold_bic_margin", "threshold_crit", "threshold_alpha_inverse", "threshold_r2_predictable",
            "threshold_alpha"} <= set(v.columns)
    # every printed claim has a simulated false-positive rate <= 5 % at the thresholds it was given at
    claims = v[v["label_is_claim"]]
    assert len(claims) and (claims["label_fpr"] <= 0.05).all()
    assert all(r["max_fpr"] <= 0.05 for r in s["verdict_error_rates"].values() if r["claim"])
    sec = json.loads((tmp_path / "a" / "section.json").read_text())
    assert "FPR" in json.dumps(sec) and "verdict_error_rates.csv" in json.dumps(sec)


# ------------------------------------------------------------------------------------- speed without weaker statistics
def test_nan_fields_and_cluster_names_share_one_simulation():
    from scalescope.emergence.curves import iter_curves
    from scalescope.emergence.error_rates import design_for

    d1, d2 = _gauss_design(7), _gauss_design(7)  # NaN n_items / chance: equal designs all the same
    assert d1 == d2 and hash(d1) == hash(d2) and verdict_rates(d1) is verdict_rates(d2)
    t = _pooled_fixture()
    t2 = t.assign(family=t["family"].str.replace("fam", "F"))  # other family names, same structure
    c1 = next(iter_curves(t, pool=True, kinds=("soft",)))
    c2 = next(iter_curves(t2, pool=True, kinds=("soft",)))
    assert design_for(c1) == design_for(c2)


def test_merge_designs_shares_near_identical_large_designs_only():
    from scalescope.emergence.error_rates import merge_designs

    u = np.linspace(0, 1, 36)
    a = Design(tuple(u.round(2)), 256.0, 0.25, "binomial")
    b = Design(tuple(np.clip(u + 0.02 * np.sin(9 * u), 0, 1).round(2)), 256.0, 0.25, "binomial")  # within 0.05
    c = Design(tuple((u**2).round(2)), 256.0, 0.25, "binomial")  # another grid
    d = Design(a.positions, 1024.0, 0.25, "binomial")  # another noise level
    small = _gauss_design(8)
    m1, m2 = merge_designs([a, b, c, d, small]), merge_designs([small, d, c, b, a])
    assert m1 == m2  # the order the curves come in does not matter
    assert m1[a] is m1[b] and m1[c] is c and m1[d] is d and m1[small] is small


def test_two_stage_replicates_and_monte_carlo_ses():
    from scalescope.emergence import error_rates as er

    d = Design(positions=tuple(np.round(np.linspace(0, 1, 8) / 0.05) * 0.05), n_items=1024.0, chance=0.25,
               kind="binomial")
    vr = verdict_rates(d)
    reps = vr.by_scenario.groupby("family")["n_reps"]
    # every cell got N_REPS; at most DECISIVE_CELLS per calibrated threshold got DECISIVE_REPS more (the two-lines
    # family has one threshold, the labels one per claim)
    assert reps.min().min() == er.N_REPS
    more = reps.apply(lambda r: int((r > er.N_REPS).sum()))
    assert more["two-lines"] <= er.DECISIVE_CELLS and more["label"] <= er.DECISIVE_CELLS * len(er.LABEL_GRIDS)
    assert (reps.max() == er.N_REPS + er.DECISIVE_REPS).all()
    for fam, verdict in (("two-lines", "U"), ("label", "breakthrough"), ("label", "predictable")):
        r = vr.get(fam, verdict)
        assert 0 <= r["fpr_se"] <= math.sqrt(0.25 / er.N_REPS) and 0 <= r["power_se"] <= math.sqrt(0.25 / er.N_REPS)
        if 0 < r["fpr"] < 1:  # the binomial SE of the worst cell, from the replicates that cell got
            assert any(r["fpr_se"] == pytest.approx(math.sqrt(r["fpr"] * (1 - r["fpr"]) / k))
                       for k in (er.N_REPS, er.N_REPS + er.DECISIVE_REPS))
    # a family's rates do not depend on whether the other was simulated too
    two_only = er._verdict_rates(d, 0, ("two-lines",)).rates
    pd.testing.assert_frame_equal(two_only, vr.rates[vr.rates["family"] == "two-lines"].reset_index(drop=True))


def test_interrupted_regressions_match_the_sandwich():
    from scalescope.emergence.twolines import _lines

    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(0, 1, 14))
    Y = np.sin(3 * x) + rng.normal(0, 0.2, (50, 14))
    xc = rng.uniform(0.3, 0.7, 50)
    g = rng.integers(0, 4, 14)
    for include_first in (True, False):
        d = x[None] - xc[:, None]
        hi = d > 0 if include_first else d >= 0
        A = np.stack([np.ones_like(d), np.where(hi, 0, d), np.where(hi, d, 0), hi.astype(float)], -1)
        for groups, cov_type in ((None, "HC3"), (g, "cluster")):
            beta, cov, dof = ols_batch(A, Y, cov_type, groups)
            for side in (1, 2):
                b, v, dof_ = _lines(x, Y, xc, groups, include_first, side)
                np.testing.assert_allclose(b, beta[:, side], rtol=1e-8)
                np.testing.assert_allclose(v, cov[:, side, side], rtol=1e-6)
                assert dof_ == dof


def test_smoother_is_the_gcv_smoothing_spline():
    from scalescope.emergence.twolines import _LAMBDAS, _Smoother

    rng = np.random.default_rng(2)
    x = np.sort(rng.uniform(0, 1, 15))
    y = np.cos(4 * x) + rng.normal(0, 0.1, 15)
    fit, _ = _Smoother(x).fit(y[None])
    h = np.diff(x)
    m = x.size
    Q, Rm = np.zeros((m, m - 2)), np.zeros((m - 2, m - 2))
    for c in range(m - 2):
        Q[c, c], Q[c + 1, c], Q[c + 2, c] = 1 / h[c], -1 / h[c] - 1 / h[c + 1], 1 / h[c + 1]
        Rm[c, c] = (h[c] + h[c + 1]) / 3
        if c + 1 < m - 2:
            Rm[c, c + 1] = Rm[c + 1, c] = h[c + 1] / 6
    K = Q @ np.linalg.solve(Rm, Q.T)
    best = None
    for lam in _LAMBDAS * h.mean() ** 3:  # direct solves at every lambda, GCV
        S = np.linalg.solve(np.eye(m) + lam * K, np.eye(m))
        g = S @ y
        gcv = m * ((y - g) ** 2).sum() / (m - np.trace(S)) ** 2
        best = min(best or (np.inf, None), (gcv, tuple(g)))
    np.testing.assert_allclose(fit[0], best[1], atol=1e-8)


def test_batched_two_lines_equals_one_at_a_time():
    from scalescope.emergence.twolines import two_lines_rows

    rng = np.random.default_rng(3)
    x = np.log10(np.logspace(19, 23, 9))
    Y = np.stack([x**2 / 40, -x, np.abs(x - 21)]) + rng.normal(0, 0.05, (3, 9))
    crits = np.array([1.96, 2.5, 3.0])
    for r, y, c in zip(two_lines_rows(x, Y, crit=crits), Y, crits):
        one = two_lines(x, y, crit=c)
        assert r.shape == one.shape and r.crit == c
        np.testing.assert_allclose([r.z1, r.z2, r.b1, r.b2, r.breakpoint, r.vertex],
                                   [one.z1, one.z2, one.b1, one.b2, one.breakpoint, one.vertex], rtol=1e-9)


def _two_family_table():
    """Two families on adjacent compute ranges: a hard exact match that jumps at 1e22 FLOPs and its smooth soft
    log-prob; BBH-style CoT and direct scores where CoT helps only the larger models."""
    rows = []
    for f, lo in (("A", 19.0), ("B", 21.0)):
        for i, lf in enumerate(np.linspace(lo, lo + 2.4, 9)):
            m = dict(model=f"{f}{i}", family=f, train_flops=10**lf)
            rows.append(dict(m, task="t", metric="em", metric_kind="hard", value=0.6 * (lf > 22) + 0.01 * i % 3,
                             chance_level=0.0))
            rows.append(dict(m, task="t", metric="logp", metric_kind="soft", value=-4 + 0.5 * lf / 2.4))
            for fmt, v in (("cot", 0.1 + 0.15 * (lf - 21)), ("generate", 0.3 + 0.02 * (lf - 21))):
                rows.append(dict(m, task="bbh_x", metric="exact_match_flexible", metric_kind="hard", value=v,
                                 prompt_format=fmt, chance_level=0.0))
    return finalize(pd.DataFrame(rows))


def test_other_argument_tests_run_per_family_or_pooled():
    from scalescope.emergence.arguments import cot_vs_direct, metric_choice, x_axis_choice

    t = _two_family_table()
    per = metric_choice(t, n_boot=10).verdicts
    pooled = metric_choice(t, n_boot=10, pool=True).verdicts
    assert sorted(per["family"]) == ["A", "B"] and pooled["family"].tolist() == ["pooled"]
    assert pooled["verdict"].iloc[0] == "metric-induced"  # the jump is only visible with both families on one axis
    xa = x_axis_choice(t, axes=("log10_flops", "flops"), n_boot=10, pool=True)
    assert len(xa.labels) and all(c.startswith("pooled:") for c in xa.labels["curve"])
    assert set(cot_vs_direct(t, n_boot=10).crossings["task"]) == {"bbh_x"}
    fam = cot_vs_direct(t, n_boot=10, pool=False).crossings
    assert sorted(fam["family"]) == ["A", "B"] and (fam["n"] == 9).all()


# ------------------------------------------------------------------------ calibrated label thresholds (the default)
@pytest.mark.parametrize("design", [
    _gauss_design(5), _gauss_design(8), _gauss_design(12),
    Design(positions=tuple(np.round(np.linspace(0, 1, 8) / 0.05) * 0.05), n_items=1024.0, chance=0.25,
           kind="binomial"),
    Design(positions=tuple(np.round(np.linspace(0, 1, 12) / 0.05) * 0.05), n_items=256.0, chance=0.0,
           kind="binomial"),
], ids=["gauss5", "gauss8", "gauss12", "binom8", "binom12"])
def test_calibrated_labels_keep_every_claim_fpr_at_5pct_on_fresh_curves(design):
    """The thresholds come from the calibration's own replicates; the check draws 600 fresh curves per null cell
    (another seed) and applies the same rule: every claim's worst-case rate <= 5 % + Monte Carlo tolerance. At the
    conventional thresholds the same curves show why calibration is the default."""
    from scalescope.emergence import error_rates as er
    from scalescope.emergence.curves import CLAIMS, DEFAULT_THRESHOLDS, label_rule

    vr = verdict_rates(design)
    t = vr.thresholds
    assert t.bic_margin >= 6 and t.crit >= 1.96 and t.alpha_inverse <= 0.05 and t.r2_predictable >= 0.9
    C = len(er.CELLS)
    V = er._simulate_cells(design, list(range(C)), np.random.default_rng(987), 600)
    cells = np.repeat(np.arange(C), 600)
    sim = {"cell": cells, **er.label_stats(design, V)}
    if design.n >= 5:
        o = two_lines_batch(np.asarray(design.positions), V)
        sim.update(z1=o["z1"], z2=o["z2"])
    lab = er._label_inputs(sim, np.ones(cells.size, dtype=bool))
    worst_default = 0.0
    for thr, tol in ((t, MC_TOL + 0.01), (DEFAULT_THRESHOLDS, None)):
        codes = label_rule(**lab, thresholds=thr)
        for verdict in CLAIMS:
            wrong = er._truth(verdict, 2, 3, False)[0]
            rate = np.bincount(cells, weights=codes == LABELS.index(verdict), minlength=C) / 600
            worst = float(rate[wrong].max())
            if tol is None:
                worst_default = max(worst_default, worst)
            else:
                assert worst <= 0.05 + tol, (verdict, worst, thr)
    assert worst_default > 0.05 + MC_TOL  # the conventional thresholds do not control the rate on these designs


def test_issue_brier_curve_is_not_labelled_non_monotone():
    x = np.log10([1e20, 3e20, 1e21, 3e21, 1e22])
    t = finalize(pd.DataFrame({"model": [f"m{i}" for i in range(5)], "family": "GPT-Neo/J", "train_flops": 10**x,
                               "task": "t", "subtask": "group2", "metric": "brier", "metric_kind": "soft",
                               "value": BRIER, "higher_is_better": False}))
    from scalescope.emergence.curves import assess, iter_curves

    c = next(iter_curves(t))
    from scalescope.emergence.curves import DEFAULT_THRESHOLDS

    for thr in ("calibrated", DEFAULT_THRESHOLDS):
        a = assess(c, n_boot=0, thresholds=thr)
        assert a.label != "non-monotone", (thr, a.evidence)
    a = assess(c, n_boot=0, thresholds="calibrated")
    assert not a.two_lines["u_stat"] > a.thresholds["crit"]  # NaN (a side too short to test) is never a U
    assert a.label_at_default == assess(c, n_boot=0).label


def test_label_cascade_non_monotone_before_breakthrough():
    from scalescope.emergence.curves import label_rule

    kw = dict(unresolved=False, hinge_dbic=70.0, sigmoid_dbic=-np.inf, J=0.55, sharp=False, rho=0.3, p_rho=0.2,
              r2=0.2)
    assert LABELS[int(label_rule(**kw, u_stat=4.0))] == "non-monotone"  # a U fits a hinge too
    assert LABELS[int(label_rule(**kw, u_stat=0.0))] == "breakthrough"
    assert LABELS[int(label_rule(**kw, u_stat=np.nan))] == "breakthrough"  # not testable: never a U


def test_curve_names_are_unique_when_only_the_shots_differ():
    # pythia-evals scores every task 0- and 5-shot: the plain names collided and summary.json kept 512 of 768 curves
    rows = [dict(model=f"m{i}", train_flops=10.0 ** (20 + i), task="lambada", metric="acc", metric_kind="hard",
                 value=0.1 * i + 0.01 * s, n_shots=s, n_items=500) for i in range(5) for s in (0, 5)]
    rows += [dict(model=f"m{i}", train_flops=10.0 ** (20 + i), task="piqa", metric="acc", metric_kind="hard",
                  value=0.5 + 0.05 * i, n_shots=0, n_items=500) for i in range(5)]
    from scalescope.emergence.curves import iter_curves

    names = sorted(c.name for c in iter_curves(finalize(pd.DataFrame(rows))))
    assert names == [":lambada@0-shot:acc", ":lambada@5-shot:acc", ":piqa:acc"]  # (no family column: "")


def test_analyze_pooled_from_the_command_line(tmp_path):
    # ten families, each on its own stretch of compute: a U only when they are pooled on the shared axis (with
    # six, as in _pooled_fixture, the family-clustered test has t(5) tails: the calibrated |z| is 3.5 and the
    # power against this U 0.14, so the calibrated verdict is honestly "not shown")
    rng = np.random.default_rng(3)
    rows = []
    for f in range(10):
        for i, x in enumerate(np.linspace(19 + 0.5 * f, 20 + 0.5 * f, 5)):
            for grp, y in (("hard", 0.6 + 0.08 * (x - 21.75) ** 2), ("easy", 0.3 + 0.1 * (x - 19))):
                rows.append(dict(model=f"f{f}-{i}", family=f"fam{f}", flops=10**x, task="mmlu", subtask=grp,
                                 metric="brier_skill", metric_kind="soft", value=y + rng.normal(0, 0.01)))
    csv = tmp_path / "pooled.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    out = tmp_path / "p"
    r = CliRunner().invoke(cli, ["emergence", "analyze", "--data", str(csv), "--pool", "--x-axis", "log10_flops",
                                 "--out", str(out), "--quiet", "--n-boot", "0", "--quick"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["pooled"] and s["x_axis"] == "log10_flops" and s["n_curves"] == 2
    hard, easy = s["tasks"]["pooled:mmlu/hard:brier_skill"], s["tasks"]["pooled:mmlu/easy:brier_skill"]
    assert hard["label"] == "non-monotone" and easy["label"] != "non-monotone", (hard["evidence"], easy["label"])
    assert f"beyond {hard['thresholds']['crit']:.2f}" in hard["evidence"]  # the threshold it was given at
    # per family, the same data show no U (each family sees one side of it)
    r = CliRunner().invoke(cli, ["emergence", "analyze", "--data", str(csv), "--out", str(tmp_path / "f"),
                                 "--quiet", "--n-boot", "0", "--quick"])
    assert r.exit_code == 0, r.output
    per_family = json.loads((tmp_path / "f" / "summary.json").read_text())
    assert not per_family["pooled"] and per_family["n_curves"] == 20
    assert all(t["label"] != "non-monotone" for t in per_family["tasks"].values())
    # pc1 needs the observational-scaling base benchmarks: a one-line error, nothing written
    r = CliRunner().invoke(cli, ["emergence", "analyze", "--data", str(csv), "--pool", "--x-axis", "pc1",
                                 "--out", str(tmp_path / "pc"), "--quiet"])
    assert r.exit_code == 2 and "pc1" in r.output and not (tmp_path / "pc").exists()
