"""The scaling exponent of entropy calibration: ``ln EntCE = a + b ln size`` across a family of runs (research/
entropy_calibration.md §1.6), a power law fitted by :class:`scalescope.fit.PowerLaw` (log-log OLS) with a bootstrap
CI from the runs' paired replicates (the paper has none) and a guard for EntCE <= 0 (the paper's code has none).
Part of :mod:`scalescope.calibration.analysis`, which re-exports every public name.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.calibration.entce import RunCalibration
from scalescope.errors import InputError
from scalescope.fit.bootstrap import percentile_interval
from scalescope.results import Result


# ---------------------------------------------------------------------------------------------------------------
# across runs: the scaling exponent (spec §1.6)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScalingExponent(Result):
    """OLS fit ``ln EntCE = a + b ln size`` across runs of one family (spec §1.6); ``Y = e^a X^b``.

    ``status`` is ``"ok"`` or ``"undefined"`` (then ``reason`` says why and the numbers are NaN). ``excluded``
    lists runs left out because their EntCE <= 0 (only with ``exclude_nonpositive=True``). The CI refits on
    bootstrap replicates of every run's EntCE (replicates with EntCE <= 0 in any run are dropped; the count is
    ``n_boot_used``).
    """

    family: str
    size_axis: str | None
    labels: list[str]
    sizes: list[float]
    entce: list[float]
    entce_ci: list[tuple[float, float]]
    exponent: float
    exponent_ci: tuple[float, float]
    intercept: float
    intercept_ci: tuple[float, float]
    r2: float
    n_runs: int
    status: str
    reason: str
    excluded: list[str]
    n_boot_used: int
    ci_level: float
    units: str = "nats"

    @property
    def params(self) -> pd.Series:
        return pd.Series({"intercept": self.intercept, "exponent": self.exponent})

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Bootstrap intervals at ``ci_level`` (rows ``intercept``, ``exponent``; columns ``lower``/``upper``)."""
        if alpha is not None and not math.isclose(1 - alpha, self.ci_level):
            raise InputError(f"alpha={alpha}: the bootstrap ran at level {self.ci_level}; rerun with ci={1 - alpha}")
        return pd.DataFrame(
            {"lower": [self.intercept_ci[0], self.exponent_ci[0]], "upper": [self.intercept_ci[1], self.exponent_ci[1]]},
            index=["intercept", "exponent"],
        )

    @property
    def legend(self) -> str:
        if self.status != "ok":
            return "exponent undefined"
        return f"Y = e^{{{self.intercept:.2f}}} X^{{{self.exponent:.3f}}}"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "label": self.labels,
                "size": self.sizes,
                "entce": self.entce,
                "entce_lower": [c[0] for c in self.entce_ci],
                "entce_upper": [c[1] for c in self.entce_ci],
            }
        )

    def summary(self) -> str:
        head = f"Scaling exponent of EntCE on {self.size_axis or 'size'} ({self.family}; {self.n_runs} runs)"
        if self.status != "ok":
            return f"{head}\n  {self.reason}"
        lines = [
            head,
            f"  exponent b = {self.exponent:+.4f}  CI [{self.exponent_ci[0]:+.4f}, {self.exponent_ci[1]:+.4f}]"
            f"  (bootstrap, {self.n_boot_used} replicates)",
            f"  intercept a = {self.intercept:+.4f}   R^2 = {self.r2:.3f}   legend: {self.legend}",
        ]
        if self.excluded:
            lines.append(f"  excluded (EntCE <= 0): {', '.join(self.excluded)}")
        return "\n".join(lines)


