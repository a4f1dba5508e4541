"""Reference targets: Bhagia, Liu et al. 2024, "Establishing Task Scaling Laws via Compute-Efficient Model Ladders"
(arXiv:2412.04403, COLM 2025) -- OLMo 2 7B-4T and 13B-5T predicted from the 190M-1B ladder, per task.

Provenance of ``UPSTREAM``: the authors' own fitting code run on the same CSVs, outside this repository.

- code: allenai/OLMo @ 9bc064c72b1439640993e7ff28238e7b8f855aee (branch ``ladder-1xC``, the commit the olmo-ladder
  data was copied from): ``olmo/scaling/`` and ``scripts/scaling/*.py|*.json`` extracted with ``git archive`` into
  /tmp/olmo-ref/OLMo; the one change is an empty ``olmo/__init__.py`` (upstream's imports torch; the scaling code
  does not use it); ``scripts/scaling/data/peteish-moreeval`` -> ``../shared/data/olmo-ladder`` (byte-identical).
- environment: /tmp/olmo-ref/venv, Python 3.11.7, numpy 2.4.6, scipy 1.17.1, pandas 3.1.1, matplotlib 3.11.2,
  seaborn 0.13.2.
- commands (from the scripts' own headers), run from /tmp/olmo-ref/OLMo with ``PYTHONPATH=.:scripts/scaling``::

      python scripts/scaling/predict.py -k v2_main -c scripts/scaling/final.json \\
          --step2-config-path scripts/scaling/step2.json -o chained_7B.png -n 6887575552 -d 3945065873408 \\
          -t 7B-4T --skip_perc 0.1 --moving_avg 5
      python scripts/scaling/predict.py ... -n 13202396160 -d 5000088518656 -t 13B-5T --skip_perc 0.1 --moving_avg 5

  and, to collect parameters and the ablations, /tmp/olmo-ref/dump_reference.py, which calls the same upstream
  functions (``get_step1_data_by_name``, ``get_step2_data_by_name``, ``step1.fit_step1``, ``step2.fit_step2``,
  ``step1_flops.fit_step1``, ``single_step.fit_single_step``, ``variance_analysis.compute_variance``) with the same
  arguments and prints/dumps their outputs (the printed table equals predict.py's).

Per task: step 1 ``(a, b, alpha, beta, E)`` with ``L = e^a / N^alpha + e^b / D^beta + E``; step 2 ``(a, x0, k, b)``
with ``Acc = a / (1 + e^(-k (L - x0))) + b``; per target: (predicted task loss, predicted accuracy, measured accuracy,
single-step prediction, compute-only two-step prediction).

Tolerances: ``TOL_ACC = 1e-6`` (accuracy, absolute) and ``TOL_LOSS = 1e-6`` (bits per byte) for predictions;
``TOL_PARAM = 1e-5`` for parameters (we run the authors' objective, bounds and starts; measured differences are
<= 3e-7 and come from a vectorised gradient and the analytic step-2 Jacobian). The single-step ablation
(7 parameters, Huber with delta = 1e-3 on log accuracy, i.e. nearly L1) is path-dependent under L-BFGS-B: from the
upstream start alone, summation-order differences sent CSQA to 0.690 instead of 0.710; with scalescope's extra
starts every task lands within ``TOL_SINGLE = 1e-3`` (0.1 point; OpenBookQA 5e-4) of the authors' numbers.

The paper's headline is "within 2 points of absolute error on four tasks for both targets"; the other four tasks
average 6.9 points (v1 abstract). Reproduced with the authors' code on this data: MMLU 0.63 / 0.35, PIQA 0.83 / 0.88,
Social IQa 1.19 / 1.65, HellaSwag 1.17 / **2.11** (7B / 13B, points). HellaSwag 13B exceeds 2 points by 0.11 with
the authors' own code too. Why: the 13B "actual" is upstream's mean of the last 5 checkpoints of
``peteish13_eval_final``; against the last checkpoint alone HellaSwag 13B is 1.93 but Social IQa 13B becomes 2.74
(MMLU 0.14, PIQA 0.84). The 13B's accuracy moves by up to ~1 point between its last checkpoints, enough to move one
task across the 2-point line either way: the claim holds to within that checkpoint noise, not strictly.
The paper's own code state gives the same: allenai/OLMo @ 7e15ec6e (branch ``ladder-1xC``, 2024-12-04, the last
commit before arXiv v1 of 2024-12-05; its ladder, 7B and 13B CSVs are byte-identical to ../shared/data/olmo-ladder),
run with the same two commands from /tmp/olmo-v1/OLMo (2026-12-01), prints HellaSwag 13B "85.3 | 83.2" (2.1 points)
and 7B "82.5 | 81.3"; MMLU 51.3 | 51.6, PIQA 82.1 | 83.0, Social IQa 59.9 | 61.6 (13B). So the 2.11 is not a
reproduction error: the v1 abstract's "within 2 points" is not what its code computes for HellaSwag 13B on these
data (the later code, 9bc064c, changed only plotting, edge cases and 3B/0.5xC data, and agrees).
The other four tasks average 6.88 points (ARC-C 10.45 / 11.13, ARC-E 7.97 / 9.93, CSQA 3.07 / 3.51, OBQA 5.23 /
3.78), matching the paper's 6.9. :data:`HEADLINE_MAX_ERROR` pins these measured errors, not the claim.
"""

