"""Observational scaling laws (Ruan, Maddison & Hashimoto 2024, arXiv:2405.10938): predict downstream performance
of language models from a low-dimensional capability space fitted on public benchmarks (spec ``research/obsscaling.md``).

Public API (pure functions + frozen results):

- :func:`fit_capabilities`, :func:`make_imputer` — capability space (§1.3-§1.4; numerics from scalescope.fit);
- :func:`family_compute_fits`, :func:`equivalent_compute` — PCs vs compute, equivalent FLOPs (§1.7, §2.2);
- :func:`fit_link` — sigmoid / floor-sigmoid link regression (§1.6);
- :func:`fit_law` — one law end to end (normalise, split, features, fit, score) (§1);
- :class:`SplitSpec`, :func:`split_cutoff`, :func:`split_top_fraction`, :func:`split_leave_family_out` (§1.8);
- :func:`aue_sweep`, :func:`aue`, :func:`cluster_bootstrap_law` — backtests (§1.11);
- :func:`v_optimal_subsets` — model-subset selection (§1.10);
- :func:`place` — a user's own evaluated models (lm-eval / leaderboard results) in the reference capability space,
  with compute position, equivalent compute and bootstrap-interval predictions (issue 16);
- :mod:`~scalescope.observational.analyses` — the paper's analyses as runners;
  :mod:`~scalescope.observational.targets` — reproduction targets T1-T18.
"""

from scalescope.observational.backtest import aue, aue_sweep, cluster_bootstrap_law, leave_one_family_out
from scalescope.observational.capability import fit_capabilities, make_imputer
from scalescope.observational.compute import equivalent_compute, family_compute_fits
from scalescope.observational.law import LawResult, fit_law, normalise_target
from scalescope.observational.placement import PlacementResult, place
from scalescope.observational.regression import fit_link
from scalescope.observational.selection import v_optimal_subsets
from scalescope.observational.splits import (
    SplitSpec,
    split_cutoff,
    split_leave_family_out,
    split_top_fraction,
)

__all__ = [
    "LawResult", "PlacementResult", "SplitSpec", "aue", "aue_sweep", "cluster_bootstrap_law",
    "equivalent_compute", "family_compute_fits", "fit_capabilities", "fit_law", "fit_link", "leave_one_family_out",
    "normalise_target",
    "make_imputer", "place", "split_cutoff", "split_leave_family_out", "split_top_fraction", "v_optimal_subsets",
]
