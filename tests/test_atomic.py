"""Atomic writes: new files follow the umask, replaced files keep their mode, a killed writer's leftover is cleaned."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bench.atomic import atomic_path, write_text_atomic


@pytest.fixture()
def umask():
    """Sets the process umask for one test and restores it."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path: Path, umask, mask: int, expected: int) -> None:
    umask(mask)
    write_text_atomic(tmp_path / "a.csv", "x\n")
    assert _mode(tmp_path / "a.csv") == expected


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask) -> None:
    umask(0o077)
    path = tmp_path / "a.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n" and _mode(path) == 0o640


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_writers_temporary_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    host = socket.gethostname()
    dead = tmp_path / f".out.csv.{host}-{_dead_pid()}.0a1b2c3d.tmp"
    live = tmp_path / f".out.csv.{host}-{os.getpid()}.0a1b2c3d.tmp"
    other_host = tmp_path / ".out.csv.elsewhere-1.0a1b2c3d.tmp"
    for leftover in (dead, live, other_host):
        leftover.write_text("partial")
    write_text_atomic(path, "whole\n")
    assert not dead.exists() and live.exists() and other_host.exists()
    assert path.read_text() == "whole\n"


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.csv") as tmp:
            tmp.write_text("partial")
            raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []


def test_cache_files_follow_the_umask(tmp_path: Path, umask) -> None:
    import torch

    from bench.cache import ArtifactCache

    umask(0o022)
    data_path = ArtifactCache(tmp_path).save("things", "k", {"w": torch.ones(2)}, {})
    assert _mode(data_path) == _mode(data_path.with_suffix(".json")) == 0o644
