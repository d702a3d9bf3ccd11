"""A batched prefill/decode kernel for llama-architecture models (SmolLM2, Llama, TinyLlama...).

Why it exists: `generate()` spends most of its time outside the matrix multiplications on CPU, and it
cannot share a common prompt prefix or refill a finished row. This kernel keeps the same maths as
transformers' LlamaForCausalLM but
- fuses q/k/v and gate/up into one matmul each (fewer, larger GEMMs),
- keeps the residual stream, norms and rotary embedding in float32 even when the weights are bfloat16
  (bf16 only where oneDNN's AVX-512 BF16 GEMMs pay off), which keeps greedy outputs close to float32,
- stores every sequence left-aligned in its own cache row ("slot") with its own length: positions are
  exactly those of an unbatched run, there is no padding inside the cache, and a finished slot can be
  refilled with a new prompt while the others keep decoding,
- prefills a prompt prefix shared by all rows (system prompt, few-shot examples) once.

Only what the engine needs: no training, no dropout, no rope scaling variants (those models fall back to
`generate()`; see `unsupported_reason`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def unsupported_reason(model) -> str | None:
    """None when this kernel computes exactly what the model's own forward computes."""
    config = model.config
    if getattr(config, "model_type", "") != "llama":
        return f"model type {getattr(config, 'model_type', '?')!r} is not llama"
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        return f"rope type {rope.get('rope_type')!r} is not supported"
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        return "biases in attention or MLP are not supported"
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"activation {config.hidden_act!r} is not supported"
    if getattr(config, "pretraining_tp", 1) != 1:
        return "pretraining_tp > 1 is not supported"
    if getattr(model, "is_quantized", False) or getattr(model, "hf_quantizer", None) is not None:
        return "quantized weights are not supported"
    return None


@dataclass
class Step:
    """What one forward pass yields for each row: logits in the weights' dtype, and the final normed
    hidden state in float32 (to re-score candidates exactly)."""

    logits: torch.Tensor  # [rows, V]
    hidden: torch.Tensor  # [rows, H] float32

    def rows(self, index: torch.Tensor | None) -> Step:
        return self if index is None else Step(self.logits[index], self.hidden[index])


@dataclass
class _Layer:
    ln1: torch.Tensor  # float32 [H]
    qkv: torch.Tensor  # [(Hq + 2 Hkv) * D, H], possibly pre-packed for oneDNN
    o: torch.Tensor  # [H, Hq * D]
    ln2: torch.Tensor
    gate_up: torch.Tensor  # [2 I, H]
    down: torch.Tensor  # [H, I]


@dataclass
class Prefix:
    """Keys and values of a prompt prefix shared by every sequence of a call, stored once."""

    length: int
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: [1, Hkv, P, D] each


class SlotCache:
    """Key/value cache with one row per sequence.

    Row r holds the `lengths[r]` tokens of its sequence that follow the shared prefix (if any); the
    prefix itself is stored once and attended to by every row.
    """

    def __init__(
        self,
        n_layers: int,
        rows: int,
        n_kv: int,
        max_len: int,
        head_dim: int,
        dtype: torch.dtype,
        prefix: Prefix | None = None,
    ):
        shape = (rows, n_kv, max_len, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.lengths = torch.zeros(rows, dtype=torch.long)
        self.active = torch.zeros(rows, dtype=torch.bool)
        self.max_len = max_len
        self.prefix = prefix

    @property
    def rows(self) -> int:
        return self.lengths.shape[0]

    @property
    def prefix_len(self) -> int:
        return self.prefix.length if self.prefix else 0

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.k + self.v)

    def keep(self, rows: torch.Tensor) -> None:
        """Drops every row not listed (copies the cache once; used when many rows have finished)."""
        self.k = [t.index_select(0, rows) for t in self.k]
        self.v = [t.index_select(0, rows) for t in self.v]
        self.lengths = self.lengths.index_select(0, rows)
        self.active = self.active.index_select(0, rows)

    def free(self, row: int) -> None:
        self.lengths[row] = 0
        self.active[row] = False

    @staticmethod
    def bytes_per_row(model_config, max_len: int, dtype: torch.dtype = torch.float32) -> int:
        n_kv = model_config.num_key_value_heads
        head_dim = getattr(model_config, "head_dim", None) or (
            model_config.hidden_size // model_config.num_attention_heads
        )
        itemsize = torch.empty(0, dtype=dtype).element_size()
        return 2 * model_config.num_hidden_layers * n_kv * max_len * head_dim * itemsize


