"""Iterative (EM-style) low-rank PCA imputation of a benchmark matrix (Ruan et al. 2024; obsscaling spec §1.3).

Algorithm (as the authors' code does it, with the stopping rule repaired):

1. standardise each column with the mean and population (ddof=0) std of its *observed* training entries;
2. initialise missing entries to 0 (the column mean in standardised space);
3. repeat: fit a rank-k PCA on the filled matrix (re-centring it, as scikit-learn's PCA does), reconstruct, and
   overwrite only the missing entries with the reconstruction; stop when the largest change of a missing entry is
   below ``tol`` (standardised units);
4. undo the standardisation, optionally clip (observational scaling clips to [0, 1]).

New rows (test models) are standardised with the *training* scaler, initialised to the training means and iterated
with the training PCA held fixed (it is not refitted), so held-out models never influence the imputation model.

Upstream stops on ``allclose(X, X_hat)`` over *all* entries, which never fires for a rank-1 reconstruction, so it
always runs ``max_iter`` (1000) iterations. The imputed values converge long before (spec: 7e-16 by iteration 200 on
the 77-model matrix), so the repaired rule gives the same numbers; ``exact_upstream=True`` runs the fixed iteration
count anyway for bit-for-bit comparisons.

``recenter=False`` gives the classic EM of statsmodels ``PCA(..., missing="fill-em")``, which standardises once and
then iterates an *uncentred* rank-k SVD; with ``standardize=True, recenter=False`` the fills agree with statsmodels at
convergence (tests/test_fit_impute.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalescope.errors import InputError, check_fitted
from scalescope.fit._validation import as_2d, check_n_features, feature_names
from scalescope.fit.pca import orient_components


class PCAImputer:
    """Fill missing entries of a matrix with a rank-k PCA reconstruction, iterated to a fixed point.

    Parameters
    ----------
    n_components : int, default 1
        Rank of the reconstruction (upstream: 1).
    max_iter : int, default 1000
        Iteration cap (upstream: 1000, always reached; see ``exact_upstream``).
    tol : float, default 1e-6
        Stop when ``max |change|`` of the missing entries (standardised units) falls below this. Upstream's 1e-4
        tolerance belongs to its (never-firing) all-entries test, so a tighter value costs little and is safer.
    standardize : bool, default True
        Standardise columns by the observed mean and population std before the PCA (upstream: True).
    recenter : bool, default True
        Re-centre the filled matrix before each SVD (upstream, via scikit-learn PCA). False: uncentred SVD of the
        standardised matrix (statsmodels ``fill-em``).
    clip : tuple (low, high) or None, default None
        Clip the imputed values (only those) in original units. Observational scaling uses ``(0.0, 1.0)``.
    exact_upstream : bool, default False
        Always run ``max_iter`` iterations, in ``fit`` and ``transform``, as the authors' code does.

    Attributes
    ----------
    mean_, scale_ : ndarray (p,)
        Standardisation fitted on the observed training entries (``scale_`` is 1 for constant columns and when
        ``standardize=False``).
    pca_mean_ : ndarray (p,)
        Centre of the last PCA, standardised units (zeros when ``recenter=False``).
    components_ : ndarray (k, p)
        Loadings of the last PCA, standardised units (sign: largest |loading| positive).
    n_iter_ : int
        Iterations run by ``fit``.
    converged_ : bool
        Whether the last change was below ``tol``.
    n_missing_ : int
        Number of imputed training entries.

    Examples
    --------
    >>> import numpy as np
    >>> from scalescope.fit import PCAImputer
    >>> rng = np.random.default_rng(0)
    >>> t = rng.normal(size=(40, 1))
    >>> X = 0.5 + 0.1 * t @ np.array([[1.0, 0.8, 0.6, 0.9]])   # exactly rank 1 after centring
    >>> Xm = X.copy(); Xm[3, 1] = np.nan; Xm[7, 2] = np.nan
    >>> imp = PCAImputer().fit(Xm)
    >>> filled = imp.transform(Xm)
    >>> bool(np.allclose(filled, X, atol=1e-5)), imp.converged_
    (True, True)
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        max_iter: int = 1000,
        tol: float = 1e-6,
        standardize: bool = True,
        recenter: bool = True,
        clip: tuple[float, float] | None = None,
        exact_upstream: bool = False,
    ):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.recenter = recenter
        self.clip = clip
        self.exact_upstream = exact_upstream

    # -- fitting ---------------------------------------------------------------------------------------------------
    def _check_params(self, n: int, p: int) -> int:
        k = int(self.n_components)
        if not 1 <= k < p and not (k == p == 1):
            raise InputError(f"n_components={self.n_components} must be between 1 and n_features-1={p - 1}")
        if k > n:
            raise InputError(f"n_components={self.n_components} exceeds the number of rows ({n})")
        if int(self.max_iter) < 1:
            raise InputError(f"max_iter={self.max_iter} must be >= 1")
        if not self.tol > 0:
            raise InputError(f"tol={self.tol} must be > 0")
        if self.clip is not None and not (len(self.clip) == 2 and self.clip[0] <= self.clip[1]):
            raise InputError(f"clip={self.clip!r} must be a (low, high) pair with low <= high")
        return k

    def fit(self, X, y=None) -> PCAImputer:
        """Fit the standardisation and the imputation PCA on ``X`` (n x p, NaN = missing)."""
        self._fit(X)
        return self

    def _fit(self, X) -> np.ndarray:
        names = feature_names(X)
        A = as_2d(X, "X", allow_nan=True)
        n, p = A.shape
        k = self._check_params(n, p)
        mask = np.isnan(A)
        n_obs = (~mask).sum(axis=0)
        if (n_obs == 0).any():
            bad = np.flatnonzero(n_obs == 0)
            label = [names[i] for i in bad] if names else bad.tolist()
            raise InputError(f"X: column(s) {label} have no observed values; drop them before imputing")
        mean = np.nanmean(A, axis=0) if self.standardize else np.zeros(p)
        if self.standardize:
            sd = np.sqrt(np.nanmean((A - mean) ** 2, axis=0))
            scale = np.where(sd > 0, sd, 1.0)
        else:
            scale = np.ones(p)
        Z = (A - mean) / scale
        Z[mask] = 0.0
        rows, cols = np.nonzero(mask)
        n_iter, delta = 0, 0.0
        mu = np.zeros(p)
        vt = np.zeros((k, p))
        for n_iter in range(1, int(self.max_iter) + 1):  # noqa: B007 - n_iter is reported
            mu = Z.mean(axis=0) if self.recenter else np.zeros(p)
            C = Z - mu
            # Thin SVD of an ~80 x 8 matrix is ~20 us; cheaper than anything clever at this size.
            _, _, vt_full = np.linalg.svd(C, full_matrices=False)
            vt = vt_full[:k]
            if rows.size == 0:
                break
            Cm = C[rows]  # only rows with a missing entry need reconstructing
            new = mu[cols] + np.einsum("ik,kj->ij", Cm @ vt.T, vt)[np.arange(rows.size), cols]
            delta = float(np.max(np.abs(new - Z[rows, cols])))
            Z[rows, cols] = new
            if delta < self.tol and not self.exact_upstream:
                break
        self.mean_ = mean
        self.scale_ = scale
        self.pca_mean_ = mu
        self.components_ = orient_components(vt, "max-abs")
        self.n_iter_ = n_iter
        self.converged_ = bool(delta < self.tol)
        self.n_missing_ = int(rows.size)
        self.n_features_in_ = p
        self.feature_names_in_ = names
        return self._finish(Z, mask, A)

    def _finish(self, Z: np.ndarray, mask: np.ndarray, A: np.ndarray) -> np.ndarray:
        out = Z * self.scale_ + self.mean_
        out[~mask] = A[~mask]  # observed entries back bit-for-bit (the scale round trip is not exact)
        if self.clip is not None and mask.any():
            out[mask] = np.clip(out[mask], self.clip[0], self.clip[1])
        return out

    # -- applying ------------------------------------------------------------------------------------------------
    def transform(self, X):
        """Impute new rows with the fitted scaler and PCA held fixed; observed entries are returned unchanged."""
        check_fitted(self, "components_")
        A = as_2d(X, "X", allow_nan=True)
        check_n_features(A, self.n_features_in_)
        mask = np.isnan(A)
        Z = (A - self.mean_) / self.scale_
        Z[mask] = 0.0
        rows, cols = np.nonzero(mask)
        if rows.size:
            mu, vt = self.pca_mean_, self.components_
            urows, inv = np.unique(rows, return_inverse=True)
            for _ in range(int(self.max_iter)):
                Cm = Z[urows] - mu
                rec = mu + (Cm @ vt.T) @ vt
                new = rec[inv, cols]
                delta = float(np.max(np.abs(new - Z[rows, cols])))
                Z[rows, cols] = new
                if delta < self.tol and not self.exact_upstream:
                    break
        return self._wrap(self._finish(Z, mask, A), X)

    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return it with the missing entries filled by the fit's final iteration."""
        return self._wrap(self._fit(X), X)

    @staticmethod
    def _wrap(out: np.ndarray, X):
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=X.columns)
        return out
