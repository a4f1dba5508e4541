"""The catalogue of named datasets: what ``scalescope.data.load(name)`` can load, from which registered files.

A *dataset* is a user-facing name (``obsscaling-base``, ``olmo-ladder``, ``wikitext-2``); a *folder* is a directory
of registered files under ``$SCALESCOPE_DATA_DIR`` (``obsscaling``, ``text``). Several datasets can share a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import ModuleType

import pandas as pd

from scalescope.data import gadre, obsscaling, olmo_ladder, pythia, text
from scalescope.data import registry as _reg


@dataclass(frozen=True)
class DatasetSpec:
    """One loadable dataset: its name, a title, the module holding SOURCE/LICENSE/CITATION/NOTE, its registry
    key prefixes (files or folders), and the loader (called with ``download=``)."""

    name: str
    title: str
    module: ModuleType
    files: tuple[str, ...]
    loader: Callable[..., pd.DataFrame]
    fetch_default: str | None = None  # the file fetch(name) returns when no file is given

    def entries(self) -> list[_reg.Entry]:
        out = []
        for prefix in self.files:
            out.extend(_reg.entries(prefix))
        return out

    @property
    def license(self) -> str:
        return {"wikitext-2": text.WIKITEXT_LICENSE, "tinyshakespeare": text.TINYSHAKESPEARE_LICENSE}.get(
            self.name, self.module.LICENSE
        )

    @property
    def upstream(self) -> str:
        return "https://github.com/" + _reg.upstream_for(self.entries()[0].key)[1].repo

    @property
    def commit(self) -> str:
        return _reg.upstream_for(self.entries()[0].key)[1].commit


def _obs(table: str) -> DatasetSpec:
    fname, shape = obsscaling.TABLES[table]
    return DatasetSpec(
        name=f"obsscaling-{table}",
        title=f"ObsScaling {table} table ({shape[0]} x {shape[1]})",
        module=obsscaling,
        files=(f"obsscaling/{fname}",),
        loader=partial(obsscaling.load, table),
    )


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in [
        *(_obs(t) for t in obsscaling.TABLES),
        DatasetSpec(
            "olmo-ladder",
            "OLMo 2 model ladder: 30 ladder runs + 7B/13B targets, every eval checkpoint",
            olmo_ladder,
            ("olmo-ladder",),
            olmo_ladder.load,
        ),
        DatasetSpec(
            "gadre-scaling",
            "Gadre et al. 2024 open_lm testbed: 104 models, 8 LM losses + 46 task accuracies",
            gadre,
            ("gadre-scaling/models", "gadre-scaling/evals"),
            gadre.load,
        ),
        DatasetSpec(
            "gadre-scaling-tasks",
            "Gadre et al. 2024 eval task metadata (category, shots, random baseline %)",
            gadre,
            ("gadre-scaling/eval_metadata.csv",),
            gadre.load_tasks,
        ),
        DatasetSpec(
            "pythia-evals",
            "Pythia suite lm-eval-harness results: 16 models x 27+15 checkpoints, OPT/BLOOM baselines",
            pythia,
            ("pythia-evals",),
            pythia.load,
        ),
        DatasetSpec(
            "wikitext-2",
            "WikiText-2 validation split (articles)",
            text,
            ("text/wikitext-2",),
            text.load_wikitext2,
            fetch_default="text/wikitext-2/valid.txt",
        ),
        DatasetSpec(
            "tinyshakespeare",
            "Tiny Shakespeare (speaker blocks)",
            text,
            ("text/tinyshakespeare",),
            text.load_tinyshakespeare,
            fetch_default="text/tinyshakespeare/input.txt",
        ),
    ]
}
