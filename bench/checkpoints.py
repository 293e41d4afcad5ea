"""Reading model weights safely: safetensors, or torch files with ``weights_only=True``.

A file that would run code when unpickled is refused, never executed.  The
format is read from the bytes, not the file name, so a renamed file loads the
same; the bytes are read once, so the digest returned is that of the weights
loaded.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import warnings
from pathlib import Path

import torch

from bench.errors import DataUnavailableError, UnsafeCheckpointError

NESTED_KEYS = ("state_dict", "model_state_dict", "model")


def read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file (a bare state dict, or one nested under a usual key)."""
    return read_checkpoint(path)[0]


def read_checkpoint(path: Path | str) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of a checkpoint file and the SHA-256 of its bytes."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataUnavailableError(f"checkpoint {path} does not exist; give the path of a .pt, .pth or .safetensors file")
    data = path.read_bytes()
    return _parse(data, path), hashlib.sha256(data).hexdigest()


def _is_safetensors(data: bytes) -> bool:
    """safetensors: an 8-byte header length, then the JSON header."""
    return len(data) > 8 and data[8:9] == b"{"


def _parse(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    obj = _load_safetensors(data, path) if _is_safetensors(data) else _load_torch(data, path)
    for key in NESTED_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise UnsafeCheckpointError(f"{path} does not hold a state dict of named tensors; save model.state_dict()")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _load_safetensors(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    try:
        return load(data)
    except Exception as exc:  # noqa: BLE001 - whatever breaks in parsing these bytes, the file is unreadable
        raise UnsafeCheckpointError(f"{path} is not a readable safetensors file ({_first_line(exc)})") from None


def _load_torch(data: bytes, path: Path) -> object:
    """``torch.load(weights_only=True)``: it refuses code, but malformed bytes escape as any exception."""
    try:
        with warnings.catch_warnings():  # a refusal is one line; torch's note on the pickle protocol is noise there
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"refusing {path}: it holds objects beyond plain tensors, which would run code when loaded, or pickled "
            "bytes that are no checkpoint (convert it with safetensors, or save only model.state_dict())"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - KeyError, IndexError, struct.error...: the bytes are not a checkpoint
        raise UnsafeCheckpointError(f"{path} is not a readable torch checkpoint ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
