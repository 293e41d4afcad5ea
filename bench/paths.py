"""Where purebench keeps what it builds and what it downloads.

``PUREBENCH_CACHE`` (default ``~/.cache/purebench``) holds trained artifacts;
``PUREBENCH_DATA`` (default ``<cache>/data``) holds downloaded datasets.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("PUREBENCH_CACHE") or Path.home() / ".cache" / "purebench").expanduser()


def data_root() -> Path:
    env = os.environ.get("PUREBENCH_DATA")
    return Path(env).expanduser() if env else cache_root() / "data"
