"""Unit tests of scalescope.observational on synthetic data with known answers (no shared data needed)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalescope.errors import InputError
from scalescope.fit import PCA
from scalescope.observational import (
    SplitSpec,
    aue,
    equivalent_compute,
    family_compute_fits,
    fit_capabilities,
    fit_law,
    fit_link,
    make_imputer,
    split_cutoff,
    split_top_fraction,
    v_optimal_subsets,
)
from scalescope.observational.regression import link_inverse


def _rank1(n=30, p=5, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.2, 0.8, size=n)
    w = rng.uniform(0.5, 1.0, size=p)
    return np.clip(0.1 + 0.8 * np.outer(a, w) / w.max(), 0, 1)


def test_imputer_recovers_rank1_entries():
    X = _rank1()
    Xm = X.copy()
    Xm[[1, 5, 9], [0, 2, 4]] = np.nan
    imp = make_imputer()
    out = imp.fit_transform(Xm)
    np.testing.assert_allclose(out[[1, 5, 9], [0, 2, 4]], X[[1, 5, 9], [0, 2, 4]], atol=1e-3)
    # observed entries are untouched; stops long before max_iter
    np.testing.assert_allclose(out[~np.isnan(Xm)], X[~np.isnan(Xm)])
    assert imp.n_iter_ < 200


def test_imputer_upstream_stop_runs_all_iterations_same_values():
    X = _rank1() + np.random.default_rng(1).normal(0, 0.01, size=(30, 5))
    X[3, 1] = np.nan
    from scalescope.observational.constants import ImputeConfig

    a = make_imputer()
    xa = a.fit_transform(X)
    b = make_imputer(ImputeConfig(stop="upstream", max_iter=300))
    xb = b.fit_transform(X)
    assert b.n_iter_ == 300
    np.testing.assert_allclose(xa, xb, atol=1e-4)


def test_imputer_test_rows_use_train_fit():
    X = _rank1()
    imp = make_imputer().fit(X[:20])
    T = X[20:].copy()
    T[0, 0] = np.nan
    out = imp.transform(T)
    assert abs(out[0, 0] - X[20, 0]) < 0.02
    with pytest.raises(InputError):
        make_imputer().fit(np.full((5, 2), np.nan))


def test_pca_deterministic_sign_and_evr():
    X = _rank1() + np.random.default_rng(2).normal(0, 0.01, size=(30, 5))
    p1 = PCA(3).fit(X)
    p2 = PCA(3).fit(X[::-1])
    np.testing.assert_allclose(p1.components_, p2.components_, atol=1e-10)
    for c in p1.components_:
        assert c[np.argmax(np.abs(c))] > 0
    assert p1.explained_variance_ratio_[0] > 0.95
    assert np.all(np.diff(p1.explained_variance_ratio_) <= 1e-12)


@pytest.mark.parametrize("loss", ["huber", "ls"])
def test_fit_link_recovers_sigmoid(loss):
    x = np.linspace(-3, 3, 40)[:, None]
    y = link_inverse(1.5 * x[:, 0] - 0.5)
    f = fit_link(x, y, link="sigmoid", loss=loss)
    np.testing.assert_allclose(f.params, [-0.5, 1.5], atol=1e-3)


@pytest.mark.parametrize("loss", ["huber", "ls"])
def test_fit_link_recovers_floor(loss):
    x = np.linspace(-4, 4, 60)[:, None]
    y = link_inverse(2.0 * x[:, 0] + 1.0, floor=0.1)
    f = fit_link(x, y, link="sigmoid-floor", loss=loss)
    assert abs(f.floor - 0.1) < 1e-3
    np.testing.assert_allclose(f.weights, [2.0], atol=1e-2)
    assert 0.0 <= f.floor <= 0.2


def test_fit_link_bad_link():
    with pytest.raises(InputError):
        fit_link(np.zeros((3, 1)), np.zeros(3), link="probit")


def test_splits():
    df = pd.DataFrame({"FLOPs (1E21)": [1.0, 100.0, np.nan, 84.0], "Model Family": list("aabb")})
    assert split_cutoff(df).tolist() == [True, False, False, True]  # NaN FLOPs -> test
    y = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    assert split_top_fraction(y, 0.4).tolist() == [True, False, True, False, True]
    s = SplitSpec.parse("cutoff:FLOPs=22")
    assert (s.kind, s.value) == ("cutoff", 22.0)
    assert SplitSpec.parse("top:0.1").value == 0.1
    assert SplitSpec.parse("family:Llama-2").value == "Llama-2"
    for bad in ("cutoff:", "top:1.5", "random"):
        with pytest.raises(InputError):
            SplitSpec.parse(bad)


@given(st.lists(st.floats(0, 1), min_size=2, max_size=40), st.floats(0.0, 0.95))
@settings(max_examples=60, deadline=None)
def test_top_fraction_holds_out_the_best(ys, q):
    y = np.array(ys)
    train = split_top_fraction(y, q)
    assert (~train).sum() == int(q * len(y))
    if (~train).any() and train.any():
        assert y[~train].min() >= y[train].max()


def test_family_compute_fits_and_equivalent_compute():
    f = np.array([1, 10, 100, 1, 10, 100.0])
    v = np.r_[0.5 * np.log10(f[:3]), 0.2 * np.log10(f[3:]) + 1]
    r = family_compute_fits(v, f, list("aaabbb"))
    np.testing.assert_allclose(r.families["slope"], [0.5, 0.2])
    assert r.mean_r2 == pytest.approx(1.0)
    assert r.pooled_r2 < 1.0
    z = 2 * np.log10(f) - 1
    eq = equivalent_compute(z, list("aaabbb"), f, "a")
    np.testing.assert_allclose(eq.x_log10, np.log10(f), atol=1e-12)
    assert equivalent_compute(z, list("abcdef"), f, "a") is None
    with pytest.raises(InputError):
        equivalent_compute(z, list("abcdef"), f, "a", strict=True)


def test_v_optimal_matches_brute_force():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(15, 2))
    fams = np.repeat(list("abcde"), 3)
    res = v_optimal_subsets(X, fams, budgets=(6, 9), max_families=5)
    assert res.n_combinations == 31
    M = X.T @ X
    for b in (6, 9):
        best = -np.inf
        for k in range(1, 6):
            for c in itertools.combinations("abcde", k):
                m = np.isin(fams, c)
                if m.sum() <= b and m.sum() >= 3:
                    best = max(best, -np.trace(M @ np.linalg.inv(X[m].T @ X[m])))
        assert res.best(b)["objective"] == pytest.approx(best)
    g = v_optimal_subsets(X, fams, budgets=(6, 9), mode="greedy")
    assert all(g.table["n_models"] <= [6, 9])
    assert np.all(g.table["objective"] <= res.table["objective"] + 1e-9)
    forced = v_optimal_subsets(X, fams, budgets=(6,), include=("e",))
    assert "e" in forced.best(6)["families"]


def test_aue_trapezoid():
    q = np.linspace(0.6, 0.05, 30)
    assert aue(q, np.ones(30)) == pytest.approx(0.55)
    assert aue(q, np.r_[np.ones(29), np.nan]) == pytest.approx(0.55 - 0.55 / 29)


def _synthetic_table(n_fam=6, per=5, seed=0):
    """Families with different compute efficiency; a task that is a sigmoid of the latent capability."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_fam):
        eff = rng.uniform(-1, 1)
        for i in range(per):
            logc = 0.5 + i * 0.5 + rng.uniform(0, 0.2)
            cap = 0.6 * logc + eff
            bench = 1 / (1 + np.exp(-(cap * rng.uniform(0.8, 1.2, 4) - 1.5)))
            rows.append({"Model": f"f{f}-{i}", "Model Family": f"F{f}", "FLOPs (1E21)": 10**logc,
                         "Model Size (B)": 10 ** (logc / 2), **{f"B{j}": bench[j] for j in range(4)},
                         "task": 1 / (1 + np.exp(-(2.5 * cap - 4)))})
    return pd.DataFrame(rows)


