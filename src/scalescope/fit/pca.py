"""Principal component analysis with a deterministic sign convention (Ruan et al. 2024, Sec 3.2; spec §1.4).

Observational scaling laws use the first K principal components of the (imputed) benchmark matrix as "capability
measures". Upstream relies on scikit-learn's ``svd_flip``, whose convention changed between releases, so PC-vs-compute
plots could flip sign. Here the sign is fixed by a documented rule (default ``"max-abs"``: the largest-|loading| entry of
each component is positive, which is what scikit-learn 1.9 gives on the obsscaling data and makes PC-1 all-positive
there). Predictions never depend on the sign; figures do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.errors import InputError, check_fitted
from scalescope.fit._validation import as_2d, check_choice, check_n_features, feature_names

SIGN_CONVENTIONS = ("max-abs", "sum-positive", "none")


def orient_components(components: np.ndarray, sign: str = "max-abs") -> np.ndarray:
    """Return ``components`` (k x p) with each row's sign fixed by ``sign``.

    ``"max-abs"``: the entry with the largest absolute value is positive (ties: the first such entry; entries equal
    within 1e-12 relative count as ties so round-off cannot pick a different one). ``"sum-positive"``: the loadings
    sum to a non-negative number (falls back to ``"max-abs"`` when the sum is ~0). ``"none"``: unchanged.
    """
    comps = np.array(components, dtype=float, copy=True)
    if sign == "none":
        return comps
    for i, row in enumerate(comps):
        absrow = np.abs(row)
        top = absrow.max()
        j = int(np.flatnonzero(absrow >= top * (1 - 1e-12))[0]) if top > 0 else 0
        s = np.sign(row[j]) or 1.0
        if sign == "sum-positive":
            total = row.sum()
            if abs(total) > 1e-12 * max(top, 1e-300):
                s = np.sign(total)
        comps[i] = row * s
    return comps


class PCA:
    """PCA by SVD with a deterministic sign, numpy only.

    Parameters
    ----------
    n_components : int or None, default None
        Number of components to keep (None: ``min(n_samples, n_features)``).
    standardize : bool, default False
        Divide each centred column by its population (ddof=0) standard deviation first. Upstream observational
        scaling uses ``False`` (raw accuracies, centred only).
    sign : {"max-abs", "sum-positive", "none"}, default "max-abs"
        Sign convention of each component (see :func:`orient_components`). Scores flip together with components.

    Attributes
    ----------
    mean_, scale_ : ndarray (p,)
        Column centre and scale (``scale_`` is all ones unless ``standardize``).
    components_ : ndarray (k, p)
        Unit-norm loadings, rows ordered by decreasing variance.
    explained_variance_ : ndarray (k,)
        Variance of each component (ddof=1, as scikit-learn).
    explained_variance_ratio_ : ndarray (k,)
        Share of the total variance (of all components, not just the kept ones).
    singular_values_ : ndarray (k,)
    feature_names_in_ : list of str or None

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import PCA
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 1)) @ np.array([[1.0, 2.0, 0.5]]) + 0.01 * rng.normal(size=(50, 3))
    >>> pca = PCA(n_components=2).fit(X)
    >>> round(float(pca.explained_variance_ratio_[0]), 3)
    1.0
    >>> bool(pca.components_[0, 1] > 0)  # largest loading is positive
    True
    """

    def __init__(self, n_components: int | None = None, *, standardize: bool = False, sign: str = "max-abs"):
        self.n_components = n_components
        self.standardize = standardize
        self.sign = sign

    def fit(self, X, y=None) -> PCA:
        """Fit on ``X`` (n_samples x n_features, no NaN; impute first with :class:`PCAImputer`)."""
        check_choice(self.sign, "sign", SIGN_CONVENTIONS)
        names = feature_names(X)
        A = as_2d(X, "X")
        n, p = A.shape
        k = min(n, p) if self.n_components is None else int(self.n_components)
        if not 1 <= k <= min(n, p):
            raise InputError(f"n_components={self.n_components} must be between 1 and min(n_samples, n_features)="
                             f"{min(n, p)}")
        if n < 2:
            raise InputError(f"X: PCA needs at least 2 rows, got {n}")
        self.mean_ = A.mean(axis=0)
        C = A - self.mean_
        if self.standardize:
            sd = C.std(axis=0)
            # Constant columns carry no variance; scale 1 keeps them at zero instead of dividing by zero.
            self.scale_ = np.where(sd > 0, sd, 1.0)
        else:
            self.scale_ = np.ones(p)
        C /= self.scale_
        _, s, vt = np.linalg.svd(C, full_matrices=False)
        var_all = s**2 / (n - 1)
        total = var_all.sum()
        self.components_ = orient_components(vt[:k], self.sign)
        self.singular_values_ = s[:k]
        self.explained_variance_ = var_all[:k]
        self.explained_variance_ratio_ = var_all[:k] / total if total > 0 else np.zeros(k)
        self.n_components_ = k
        self.n_features_in_ = p
        self.feature_names_in_ = names
        return self

    def transform(self, X):
        """Scores ``(X - mean_) / scale_ @ components_.T``; a DataFrame in gives a DataFrame (PC1..PCk) out."""
        check_fitted(self, "components_")
        A = as_2d(X, "X")
        check_n_features(A, self.n_features_in_)
        Z = ((A - self.mean_) / self.scale_) @ self.components_.T
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(Z, index=X.index, columns=[f"PC{i + 1}" for i in range(Z.shape[1])])
        return Z

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Map scores back to the original feature space (rank-k reconstruction)."""
        check_fitted(self, "components_")
        S = as_2d(Z, "Z")
        if S.shape[1] != self.n_components_:
            raise InputError(f"Z: has {S.shape[1]} columns, expected {self.n_components_} components")
        return (S @ self.components_) * self.scale_ + self.mean_

    def loadings_frame(self) -> pd.DataFrame:
        """Components as a DataFrame (rows PC1..PCk, columns the feature names) with an ``EVR`` column."""
        check_fitted(self, "components_")
        cols = self.feature_names_in_ or [f"x{i}" for i in range(self.n_features_in_)]
        df = pd.DataFrame(self.components_, columns=cols, index=[f"PC{i + 1}" for i in range(self.n_components_)])
        df["EVR"] = self.explained_variance_ratio_
        return df
