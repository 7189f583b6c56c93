"""Recover a builder export's node graph from its source: marker comments, attributes, forward body.

The truth about a builder export is the canvas graph, written into `__init__` as one
`# <type>: <node_id>` comment per node in topological order, with each weighted node's modules
stored in attributes named after the node. `forward` may be broken (GENERATED_MODELS.md), so it
is only used as a hint: where an assignment in its body computes a node's value from other
nodes' values (`residual_0_output = mhsa_0_output + embedding_0_x`), those are the node's
inputs; otherwise a node reads the previous node's output, and a residual adds the previous
node's output to that node's input.
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from model_adapter.errors import GraphResolutionError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["GraphNode", "ModelGraph", "recover_graph"]

logger = logging.getLogger(__name__)

_MARKER = re.compile(
    r"^\s*#\s*([A-Za-z][A-Za-z0-9_]*)\s*:\s*([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*_\d+)\s*$"
)
_VALUE_SUFFIXES = ("output", "x", "logits", "tokens", "out", "hidden")

INPUT_TYPES = ("input",)
EMBEDDING_TYPES = ("embedding", "embed", "token_embedding")
ATTENTION_TYPES = ("mhsa", "attention", "self_attention", "attn", "multihead_attention")
RESIDUAL_TYPES = ("residual", "add", "skip")
OUTPUT_TYPES = ("output", "lm_head", "head")


@dataclass
class GraphNode:
    """One canvas node: its id, type, attribute names and the node ids it reads.

    `inputs` is one id for most nodes and two for a residual (sublayer output, skip input).
    `modules` maps attribute suffix ("" for `self.<id>`, "token"/"pos"/"dropout" for the
    embedding's) to the attribute name on the model.
    """

    node_id: str
    node_type: str
    modules: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    inputs_from_forward: bool = False

    def describe(self) -> str:
        attrs = ", ".join(self.modules.values()) or "no module"
        reads = (
            " + ".join(self.inputs) if self.node_type in RESIDUAL_TYPES else ", ".join(self.inputs)
        )
        return f"{self.node_id} ({self.node_type}; {attrs}) <- {reads or 'token ids'}"


@dataclass
class ModelGraph:
    """The recovered graph: nodes in topological order; the last node's value is the logits."""

    class_name: str
    nodes: list[GraphNode]
    forward_problems: list[str] = field(default_factory=list)
    """What is wrong with the export's own `forward`, read off its source (empty: none found)."""

    def node(self, node_id: str) -> GraphNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def output_node(self) -> GraphNode:
        return self.nodes[-1]

    def repairs(self, model: nn.Module) -> list[str]:
        """Human-readable list of what running this graph fixes compared with calling forward."""
        notes = []
        out = self.output_node
        if out.node_type in OUTPUT_TYPES and not out.modules:
            notes.append(
                f"{out.node_id} has no module: projection tied to the token embedding weight"
            )
        return notes

    def describe(self) -> str:
        return "\n".join(node.describe() for node in self.nodes)


def _forward_problems(
    forward: ast.FunctionDef | None, nodes: list[GraphNode], token_params: set[str]
) -> list[str]:
    """The builder defects visible in `forward`'s source (GENERATED_MODELS.md), one line each."""
    if forward is None:
        return ["the class defines no forward()"]
    node_ids = {n.node_id for n in nodes}
    args = forward.args
    params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]][1:]
    problems = []
    if not params and args.vararg is None and args.kwarg is None:
        problems.append("forward() takes no token input (empty signature)")
    leaked = [p for p in params if p not in token_params and _value_owner(p, node_ids)]
    if leaked:
        problems.append(f"forward() takes intermediate outputs as arguments: {', '.join(leaked)}")
    assigned = {
        n.id for n in ast.walk(forward) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    known = assigned | set(params)
    for stmt in ast.walk(forward):
        if (
            isinstance(stmt, ast.Return)
            and isinstance(stmt.value, ast.Name)
            and stmt.value.id not in known
        ):
            problems.append(f"forward() returns '{stmt.value.id}', which it never assigns")
    attention = {n.node_id for n in nodes if n.node_type in ATTENTION_TYPES}
    for call in ast.walk(forward):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in attention
            and not {k.arg for k in call.keywords} & {"attn_mask", "is_causal"}
            and len(call.args) < 6
        ):
            problems.append(
                f"attention node {call.func.attr} is called without an attention mask (not causal)"
            )
    output = [n for n in nodes if n.node_type in OUTPUT_TYPES and not n.modules]
    problems += [f"output node {n.node_id} has no module" for n in output]
    return problems


