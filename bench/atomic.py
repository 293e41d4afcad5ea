"""Atomic file writes: a temporary file in the same directory, fsynced, then renamed.

The temporary file is created with mode 0666 less the umask, like any file the
user's programs create (``tempfile.mkstemp`` would make it 0600), and a file
that is replaced keeps its mode.  Its name carries the host and pid of the
writer, so a temporary file left by a writer killed before its rename (SIGKILL
leaves no chance to clean up) is removed by the next write of the same path on
that host; a live writer's file is never touched.
"""

from __future__ import annotations

import os
import secrets
import socket
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bench.errors import UnwritablePathError
from bench.processes import pid_alive

SUFFIX = ".tmp"


def _writer_tag() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files of ``path`` left by dead writers on this host; returns what was removed."""
    prefix = f".{path.name}.{socket.gethostname()}-"
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*{SUFFIX}"):
        pid_text = candidate.name[len(prefix):].split(".", 1)[0] if candidate.name.startswith(prefix) else ""
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def output_dir(path: Path | str) -> Path:
    """``path`` as a folder to write into, created if missing; one that cannot be is a ``UserError`` naming it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnwritablePathError(f"cannot create the folder {path} ({exc.strerror}); choose another output path") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UnwritablePathError(f"cannot write into {path} (permission denied); choose another output path")
    return path


def check_writable_file(path: Path | str) -> Path:
    """``path`` as a file to (re)write: not a folder, in a folder that is or can be made writable."""
    path = Path(path)
    if path.is_dir():
        raise UnwritablePathError(f"{path} is a folder; give the path of a file to write")
    output_dir(path.parent)
    return path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yields a temporary path to write; on success it replaces ``path`` in one rename."""
    path = check_writable_file(path)
    remove_stale_temporaries(path)
    tmp_path = path.with_name(f".{path.name}.{_writer_tag()}.{secrets.token_hex(4)}{SUFFIX}")
    try:
        os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies, as for any new file
    except OSError as exc:
        raise UnwritablePathError(f"cannot write {path} ({exc.strerror}); choose another output path") from None
    mode = stat.S_IMODE(os.stat(tmp_path).st_mode)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)  # a replaced file keeps its mode
        except FileNotFoundError:
            pass
        os.chmod(tmp_path, mode)  # also undoes a writer that recreated the file 0600 (safetensors does)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