from __future__ import annotations

import numpy as np
import pytest

from scalescope.emergence.ladder import PAPER_TASKS, LadderConfig, reproduce_olmo_ladder

TOL_ACC = 1e-6
TOL_LOSS = 1e-6
TOL_PARAM = 1e-5
TOL_SINGLE = 1e-3  # single-step ablation: see the module docstring

UPSTREAM = {
    "mmlu": {
        "step1": (3.639427, 4.606091, 0.226216, 0.236076, 0.454093),
        "step2": (-0.742064, 0.615953, 4.833392, 1.000000),
        "7B-4T": (0.786944, 0.483814, 0.490108, 0.462566, 0.466570),
        "13B-5T": (0.750156, 0.512680, 0.516140, 0.479531, 0.483426),
    },
    "hellaswag": {
        "step1": (2.418703, 4.100470, 0.195539, 0.256498, 0.501911),
        "step2": (-0.730111, 0.766735, 12.741707, 0.992104),
        "7B-4T": (0.671263, 0.825231, 0.813483, 0.817144, 0.797811),
        "13B-5T": (0.653177, 0.853036, 0.831906, 0.838333, 0.814134),
    },
    "arc_challenge": {
        "step1": (13.463076, 3.649247, 0.787715, 0.196976, 0.654643),
        "step2": (-0.777673, 0.708641, 5.910607, 1.000000),
        "7B-4T": (0.794133, 0.514960, 0.619454, 0.485288, 0.552379),
        "13B-5T": (0.783324, 0.526710, 0.638055, 0.493851, 0.574394),
    },
    "arc_easy": {
        "step1": (11.282406, 8.283371, 0.661044, 0.419453, 0.558243),
        "step2": (-0.646272, 0.740714, 4.129850, 1.000000),
        "7B-4T": (0.603764, 0.765883, 0.845539, 0.793889, 0.791494),
        "13B-5T": (0.593105, 0.772416, 0.871717, 0.802812, 0.799569),
    },
    "piqa": {
        "step1": (6.005515, 2.318366, 0.397838, 0.153277, 0.721701),
        "step2": (-0.458563, 0.963023, 5.032957, 1.000000),
        "7B-4T": (0.890325, 0.812202, 0.820457, 0.814977, 0.812095),
        "13B-5T": (0.874795, 0.820804, 0.829597, 0.824231, 0.820244),
    },
    "csqa": {
        "step1": (4.040510, 2.389366, 0.234991, 0.111077, 0.000000),
        "step2": (-0.855555, 1.131307, 2.208518, 1.000000),
        "7B-4T": (0.712346, 0.757123, 0.726454, 0.709960, 0.759643),
        "13B-5T": (0.661728, 0.776089, 0.741032, 0.718668, 0.777169),
    },
    "socialiqa": {
        "step1": (7.090856, 8.974263, 0.447310, 0.476759, 0.948923),
        "step2": (-0.598526, 0.893807, 7.164370, 0.999468),
        "7B-4T": (1.004462, 0.587427, 0.599284, 0.566677, 0.575505),
        "13B-5T": (0.991574, 0.599482, 0.615967, 0.574198, 0.580997),
    },
    "openbookqa": {
        "step1": (11.366122, 4.922532, 0.686536, 0.260694, 1.198092),
        "step2": (-0.790602, 1.081291, 4.309744, 1.000000),
        "7B-4T": (1.284767, 0.441688, 0.494000, 0.449350, 0.458349),
        "13B-5T": (1.275007, 0.448648, 0.486400, 0.463072, 0.470348),
    },
}
#: upstream variance_analysis.py: accuracy SD / mean over 1B-10xC's last 10 checkpoints
UPSTREAM_ACC_REL_SD = {"mmlu": 0.002758, "hellaswag": 0.002464, "arc_challenge": 0.010018, "arc_easy": 0.006125,
                       "piqa": 0.003131, "csqa": 0.005529, "socialiqa": 0.006082, "openbookqa": 0.025119}
