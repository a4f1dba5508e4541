"""Two predictability verdicts of research/emergence.md: the §3.6 "predictable within 2 SE" rule and Test A2.

- :func:`predictable_within_2se` -- §3.6: a curve is *predictable* when the line in transformed x fits (R^2 >= 0.9,
  the trend label) **and** the leave-top-out backtest of Test G1 lands within 2 SE of every held-out measurement.
  The 2-SE check is the backtest's own ``within_2se`` column (:func:`scalescope.emergence.backtest.backtest`,
  method ``compute-linear``), not a second implementation.
- :func:`per_token_consistency` -- Test A2 (Schaeffer et al. 2023's per-token model): for a multi-token exact
  match, ``acc ~ p_tok^l`` with ``p_tok`` the per-token probability of the target (``1 / perplexity``, or
  ``exp(log p)`` of a soft metric). ``l`` is fitted on the small models (least squares of ``log acc`` on
  ``log p_tok`` through the origin) and the large models' accuracy is predicted from their soft metric alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.emergence.backtest import BacktestResult, default_holdout, holdout_mask, measurement_se
from scalescope.results import Result

SOFT_TO_PTOK = {"ppl": "1/ppl", "perplexity": "1/ppl", "logp_target": "exp", "logp_correct": "exp",
                "p_correct": "identity"}


def predictable_within_2se(assessments, bt: BacktestResult, *, method: str = "compute-linear") -> pd.DataFrame:
    """Per curve labelled ``predictable``: share of held-out predictions within 2 SE, and the combined verdict.

    ``predictable_2se`` is True when every scored held-out model is within 2 SE, False when any is not, and None
    (undecided) where the backtest did not score the curve or the data carry no SE.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace as NS
    >>> bt = BacktestResult("size:1", pd.DataFrame({"curve": ["f:t:acc"], "method": ["compute-linear"],
    ...     "model": ["big"], "abs_error": [0.01], "measurement_se": [0.01], "within_2se": [True]}), pd.DataFrame())
    >>> predictable_within_2se([NS(curve="f:t:acc", label="predictable", r2_loglinear=0.95)], bt)["predictable_2se"].tolist()
    [True]
    """
    p = bt.predictions[bt.predictions["method"] == method]
    by_curve = dict(tuple(p.groupby("curve", sort=False)))  # one pass, not a filter per curve
    empty = p.iloc[:0]
    rows = []
    for a in assessments:
        if a.label != "predictable":
            continue
        g = by_curve.get(a.curve, empty)
        w = g["within_2se"].dropna().astype(bool)
        err_se = (g["abs_error"] / g["measurement_se"]).replace([np.inf, -np.inf], np.nan).dropna()
        rows.append(dict(curve=a.curve, r2_loglinear=a.r2_loglinear, n_held_out=len(g), n_scored=len(w),
                         share_within_2se=float(w.mean()) if len(w) else float("nan"),
                         max_error_over_se=float(err_se.max()) if len(err_se) else float("nan"),
                         predictable_2se=bool(w.all()) if len(w) else None))
    return pd.DataFrame(rows, columns=["curve", "r2_loglinear", "n_held_out", "n_scored", "share_within_2se",
                                       "max_error_over_se", "predictable_2se"])


@dataclass(frozen=True)
class PerTokenResult(Result):
    """Test A2. ``fits``: per (family, task, hard metric, soft metric): fitted target length ``l`` (tokens),
    training / held-out counts, held-out MAE, share within 2 SE; ``points``: per model ``p_tok``, measured and
    predicted accuracy, whether it was held out."""

    holdout: str
    fits: pd.DataFrame
    points: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.fits


def per_token_consistency(table: pd.DataFrame, *, holdout: str | None = None, min_train: int = 3) -> PerTokenResult:
    """Test A2: does ``acc = p_tok^l``, with ``l`` fitted on small models, predict the large models' accuracy?

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalescope.emergence.table import finalize
    >>> p = np.array([1e7, 3e7, 1e8, 3e8, 1e9, 3e9]); ppl = np.array([40, 20, 9, 5, 3, 2.2])
    >>> t = finalize(pd.DataFrame({"model": np.tile(list("abcdef"), 2), "params_total": np.tile(p, 2),
    ...     "train_flops": np.tile(6 * p * 3e11, 2), "task": "lambada", "metric": ["acc"] * 6 + ["ppl"] * 6,
    ...     "metric_kind": ["hard"] * 6 + ["loss"] * 6, "value": np.r_[(1 / ppl) ** 1.5, ppl], "n_items": 5000}))
    >>> r = per_token_consistency(t, holdout="size:1")
    >>> round(float(r.fits["l"].iloc[0]), 3), bool(r.fits["mae"].iloc[0] < 1e-9)
    (1.5, True)
    """
    holdout = holdout or default_holdout(table)
    t = table
    if t["step"].notna().any():
        s = t["step"].fillna(-1)
        t = t[s == s.groupby([t["source"], t["family"], t["model"]]).transform("max")]
    models = t.groupby("model", as_index=False)[["params_total", "train_flops"]].first()
    held = dict(zip(models["model"], holdout_mask(models, holdout)))
    key = ["source", "family", "task", "subtask", "n_shots"]
    soft = t[t["metric"].isin(list(SOFT_TO_PTOK))]
    hard = t[t["metric_kind"] == "hard"]
    fits, pts = [], []
    for k, gs in soft.groupby(key, dropna=False):
        gh = hard.merge(pd.DataFrame([dict(zip(key, k))]), on=key)
        pairs = [(sm, hm) for sm in gs["metric"].unique() for hm in gh["metric"].unique()]
        for sm, hm in pairs:
            s1 = gs[gs["metric"] == sm].groupby("model")["value"].mean()
            h1 = gh[gh["metric"] == hm].groupby("model").agg(value=("value", "mean"), n_items=("n_items", "median"),
                                                            stderr=("stderr", "median"))
            m = h1.join(s1.rename("soft"), how="inner").dropna(subset=["value", "soft"])
            conv = SOFT_TO_PTOK[sm]
            ptok = 1 / m["soft"] if conv == "1/ppl" else (np.exp(m["soft"]) if conv == "exp" else m["soft"])
            m = m.assign(p_tok=ptok.clip(1e-12, 1), held_out=[bool(held.get(i, False)) for i in m.index])
            tr = m[~m["held_out"] & (m["value"] > 0) & (m["p_tok"] < 1)]
            te = m[m["held_out"]]
            if len(tr) < min_train or te.empty:
                continue
            lp = np.log(tr["p_tok"].to_numpy(float))
            la = np.log(tr["value"].to_numpy(float))
            ell = float((lp @ la) / (lp @ lp))
            m["predicted"] = m["p_tok"] ** ell
            se = measurement_se(m.loc[te.index].reset_index())
            err = np.abs(m.loc[te.index, "predicted"].to_numpy(float) - te["value"].to_numpy(float))
            ok = np.isfinite(se)
            name = f"{k[1]}:{k[2]}{'/' + k[3] if k[3] else ''}:{hm}~{sm}"
            fits.append(dict(curve=name, family=k[1], task=k[2], hard_metric=hm, soft_metric=sm, p_tok_from=conv,
                             l=ell, n_train=len(tr), n_test=len(te), mae=float(err.mean()),
                             share_within_2se=float((err[ok] <= 2 * se[ok]).mean()) if ok.any() else float("nan"),
                             train_r2_log=float(1 - ((la - ell * lp) ** 2).sum() / max(((la - la.mean()) ** 2).sum(),
                                                                                        1e-300))))
            pts.append(m.reset_index().rename(columns={"index": "model"}).assign(curve=name))
    points = pd.concat(pts, ignore_index=True) if pts else pd.DataFrame(
        columns=["model", "value", "p_tok", "predicted", "held_out", "curve"])
    return PerTokenResult(holdout=holdout, fits=pd.DataFrame(fits), points=points)

