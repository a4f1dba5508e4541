"""The output layer (scalescope.outputs): the --out contract of DESIGN.md, one property per test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scalescope.errors import InputError
from scalescope.outputs import MARKER, atomic_path, check_input_path, output_dir, read_marker, writes_output
from scalescope.report import build_report, read_section, write_section


def _write(d: Path, name: str, text: str = "x") -> Path:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_created_when_missing_and_marker_lists_every_file(tmp_path):
    out = tmp_path / "a" / "b"
    with output_dir(out, command="cmd") as d:
        _write(d, "r.json")
        _write(d, "figs/f.png")
    assert sorted(read_marker(out)["files"]) == ["figs/f.png", "r.json"]
    assert not [p for p in out.iterdir() if p.name.startswith(".scalescope-staging")]


def test_user_folder_refused_and_untouched(tmp_path):
    out = tmp_path / "mine"
    note = _write(out, "notes.txt", "keep me")
    with pytest.raises(InputError, match="not written by scalescope"):
        with output_dir(out, command="cmd", overwrite=True):
            pass
    assert note.read_text() == "keep me" and sorted(os.listdir(out)) == ["notes.txt"]


def test_earlier_output_needs_overwrite_and_only_listed_files_go(tmp_path):
    out = tmp_path / "o"
    with output_dir(out, command="cmd") as d:
        _write(d, "old.csv")
        _write(d, "keep.csv", "v1")
    user = _write(out, "runs/my_experiment/notes.txt", "mine")
    with pytest.raises(InputError, match="--overwrite"):
        with output_dir(out, command="cmd"):
            pass
    with pytest.raises(InputError, match="another folder"):
        with output_dir(out, command="other", overwrite=True):
            pass
    with output_dir(out, command="cmd", overwrite=True) as d:
        _write(d, "keep.csv", "v2")
    assert not (out / "old.csv").exists() and (out / "keep.csv").read_text() == "v2"
    assert user.read_text() == "mine"
    assert read_marker(out)["files"] == ["keep.csv"]


def test_collision_with_a_user_file_is_refused_before_anything_moves(tmp_path):
    out = tmp_path / "o"
    with output_dir(out, command="cmd") as d:
        _write(d, "a.csv", "old")
    _write(out, "b.csv", "user's")
    with pytest.raises(InputError, match="b.csv"):
        with output_dir(out, command="cmd", overwrite=True) as d:
            _write(d, "a.csv", "new")
            _write(d, "b.csv", "ours")
    assert (out / "a.csv").read_text() == "old" and (out / "b.csv").read_text() == "user's"


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_error_leaves_nothing_half_written(tmp_path, exc):
    out = tmp_path / "new" / "deep"
    with pytest.raises(type(exc)):
        with output_dir(out, command="cmd") as d:
            _write(d, "half.json")
            raise exc
    assert not (tmp_path / "new").exists()
    old = tmp_path / "old"
    with output_dir(old, command="cmd") as d:
        _write(d, "r.json", "v1")
    with pytest.raises(type(exc)):
        with output_dir(old, command="cmd", overwrite=True) as d:
            _write(d, "r.json", "v2")
            raise exc
    assert (old / "r.json").read_text() == "v1" and sorted(os.listdir(old)) == [MARKER, "r.json"]


def test_planted_symlink_is_replaced_not_followed(tmp_path):
    victim = _write(tmp_path, "victim.txt", "secret")
    out = tmp_path / "o"
    with output_dir(out, command="cmd") as d:
        _write(d, "result.json", "{}")
    os.unlink(out / "result.json")
    (out / "result.json").symlink_to(victim)
    # a link where an earlier output's file was: --overwrite replaces the link itself
    with output_dir(out, command="cmd", overwrite=True) as d:
        _write(d, "result.json", '{"v": 2}')
    assert victim.read_text() == "secret" and not (out / "result.json").is_symlink()
    # atomic_path never writes through a link at the destination either
    link = tmp_path / "link.txt"
    link.symlink_to(victim)
    with atomic_path(link) as tmp:
        tmp.write_text("new")
    assert victim.read_text() == "secret" and link.read_text() == "new" and not link.is_symlink()


def test_symlinked_directory_component_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "o"
    with output_dir(out, command="cmd") as d:
        _write(d, "top.txt")
    (out / "figs").symlink_to(elsewhere)
    with pytest.raises(InputError, match="symlink"):
        with output_dir(out, command="cmd", overwrite=True) as d:
            _write(d, "figs/f.png")
    assert list(elsewhere.iterdir()) == []


def test_out_reached_through_a_symlink(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    with output_dir(tmp_path / "via", command="cmd") as d:
        _write(d, "r.json")
    assert (real / "r.json").is_file() and read_marker(real)["command"] == "cmd"


def test_an_input_file_is_never_replaced(tmp_path):
    out = tmp_path / "o"
    with output_dir(out, command="cmd") as d:
        _write(d, "predictions.csv", "a,b")
    with pytest.raises(InputError, match="input"):
        with output_dir(out, command="cmd", overwrite=True, inputs=[out / "predictions.csv"]) as d:
            _write(d, "predictions.csv", "c,d")
    assert (out / "predictions.csv").read_text() == "a,b"


def test_nested_writers_share_the_outer_folder(tmp_path):
    @writes_output("inner")
    def inner(out_dir):
        _write(out_dir, "inner.txt")

    out = tmp_path / "o"
    with output_dir(out, command="outer") as d:
        inner(d / "part")
    assert read_marker(out)["files"] == ["part/inner.txt"] and not (out / "part" / MARKER).exists()


def test_stale_private_folder_of_a_killed_run_is_ignored_and_cleaned(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    stale = out / ".scalescope-staging-dead"
    _write(stale, ".scalescope-staging")
    _write(stale, "half.json")
    with output_dir(out, command="cmd") as d:
        _write(d, "r.json")
    assert sorted(os.listdir(out)) == [MARKER, "r.json"]


def test_malformed_marker_is_one_line(tmp_path):
    out = tmp_path / "o"
    _write(out, MARKER, "{not json")
    with pytest.raises(InputError, match="malformed"):
        with output_dir(out, command="cmd", overwrite=True):
            pass


def test_fifo_and_devices_refused_before_open(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        check_input_path(fifo)
    with pytest.raises(InputError, match="character device"):
        check_input_path("/dev/zero")
    from scalescope.data.validate import read_text

    with pytest.raises(InputError, match="FIFO"):
        read_text(fifo)


def test_section_paths_are_relative_whatever_the_cwd(tmp_path, monkeypatch):
    """The demo-report bug: paths stored relative to the cwd, then resolved against the section folder."""
    monkeypatch.chdir(tmp_path)
    out = Path("demo-out") / "part"  # relative, as the README writes it
    with output_dir(out, command="cmd") as d:
        _write(d, "fig.png", "png")
        write_section(d, title="T", figures=[(d / "fig.png", "cap")], tables=[(str(d / "t.csv"), "tab")])
        _write(d, "t.csv", "a\n1\n")
    sec = json.loads((out / "section.json").read_text())
    assert [f["path"] for f in sec["figures"]] == ["fig.png"] and sec["tables"][0]["path"] == "t.csv"
    moved = tmp_path / "elsewhere"
    os.rename(tmp_path / "demo-out", moved)
    monkeypatch.chdir("/")
    s = read_section(moved / "part")
    assert (s.directory / s.figures[0]["path"]).is_file()
    html = build_report([moved], moved / "index.html").read_text()
    assert 'class="missing"' not in html


def test_write_section_refuses_a_path_outside_the_folder(tmp_path):
    (tmp_path / "sec").mkdir()
    with pytest.raises(ValueError, match="not inside"):
        write_section(tmp_path / "sec", title="T", figures=[(tmp_path / "other.png", "x")])
