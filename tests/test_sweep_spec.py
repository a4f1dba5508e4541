"""Sweep spec files: grid and explicit cells, stable ids, metadata, one-line errors naming file and key, and the
examples in examples/sweeps validated by ``calibrate sweep --dry-run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scalescope.calibration.sweep import load_spec, model_meta, parse_spec
from scalescope.cli import cli
from scalescope.errors import InputError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples" / "sweeps").glob("*.toml"))

BASE = """
[defaults]
corpus = "wikitext-2"
steps = 8
samples = 4
"""


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_grid_explicit_cells_ids_and_defaults(tmp_path):
    p = _write(tmp_path, BASE + """
[axes]
model = ["ngram:3:wikitext-2@5k", "ngram:3:wikitext-2@50k"]
sampler = ["pure", "temp=0.9"]
seed = [0, 1]

[[cells]]
model = "ngram:2:wikitext-2@5k"
prompt-tokens = 32
""")
    spec = load_spec(p)
    assert len(spec.cells) == 2 * 2 * 2 + 1
    assert spec.axes == ("model", "sampler", "seed", "prompt_tokens")
    ids = [c.id for c in spec.cells]
    assert len(set(ids)) == len(ids)
    assert ids == [c.id for c in load_spec(p).cells]  # stable across reads
    first = spec.cells[0]
    assert first.options["prompt_tokens"] == 128 and first.options["batch_size"] == 16  # calibrate run defaults
    assert spec.cells[-1].options["prompt_tokens"] == 32
    assert first.id.startswith("ngram-3-wikitext-2-5k_pure_s0_")
    cfg = first.config()
    assert (cfg.model, cfg.steps, cfg.samples, cfg.sampler) == ("ngram:3:wikitext-2@5k", 8, 4, "pure")
    assert spec.sha256 and spec.name == "s"


def test_changing_a_shared_option_changes_every_cell_id(tmp_path):
    a = load_spec(_write(tmp_path, BASE + '[axes]\nmodel = ["ngram:2@1k", "ngram:2@2k"]\n', "a.toml"))
    b = load_spec(_write(tmp_path, BASE.replace("steps = 8", "steps = 9") +
                         '[axes]\nmodel = ["ngram:2@1k", "ngram:2@2k"]\n', "b.toml"))
    assert not {c.id for c in a.cells} & {c.id for c in b.cells}


def test_metadata_declared_derived_and_from_names():
    m = model_meta("ngram:3:wikitext-2@10k/char")
    assert (m.family, m.train_tokens, m.params, m.gpus) == ("ngram:3:wikitext-2/char", 1e4, None, 0)
    q = model_meta("Qwen/Qwen2.5-0.5B", {"family": "Qwen2.5", "train_tokens": "18T"})
    assert (q.family, q.params, q.train_tokens, q.gpus) == ("Qwen2.5", 5e8, 1.8e13, 1)
    assert dict(q.source) == {"family": "spec", "train_tokens": "spec", "params": "name"}
    assert model_meta("EleutherAI/pythia-1.4b", device="cpu").gpus == 0
    assert model_meta("meta-llama/Llama-3.1-8B", {"params": 8.03e9}).params == 8.03e9


def test_hf_family_from_a_local_config(tmp_path):
    d = tmp_path / "mymodel"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    assert model_meta(str(d)).family == "gpt2"


@pytest.mark.parametrize("text, where", [
    (BASE + '[axes]\nmodle = ["x"]\n', "[axes].modle: unknown option"),
    (BASE + '[axes]\nmodel = []\n', "[axes].model: expected a non-empty list"),
    (BASE + '[axes]\nmodel = ["a", "a"]\n', "[axes].model: a value is listed twice"),
    (BASE + '[axes]\nmodel = ["a"]\nseed = ["zero"]\n', "[axes].seed[0]: expected an integer"),
    (BASE + '[axes]\nmodel = ["a"]\ndtype = ["int3"]\n', "[axes].dtype[0]: 'int3' is not one of"),
    (BASE.replace("steps = 8", "steps = 0") + '[axes]\nmodel = ["a"]\n', "[defaults].steps: must be >= 1"),
    (BASE + '[axes]\nmodel = ["a"]\n[models.b]\nfamily = "x"\n', "[models].\"b\": no cell uses this model"),
    (BASE + '[axes]\nmodel = ["a"]\n[models.a]\nsize = 3\n', "[models].\"a\".size: unknown key"),
    (BASE + '[axes]\nmodel = ["a"]\n[models.a]\nparams = "lots"\n', "[models].\"a\".params: 'lots' is not a count"),
    (BASE + '[axes]\nmodel = ["a"]\n[models.a]\ngpus = -1\n', "[models].\"a\".gpus: expected an integer >= 0"),
    ('[axes]\nmodel = ["a"]\n', "[axes]: option corpus is not set"),
    (BASE, "no cells"),
    (BASE + '[axes]\nmodel = ["a"]\n[[cells]]\nmodel = "a"\n', "the same cell as [axes]"),
    (BASE + '[sweeps]\nname = "x"\n', "[sweeps]: unknown table"),
    (BASE + "[axes\n", "invalid TOML"),
])
def test_bad_specs_are_one_line_errors_naming_file_and_key(tmp_path, text, where):
    p = _write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_spec(p)
    msg = str(e.value)
    assert str(p) in msg and where in msg and "\n" not in msg


def test_parse_spec_without_file():
    spec = parse_spec({"defaults": {"corpus": "c", "steps": 1, "samples": 1}, "cells": [{"model": "ngram:2"}]})
    assert len(spec.cells) == 1 and spec.path is None


def test_cli_bad_spec_exit_2_one_line(tmp_path):
    p = _write(tmp_path, BASE + '[axes]\nmodle = ["x"]\n')
    r = CliRunner().invoke(cli, ["calibrate", "sweep", str(p), "--out", str(tmp_path / "o"), "--dry-run"])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "[axes].modle" in lines[0]
    r = CliRunner().invoke(cli, ["calibrate", "sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "missing.toml: no such file" in r.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_dry_run(tmp_path, path):
    """The paper's GPU-cluster sweeps and the offline n-gram family are valid specs; --dry-run writes nothing."""
    out = tmp_path / "never"
    r = CliRunner().invoke(cli, ["calibrate", "sweep", str(path), "--out", str(out), "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    spec = load_spec(path)
    assert d["n_cells"] == len(spec.cells) == len({c["id"] for c in d["cells"]}) >= 4
    assert not out.exists()
    fams = {c["meta"]["family"] for c in d["cells"]}
    assert len(fams) == 1  # one family per example, each with >= 2 sizes
    sizes = {c["meta"]["params"] or c["meta"]["train_tokens"] for c in d["cells"]}
    assert len(sizes) >= 3
    if "ngram" not in path.stem:
        assert all(c["meta"]["params"] and c["meta"]["gpus"] >= 1 for c in d["cells"])
    r = CliRunner().invoke(cli, ["calibrate", "sweep", str(path), "--out", str(out), "--dry-run"])
    assert r.exit_code == 0 and len(r.output.splitlines()) == len(spec.cells) + 1


def test_help_has_example():
    r = CliRunner().invoke(cli, ["calibrate", "sweep", "--help"])
    assert r.exit_code == 0 and "Example" in r.output and "--ray" in r.output and "--workers" in r.output