def _class_source(model: nn.Module) -> str:
    cls = type(model)
    try:
        return textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError) as exc:
        raise GraphResolutionError(
            f"cannot read the source of {cls.__name__} ({exc}); load the export with load_model(folder) "
            "so its model.py is available"
        ) from exc


def _find_function(tree: ast.Module, class_name: str, name: str) -> ast.FunctionDef | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return item
    return None


def _function_lines(
    tree: ast.Module, source: str, class_name: str, function: ast.FunctionDef
) -> list[str]:
    """The source lines of `function` including trailing comments (ast's end_lineno stops at code)."""
    end = None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            end = node.end_lineno
            following = [item.lineno for item in node.body if item.lineno > function.lineno]
            if following:
                first = min(following)
                decorators = [
                    d.lineno
                    for item in node.body
                    if item.lineno == first
                    for d in getattr(item, "decorator_list", [])
                ]
                end = min([first, *decorators]) - 1
    lines = source.splitlines()
    return lines[function.lineno - 1 : end if end is not None else function.end_lineno]


def has_builder_markers(model: nn.Module) -> bool:
    """True when the class source has a builder marker such as `# mhsa: mhsa_0` (a known type, id `<type>_<i>`).

    Ordinary comments (`# TODO: fix_1`) do not count, so hand-written models are not mistaken for
    builder exports.
    """
    try:
        source = textwrap.dedent(inspect.getsource(type(model)))
    except (OSError, TypeError):
        return False
    known = {
        *INPUT_TYPES,
        *EMBEDDING_TYPES,
        *ATTENTION_TYPES,
        *RESIDUAL_TYPES,
        *OUTPUT_TYPES,
        "layernorm",
        "ffn",
        "mlp",
    }
    for line in source.splitlines():
        match = _MARKER.match(line)
        if (
            match
            and match.group(1).lower() in known
            and match.group(2).startswith(match.group(1).lower() + "_")
        ):
            return True
    return False


def _value_owner(name: str, node_ids: set[str]) -> str | None:
    """The node id a forward variable belongs to (`mhsa_0_output` -> `mhsa_0`), else None."""
    if name in node_ids:
        return name
    for suffix in _VALUE_SUFFIXES:
        if name.endswith("_" + suffix) and name[: -len(suffix) - 1] in node_ids:
            return name[: -len(suffix) - 1]
    return None


def _forward_hints(
    forward: ast.FunctionDef | None, node_ids: set[str], token_params: set[str]
) -> dict[str, list[str]]:
    """node id -> ids of the nodes its value is computed from, according to forward's body."""
    hints: dict[str, list[str]] = {}
    if forward is None:
        return hints

    def owner(expr: ast.AST) -> str | None:
        if isinstance(expr, ast.Name):
            if expr.id in token_params:
                return "input"
            return _value_owner(expr.id, node_ids)
        return None

    for stmt in ast.walk(forward):
        if not isinstance(stmt, ast.Assign):
            continue
        targets: list[str] = []
        for target_expr in stmt.targets:
            if isinstance(target_expr, ast.Name):
                targets.append(target_expr.id)
            elif (
                isinstance(target_expr, ast.Tuple)
                and target_expr.elts
                and isinstance(target_expr.elts[0], ast.Name)
            ):
                targets.append(target_expr.elts[0].id)
        value = stmt.value
        if isinstance(value, ast.Subscript):
            value = value.value
        for target in targets:
            node_id = _value_owner(target, node_ids)
            if node_id is None:
                continue
            sources: list[str] | None = None
            if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
                left, right = owner(value.left), owner(value.right)
                if left and right and left != node_id and right != node_id:
                    sources = [left, right]
            elif isinstance(value, ast.Call):
                func = value.func
                called = func.attr if isinstance(func, ast.Attribute) else None
                if called is not None and called.startswith(node_id) and value.args:
                    source = owner(value.args[0])
                    if source and source != node_id:
                        sources = [source]
            if sources is not None:
                hints.setdefault(node_id, sources)
    return hints


