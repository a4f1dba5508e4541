"""scalescope's data layer: named public datasets pinned by sha256, and readers for users' own results.

- :func:`list_datasets`, :func:`load`, :func:`fetch`: the registered public datasets (ObsScaling tables, OLMo
  ladder, Gadre et al. testbed, Pythia evals, WikiText-2, Tiny Shakespeare). Files resolve from
  ``$SCALESCOPE_DATA_DIR`` (sha256-checked), then the pooch cache, then a pinned download (see
  :mod:`scalescope.data.registry`).
- :func:`read_lm_eval`, :func:`read_long_csv`, :func:`to_wide`, :func:`read_benchmark_csv`: user inputs, validated
  with one-line errors (:mod:`scalescope.data.validate`).

Implements the data layer of DESIGN.md ("scalescope/data") and the canonical long table of research/emergence.md
§1.4.

Examples
--------
>>> from scalescope import data
>>> data.load("obsscaling-base").shape  # doctest: +SKIP
(148, 13)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scalescope.data.benchmark import read_benchmark_csv
from scalescope.data.catalog import DATASETS, DatasetSpec
from scalescope.data.lm_eval import read_lm_eval
from scalescope.data.long import read_long_csv, to_wide
from scalescope.data.registry import fetch_file
from scalescope.data.validate import unknown_name
from scalescope.errors import InputError

__all__ = [
    "DATASETS",
    "fetch",
    "get_spec",
    "list_datasets",
    "load",
    "read_benchmark_csv",
    "read_lm_eval",
    "read_long_csv",
    "to_wide",
]


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``; unknown names raise an InputError suggesting the closest one."""
    if not isinstance(name, str) or name not in DATASETS:
        raise unknown_name(str(name), DATASETS)
    return DATASETS[name]


def list_datasets() -> pd.DataFrame:
    """One row per loadable dataset: name, title, files (registry keys, ';'-joined), n_files, license, upstream,
    commit.

    Examples
    --------
    >>> df = list_datasets()
    >>> "obsscaling-base" in set(df["name"])
    True
    """
    rows = []
    for spec in DATASETS.values():
        ents = spec.entries()
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "files": ";".join(spec.files),
                "n_files": len(ents),
                "license": spec.license,
                "upstream": spec.upstream,
                "commit": spec.commit,
            }
        )
    return pd.DataFrame(rows)


def load(name: str, *, download: bool = True) -> pd.DataFrame:
    """Load a registered dataset as a validated DataFrame.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets` ``name`` (``obsscaling-base``, ``olmo-ladder``, ``gadre-scaling``,
        ``pythia-evals``, ``wikitext-2``, ...).
    download : bool
        Allow downloading missing files from their pinned URLs. The demo passes ``False`` to stay offline.

    Raises
    ------
    InputError
        Unknown name, or a local copy whose sha256 does not match the registry.
    DataNotFoundError
        A file is neither local nor downloadable.

    Examples
    --------
    >>> df = load("obsscaling-base")  # doctest: +SKIP
    >>> df.loc[df.Model == "meta-llama/Llama-2-7b-hf", "FLOPs (1E21)"].item()  # doctest: +SKIP
    84.0
    """
    spec = get_spec(name)
    fp = _fingerprint(spec)
    hit = _LOADED.get(name)
    if fp is not None and hit is not None and hit[0] == fp:
        return hit[1].copy()
    df = spec.loader(download=download)
    if fp is not None:
        _LOADED[name] = (fp, df.copy())
    return df


# name -> (fingerprint of the resolved files, frame). Loading pythia-evals parses 685 JSON files; analyses and
# tests load the same dataset many times per process, so keep the parsed frame while the files stay the same.
_LOADED: dict[str, tuple[tuple, pd.DataFrame]] = {}


def _fingerprint(spec: DatasetSpec) -> tuple | None:
    """(path, size, mtime) of every file of ``spec`` as resolved locally now; None if any is not local."""
    from scalescope.data import registry as reg

    fp = []
    for e in spec.entries():
        path, _ = reg.locate(e)  # raises InputError on a checksum mismatch, as the loader would
        if path is None:
            return None
        st = path.stat()
        fp.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(fp)


def fetch(name: str, file: str | None = None, *, download: bool = True) -> Path:
    """Local path of one registered file of dataset (or folder) ``name``.

    ``file`` is a path relative to the dataset's folder (``"valid.txt"``, ``"base_llm_benchmark_eval.csv"``) or a
    full registry key; without it, the dataset's single/default file is returned (``fetch("wikitext-2")`` ->
    ``valid.txt``, ``fetch("obsscaling-base")`` -> ``base_llm_benchmark_eval.csv``).

    Examples
    --------
    >>> fetch("tinyshakespeare").name  # doctest: +SKIP
    'input.txt'
    """
    from scalescope.data import registry as reg

    if name in DATASETS:
        spec = DATASETS[name]
        ents = spec.entries()
    elif reg.entries(name):
        spec, ents = None, reg.entries(name)
    else:
        raise unknown_name(str(name), DATASETS)
    keys = [e.key for e in ents]
    if file is None:
        if spec is not None and spec.fetch_default:
            return fetch_file(spec.fetch_default, download=download)
        if len(keys) == 1:
            return fetch_file(keys[0], download=download)
        raise InputError(
            f"dataset {name!r} has {len(keys)} files; pass file= (e.g. {keys[0].split('/', 1)[1]!r})"
        )
    file = str(file).replace("\\", "/")
    matches = [k for k in keys if k == file or k.endswith("/" + file.lstrip("/"))]
    if len(matches) != 1:
        what = "no" if not matches else f"{len(matches)}"
        raise InputError(f"dataset {name!r}: {what} registered files match {file!r}")
    return fetch_file(matches[0], download=download)
