"""The offline calibration-methods demo (calibration.methods.demo.run_demo) on a small configuration."""

from __future__ import annotations

import json

import pytest

from scalescope.calibration.methods.demo import DEMO_METHODS, ORDER, TITLE, MethodsDemoConfig, run_demo
from scalescope.errors import DataNotFoundError


def test_methods_demo_small(tmp_path):
    cfg = MethodsDemoConfig(prompt_tokens=8, steps=12, samples=120)
    s = run_demo(tmp_path, quiet=True, config=cfg)
    assert set(s["methods"]) == set(DEMO_METHODS)
    assert s["n_fit"] == s["n_test"] == 120 and s["split"]["split"] == "passages"
    assert s["guarantees"]["by_method"]["future_entropy"]["abs_entce_smaller"]
    sec = json.loads((tmp_path / "section.json").read_text())
    assert sec["order"] == ORDER == 42 and sec["title"] == TITLE and sec["kind"] == "calibration"
    assert all((tmp_path / f["path"]).is_file() for f in sec["figures"])
    assert "future_entropy.entce" in sec["metrics"]


def test_methods_demo_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALESCOPE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("SCALESCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        from scalescope.data import fetch

        fetch("tinyshakespeare", download=False)
        pytest.skip("tinyshakespeare is in a local cache this test cannot hide")
    except Exception:  # noqa: BLE001
        pass
    with pytest.raises(DataNotFoundError):
        run_demo(tmp_path / "out", config=MethodsDemoConfig(corpus="tinyshakespeare"))
    assert not (tmp_path / "out").exists()
