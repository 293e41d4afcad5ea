"""Which process is this, and is another one still alive: host, pid and the pid's start time.

A pid alone is not an identity: after a process dies the system may give its
pid to a new one.  The start time (Linux: field 22 of ``/proc/PID/stat``, in
clock ticks since boot) tells the two apart.  Where there is no ``/proc`` the
start time is unknown (None) and a live pid counts as the same process.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie, dead but not yet reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    stat = _stat_fields(pid)
    return stat is None or stat[0] != "Z"


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None where it cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (None where unknown)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None and len(fields) > 19 else None


@dataclass(frozen=True)
class ProcessId:
    host: str
    pid: int
    started: int | None

    @classmethod
    def current(cls) -> "ProcessId":
        return cls(socket.gethostname(), os.getpid(), start_time(os.getpid()))

    def is_alive(self) -> bool | None:
        """True or False for a process of this host; None for another host's, which cannot be looked at from here."""
        if self.host != socket.gethostname():
            return None
        if not pid_alive(self.pid):
            return False
        return self.started is None or start_time(self.pid) in (None, self.started)
