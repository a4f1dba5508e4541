"""Unit tests of the emergence statistics (research/emergence.md §3) on synthetic curves with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from scalescope.emergence import stats as st
from scalescope.emergence.curves import assess, iter_curves
from scalescope.emergence.table import finalize
from scalescope.errors import InputError


def test_breakthroughness_linear_is_n_minus_1():
    assert st.breakthroughness(np.arange(9.0)) == pytest.approx(8.0)


def test_breakthroughness_zero_median_is_inf_and_constant_is_nan():
    assert st.breakthroughness([0.25, 0.25, 0.25, 0.25, 0.7]) == math.inf
    assert st.breakthroughness([0.7, 0.25, 0.25, 0.25, 0.25]) == -math.inf
    assert math.isnan(st.breakthroughness([0.3, 0.3, 0.3]))
    assert math.isnan(st.breakthroughness([0.1, 0.2]))


@given(hs.lists(hs.integers(-100, 100), min_size=3, max_size=20), hs.floats(0.1, 10), hs.floats(-5, 5))
@settings(max_examples=60, deadline=None)
def test_breakthroughness_affine_invariant(y, a, b):
    y = np.asarray(y) / 10.0  # grid values: ties stay exact ties under a positive affine map
    b0, b1 = st.breakthroughness(y), st.breakthroughness(a * y + b)
    if math.isfinite(b0) and np.median(np.diff(y) ** 2) > 1e-12:
        assert b1 == pytest.approx(b0, rel=1e-6)
    assert -1 - 1e-9 <= (st.monotonicity(y) if np.ptp(y) > 0 else 0) <= 1 + 1e-9


def test_standins_and_jump_share():
    assert st.monotonicity([0.1, 0.2, 0.5]) == pytest.approx(1.0)
    assert st.r2_loglinear([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert st.jump_share([0, 0, 0, 1]) == pytest.approx(1.0)
    assert st.signed_range([0.5, 0.1]) == pytest.approx(-0.4)


def test_hinge_recovers_break_and_ci_covers():
    rng = np.random.default_rng(1)
    x = np.linspace(19, 24, 21)
    y = 0.25 + 0.2 * np.maximum(0, x - 22.0) + rng.normal(0, 0.01, x.size)
    r = st.hinge_fit(x, y, n_boot=200)
    assert abs(r.tau - 22.0) < 0.3
    assert r.tau_ci[0] <= 22.0 <= r.tau_ci[1]
    assert r.delta_bic > 6 and r.p_value < 0.05
    lin = st.hinge_fit(x, 0.1 * x + rng.normal(0, 0.01, x.size), n_boot=200)
    assert lin.p_value > 0.01


def test_hinge_too_few_points():
    with pytest.raises(InputError, match="at least 5"):
        st.hinge_fit([1, 2, 3], [1, 2, 3])


def test_sigmoid_fit_recovers_and_width():
    x = np.linspace(20, 24, 15)
    y = 0.25 + 0.7 / (1 + np.exp(-2.5 * (x - 22.3))) + np.random.default_rng(3).normal(0, 0.005, x.size)
    r = st.sigmoid_fit(x, y, floor=0.25, ceiling=None)
    assert r.x0 == pytest.approx(22.3, abs=0.05) and r.k == pytest.approx(2.5, rel=0.1)
    assert r.width == pytest.approx(2 * math.log(9) / r.k)
    lo, hi = r.conf_int().loc["x0", ["lower", "upper"]]
    assert lo <= 22.3 <= hi


def test_floor_test_resolution():
    r = st.floor_test([0.25, 0.251], chance=0.25, n_items=100)
    assert r.min_detectable == pytest.approx(2 * math.sqrt(0.25 * 0.75 / 100))
    assert r.p_value > 0.05


def _table(y, kind="hard", chance=0.25, n_items=1000.0):
    f = np.logspace(18, 23, len(y))
    return finalize(pd.DataFrame({"model": [f"m{i}" for i in range(len(y))], "train_flops": f, "task": "t",
                                  "metric": "acc", "metric_kind": kind, "value": y, "chance_level": chance,
                                  "n_items": n_items}))


def test_verdicts_on_known_shapes():
    step = np.r_[np.full(6, 0.25), np.full(4, 0.7)]
    assert assess(next(iter_curves(_table(step))), n_boot=50).label == "breakthrough"
    lin = np.linspace(0.3, 0.7, 10)
    assert assess(next(iter_curves(_table(lin))), n_boot=50).label == "predictable"
    flat = 0.25 + np.random.default_rng(0).normal(0, 0.002, 10)
    assert assess(next(iter_curves(_table(flat))), n_boot=50).label == "unresolved"
    inv = np.linspace(0.7, 0.3, 10) + np.random.default_rng(0).normal(0, 0.03, 10)
    assert assess(next(iter_curves(_table(inv))), n_boot=50).label == "inverse"


def _ladder_table(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """A Chinchilla-law ladder (5 sizes x 5 token multipliers, 6 checkpoints each) and two heavily overtrained
    targets; task loss L(N, D) = 0.4 + 0.8 (N/1e9)^-0.3 + 0.6 (D/1e11)^-0.25, accuracy a sigmoid of L."""
    rng = np.random.default_rng(seed)

    def loss(N, D):
        return 0.4 + 0.8 * (N / 1e9) ** -0.3 + 0.6 * (D / 1e11) ** -0.25

    def acc(L):
        # ceiling 1 at zero loss: the model-ladder step 2 (Bhagia et al.) fits through the ideal point (0, 1)
        return 0.25 + 0.75 / (1 + np.exp(8 * (L - 1.3)))

    rows = []
    runs = [(f"m{N:.0e}-{k}x", N, 20 * k * N) for N in (2e8, 4e8, 8e8, 1.3e9, 3e9) for k in (0.5, 1, 2, 5, 10)]
    runs += [("big-7B", 7e9, 4e12), ("big-13B", 1.3e10, 5e12)]
    for name, N, D in runs:
        for frac in (0.25, 0.5, 0.75, 1.0):
            d = frac * D
            L = loss(N, d) + noise * rng.normal()
            base = dict(model=name, params_total=N, tokens=d, train_flops=6 * N * d, step=int(frac * 1000),
                        task="t", chance_level=0.25)
            rows.append({**base, "metric": "bpb", "metric_kind": "loss", "value": L, "higher_is_better": False})
            rows.append({**base, "metric": "acc", "metric_kind": "hard", "value": acc(L)})
    return finalize(pd.DataFrame(rows))


def test_two_step_nd_predicts_overtrained_targets_that_compute_only_misses():
    from scalescope.emergence.backtest import backtest

    r = backtest(_ladder_table(), holdout="size:2", methods=("two-step", "two-step-nd"))
    p = r.predictions.set_index(["method", "model"])
    nd, c = p.loc["two-step-nd"], p.loc["two-step"]
    # step 1 from (N, D) recovers the targets' task loss; compute alone cannot separate N from D
    assert np.allclose(nd["predicted_loss"], nd["actual_loss"], atol=2e-3)
    assert (np.abs(c["predicted_loss"] - c["actual_loss"]) > 0.02).all()
    assert nd["abs_error"].max() < 0.01 < c["abs_error"].max()


def test_two_step_nd_needs_n_and_d_to_vary_independently():
    from scalescope.emergence.backtest import _power_law_nd

    N = np.array([1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9])
    assert _power_law_nd(N, 20 * N, 1.0 + N**-0.1) is None  # Chinchilla-optimal only: D ∝ N
    assert _power_law_nd(N[:5], 20 * N[:5], np.ones(5)) is None  # too few points


def test_sigmoid_fit_matches_an_independent_least_squares_fit():
    # the analytic Jacobian must lead to the same optimum (and standard errors) as scipy's curve_fit with
    # finite differences on the same model (ceiling fixed, so no bound is active)
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(4)
    x = np.linspace(18, 25, 15)
    y = 0.25 + (0.9 - 0.25) / (1 + np.exp(-1.7 * (x - 21.3))) + rng.normal(0, 0.02, x.size)
    r = st.sigmoid_fit(x, y, floor=0.25, ceiling=0.9)

    def f(x, x0, k):
        return 0.25 + (0.9 - 0.25) / (1 + np.exp(-k * (x - x0)))

    p, cov = curve_fit(f, x, y, p0=[21, 1.5])
    assert [r.x0, r.k] == pytest.approx(list(p), rel=1e-4)
    half = r.ci["k"][1] - r.k
    assert half == pytest.approx(float(np.sqrt(cov[1, 1])) * 2.1604, rel=1e-3)  # t(0.975, 13 dof) x SE


def test_backtest_scores_predictions_against_measurement_se():
    from scalescope.emergence.backtest import backtest, leaderboard

    p = np.array([1e7, 3e7, 1e8, 3e8, 1e9, 3e9])
    f = 6 * p * 20 * p
    acc = 0.25 + 0.5 / (1 + np.exp(-2 * (np.log10(f) - 19)))

    def table(shift, **se):
        y = acc.copy()
        y[-2:] += shift  # the two held-out models measure `shift` above the law
        return finalize(pd.DataFrame({"model": list("abcdef"), "params_total": p, "train_flops": f, "task": "t",
                                      "metric": "acc", "metric_kind": "hard", "value": y, "chance_level": 0.25,
                                      **se}))

    exact = backtest(table(0.0, stderr=0.01), holdout="size:2", methods=("compute-sigmoid",))
    assert exact.predictions["within_2se"].tolist() == [True, True]
    assert exact.errors["share_within_2se"].iloc[0] == 1.0
    off = backtest(table(0.05, stderr=0.01), holdout="size:2", methods=("compute-sigmoid",))
    assert off.predictions["within_2se"].tolist() == [False, False]
    assert leaderboard(off)["share_within_2se"].iloc[0] == 0.0
    # binomial SE from n_items when no stderr: 0.05 off with n = 100 items (SE ~0.045) is within 2 SE
    binom = backtest(table(0.05, n_items=100), holdout="size:2", methods=("compute-sigmoid",))
    assert binom.predictions["within_2se"].tolist() == [True, True]
    pt = ((acc[-2:] + 0.05) * 100 + 2) / 104
    assert np.allclose(binom.predictions["measurement_se"], np.sqrt(pt * (1 - pt) / 104))
    # no SE in the data: not scored
    none = backtest(table(0.0), holdout="size:2", methods=("compute-sigmoid",))
    assert none.predictions["within_2se"].isna().all() and np.isnan(none.errors["share_within_2se"].iloc[0])
