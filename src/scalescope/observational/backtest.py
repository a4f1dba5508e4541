"""Backtests of observational laws: the cutoff-robustness (AUE) sweep and cluster-bootstrap CIs (spec §1.11, issue 3).

AUE: for q in linspace(0.6, 0.05, 30), hold out the top-q fraction of models by the target, fit, record test MSE;
``AUE = trapezoid(MSE_test, q)`` over ascending q (an area; divide by 0.55 for a mean). Run serially (the upstream
process pool deadlocked) with ``np.trapezoid`` (``np.trapz`` is gone in numpy 2). Failed fits are skipped.

Bootstrap: resample training *families* with replacement (models within a family are not independent;
:func:`scalescope.fit.cluster_bootstrap`), refit the whole pipeline (imputation, PCA, link) and collect per-model
predictions and test MSE; percentile intervals.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.fit.bootstrap import cluster_bootstrap, percentile_interval
from scalescope.observational.constants import AUE_Q_NUM, AUE_Q_START, AUE_Q_STOP, FAMILY_COL, MODEL_COL
from scalescope.observational.law import LawResult, fit_law
from scalescope.observational.splits import split_top_fraction
from scalescope.results import Result


def aue(q, mse) -> float:
    """Trapezoid area of ``mse`` over ascending ``q`` (NaN points skipped)."""
    q = np.asarray(q, dtype=float)
    mse = np.asarray(mse, dtype=float)
    ok = np.isfinite(mse)
    o = np.argsort(q[ok])
    return float(np.trapezoid(mse[ok][o], q[ok][o]))


def q_grid() -> np.ndarray:
    return np.linspace(AUE_Q_START, AUE_Q_STOP, AUE_Q_NUM)


@dataclass(frozen=True)
class AUEResult(Result):
    """Test MSE per (predictor, q) and the AUE per predictor."""

    target: str
    curves: pd.DataFrame  # predictor, q, mse_test, n_test
    aue: dict

    def to_frame(self) -> pd.DataFrame:
        return self.curves


def aue_sweep(df: pd.DataFrame, target: str, predictors, *, q=None, progress=None, **law_kwargs) -> AUEResult:
    """Run the top-q sweep for each ``(name, kind, n_pcs)`` predictor; ``law_kwargs`` go to :func:`fit_law`."""
    q = q_grid() if q is None else np.asarray(q, dtype=float)
    rows = []
    for name, kind, k in predictors:
        for qi in q:
            try:
                r = fit_law(df, target, predictor=kind, n_pcs=max(k, 1),
                            split=lambda d, y, qi=qi: split_top_fraction(y, qi), **law_kwargs)
                rows.append({"predictor": name, "q": qi, "mse_test": r.mse_test, "n_test": r.n_test})
            except (InputError, np.linalg.LinAlgError, ValueError):
                rows.append({"predictor": name, "q": qi, "mse_test": np.nan, "n_test": 0})
            if progress is not None:
                progress.update(1)
    curves = pd.DataFrame(rows)
    areas = {name: aue(g["q"], g["mse_test"]) for name, g in curves.groupby("predictor", sort=False)}
    return AUEResult(target=target, curves=curves, aue=areas)


@dataclass(frozen=True)
class LawBootstrap(Result):
    """Percentile CIs of a law from a family-cluster bootstrap (:func:`scalescope.fit.cluster_bootstrap`).

    ``params`` holds the full-data train/test MSE; ``conf_int()`` their intervals (rows ``mse_train``, ``mse_test``,
    columns ``lower``/``upper``); ``predictions_ci`` the per-model prediction intervals.
    """

    n_boot: int
    level: float
    mse_test_ci: tuple[float, float]
    mse_train_ci: tuple[float, float]
    predictions_ci: pd.DataFrame  # Model, y_pred_lo, y_pred_hi
    n_failed: int
    mse_train: float = float("nan")
    mse_test: float = float("nan")

    @property
    def params(self) -> pd.Series:
        return pd.Series({"mse_train": self.mse_train, "mse_test": self.mse_test})

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Intervals at the bootstrap's ``level`` (another ``alpha`` needs a rerun with ``level=1-alpha``)."""
        if alpha is not None and not np.isclose(1 - alpha, self.level):
            raise InputError(f"alpha={alpha}: this bootstrap was run at level {self.level}; rerun with level={1 - alpha}")
        return pd.DataFrame([self.mse_train_ci, self.mse_test_ci], index=["mse_train", "mse_test"],
                            columns=["lower", "upper"])

    def to_frame(self) -> pd.DataFrame:
        return self.predictions_ci


