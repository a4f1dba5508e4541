"""Tests for the fitters in scalescope.fit: recovery of known parameters, results objects, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalescope.errors import InputError, NotFittedError
from scalescope.fit import FitResult, HingeFit, LinearFit, PowerLaw, Sigmoid1D, SigmoidRegression

SIGMOID_COEF_TOL = 0.05  # absolute, with noise sd 0.01 on 120 points
FLOOR_TOL = 0.02
POWER_TOL = 0.02  # relative, noise 1% multiplicative
HINGE_TAU_TOL = 0.25  # x units; grid spacing 0.25, noise sd 0.02


def _sigmoid_data(floor=0.1, seed=0, n=120):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    z = 1.5 * X[:, 0] - 0.7 * X[:, 1] + 0.4
    y = floor + (1 - floor) / (1 + np.exp(-z)) + rng.normal(0, 0.01, n)
    return X, y


def test_sigmoid_floor_recovers_2d():
    X, y = _sigmoid_data(floor=0.1)
    m = SigmoidRegression(link="sigmoid-floor").fit(X, y)
    np.testing.assert_allclose(m.coef_, [1.5, -0.7], atol=SIGMOID_COEF_TOL)
    assert abs(m.intercept_ - 0.4) < SIGMOID_COEF_TOL
    assert abs(m.floor_ - 0.1) < FLOOR_TOL
    r = m.result_
    assert isinstance(r, FitResult) and r.converged and 2 <= r.n_starts <= 6
    full = SigmoidRegression(link="sigmoid-floor", early_stop=False).fit(X, y)
    assert full.result_.n_starts == 6
    np.testing.assert_allclose(full.coef_, m.coef_, atol=1e-6)
    assert list(r.params.index) == ["intercept", "w1", "w2", "floor"]
    ci = r.conf_int()
    assert (ci["lower"] < r.params).all() and (r.params < ci["upper"]).all()
    assert ci.loc["w1", "lower"] < 1.5 < ci.loc["w1", "upper"]
    assert r.mse < 2e-4 and r.r2 > 0.99
    assert "floor" in r.summary() and len(r.to_frame()) == 4
    assert r.to_dict()["params"]["w1"] == pytest.approx(m.coef_[0])


def test_sigmoid_plain_and_upstream_paths_agree():
    X, y = _sigmoid_data(floor=0.0)
    m = SigmoidRegression().fit(X, y)
    np.testing.assert_allclose(m.coef_, [1.5, -0.7], atol=SIGMOID_COEF_TOL)
    assert m.floor_ == 0.0 and list(m.result_.params.index) == ["intercept", "w1", "w2"]
    for method in ("ols", "robust"):
        up = SigmoidRegression(exact_upstream=True, upstream_method=method).fit(X, y)
        assert up.result_.n_starts == 1
        np.testing.assert_allclose(up.coef_, m.coef_, atol=1e-3)
    upf = SigmoidRegression("sigmoid-floor", exact_upstream=True).fit(*_sigmoid_data(floor=0.1))
    assert abs(upf.floor_ - 0.1) < FLOOR_TOL


def test_sigmoid_floor_at_bound_and_bootstrap():
    X, y = _sigmoid_data(floor=0.0, n=60)
    m = SigmoidRegression("sigmoid-floor", n_boot=30).fit(X, y)
    assert m.result_.status in ("converged", "at-bound")
    assert m.result_.boot_params.shape == (30, 4)
    ci = m.result_.conf_int(method="bootstrap")
    assert ci.loc["w1", "lower"] < m.coef_[0] < ci.loc["w1", "upper"]


def test_sigmoid_predict_and_dataframe_names():
    X, y = _sigmoid_data()
    df = pd.DataFrame(X, columns=["PC1", "PC2"])
    m = SigmoidRegression("sigmoid-floor").fit(df, y)
    assert list(m.result_.params.index) == ["intercept", "PC1", "PC2", "floor"]
    pred = m.predict(df)
    assert pred.shape == (120,) and np.mean((pred - y) ** 2) == pytest.approx(m.result_.mse)


def test_sigmoid_1d_recovers_emergence_curve():
    rng = np.random.default_rng(3)
    x = np.linspace(20, 25, 40)
    y = 0.25 + (0.9 - 0.25) / (1 + np.exp(-2.5 * (x - 23.2))) + rng.normal(0, 0.01, x.size)
    m = Sigmoid1D(floor=0.25, ceiling_bounds=(0.25, 1.0)).fit(x, y)
    assert abs(m.k_ - 2.5) < 0.3 and abs(m.x0_ - 23.2) < 0.05 and abs(m.ceiling_ - 0.9) < 0.02
    assert m.width_10_90_ == pytest.approx(2 * np.log(9) / m.k_)
    assert list(m.result_.params.index) == ["k", "x0", "ceiling"]
    assert m.result_.bse["x0"] > 0
    np.testing.assert_allclose(m.predict(x), y, atol=0.05)


def test_power_law_recovers():
    rng = np.random.default_rng(0)
    x = np.logspace(0, 5, 30)
    y = 4.0 * x**-0.25 * np.exp(rng.normal(0, 0.01, x.size))
    for method in ("ols", "nls", "robust"):
        m = PowerLaw(method).fit(x, y)
        assert m.a_ == pytest.approx(4.0, rel=POWER_TOL) and m.b_ == pytest.approx(-0.25, rel=POWER_TOL)
    r = PowerLaw().fit(x, y).result_
    assert r.r2 > 0.99 and r.conf_int().loc["b", "lower"] < -0.25 < r.conf_int().loc["b", "upper"]


def test_power_law_with_offset_recovers():
    rng = np.random.default_rng(1)
    x = np.logspace(0, 6, 40)
    y = (3.0 * x**-0.3 + 1.7) * np.exp(rng.normal(0, 0.005, x.size))
    m = PowerLaw(with_offset=True).fit(x, y)
    assert m.a_ == pytest.approx(3.0, rel=0.05)
    assert m.b_ == pytest.approx(-0.3, rel=0.05)
    assert m.c_ == pytest.approx(1.7, rel=POWER_TOL)
    assert list(m.result_.params.index) == ["a", "b", "c"]
    np.testing.assert_allclose(m.predict(x), y, rtol=0.03)
    # Robust fit shrugs off one wild point.
    y2 = y.copy()
    y2[5] *= 3
    rob = PowerLaw("robust", with_offset=True).fit(x, y2)
    assert rob.c_ == pytest.approx(1.7, rel=0.05)


def test_linear_fit_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = 1.0 + X @ [0.5, -2.0] + rng.normal(0, 0.3 * (1 + np.abs(X[:, 0])), 40)
    for cov in ("nonrobust", "HC0", "HC1", "HC2", "HC3"):
        ours = LinearFit(cov_type=cov).fit(X, y).result_
        ref = sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov)
        np.testing.assert_allclose(ours.params.to_numpy(), ref.params, rtol=1e-10)
        np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse, rtol=1e-8)
        assert ours.r2 == pytest.approx(ref.rsquared)
    ci = LinearFit().fit(X, y).result_.conf_int()
    np.testing.assert_allclose(ci.to_numpy(), sm.OLS(y, sm.add_constant(X)).fit().conf_int(), rtol=1e-8)


@pytest.mark.parametrize("flat_first", [False, True])
def test_hinge_recovers_breakpoint(flat_first):
    rng = np.random.default_rng(2)
    x = np.linspace(0, 10, 41)
    b = 0.0 if flat_first else 0.02
    y = 0.2 + b * x + 0.3 * np.maximum(0, x - 6.1) + rng.normal(0, 0.02, x.size)
    m = HingeFit(flat_first=flat_first, n_boot=100).fit(x, y)
    assert abs(m.breakpoint_ - 6.1) < HINGE_TAU_TOL
    assert m.slope_after_ == pytest.approx(0.3 + b, abs=0.03)
    ci = m.result_.conf_int()
    assert ci.loc["tau", "lower"] < 6.1 < ci.loc["tau", "upper"]
    assert m.result_.extra["delta_bic"] > 10
    np.testing.assert_allclose(m.predict(x), y, atol=0.08)


def test_hinge_fixed_floor():
    x = np.arange(12.0)
    y = 0.25 + 0.1 * np.maximum(0, x - 7.5)
    m = HingeFit(flat_first=True, floor=0.25).fit(x, y)
    assert m.breakpoint_ == pytest.approx(7.5, abs=1e-6) and list(m.result_.params.index) == ["c", "tau"]


@pytest.mark.parametrize(
    "est",
    [SigmoidRegression(), SigmoidRegression("sigmoid-floor"), LinearFit(), PowerLaw(), HingeFit(), Sigmoid1D()],
    ids=lambda e: type(e).__name__,
)
def test_not_fitted(est):
    with pytest.raises(NotFittedError):
        est.predict(np.ones((3, 1)) if isinstance(est, SigmoidRegression | LinearFit) else np.ones(3))


@pytest.mark.parametrize(
    "make, X, y, match",
    [
        (lambda: SigmoidRegression(), np.ones((5, 1)), [0.1, np.nan, 0.2, 0.3, 0.4], "y: contains NaN"),
        (lambda: SigmoidRegression("sigmoid-floor"), np.arange(6.0).reshape(3, 2), [0.1, 0.2, 0.3], "too few points"),
        (lambda: SigmoidRegression(), np.ones((5, 1)), [0.1, 0.2, 0.3], "mismatched lengths"),
        (lambda: SigmoidRegression(link="tanh"), np.ones((5, 1)), np.ones(5), "link='tanh'"),
        (lambda: SigmoidRegression("sigmoid-floor", floor_bounds=(0.3, 0.1)), np.ones((5, 1)), np.ones(5),
         "floor_bounds"),
        (lambda: LinearFit(), np.ones((1, 1)), [1.0], "too few points"),
        (lambda: LinearFit(cov_type="HC9"), np.ones((3, 1)), [1.0, 2, 3], "cov_type"),
        (lambda: PowerLaw(), [1.0, 2.0, -3.0], [1.0, 2, 3], "x > 0"),
        (lambda: PowerLaw(), [1.0, 2.0, 3.0], [1.0, 0.0, 3], "y > 0"),
        (lambda: PowerLaw(with_offset=True), [1.0, 2.0, 3.0], [1.0, 2, 3], "too few points"),
        (lambda: PowerLaw(method="magic"), [1.0, 2.0, 3.0], [1.0, 2, 3], "method"),
        (lambda: HingeFit(), np.arange(3.0), [1.0, 2, 3], "too few points"),
        (lambda: HingeFit(), [1.0, 1, 2, 2, 2], [1.0, 2, 3, 4, 5], "distinct x"),
        (lambda: Sigmoid1D(), [1.0, 2.0], [0.1, 0.2, 0.3], "mismatched lengths"),
        (lambda: SigmoidRegression(), [[1.0, np.inf], [2, 3], [3, 4], [5, 6]], [0.1, 0.2, 0.3, 0.4], "infinite"),
    ],
)
def test_bad_inputs_raise_one_line_input_error(make, X, y, match):
    with pytest.raises(InputError, match=match) as info:
        make().fit(X, y)
    assert "\n" not in str(info.value)
