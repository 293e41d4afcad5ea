"""The one clock of the results database: UTC, ISO 8601, to the second."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """The current time as every timestamp in the results database is written (``2026-01-31T09:15:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
