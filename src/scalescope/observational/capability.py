"""Capability space: iterative PCA imputation and PCA on the benchmark matrix (spec §1.3-§1.4).

Ruan et al. (2024), Sec 3.2: a model's benchmark vector is summarised by its first K principal components
("capability measures"). Both the imputer and the PCA are fitted on the *training* models only and applied to the
test models with the train-fitted objects (spec §4.1), so the hold-out evaluation stays honest.

The numerics come from the fit core: :class:`scalescope.fit.PCAImputer` (the authors' imputation: standardise with
the train mean and population std over observed entries, fill with 0, refit a rank-1 PCA on the filled matrix each
iteration, overwrite only the missing cells; we stop when the missing cells stop moving instead of running 1000
iterations) and :class:`scalescope.fit.PCA` (no standardisation, largest-|loading| entry positive). Targets T2/T3
reproduce with them (spec §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.fit import PCA, PCAImputer
from scalescope.observational.constants import MODEL_COL, ImputeConfig
from scalescope.results import Result


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
    # The train-fitted imputer and PCA, so models seen later are placed exactly as the test models were (spec §4.1).
    imputer: PCAImputer | None = field(default=None, repr=False, compare=False)
    pca: PCA | None = field(default=None, repr=False, compare=False)
    clip: tuple[float, float] | None = None

    def impute(self, frame: pd.DataFrame) -> np.ndarray:
        """The ``metrics`` columns of ``frame`` with missing cells filled by the train-fitted imputer (then clipped).

        Rows are imputed independently of each other, exactly as the test models were in :func:`fit_capabilities`.
        """
        if self.imputer is None:
            raise InputError("capabilities: this result was built without its fitted imputer; refit it")
        missing = [m for m in self.metrics if m not in frame.columns]
        if missing:
            raise InputError(f"benchmarks: column(s) {', '.join(missing)} missing")
        X = frame[list(self.metrics)].to_numpy(dtype=float)
        if not len(X):
            return X.reshape(0, len(self.metrics))
        out = self.imputer.transform(X)
        return np.clip(out, *self.clip) if self.clip is not None else out

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Capability scores (n, n_components) of new models in this space: imputed, then projected.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame(rng.uniform(size=(8, 3)), columns=["a", "b", "c"]).assign(Model=list("abcdefgh"))
        >>> res = fit_capabilities(df, None, ["a", "b", "c"], n_components=2)
        >>> bool(np.allclose(res.transform(df.iloc[:2]), res.scores_train[:2]))
        True
        """
        imp = self.impute(frame)
        return self.pca.transform(imp) if len(imp) else np.zeros((0, self.loadings.shape[0]))

    def to_dict(self) -> dict:
        from scalescope.results import to_jsonable

        skip = {"imputer", "pca"}  # fitted objects, not data
        return {k: to_jsonable(getattr(self, k)) for k in self.__dataclass_fields__ if k not in skip}

    def loadings_frame(self) -> pd.DataFrame:
        idx = [f"PC-{i + 1}" for i in range(len(self.loadings))]
        return pd.DataFrame(self.loadings, index=idx, columns=list(self.metrics))

    def to_frame(self) -> pd.DataFrame:
        cols = [f"PC-{i + 1}" for i in range(self.scores_train.shape[1])]
        tr = pd.DataFrame(self.scores_train, columns=cols).assign(Model=self.train_models, split="train")
        te = pd.DataFrame(self.scores_test, columns=cols).assign(Model=self.test_models, split="test")
        return pd.concat([tr, te], ignore_index=True)


def make_imputer(cfg: ImputeConfig = ImputeConfig()) -> PCAImputer:
    """The fit core's imputer configured as the authors' (spec §1.3); ``stop="upstream"`` runs all iterations."""
    return PCAImputer(cfg.n_components, max_iter=cfg.max_iter, tol=cfg.tol, standardize=True, recenter=True,
                      clip=cfg.clip, exact_upstream=cfg.stop == "upstream")


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
    if len(metrics) < 2:
        raise InputError(f"benchmarks: need at least 2 benchmark columns for a capability PCA, got {len(metrics)}")
    Xtr = train[list(metrics)].to_numpy(dtype=float)
    Xte = test[list(metrics)].to_numpy(dtype=float)
    if len(Xtr) < 2:
        raise InputError(f"benchmarks: need at least 2 training models for a capability PCA, got {len(Xtr)}")
    imp = make_imputer(impute)
    Itr = imp.fit_transform(Xtr)
    if impute.clip is not None:  # upstream clips the whole matrix, not only the imputed cells
        Itr = np.clip(Itr, *impute.clip)
    Ite = imp.transform(Xte) if len(Xte) else Xte.reshape(0, len(metrics))
    if impute.clip is not None and len(Ite):
        Ite = np.clip(Ite, *impute.clip)
    pca = PCA(min(n_components, *Itr.shape)).fit(Itr)
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
        imputer=imp,
        pca=pca,
        clip=impute.clip,
    )
