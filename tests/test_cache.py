"""The artifact cache: hit, miss, corruption detected and rebuilt, unsafe checkpoints refused."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from bench.cache import ArtifactCache
from bench.checkpoints import read_state_dict
from bench.errors import UnsafeCheckpointError
from bench.hashing import content_key


def test_content_key_ignores_order_and_keeps_precision() -> None:
    assert content_key({"a": 1, "b": [1.0, 2]}) == content_key({"b": [1.0, 2], "a": 1})
    assert content_key({"eps": 0.1}) != content_key({"eps": 0.1000001})
    assert content_key({"seed": 0}) != content_key({"seed": 1})


def test_save_then_hit_and_miss(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    assert cache.load("things", "k1") is None
    cache.save("things", "k1", {"w": torch.arange(6.0).view(2, 3)}, {"note": "hello"})
    art = cache.load("things", "k1")
    assert art is not None and torch.equal(art.tensors["w"], torch.arange(6.0).view(2, 3))
    assert art.metadata == {"note": "hello"}
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary files left behind


def test_default_root_comes_from_environment(isolated_cache: Path) -> None:
    assert ArtifactCache().root == isolated_cache


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_data", "bad_manifest"])
def test_corrupted_artifact_is_detected_removed_and_reported_missing(tmp_path: Path, damage: str) -> None:
    cache = ArtifactCache(tmp_path)
    data_path = cache.save("things", "k", {"w": torch.randn(64)}, {})
    manifest = data_path.with_suffix(".json")
    if damage == "truncate":
        data_path.write_bytes(data_path.read_bytes()[:-10])
    elif damage == "flip":
        raw = bytearray(data_path.read_bytes())
        raw[-1] ^= 0xFF
        data_path.write_bytes(bytes(raw))
    elif damage == "delete_data":
        data_path.unlink()
    else:
        manifest.write_text("{not json")
    assert cache.load("things", "k") is None
    assert not data_path.exists() and not manifest.exists()


class _Exploit:
    def __reduce__(self):  # runs a command when unpickled
        return (print, ("code ran",))


def test_checkpoint_that_runs_code_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        pickle.dump({"w": _Exploit()}, f)
    with pytest.raises(UnsafeCheckpointError, match="would run code"):
        read_state_dict(path)
    assert "code ran" not in capsys.readouterr().out


def test_plain_and_nested_and_safetensors_checkpoints_load(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    state = {"layer.weight": torch.randn(3, 2)}
    torch.save(state, tmp_path / "plain.pt")
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, tmp_path / "nested.pt")
    save_file(state, str(tmp_path / "w.safetensors"))
    for name in ("plain.pt", "nested.pt", "w.safetensors"):
        loaded = read_state_dict(tmp_path / name)
        assert torch.equal(loaded["layer.weight"], state["layer.weight"]), name


def test_manifest_records_checksum(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    path = cache.save("things", "k", {"w": torch.ones(2)}, {"a": 1})
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert len(manifest["sha256"]) == 64 and manifest["metadata"] == {"a": 1}


BAD_MANIFESTS = {"list": "[]", "number": "3", "null": "null", "string": '"text"', "sha256 a number": '{"sha256": 5}',
                 "sha256 a list": '{"sha256": ["a"]}', "no sha256": '{"metadata": {}}',
                 "metadata a list": '{"sha256": "%s", "metadata": []}', "metadata a number": '{"sha256": "%s", "metadata": 1}',
                 "not utf-8": b"\xff\xfe not utf-8", "nested too deep": "[" * 100_000}


@pytest.mark.parametrize("manifest", BAD_MANIFESTS.values(), ids=BAD_MANIFESTS.keys())
def test_a_manifest_of_the_wrong_shape_is_corrupt_and_rebuilt(tmp_path: Path, manifest) -> None:
    cache = ArtifactCache(tmp_path)
    data_path = cache.save("things", "k", {"w": torch.ones(3)}, {"a": 1})
    manifest_path = data_path.with_suffix(".json")
    if isinstance(manifest, bytes):
        manifest_path.write_bytes(manifest)
    else:
        sha = json.loads(manifest_path.read_text())["sha256"]
        manifest_path.write_text(manifest.replace("%s", sha))
    assert cache.load("things", "k") is None
    assert not data_path.exists() and not manifest_path.exists()
    cache.save("things", "k", {"w": torch.ones(3)}, {"a": 1})
    assert cache.load("things", "k").metadata == {"a": 1}
