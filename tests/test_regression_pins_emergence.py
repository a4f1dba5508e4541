"""Regression pins for issue 13, emergence part: the numbers the emergence analyses print must not move.

Pinned with the code as it was *before* emergence/ was routed through :mod:`scalescope.fit` (the commit that added
this file), so the refactor has to reproduce them:

* ``emergence analyze`` and ``emergence backtest`` on the hand-written fixture ``tests/fixtures/emergence/long.csv``:
  every leaf of ``summary.json`` (labels, n_emergent, per-curve verdicts and statistics, leaderboard, MAEs);
* ``emergence analyze`` on olmo-ladder: every leaf of ``summary.json``;
* the backtest on olmo-ladder (the predictors that run in seconds: compute-sigmoid, compute-linear, two-step,
  two-step-lm): per-curve errors, per-model predictions, leaderboard; on obsscaling (obs-pc, compute-sigmoid):
  per-curve errors and leaderboard;
* (``slow``) the full ``emergence backtest --data olmo-ladder`` ``summary.json`` (4 min: two-step-nd and the paper's
  model ladder).

Floats agree within 1e-9 (absolute, or relative for large values); strings, ints, booleans and nulls exactly.
``seconds`` (wall time) is not pinned. The constants live in ``tests/fixtures/regression_pins_emergence.json``;
``python tests/test_regression_pins_emergence.py OUT.json [--slow]`` writes the current values (only for a deliberate,
explained change of the numbers).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pins import flat

PINS = Path(__file__).parent / "fixtures" / "regression_pins_emergence.json"
FIX = Path(__file__).parent / "fixtures" / "emergence" / "long.csv"
OLMO_FAST = ("compute-sigmoid", "compute-linear", "two-step", "two-step-lm")
OBS_FAST = ("obs-pc", "compute-sigmoid")
TOL = 1e-9


def _cli_summary(args, out: Path) -> dict:
    from scalescope.cli import cli

    r = CliRunner().invoke(cli, [*map(str, args), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    s.pop("seconds", None)
    s.pop("data", None)  # the fixture's absolute path
    return dict(flat(s))


def _frame(df) -> list:
    return json.loads(df.to_json(orient="records", double_precision=15))


def _backtest(name: str, methods, predictions: bool = True) -> dict:
    from scalescope.emergence.backtest import backtest, leaderboard
    from scalescope.emergence.table import load_table

    r = backtest(load_table(name), methods=methods)
    out = {"errors": _frame(r.errors), "leaderboard": _frame(leaderboard(r))}
    if predictions:
        out["predictions"] = _frame(r.predictions)
    return dict(flat(out))


def _outputs(root: Path, slow: bool = False) -> dict:
    out = {
        "fixture_analyze": _cli_summary(["emergence", "analyze", "--data", FIX, "--n-boot", "30"], root / "fa"),
        "fixture_backtest": _cli_summary(["emergence", "backtest", "--data", FIX], root / "fb"),
        "olmo_analyze": _cli_summary(["emergence", "analyze", "--data", "olmo-ladder"], root / "oa"),
        "olmo_backtest_fast": _backtest("olmo-ladder", OLMO_FAST),
        "obsscaling_backtest_fast": _backtest("obsscaling", OBS_FAST, predictions=False),  # 121 curves: MAEs
    }
    if slow:
        out["olmo_backtest_cli"] = _cli_summary(["emergence", "backtest", "--data", "olmo-ladder"], root / "ob")
    return out


@pytest.fixture(scope="module")
def pins():
    return json.loads(PINS.read_text())


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, data_dir):
    return _outputs(tmp_path_factory.mktemp("pins_em"))


def _same(got, want) -> bool:
    if isinstance(want, float) and not isinstance(got, bool) and isinstance(got, int | float):
        if math.isnan(want):
            return math.isnan(float(got))
        return math.isclose(float(got), want, rel_tol=TOL, abs_tol=TOL)
    return got == want


def _check(got: dict, want: dict) -> None:
    assert set(got) == set(want), f"keys changed: +{sorted(set(got) - set(want))[:5]} -{sorted(set(want) - set(got))[:5]}"
    bad = [(k, got[k], v) for k, v in want.items() if not _same(got[k], v)]
    assert not bad, f"{len(bad)} of {len(want)} values moved, e.g. {bad[:5]}"


@pytest.mark.parametrize("name", ["fixture_analyze", "fixture_backtest", "olmo_analyze", "olmo_backtest_fast",
                                  "obsscaling_backtest_fast"])
def test_emergence_outputs_pinned(pins, outputs, name):
    _check(outputs[name], pins[name])


@pytest.mark.slow
def test_olmo_backtest_cli_pinned(pins, tmp_path, data_dir):
    from scalescope.cli import cli  # noqa: F401  (import errors surface here, not inside CliRunner)

    _check(_cli_summary(["emergence", "backtest", "--data", "olmo-ladder"], tmp_path / "ob"), pins["olmo_backtest_cli"])


if __name__ == "__main__":  # write the current values (see the module docstring)
    import tempfile

    Path(sys.argv[1]).write_text(json.dumps(_outputs(Path(tempfile.mkdtemp()), slow="--slow" in sys.argv),
                                            indent=0) + "\n")
