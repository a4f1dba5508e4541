#!/usr/bin/env bash
# Every check that still needs a CUDA GPU (issues 4-6), in ONE call of the device tool, results under $OUT.
#
#   run(command="bash benchmarks/gpu_session.sh", timeout_s=600)      # from the repository root, nothing to carry
#
# The device image has torch/transformers/triton/pandas/pyarrow/click/hypothesis but not this package, so it runs
# from src/ via PYTHONPATH (pooch and gguf are imported lazily and are not needed here). SmolLM2's 93 MB GGUF file
# is over the 64 MiB carry limit, so GPU runs use random-init models of real shapes (research/real-model.md).
# Writes: device.txt, pytest-gpu.txt, calibration_throughput-<device>.json (+ throughput.txt). Then copy the JSON
# to benchmarks/results/ and record the numbers, machine, date and command in BENCHMARKS.md.
set -u
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
if ! "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_session.sh: no CUDA device here; nothing to measure" >&2
    exit 1
fi
{ "$py" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__,
'device', torch.cuda.get_device_name())"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } \
    > "$out/device.txt" 2>&1
cat "$out/device.txt"
# gpu-marked tests: bf16 engine vs float64 reference, resume identity, fast path vs simple engine, Triton kernels,
# learned future-entropy head on a Qwen2-shaped model
"$py" -m pytest -q -m gpu -p no:cacheprovider --no-header -o addopts="" \
    tests/test_calibration_engine.py tests/test_fast_decode.py tests/test_fast_kernels.py \
    tests/test_methods_transformer.py 2>&1 | tee "$out/pytest-gpu.txt"
tests_rc=${PIPESTATUS[0]}
dev=$("$py" -c "import torch; print(torch.cuda.get_device_name().split()[1].lower())" 2>/dev/null || echo gpu)
"$py" benchmarks/calibration_throughput.py --long-check --out "$out/calibration_throughput-$dev.json" 2>&1 \
    | tee "$out/throughput.txt"
bench_rc=${PIPESTATUS[0]}
echo "pytest -m gpu exit $tests_rc; benchmark exit $bench_rc"
exit $(( tests_rc != 0 || bench_rc != 0 ))
