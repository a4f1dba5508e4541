"""Sweep spec files: many ``calibrate run`` cells (models x corpora x samplers x seeds) described in one TOML file.

The paper's central results are sweeps (Cao et al. 2025 §4.1, spec §2.1 and §5.1 Fig. 1): a model family at several
sizes x datasets x temperatures, one EntCE per cell and one exponent per family. A spec names the axes, the grid
(or an explicit list of cells) and the per-model metadata the analysis needs (size in parameters, family, training
tokens). It is read with the standard library's :mod:`tomllib` and validated into frozen dataclasses; every mistake
is an :class:`~scalescope.errors.InputError` of one line naming the file and the key.

Format::

    [sweep]
    name = "ngram-family"                # optional; default: the file name

    [defaults]                           # any `calibrate run` option, for every cell
    corpus = "wikitext-2"
    steps = 32
    samples = 16

    [axes]                               # the grid: every combination of these values
    model = ["ngram:3:wikitext-2@5k", "ngram:3:wikitext-2@50k"]
    sampler = ["pure", "temp=0.9"]
    seed = [0, 1]

    [[cells]]                            # explicit cells, added to the grid (or instead of it)
    model = "ngram:2:wikitext-2@5k"

    [models."Qwen/Qwen2.5-0.5B"]         # metadata per model (optional for ngram: and for sizes in the name)
    family = "Qwen2.5"
    params = "0.5B"                      # or 494e6
    train_tokens = "18T"
    gpus = 1                             # GPUs one cell of this model needs on a cluster

Options (TOML keys, ``-`` or ``_``): ``model``, ``corpus``, ``prompt_tokens``, ``steps``, ``samples``, ``sampler``,
``seed``, ``batch_size``, ``shard_size``, ``dtype``, ``device``, ``chat_template``, ``prompt_split``, ``passages``,
``passage_seed``, ``engine``, ``ignore_eos`` -- the flags of ``scalescope calibrate run``, with its defaults.

Metadata a spec does not give is derived where it is known: ``ngram:N[:CORPUS]@TOKENS`` models were trained on
TOKENS tokens and form the family ``ngram:N[:CORPUS]`` (the spec without ``@TOKENS``); a Hugging Face id's nominal
size is read from its name as the paper's code does ("0.5B" -> 5e8, "410m" -> 4.1e8; spec §1.6), and its family is
the id without the size, or the ``model_type`` of a ``config.json`` found locally (a model directory or the Hugging
Face cache; nothing is downloaded).

Example
-------
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
>>> _ = p.write_text('''
... [defaults]
... corpus = "wikitext-2"
... steps = 8
... samples = 4
... [axes]
... model = ["ngram:3:wikitext-2@5k", "ngram:3:wikitext-2@50k"]
... seed = [0, 1]
... ''')
>>> spec = load_spec(p)
>>> len(spec.cells), spec.cells[0].id  # doctest: +ELLIPSIS
(4, 'ngram-3-wikitext-2-5k_s0-...')
>>> spec.cells[2].meta.train_tokens, spec.cells[2].meta.family
(50000.0, 'ngram:3:wikitext-2')
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scalescope.errors import InputError

__all__ = ["OPTIONS", "REQUIRED", "Cell", "ModelMeta", "SweepSpec", "load_spec", "parse_spec", "parse_size",
           "model_meta", "config_from_options"]

_CHOICES = {
    "dtype": ("auto", "float32", "bfloat16", "float16"),
    "prompt_split": ("auto", "all", "eval", "train"),
    "passages": ("random", "openings"),
    "engine": ("simple", "fast"),
}
#: Every ``calibrate run`` option a sweep may set or sweep over: name -> (type, default). ``None``: no default.
OPTIONS: dict[str, tuple[type, Any]] = {
    "model": (str, None),
    "corpus": (str, None),
    "prompt_tokens": (int, 128),
    "steps": (int, None),
    "samples": (int, None),
    "sampler": (str, "pure"),
    "seed": (int, 0),
    "batch_size": (int, 16),
    "shard_size": (int, 64),
    "dtype": (str, "auto"),
    "device": (str, "auto"),
    "chat_template": (bool, False),
    "prompt_split": (str, "auto"),
    "passages": (str, "random"),
    "passage_seed": (int, 0),
    "engine": (str, "simple"),
    "ignore_eos": (bool, False),
}
#: Options every cell must end up with (the required flags of ``calibrate run``).
REQUIRED = ("model", "corpus", "steps", "samples")
#: Axes shown first in cell ids, in this order; other swept options follow in spec order.
_ID_ORDER = ("model", "corpus", "sampler", "seed")
_META_KEYS = {"family", "params", "train_tokens", "gpus"}
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_size(value: Any, where: str) -> float:
    """A positive count: a number or a string such as ``"0.5B"``, ``"410m"``, ``"18T"``, ``"100k"``, ``"1e5"``.

    Examples
    --------
    >>> parse_size("0.5B", "x"), parse_size("410m", "x"), parse_size(3e5, "x")
    (500000000.0, 410000000.0, 300000.0)
    """
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a positive number such as 5e8 or '0.5B' (got {value!r})")
    if isinstance(value, int | float):
        v = float(value)
    elif isinstance(value, str):
        t = value.strip().lower().replace("_", "")
        mult = _SUFFIX.get(t[-1:], 1.0)
        try:
            v = float(t[:-1] if mult != 1.0 else t) * mult
        except ValueError:
            raise InputError(f"{where}: {value!r} is not a count (e.g. 5e8, '0.5B', '410m', '18T')") from None
    else:
        raise InputError(f"{where}: expected a positive number such as 5e8 or '0.5B' (got {type(value).__name__})")
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{where}: must be a positive count (got {value!r})")
    return v


@dataclass(frozen=True)
class ModelMeta:
    """What the analysis needs to know about a model: family, size in parameters, training tokens.

    ``source`` says where each field came from (``spec``, ``ngram spec``, ``name``, ``config.json``). ``gpus`` is
    what one cell of this model asks a cluster for (0 for n-gram models and ``device = "cpu"``).
    """

    family: str
    params: float | None = None
    train_tokens: float | None = None
    gpus: int = 0
    source: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "params": self.params, "train_tokens": self.train_tokens, "gpus": self.gpus,
                "source": dict(self.source)}


@dataclass(frozen=True)
class Cell:
    """One ``calibrate run`` of a sweep: its id (the folder name under ``DIR/cells``), options and metadata.

    ``options`` holds every ``calibrate run`` option (defaults filled in); ``axes`` the values of the options that
    vary across the sweep's cells (what tells this cell from the others).
    """

    id: str
    options: Mapping[str, Any]
    axes: Mapping[str, Any]
    meta: ModelMeta

    def config(self):
        """The cell's :class:`~scalescope.calibration.engine.CalibrationConfig` (validated)."""
        return config_from_options(self.options)

    @property
    def engine(self) -> str:
        return str(self.options["engine"])

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "options": dict(self.options), "axes": dict(self.axes), "meta": self.meta.to_dict()}


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: its cells in a fixed order, plus where it came from (``path``, ``sha256``)."""

    name: str
    cells: tuple[Cell, ...]
    axes: tuple[str, ...]
    path: str | None = None
    sha256: str | None = None

    def cell(self, cell_id: str) -> Cell:
        for c in self.cells:
            if c.id == cell_id:
                return c
        raise KeyError(cell_id)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "sha256": self.sha256, "axes": list(self.axes),
                "cells": [c.to_dict() for c in self.cells]}


def config_from_options(o: Mapping[str, Any]):
    """The :class:`~scalescope.calibration.engine.CalibrationConfig` of a cell's options (validated)."""
    from scalescope.calibration.engine import CalibrationConfig

    return CalibrationConfig(
        model=o["model"], corpus=o["corpus"], prompt_tokens=o["prompt_tokens"], steps=o["steps"],
        samples=o["samples"], sampler=o["sampler"], seed=o["seed"], batch_size=o["batch_size"],
        shard_size=o["shard_size"], stop_at_eos=not o["ignore_eos"], chat_template=o["chat_template"],
        prompt_split=o["prompt_split"], dtype=o["dtype"], device=o["device"], passages=o["passages"],
        passage_seed=o["passage_seed"],
    ).validate()