def fit_exponent(
    runs: Sequence[RunCalibration],
    *,
    sizes: Sequence[float] | None = None,
    exclude_nonpositive: bool = False,
    ci: float | None = None,
    axis: str | None = None,
    size_boot: Sequence[np.ndarray] | None = None,
) -> ScalingExponent:
    """Scaling exponent: slope of ln EntCE on ln size across ``runs`` (spec §1.6), with a bootstrap CI.

    ``sizes`` default to each run's ``size`` (``train_tokens`` for n-gram families, ``params`` for HF models);
    ``axis`` names what ``sizes`` are (default: the runs' ``size_axis``), e.g. ``"log_loss"`` for ln EntCE on ln
    log loss. ``size_boot`` (one array of bootstrap replicates per run, paired with ``boot_entce``) makes the x
    values resample too, as a measured x such as the log loss should. The fit is the log-log OLS of
    :class:`scalescope.fit.PowerLaw` (log-log OLS; it also fits a family of two sizes exactly);
    the CI refits it on every paired replicate.
    EntCE <= 0 makes ln EntCE undefined: by default the exponent is then *undefined* and ``reason`` names the
    runs; with ``exclude_nonpositive=True`` those runs are excluded (and listed in ``excluded``) and the rest fit.
    Needs at least two runs with distinct sizes.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scalescope.calibration.analysis import AnalysisConfig, analyze_run
    >>> def run(e, size):
    ...     df = pd.DataFrame({"sample_id": [0, 1], "step": [0, 0], "entropy_sampled": [1 + e] * 2,
    ...                        "human_logprob": [-1.0] * 2})
    ...     return analyze_run(df, AnalysisConfig(n_boot=0), manifest={"train_tokens": size})
    >>> fit = fit_exponent([run(0.5 * s ** -0.2, s) for s in (1e3, 1e4, 1e5)])
    >>> round(fit.exponent, 3)
    -0.2
    """
    runs = list(runs)
    level = ci if ci is not None else (runs[0].ci_level if runs else 0.95)
    family = runs[0].family if runs else ""
    axis = axis or (runs[0].size_axis if runs else None)
    labels = [r.label for r in runs]
    sz = [float(s) if s is not None else math.nan for s in (sizes if sizes is not None else [r.size for r in runs])]
    if len(sz) != len(runs):
        raise InputError(f"sizes: {len(sz)} values for {len(runs)} runs")
    ent = [float(r.entce) for r in runs]
    eci = [tuple(r.entce_ci) for r in runs]
    units = runs[0].units if runs else "nats"

    def undefined(reason: str, excluded: list[str] | None = None) -> ScalingExponent:
        warnings.warn(reason, stacklevel=3)
        return ScalingExponent(
            family=family, size_axis=axis, labels=labels, sizes=sz, entce=ent, entce_ci=eci, exponent=math.nan,
            exponent_ci=(math.nan, math.nan), intercept=math.nan, intercept_ci=(math.nan, math.nan), r2=math.nan,
            n_runs=len(runs), status="undefined", reason=reason, excluded=excluded or [], n_boot_used=0,
            ci_level=level, units=units,
        )

    bad_size = [lab for lab, s in zip(labels, sz) if not (math.isfinite(s) and s > 0)]
    if bad_size:
        return undefined(f"exponent undefined: no positive size for runs {', '.join(bad_size)}")
    nonpos = [lab for lab, e in zip(labels, ent) if not (math.isfinite(e) and e > 0)]
    keep = [i for i, e in enumerate(ent) if math.isfinite(e) and e > 0]
    excluded: list[str] = []
    if nonpos:
        if not exclude_nonpositive:
            return undefined(f"exponent undefined: EntCE <= 0 for runs {', '.join(nonpos)}")
        excluded = nonpos
        warnings.warn(f"excluding runs with EntCE <= 0 from the exponent fit: {', '.join(nonpos)}", stacklevel=2)
    if len({sz[i] for i in keep}) < 2:
        return undefined(
            "exponent undefined: fewer than 2 runs with distinct sizes and EntCE > 0"
            + (f" (EntCE <= 0 for runs {', '.join(nonpos)})" if nonpos else ""),
            excluded,
        )
    from scalescope.fit import PowerLaw

    class _LogLog:  # the power law y = e^a x^b by log-log OLS (PowerLaw also fits a 2-size family exactly)
        def __init__(self, xv: np.ndarray, yv: np.ndarray):
            m = PowerLaw().fit(xv, yv)
            self.intercept_, self.coef_, self.result_ = m.result_.extra["log_a"], np.array([m.b_]), m.result_

    def loglog(xv: np.ndarray, yv: np.ndarray) -> _LogLog:
        return _LogLog(xv, yv)

    xs = np.array([sz[i] for i in keep])
    pl = loglog(xs, np.array([ent[i] for i in keep]))
    a, b, r2 = float(pl.intercept_), float(pl.coef_[0]), float(pl.result_.r2)

    boots = [runs[i].boot_entce for i in keep]
    xboots = [np.asarray(size_boot[i], float) for i in keep] if size_boot is not None else None
    nb = min((len(bb) for bb in boots + (xboots or [])), default=0)
    a_ci = b_ci = (math.nan, math.nan)
    used = 0
    if nb > 0:
        Y = np.vstack([bb[:nb] for bb in boots])  # [runs, B]
        X = np.vstack([xb[:nb] for xb in xboots]) if xboots else np.repeat(xs[:, None], nb, axis=1)
        ok = np.all((Y > 0) & np.isfinite(Y) & (X > 0) & np.isfinite(X), axis=0)
        ok &= np.array([len(np.unique(X[:, j])) >= 2 for j in range(nb)])
        used = int(ok.sum())
        if used >= 2:
            refits = [loglog(X[:, j], Y[:, j]) for j in np.flatnonzero(ok)]
            b_ci = percentile_interval(np.array([f.coef_[0] for f in refits]), level)
            a_ci = percentile_interval(np.array([f.intercept_ for f in refits]), level)
    return ScalingExponent(
        family=family, size_axis=axis, labels=labels, sizes=sz, entce=ent, entce_ci=eci, exponent=b, exponent_ci=b_ci,
        intercept=a, intercept_ci=a_ci, r2=r2, n_runs=len(runs), status="ok",
        reason="" if not excluded else f"excluded runs with EntCE <= 0: {', '.join(excluded)}",
        excluded=excluded, n_boot_used=used, ci_level=level, units=units,
    )


class CalibrationExponent:
    """Estimator wrapper of :func:`fit_exponent` (scikit-learn style: ``fit`` returns self, result in ``result_``).

    Examples
    --------
    >>> import pandas as pd
    >>> from scalescope.calibration.analysis import AnalysisConfig, analyze_run
    >>> def run(e, size):
    ...     df = pd.DataFrame({"sample_id": [0, 1], "step": [0, 0], "entropy_sampled": [1 + e] * 2,
    ...                        "human_logprob": [-1.0] * 2})
    ...     return analyze_run(df, AnalysisConfig(n_boot=0), manifest={"train_tokens": size})
    >>> est = CalibrationExponent().fit([run(2.0 * s ** -0.5, s) for s in (1e2, 1e4)])
    >>> est.result_.status, round(est.result_.exponent, 6), round(float(est.result_.params["intercept"]), 6)
    ('ok', -0.5, 0.693147)
    """

    def __init__(self, *, exclude_nonpositive: bool = False, ci: float | None = None):
        self.exclude_nonpositive = exclude_nonpositive
        self.ci = ci

    def fit(self, runs: Sequence[RunCalibration], sizes: Sequence[float] | None = None) -> CalibrationExponent:
        self.result_ = fit_exponent(runs, sizes=sizes, exclude_nonpositive=self.exclude_nonpositive, ci=self.ci)
        return self
