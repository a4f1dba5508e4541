"""Tests for scalescope.fit.bootstrap / cluster_bootstrap: coverage on simulated data, clusters, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalescope.errors import InputError
from scalescope.fit import BootstrapResult, bootstrap, cluster_bootstrap

COVERAGE_RANGE = (0.90, 0.99)  # brief: 95% CI must cover the truth 90-99% of the time over 200 repetitions


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_bootstrap_coverage_of_a_mean(method):
    rng = np.random.default_rng(12345)
    hits = 0
    reps = 200
    for i in range(reps):
        x = rng.normal(2.0, 1.0, size=60)
        if method == "percentile":
            r = bootstrap(x, lambda s: s.mean(axis=-1), vectorized=True, n_boot=1000, random_state=i)
        else:
            r = bootstrap(x, np.mean, n_boot=400, method="bca", random_state=i)
        hits += r.ci_low < 2.0 < r.ci_high
    assert COVERAGE_RANGE[0] <= hits / reps <= COVERAGE_RANGE[1]


def test_cluster_bootstrap_coverage_and_width():
    # Strongly clustered data: 15 clusters of 8 with a shared cluster effect. Resampling rows ignores the
    # dependence and under-covers; resampling clusters covers.
    rng = np.random.default_rng(7)
    hits_cluster = hits_row = 0
    reps = 200
    for i in range(reps):
        eff = rng.normal(0, 1.0, 15)
        labels = np.repeat(np.arange(15), 8)
        y = 1.0 + eff[labels] + rng.normal(0, 0.3, labels.size)
        rc = cluster_bootstrap(y, np.mean, clusters=labels, n_boot=300, random_state=i)
        rr = bootstrap(y, lambda s: s.mean(axis=-1), vectorized=True, n_boot=300, random_state=i)
        hits_cluster += rc.ci_low < 1.0 < rc.ci_high
        hits_row += rr.ci_low < 1.0 < rr.ci_high
    assert COVERAGE_RANGE[0] - 0.03 <= hits_cluster / reps <= COVERAGE_RANGE[1]
    assert hits_row / reps < 0.7


def test_cluster_bootstrap_dataframe_and_vector_statistic():
    df = pd.DataFrame({"family": list("aabbbccdde"), "x": np.arange(10.0), "y": np.arange(10.0) ** 2})
    r = cluster_bootstrap(df, lambda d: np.array([d["x"].mean(), d["y"].mean()]), clusters="family", n_boot=200,
                          method="basic")
    assert isinstance(r, BootstrapResult) and r.n_units == 5
    assert r.estimate.shape == (2,) and r.replicates.shape == (200, 2)
    assert (r.ci_low <= r.ci_high).all()
    assert len(r.to_frame()) == 2 and "replicates" not in r.to_dict()


def test_bootstrap_tuple_data_is_resampled_jointly_and_reproducible():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = 3 * x + rng.normal(0, 0.1, 50)

    def slope(d):
        return np.polyfit(d[0], d[1], 1)[0]

    a = bootstrap((x, y), slope, n_boot=200, random_state=3)
    b = bootstrap((x, y), slope, n_boot=200, random_state=3)
    assert a.ci_low == b.ci_low and a.ci_low < 3 < a.ci_high


def test_failed_replicates_are_skipped():
    labels = np.array([0, 0, 1, 1, 2, 2])
    x = np.arange(6.0)

    def stat(d):
        if np.unique(d).size < 3:
            raise ValueError("degenerate")
        return d.mean()

    r = cluster_bootstrap(x, stat, clusters=labels, n_boot=200)
    assert np.isnan(r.replicates).any() and np.isfinite(r.ci_low)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_boot": 1}, "n_boot"),
        ({"ci": 1.5}, "ci="),
        ({"method": "studentized"}, "method"),
    ],
)
def test_bootstrap_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        bootstrap(np.arange(10.0), np.mean, **kwargs)


def test_cluster_bootstrap_bad_clusters():
    df = pd.DataFrame({"a": [1.0, 2, 3]})
    with pytest.raises(InputError, match="column 'fam' is missing"):
        cluster_bootstrap(df, lambda d: d["a"].mean(), clusters="fam")
    with pytest.raises(InputError, match="one label per row"):
        cluster_bootstrap(np.arange(3.0), np.mean, clusters=[0, 1])
    with pytest.raises(InputError, match="at least 2"):
        cluster_bootstrap(np.arange(3.0), np.mean, clusters=[0, 0, 0])
    with pytest.raises(InputError, match="different lengths"):
        bootstrap((np.arange(3.0), np.arange(4.0)), lambda d: 0.0)
