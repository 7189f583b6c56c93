"""Store a tied embedding once in an int8 model.

A GPT whose output head shares the token embedding (GPT-2, nanoGPT, small Llamas) uses one
matrix `E [V, D]` twice: the lookup `Gather(E, ids)` and the projection `MatMul(h, E^T)`. After
the exporter and `quant_pre_process` the projection's weight is its own initializer `E^T`, and
`quantize_dynamic` then writes two int8 copies of the matrix (the lookup's and the projection's),
so a tied model shrinks far less than 4x. This module finds such pairs in the model that was
quantized and rewrites the int8 model so that both uses read ONE int8 initializer `[V, D]`:

- the projection's `MatMulInteger` reads `Transpose(E_int8)`, a node on an initializer that
  onnxruntime folds once when the session is created, so the file holds the matrix once and
  inference runs the same kernels as before;
- the lookup gathers rows of `E_int8` and dequantizes them with the projection's scale and zero
  point (per-tensor), so both uses see the same int8 values.

Nothing is rewritten unless the pair is found exactly (the projection's weight equals the
lookup's transposed, bit for bit, before quantization) and onnxruntime's quantizer named the
projection's int8 weight, scale and zero point the way this module expects; otherwise the int8
model is left as it is, still correct, only larger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["TiedPair", "find_tied_pairs", "share_tied_int8"]

# How onnxruntime's quantizer names a quantized initializer `<name>` and its parameters.
_QUANTIZED_NAMES = ("_quantized", "_scale", "_zero_point")


@dataclass(frozen=True)
class TiedPair:
    """A lookup table and a projection weight that hold the same matrix (`projection == lookup.T`)."""

    lookup: str  # initializer `[V, D]` read by a Gather
    projection: str  # initializer `[D, V]` read by a MatMul


def find_tied_pairs(model) -> list[TiedPair]:
    """Pairs of initializers in an fp32 `onnx.ModelProto` that hold one matrix for lookup and head."""
    from onnx import numpy_helper

    initializers = {init.name: init for init in model.graph.initializer}
    # lookups: Gather(table, ids) along rows; projections: MatMul(x, weight)
    lookups = _matrices_read(model, initializers, "Gather", 0)
    projections = _matrices_read(model, initializers, "MatMul", 1)
    pairs = []
    for lookup in lookups:
        table = numpy_helper.to_array(initializers[lookup])
        for projection in projections:
            if tuple(initializers[projection].dims) == table.shape[::-1] and np.array_equal(
                numpy_helper.to_array(initializers[projection]), table.T
            ):
                pairs.append(TiedPair(lookup, projection))
                break
    return pairs


def _matrices_read(model, initializers: dict, op_type: str, index: int) -> list[str]:
    """2-D initializers read as input `index` of `op_type` nodes (a Gather only along axis 0)."""
    names = {
        node.input[index]
        for node in model.graph.node
        if node.op_type == op_type
        and len(node.input) > index
        and node.input[index] in initializers
        and len(initializers[node.input[index]].dims) == 2
        and all(attribute.i == 0 for attribute in node.attribute if attribute.name == "axis")
    }
    return sorted(names)


def share_tied_int8(fp32_model_path: str | Path, int8_model_path: str | Path) -> int:
    """Rewrite the int8 model at `int8_model_path` in place so each tied matrix is stored once.

    `fp32_model_path` is the model that was quantized (where the ties are found exactly).
    Returns how many tied matrices now share one int8 initializer (0: the file is untouched).
    """
    import onnx

    pairs = find_tied_pairs(onnx.load(str(fp32_model_path)))
    if not pairs:
        return 0
    model = onnx.load(str(int8_model_path))
    shared = sum(_share(model, pair) for pair in pairs)
    if shared:
        onnx.save(model, str(int8_model_path))
        logger.info("int8: %d tied embedding(s) stored once for lookup and projection", shared)
    return shared


def _share(model, pair: TiedPair) -> bool:
    """Make the lookup and the projection of `pair` read one int8 `[V, D]` initializer."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    weight, scale, zero_point = (f"{pair.projection}{suffix}" for suffix in _QUANTIZED_NAMES)
    if not all(name in initializers for name in (weight, scale, zero_point)):
        logger.debug("int8: %s was not quantized as expected; kept as it is", pair.projection)
        return False
    weight_array = numpy_helper.to_array(initializers[weight])
    if weight_array.dtype != np.int8 or numpy_helper.to_array(initializers[scale]).size != 1:
        logger.debug("int8: %s is not per-tensor int8; kept as it is", pair.projection)
        return False
    # The lookup was either quantized by quantize_dynamic (Gather on `<lookup>_quantized`, then
    # DequantizeLinear with the lookup's own scale and zero point) or kept in fp32.
    quantized_lookup = f"{pair.lookup}_quantized"
    gathers = [
        node
        for node in graph.node
        if node.op_type == "Gather" and node.input[0] in (pair.lookup, quantized_lookup)
    ]
    consumers = _consumers(graph)
    dequantizes = [
        consumer
        for gather in gathers
        if gather.input[0] == quantized_lookup
        for consumer in consumers.get(gather.output[0], [])
    ]
    if not gathers or any(node.op_type != "DequantizeLinear" for node in dequantizes):
        logger.debug("int8: lookup of %s is not read as expected; kept as it is", pair.lookup)
        return False

    rows = f"{pair.lookup}_int8_shared"
    graph.initializer.remove(initializers[weight])
    graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight_array.T), rows))
    # The projection reads the transposed rows under its old name; onnxruntime folds this
    # Transpose of an initializer when the session is created.
    graph.node.insert(
        0, helper.make_node("Transpose", [rows], [weight], name=f"{weight}_Transpose", perm=[1, 0])
    )
    for dequantize in dequantizes:
        dequantize.input[1], dequantize.input[2] = scale, zero_point
    for gather in gathers:
        if gather.input[0] == pair.lookup:  # an fp32 lookup: gather int8 rows, then dequantize
            output = gather.output[0]
            gather.output[0] = f"{output}_int8_shared"
            index = list(graph.node).index(gather)
            graph.node.insert(
                index + 1,
                helper.make_node(
                    "DequantizeLinear",
                    [gather.output[0], scale, zero_point],
                    [output],
                    name=f"{output}_DequantizeLinear_shared",
                ),
            )
        gather.input[0] = rows
    _drop_unused_initializers(
        graph, [pair.lookup, *(f"{pair.lookup}{suffix}" for suffix in _QUANTIZED_NAMES)]
    )
    return True


def _consumers(graph) -> dict[str, list]:
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def _names_read(graph) -> set[str]:
    """Every name a node of `graph` or of its subgraphs (If, Loop, Scan bodies) reads."""
    from onnx import AttributeProto

    names = {output.name for output in graph.output}
    for node in graph.node:
        names.update(node.input)
        for attribute in node.attribute:
            if attribute.type == AttributeProto.GRAPH:
                names |= _names_read(attribute.g)
            for subgraph in attribute.graphs:
                names |= _names_read(subgraph)
    return names


def _drop_unused_initializers(graph, names: list[str]) -> None:
    used = _names_read(graph)
    for init in list(graph.initializer):
        if init.name in names and init.name not in used:
            graph.initializer.remove(init)
