"""V-optimal model-subset selection: which families to evaluate to fit a good observational law (spec §1.10, §2.7).

Ruan et al. (2024) Sec 5: choose whole families S so that the average prediction variance over the candidate pool,
``tr(XᵀX (X_SᵀX_S)⁻¹)``, is small, where X holds the pool's first 3 PC scores. The objective to *maximise* is
``J(S) = -tr(XᵀX (X_SᵀX_S)⁻¹)``; subsets with fewer than 3 models get ``-inf``. Exhaustive search over every
combination of up to ``max_families`` families (as upstream; 15,913 combinations for 14 families), vectorised over
per-family Gram matrices; a greedy forward mode handles larger pools.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalescope.errors import InputError
from scalescope.observational._blas import blas1
from scalescope.results import Result

DEFAULT_BUDGETS: tuple[int, ...] = tuple(range(4, 37, 4))


@dataclass(frozen=True)
class SelectionResult(Result):
    """Best family subset per budget (``table``: budget, objective, n_models, families, models)."""

    mode: str
    n_combinations: int
    families: tuple[str, ...]
    table: pd.DataFrame
    random_subsets: dict  # budget -> list of family tuples (random baseline, spec §1.10 step 5)

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def best(self, budget: int) -> dict:
        row = self.table.loc[self.table["budget"] == budget]
        if row.empty:
            raise InputError(f"--budget: {budget} was not evaluated")
        return row.iloc[0].to_dict()


def _objective(M: np.ndarray, G: np.ndarray, sizes: np.ndarray, min_models: int) -> np.ndarray:
    """Batched ``-tr(M G⁻¹)`` for Gram matrices ``G`` (n, k, k); ``-inf`` where singular or too small."""
    out = np.full(len(G), -np.inf)
    ok = sizes >= min_models
    if ok.any():
        Gi = G[ok]
        det = np.linalg.det(Gi)
        good = np.abs(det) > 1e-12 * np.maximum(1.0, np.abs(np.trace(Gi, axis1=1, axis2=2)) ** Gi.shape[1])
        vals = np.full(len(Gi), -np.inf)
        if good.any():
            # tr(M G^-1) = tr(G^-1 M) = sum of solve(G, M) diagonal
            sol = np.linalg.solve(Gi[good], np.broadcast_to(M, Gi[good].shape))
            vals[good] = -np.trace(sol, axis1=1, axis2=2)
        out[ok] = vals
    return out


@blas1
def v_optimal_subsets(X, families, *, budgets=DEFAULT_BUDGETS, max_families: int = 10, include=(),
                      mode: str = "exhaustive", models=None, n_random: int = 5, seed: int = 0,
                      min_models: int = 3) -> SelectionResult:
    """Choose the family subset maximising ``J(S)`` for each budget (models ≤ budget).

    Parameters
    ----------
    X
        Capability scores of the candidate pool (n_models x k), centred on the pool; no intercept column.
    families
        Family of each pool row; selection picks whole families.
    include
        Families forced into every subset.
    mode
        ``"exhaustive"`` (every combination of 1..max_families families) or ``"greedy"`` (seeded forward selection
        and exchange local search, for pools too large to enumerate).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(12, 2))
    >>> fams = np.repeat(["a", "b", "c", "d"], 3)
    >>> res = v_optimal_subsets(X, fams, budgets=(3, 6), max_families=4)
    >>> res.n_combinations
    15
    """
    X = np.asarray(X, dtype=float)
    fam = np.asarray(families).astype(str)
    models = np.asarray(models if models is not None else [str(i) for i in range(len(X))]).astype(str)
    names = list(pd.unique(fam))
    for f in include:
        if f not in names:
            raise InputError(f"--include: family {f!r} is not in the candidate pool")
    if mode not in ("exhaustive", "greedy"):
        raise InputError(f"--mode: must be exhaustive or greedy, got {mode!r}")
    M = X.T @ X
    G_f = np.stack([X[fam == f].T @ X[fam == f] for f in names])
    n_f = np.array([(fam == f).sum() for f in names])
    free = [i for i, f in enumerate(names) if f not in include]
    forced = [names.index(f) for f in include]

    combos: list[tuple[int, ...]] = []
    if mode == "exhaustive":
        if len(free) > 22:
            raise InputError(f"--mode: {len(free)} families is too many for exhaustive search; use --mode greedy")
        kmax = min(max_families - len(forced), len(free))
        for k in range(0 if forced else 1, kmax + 1):
            combos.extend(tuple(sorted(forced + list(c))) for c in itertools.combinations(free, k))
        A = np.zeros((len(combos), len(names)))
        for i, c in enumerate(combos):
            A[i, list(c)] = 1.0
        sizes = A @ n_f
        G = np.einsum("cf,fij->cij", A, G_f)
        J = _objective(M, G, sizes, min_models)
        rows = []
        for b in budgets:
            ok = sizes <= b
            if not ok.any() or not np.isfinite(J[ok]).any():
                rows.append({"budget": b, "objective": -np.inf, "n_models": 0, "families": (), "models": ()})
                continue
            i = np.flatnonzero(ok)[np.argmax(J[ok])]
            rows.append(_row(b, J[i], combos[i], names, fam, models))
    else:
        rows = [_row(b, *_greedy(M, G_f, n_f, free, forced, b, max_families, min_models), names, fam, models)
                for b in budgets]
        combos = []

    rand: dict = {}
    if combos:
        sizes_all = np.array([n_f[list(c)].sum() for c in combos])
        for b in budgets:
            pool = [c for c, s in zip(combos, sizes_all, strict=True) if max(b - 2, 3) <= s <= b]
            random.seed(seed)
            random.shuffle(pool)
            rand[int(b)] = [tuple(names[i] for i in c) for c in pool[:n_random]]
    table = pd.DataFrame(rows)
    return SelectionResult(mode=mode, n_combinations=len(combos), families=tuple(names), table=table,
                           random_subsets=rand)


#: Local-search moves (families dropped, families added): add one, swap 1-1, and the exchanges that trade one
#: large family for several small ones (or back) under the model budget.
EXCHANGES = ((0, 1), (1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 1))


def _greedy(M, G_f, n_f, free, forced, budget, max_families, min_models, n_seeds: int = 20):
    """Seeded greedy + local search for pools too large to enumerate.

    Every seed of up to 3 families is scored (vectorised); the best ``n_seeds`` are forward-extended one family at a
    time, then improved by best-improvement local search over the :data:`EXCHANGES` that respect the budget and
    ``max_families`` until no move raises J (the uneven exchanges matter because J only grows with the set, so the
    budget, not J, makes a family worth dropping). Returns (J, combo)."""
    ridge = 1e-9 * np.trace(M) * np.eye(len(M))  # lets sets with < k models be ranked instead of all being -inf
    F, k = len(n_f), len(M)
    G_flat = G_f.reshape(F, k * k)

    def J_of(sets):
        A = np.zeros((len(sets), F))
        for i, c in enumerate(sets):
            A[i, list(c)] = 1.0
        G = (A @ G_flat).reshape(-1, k, k)
        sizes = A @ n_f
        J = _objective(M, G, sizes, min_models)
        Jr = _objective(M, G + ridge, np.full(len(sets), min_models), min_models)
        return J, Jr

    def fits(c) -> bool:
        return len(c) <= max_families and n_f[list(c)].sum() <= budget

    slots = max_families - len(forced)
    if forced and not fits(tuple(forced)):  # the forced families alone break the budget: nothing is feasible
        return -np.inf, ()
    seeds = [tuple(forced)] if forced else []
    for n in range(1, min(3, slots) + 1):
        seeds += [tuple(sorted(forced + list(c))) for c in itertools.combinations(free, n)
                  if n_f[list(forced + list(c))].sum() <= budget]
    seeds = [c for c in seeds if c]
    if not seeds:
        return -np.inf, ()
    J, Jr = J_of(seeds)
    order = np.lexsort((-Jr, -J))[:n_seeds]  # finite J first, then the ridge-ranked ones
    best = (-np.inf, ())
    tried: set[tuple[int, ...]] = set()
    for i in order:
        sel = list(seeds[i])
        while len(sel) < max_families:
            cand = [f for f in free if f not in sel and n_f[sel + [f]].sum() <= budget]
            if not cand:
                break
            Jc, Jrc = J_of([tuple(sel + [f]) for f in cand])
            cur, cur_r = J_of([tuple(sel)])
            j = int(np.lexsort((-Jrc, -Jc))[0])
            if Jc[j] < cur[0] or (not np.isfinite(Jc[j]) and Jrc[j] <= cur_r[0]):
                break
            sel.append(cand[j])
        start = tuple(sorted(sel))
        if start in tried:  # another seed already climbed from here
            continue
        tried.add(start)
        cur_set = start
        cur = J_of([cur_set])
        while True:
            ins = [f for f in free if f not in cur_set]
            outs = [f for f in cur_set if f not in forced]
            moves = []
            for r, a in EXCHANGES:
                for out in itertools.combinations(outs, r):
                    rest = tuple(f for f in cur_set if f not in out)
                    moves += [rest + add for add in itertools.combinations(ins, a)]
            moves = [tuple(sorted(m)) for m in moves if fits(m)]
            if not moves:
                break
            Jm, Jrm = J_of(moves)
            j = int(np.lexsort((-Jrm, -Jm))[0])
            better = Jm[j] > cur[0][0] + 1e-12 or (not np.isfinite(cur[0][0]) and not np.isfinite(Jm[j])
                                                   and Jrm[j] > cur[1][0] + 1e-12)
            if not better:
                break
            cur_set, cur = moves[j], (Jm[j:j + 1], Jrm[j:j + 1])
        if cur[0][0] > best[0]:
            best = (float(cur[0][0]), cur_set)
    return best


def _row(b, J, combo, names, fam, models) -> dict:
    fams = tuple(names[i] for i in combo)
    mods = tuple(models[np.isin(fam, fams)])
    return {"budget": int(b), "objective": float(J), "n_models": len(mods), "families": fams, "models": mods}
