"""GGUF files are converted to safetensors once, even when several workers ask at the same time."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from llmcore.engine import gguf
from llmcore.engine.types import BackendKind, ModelSpec, ModelUnavailable


def fake_gguf(folder: Path, content: bytes = b"GGUF" + b"\x01" * 5000) -> Path:
    path = folder / "tiny.Q4.gguf"
    path.write_bytes(content)
    return path


def slow_convert(path: Path, folder: Path) -> None:
    """Writes the files one by one, slowly, and records that a conversion ran."""
    with (path.parent / "conversions.log").open("a") as log:
        log.write(f"{folder.name}\n")
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        time.sleep(0.1)
        (folder / name).write_text(name)


def conversions(path: Path) -> int:
    log = path.parent / "conversions.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_two_threads_asking_at_once_convert_once_and_see_a_complete_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(gguf, "convert", slow_convert)
    path = fake_gguf(tmp_path)
    seen: list[Path] = []

    def worker():
        folder = gguf.converted_folder(path, tmp_path / "cache")
        assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json"}
        seen.append(folder)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 3 and len(set(seen)) == 1
    assert conversions(path) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == [seen[0].name]


def _convert_in_process(path: str, cache: str, results) -> None:
    gguf.convert = slow_convert
    results.put(str(gguf.converted_folder(Path(path), Path(cache))))


def test_two_processes_asking_at_once_convert_once(tmp_path):
    path = fake_gguf(tmp_path)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=_convert_in_process, args=(str(path), str(tmp_path / "cache"), results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0]
    assert results.get(timeout=5) == results.get(timeout=5)
    assert conversions(path) == 1


def test_a_failed_conversion_leaves_nothing_behind_and_is_retried(tmp_path, monkeypatch):
    path = fake_gguf(tmp_path)

    def broken(path, folder):
        (folder / "config.json").write_text("{}")
        raise ModelUnavailable("cannot read the GGUF file")

    monkeypatch.setattr(gguf, "convert", broken)
    with pytest.raises(ModelUnavailable):
        gguf.converted_folder(path, tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []
    monkeypatch.setattr(gguf, "convert", slow_convert)
    assert (gguf.converted_folder(path, tmp_path / "cache") / gguf.MARKER).is_file()


def test_a_converted_file_is_found_again_without_converting(tmp_path, monkeypatch):
    monkeypatch.setattr(gguf, "convert", slow_convert)
    path = fake_gguf(tmp_path)
    first = gguf.converted_folder(path, tmp_path / "cache")
    assert gguf.converted_folder(path, tmp_path / "cache") == first
    assert conversions(path) == 1


def test_the_key_follows_the_content_not_the_location(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    same = gguf.conversion_key(fake_gguf(tmp_path / "a")), gguf.conversion_key(fake_gguf(tmp_path / "b"))
    assert same[0] == same[1]
    changed = gguf.conversion_key(fake_gguf(tmp_path / "a", b"GGUF" + b"\x02" * 5000))
    assert changed != same[0]


def test_a_missing_or_wrong_file_is_reported_clearly(tmp_path):
    spec = ModelSpec(name="m", backend=BackendKind.GGUF, source=str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelUnavailable, match="GGUF file not found: .*nope.gguf"):
        gguf.gguf_path(spec)
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(ModelUnavailable, match="not a .gguf file"):
        gguf.gguf_path(ModelSpec(name="m", backend=BackendKind.GGUF, source=str(tmp_path / "model.bin")))
