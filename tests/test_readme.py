"""README.md's commands, verbatim, from a temporary working directory; then one report over all their outputs.

This is the check that a user's first five minutes work: relative ``--out`` paths, the README's own demo command,
and a report page in which every figure and table is present (``tests/readme_commands.py`` says how sizes are
capped; ``SCALESCOPE_README_FULL=1`` runs everything as written).
"""

from __future__ import annotations

import pytest

import readme_commands as rc

pytestmark = pytest.mark.slow


def test_readme_lists_the_commands_we_expect():
    cmds = [" ".join(c[:3]) for c in rc.readme_commands()]
    assert "scalescope demo --out" in cmds  # the main job is in the set-up command
    for group in ("calibrate run", "calibrate analyze", "obs fit", "emergence analyze", "report"):
        assert any(c.startswith(f"scalescope {group}") for c in cmds), group


def test_every_readme_command_succeeds(readme_run):
    work, done = readme_run
    failed = [(" ".join(a), p.returncode, (p.stderr or "").strip().splitlines()[-3:]) for a, p in done
              if p.returncode != 0]
    assert not failed, failed
    for _, p in done:
        assert "Traceback" not in p.stderr


def test_readme_outputs_make_a_complete_report(readme_run):
    work, done = readme_run
    outs = []
    for argv, _ in done:
        if "--out" in argv and argv[1] != "report":
            outs.append(argv[argv.index("--out") + 1])
    outs = list(dict.fromkeys(outs))
    p = rc.run(["scalescope", "report", *outs, "--out", "full-report"], work)
    assert p.returncode == 0, p.stderr
    html = (work / "full-report" / "index.html").read_text(encoding="utf-8")
    assert rc.missing_entries(html) == []
    assert html.count("<img ") >= 30  # every analysis contributes figures; the demo alone has ~35
    # the README's own report command (relative paths, trailing slashes) is complete too
    page = (work / "report" / "index.html").read_text(encoding="utf-8")
    assert rc.missing_entries(page) == [] and "<img " in page


def test_readme_demo_report_is_complete(readme_run):
    work, _ = readme_run
    html = (work / "demo-out" / "index.html").read_text(encoding="utf-8")
    assert rc.missing_entries(html) == []
    assert html.count("<img ") >= 30
    assert "failed:" not in html
