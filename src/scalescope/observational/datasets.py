"""Loading the observational-scaling tables and building the paper's default model sets (spec §1.2, §2.3-§2.5).

Every table comes through :func:`scalescope.data.load`, the one data access path: the registry resolves
``$SCALESCOPE_DATA_DIR``, then the cache, then the pinned download, and always checks the file's sha256. With
``offline=True`` (the demo) nothing is downloaded: a table that does not resolve locally raises
:class:`~scalescope.errors.DataNotFoundError`.
"""

from __future__ import annotations

import pandas as pd

from scalescope import data
from scalescope.errors import InputError
from scalescope.observational.constants import (
    EVALUATED_FAMILIES,
    FAMILY_COL,
    FLOPS_COL,
    MODEL_COL,
    NO_FLOPS_FAMILIES,
    PREREGISTERED_MODELS,
)

#: The observational-scaling tables registered in :mod:`scalescope.data` (the registry holds their files and hashes).
TABLES = (
    "obsscaling-base",
    "obsscaling-base-sub10b",
    "obsscaling-emergent",
    "obsscaling-post-training",
    "obsscaling-instruct",
    "obsscaling-agent",
)


def load_table(name: str, *, offline: bool = False) -> pd.DataFrame:
    """Load one upstream table by its scalescope dataset name (``"obsscaling-base"``, ...), sha256-checked.

    Examples
    --------
    >>> df = load_table("obsscaling-base")  # doctest: +SKIP
    >>> df.shape  # doctest: +SKIP
    (148, 13)
    """
    if name not in TABLES:
        raise InputError(f"{name}: unknown obsscaling table (known: {', '.join(TABLES)})")
    return data.load(name, download=not offline)


def default_base_models(df: pd.DataFrame, *, include_preregistered: bool = False) -> pd.DataFrame:
    """The authors' default base-model set: the 28 evaluated families minus the 20 pre-registered models (77 rows)."""
    keep = df[FAMILY_COL].isin(EVALUATED_FAMILIES)
    if not include_preregistered:
        keep &= ~df[MODEL_COL].isin(PREREGISTERED_MODELS)
    return df.loc[keep].reset_index(drop=True)


def flops_families_only(df: pd.DataFrame) -> pd.DataFrame:
    """Drop the families without training FLOPs (Mistral, Mixtral, Qwen2), as the compute-based analyses do."""
    keep = ~df[FAMILY_COL].isin(NO_FLOPS_FAMILIES) & df.groupby(FAMILY_COL)[FLOPS_COL].transform("count").gt(0)
    return df.loc[keep].reset_index(drop=True)


def base_models(*, include_preregistered: bool = False, offline: bool = False) -> pd.DataFrame:
    """The default 77-model base table (spec §1.2, target T1)."""
    return default_base_models(load_table("obsscaling-base", offline=offline),
                               include_preregistered=include_preregistered)


def join_target(bench: pd.DataFrame, table: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Inner-join target ``columns`` of ``table`` onto ``bench`` by ``Model`` (keeps ``bench``'s row order)."""
    cols = [c for c in columns if c not in bench.columns]
    return bench.merge(table[[MODEL_COL, *cols]], on=MODEL_COL, how="inner")


def instruct_models(*, offline: bool = False) -> pd.DataFrame:
    """The 27 instruct/API models with their agent scores joined (spec §2.4)."""
    bench = load_table("obsscaling-instruct", offline=offline)
    agent = load_table("obsscaling-agent", offline=offline)
    return join_target(bench, agent, [c for c in agent.columns if c != MODEL_COL])


#: The authors' model sets by name (spec §1.2, §2.8): what ``--benchmarks NAME`` and ``obs place --reference NAME`` take.
REFERENCE_SETS: dict[str, str] = {
    "base": "the default 77 base models (28 evaluated families, without the 20 pre-registered models)",
    "base+preregistered": "the 77 default base models plus the 20 pre-registered models (97)",
    "preregistered": "the 20 models released after the paper (v3 pre-registered predictions)",
    "base-all": "all 148 rows of the base table, unevaluated families included",
    "base-sub10b": "the 92 base models of at most 9B parameters (upstream's single-GPU table)",
}


def reference_set(name: str, *, offline: bool = False) -> pd.DataFrame:
    """One of :data:`REFERENCE_SETS` as a base-model table (``Model``, family, compute columns, 8 benchmarks).

    Examples
    --------
    >>> len(reference_set("base+preregistered"))  # doctest: +SKIP
    97
    """
    if name not in REFERENCE_SETS:
        raise InputError(f"reference set {name!r} is unknown (known: {', '.join(REFERENCE_SETS)})")
    if name == "base-sub10b":
        return load_table("obsscaling-base-sub10b", offline=offline)
    df = load_table("obsscaling-base", offline=offline)
    if name == "base-all":
        return df.reset_index(drop=True)
    if name == "preregistered":
        return df.loc[df[MODEL_COL].isin(PREREGISTERED_MODELS)].reset_index(drop=True)
    return default_base_models(df, include_preregistered=name == "base+preregistered")
