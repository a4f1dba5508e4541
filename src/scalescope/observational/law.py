"""One observational scaling law end to end: target normalisation, split, capabilities, link fit, scores (spec §1).

``fit_law`` is the workhorse behind every analysis and the ``scalescope obs fit`` command:

1. normalise the target ``y' = (y - chance)/(ceiling - chance)`` and drop models without a target (spec §1.6);
2. split into train/test (FLOPs cutoff, top-q by target, leave-one-family-out; spec §1.8);
3. build features: the first K capability PCs (imputation + PCA fitted on train only, spec §1.3-§1.4), or a
   compute baseline ``ln(FLOPs_1e21 + 1e-9)`` / ``ln(params_b + 1e-9)``, or one raw benchmark (spec §1.9);
4. fit the sigmoid / floor-sigmoid link (spec §1.6) and score train/test MSE on the normalised scale;
5. map the linear predictor onto the reference family's log10-FLOPs axis ("equivalent compute", spec §1.7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.fit.sigmoid import LinkFit
from scalescope.observational._blas import blas1
from scalescope.observational.capability import CapabilityResult, fit_capabilities
from scalescope.observational.compute import EquivalentCompute, equivalent_compute
from scalescope.observational.constants import (
    BASE_METRICS,
    FAMILY_COL,
    FLOPS_COL,
    MODEL_COL,
    REFERENCE_FAMILY_BASE,
    SIZE_COL,
    ImputeConfig,
)
from scalescope.observational.regression import fit_link
from scalescope.observational.splits import SplitSpec
from scalescope.results import Result

LOG_EPS = 1e-9  # upstream adds 1e-9 inside the log of the compute baselines (spec §1.5); harmless

SplitArg = SplitSpec | Callable[[pd.DataFrame, np.ndarray], np.ndarray] | None


@dataclass(frozen=True)
class LawResult(Result):
    """A fitted observational law with per-model predictions (normalised scale) and train/test scores."""

    target: str
    predictor: str
    n_pcs: int
    link: str
    loss: str
    chance: float
    ceiling: float
    fit: LinkFit
    predictions: pd.DataFrame  # Model, Model Family, split, y, y_pred, z, x_equiv_log10 (+ features)
    mse_train: float
    mse_test: float
    mae_train: float
    mae_test: float
    n_train: int
    n_test: int
    capabilities: CapabilityResult | None = None
    equivalent: EquivalentCompute | None = None
    dropped: tuple[str, ...] = field(default_factory=tuple)  # models dropped for a missing feature (baselines)

    @property
    def params(self) -> pd.Series:
        """The link's parameters (``intercept``, one weight per feature, ``floor`` for the floor link)."""
        return self.fit.params

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals of :attr:`params` (delta-method covariance of the link fit; ``lower``/``upper``).

        Intervals for predictions and test MSE come from the family bootstrap
        (:func:`scalescope.observational.cluster_bootstrap_law`).
        """
        return self.fit.conf_int(alpha, method="wald")

    def mse_on(self, models) -> float:
        """Test MSE restricted to ``models`` (for a common test set across predictors, spec §1.5/§4.4)."""
        p = self.predictions
        sel = p[(p["split"] == "test") & p[MODEL_COL].isin(list(models))]
        return float(np.mean((sel["y_pred"] - sel["y"]) ** 2)) if len(sel) else float("nan")

    def test_models(self) -> list[str]:
        return self.predictions.loc[self.predictions["split"] == "test", MODEL_COL].tolist()

    def metric_weights(self) -> pd.Series | None:
        """Per-benchmark weights ``w_PCᵀ · components[:K]`` (the paper's weight heat-map, spec §3)."""
        if self.capabilities is None:
            return None
        k = self.n_pcs
        w = self.fit.weights @ self.capabilities.loadings[:k]
        return pd.Series(w, index=list(self.capabilities.metrics))

    def formula(self) -> str:
        """The fitted form on the equivalent-compute axis when available, as the paper annotates it (spec §3)."""
        b = self.fit.floor
        if self.predictor in ("flops", "size"):
            # z = w0 + w1·ln(x) = w0 + (w1·ln 10)·log10(x): report on the true log10 axis the figures use
            a, c = self.fit.weights[0] * np.log(10), self.fit.intercept
            unit = "FLOPs_1e21" if self.predictor == "flops" else "params_b"
            core = f"sigmoid({a:.2f}·log10({unit}) {'-' if c < 0 else '+'} {abs(c):.2f})"
        elif self.equivalent is not None and np.isfinite(self.equivalent.slope):
            a, c = self.equivalent.slope, self.equivalent.intercept
            xs = "x" if abs(a - 1) < 5e-3 else f"{a:.2f}x"
            core = f"sigmoid({xs} {'-' if c < 0 else '+'} {abs(c):.2f})"
        else:
            w = self.fit.weights
            terms = " + ".join(f"{wi:.2f}·{n}" for wi, n in zip(w, self.feature_names(), strict=False))
            core = f"sigmoid({self.fit.intercept:.2f} + {terms})"
        return f"y = {1 - b:.2f}{core} + {b:.2f}" if self.link == "sigmoid-floor" else f"y = {core}"

    def feature_names(self) -> list[str]:
        if self.predictor == "pc":
            return [f"PC{i + 1}" for i in range(self.n_pcs)]
        if self.predictor in ("flops", "size"):
            return [f"ln({self.predictor})"]
        return [self.predictor.split(":", 1)[-1]]

    def to_dict(self) -> dict:
        d = {
            "target": self.target, "predictor": self.predictor, "n_pcs": self.n_pcs, "link": self.link,
            "loss": self.loss, "chance": self.chance, "ceiling": self.ceiling,
            "params": dict(zip(self.param_names(), self.fit.params.tolist(), strict=False)),
            "formula": self.formula(), "converged": self.fit.converged,
            "mse_train": self.mse_train, "mse_test": self.mse_test, "mae_train": self.mae_train,
            "mae_test": self.mae_test, "n_train": self.n_train, "n_test": self.n_test,
            "dropped_models": list(self.dropped),
        }
        if self.capabilities is not None:
            d["capabilities"] = {
                "metrics": list(self.capabilities.metrics),
                "explained_variance_ratio": self.capabilities.explained_variance_ratio,
                "loadings": self.capabilities.loadings,
            }
            mw = self.metric_weights()
            d["metric_weights"] = mw.to_dict() if mw is not None else None
        if self.equivalent is not None:
            d["equivalent_compute"] = self.equivalent.to_dict()
        from scalescope.results import to_jsonable

        d = to_jsonable(d)
        d["predictions"] = to_jsonable(self.predictions)
        return d

    def param_names(self) -> list[str]:
        names = ["w0", *[f"w_{n}" for n in self.feature_names()]]
        return [*names, "floor"] if self.link == "sigmoid-floor" else names


def normalise_target(y, chance: float = 0.0, ceiling: float = 1.0) -> np.ndarray:
    """``(y - chance)/(ceiling - chance)`` (upstream ``minmax_norm``, spec §1.6)."""
    if not ceiling > chance:
        raise InputError(f"--ceiling: must be greater than --chance (got chance={chance}, ceiling={ceiling})")
    return (np.asarray(y, dtype=float) - chance) / (ceiling - chance)


def _predictor_features(df: pd.DataFrame, predictor: str) -> np.ndarray:
    if predictor == "flops":
        return np.log(pd.to_numeric(df[FLOPS_COL], errors="coerce").to_numpy(dtype=float) + LOG_EPS)[:, None]
    if predictor == "size":
        return np.log(pd.to_numeric(df[SIZE_COL], errors="coerce").to_numpy(dtype=float) + LOG_EPS)[:, None]
    if predictor.startswith("benchmark:"):
        col = predictor.split(":", 1)[1]
        if col not in df.columns:
            raise InputError(f"predictor: benchmark column {col!r} not in the table")
        return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)[:, None]
    raise InputError(f"predictor: unknown predictor {predictor!r} (pc, flops, size, benchmark:NAME)")


