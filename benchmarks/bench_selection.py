"""Model-subset selection: exhaustive vs greedy + exchange local search (issue 3; results in BENCHMARKS.md).

Usage: SCALESCOPE_DATA_DIR=../shared/data python benchmarks/bench_selection.py
Prints wall time of each mode and whether greedy reaches the exhaustive optimum, on the paper's pool (budgets
4..36) and on seeded synthetic pools (16 families: both modes; 30 families: greedy only).
"""

from __future__ import annotations

import time

import numpy as np

from scalescope.observational.analyses import selection_pool
from scalescope.observational.constants import FAMILY_COL
from scalescope.observational.selection import v_optimal_subsets


def compare(X, fams, budgets) -> tuple[float, float, int]:
    t = time.perf_counter()
    ex = v_optimal_subsets(X, fams, budgets=budgets, mode="exhaustive")
    te = time.perf_counter() - t
    t = time.perf_counter()
    gr = v_optimal_subsets(X, fams, budgets=budgets, mode="greedy")
    tg = time.perf_counter() - t
    return te, tg, int(np.isclose(gr.table["objective"], ex.table["objective"], rtol=1e-9).sum())


def synthetic(n_families: int, seed: int):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, n_families)
    fams = np.repeat([f"f{i}" for i in range(n_families)], sizes)
    X = rng.normal(size=(len(fams), 3)) * rng.uniform(0.3, 2, size=(len(fams), 1))
    return X - X.mean(0), fams


def main() -> None:
    pool, X = selection_pool()
    budgets = (4, 8, 12, 16, 20, 24, 28, 32, 36)
    te, tg, ok = compare(X, pool[FAMILY_COL], budgets)
    print(f"paper pool ({len(pool)} models, {pool[FAMILY_COL].nunique()} families): exhaustive {te:.2f} s, "
          f"greedy {tg:.2f} s, greedy = exhaustive at {ok}/{len(budgets)} budgets")
    tot = hits = 0
    for seed in range(6):
        X, fams = synthetic(16, seed)
        te, tg, ok = compare(X, fams, (6, 10, 14, 18, 24))
        tot, hits = tot + 5, hits + ok
        print(f"synthetic 16 families, seed {seed}: exhaustive {te:.2f} s, greedy {tg:.2f} s, {ok}/5")
    print(f"synthetic 16 families: greedy = exhaustive at {hits}/{tot}")
    X, fams = synthetic(30, 9)
    t = time.perf_counter()
    v_optimal_subsets(X, fams, budgets=(12, 24, 36), mode="greedy")
    print(f"synthetic 30 families, 3 budgets: greedy {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
