"""Reference numbers of research/emergence.md that the shared data can recompute, with provenance.

All are "[computed here]" targets of the spec (not paper numbers): §4.5 (OLMo 2 7B MMLU MC vs cloze vs bpb),
§2.A illustration (breakthroughness on obsscaling Pythia-deduped / OPT), §4.5 (gadre simple_arithmetic control).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalescope.emergence.backtest import olmo_mmlu_mc_case
from scalescope.emergence.stats import breakthroughness

TOL_ACC = 0.0015  # spec prints 3 decimals
TOL_B = 0.06  # spec prints B to 1 decimal


@pytest.fixture(scope="module")
def olmo(data_dir):
    from scalescope.emergence.table import load_table

    return load_table("olmo-ladder")


@pytest.fixture(scope="module")
def obs(data_dir):
    from scalescope.emergence.table import load_table

    return load_table("obsscaling")


# emergence.md §4.5 "olmo-ladder 7B MMLU (mean of 4 val splits), step: MC-letter acc / cloze acc / bpb"
OLMO_ANCHORS = {0: (0.251, 0.235, 5.534), 50000: (0.275, 0.407, 0.971), 55000: (0.277, 0.407, 0.970),
                60000: (0.358, 0.406, 0.961), 65000: (0.379, 0.420, 0.952), 925000: (0.585, 0.466, 0.856)}


def test_olmo_7b_mmlu_mc_jump(olmo):
    case = olmo_mmlu_mc_case(olmo)
    a = case.anchors.set_index("step")
    for step, (mc, cloze, bpb) in OLMO_ANCHORS.items():
        assert a.loc[step, "mc_acc"] == pytest.approx(mc, abs=TOL_ACC)
        assert a.loc[step, "cloze_acc"] == pytest.approx(cloze, abs=TOL_ACC)
        assert a.loc[step, "bpb"] == pytest.approx(bpb, abs=TOL_ACC)
    # §0.3: the jump is 55000 -> 60000 while cloze accuracy and bpb move smoothly
    assert (case.jump["from_step"], case.jump["to_step"]) == (55000, 60000)
    assert case.jump["mc_change_over_typical"] > 5
    assert case.jump["cloze_change_over_typical"] < 1
    # backtest from checkpoints <= 55000: the MC jump is NOT predictable, cloze is (toolkit measurement)
    bt = case.backtest.set_index(["series", "method"])["abs_error"]
    assert bt[("mc_acc", "compute-sigmoid")] > 0.2
    assert bt[("cloze_acc", "two-step")] < 0.05


# emergence.md §2.A illustration: obsscaling, 8 Pythia-deduped models ordered by FLOPs / OPT 125M-66B
@pytest.mark.parametrize(
    "family, task, metric, expected",
    [
        ("Pythia", "word_unscrambling", "exact_match", 10.5),
        ("Pythia", "ipa_transliterate", "bleu", 12.8),
        ("Pythia", "arithmetic_3da", "acc", 25.3),
        ("Pythia", "parsinlu_qa", "acc", 2.9),
        ("Pythia", "ipa_transliterate", "exact_match", float("nan")),  # all 0: B undefined
        ("OPT", "ipa_transliterate", "exact_match", float("inf")),  # median step 0
        ("OPT", "ipa_transliterate", "bleu", 25.0),
    ],
)
def test_obsscaling_breakthroughness(obs, family, task, metric, expected):
    g = obs[(obs["family"] == family) & (obs["task"] == task) & (obs["metric"] == metric)]
    g = g.sort_values("train_flops")
    assert len(g) == 8
    b = breakthroughness(g["value"].to_numpy())
    if math.isnan(expected):
        assert math.isnan(b)
    elif math.isinf(expected):
        assert b == expected
    else:
        assert b == pytest.approx(expected, abs=TOL_B)


def test_gadre_simple_arithmetic_control(data_dir):
    # emergence.md §4.5: max simple_arithmetic_nospaces accuracy per size 10.6M ... 6.89B
    from scalescope.emergence.table import load_table

    g = load_table("gadre-scaling")
    g = g[g["task"] == "simple_arithmetic_nospaces"]
    mx = g.groupby("params_total")["value"].max().sort_index().to_numpy()
    np.testing.assert_allclose(mx, [0.008, 0.008, 0.004, 0.006, 0.028, 0.008], atol=0.0006)
