"""Numerical core shared by every scalescope analysis: imputation, PCA, link regressions, power laws, breakpoints and
the (cluster) bootstrap. Estimators follow the scikit-learn contract; fits return frozen :class:`FitResult` objects.

Paper sections: EM-PCA imputation and PCA (Ruan et al. 2024 Sec 3.2, obsscaling spec §1.3-1.4), sigmoid links (§1.6),
per-family OLS (§1.1, §1.7), hinge and sigmoid emergence fits (emergence.md §3.4-3.5), power laws and
Chinchilla-form (N, D) laws with the loss -> accuracy sigmoid (emergence.md §3.7; model ladders, Bhagia et al. 2024),
bootstrap CIs (emergence.md §3; obsscaling issue 3).
"""

from scalescope.fit.bootstrap import (
    BootstrapResult,
    bootstrap,
    bootstrap_mean_ci,
    bootstrap_weights,
    cluster_bootstrap,
    cluster_bootstrap_weights,
    multinomial_replicates,
    normal_replicates,
    order_interval,
    percentile_interval,
    replicate_weights,
)
from scalescope.fit.chinchilla import ChinchillaLaw, ChinchillaSigmoid
from scalescope.fit.hinge import HingeFit
from scalescope.fit.impute import PCAImputer
from scalescope.fit.linear import LinearFit
from scalescope.fit.pca import PCA, orient_components
from scalescope.fit.powerlaw import OffsetPowerLaw, PowerLaw
from scalescope.fit.results import FitResult
from scalescope.fit.sigmoid import LinkFit, LossSigmoid, Sigmoid1D, SigmoidRegression

__all__ = [
    "PCA",
    "BootstrapResult",
    "ChinchillaLaw",
    "ChinchillaSigmoid",
    "FitResult",
    "HingeFit",
    "LinearFit",
    "LinkFit",
    "LossSigmoid",
    "OffsetPowerLaw",
    "PCAImputer",
    "PowerLaw",
    "Sigmoid1D",
    "SigmoidRegression",
    "bootstrap",
    "bootstrap_mean_ci",
    "bootstrap_weights",
    "cluster_bootstrap",
    "cluster_bootstrap_weights",
    "multinomial_replicates",
    "normal_replicates",
    "order_interval",
    "percentile_interval",
    "replicate_weights",
    "orient_components",
]
