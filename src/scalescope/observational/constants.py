"""Benchmark sets, model families and frozen configurations of the observational-scaling analyses.

Implements the bookkeeping of Ruan, Maddison & Hashimoto (2024), "Observational Scaling Laws" (arXiv:2405.10938),
spec ``research/obsscaling.md`` §1.2 (capability metrics), §1.5 (compute columns), §1.8 (splits) and §2.8
(pre-registered models). Everything here is immutable: upstream shared mutable config dicts between analyses (spec §4.3),
which we avoid with tuples and frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass

from scalescope.data.obsscaling import FAMILY_COL, FLOPS_COL, MODEL_COL, SIZE_COL  # noqa: F401  (the schema)

TOKENS_COL = "Pretraining Data Size (T)"

#: The 8 base-model capability metrics (spec §1.2, upstream ``ALL_BENCHMARK_METRIC_LIST``).
BASE_METRICS: tuple[str, ...] = (
    "MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval",
)
#: The 7 metrics without GSM8K, used for arithmetic / GSM8K / math-like targets so GSM8K never predicts itself.
NONGSM_METRICS: tuple[str, ...] = tuple(m for m in BASE_METRICS if m != "GSM8K")
#: The 7 instruct/API-model metrics (no XWinograd; Arena-Elo and MTBench are not capability inputs).
INSTRUCT_METRICS: tuple[str, ...] = (
    "MMLU", "ARC-C", "HellaSwag", "Winogrande", "TruthfulQA", "GSM8K", "HumanEval",
)

#: The 28 families the authors evaluated (the others in the CSV are "metadata collected, not evaluated").
EVALUATED_FAMILIES: tuple[str, ...] = (
    "Llama-2", "Llama", "Llama-3", "Llama-3.1", "Qwen1.5", "Qwen", "Qwen2", "Mistral", "Mixtral", "DeepSeek-V2",
    "DeepSeek-Coder-V2", "Yi", "Yi-1.5", "Gemma", "Gemma-2", "Jamba", "Falcon", "Phi", "Pythia", "BLOOM",
    "GPT-Neo/J", "OPT", "MPT", "XGLM", "CodeLlama", "StarCoder", "StarCoder2", "DeepSeek-Coder",
)

#: The 20 models released after the paper (v3 "pre-registered" predictions, spec §2.8); excluded by default.
PREREGISTERED_MODELS: tuple[str, ...] = (
    "meta-llama/Meta-Llama-3.1-405B-FP8", "meta-llama/Meta-Llama-3.1-70B", "meta-llama/Meta-Llama-3.1-8B",
    "Qwen/Qwen1.5-110B", "Qwen/Qwen2-72B", "Qwen/Qwen2-57B-A14B", "Qwen/Qwen2-7B", "Qwen/Qwen2-1.5B",
    "Qwen/Qwen2-0.5B", "mistralai/Mixtral-8x22B-v0.1", "mistralai/Mistral-Nemo-Base-2407", "deepseek-ai/DeepSeek-V2",
    "deepseek-ai/DeepSeek-Coder-V2-Base", "01-ai/Yi-1.5-34B", "01-ai/Yi-1.5-9B", "01-ai/Yi-1.5-6B",
    "google/gemma-2-27b", "google/gemma-2-9b", "google/gemma-2-2b", "ai21labs/Jamba-v0.1",
)

#: Families without FLOPs in the default set; dropped from compute-based analyses (spec §1.2, §2.3).
NO_FLOPS_FAMILIES: tuple[str, ...] = ("Mistral", "Mixtral", "Qwen2")

#: Reference families for the equivalent-compute axis (spec §1.7).
REFERENCE_FAMILY_BASE = "Llama-2"
REFERENCE_FAMILY_INSTRUCT = "Llama-2-Chat"

#: Default FLOPs cutoffs in units of 1e21 (spec §1.8): Llama-2-7B (8.4e22), and 2.2e22 for arithmetic tasks.
CUTOFF_DEFAULT_1E21 = 84.0
CUTOFF_ARITHMETIC_1E21 = 22.0

#: AUE grid (spec §1.11): q in linspace(0.6, 0.05, 30).
AUE_Q_START, AUE_Q_STOP, AUE_Q_NUM = 0.6, 0.05, 30


@dataclass(frozen=True)
class ImputeConfig:
    """Iterative rank-k PCA imputation (spec §1.3).

    ``max_iter=1000`` with ``stop="missing"`` (default) stops as soon as the missing entries move by less than
    ``tol``; ``stop="upstream"`` runs the authors' never-firing all-entry test (always ``max_iter`` iterations).
    """

    n_components: int = 1
    tol: float = 1e-4
    max_iter: int = 1000
    clip: tuple[float, float] | None = (0.0, 1.0)
    stop: str = "missing"


@dataclass(frozen=True)
class TaskSpec:
    """One downstream target as the paper's analyses configure it (spec §2.3-§2.5)."""

    key: str
    column: str
    label: str
    chance: float = 0.0
    ceiling: float = 1.0
    nongsm: bool = False
    cutoff_1e21: float = CUTOFF_DEFAULT_1E21
    headline: bool = True