@blas1
def fit_law(
    df: pd.DataFrame,
    target: str,
    *,
    metrics=BASE_METRICS,
    predictor: str = "pc",
    n_pcs: int = 3,
    split: SplitArg = None,
    train_mask: np.ndarray | None = None,
    link: str = "sigmoid",
    loss: str = "huber",
    chance: float = 0.0,
    ceiling: float = 1.0,
    reference_family: str | None = REFERENCE_FAMILY_BASE,
    impute: ImputeConfig = ImputeConfig(),
    n_components: int = 5,
    restrict_train: Callable[[pd.DataFrame], np.ndarray] | None = None,
    min_train: int = 3,
    capability_rows: str = "with_target",
) -> LawResult:
    """Fit one observational (``predictor="pc"``) or baseline law and score it on a hold-out split.

    Parameters
    ----------
    df
        One row per model with ``Model``, ``Model Family``, the benchmark ``metrics``, compute columns and ``target``.
    split
        A :class:`SplitSpec` or ``callable(df_kept, y_norm) -> train mask``, applied *after* models without a target
        are dropped (as upstream). ``train_mask`` (aligned with ``df``) is the alternative; none means all-train.
    restrict_train
        ``callable(df_kept) -> keep mask``: training models outside it are removed (upstream ``heldout_filter``,
        used by subset selection); the test set is unchanged.
    capability_rows
        ``"with_target"`` (emergent/agent notebooks): models without a target are dropped before anything else.
        ``"all"`` (post-training notebooks): imputation and PCA are fitted on every training-split model, including
        those without a target, which are then left out of the regression and the scores.

    Examples
    --------
    >>> from scalescope.observational import datasets, constants as C
    >>> base = datasets.base_models()  # doctest: +SKIP
    >>> em = datasets.join_target(base, datasets.load_table("obsscaling-emergent"),
    ...                           ["word_unscrambling_2_exact_match"])  # doctest: +SKIP
    >>> res = fit_law(datasets.flops_families_only(em), "word_unscrambling_2_exact_match",
    ...               split=SplitSpec("cutoff", 84.0))  # doctest: +SKIP
    >>> round(res.mse_test, 4)  # doctest: +SKIP
    0.0026
    """
    if target not in df.columns:
        raise InputError(f"--target: column {target!r} not found")
    y_all = normalise_target(pd.to_numeric(df[target], errors="coerce"), chance, ceiling)
    has_y = ~np.isnan(y_all)
    if not has_y.any():
        raise InputError(f"--target: column {target!r} has no numeric values for the benchmark models")
    if capability_rows not in ("with_target", "all"):
        raise InputError(f"capability_rows: must be 'with_target' or 'all', got {capability_rows!r}")
    keep = has_y if capability_rows == "with_target" else np.ones(len(df), dtype=bool)
    if train_mask is not None:
        train_mask = np.asarray(train_mask, dtype=bool)[keep]
    d = df.loc[keep].reset_index(drop=True)
    y = y_all[keep]
    if train_mask is None:
        if split is None:
            train_mask = np.ones(len(d), dtype=bool)
        elif isinstance(split, SplitSpec):
            train_mask = split.train_mask(d, y)
        else:
            train_mask = np.asarray(split(d, y), dtype=bool)
    in_fit = np.ones(len(d), dtype=bool)  # rows taking part (train or test); False = held out and unscored
    if restrict_train is not None:
        in_fit &= ~train_mask | np.asarray(restrict_train(d), dtype=bool)
    cap_tr, cap_te = train_mask & in_fit, ~train_mask & in_fit  # rows the capability model sees
    in_fit &= ~np.isnan(y)

    dropped: tuple[str, ...] = ()
    caps = None
    if predictor == "pc":
        metrics = tuple(metrics)
        missing = [m for m in metrics if m not in d.columns]
        if missing:
            raise InputError(f"--benchmarks: column(s) {', '.join(missing)} not found")
        if not 1 <= n_pcs <= len(metrics):
            raise InputError(f"--pcs: must be between 1 and {len(metrics)} (number of benchmarks), got {n_pcs}")
    else:
        X = _predictor_features(d, predictor)
        ok = np.isfinite(X).all(axis=1)
        dropped = tuple(d.loc[~ok & in_fit, MODEL_COL].astype(str))
        in_fit &= ok

    tr = train_mask & in_fit
    te = ~train_mask & in_fit
    if tr.sum() < min_train:
        raise InputError(
            f"--split: only {int(tr.sum())} training model(s) with a target remain; need at least {min_train}"
        )
    if predictor == "pc":
        caps = fit_capabilities(d.loc[cap_tr], d.loc[cap_te], metrics, n_components=max(n_components, n_pcs),
                                impute=impute)
        X = np.full((len(d), n_pcs), np.nan)
        X[cap_tr] = caps.scores_train[:, :n_pcs]
        X[cap_te] = caps.scores_test[:, :n_pcs]
    fit = fit_link(X[tr], y[tr], link=link, loss=loss)
    z = np.full(len(d), np.nan)
    z[in_fit] = fit.linear_predictor(X[in_fit])
    yhat = np.full(len(d), np.nan)
    yhat[in_fit] = fit.predict(X[in_fit])

    split_lab = np.where(tr, "train", np.where(te, "test", "excluded"))
    # Build the predictions table in one go: inserting columns one by one into a DataFrame whose column index is
    # pandas 3's arrow-backed string dtype costs tens of ms per insert, which dominated the AUE sweep.
    cols: dict = {
        MODEL_COL: d[MODEL_COL].astype(str).to_numpy(dtype=object),
        FAMILY_COL: d[FAMILY_COL].astype(str).to_numpy(dtype=object) if FAMILY_COL in d else np.full(len(d), ""),
        "split": split_lab,
        "y": y,
        "y_pred": yhat,
        "z": z,
    }
    for c in (FLOPS_COL, SIZE_COL):
        if c in d.columns:
            cols[c] = pd.to_numeric(d[c], errors="coerce").to_numpy(dtype=float)
    for j, name in enumerate(
        [f"PC{i + 1}" for i in range(n_pcs)] if predictor == "pc" else [f"x_{predictor}"]
    ):
        cols[name] = X[:, j]

    eq = None
    if reference_family is not None and FLOPS_COL in d.columns and FAMILY_COL in d.columns:
        eq = equivalent_compute(z[in_fit], cols[FAMILY_COL][in_fit], cols[FLOPS_COL][in_fit], reference_family)
        if eq is not None:
            xe = np.full(len(d), np.nan)
            xe[in_fit] = eq.x_log10
            cols["x_equiv_log10"] = xe
    pred = pd.DataFrame({k: v[in_fit] for k, v in cols.items()})

    def err(mask, f):
        r = yhat[mask] - y[mask]
        return float(f(r)) if mask.any() else float("nan")

    return LawResult(
        target=target, predictor=predictor, n_pcs=n_pcs if predictor == "pc" else 0, link=link, loss=loss,
        chance=chance, ceiling=ceiling, fit=fit, predictions=pred,
        mse_train=err(tr, lambda r: np.mean(r**2)), mse_test=err(te, lambda r: np.mean(r**2)),
        mae_train=err(tr, lambda r: np.mean(np.abs(r))), mae_test=err(te, lambda r: np.mean(np.abs(r))),
        n_train=int(tr.sum()), n_test=int(te.sum()), capabilities=caps, equivalent=eq, dropped=dropped,
    )
