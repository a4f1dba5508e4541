"""Calibration methods (Cao et al. 2025 §5; Braverman et al. 2020; spec §3.2–3.4): temperature solves, one-step
lookahead, and future-entropy scaling with an exact n-gram dynamic programme or a learned future-entropy head.

Each method produces a *policy* (an adjusted next-token distribution); :mod:`.samplers` wraps policies as engine
samplers and :mod:`.evaluate` scores them exactly on finite-state models.
"""

from scalescope.calibration.methods.dp import (
    forward_entropy_curve,
    future_entropy_table,
    human_logloss,
    human_states,
    monte_carlo_future_entropy,
    sample_rollouts,
)
from scalescope.calibration.methods.evaluate import MethodEvaluation, evaluate_policy, paired_difference
from scalescope.calibration.methods.future_entropy import FutureEntropyCalibrator, FutureEntropyFit
from scalescope.calibration.methods.lookahead import LookaheadCalibrator
from scalescope.calibration.methods.markov import FiniteStateLM
from scalescope.calibration.methods.policies import (
    BasePolicy,
    FutureEntropyPolicy,
    LookaheadPolicy,
    Policy,
    TemperaturePolicy,
    TruncationPolicy,
)
from scalescope.calibration.methods.temperature import (
    TemperatureSolve,
    exact_temperature_curve,
    solve_temperature,
    solve_temperature_exact,
)

__all__ = [
    "BasePolicy",
    "FiniteStateLM",
    "FutureEntropyCalibrator",
    "FutureEntropyFit",
    "FutureEntropyPolicy",
    "LookaheadCalibrator",
    "LookaheadPolicy",
    "MethodEvaluation",
    "Policy",
    "TemperaturePolicy",
    "TemperatureSolve",
    "TruncationPolicy",
    "evaluate_policy",
    "exact_temperature_curve",
    "forward_entropy_curve",
    "future_entropy_table",
    "human_logloss",
    "human_states",
    "monte_carlo_future_entropy",
    "paired_difference",
    "sample_rollouts",
    "solve_temperature",
    "solve_temperature_exact",
]
