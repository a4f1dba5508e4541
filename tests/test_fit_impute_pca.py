"""Tests for scalescope.fit.PCAImputer and scalescope.fit.PCA (obsscaling spec §1.3-1.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.multivariate.pca import PCA as SMPCA

from scalescope.errors import InputError, NotFittedError
from scalescope.fit import PCA, PCAImputer

STATSMODELS_FILL_TOL = 1e-8  # both run to tol 1e-12 on the same EM; round-off differences only


def _matrix(n=80, p=8, rank=2, noise=0.01, frac=0.03, seed=0):
    rng = np.random.default_rng(seed)
    X = 0.5 + 0.1 * rng.normal(size=(n, rank)) @ rng.normal(size=(rank, p)) + noise * rng.normal(size=(n, p))
    Xm = X.copy()
    Xm[rng.random(X.shape) < frac] = np.nan
    return X, Xm


@pytest.mark.parametrize("k", [1, 2])
def test_imputer_matches_statsmodels_fill_em(k):
    # statsmodels fill-em: standardise once (nanmean, ddof=0 nanstd), uncentred rank-k SVD each iteration.
    # Ours with standardize=True, recenter=False is the same algorithm.
    _, Xm = _matrix()
    sm = SMPCA(Xm, ncomp=k, missing="fill-em", tol_em=1e-13, max_em_iter=20000)
    ours = PCAImputer(k, recenter=False, tol=1e-12, max_iter=20000).fit_transform(Xm)
    np.testing.assert_allclose(ours, np.asarray(sm._adjusted_data), atol=STATSMODELS_FILL_TOL)


def test_imputer_exact_on_low_rank_both_centrings():
    X, Xm = _matrix(noise=0.0, rank=1)
    for recenter in (True, False):
        imp = PCAImputer(recenter=recenter, tol=1e-12, max_iter=5000)
        # Uncentred EM on centred-rank-1 data is rank 2 after standardisation: only the re-centring one is exact.
        filled = imp.fit_transform(Xm)
        if recenter:
            np.testing.assert_allclose(filled, X, atol=1e-8)
            assert imp.converged_


def test_imputer_converges_and_matches_exact_upstream():
    _, Xm = _matrix()
    fast = PCAImputer(tol=1e-9)
    a = fast.fit_transform(Xm)
    assert fast.converged_ and fast.n_iter_ < 1000
    up = PCAImputer(exact_upstream=True)
    b = up.fit_transform(Xm)
    assert up.n_iter_ == 1000
    np.testing.assert_allclose(a, b, atol=1e-8)
    np.testing.assert_array_equal(a[~np.isnan(Xm)], Xm[~np.isnan(Xm)])


def test_imputer_transform_uses_train_fit_only():
    X, Xm = _matrix(noise=0.0, rank=1, n=60)
    train, test = Xm[:40], Xm[40:].copy()
    test[np.arange(5), np.arange(5)] = np.nan
    imp = PCAImputer(tol=1e-12).fit(train)
    before = (imp.mean_.copy(), imp.components_.copy())
    filled = imp.transform(test)
    np.testing.assert_allclose(filled, X[40:], atol=1e-8)  # rank-1 truth is recovered from the train PCA
    np.testing.assert_array_equal(imp.mean_, before[0])
    np.testing.assert_array_equal(imp.components_, before[1])
    # Exact-upstream transform iterates 1000 times and lands on the same fixed point.
    np.testing.assert_allclose(PCAImputer(exact_upstream=True).fit(train).transform(test), filled, atol=1e-8)


def test_imputer_clip_and_dataframe():
    _, Xm = _matrix()
    df = pd.DataFrame(Xm, columns=[f"b{i}" for i in range(8)], index=[f"m{i}" for i in range(80)])
    df.iloc[0, 0] = np.nan
    df.iloc[:, 1] = df.iloc[:, 1] * 10  # push values out of [0, 1]
    out = PCAImputer(clip=(0.0, 1.0)).fit_transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(df.columns)
    mask = df.isna().to_numpy()
    vals = out.to_numpy()[mask]
    assert ((vals >= 0) & (vals <= 1)).all()
    assert not out.isna().any().any()


def test_imputer_errors():
    with pytest.raises(NotFittedError):
        PCAImputer().transform(np.ones((3, 3)))
    X = np.ones((5, 3))
    X[:, 1] = np.nan
    with pytest.raises(InputError, match="no observed values"):
        PCAImputer().fit(X)
    with pytest.raises(InputError, match="n_components"):
        PCAImputer(n_components=3).fit(np.random.default_rng(0).random((5, 3)))
    imp = PCAImputer().fit(np.random.default_rng(0).random((5, 3)))
    with pytest.raises(InputError, match="columns"):
        imp.transform(np.ones((2, 4)))


# -- PCA -----------------------------------------------------------------------------------------------------------
def test_pca_matches_svd_and_evr():
    X, _ = _matrix(noise=0.05)
    pca = PCA(n_components=3).fit(X)
    C = X - X.mean(0)
    s = np.linalg.svd(C, compute_uv=False)
    np.testing.assert_allclose(pca.explained_variance_ratio_, (s**2 / (s**2).sum())[:3], rtol=1e-10)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(3), atol=1e-12)
    full = PCA(8).fit(X)
    np.testing.assert_allclose(full.inverse_transform(full.transform(X)), X, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), standardize=st.booleans())
def test_pca_sign_is_deterministic(seed, standardize):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 5)) @ rng.normal(size=(5, 5))
    ref = PCA(3, standardize=standardize).fit(X)
    perm = PCA(3, standardize=standardize).fit(X[rng.permutation(30)])
    neg = PCA(3, standardize=standardize).fit(-X)
    np.testing.assert_allclose(perm.components_, ref.components_, atol=1e-8)
    np.testing.assert_allclose(neg.components_, ref.components_, atol=1e-8)
    comps = ref.components_
    top = comps[np.arange(3), np.abs(comps).argmax(axis=1)]
    assert (top > 0).all()
    # Scores flip with the data, components do not.
    np.testing.assert_allclose(neg.transform(-X), -ref.transform(X), atol=1e-8)


def test_pca_sum_positive_and_frame():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.random((20, 4)), columns=list("abcd"))
    pca = PCA(2, sign="sum-positive").fit(df)
    assert (pca.components_.sum(axis=1) >= 0).all()
    scores = pca.transform(df)
    assert list(scores.columns) == ["PC1", "PC2"]
    assert list(pca.loadings_frame().columns) == ["a", "b", "c", "d", "EVR"]


def test_pca_errors():
    with pytest.raises(NotFittedError):
        PCA(2).transform(np.ones((3, 3)))
    with pytest.raises(InputError, match="NaN"):
        PCA(1).fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(InputError, match="n_components"):
        PCA(5).fit(np.ones((3, 3)))
    with pytest.raises(InputError, match="sign"):
        PCA(1, sign="up").fit(np.eye(3))
