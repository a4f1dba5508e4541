"""`scalescope calibrate compare` and the comparison runner (toy models + a small char n-gram on real text)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from scalescope.calibration.methods import BasePolicy, FiniteStateLM, sample_rollouts
from scalescope.calibration.methods.compare import METHODS, CompareConfig, compare_methods
from scalescope.cli import cli


def test_compare_on_toy_model_runs_every_method(tmp_path):
    rng = np.random.default_rng(0)
    truth = FiniteStateLM.from_transition(rng.dirichlet(np.full(5, 0.3), size=(5, 5)))
    train = sample_rollouts(BasePolicy(truth), truth, np.zeros(1, int), 300, rng)["tokens"][0]
    lm = FiniteStateLM.from_tokens(train, vocab_size=5, order=3)

    def passages(n):
        p = rng.integers(0, 5, size=(n, 3))
        return p, sample_rollouts(BasePolicy(truth), truth, truth.states_of(p), 12, rng)["tokens"]

    cfg = CompareConfig(model="toy", corpus="toy", methods=METHODS, steps=12, mc_samples=2)
    r = compare_methods(cfg, fsm=lm, fit=passages(300), test=passages(300))
    s = r.summary_dict()
    assert set(s["methods"]) == set(METHODS)
    for e in s["methods"].values():
        assert e["entce_ci"][0] <= e["entce"] <= e["entce_ci"][1]
        assert len(e["entce_t"]) == 12 and e["logloss_se"] > 0
        assert abs(e["entce_mc"] - e["entce"]) < 5 * e["entce_mc_se"] + 0.05
    assert s["methods"]["top_p"]["coverage"] < 1.0
    assert s["guarantees"]["abs_entce_smaller"]
    json.dumps(s)  # summary is JSON-serialisable as is
    from scalescope.calibration.methods.writer import write_outputs

    write_outputs(s, tmp_path)
    for f in ("summary.json", "methods.csv", "tradeoff.png", "entce_steps.png", "alphas.png", "section.json"):
        assert (tmp_path / f).is_file()


def test_cli_compare_char_ngram(tmp_path, data_dir):
    out = tmp_path / "cmp"
    res = CliRunner().invoke(cli, ["calibrate", "compare", "--model", "ngram:2@20k/char", "--corpus", "tinyshakespeare",
                                   "--methods", "base,temperature,lookahead,future_entropy", "--steps", "16",
                                   "--prompt-tokens", "8", "--samples", "150", "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert {"base", "temperature", "lookahead", "future_entropy"} <= set(s["methods"])
    assert s["n_fit"] == s["n_test"] == 150
    for k in ("entce", "entce_ci", "logloss", "logloss_se", "params", "entce_t"):
        assert k in s["methods"]["future_entropy"]
    assert (out / "section.json").is_file()
    assert s["split"]["split"] == "passages" and s["split"]["test_documents"] > 1
    assert "correlated" in json.loads((out / "section.json").read_text())["summary"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--methods", "base,bogus"], "unknown method"),
        (["--model", "./no-such-model"], "no such file"),
        (["--steps", "0"], "--steps"),
        (["--stride", "0"], "--stride"),
        (["--split", "bogus"], "--split"),
    ],
)
def test_cli_compare_bad_input(tmp_path, args, needle):
    base = ["calibrate", "compare", "--model", "ngram:2/char", "--corpus", "tinyshakespeare", "--out", str(tmp_path / "x")]
    res = CliRunner().invoke(cli, base + args)
    assert res.exit_code == 2
    assert needle in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x").exists()


def test_cli_compare_help_has_example():
    res = CliRunner().invoke(cli, ["calibrate", "compare", "--help"])
    assert res.exit_code == 0 and "Example:" in res.output
