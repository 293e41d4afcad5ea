"""Content keys: a stable hash of everything that determines an artifact or a result."""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from pathlib import Path
from typing import Any

import torch

from bench.errors import InvalidInputError


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return repr(value)  # exact: 0.1 and 0.1000001 differ
    if isinstance(value, torch.Tensor):
        return tensor_digest(value)
    return value


def content_key(identity: dict[str, Any], length: int = 24) -> str:
    """A hex digest of ``identity`` that ignores key order and keeps float precision."""
    text = json.dumps(_canonical(identity), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def tensor_digest(t: torch.Tensor) -> str:
    """A digest of a tensor's dtype, shape and bytes (0-dim tensors too, e.g. BatchNorm's ``num_batches_tracked``)."""
    if t.is_meta:
        raise InvalidInputError("a tensor on the meta device has no values to identify it by; materialise the module "
                                "(module.to_empty(device='cpu'), then load_state_dict) before passing it")
    t = t.detach().cpu().contiguous()
    h = hashlib.sha256(str((t.dtype, tuple(t.shape))).encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:24]


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """A digest of a state dict's names and values (in-memory models are identified by it)."""
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(tensor_digest(state[name]).encode())
    return h.hexdigest()[:24]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (files are identified by content, not by name)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