# ---------------------------------------------------------------------------------------------------------------
# metadata
# ---------------------------------------------------------------------------------------------------------------
_NAME_SIZE = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)([mMbB])(?![A-Za-z0-9])")


def _hf_config(model: str) -> dict | None:
    """``config.json`` of a local model directory or of a Hugging Face cache entry; never downloads."""
    p = Path(model).expanduser()
    cand = p / "config.json" if p.is_dir() else None
    if cand is None and re.match(r"^[\w.-]+/[\w.-]+$", model):
        try:
            from huggingface_hub import try_to_load_from_cache

            hit = try_to_load_from_cache(model, "config.json")
            cand = Path(hit) if isinstance(hit, str) else None
        except Exception:  # optional dependency, odd cache states: metadata stays unknown
            cand = None
    if cand is None or not cand.is_file():
        return None
    try:
        d = json.loads(cand.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def model_meta(model: str, given: Mapping[str, Any] | None = None, *, device: str = "auto",
               where: str = "models") -> ModelMeta:
    """Metadata of ``model``: the spec's ``[models."<model>"]`` table ``given`` first, then what the id tells.

    Examples
    --------
    >>> m = model_meta("EleutherAI/pythia-410m")
    >>> m.params, m.family, m.gpus, m.source["params"]
    (410000000.0, 'EleutherAI/pythia', 1, 'name')
    >>> model_meta("ngram:3:wikitext-2@10k").train_tokens
    10000.0
    """
    given = dict(given or {})
    src: dict[str, str] = {}
    family = given.get("family")
    params = parse_size(given["params"], f"{where}.params") if given.get("params") is not None else None
    tokens = parse_size(given["train_tokens"], f"{where}.train_tokens") if given.get("train_tokens") is not None \
        else None
    for k, v in (("family", family), ("params", params), ("train_tokens", tokens)):
        if v is not None:
            src[k] = "spec"
    if model.startswith("ngram:"):
        from scalescope.calibration.models import parse_ngram_spec

        try:
            ns = parse_ngram_spec(model)
        except InputError:  # a malformed spec fails its own cells when they run; the rest of the sweep goes on
            ns = None
        if tokens is None and ns is not None and ns.train_tokens is not None:
            tokens, src["train_tokens"] = float(ns.train_tokens), "ngram spec"
        if family is None:
            family = re.sub(r"@[^@/]*", "", model, count=1)
            src["family"] = "ngram spec"
        gpus_default = 0
    else:
        m = _NAME_SIZE.search(model.rsplit("/", 1)[-1])
        if params is None and m:
            params = float(m.group(1)) * (1e6 if m.group(2).lower() == "m" else 1e9)
            src["params"] = "name"
        if family is None:
            cfg = _hf_config(model)
            if m:
                family = (model[: model.rindex(m.group(0))]).rstrip("-_.") or model
                src["family"] = "name"
            elif cfg and cfg.get("model_type"):
                family, src["family"] = str(cfg["model_type"]), "config.json"
            else:
                family, src["family"] = model, "name"
        gpus_default = 0 if str(device).startswith("cpu") else 1
    gpus = given.get("gpus", gpus_default)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise InputError(f"{where}.gpus: expected an integer >= 0 (got {gpus!r})")
    return ModelMeta(family=str(family), params=params, train_tokens=tokens, gpus=int(gpus),
                     source=MappingProxyType(src))


# ---------------------------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------------------------
def _norm_key(k: str) -> str:
    return str(k).replace("-", "_")


def _check_value(name: str, value: Any, where: str) -> Any:
    typ, _ = OPTIONS[name]
    if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InputError(f"{where}: expected an integer (got {value!r})")
    if typ is bool and not isinstance(value, bool):
        raise InputError(f"{where}: expected true or false (got {value!r})")
    if typ is str:
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: expected a non-empty string (got {value!r})")
        value = value.strip()
    if name in _CHOICES and value not in _CHOICES[name]:
        raise InputError(f"{where}: {value!r} is not one of {', '.join(_CHOICES[name])}")
    if typ is int and name in ("prompt_tokens", "steps", "samples", "batch_size", "shard_size") and value < 1:
        raise InputError(f"{where}: must be >= 1 (got {value})")
    if typ is int and name in ("seed", "passage_seed") and not 0 <= value <= 2**32 - 1:
        raise InputError(f"{where}: must be in [0, 2**32 - 1] (got {value})")
    return value


def _options_table(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(f"{where}: expected a table of calibrate run options")
    out: dict[str, Any] = {}
    for k, v in table.items():
        name = _norm_key(k)
        if name not in OPTIONS:
            raise InputError(f"{where}.{k}: unknown option (expected one of {', '.join(OPTIONS)})")
        out[name] = _check_value(name, v, f"{where}.{k}")
    return out


def _slug(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    s = re.sub(r"[^a-z0-9.=+-]+", "-", str(v).lower()).strip("-.")
    return s or "x"


def _cell_id(options: dict[str, Any], varying: list[str]) -> str:
    parts = []
    for k in varying:
        v = options[k]
        parts.append(f"s{v}" if k == "seed" else (_slug(v) if k in _ID_ORDER else f"{k}={_slug(v)}"))
    stem = "_".join(parts)[:96].rstrip("-_.") or "cell"
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:8]
    return f"{stem}-{digest}"


def parse_spec(data: Mapping[str, Any], *, where: str = "spec", name: str | None = None) -> SweepSpec:
    """Validate a parsed TOML document (a dict) into a :class:`SweepSpec`; ``where`` names it in errors.

    Examples
    --------
    >>> parse_spec({"defaults": {"corpus": "c", "steps": 2, "samples": 1}, "axes": {"model": ["ngram:2@1k"]},
    ...             "cells": [{"model": "ngram:2@1k", "sampler": "temp=2"}]}).axes
    ('sampler',)
    >>> parse_spec({"axes": {"modle": ["x"]}}, where="s.toml")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InputError: s.toml: [axes].modle: unknown option ...
    """
    allowed = {"sweep", "defaults", "axes", "cells", "models"}
    for k in data:
        if k not in allowed:
            raise InputError(f"{where}: [{k}]: unknown table (expected sweep, defaults, axes, cells, models)")
    head = data.get("sweep", {})
    if not isinstance(head, dict):
        raise InputError(f"{where}: [sweep]: expected a table")
    for k in head:
        if k not in ("name", "description"):
            raise InputError(f"{where}: [sweep].{k}: unknown key (expected name, description)")
    sname = head.get("name", name or "sweep")
    if not isinstance(sname, str) or not sname.strip():
        raise InputError(f"{where}: [sweep].name: expected a non-empty string")
    defaults = _options_table(data.get("defaults", {}), f"{where}: [defaults]")

    axes_raw = data.get("axes", {})
    if not isinstance(axes_raw, dict):
        raise InputError(f"{where}: [axes]: expected a table of option = [values]")
    axes: dict[str, list] = {}
    for k, vals in axes_raw.items():
        nm = _norm_key(k)
        if nm not in OPTIONS:
            raise InputError(f"{where}: [axes].{k}: unknown option (expected one of {', '.join(OPTIONS)})")
        if nm in axes:
            raise InputError(f"{where}: [axes].{k}: given twice")
        if not isinstance(vals, list) or not vals:
            raise InputError(f"{where}: [axes].{k}: expected a non-empty list of values")
        checked = [_check_value(nm, v, f"{where}: [axes].{k}[{i}]") for i, v in enumerate(vals)]
        if len({json.dumps(v) for v in checked}) < len(checked):
            raise InputError(f"{where}: [axes].{k}: a value is listed twice")
        axes[nm] = checked

    raw_cells: list[tuple[str, dict[str, Any]]] = []
    if axes:
        names = list(axes)
        for combo in itertools.product(*(axes[n] for n in names)):
            raw_cells.append(("[axes]", dict(zip(names, combo))))
    explicit = data.get("cells", [])
    if not isinstance(explicit, list):
        raise InputError(f"{where}: cells: expected an array of tables ([[cells]])")
    for i, c in enumerate(explicit):
        raw_cells.append((f"[[cells]][{i}]", _options_table(c, f"{where}: [[cells]][{i}]")))
    if not raw_cells:
        raise InputError(f"{where}: no cells: give an [axes] grid or [[cells]] tables")

    models_raw = data.get("models", {})
    if not isinstance(models_raw, dict):
        raise InputError(f"{where}: [models]: expected tables [models.\"<model spec>\"]")
    for m, t in models_raw.items():
        if not isinstance(t, dict):
            raise InputError(f"{where}: [models].\"{m}\": expected a table (family, params, train_tokens, gpus)")
        for k in t:
            if k not in _META_KEYS:
                raise InputError(f"{where}: [models].\"{m}\".{k}: unknown key (expected "
                                 f"{', '.join(sorted(_META_KEYS))})")
        if "family" in t and (not isinstance(t["family"], str) or not t["family"].strip()):
            raise InputError(f"{where}: [models].\"{m}\".family: expected a non-empty string")

    full: list[tuple[str, dict[str, Any]]] = []
    for origin, c in raw_cells:
        opts = {k: d for k, (_, d) in OPTIONS.items()}
        opts.update({k: v for k, v in defaults.items()})
        opts.update(c)
        missing = [k for k in REQUIRED if opts.get(k) is None]
        if missing:
            raise InputError(f"{where}: {origin}: option {missing[0]} is not set (set it in [defaults], [axes] or "
                             "the cell)")
        full.append((origin, opts))
    varying = [k for k in OPTIONS if len({json.dumps(o[k]) for _, o in full}) > 1]
    varying = [k for k in _ID_ORDER if k in varying] + [k for k in varying if k not in _ID_ORDER]

    cells: list[Cell] = []
    seen: dict[str, str] = {}
    meta_cache: dict[tuple[str, str], ModelMeta] = {}
    for origin, opts in full:
        cid = _cell_id(opts, varying)
        if cid in seen:
            raise InputError(f"{where}: {origin}: the same cell as {seen[cid]} (every option equal)")
        seen[cid] = origin
        key = (opts["model"], opts["device"])
        if key not in meta_cache:
            meta_cache[key] = model_meta(opts["model"], models_raw.get(opts["model"]), device=opts["device"],
                                         where=f"{where}: [models].\"{opts['model']}\"")
        cells.append(Cell(id=cid, options=MappingProxyType(dict(opts)),
                          axes=MappingProxyType({k: opts[k] for k in varying}), meta=meta_cache[key]))
    unused = [m for m in models_raw if m not in {c.options["model"] for c in cells}]
    if unused:
        raise InputError(f"{where}: [models].\"{unused[0]}\": no cell uses this model (a typo?)")
    return SweepSpec(name=sname.strip(), cells=tuple(cells), axes=tuple(varying))


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep spec file (TOML). Every error is one line naming the file and the key.

    Examples
    --------
    >>> load_spec("/nonexistent.toml")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InputError: /nonexistent.toml: no such file
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file (expected a sweep spec, TOML)")
    raw = p.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text (expected a sweep spec, TOML)") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{p}: invalid TOML ({e})") from None
    spec = parse_spec(data, where=str(p), name=p.stem)
    from scalescope.outputs import check_input_path

    for corpus in sorted({str(c.options.get("corpus")) for c in spec.cells}):
        f = Path(corpus.split(".jsonl:")[0] + ".jsonl" if ".jsonl:" in corpus else corpus).expanduser()
        if f.exists() and not f.is_dir():  # a FIFO or device would hang or fail every cell: one line now
            check_input_path(f, what=f"{p}: corpus {corpus!r}")
    return SweepSpec(name=spec.name, cells=spec.cells, axes=spec.axes, path=str(p),
                     sha256=hashlib.sha256(raw).hexdigest())
