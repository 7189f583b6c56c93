"""Tier 2 analysis: what a model does inside, for any model the adapter runs.

`analyze_model(model, config, texts=..., tokenizer=...)` returns an `AnalysisReport` with one
section per analysis (see `SECTIONS`): attention maps and per-head statistics (from
`nn.MultiheadAttention` and every `scaled_dot_product_attention` call), context use (loss
against the number of intact tokens), integrated-gradients attribution, robustness to
replaced tokens and embedding noise, and hidden-state / weight statistics (with the weights'
drift over a run folder's checkpoints). The report renders as text, JSON and one
self-contained HTML page with inline SVG charts.

Importing this package does not import torch; the analyses import it when they run.
"""

from model_adapter.analysis.analyze import SECTIONS, analyze_model
from model_adapter.analysis.report import AnalysisReport, Figure, SectionResult

__all__ = ["SECTIONS", "AnalysisReport", "Figure", "SectionResult", "analyze_model"]