#: Emergent BIG-bench tasks (spec §2.3): minmax ranges, metric set and cutoff.
EMERGENT_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("word_unscramble", "word_unscrambling_2_exact_match", "Word unscramble"),
    TaskSpec("persian_qa", "parsinlu_qa_2_acc", "Persian QA", chance=0.25),
    TaskSpec("3digit_sub", "arithmetic_3ds_2_acc", "3-digit subtraction", nongsm=True,
             cutoff_1e21=CUTOFF_ARITHMETIC_1E21),
    TaskSpec("2digit_mult", "arithmetic_2dm_2_acc", "2-digit multiplication", nongsm=True,
             cutoff_1e21=CUTOFF_ARITHMETIC_1E21),
    TaskSpec("3digit_add", "arithmetic_3da_2_acc", "3-digit addition", nongsm=True,
             cutoff_1e21=CUTOFF_ARITHMETIC_1E21, headline=False),
    TaskSpec("2digit_add", "arithmetic_2da_2_acc", "2-digit addition", nongsm=True,
             cutoff_1e21=CUTOFF_ARITHMETIC_1E21, headline=False),
    TaskSpec("ipa_bleu", "ipa_transliterate_2_bleu", "IPA transliterate BLEU", ceiling=100.0, headline=False),
)

#: Post-training GSM8K targets (spec §2.5); raw accuracies, NONGSM capabilities, cutoff 84.
POST_TRAINING_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("naive_greedy", "gsm8k_5_exact_match,flexible-extract", "Naive + Greedy", nongsm=True),
    TaskSpec("cot_greedy", "gsm8k_cot_8_exact_match,flexible-extract", "CoT + Greedy", nongsm=True),
    TaskSpec("cot_sc_maj5", "gsm8k_cot_self_consistency_8_exact_match,maj@5-flexible-extract", "CoT + SC + 5 samples",
             nongsm=True),
    TaskSpec("cot_1sample", "gsm8k_cot_self_consistency_8_exact_match,score-first-flexible-extract",
             "CoT + 1 sample", nongsm=True, headline=False),
    TaskSpec("zeroshot_cot", "gsm8k_cot_zeroshot_0_exact_match,flexible-extract", "Zero-shot CoT", nongsm=True,
             headline=False),
)

#: Agent targets (spec §2.4): AgentBench overall on [0, 10]; AgentBoard average success rate in percent.
AGENT_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("agentbench", "ABench-OA", "AgentBench", ceiling=10.0),
    TaskSpec("agentboard", "ABoard-Avg_SR", "AgentBoard", ceiling=100.0),
)

#: The six predictor sets of the paper's comparisons: (name, kind, n_pcs).
PREDICTORS: tuple[tuple[str, str, int], ...] = (
    ("size", "size", 0), ("flops", "flops", 0), ("pc1", "pc", 1), ("pc1-2", "pc", 2), ("pc1-3", "pc", 3),
    ("pc1-4", "pc", 4),
)
