"""The data-inventory demo part: offline, section.json + table + figure; skips cleanly without data."""

from __future__ import annotations

import json

import pandas as pd
import pooch
import pytest

from scalescope.data import registry as reg
from scalescope.data.demo import run_demo
from scalescope.errors import DataNotFoundError


def test_demo_writes_section(data_dir, tmp_path, monkeypatch):
    def no_network(*a, **k):  # pragma: no cover - must not be called
        raise AssertionError("the demo must not download")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    run_demo(tmp_path / "data")
    sec = json.loads((tmp_path / "data" / "section.json").read_text())
    assert sec["kind"] == "data" and sec["order"] == 10 and sec["title"] == "Data inventory"
    assert (tmp_path / "data" / sec["figures"][0]["path"]).stat().st_size > 10_000
    inv = pd.read_csv(tmp_path / "data" / sec["tables"][0]["path"])
    assert set(inv["where_found"]) == {"data_dir"}
    assert inv.set_index("name").loc["obsscaling-base", ["rows", "cols"]].tolist() == [148, 13]
    assert sec["metrics"]["datasets_local"] == len(inv)


def test_demo_without_data_raises_data_not_found(tmp_path, monkeypatch):
    monkeypatch.setenv(reg.DATA_DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv(reg.CACHE_DIR_ENV, str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="SCALESCOPE_DATA_DIR"):
        run_demo(tmp_path / "out")
    assert not (tmp_path / "out").exists()
