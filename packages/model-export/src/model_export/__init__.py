"""model-export: ONNX, TorchScript and torch.export artifacts with measured parity.

Every export is checked against the PyTorch model over several shapes; quantized models are
judged on held-out text before they may ship; a bundle holds the artifacts, the tokenizer, a
model card, the parity report and a torch-free `inference.py`.
"""

from importlib.metadata import version as _distribution_version

from model_export.bundle import Bundle, build_bundle
from model_export.errors import (
    ExportFailedError,
    ExportSourceError,
    ModelExportError,
    OutputFolderError,
    ParityError,
)
from model_export.generation import GenerationParity, check_generation_parity, greedy_generate
from model_export.model_card import CardInputs, ModelFacts, render_model_card
from model_export.onnx_export import OnnxExport, export_onnx, onnx_session
from model_export.parity import ParityReport, ShapeParity, default_parity_shapes, measure_parity
from model_export.quantization import (
    QuantizationResult,
    QuantizationThresholds,
    quantize_fp16,
    quantize_int8,
)
from model_export.sources import ExportSource, load_source
from model_export.torchscript_export import TorchExport, export_pt2, export_torchscript

__version__ = _distribution_version("model-export")  # pyproject.toml is the one version source

__all__ = [
    "Bundle",
    "CardInputs",
    "ExportFailedError",
    "ExportSource",
    "ExportSourceError",
    "GenerationParity",
    "ModelExportError",
    "ModelFacts",
    "OnnxExport",
    "OutputFolderError",
    "ParityError",
    "ParityReport",
    "QuantizationResult",
    "QuantizationThresholds",
    "ShapeParity",
    "TorchExport",
    "__version__",
    "build_bundle",
    "check_generation_parity",
    "default_parity_shapes",
    "export_onnx",
    "export_pt2",
    "export_torchscript",
    "greedy_generate",
    "load_source",
    "measure_parity",
    "onnx_session",
    "quantize_fp16",
    "quantize_int8",
    "render_model_card",
]
