"""Cursor pagination: opaque cursors, at most 200 a page, in one of two orders.

**Lists** walk in ascending id: the cursor carries the last id, so a walk never skips or repeats
a record that existed when it began.

**Syncs** (``?updated_since=T``) walk by keyset in ``(updated_at, id)`` order: the cursor carries
the last row's ``updated_at`` and id, and each page is one range scan of the synced table's
``(updated_at, id)`` index (``app.core.models.sync_order_index``) from that point, so a page costs
the same at a thousand rows or a million. What a reader paging by ``updated_since`` sees:

- every record whose ``updated_at`` was at or after ``T`` when its page was read, once per walk,
  in ``(updated_at, id)`` order;
- **twice**: a record changed again while the walk goes on moves to the end of the order and is
  read again there (its newer state; a reader keeps the latest per id). A record is never lost
  by changing while the walk goes on;
- **missed**: a change whose transaction commits *after* the walk has passed its ``updated_at``
  (``updated_at`` is the instant the change was made, not when it committed; a long transaction
  can commit a row with an ``updated_at`` earlier than rows already read). A reader avoids it by
  starting its next sync from the greatest ``updated_at`` it saw minus a margin longer than any
  transaction (a minute is ample: requests are bounded by the database's statement timeout),
  and dropping rows it already has at the same ``updated_at``.

For a stream that skips nothing, even across late commits, read the event feed (``/v1/events``,
and the change feed that later integration work builds on it), which is ordered by commit.

A cursor belongs to its order: a list cursor given to a sync, or a sync cursor given to a list,
is a 422 on ``query.cursor`` like any cursor this service did not issue.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from app.core.errors import InvalidInput

T = TypeVar("T")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
#: The OpenAPI ``format`` of a cursor: opaque, only a ``next_cursor`` this service issued is one
#: (any other string of the same alphabet is a 422 on ``query.cursor``).
CURSOR_FORMAT = "candor-cursor"


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Opaque; null on the last page.", examples=["eyJhIjoxMjN9"]
    )


class PageParams(BaseModel):
    limit: int
    after_id: int
    #: Set only by a sync cursor: the ``updated_at`` of the last row of the previous page.
    after_updated_at: datetime | None = None

    def check_order(self, *, sync: bool) -> None:
        """A cursor of the other order is not one this list issued (module docstring)."""
        if self.after_id and (self.after_updated_at is not None) != sync:
            raise _foreign_cursor()


def _foreign_cursor() -> InvalidInput:
    return InvalidInput("query.cursor", "The cursor is not one this service issued.")


def encode_cursor(after_id: int, after_updated_at: datetime | None = None) -> str:
    data: dict[str, object] = {"a": after_id}
    if after_updated_at is not None:
        data["u"] = after_updated_at.astimezone(UTC).isoformat()
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime | None]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = data["a"]
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= 2_147_483_647:
            raise ValueError
        if set(data) - {"a", "u"}:
            raise ValueError
        updated: datetime | None = None
        if "u" in data:
            if not isinstance(data["u"], str):
                raise ValueError
            updated = datetime.fromisoformat(data["u"])
            if updated.tzinfo is None:
                raise ValueError
        return after, updated
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
        raise _foreign_cursor() from None


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]*$",
            description="`next_cursor` of the previous page, as it was given (opaque).",
            json_schema_extra={"format": CURSOR_FORMAT},
        ),
    ] = None,
) -> PageParams:
    # async, as every dependency: FastAPI runs a plain ``def`` dependency in its thread pool,
    # a thread hop per request for a few microseconds of work (issue 14).
    after_id, after_updated_at = decode_cursor(cursor) if cursor else (0, None)
    return PageParams(limit=limit, after_id=after_id, after_updated_at=after_updated_at)


def make_page(
    items: list[T], *, limit: int, id_of: int | None, updated_at_of: datetime | None = None
) -> Page[T]:
    """``items`` was fetched with ``limit + 1`` rows; the extra one only says there is more.
    ``id_of`` (and for a sync ``updated_at_of``) is the last row of this page."""
    has_more = len(items) > limit
    page_items = items[:limit]
    return Page[T](
        items=page_items,
        next_cursor=encode_cursor(id_of, updated_at_of) if has_more and id_of is not None else None,
    )
