"""The artifact cache: trained things kept under a content key, verified on every read.

Each artifact is a safetensors file of tensors and a JSON manifest holding the
file's SHA-256, the identity that produced the key and free metadata.  Both are
written atomically, the manifest last, so a reader sees a whole artifact or
none.  A file whose checksum does not match (truncated, corrupted) is deleted
and reported as missing, so the caller rebuilds it; it is never used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bench.atomic import atomic_path, write_text_atomic
from bench.hashing import file_digest
from bench.paths import cache_root

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Artifact:
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, Any]


class ArtifactCache:
    """A directory of artifacts, one subdirectory per kind (``classifiers``, ``defenses``...)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else cache_root()

    def _paths(self, kind: str, key: str) -> tuple[Path, Path]:
        base = self.root / kind / key
        return base.with_suffix(".safetensors"), base.with_suffix(".json")

    def load(self, kind: str, key: str) -> Artifact | None:
        """The artifact, or ``None`` when it is missing or fails its checksum (then it is removed)."""
        data_path, manifest_path = self._paths(kind, key)
        if not manifest_path.is_file():
            return None
        try:
            manifest = _read_manifest(manifest_path)
            if not data_path.is_file() or file_digest(data_path) != manifest["sha256"]:
                raise ValueError("checksum mismatch")
            tensors = load_file(str(data_path))
        except (ValueError, RecursionError, OSError, SafetensorError) as exc:
            log.warning("cache: %s/%s is corrupt (%s); removing it so it is rebuilt", kind, key, exc)
            self.remove(kind, key)
            return None
        return Artifact(tensors, manifest["metadata"])

    def save(self, kind: str, key: str, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
        data_path, manifest_path = self._paths(kind, key)
        with atomic_path(data_path) as tmp:
            save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(tmp))
            digest = file_digest(tmp)
        write_text_atomic(manifest_path, json.dumps({"sha256": digest, "metadata": metadata}, indent=1, default=str))
        return data_path

    def remove(self, kind: str, key: str) -> None:
        for p in self._paths(kind, key):
            p.unlink(missing_ok=True)


def _read_manifest(path: Path) -> dict[str, Any]:
    """The manifest as written by ``save``; any other shape (valid JSON or not) raises ``ValueError``."""
    manifest = json.loads(path.read_bytes())
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), str):
        raise ValueError("manifest is not an object with a sha256 string")
    manifest.setdefault("metadata", {})
    if not isinstance(manifest["metadata"], dict):
        raise ValueError("manifest metadata is not an object")
    return manifest
