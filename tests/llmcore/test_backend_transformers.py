"""Loading local models: where files are looked for, dtype and device choices, and the GPU path
(tested without a GPU by checking what would be passed to transformers)."""

from __future__ import annotations

import pytest
import torch

from llmcore.engine import local
from llmcore.engine.types import BackendKind, GenerationRequest, ModelSpec, ModelUnavailable


def spec(**changes) -> ModelSpec:
    values = {"name": "m", "backend": BackendKind.TRANSFORMERS, "source": "org/model", **changes}
    return ModelSpec(**values)


def test_cuda_load_kwargs_place_the_model_on_the_gpu_in_half_precision():
    kwargs = local.build_load_kwargs(spec(device="cuda", dtype="float16", revision="abc123"))
    assert kwargs == {
        "local_files_only": True,
        "dtype": torch.float16,
        "device_map": "cuda",
        "revision": "abc123",
    }


def test_8bit_cuda_load_kwargs_carry_a_bitsandbytes_config():
    kwargs = local.build_load_kwargs(spec(device="cuda", load_in_8bit=True))
    assert kwargs["device_map"] == "cuda" and kwargs["dtype"] == torch.float16
    assert kwargs["quantization_config"].load_in_8bit is True


def test_cpu_load_kwargs_never_download():
    kwargs = local.build_load_kwargs(spec(dtype="float32"))
    assert kwargs == {"local_files_only": True, "dtype": torch.float32}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown on machines without a GPU")
def test_cuda_requested_without_a_gpu_says_so():
    with pytest.raises(
        ModelUnavailable, match=r"set to run on cuda but this worker sees no CUDA GPU.*queue gpu"
    ):
        local.check_device(spec(device="cuda"))


def test_8bit_loading_on_cpu_is_refused_with_the_reason():
    with pytest.raises(local.InvalidModelSpec, match="8-bit loading needs a CUDA GPU"):
        local.check_device(spec(load_in_8bit=True))


def test_dtype_auto_picks_bfloat16_only_where_the_cpu_multiplies_it_natively(monkeypatch):
    monkeypatch.setattr(local, "_cpu_has_fast_bf16", lambda: True)
    assert local.resolve_dtype(spec()) == torch.bfloat16
    monkeypatch.setattr(local, "_cpu_has_fast_bf16", lambda: False)
    assert local.resolve_dtype(spec()) == torch.float32
    assert local.resolve_dtype(spec(dtype="float16")) == torch.float16
    with pytest.raises(local.InvalidModelSpec, match="dtype must be one of"):
        local.resolve_dtype(spec(dtype="int3"))


def test_a_missing_local_folder_is_named(tmp_path):
    with pytest.raises(ModelUnavailable, match=f"model files not found: {tmp_path}/absent does not exist"):
        local.locate(spec(source=str(tmp_path / "absent")))


def test_a_hub_id_missing_from_the_local_cache_is_not_downloaded(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    location = local.locate(spec(source="assay-tests/not-a-cached-model"))
    with pytest.raises(ModelUnavailable) as caught:
        local.load_pretrained(location, spec(source=location, dtype="float32"))
    message = str(caught.value)
    assert "not in this worker's local Hugging Face cache" in message and "never download" in message


def test_a_local_folder_loads_in_the_requested_dtype(tiny_model_dir):
    loaded = local.load_pretrained(str(tiny_model_dir), spec(source=str(tiny_model_dir), dtype="bfloat16"))
    assert loaded.kernel.dtype == torch.bfloat16 and loaded.nbytes > 0
    assert loaded.eos_ids == {loaded.tokenizer.eos_token_id}


def test_bfloat16_logits_stay_close_to_float32(tiny_model_dir):
    import torch

    logits = {}
    for dtype in ("float32", "bfloat16"):
        s = spec(source=str(tiny_model_dir), dtype=dtype)
        loaded = local.load_pretrained(str(tiny_model_dir), s)
        ids = local.TransformersBackend(s, loaded).render(GenerationRequest.from_prompt("Hello"))
        cache = loaded.kernel.new_cache(1, len(ids) + 1)
        logits[dtype] = loaded.kernel.prefill(cache, torch.tensor([0]), [ids]).logits.float()
    spread = logits["float32"].max() - logits["float32"].min()
    assert (logits["bfloat16"] - logits["float32"]).abs().max() < 0.02 * spread


def test_greedy_rescoring_breaks_bf16_ties_with_float32_scores(tiny_model_dir):
    import torch

    from llmcore.engine.llama_kernel import Step

    s = spec(source=str(tiny_model_dir), dtype="bfloat16")
    kernel = local.load_pretrained(str(tiny_model_dir), s).kernel
    hidden = torch.randn(1, kernel.hidden)
    exact = hidden @ kernel.lm_head.float().T
    best = int(exact.argmax())
    runner_up = int(exact.topk(2).indices[0, 1])
    coarse = exact.to(torch.bfloat16)
    coarse[0, runner_up] = coarse[0, best] + 0.5  # the coarse logits now favour the wrong token
    assert int(kernel.greedy(Step(coarse, hidden))) == best
