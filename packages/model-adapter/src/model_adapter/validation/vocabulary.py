"""Vocab contract: token-embedding rows, output columns and config vocab_size agree.

The tokenizer is built to exactly `vocab_size` ids. An embedding with fewer rows crashes on the
highest ids (on a GPU as a device-side assert far from the cause); logits with a different
width break the loss and every package downstream. An embedding with more rows than the
vocabulary (padded for speed) is legal but its extra rows never train.
"""

from __future__ import annotations

from model_adapter.report import CheckResult
from model_adapter.validation.context import ValidationContext, short_name

NAME = "vocab_contract"


def _trace_vocab_modules(ctx: ValidationContext, ids):
    """Run one forward and find the embedding fed with input_ids and the last vocab-wide Linear."""
    import torch
    from torch import nn

    seen: dict[str, object] = {"embedding": None, "output": None}
    names = {module: short_name(name) for name, module in ctx.adapter.named_modules()}
    handles = []

    def on_embedding(module, inputs, output):
        if (
            seen["embedding"] is None
            and inputs
            and isinstance(inputs[0], torch.Tensor)
            and inputs[0].shape == ids.shape
            and torch.equal(inputs[0], ids)
        ):
            seen["embedding"] = module

    def on_linear(module, inputs, output):
        seen["output"] = module

    for module in ctx.adapter.modules():
        if isinstance(module, nn.Embedding):
            handles.append(module.register_forward_hook(on_embedding))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(on_linear))
    try:
        logits = ctx.logits(ids)
    finally:
        for handle in handles:
            handle.remove()
    return logits, seen["embedding"], seen["output"], names


def check(ctx: ValidationContext) -> CheckResult:
    from torch import nn

    config_vocab = ctx.vocab_size
    ids = ctx.random_ids(1, min(8, ctx.seq_len))
    logits, embedding, output, names = _trace_vocab_modules(ctx, ids)
    logit_columns = int(logits.shape[-1])

    if embedding is None:  # not fed input_ids directly: fall back to the largest table
        tables = [m for m in ctx.adapter.modules() if isinstance(m, nn.Embedding)]
        embedding = max(tables, key=lambda m: m.num_embeddings, default=None)
    rows = int(embedding.num_embeddings) if embedding is not None else None
    if isinstance(output, nn.Linear) and output.out_features == logit_columns:
        output_name = names.get(output, "?")
        if embedding is not None and output.weight is embedding.weight:
            output_name += " (tied to the embedding)"
    else:
        output_name = "functional (no vocab-wide nn.Linear ran last)"

    values: dict = {
        "config_vocab_size": config_vocab,
        "embedding_rows": rows,
        "logit_columns": logit_columns,
        "embedding": names.get(embedding, None) if embedding is not None else None,
        "output": output_name,
    }
    if logit_columns != config_vocab:
        return CheckResult(
            NAME,
            "failed",
            values,
            f"logits have {logit_columns} columns but config vocab_size is {config_vocab}",
            "make the output projection nn.Linear(d_model, vocab_size) and vocab_size in "
            "config.json the tokenizer's size",
        )
    if rows is None:
        return CheckResult(
            NAME,
            "warning",
            values,
            f"logits have {logit_columns} columns as configured; no nn.Embedding found to compare",
            "if the model embeds tokens another way, make sure it accepts ids up to vocab_size - 1",
        )
    if rows < config_vocab:
        return CheckResult(
            NAME,
            "failed",
            values,
            f"the token embedding has {rows} rows but vocab_size is {config_vocab}: ids >= {rows} crash",
            f"build the embedding as nn.Embedding({config_vocab}, d_model)",
        )
    if rows > config_vocab:
        return CheckResult(
            NAME,
            "warning",
            values,
            f"the token embedding has {rows} rows for vocab_size {config_vocab}: "
            f"{rows - config_vocab} rows never train",
            "fine if padded on purpose; otherwise set vocab_size and the embedding to the same size",
        )
    return CheckResult(
        NAME,
        "passed",
        values,
        f"embedding rows = logit columns = vocab_size = {config_vocab}",
    )
