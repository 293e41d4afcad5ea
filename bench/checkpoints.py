"""Reading model weights safely: safetensors, or torch files with ``weights_only=True``.

A file that would run code when unpickled is refused, never executed.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from bench.errors import DataUnavailableError, UnsafeCheckpointError

NESTED_KEYS = ("state_dict", "model_state_dict", "model")


def read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file (a bare state dict, or one nested under a usual key)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataUnavailableError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"refusing {path}: it holds objects beyond plain tensors and would run code when loaded "
            "(convert it with safetensors, or save only model.state_dict())"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise UnsafeCheckpointError(f"{path} is not a readable torch checkpoint ({exc})") from exc
    for key in NESTED_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UnsafeCheckpointError(f"{path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}
