"""`UniversalModelAdapter`: any language model as `forward(input_ids, attention_mask) -> logits`.

Two ways to run the user's model, chosen once at construction:

- "graph": builder exports (node marker comments in `__init__`) run through the
  `ComputationalGraphExecutor`, which works whether or not their `forward` does and applies the
  causal and padding masks natively.
- "forward": everything else is called through its own `forward`, with the token ids passed as
  the signature asks (keyword or positional), `attention_mask` passed where accepted, other
  parameters (targets, labels, caches, use_cache) left at their defaults, and the logits taken
  out of a tensor, tuple, dict or `.logits` object. With `causal=True`, calls the model makes to
  `nn.MultiheadAttention` without a mask get a causal mask (and the padding mask where the model
  cannot take `attention_mask` itself), through forward pre-hooks that act only while the
  adapter is running.

nanoGPT-style models return only the last position's logits when called without targets; the
adapter notices (seq dim 1 while T > 1 and `forward` takes `targets`) and from then on passes
`targets=input_ids`, which makes such models return logits for every position. In eager calls
the forward is stopped as soon as the logits exist, so the loss the model would compute on the
side is never computed (`model_adapter.logits_shortcut`); while tracing, it is computed and
discarded.

Layouts and state, for models written the classic PyTorch way:

- Sequence-first models (`[T, B]` input, `batch_first=False`, the PyTorch tutorials' layout)
  are detected by a probe of a few tiny forward passes: fed `[B, T]` their batch items depend on
  each other, fed the transpose they do not. The adapter then transposes in and out
  (`sequence_first=True`) and logs it once per model. The probe runs on the first eager call
  (or first read of `.sequence_first`), never while tracing; models holding PyTorch layers left
  at `batch_first=False` (RNNs, `nn.MultiheadAttention`) are probed when the adapter is built,
  since an exporter may trace before any eager call; Hugging Face models are never probed
  (their `input_ids` are `[batch, seq]`). Pass `sequence_first=` to skip the probe.
- Flattened outputs (`[T*B, V]` or `[B*T, V]`, the word-language-model tutorial) are reshaped.
- A recurrent state argument (`forward(input, hidden)`) is left at its default when it has one,
  else initialised with the model's `init_hidden(batch)` / `init_state(batch)`; the state the
  model returns beside the logits is discarded (every call starts from a fresh state).

Example (an LSTM language model in the tutorial's style):
    >>> import torch
    >>> from torch import nn
    >>> class RNNModel(nn.Module):
    ...     def __init__(self, ntoken=50):
    ...         super().__init__()
    ...         self.encoder, self.rnn = nn.Embedding(ntoken, 16), nn.LSTM(16, 16)
    ...         self.decoder = nn.Linear(16, ntoken)
    ...     def forward(self, input, hidden):  # input: [T, B]
    ...         output, hidden = self.rnn(self.encoder(input), hidden)
    ...         return self.decoder(output), hidden
    ...     def init_hidden(self, bsz):
    ...         return torch.zeros(1, bsz, 16), torch.zeros(1, bsz, 16)
    >>> adapter = UniversalModelAdapter(RNNModel()).eval()
    >>> adapter.sequence_first, adapter(torch.randint(0, 50, (2, 7))).shape
    (True, torch.Size([2, 7, 50]))
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from model_adapter.config import ModelConfig, build_model_config
from model_adapter.errors import GraphResolutionError, ModelLoadError, ModelValidationError
from model_adapter.executor import ComputationalGraphExecutor
from model_adapter.graph import has_builder_markers
from model_adapter.layout import has_sequence_first_layers, is_transformers_model
from model_adapter.logits_shortcut import LogitsShortcut
from model_adapter.masks import attention_mask_for
from model_adapter.signature import ModelSignatureInspector
from model_adapter.tracing import is_tracing

__all__ = ["UniversalModelAdapter", "extract_logits"]

logger = logging.getLogger(__name__)

STRATEGIES = ("auto", "forward", "graph")
STATE_PARAM_NAMES = (
    "hidden",
    "hx",
    "h",
    "h0",
    "state",
    "states",
    "hidden_state",
    "memory",
    "mems",
    "carry",
)
"""Names of a recurrent-state parameter of `forward` (`forward(input, hidden)`)."""
STATE_INIT_METHODS = ("init_hidden", "init_state", "initial_state", "init_states")
"""Methods that build a fresh state for a batch size (`init_hidden(bsz)`, the tutorials' name)."""
_LAYOUT_PROBE = (3, 5)  # batch, length: unequal so that a transposed read is a different shape
_PROBE_LENGTH = 8
_PROBE_TOLERANCE = 1e-5
_HOOK_FLAG = "_model_adapter_mask_hook"
_LAYOUT_FLAG = "_model_adapter_sequence_first"


@dataclass(frozen=True)
class _MaskRequest:
    causal: bool
    attention_mask: torch.Tensor | None


_ACTIVE_REQUEST: contextvars.ContextVar[_MaskRequest | None] = contextvars.ContextVar(
    "model_adapter_mask_request", default=None
)


def _multihead_attention_pre_hook(
    module: nn.MultiheadAttention, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """Add the adapter's causal / padding mask to an `nn.MultiheadAttention` call that has none."""
    request = _ACTIVE_REQUEST.get()
    if request is None:
        return None
    if len(args) > 5 or kwargs.get("attn_mask") is not None or kwargs.get("is_causal"):
        return None  # the model masks this call itself
    query = args[0] if args else kwargs.get("query")
    key = args[1] if len(args) > 1 else kwargs.get("key", query)
    if not isinstance(query, torch.Tensor) or not isinstance(key, torch.Tensor) or query.dim() != 3:
        return None
    seq_dim = 1 if module.batch_first else 0
    batch_dim = 1 - seq_dim
    query_length, key_length = query.shape[seq_dim], key.shape[seq_dim]
    causal = request.causal and query_length == key_length
    padding = request.attention_mask
    has_padding = (len(args) > 3 and args[3] is not None) or kwargs.get(
        "key_padding_mask"
    ) is not None
    if (
        padding is None
        or has_padding
        or padding.shape[1] != key_length
        or padding.shape[0] != key.shape[batch_dim]
    ):
        padding = None
    if not causal and padding is None:
        return None
    mask = attention_mask_for(
        query_length=query_length,
        key_length=key_length,
        device=query.device,
        causal=causal,
        attention_mask=padding,
        num_heads=module.num_heads,
    )
    new_kwargs = dict(kwargs)
    new_kwargs["attn_mask"] = mask
    return args, new_kwargs


def _install_mask_hooks(model: nn.Module) -> int:
    """Register the mask pre-hook once on every `nn.MultiheadAttention` inside `model`."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.MultiheadAttention):
            count += 1
            if not module.__dict__.get(_HOOK_FLAG):
                module.register_forward_pre_hook(_multihead_attention_pre_hook, with_kwargs=True)
                module.__dict__[_HOOK_FLAG] = True
    return count


def extract_logits(output: Any) -> torch.Tensor:
    """The logits in a model's output: a tensor, a tuple/list (first item), a dict or `.logits`."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise ModelValidationError(
        f"the model returned a {type(output).__name__}, which holds no logits; return a tensor, a tuple "
        "with the logits first, a dict with 'logits' or an object with .logits"
    )


class UniversalModelAdapter(nn.Module):
    """Run any language model as `forward(input_ids [B,T], attention_mask [B,T] | None) -> [B,T,V]`.

    `.model` is the user's own module (its `state_dict()` is the weights contract between
    packages), `.config` its `ModelConfig`. `causal=True` makes attention causal where the model
    does not; `strategy` forces "forward" or "graph" instead of choosing ("auto").

    Example:
        >>> import torch
        >>> from model_adapter import UniversalModelAdapter, example_export_path, load_model
        >>> model, config = load_model(example_export_path())
        >>> adapter = UniversalModelAdapter(model, config).eval()
        >>> adapter(torch.randint(0, 3001, (2, 16))).shape
        torch.Size([2, 16, 3001])
    """

    def __init__(
        self,
        model: nn.Module,
        config: ModelConfig | Mapping[str, Any] | None = None,
        *,
        causal: bool = True,
        strategy: str = "auto",
        sequence_first: bool | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ModelLoadError(
                f"UniversalModelAdapter needs an nn.Module, got {type(model).__name__}; load it with load_model first"
            )
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        self.model = model
        if config is None:
            config = build_model_config(model, source=f"module:{type(model).__qualname__}")
        elif isinstance(config, Mapping):
            config = ModelConfig.from_dict(config)
        else:
            build_model_config(
                model, {"vocab_size": config.vocab_size}
            )  # raises on a vocab conflict
        self.config: ModelConfig = config
        self.inspector = ModelSignatureInspector(model)
        self.executor: ComputationalGraphExecutor | None = None
        self._causal = bool(causal)
        self._pass_targets = False
        self._logits_shortcut = LogitsShortcut()  # with targets passed: skip the model's loss
        self._attention_modules = 0
        self._state_init: dict[str, str] = {}
        self._sequence_first: bool | None = None if sequence_first is None else bool(sequence_first)
        self.strategy = self._choose_strategy(strategy)
        if self.strategy == "forward":
            self._check_forward_callable()
            self._attention_modules = _install_mask_hooks(model)
            if self._sequence_first is None:
                self._sequence_first = model.__dict__.get(_LAYOUT_FLAG)  # probed once per model
            if self._sequence_first is None and is_transformers_model(model):
                self._sequence_first = False
            if self._sequence_first is None and has_sequence_first_layers(model):
                self._resolve_layout()  # now: an exporter may trace before any eager call
        elif self._sequence_first is None:
            self._sequence_first = False  # the graph executor reads [batch, seq]
        # DEBUG: validation builds short-lived variants (the raw model for the causal-leak check);
        # callers that run this adapter log `summary()` once, as train() does.
        logger.debug("adapter for %s: %s", type(model).__name__, self.summary())

    def summary(self, *, brief: bool = False) -> str:
        """One line on how the model is run: `strategy=graph, causal mask injected, forward(...) -> ...`.

        `brief=True` leaves out the forward signature, which can run long (a builder export lists
        every intermediate output it asks for): the everyday console line.
        """
        causal = "causal mask injected" if self._causal else "no causal mask added"
        layout = ""
        if self._sequence_first is None:
            layout = ", layout probed on the first call"
        elif self._sequence_first:
            layout = ", sequence-first (transposed)"
        state = "".join(
            f", {name} from model.{init}(batch)" for name, init in self._state_init.items()
        )
        head = f"strategy={self.strategy}, {causal}{layout}{state}"
        return head if brief else f"{head}, {self.inspector.describe()}"

    # --- public attributes of the contract ------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def max_seq_len(self) -> int | None:
        return self.config.max_seq_len

    @property
    def sequence_first(self) -> bool:
        """Whether the model reads `[seq, batch]` (inputs and outputs are then transposed).

        Reading it runs the layout probe if it has not run yet (see `settle_layout`).
        """
        return self.settle_layout()

    @sequence_first.setter
    def sequence_first(self, value: bool) -> None:
        self._sequence_first = bool(value)

    @property
    def causal(self) -> bool:
        return self._causal

    @causal.setter
    def causal(self, value: bool) -> None:
        self._causal = bool(value)
        if self.executor is not None:
            self.executor.causal = self._causal

    # --- construction -------------------------------------------------------------------------
    def _choose_strategy(self, requested: str) -> str:
        if requested == "forward":
            return "forward"
        if requested == "graph" or has_builder_markers(self.model):
            try:
                self.executor = ComputationalGraphExecutor(self.model, causal=self._causal)
            except GraphResolutionError:
                if requested == "graph" or not self.inspector.is_simple_signature():
                    raise
                logger.warning(
                    "builder graph of %s not resolvable; calling its forward",
                    type(self.model).__name__,
                    exc_info=True,
                )
                return "forward"
            if (
                requested == "auto"
                and self.inspector.is_simple_signature()
                and not self._graph_matches_forward()
            ):
                logger.warning(
                    "%s: the recovered builder graph computes something else than its working forward; "
                    "calling forward (causal masks injected into nn.MultiheadAttention calls)",
                    type(self.model).__name__,
                )
                self.executor = None
                return "forward"
            return "graph"
        return "forward"

    def _graph_matches_forward(self) -> bool:
        """Whether a working builder `forward` and the executor agree on a tiny probe input.

        True also when forward fails (the graph is then the only way to run the model).
        """
        assert self.executor is not None
        length = min(_PROBE_LENGTH, self.config.max_seq_len or _PROBE_LENGTH)
        generator = torch.Generator().manual_seed(0)
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        ids = torch.randint(0, self.config.vocab_size, (1, length), generator=generator).to(device)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                try:
                    direct = extract_logits(self.model(ids))
                except Exception as exc:
                    logger.info(
                        "%s.forward fails (%s: %s); running the graph",
                        type(self.model).__name__,
                        type(exc).__name__,
                        exc,
                    )
                    return True
                for causal in (False, True):
                    executor = ComputationalGraphExecutor(
                        self.model, self.executor.graph, causal=causal
                    )
                    graph = executor(ids)
                    if graph.shape == direct.shape and torch.allclose(
                        graph, direct, atol=_PROBE_TOLERANCE, rtol=0
                    ):
                        return True
                return False
        finally:
            self.model.train(was_training)

    def _check_forward_callable(self) -> None:
        inspector = self.inspector
        if inspector.token_input is None and not inspector.accepts_var_positional:
            raise ModelLoadError(
                f"{type(self.model).__name__}.forward{inspector.signature} has no token input (input_ids, idx, "
                "tokens, x, ...) and the model is no builder export; give forward an input_ids parameter"
            )
        init = next(
            (name for name in STATE_INIT_METHODS if callable(getattr(self.model, name, None))), None
        )
        blocking = []
        for p in inspector.get_parameters():
            if not p.required or p.role in ("token_input", "attention_mask"):
                continue
            if p.name in STATE_PARAM_NAMES and init is not None:
                self._state_init[p.name] = init
            else:
                blocking.append(p.name)
        if blocking:
            state = [name for name in blocking if name in STATE_PARAM_NAMES]
            state_fix = (
                f" (for a recurrent state: give {state[0]} a default of None or define "
                f"init_hidden(self, batch_size) returning the initial state)"
                if state
                else ""
            )
            raise ModelLoadError(
                f"{type(self.model).__name__}.forward needs {', '.join(blocking)} besides the token ids; give them "
                f"defaults (the adapter passes only input_ids and attention_mask){state_fix}"
            )

    def settle_layout(self) -> bool:
        """Run the sequence-first probe now if it has not run yet; returns `sequence_first`.

        The first call does this by itself; callers that watch the model's calls (Tier 1 and
        Tier 2 probes install hooks) settle it first so the probe's passes are not measured.
        """
        if self._sequence_first is None:
            self._resolve_layout()
        return bool(self._sequence_first)

    def _resolve_layout(self) -> None:
        """Settle `sequence_first` by the probe, remembered on the model so it is said once."""
        if is_tracing():
            # A probe cannot run inside a trace (the tracer records or fakes its tensors); the
            # layers that make sequence-first plausible were probed at construction already.
            logger.debug(
                "%s traced before its layout was probed: read batch-first",
                type(self.model).__name__,
            )
            self._sequence_first = False
            return
        self._sequence_first = self._detect_sequence_first()
        self.model.__dict__[_LAYOUT_FLAG] = self._sequence_first

    def _detect_sequence_first(self) -> bool:
        """Whether the model reads `[T, B]`: its batch items are independent only when transposed.

        Probed once on a tiny input in eval mode without gradients. A model that is independent
        as `[B, T]` (or fails both ways) stays batch-first; the batch_independence check of
        Tier 1 reports what remains.
        """
        batch, length = _LAYOUT_PROBE
        if self.config.max_seq_len is not None:
            length = min(length, self.config.max_seq_len)
        if length < 2:
            return False
        generator = torch.Generator().manual_seed(0)
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        base = torch.randint(0, self.config.vocab_size, (batch, length), generator=generator)
        changed = base.clone()
        changed[0] = (
            base[0] + torch.randint(1, self.config.vocab_size, (length,), generator=generator)
        ) % self.config.vocab_size
        base, changed = base.to(device), changed.to(device)
        was_training, pass_targets = self.model.training, self._pass_targets
        self.model.eval()
        try:
            with torch.no_grad():
                if self._batch_items_independent(base, changed, sequence_first=False):
                    return False
                if self._batch_items_independent(base, changed, sequence_first=True):
                    logger.warning(
                        "%s reads its input sequence-first ([seq, batch], batch_first=False): its batch items "
                        "depend on each other when fed [batch, seq] and not when fed the transpose; the adapter "
                        "transposes inputs and outputs (pass sequence_first=False to turn this off)",
                        type(self.model).__name__,
                    )
                    return True
                return False
        finally:
            self.model.train(was_training)
            self._sequence_first = None
            self._pass_targets = pass_targets

    def _batch_items_independent(
        self, base: torch.Tensor, changed: torch.Tensor, *, sequence_first: bool
    ) -> bool | None:
        """True/False for the layout `sequence_first`; None when the model fails in that layout."""
        self._sequence_first = sequence_first
        self._pass_targets = False
        try:
            before = self._run_forward(base, None)
            after = self._run_forward(changed, None)
        except Exception as exc:  # a wrong layout often fails (state sizes): that is the answer
            logger.debug(
                "layout probe (sequence_first=%s) failed: %s: %s",
                sequence_first,
                type(exc).__name__,
                exc,
            )
            return None
        if before.shape != after.shape or before.dim() != 3 or before.shape[:2] != base.shape:
            return None
        scale = max(1.0, float(before.abs().max()))
        return bool((after[1:] - before[1:]).abs().max() <= 1e-4 * scale)

    # --- running ------------------------------------------------------------------------------
    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits `[B, T, vocab_size]` for token ids `[B, T]`; `attention_mask` is 1 on real tokens."""
        if input_ids.dim() != 2:
            raise ModelValidationError(
                f"input_ids must be [batch, seq], got shape {tuple(input_ids.shape)}; add a batch dimension"
            )
        batch, length = input_ids.shape
        if self.config.max_seq_len is not None and length > self.config.max_seq_len:
            raise ModelValidationError(
                f"sequence length {length} exceeds the model's max_seq_len {self.config.max_seq_len}; "
                f"truncate or split inputs to at most {self.config.max_seq_len} tokens"
            )
        if attention_mask is not None and tuple(attention_mask.shape) != (batch, length):
            raise ModelValidationError(
                f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has {(batch, length)}; "
                "give one 0/1 entry per token"
            )
        self.settle_layout()
        try:
            if self.executor is not None:
                logits = self.executor.run(input_ids, attention_mask)
            else:
                logits = self._run_forward(input_ids, attention_mask)
        except (IndexError, RuntimeError) as exc:
            # Checked only after a failure, so the hot path costs no device sync: an id the
            # embedding cannot look up surfaces as a bare IndexError from deep inside the model.
            bad = self._out_of_range_ids(input_ids)
            if bad is not None:
                raise ModelValidationError(
                    f"token id {bad} is outside the model's vocabulary (vocab_size {self.config.vocab_size}, "
                    f"ids 0..{self.config.vocab_size - 1}); use a tokenizer with at most "
                    f"{self.config.vocab_size} tokens, or a model with a larger vocab_size"
                ) from exc
            raise
        if logits.dim() != 3 or logits.shape[0] != batch or logits.shape[1] != length:
            raise ModelValidationError(
                f"the model returned logits of shape {tuple(logits.shape)} for input {(batch, length)}; "
                "it must return [batch, seq, vocab_size] for every position"
            )
        if logits.shape[-1] != self.config.vocab_size:
            raise ModelValidationError(
                f"the model returned {logits.shape[-1]} logits per position but vocab_size is "
                f"{self.config.vocab_size}; fix the output layer or config.json's vocab_size"
            )
        return logits

    def _out_of_range_ids(self, input_ids: torch.Tensor) -> int | None:
        """The first token id outside 0..vocab_size-1, or None (also when it cannot be told)."""
        vocab = self.config.vocab_size
        if not vocab or input_ids.numel() == 0:
            return None
        try:
            ids = input_ids.detach().to("cpu")
            outside = ids[(ids < 0) | (ids >= vocab)]
        except RuntimeError:  # e.g. a CUDA context already broken by the failed lookup
            return None
        return int(outside[0]) if outside.numel() else None

    def _call_model(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        inspector = self.inspector
        kwargs: dict[str, Any] = {}
        mask_name = inspector.attention_mask_name
        if mask_name is not None:
            if attention_mask is None and any(
                p.name == mask_name and p.required for p in inspector.get_parameters()
            ):
                attention_mask = torch.ones_like(input_ids)
            if attention_mask is not None:
                kwargs[mask_name] = (
                    attention_mask == 0 if inspector.attention_mask_inverted else attention_mask
                )
        batch, length = input_ids.shape
        ids = input_ids.t() if self._sequence_first else input_ids
        if self._pass_targets:
            kwargs["targets"] = ids.contiguous()  # models call targets.view(-1)
        for name, init in self._state_init.items():
            kwargs[name] = getattr(self.model, init)(batch)
        if inspector.token_input_positional or inspector.token_input is None:
            args: tuple[torch.Tensor, ...] = (ids,)
        else:
            args, kwargs = (), {inspector.token_input: ids, **kwargs}
        if self._pass_targets:
            output = self._logits_shortcut.call(self.model, lambda: self.model(*args, **kwargs))
        else:
            output = self.model(*args, **kwargs)
        return self._batch_first(extract_logits(output), batch, length)

    def _batch_first(self, logits: torch.Tensor, batch: int, length: int) -> torch.Tensor:
        """Logits as `[B, T, V]`: unflatten `[B*T, V]` outputs and transpose sequence-first ones."""
        first, second = (length, batch) if self._sequence_first else (batch, length)
        if logits.dim() == 2 and logits.shape[0] == batch * length:
            logits = logits.reshape(first, second, logits.shape[-1])
        if self._sequence_first and logits.dim() == 3 and logits.shape[:2] == (length, batch):
            logits = logits.transpose(0, 1)
        return logits

    def _run_forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        padding_via_hooks = attention_mask if self.inspector.attention_mask_name is None else None
        token = None
        if self._attention_modules and (self._causal or padding_via_hooks is not None):
            token = _ACTIVE_REQUEST.set(_MaskRequest(self._causal, padding_via_hooks))
        try:
            logits = self._call_model(input_ids, attention_mask)
            if (
                not self._pass_targets
                and logits.dim() == 3
                and logits.shape[1] == 1
                and input_ids.shape[1] > 1
                and self.inspector.accepts("targets")
            ):
                logger.info(
                    "%s returned logits for the last position only; passing targets=input_ids from now on "
                    "so it returns every position (nanoGPT-style forward)",
                    type(self.model).__name__,
                )
                self._pass_targets = True
                logits = self._call_model(input_ids, attention_mask)
        finally:
            if token is not None:
                _ACTIVE_REQUEST.reset(token)
        return logits

    def describe(self) -> str:
        """What the adapter does with this model: strategy, signature analysis, graph and repairs."""
        lines = [
            f"model: {type(self.model).__name__} ({self.config.vocab_size} vocab, max_seq_len {self.config.max_seq_len})",
            f"strategy: {self.strategy}",
            f"signature: {self.inspector.describe()}",
        ]
        if self.executor is not None:
            lines.append(self.executor.describe())
        elif self._causal and self._attention_modules:
            lines.append(
                f"repair: causal mask injected into {self._attention_modules} unmasked nn.MultiheadAttention call(s)"
            )
        if self.sequence_first:
            lines.append(
                "layout: sequence-first ([seq, batch]); inputs and outputs transposed by the adapter"
            )
        for name, init in self._state_init.items():
            lines.append(
                f"state: {name} = model.{init}(batch) on every call; the returned state is discarded"
            )
        return "\n".join(lines)

    def extra_repr(self) -> str:
        layout = ", sequence_first=True" if self._sequence_first else ""
        return f"strategy={self.strategy!r}, causal={self._causal}, vocab_size={self.config.vocab_size}{layout}"