def test_fit_law_end_to_end_synthetic():
    df = _synthetic_table()
    r = fit_law(df, "task", metrics=["B0", "B1", "B2", "B3"], n_pcs=1, split=SplitSpec("cutoff", 30.0),
                reference_family="F0")
    assert r.n_train + r.n_test == len(df)
    assert r.mse_test < 0.01
    assert r.equivalent is not None and np.isfinite(r.predictions["x_equiv_log10"]).all()
    base = fit_law(df, "task", predictor="flops", split=SplitSpec("cutoff", 30.0))
    assert base.mse_test > r.mse_test  # compute alone ignores family efficiency
    with pytest.raises(InputError):
        fit_law(df, "task", metrics=["B0", "B1"], split=SplitSpec("cutoff", 1.0))  # < 3 training models
    with pytest.raises(InputError):
        fit_law(df.assign(task=np.nan), "task", metrics=["B0", "B1"])


def test_fit_capabilities_train_only():
    df = _synthetic_table()
    caps = fit_capabilities(df.iloc[:20], df.iloc[20:], ["B0", "B1", "B2", "B3"], n_components=2)
    caps2 = fit_capabilities(df.iloc[:20], None, ["B0", "B1", "B2", "B3"], n_components=2)
    np.testing.assert_allclose(caps.loadings, caps2.loadings)  # test rows never influence the fit
    assert caps.scores_test.shape == (len(df) - 20, 2)


