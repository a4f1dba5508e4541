"""GPU fast decode path of the calibration engine (issue 5): static KV cache, CUDA-graphed decode steps, fused
entropy / log-prob / sampling kernels, one-pass prefill and full-batch teacher-forced scoring.

Same records as :class:`scalescope.calibration.engine.CalibrationRun` (spec §1.4/§2.3 of the entropy-calibration
spec); use :class:`~scalescope.calibration.fast.engine.FastCalibrationRun` in its place (``--engine fast``).
Modules: :mod:`.kernels` (chunked statistics, CPU + GPU), :mod:`.triton_kernels` (CUDA only, optional),
:mod:`.decoder` (static-cache forward over HF Llama-family weights), :mod:`.engine` (generation + scoring loop).
"""

from scalescope.calibration.fast.decoder import StaticDecoder, check_supported
from scalescope.calibration.fast.engine import FastCalibrationRun, FastDecodeEngine
from scalescope.calibration.fast.kernels import FusedStats, fused_stats, torch_fused_stats

__all__ = ["StaticDecoder", "check_supported", "FastCalibrationRun", "FastDecodeEngine", "FusedStats",
           "fused_stats", "torch_fused_stats"]