#: the paper's four "within 2 points" tasks as this data reproduces them, with the measured max error (points)
HEADLINE_MAX_ERROR = {"mmlu": 0.63, "piqa": 0.88, "socialiqa": 1.65, "hellaswag": 2.11}

pytestmark = pytest.mark.slow  # ~1 min on 2 cores: 8 tasks x (two-step + single-step + compute-only fits)


@pytest.fixture(scope="module")
def ladder():
    return reproduce_olmo_ladder(n_boot=0)


def test_steps_match_the_authors_code(ladder):
    P = ladder.params.set_index("task")
    for task, ref in UPSTREAM.items():
        got1 = P.loc[task, [f"step1_{k}" for k in ("a", "b", "alpha", "beta", "E")]].to_numpy(float)
        got2 = P.loc[task, [f"step2_{k}" for k in ("a", "x0", "k", "b")]].to_numpy(float)
        assert got1 == pytest.approx(ref["step1"], abs=TOL_PARAM), task
        assert got2 == pytest.approx(ref["step2"], abs=TOL_PARAM), task


def test_predictions_match_the_authors_code(ladder):
    pr = ladder.predictions.set_index(["task", "target"])
    for task, ref in UPSTREAM.items():
        for target in ("7B-4T", "13B-5T"):
            loss, acc, actual, single, compute = ref[target]
            row = pr.loc[(task, target)]
            assert row["pred_loss"] == pytest.approx(loss, abs=TOL_LOSS), (task, target)
            assert row["pred_acc"] == pytest.approx(acc, abs=TOL_ACC), (task, target)
            assert row["actual_acc"] == pytest.approx(actual, abs=TOL_ACC), (task, target)
            assert row["single_step_acc"] == pytest.approx(single, abs=TOL_SINGLE), (task, target)
            assert row["compute_acc"] == pytest.approx(compute, abs=TOL_ACC), (task, target)


def test_headline_as_reproduced(ladder):
    # The paper: <= 2 points on four tasks for both targets. Reproduced: three tasks hold; HellaSwag 13B is 2.11.
    err = ladder.predictions.pivot_table(index="task", columns="target", values="abs_error") * 100
    for task, worst in HEADLINE_MAX_ERROR.items():
        assert err.loc[task].max() == pytest.approx(worst, abs=0.01), task
    assert (err.loc[["mmlu", "piqa", "socialiqa"]] <= 2.0).all().all()
    others = [t for t in PAPER_TASKS if t not in HEADLINE_MAX_ERROR]
    assert float(err.loc[others].to_numpy().mean()) == pytest.approx(6.9, abs=0.05)  # paper: "average 6.9"
    # and these are the 4 lowest-error tasks, so the claim's task choice is the data's, not ours
    assert set(err.max(axis=1).nsmallest(4).index) == set(HEADLINE_MAX_ERROR)


def test_variance_diagnostic_matches_and_tracks_error(ladder):
    v = ladder.variance.set_index("task")
    for task, ref in UPSTREAM_ACC_REL_SD.items():
        assert v.loc[task, "acc_rel_sd"] == pytest.approx(ref, abs=1e-6), task
    # paper: tasks with higher prediction error have higher checkpoint-to-checkpoint variance
    assert ladder.variance_error_spearman > 0.5


def test_chained_interval_covers_the_point_estimate():
    r = reproduce_olmo_ladder(tasks=("piqa",), n_boot=30, config=LadderConfig(random_state=1))
    p = r.predictions
    assert (p["acc_ci_low"] <= p["pred_acc"]).all() and (p["pred_acc"] <= p["acc_ci_high"]).all()
    assert np.all(p["acc_ci_high"] - p["acc_ci_low"] > 0)