@pytest.mark.parametrize("seed", [0, 3])
def test_greedy_local_search_finds_the_exhaustive_optimum(seed):
    # 16 families of 1-6 models: the exchange moves (1-for-3 etc.) reach the enumerated optimum at every budget
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, 16)
    fams = np.repeat([f"f{i}" for i in range(16)], sizes)
    X = rng.normal(size=(len(fams), 3)) * rng.uniform(0.3, 2, size=(len(fams), 1))
    X -= X.mean(0)
    budgets = (6, 10, 14, 18, 24)
    ex = v_optimal_subsets(X, fams, budgets=budgets, mode="exhaustive")
    gr = v_optimal_subsets(X, fams, budgets=budgets, mode="greedy")
    assert np.allclose(gr.table["objective"], ex.table["objective"], rtol=1e-9)
    assert all(gr.table["n_models"] <= list(budgets))


def test_greedy_matches_exhaustive_on_the_paper_pool(data_dir):
    # the paper's selection pool (45 complete models, 14 families; spec §2.7, T14): budgets 4..36
    from scalescope.observational.analyses import selection_pool
    from scalescope.observational.constants import FAMILY_COL

    pool, X = selection_pool()
    budgets = (4, 8, 12, 16, 20, 24, 28, 32, 36)
    ex = v_optimal_subsets(X, pool[FAMILY_COL], budgets=budgets, mode="exhaustive")
    gr = v_optimal_subsets(X, pool[FAMILY_COL], budgets=budgets, mode="greedy")
    assert np.allclose(gr.table["objective"], ex.table["objective"], rtol=1e-9)
    assert ex.best(12)["objective"] == pytest.approx(-6.31, abs=0.01)  # the notebook's J(12)


def test_greedy_forced_families_over_budget_is_infeasible():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    fams = np.repeat(list("abcd"), 3)
    for mode in ("exhaustive", "greedy"):
        r = v_optimal_subsets(X, fams, budgets=(2, 6), include=("a",), mode=mode)
        assert r.table["objective"].iloc[0] == -np.inf and r.table["families"].iloc[0] == ()
        assert "a" in r.best(6)["families"]