def recover_graph(model: nn.Module) -> ModelGraph:
    """The node graph of a builder export, from its class source and its attributes.

    Raises `GraphResolutionError` (naming the node) when there are no markers, a weighted node
    has no attribute, or a residual has nothing to add.
    """
    cls = type(model)
    source = _class_source(model)
    tree = ast.parse(source)
    init = _find_function(tree, cls.__name__, "__init__")
    if init is None:
        raise GraphResolutionError(
            f"{cls.__name__} defines no __init__ to read node markers from; this is not a builder export"
        )
    init_lines = _function_lines(tree, source, cls.__name__, init)
    markers: list[tuple[str, str]] = []
    for line in init_lines:
        match = _MARKER.match(line)
        if match:
            markers.append((match.group(1).lower(), match.group(2)))
    if not markers:
        raise GraphResolutionError(
            f"{cls.__name__}.__init__ has no '# <type>: <node_id>' marker comments; it is not a builder "
            "export, call its forward instead"
        )
    seen: set[str] = set()
    for _, node_id in markers:
        if node_id in seen:
            raise GraphResolutionError(
                f"node {node_id} is declared twice in {cls.__name__}.__init__; remove one marker"
            )
        seen.add(node_id)

    children = dict(model.named_children())
    node_ids = {node_id for _, node_id in markers}
    nodes: list[GraphNode] = []
    for node_type, node_id in markers:
        node = GraphNode(node_id, node_type)
        if node_id in children:
            node.modules[""] = node_id
        for attr in children:
            if attr.startswith(node_id + "_"):
                suffix = attr[len(node_id) + 1 :]
                if _value_owner(attr, node_ids) is None or suffix not in _VALUE_SUFFIXES:
                    node.modules[suffix] = attr
        nodes.append(node)

    forward = _find_function(tree, cls.__name__, "forward")
    token_params: set[str] = set()
    if forward is not None:
        token_params = {
            a.arg
            for a in forward.args.args[1:]
            if a.arg in ("input_ids", "input_0_tokens", "tokens", "idx", "x")
        }
    token_params.add("input_0_tokens")
    hints = _forward_hints(forward, node_ids, token_params)
    input_ids = [n.node_id for n in nodes if n.node_type in INPUT_TYPES]

    for index, node in enumerate(nodes):
        hinted = hints.get(node.node_id)
        if hinted is not None:
            node.inputs = [input_ids[0] if h == "input" and input_ids else h for h in hinted]
            node.inputs_from_forward = True
            if "input" in node.inputs:  # token ids used but there is no input node
                node.inputs = [h for h in node.inputs if h != "input"]
            continue
        if node.node_type in INPUT_TYPES:
            continue
        if index == 0:
            if node.node_type in EMBEDDING_TYPES:
                continue  # reads the token ids directly
            raise GraphResolutionError(
                f"node {node.node_id} ({node.node_type}) is first in the graph but is no input or embedding "
                "node; the export's node list is incomplete"
            )
        previous = nodes[index - 1]
        if node.node_type in RESIDUAL_TYPES:
            if not previous.inputs and previous.node_type not in EMBEDDING_TYPES:
                raise GraphResolutionError(
                    f"node {node.node_id} (residual) follows {previous.node_id}, which has no input to add back; "
                    "the export's graph has a residual without a skip connection"
                )
            skip = previous.inputs[-1] if previous.inputs else (input_ids[0] if input_ids else None)
            if skip is None:
                raise GraphResolutionError(
                    f"node {node.node_id} (residual) cannot find the input of {previous.node_id}; "
                    "add an input node to the export"
                )
            node.inputs = [previous.node_id, skip]
        else:
            node.inputs = [previous.node_id]
    for node in nodes:
        for dep in node.inputs:
            if dep not in node_ids:
                raise GraphResolutionError(
                    f"node {node.node_id} reads '{dep}', which is no node of the graph"
                )
    graph = ModelGraph(cls.__name__, nodes, _forward_problems(forward, nodes, token_params))
    logger.debug("recovered graph of %s:\n%s", cls.__name__, graph.describe())
    return graph
