"""Capability space: iterative PCA imputation and PCA on the benchmark matrix (spec §1.3-§1.4).

Ruan et al. (2024), Sec 3.2: a model's benchmark vector is summarised by its first K principal components
("capability measures"). Both the imputer and the PCA are fitted on the *training* models only and applied to the
test models with the train-fitted objects (spec §4.1), so the hold-out evaluation stays honest.

Implemented here (not in :mod:`scalescope.fit`) because the reproduction needs the authors' exact imputation:
standardise with the train mean and population std over observed entries, fill with 0, refit a rank-1 PCA on the
filled matrix each iteration and overwrite only the missing cells. The fit core's ``PCAImputer`` can replace this
once it is shown to give the same numbers (the lead reconciles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.errors import InputError, check_fitted
from scalescope.observational.constants import MODEL_COL, ImputeConfig
from scalescope.results import Result


def _pca_fit(Z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and SVD: returns (mean, components (k x p), singular values (all))."""
    mu = Z.mean(axis=0)
    _, s, vt = np.linalg.svd(Z - mu, full_matrices=False)
    return mu, vt[:k], s


def _sign_fix(components: np.ndarray) -> np.ndarray:
    """Flip each component so that its largest-|loading| entry is positive (deterministic sign, spec §1.4)."""
    idx = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), idx])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


