"""Resolution order of registered files: $SCALESCOPE_DATA_DIR (sha256-checked) -> cache -> download."""

from __future__ import annotations

import shutil

import pooch
import pytest

from scalescope import data
from scalescope.data import registry as reg
from scalescope.errors import DataNotFoundError, InputError

KEY = "obsscaling/instruct_llm_benchmark_eval.csv"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty data dir and cache dir; downloads fail loudly unless a test replaces pooch.retrieve."""
    d, c = tmp_path / "data", tmp_path / "cache"
    d.mkdir()
    c.mkdir()
    monkeypatch.setenv(reg.DATA_DIR_ENV, str(d))
    monkeypatch.setenv(reg.CACHE_DIR_ENV, str(c))

    def no_network(*a, **k):
        raise ConnectionError("network is unreachable (mocked)")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    return d, c


def _copy(src_dir, dst_root, key=KEY):
    dst = dst_root / key
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src_dir / key, dst)
    return dst


def test_data_dir_copy_is_used(data_dir, isolated):
    d, _ = isolated
    dst = _copy(data_dir, d)
    assert reg.fetch_file(KEY) == dst
    assert data.load("obsscaling-instruct").shape == (27, 14)


def test_checksum_mismatch_in_data_dir_names_file_and_hashes(data_dir, isolated):
    d, _ = isolated
    dst = _copy(data_dir, d)
    dst.write_bytes(dst.read_bytes().replace(b"gpt-4-0613", b"gpt-4-0614"))
    expected = reg.registry()[KEY].sha256
    actual = reg.sha256_file(dst)
    with pytest.raises(InputError) as e:
        data.load("obsscaling-instruct")
    msg = str(e.value)
    assert "\n" not in msg
    assert KEY in msg and str(dst) in msg
    assert f"expected {expected}" in msg and f"got {actual}" in msg


def test_mismatch_after_a_successful_load_is_still_caught(data_dir, isolated):
    d, _ = isolated
    dst = _copy(data_dir, d)
    data.load("obsscaling-instruct")  # fills the in-process memo
    dst.write_bytes(dst.read_bytes() + b"\n")
    with pytest.raises(InputError, match="sha256 mismatch"):
        data.load("obsscaling-instruct")


def test_cache_is_used_when_data_dir_lacks_the_file(data_dir, isolated):
    _, c = isolated
    dst = _copy(data_dir, c)
    assert reg.fetch_file(KEY) == dst
    assert reg.locate(reg.registry()[KEY]) == (dst, "cache")


def test_corrupt_cache_is_not_used(data_dir, isolated):
    _, c = isolated
    dst = _copy(data_dir, c)
    dst.write_text("Model\nx\n")
    assert reg.locate(reg.registry()[KEY]) == (None, "missing")
    with pytest.raises(DataNotFoundError):
        reg.fetch_file(KEY)


def test_offline_not_found_message(isolated):
    d, _ = isolated
    entry = reg.registry()[KEY]
    with pytest.raises(DataNotFoundError) as e:
        data.load("obsscaling-instruct")
    msg = str(e.value)
    assert "\n" not in msg
    assert KEY in msg and "SCALESCOPE_DATA_DIR" in msg and entry.url in msg
    assert "download failed: ConnectionError" in msg
    assert isinstance(e.value, InputError) and isinstance(e.value, FileNotFoundError)


def test_unset_data_dir_is_said(monkeypatch, isolated):
    monkeypatch.delenv(reg.DATA_DIR_ENV)
    with pytest.raises(DataNotFoundError, match="SCALESCOPE_DATA_DIR is not set"):
        reg.fetch_file(KEY)


def test_download_false_never_touches_the_network(isolated, monkeypatch):
    def boom(*a, **k):  # pragma: no cover - must not be called
        raise AssertionError("download attempted")

    monkeypatch.setattr(pooch, "retrieve", boom)
    with pytest.raises(DataNotFoundError, match="downloads are disabled"):
        data.load("obsscaling-instruct", download=False)
    with pytest.raises(DataNotFoundError, match="downloads are disabled"):
        data.fetch("wikitext-2", download=False)


def test_download_goes_to_the_cache_with_the_pinned_hash(data_dir, isolated, monkeypatch):
    _, c = isolated
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append((url, known_hash))
        dst = _copy(data_dir, c)
        assert dst.parent == path and dst.name == fname
        return str(dst)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    df = data.load("obsscaling-instruct")
    entry = reg.registry()[KEY]
    assert calls == [(entry.url, f"sha256:{entry.sha256}")]
    assert df.shape == (27, 14)
    # now cached: no second download
    data.load("obsscaling-instruct")
    assert len(calls) == 1


def test_default_cache_dir_is_pooch_os_cache(monkeypatch):
    monkeypatch.delenv(reg.CACHE_DIR_ENV, raising=False)
    assert str(reg.cache_dir()) == str(pooch.os_cache("scalescope"))


def test_make_registry_skips_source_md(tmp_path):
    (tmp_path / "olmo-ladder").mkdir()
    (tmp_path / "olmo-ladder" / "SOURCE.md").write_text("notes")
    (tmp_path / "olmo-ladder" / "1B-1xC.csv").write_text("_step\n1\n")
    out = tmp_path / "registry.txt"
    entries = reg.make_registry(tmp_path, out=out)
    assert [e.key for e in entries] == ["olmo-ladder/1B-1xC.csv"]
    line = out.read_text().splitlines()[-1].split()
    assert line[0] == "olmo-ladder/1B-1xC.csv" and line[1] == reg.sha256_file(
        tmp_path / "olmo-ladder/1B-1xC.csv"
    )
    assert line[2].endswith("/scripts/scaling/data/peteish-moreeval/1B-1xC.csv")


def test_unregistered_key():
    with pytest.raises(InputError, match="not a registered data file"):
        reg.fetch_file("obsscaling/nope.csv")
