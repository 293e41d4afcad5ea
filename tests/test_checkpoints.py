"""The checkpoint reader: whatever the bytes, a state dict of tensors or one ``UserError`` naming the problem."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_safetensors

from bench.checkpoints import read_checkpoint, read_state_dict
from bench.cli import main
from bench.errors import UserError

STATE = {"layer.weight": torch.arange(6.0).reshape(3, 2)}


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _legacy_torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


BAD_FILES = {
    "text": b"hello",
    "empty": b"",
    "one byte": b"\x80",
    "garbage after a pickle header": b"\x80\x02garbage",
    "pickle of a list": pickle.dumps([1, 2, 3]),
    "pickle of int keys": pickle.dumps({1: 2}),
    "truncated zip": _torch_bytes(STATE)[:200],
    "truncated legacy": _legacy_torch_bytes(STATE)[:60],
    "tensor under an int key": _torch_bytes({0: torch.ones(2)}),
    "a bare tensor": _torch_bytes(torch.ones(2)),
    "safetensors header only": save_safetensors(STATE)[:40],
    "brace at offset 8": b"\x02\x00\x00\x00\x00\x00\x00\x00{}",
    "huge safetensors header length": b"\xff" * 8 + b"{" + b"\x00" * 16,
    "nested non-tensor": _torch_bytes({"state_dict": {"w": [1, 2]}}),
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_unreadable_bytes_are_one_user_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "t.pt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=str(path)):
        read_checkpoint(path)


def test_legacy_torch_files_and_safetensors_bytes_still_load(tmp_path: Path) -> None:
    for name, content in [("legacy.pt", _legacy_torch_bytes(STATE)), ("w.bin", save_safetensors(STATE))]:
        (tmp_path / name).write_bytes(content)
        assert torch.equal(read_state_dict(tmp_path / name)["layer.weight"], STATE["layer.weight"]), name


def test_cli_with_a_text_file_as_checkpoint_exits_2_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.pt").write_bytes(b"hello")
    assert main(["run", "--arch", "smallcnn", "--checkpoint", "t.pt", "--attack", "pgd", "--n", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "t.pt" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.pt"]