def cluster_bootstrap_law(df: pd.DataFrame, base: LawResult, *, n_boot: int = 200, level: float = 0.95,
                          seed: int = 0, progress=None, **law_kwargs) -> LawBootstrap:
    """Resample the training families of ``base`` with replacement, refit, and take percentile intervals.

    ``df`` and ``law_kwargs`` must be what produced ``base`` (minus the split, which is taken from ``base``). The
    resampling is :func:`scalescope.fit.cluster_bootstrap` over the training rows (clusters = families); the test
    rows ride along unresampled. A replicate whose refit fails is counted in ``n_failed`` and left out.
    """
    pred = base.predictions
    train_models = pred.loc[pred["split"] == "train", MODEL_COL].tolist()
    test_models = pred.loc[pred["split"] == "test", MODEL_COL].tolist()
    d = df.loc[df[MODEL_COL].astype(str).isin(train_models + test_models)].reset_index(drop=True)
    is_train = d[MODEL_COL].astype(str).isin(train_models).to_numpy()
    all_models = pred[MODEL_COL].tolist()
    train_rows = d.loc[is_train].reset_index(drop=True)
    test_rows = d.loc[~is_train]
    # the original training rows ride along as extra (unscored) test rows so every model gets a prediction;
    # test-row imputation and projection are row-wise, so they do not influence each other
    ride = train_rows.assign(**{MODEL_COL: ["@@" + m for m in train_rows[MODEL_COL].astype(str)]})
    calls = [0]

    def statistic(boot_train: pd.DataFrame) -> np.ndarray:
        calls[0] += 1
        boot_train = boot_train.assign(**{MODEL_COL: [f"{m}#{i}" for i, m in enumerate(boot_train[MODEL_COL])]})
        dd = pd.concat([boot_train, test_rows, ride], ignore_index=True)
        mask = np.r_[np.ones(len(boot_train), bool), np.zeros(len(test_rows) + len(ride), bool)]
        try:  # a failing refit raises InputError / LinAlgError: fit.cluster_bootstrap records a NaN replicate
            r = fit_law(dd, base.target, train_mask=mask, **law_kwargs)
        finally:
            if progress is not None and calls[0] > 1:  # call 1 is the full-data estimate
                progress.update(1)
        yp = dict(zip(r.predictions[MODEL_COL], r.predictions["y_pred"], strict=True))
        return np.r_[r.mse_train, r.mse_on(test_models), [yp.get(m, yp.get("@@" + m, np.nan)) for m in all_models]]

    if train_rows[FAMILY_COL].nunique() < 2:  # one family cannot be resampled: no interval, not a fake zero-width one
        nan = (np.nan, np.nan)
        return LawBootstrap(n_boot=n_boot, level=level, mse_test_ci=nan, mse_train_ci=nan, n_failed=n_boot,
                            predictions_ci=pd.DataFrame({MODEL_COL: all_models, "y_pred_lo": np.nan,
                                                         "y_pred_hi": np.nan}),
                            mse_train=base.mse_train, mse_test=base.mse_test)
    res = cluster_bootstrap(train_rows, statistic, clusters=train_rows[FAMILY_COL].astype(str).to_numpy(),
                            n_boot=n_boot, ci=level, random_state=seed)
    reps = res.replicates
    failed = int(np.isnan(reps).all(axis=1).sum())
    a = (1 - level) / 2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a model no replicate could predict: NaN interval
        lo, hi = np.nanquantile(reps[:, 2:], a, axis=0), np.nanquantile(reps[:, 2:], 1 - a, axis=0)
    pci = pd.DataFrame({MODEL_COL: all_models, "y_pred_lo": lo, "y_pred_hi": hi})
    return LawBootstrap(n_boot=n_boot, level=level, mse_test_ci=percentile_interval(reps[:, 1], level),
                        mse_train_ci=percentile_interval(reps[:, 0], level), predictions_ci=pci, n_failed=failed,
                        mse_train=float(res.estimate[0]), mse_test=float(res.estimate[1]))


@dataclass(frozen=True)
class LOFOResult(Result):
    """Leave-one-family-out backtest: one law per held-out family."""

    target: str
    table: pd.DataFrame  # family, n_train, n_test, mse_train, mse_test
    mean_mse_test: float
    pooled_mse_test: float  # over all held-out models

    def to_frame(self) -> pd.DataFrame:
        return self.table


def leave_one_family_out(df: pd.DataFrame, target: str, *, families=None, progress=None, **law_kwargs
                         ) -> LOFOResult:
    """Hold out each family in turn (train on all others), as the cross-family check of spec §1.8 / §5 (Sloth)."""
    fams = df[FAMILY_COL].astype(str)
    has_y = pd.to_numeric(df[target], errors="coerce").notna()
    todo = list(pd.unique(fams[has_y])) if families is None else list(families)
    rows, sq = [], []
    for f in todo:
        try:
            r = fit_law(df, target, train_mask=(fams != f).to_numpy(), **law_kwargs)
        except (InputError, np.linalg.LinAlgError, ValueError):
            rows.append({"family": f, "n_train": 0, "n_test": 0, "mse_train": np.nan, "mse_test": np.nan})
            continue
        p = r.predictions
        te = p[p["split"] == "test"]
        sq.extend(((te["y_pred"] - te["y"]) ** 2).tolist())
        rows.append({"family": f, "n_train": r.n_train, "n_test": r.n_test, "mse_train": r.mse_train,
                     "mse_test": r.mse_test})
        if progress is not None:
            progress.update(1)
    tab = pd.DataFrame(rows)
    return LOFOResult(target=target, table=tab, mean_mse_test=float(np.nanmean(tab["mse_test"])) if len(tab) else
                      np.nan, pooled_mse_test=float(np.mean(sq)) if sq else np.nan)
