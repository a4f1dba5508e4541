"""``scalescope data list | verify | show``: exit codes, output, one-line errors."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from scalescope.cli import cli
from scalescope.data import registry as reg


def run(*args):
    return CliRunner().invoke(cli, ["data", *args])


def test_help_has_examples():
    for sub in ([], ["list"], ["verify"], ["show"]):
        r = run(*sub, "--help")
        assert r.exit_code == 0 and "Example:" in r.output


def test_list():
    r = run("list")
    assert r.exit_code == 0
    assert "obsscaling-base" in r.output and "pythia-evals" in r.output
    r = run("list", "--json")
    records = json.loads(r.output)
    assert {x["name"] for x in records} >= {"olmo-ladder", "gadre-scaling", "wikitext-2"}


def test_verify_all_ok(data_dir):
    r = run("verify", "--json")
    assert r.exit_code == 0, r.output
    rows = {x["dataset"]: x for x in json.loads(r.output)}
    assert rows["pythia-evals"]["ok"] == 685 and rows["pythia-evals"]["mismatched"] == 0
    assert sum(x["files"] for x in rows.values()) == 947
    r = run("verify", "--quiet", "obsscaling-base", "text")
    assert r.exit_code == 0
    assert "obsscaling-base" in r.output and "text" in r.output


def test_verify_reports_mismatch_with_exit_2(data_dir, tmp_path, monkeypatch):
    key = "obsscaling/base_llm_benchmark_eval.csv"
    dst = tmp_path / key
    dst.parent.mkdir(parents=True)
    shutil.copyfile(data_dir / key, dst)
    dst.write_bytes(dst.read_bytes() + b"x")
    monkeypatch.setenv(reg.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(reg.CACHE_DIR_ENV, str(tmp_path / "cache"))
    r = run("verify", "--quiet", "obsscaling")
    assert r.exit_code == 2
    assert "obsscaling" in r.stdout
    err = r.stderr.strip()
    assert err == f"error: 1 file(s) do not match the registry sha256 (first: {dst})"
    # a missing file alone is not an error
    r = run("verify", "--quiet", "olmo-ladder")
    assert r.exit_code == 0 and " 42 " in r.stdout


def test_show_obsscaling_base(data_dir):
    r = run("show", "obsscaling-base")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "shape: 148 rows x 13 columns" in out
    assert "license: Apache-2.0" in out
    assert "4d6e1e43fd2635d04654aa77d1df9d5266ea0382" in out
    assert "FLOPs (1E21)" in out and "meta-llama/Llama-2-7b-hf" in out


def test_show_text_corpus_truncates_cells(data_dir):
    r = run("show", "tinyshakespeare", "--rows", "2")
    assert r.exit_code == 0
    assert "First Citizen" in r.output
    assert max(len(line) for line in r.output.splitlines()[-2:]) < 200


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["show", "obsscaling-bsae"],
            "error: unknown dataset 'obsscaling-bsae'; did you mean 'obsscaling-base'?",
        ),
        (["verify", "nope"], "error: unknown dataset or folder 'nope'"),
        (["show"], "error: cli data show: Missing argument 'NAME'."),
        (["show", "olmo-ladder", "--rows", "-1"], "error: cli data show: Invalid value for '--rows'"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(message), err


def test_show_offline_missing_data(tmp_path, monkeypatch):
    monkeypatch.setenv(reg.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(reg.CACHE_DIR_ENV, str(tmp_path / "cache"))
    r = run("show", "obsscaling-agent", "--no-download")
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert (
        "\n" not in err and "obsscaling/instruct_llm_agent_eval.csv" in err and "SCALESCOPE_DATA_DIR" in err
    )
