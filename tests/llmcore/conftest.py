"""Engine fixtures: tiny random causal LMs with a real tokenizer and chat template, built offline in
well under a second and saved once per session; and the real default model, converted once.

The real model's GGUF -> safetensors conversion takes ~16 s, so `real_model_dir` keeps it under
var/test-models (reused by later runs) unless ASSAY_TEST_MODELS_DIR points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Summarise the ticket in one sentence and name the product.",
    "Customers ask about refunds, invoices, delivery dates and passwords.",
    "A model writes answers; a person reviews them before they are sent.",
    "Hello world! Numbers 0 1 2 3 4 5 6 7 8 9 and symbols: , . ; ? ( ) - ' \"",
] * 4
REPO = Path(__file__).resolve().parents[2]


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def build_tiny_model(folder: Path, *, kind: str = "llama", seed: int = 0) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer()
    ids = {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    torch.manual_seed(seed)
    if kind == "llama":
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            tie_word_embeddings=True,
            initializer_range=0.3,  # peaked logits: greedy choices are never near-ties
            bos_token_id=tokenizer.bos_token_id,
            **ids,
        )
        model = LlamaForCausalLM(config)
    else:
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_embd=64,
            n_layer=2,
            n_head=4,
            n_positions=256,
            initializer_range=0.3,
            bos_token_id=tokenizer.bos_token_id,
            **ids,
        )
        model = GPT2LMHeadModel(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer llama (decodes with the engine's own loop on CPU)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory) -> Path:
    """A 2-layer GPT-2 (not llama: decodes with transformers' generate())."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"), kind="gpt2")


@pytest.fixture
def engine_runtime():
    """The runtime with an empty model cache before and after the test."""
    from llmcore.engine import runtime

    runtime.unload_all()
    yield runtime
    runtime.unload_all()


@pytest.fixture(scope="session")
def real_model_dir() -> Path:
    """The default model converted to safetensors once (kept under var/test-models between runs)."""
    from llmcore.engine.defaults import DEFAULT_GENERATOR
    from llmcore.engine.gguf import converted_folder, gguf_path
    from llmcore.engine.types import ModelUnavailable

    try:
        path = gguf_path(DEFAULT_GENERATOR)
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    cache = Path(os.environ.get("ASSAY_TEST_MODELS_DIR", REPO / "var" / "test-models"))
    return converted_folder(path, cache_dir=cache)
