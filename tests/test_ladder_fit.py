"""Model-ladder fitters and data preparation (Bhagia et al. 2024): fit.ChinchillaLaw, fit.ChinchillaSigmoid,
fit.LossSigmoid, emergence.ladder step-1/step-2 points, and the two-step-nd backtest predictor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalescope.errors import InputError, NotFittedError
from scalescope.fit import ChinchillaLaw, ChinchillaSigmoid, LossSigmoid

N = np.repeat([1.9e8, 3.7e8, 7.6e8, 1.28e9], 4)
D = N * np.tile([20.0, 40.0, 100.0, 200.0], 4)


def law(n, d):
    return np.exp(5.0) / n**0.3 + np.exp(6.0) / d**0.25 + 0.45


def test_chinchilla_law_recovers_and_extrapolates():
    m = ChinchillaLaw().fit(np.column_stack([N, D]), law(N, D))
    assert m.result_.params[["alpha", "beta", "E"]].to_numpy() == pytest.approx([0.3, 0.25, 0.45], abs=2e-3)
    assert m.predict([[6.9e9, 3.9e12]])[0] == pytest.approx(law(6.9e9, 3.9e12), rel=1e-3)
    assert np.all(m.predict_se(np.column_stack([N, D])) >= 0)


def test_chinchilla_law_huber_resists_one_bad_run():
    y = law(N, D).copy()
    y[5] += 0.3  # one broken ladder run
    m = ChinchillaLaw().fit(np.column_stack([N, D]), y)
    # near-L1 loss: the 15 clean runs still pin the law down
    assert m.predict([[6.9e9, 3.9e12]])[0] == pytest.approx(law(6.9e9, 3.9e12), abs=0.02)


def test_chinchilla_law_compute_only_and_validation():
    C = 6 * N * D
    m = ChinchillaLaw().fit(C[:, None], 2.0 * (C / 1e18) ** -0.1 + 0.5)
    assert list(m.result_.params.index) == ["a", "alpha", "E"]
    with pytest.raises(InputError):
        ChinchillaLaw().fit(np.column_stack([N, -D]), law(N, D))
    with pytest.raises(NotFittedError):
        ChinchillaLaw().predict([[1.0, 1.0]])


def test_exact_upstream_is_one_start_and_agrees_on_a_clean_law():
    up = ChinchillaLaw(exact_upstream=True).fit(np.column_stack([N, D]), law(N, D))
    ms = ChinchillaLaw().fit(np.column_stack([N, D]), law(N, D))
    assert up.result_.n_starts == 1 < ms.result_.n_starts
    assert ms.result_.extra["objective"] <= up.result_.extra["objective"] + 1e-12


def test_loss_sigmoid_bounds_anchor_and_se():
    x = np.linspace(0.7, 1.8, 60)
    y = -0.7 / (1 + np.exp(-6 * (x - 1.2))) + 1.0
    m = LossSigmoid().fit(x, y)  # anchor (0, 1) is consistent with this curve
    assert m.params_ == pytest.approx([-0.7, 1.2, 6.0, 1.0], abs=1e-3)
    assert m.result_.n_obs == 61  # the ideal point is fitted too
    assert m.predict([0.0])[0] == pytest.approx(1.0, abs=1e-3)
    noisy = y + np.random.default_rng(0).normal(0, 0.01, x.size)
    se = LossSigmoid().fit(x, noisy).predict_se([0.8, 1.2])
    assert np.all(se > 0) and np.all(se < 0.02)
    # an increasing cloud cannot be fitted with a <= 0, k >= 0: the bounds hold
    p = LossSigmoid(anchor=False).fit(x, 1 - y).params_
    assert p[0] <= 0 and p[2] >= 0


def test_chinchilla_sigmoid_single_step():
    L = np.exp(3.0) / N**0.2 + np.exp(4.0) / D**0.2 - 1.0
    acc = -0.6 / (1 + np.exp(-L)) + 0.9
    m = ChinchillaSigmoid(chance=0.25).fit(np.column_stack([N, D]), acc)
    assert np.abs(m.predict(np.column_stack([N, D])) - acc).max() < 0.01
    with pytest.raises(InputError):
        ChinchillaSigmoid().fit(N[:, None], acc)


def test_step_points_follow_upstream_rules():
    from scalescope.emergence.ladder import _moving_average, step1_points, step2_points

    assert _moving_average(np.array([1.0, 2, 3, 4]), 2).tolist() == [1.0, 1.5, 2.5, 3.5]
    ck = pd.DataFrame({"run": ["a"] * 20, "n": 1e8, "d": np.arange(1, 21) * 1e9, "loss": np.arange(20.0),
                       "acc": np.linspace(0.3, 0.5, 20)})
    s1 = step1_points(ck, moving_avg=5)
    assert s1["loss"].iloc[0] == pytest.approx(17.0) and s1["d"].iloc[0] == 20e9
    # last 5 checkpoints span 16-20e9 tokens; a 10 % window keeps only 18-20e9
    assert step1_points(ck, moving_avg=5, window_frac=0.1)["loss"].iloc[0] == pytest.approx(18.0)
    s2 = step2_points(ck, skip_frac=0.1, moving_avg=5)
    assert len(s2) == 18 and s2["loss"].iloc[0] == 2.0  # ceil(0.1 * 20) = 2 skipped, then the running mean


def _synthetic_ladder_table(noise=0.0):
    from scalescope.emergence.table import finalize

    rng = np.random.default_rng(0)
    rows = []
    runs = [(f"m{n:.0e}-{k}x", n, 20 * k * n) for n in (2e8, 4e8, 8e8, 1.3e9) for k in (1, 2, 5, 10)]
    runs += [("big-7B", 7e9, 4e12)]
    for name, n, dmax in runs:
        for frac in np.linspace(0.2, 1.0, 12):
            d = frac * dmax
            L = law(n, d) + noise * rng.normal()
            base = dict(model=name, params_total=n, tokens=d, train_flops=6 * n * d, step=int(frac * 1000),
                        task="t", chance_level=0.25)
            rows.append({**base, "metric": "bpb", "metric_kind": "loss", "value": L, "higher_is_better": False})
            rows.append({**base, "metric": "acc", "metric_kind": "hard",
                         "value": 0.25 + 0.75 / (1 + np.exp(8 * (L - 1.3)))})
    return finalize(pd.DataFrame(rows))


def test_backtest_two_step_nd_has_intervals():
    from scalescope.emergence.backtest import backtest

    r = backtest(_synthetic_ladder_table(noise=0.005), holdout="size:1", methods=("two-step-nd",), ladder_n_boot=40)
    p = r.predictions.iloc[0]
    assert p["method"] == "two-step-nd" and p["model"] == "big-7B"
    assert p["pi_low"] <= p["predicted"] <= p["pi_high"]
    assert p["abs_error"] < 0.03
