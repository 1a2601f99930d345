"""ONNX Runtime (package onnxruntime), CPU execution provider, fp32."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vidsim.features.runtimes.export import INPUT
from vidsim.features.runtimes.exported import ExportedRuntime, RunFn


class OnnxRuntime(ExportedRuntime):
    name = "onnxruntime"

    def load(self, path: Path) -> RunFn:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def run(frames: np.ndarray) -> np.ndarray:
            return session.run(None, {INPUT: frames})[0]

        return run