class PCAImputer:
    """Iterative rank-k PCA imputation fitted on a training matrix (spec §1.3).

    Parameters
    ----------
    n_components, tol, max_iter, clip, stop
        See :class:`~scalescope.observational.constants.ImputeConfig`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.1, 0.2], [0.3, 0.5], [0.5, np.nan], [0.7, 0.9]])
    >>> imp = PCAImputer().fit(X)
    >>> bool(0.5 < imp.transform(X)[2, 1] < 0.9)
    True
    """

    def __init__(self, n_components: int = 1, tol: float = 1e-4, max_iter: int = 1000,
                 clip: tuple[float, float] | None = (0.0, 1.0), stop: str = "missing"):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.clip = clip
        self.stop = stop

    @classmethod
    def from_config(cls, cfg: ImputeConfig) -> PCAImputer:
        return cls(cfg.n_components, cfg.tol, cfg.max_iter, cfg.clip, cfg.stop)

    def _iterate(self, Z: np.ndarray, miss: np.ndarray, refit: bool) -> tuple[np.ndarray, int]:
        mu, comps = getattr(self, "pca_mean_", None), getattr(self, "pca_components_", None)
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007 - n_iter is reported
            if refit:
                mu, comps, _ = _pca_fit(Z, self.n_components)
            rec = (Z - mu) @ comps.T @ comps + mu
            if self.stop == "upstream":
                # The authors' test compares every entry with a rank-k reconstruction and so never fires (spec §1.3).
                done = np.allclose(Z, rec, atol=self.tol)
                Z[miss] = rec[miss]
            else:
                delta = np.max(np.abs(rec[miss] - Z[miss])) if miss.any() else 0.0
                Z[miss] = rec[miss]
                done = delta < self.tol
            if done:
                break
        if refit:
            self.pca_mean_, self.pca_components_ = mu, comps
        return Z, n_iter

    def fit(self, X) -> PCAImputer:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] < 2:
            raise InputError(f"benchmark matrix: need at least 2 models to impute, got shape {X.shape}")
        obs = ~np.isnan(X)
        if not obs.any(axis=0).all():
            raise InputError("benchmark matrix: a benchmark column has no observed value in the training models")
        self.mean_ = np.nanmean(X, axis=0)
        std = np.nanstd(X, axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        Z = np.where(obs, (X - self.mean_) / self.scale_, 0.0)
        Z, self.n_iter_ = self._iterate(Z, ~obs, refit=True)
        self.train_imputed_ = self._finish(Z)
        return self

    def _finish(self, Z: np.ndarray) -> np.ndarray:
        out = Z * self.scale_ + self.mean_
        return np.clip(out, *self.clip) if self.clip is not None else out

    def transform(self, X) -> np.ndarray:
        """Impute ``X`` with the train scaler and the last train-fitted PCA (no refit, spec §1.3 step 5)."""
        check_fitted(self, "pca_components_")
        X = np.asarray(X, dtype=float)
        obs = ~np.isnan(X)
        Z = np.where(obs, (X - self.mean_) / self.scale_, 0.0)
        if (~obs).any():
            Z, _ = self._iterate(Z, ~obs, refit=False)
        return self._finish(Z)


class CapabilityPCA:
    """PCA of (imputed) benchmark scores with a deterministic sign, fitted on training models (spec §1.4).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(20, 4))
    >>> pca = CapabilityPCA(n_components=2).fit(X)
    >>> pca.transform(X).shape
    (20, 2)
    """

    def __init__(self, n_components: int = 5):
        self.n_components = n_components

    def fit(self, X) -> CapabilityPCA:
        X = np.asarray(X, dtype=float)
        if np.isnan(X).any():
            raise InputError("benchmark matrix: PCA needs a complete (imputed) matrix")
        k = min(self.n_components, *X.shape)
        mu, comps, s = _pca_fit(X, k)
        self.mean_ = mu
        self.components_ = _sign_fix(comps)
        var = s**2
        self.explained_variance_ratio_ = (var / var.sum())[:k] if var.sum() > 0 else np.zeros(k)
        return self

    def transform(self, X) -> np.ndarray:
        check_fitted(self, "components_")
        return (np.asarray(X, dtype=float) - self.mean_) @ self.components_.T


@dataclass(frozen=True)
class CapabilityResult(Result):
    """Capability scores of train and test models plus the PCA that produced them."""

    metrics: tuple[str, ...]
    train_models: tuple[str, ...]
    test_models: tuple[str, ...]
    scores_train: np.ndarray
    scores_test: np.ndarray
    loadings: np.ndarray  # (n_components, n_metrics)
    explained_variance_ratio: np.ndarray
    imputed_train: np.ndarray
    imputed_test: np.ndarray

    def loadings_frame(self) -> pd.DataFrame:
        idx = [f"PC-{i + 1}" for i in range(len(self.loadings))]
        return pd.DataFrame(self.loadings, index=idx, columns=list(self.metrics))

    def to_frame(self) -> pd.DataFrame:
        cols = [f"PC-{i + 1}" for i in range(self.scores_train.shape[1])]
        tr = pd.DataFrame(self.scores_train, columns=cols).assign(Model=self.train_models, split="train")
        te = pd.DataFrame(self.scores_test, columns=cols).assign(Model=self.test_models, split="test")
        return pd.concat([tr, te], ignore_index=True)


def fit_capabilities(train: pd.DataFrame, test: pd.DataFrame | None, metrics, *, n_components: int = 5,
                     impute: ImputeConfig = ImputeConfig()) -> CapabilityResult:
    """Impute then PCA the ``metrics`` columns, fitted on ``train`` only; ``test`` is transformed (spec §1.3-§1.4).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.uniform(size=(10, 3)), columns=["a", "b", "c"]).assign(Model=[f"m{i}" for i in range(10)])
    >>> res = fit_capabilities(df.iloc[:7], df.iloc[7:], ["a", "b", "c"], n_components=2)
    >>> res.scores_test.shape
    (3, 2)
    """
    metrics = tuple(metrics)
    missing = [m for m in metrics if m not in train.columns]
    if missing:
        raise InputError(f"benchmarks: column(s) {', '.join(missing)} missing")
    test = train.iloc[:0] if test is None else test
    Xtr = train[list(metrics)].to_numpy(dtype=float)
    Xte = test[list(metrics)].to_numpy(dtype=float)
    imp = PCAImputer.from_config(impute).fit(Xtr)
    Itr = imp.train_imputed_
    Ite = imp.transform(Xte) if len(Xte) else Xte.reshape(0, len(metrics))
    pca = CapabilityPCA(n_components).fit(Itr)
    return CapabilityResult(
        metrics=metrics,
        train_models=tuple(train[MODEL_COL].astype(str)),
        test_models=tuple(test[MODEL_COL].astype(str)),
        scores_train=pca.transform(Itr),
        scores_test=pca.transform(Ite) if len(Ite) else np.zeros((0, pca.components_.shape[0])),
        loadings=pca.components_,
        explained_variance_ratio=pca.explained_variance_ratio_,
        imputed_train=Itr,
        imputed_test=Ite,
    )
