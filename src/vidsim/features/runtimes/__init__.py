"""Inference runtimes behind the backbone interface: torch, ONNX Runtime, OpenVINO.

Each maps uint8 frames to the unwhitened region vectors torch fp32 computes, within a tolerance
per precision. ONNX Runtime and OpenVINO run an ONNX export of vidsim's own torch modules, made
at first use into the model cache (`export.ModelStore`); at int8, a quantised model made from it
(`quantise.QuantisedStore`, calibrated on `calibration.CalibrationSet` frames).
"""
from vidsim.features.runtimes.base import TOLERANCES, Runtime, Tolerance
from vidsim.features.runtimes.registry import (
    RUNTIMES,
    available_runtimes,
    build_runtime,
    installed,
    preference,
    resolve_runtime,
)

__all__ = [
    "RUNTIMES", "TOLERANCES", "Runtime", "Tolerance", "available_runtimes", "build_runtime", "installed", "preference",
    "resolve_runtime",
]
