"""The temperature trade-off path: log loss vs EntCE over runs that differ only in temperature (paper Fig. 3;
research/entropy_calibration.md §4) and the temperature where EntCE = 0, with a bootstrap CI over the runs' paired
replicates. Part of :mod:`scalescope.calibration.analysis`, which re-exports every public name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.calibration.entce import RunCalibration
from scalescope.fit.bootstrap import percentile_interval
from scalescope.results import Result


# ---------------------------------------------------------------------------------------------------------------
# temperature sweep (spec §4)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemperatureSweep(Result):
    """The trade-off path of runs that differ only in temperature: log loss vs EntCE (paper Fig. 3), and the
    temperature where EntCE = 0 by linear interpolation between the adjacent temperatures whose EntCE changes
    sign (CI: the same on every bootstrap replicate; replicates without a crossing are counted, not used)."""

    family: str
    labels: list[str]
    temperatures: list[float]
    log_loss: list[float]
    log_loss_ci: list[tuple[float, float]]
    entce: list[float]
    entce_ci: list[tuple[float, float]]
    tau_zero: float
    tau_zero_ci: tuple[float, float]
    status: str
    reason: str
    n_boot_used: int
    units: str

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "label": self.labels,
                "temperature": self.temperatures,
                "log_loss": self.log_loss,
                "entce": self.entce,
                "entce_lower": [c[0] for c in self.entce_ci],
                "entce_upper": [c[1] for c in self.entce_ci],
            }
        )

    def summary(self) -> str:
        lines = [f"Temperature sweep ({self.family}; {len(self.temperatures)} temperatures)"]
        for t, ll, e in zip(self.temperatures, self.log_loss, self.entce):
            lines.append(f"  tau={t:<6g} log loss {ll:.4f}  EntCE {e:+.4f} {self.units}/token")
        if self.status == "ok":
            lines.append(
                f"  EntCE = 0 at tau = {self.tau_zero:.4f}  CI [{self.tau_zero_ci[0]:.4f}, {self.tau_zero_ci[1]:.4f}]"
            )
        else:
            lines.append(f"  {self.reason}")
        return "\n".join(lines)


def _zero_crossing(t: np.ndarray, e: np.ndarray) -> float:
    """First temperature (ascending) where the piecewise-linear EntCE(τ) crosses 0; NaN if it does not."""
    for i in range(len(t) - 1):
        e0, e1 = e[i], e[i + 1]
        if not (np.isfinite(e0) and np.isfinite(e1)):
            continue
        if e0 == 0:
            return float(t[i])
        if e0 * e1 < 0:
            return float(t[i] + (t[i + 1] - t[i]) * (-e0) / (e1 - e0))
    if len(e) and e[-1] == 0:
        return float(t[-1])
    return math.nan


def temperature_sweep(runs: Sequence[RunCalibration], *, ci: float | None = None) -> TemperatureSweep:
    """Trade-off path over temperature and the temperature where EntCE = 0 (spec §4, §5.3 item 5).

    Examples
    --------
    >>> import pandas as pd
    >>> from scalescope.calibration.analysis import AnalysisConfig, analyze_run
    >>> def run(tau, e):
    ...     df = pd.DataFrame({"sample_id": [0, 1], "step": [0, 0], "entropy_sampled": [2 + e] * 2,
    ...                        "human_logprob": [-2.0] * 2})
    ...     return analyze_run(df, AnalysisConfig(n_boot=0), manifest={"sampler": f"temp={tau}"})
    >>> sw = temperature_sweep([run(0.8, -0.2), run(1.0, 0.2)])
    >>> round(sw.tau_zero, 3)
    0.9
    """
    runs = sorted(runs, key=lambda r: r.temperature)
    level = ci if ci is not None else (runs[0].ci_level if runs else 0.95)
    t = np.array([r.temperature for r in runs], float)
    e = np.array([r.entce for r in runs], float)
    if len(runs) < 2 or len(set(t.tolist())) < len(t):
        status, reason, tz, tz_ci, used = (
            "undefined",
            "temperature sweep needs >= 2 runs with distinct temperatures",
            math.nan,
            (math.nan, math.nan),
            0,
        )
    else:
        tz = _zero_crossing(t, e)
        used = 0
        tz_ci = (math.nan, math.nan)
        if math.isnan(tz):
            status = "undefined"
            reason = (
                f"EntCE does not change sign over tau in [{t.min():g}, {t.max():g}] "
                f"(EntCE from {e.min():+.3g} to {e.max():+.3g})"
            )
        else:
            status, reason = "ok", ""
            nb = min(len(r.boot_entce) for r in runs)
            if nb > 0:
                Y = np.vstack([r.boot_entce[:nb] for r in runs])
                zs = np.array([_zero_crossing(t, Y[:, b]) for b in range(nb)])
                used = int(np.isfinite(zs).sum())
                tz_ci = percentile_interval(zs, level)
                if used < nb:
                    reason = f"{nb - used} of {nb} bootstrap replicates had no crossing (left out of the CI)"
    return TemperatureSweep(
        family=runs[0].model if runs else "",
        labels=[r.label for r in runs],
        temperatures=t.tolist(),
        log_loss=[r.log_loss for r in runs],
        log_loss_ci=[r.log_loss_ci for r in runs],
        entce=e.tolist(),
        entce_ci=[r.entce_ci for r in runs],
        tau_zero=tz,
        tau_zero_ci=tz_ci,
        status=status,
        reason=reason,
        n_boot_used=used,
        units=runs[0].units if runs else "nats",
    )
