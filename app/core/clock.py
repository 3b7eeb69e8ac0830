"""The one place that reads the wall clock, so tests and backfills can say what "now" is."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC (never naive)."""
    return datetime.now(UTC)
