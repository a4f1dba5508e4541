"""Reader for a user's wide benchmark table keyed by ``Model`` (the shape of ObsScaling's base table).

``scalescope obs fit --benchmarks CSV`` takes such a file (Ruan et al. 2024 §3: rows are models, columns are
benchmark scores that the capability PCA decomposes). Metadata columns keep the ObsScaling names
(``Model Family``, ``Model Size (B)``, ``Pretraining Data Size (T)``, ``FLOPs (1E21)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from scalescope.data.validate import (
    check_numeric,
    check_positive,
    check_range,
    check_unique,
    read_csv_strict,
    require_columns,
)
from scalescope.errors import InputError

KEY = "Model"
TEXT_META = ("Model Family",)
NUMERIC_META = ("Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)")


def read_benchmark_csv(
    path: str | Path,
    *,
    score_columns: Sequence[str] | None = None,
    score_range: tuple[float, float] | None = (0.0, 1.0),
) -> pd.DataFrame:
    """Read and validate a wide benchmark CSV: unique ``Model``, numeric scores inside ``score_range``.

    Parameters
    ----------
    path : str or Path
    score_columns : list of str, optional
        The benchmark columns. By default every column except ``Model`` and the metadata columns; all of them must
        then be numeric (name the score columns explicitly if the file has other text columns).
    score_range : (low, high) or None
        Declared range of every score (fractions by default). Empty cells are allowed (NaN); infinities are not.

    Returns
    -------
    DataFrame with the file's columns, scores and numeric metadata as float.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "b.csv"
    >>> _ = p.write_text("Model,FLOPs (1E21),MMLU,GSM8K\\nm1,1.5,0.4,0.1\\nm2,20,0.6,\\n")
    >>> read_benchmark_csv(p)["GSM8K"].isna().tolist()
    [False, True]
    """
    label = Path(path).name
    df = read_csv_strict(path, label=label)
    require_columns(df, [KEY], label=label)
    if df[KEY].isna().any():
        pos = int(df[KEY].isna().to_numpy().nonzero()[0][0])
        raise InputError(f"{label}: column {KEY!r} is empty in row {pos + 1}")
    df[KEY] = df[KEY].astype("string").str.strip()
    check_unique(df, KEY, label=label)
    if score_columns is None:
        score_columns = [c for c in df.columns if c != KEY and c not in TEXT_META and c not in NUMERIC_META]
        if not score_columns:
            raise InputError(f"{label}: no score columns besides {KEY!r} and metadata")
    else:
        score_columns = list(score_columns)
        require_columns(df, score_columns, label=label)
    meta = [c for c in NUMERIC_META if c in df.columns]
    df = check_numeric(df, [*meta, *score_columns], label=label, key=KEY)
    check_positive(df, meta, label=label, key=KEY)
    if score_range is not None:
        lo, hi = score_range
        check_range(df, score_columns, lo, hi, label=label, key=KEY, hint="pass score_range to change it")
    all_nan = [c for c in score_columns if df[c].isna().all()]
    if all_nan:
        raise InputError(f"{label}: score column {all_nan[0]!r} has no values")
    return df
