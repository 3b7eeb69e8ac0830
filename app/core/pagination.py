"""Cursor pagination: opaque cursors over a stable order (ascending id), at most 200 a page.

An ATS sync walks ``?updated_since=...`` page by page; an id-ordered cursor never skips or repeats
a record that existed when the walk began, and a record changed during the walk shows up again on
the next ``updated_since`` sync.
"""

from __future__ import annotations

import base64
import binascii
import json
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


def encode_cursor(after_id: int) -> str:
    raw = json.dumps({"a": after_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = data["a"]
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= 2_147_483_647:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("query.cursor", "The cursor is not one this service issued.") from None


def page_params(
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
    return PageParams(limit=limit, after_id=decode_cursor(cursor) if cursor else 0)


def make_page(items: list[T], *, limit: int, id_of: int | None) -> Page[T]:
    """``items`` was fetched with ``limit + 1`` rows; the extra one only says there is more."""
    has_more = len(items) > limit
    page_items = items[:limit]
    return Page[T](
        items=page_items,
        next_cursor=encode_cursor(id_of) if has_more and id_of is not None else None,
    )
