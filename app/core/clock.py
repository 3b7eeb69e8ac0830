"""The one place that reads the wall clock, so tests and backfills can say what "now" is.

``at(instant)`` sets "now" for the code running inside it (a context variable: it follows the
request or task that set it, and nothing else). The worker takes its instant explicitly
(``--now``); this is how a scenario test walks the API through the same days.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_fixed: ContextVar[datetime | None] = ContextVar("candor_now", default=None)


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC (never naive)."""
    fixed = _fixed.get()
    return fixed if fixed is not None else datetime.now(UTC)


@contextmanager
def at(instant: datetime) -> Iterator[None]:
    """Run the block as if it were ``instant`` (aware; normalised to UTC)."""
    if instant.tzinfo is None:
        raise ValueError("a fixed clock needs an aware instant")
    token = _fixed.set(instant.astimezone(UTC))
    try:
        yield
    finally:
        _fixed.reset(token)
