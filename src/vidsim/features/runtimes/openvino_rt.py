"""OpenVINO (package openvino), CPU plugin; bf16 through its INFERENCE_PRECISION_HINT, int8 through
a model quantised by NNCF (its other operations in f32)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vidsim.features.runtimes.exported import ExportedRuntime, RunFn
from vidsim.features.runtimes.quantise import NNCF_OPENVINO, Quantiser

HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


class OpenVinoRuntime(ExportedRuntime):
    name = "openvino"

    def quantiser(self) -> Quantiser:
        return NNCF_OPENVINO

    def load(self, path: Path, device: str = "cpu") -> RunFn:
        import openvino as ov

        core = ov.Core()
        compiled = core.compile_model(core.read_model(str(path)), "CPU", {
            "INFERENCE_PRECISION_HINT": HINTS[self.precision],
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "LATENCY",  # one batch at a time on all threads
        })
        request = compiled.create_infer_request()

        def run(frames: np.ndarray) -> np.ndarray:
            request.infer({0: frames})
            return request.get_output_tensor(0).data  # reused by the next call: the caller copies

        return run
