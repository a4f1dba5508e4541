"""Shared test set-up: offline Hugging Face, the shared data directory, headless matplotlib, GPU skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
_default_data = REPO.parent / "shared" / "data"
if "SCALESCOPE_DATA_DIR" not in os.environ and _default_data.is_dir():
    os.environ["SCALESCOPE_DATA_DIR"] = str(_default_data)
DATA_DIR = Path(os.environ["SCALESCOPE_DATA_DIR"]).resolve() if "SCALESCOPE_DATA_DIR" in os.environ else None
if DATA_DIR is not None:  # CI passes ../shared/data: subprocesses run from other working directories
    os.environ["SCALESCOPE_DATA_DIR"] = str(DATA_DIR)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared public datasets ($SCALESCOPE_DATA_DIR); tests needing them skip when it is absent."""
    if DATA_DIR is None or not DATA_DIR.is_dir():
        pytest.skip("SCALESCOPE_DATA_DIR is not set and ../shared/data is absent")
    return DATA_DIR


@pytest.fixture(scope="session")
def readme_run(tmp_path_factory, data_dir):
    """Every scalescope command of README.md run once, in order, from a fresh working directory.

    Returns ``(workdir, [(argv, CompletedProcess), ...])``. See ``tests/readme_commands.py`` for what "verbatim"
    means here (and ``SCALESCOPE_README_FULL``).
    """
    import readme_commands as rc

    work = tmp_path_factory.mktemp("readme-cwd")
    rc.make_user_inputs(work, data_dir)
    done = []
    for argv in rc.readme_commands():
        done.append((argv, rc.run(rc.scaled(argv), work)))
    return work, done