class LlamaKernel:
    def __init__(self, model, dtype: torch.dtype):
        config = model.config
        self.config = config
        self.dtype = dtype
        self.n_layers = config.num_hidden_layers
        self.hidden = config.hidden_size
        self.n_heads = config.num_attention_heads
        self.n_kv = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.group = self.n_heads // self.n_kv
        self.eps = config.rms_norm_eps
        self.scale = self.head_dim**-0.5
        self.vocab_size = config.vocab_size
        self.max_positions = config.max_position_embeddings

        def w(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(dtype).contiguous()

        def f32(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(torch.float32).contiguous()

        base = model.model
        self.embed = w(base.embed_tokens.weight)
        lm_head = model.lm_head.weight
        self.lm_head = self.embed if lm_head.data_ptr() == base.embed_tokens.weight.data_ptr() else w(lm_head)
        self.norm = f32(base.norm.weight)
        # bf16 weights are re-laid out once for oneDNN's AVX-512 BF16 kernels ("prepacked"), which
        # otherwise repack every weight on every call; float32 stays plain (MKL sgemm).
        self.packed = dtype == torch.bfloat16 and _can_prepack()
        pack = _prepack if self.packed else (lambda t: t)
        self.lm_head_packed = pack(self.lm_head)
        self.layers: list[_Layer] = []
        for layer in base.layers:
            attn, mlp = layer.self_attn, layer.mlp
            self.layers.append(
                _Layer(
                    ln1=f32(layer.input_layernorm.weight),
                    qkv=pack(w(torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]))),
                    o=pack(w(attn.o_proj.weight)),
                    ln2=f32(layer.post_attention_layernorm.weight),
                    gate_up=pack(w(torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]))),
                    down=pack(w(mlp.down_proj.weight)),
                )
            )
        theta = config.rope_parameters["rope_theta"]
        inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float) / self.head_dim))
        positions = torch.arange(self.max_positions, dtype=torch.float)
        freqs = positions[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos = emb.cos()  # float32 [max_positions, D]
        half = self.head_dim // 2
        self.sin = torch.cat([-emb.sin()[:, :half], emb.sin()[:, half:]], dim=-1)  # signed for _rope

    def nbytes(self) -> int:
        tensors = [self.embed, self.norm, self.cos, self.sin]
        if self.lm_head is not self.embed:
            tensors.append(self.lm_head)
        total = sum(t.numel() * t.element_size() for t in tensors)
        # Pre-packed weights are opaque oneDNN tensors: count them by their logical size.
        itemsize = torch.empty(0, dtype=self.dtype).element_size()
        logical = [self.lm_head_packed] if self.packed else []
        for layer in self.layers:
            total += (layer.ln1.numel() + layer.ln2.numel()) * 4
            logical += [layer.qkv, layer.o, layer.gate_up, layer.down]
        return total + sum(t.numel() for t in logical) * itemsize

    def new_cache(self, rows: int, max_len: int, prefix: Prefix | None = None) -> SlotCache:
        """max_len counts the tokens after the shared prefix."""
        return SlotCache(self.n_layers, rows, self.n_kv, max_len, self.head_dim, torch.float32, prefix)

    # -- building blocks ----------------------------------------------------------------------------

    def _linear(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self.packed:
            return torch.ops.mkldnn._linear_pointwise(x, weight, None, "none", [], "")
        return F.linear(x, weight)

    def _rms(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (self.hidden,), weight, self.eps).to(self.dtype)

    def _rope(self, x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
        # x * cos + rotate_half(x) * sin, with rotate_half(x) * sin == roll(x, D/2) * [-sin, sin].
        return torch.addcmul(x * cos, x.roll(self.head_dim // 2, dims=-1), signed_sin)

    def _mlp_into(self, x: torch.Tensor, layer: _Layer) -> None:
        """x += MLP(norm(x)), in place."""
        gate, up = self._linear(self._rms(x, layer.ln2), layer.gate_up).chunk(2, dim=-1)
        x.add_(self._linear(F.silu(gate).mul_(up), layer.down))

    def _logits(self, x: torch.Tensor) -> Step:
        variance = x.pow(2).mean(-1, keepdim=True)
        hidden = self.norm * (x * torch.rsqrt(variance + self.eps))
        return Step(self._linear(hidden.to(self.dtype), self.lm_head_packed), hidden)

    def greedy(self, step: Step, candidates: int = 8) -> torch.Tensor:
        """Argmax of the logits, with the best candidates re-scored in float32 when the weights are not.

        bf16 logits are coarse (steps of 0.06-0.125 at typical magnitudes), so two close tokens can
        swap; re-scoring the top few from the float32 hidden state picks the one float32 would.
        """
        if self.dtype == torch.float32:
            return step.logits.argmax(dim=-1)
        top = step.logits.topk(candidates, dim=-1).indices  # [rows, k]
        weights = self.lm_head[top].float()  # [rows, k, H]
        exact = torch.bmm(weights, step.hidden.unsqueeze(-1)).squeeze(-1)
        return top.gather(1, exact.argmax(dim=-1, keepdim=True)).squeeze(1)

    # -- prefill --------------------------------------------------------------------------------------

    @torch.inference_mode()
    def prefix(self, tokens: list[int]) -> Prefix:
        """Prefills a prompt prefix shared by many sequences, once."""
        ids = torch.tensor([tokens], dtype=torch.long)
        kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._prefill(ids, start=0, prefix=None, sink=kv)
        return Prefix(len(tokens), kv)

    @torch.inference_mode()
    def prefill(self, cache: SlotCache, slots: torch.Tensor, suffixes: list[list[int]]) -> Step:
        """Writes each new sequence's tokens after the shared prefix into its slot; returns the next-token
        step for each.

        Suffixes are right-padded: with a causal mask a real token never attends to the padding after
        it, so the result is exact; the padded tail of the cache row is masked out by `lengths`.
        """
        n = len(suffixes)
        width = max(len(s) for s in suffixes)
        ids = torch.zeros((n, width), dtype=torch.long)
        for row, suffix in enumerate(suffixes):
            ids[row, : len(suffix)] = torch.tensor(suffix, dtype=torch.long)
        lengths = torch.tensor([len(s) for s in suffixes], dtype=torch.long)
        hidden = self._prefill(ids, cache.prefix_len, cache.prefix, sink=(cache, slots))
        cache.lengths[slots] = lengths
        cache.active[slots] = True
        return self._logits(hidden[torch.arange(n), lengths - 1])

    def _prefill(self, ids: torch.Tensor, start: int, prefix: Prefix | None, sink) -> torch.Tensor:
        n, width = ids.shape
        x = F.embedding(ids, self.embed).float()
        cos = self.cos[start : start + width]
        sin = self.sin[start : start + width]
        # Causal within the new tokens, everything visible in the shared prefix.
        causal = torch.ones((width, width), dtype=torch.bool).tril()
        mask = torch.cat([torch.ones((width, start), dtype=torch.bool), causal], dim=1) if start else causal
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv * self.head_dim
        heads = self.n_heads + self.n_kv
        for index, layer in enumerate(self.layers):
            qkv = self._linear(self._rms(x, layer.ln1), layer.qkv)
            qk = qkv[..., : q_size + kv_size].float().view(n, width, heads, self.head_dim).transpose(1, 2)
            qk = self._rope(qk, cos, sin)
            q, k = qk[:, : self.n_heads], qk[:, self.n_heads :]
            v = qkv[..., q_size + kv_size :].float().view(n, width, self.n_kv, self.head_dim).transpose(1, 2)
            if isinstance(sink, list):
                sink.append((k.contiguous(), v.contiguous()))
            else:
                cache, slots = sink
                cache.k[index][slots, :, :width] = k
                cache.v[index][slots, :, :width] = v
            if prefix:
                pk, pv = prefix.kv[index]
                k = torch.cat([pk.expand(n, -1, -1, -1), k], dim=2)
                v = torch.cat([pv.expand(n, -1, -1, -1), v], dim=2)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale, enable_gqa=True)
            x.add_(self._linear(out.transpose(1, 2).reshape(n, width, q_size).to(self.dtype), layer.o))
            self._mlp_into(x, layer)
        return x

    # -- decode ---------------------------------------------------------------------------------------

    @torch.inference_mode()
    def decode(self, cache: SlotCache, tokens: torch.Tensor) -> Step:
        """Appends one token to every row of the cache; returns the next-token step for every row.

        Free rows (length 0) compute a throwaway token and stay free; the caller ignores them.
        """
        rows = cache.rows
        own = cache.lengths
        span = int(own.max()) + 1
        positions = own + cache.prefix_len
        x = F.embedding(tokens, self.embed).float()
        cos = self.cos[positions][:, None, :]  # [B, 1, D]
        sin = self.sin[positions][:, None, :]
        row_index = torch.arange(rows)
        # A row sees its own tokens and the one being added: [B, 1, 1, span], additive.
        hidden_tail = torch.arange(span)[None, :] > own[:, None]
        mask = torch.zeros((rows, 1, 1, span), dtype=torch.float32).masked_fill(
            hidden_tail[:, None, None, :], float("-inf")
        )
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv * self.head_dim
        heads = self.n_heads + self.n_kv
        for index, layer in enumerate(self.layers):
            qkv = self._linear(self._rms(x, layer.ln1), layer.qkv)
            qk = self._rope(qkv[:, : q_size + kv_size].float().view(rows, heads, self.head_dim), cos, sin)
            # Queries grouped by their key/value head: [B, Hkv, group, D] (no repeat of the cache).
            q = qk[:, : self.n_heads].view(rows, self.n_kv, self.group, self.head_dim)
            k_cache, v_cache = cache.k[index], cache.v[index]
            k_cache[row_index, :, own] = qk[:, self.n_heads :]
            v_cache[row_index, :, own] = (
                qkv[:, q_size + kv_size :].view(rows, self.n_kv, self.head_dim).float()
            )
            out = self._attend(q, k_cache[:, :, :span], v_cache[:, :, :span], mask, cache.prefix, index)
            x.add_(self._linear(out.reshape(rows, q_size).to(self.dtype), layer.o))
            self._mlp_into(x, layer)
        cache.lengths = own + cache.active
        return self._logits(x)

    def _attend(self, q, k, v, mask, prefix: Prefix | None, index: int) -> torch.Tensor:
        """Attention of each row's grouped queries [B, Hkv, G, D] over the shared prefix and its own
        tokens, in float32 (the cache is float32: at these sizes float32 batched GEMMs beat bf16 ones).

        The prefix part is one GEMM per key/value head over every row's queries at once; its scores
        join the row's own scores in one softmax (cascade attention).
        """
        rows, n_kv, group, dim = q.shape
        scores = torch.matmul(q, k.transpose(-1, -2)).mul_(self.scale).add_(mask)  # [B, Hkv, G, span]
        if not prefix:
            return torch.matmul(scores.softmax(dim=-1), v)
        pk, pv = prefix.kv[index]  # [1, Hkv, P, D]
        stacked = q.permute(1, 0, 2, 3).reshape(n_kv, rows * group, dim)
        shared = torch.matmul(stacked, pk[0].transpose(-1, -2)).mul_(self.scale)  # [Hkv, B*G, P]
        length = shared.shape[-1]
        shared = shared.view(n_kv, rows, group, length).permute(1, 0, 2, 3)
        probs = torch.cat([shared, scores], dim=-1).softmax(dim=-1)
        shared_probs = probs[..., :length].permute(1, 0, 2, 3).reshape(n_kv, rows * group, length)
        out = torch.matmul(probs[..., length:], v)
        shared_out = torch.matmul(shared_probs, pv[0]).view(n_kv, rows, group, dim).permute(1, 0, 2, 3)
        return out.add_(shared_out)


def _can_prepack() -> bool:
    """oneDNN's packed bf16 linear needs native bf16 support (AVX-512 BF16/AMX, or AVX-NE-CONVERT);
    elsewhere (e.g. AVX2-only CPUs) bf16 weights stay plain tensors and matmuls take PyTorch's path."""
    try:
        torch.ops.mkldnn._reorder_linear_weight  # noqa: B018
        torch.ops.mkldnn._linear_pointwise  # noqa: B018
        supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
    return supported and torch.backends.mkldnn.is_available()


def _prepack(weight: torch.Tensor, rows_hint: int = 128) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight, rows_hint)
