"""Shared pieces of the model quartet: timestamps, request-model strictness, field types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, ConfigDict, StringConstraints
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.database import UTCDateTime


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


#: An IANA time zone name such as ``America/New_York``.
TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_zone)
]
#: A short single-line name or title.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: An identifier owned by an external system (ATS), unique per record type.
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^\S+$")
]
#: Free text written by people (notes, summaries).
LongText = Annotated[str, StringConstraints(max_length=20_000)]
#: An instant given by a client: must carry an offset; stored and answered in UTC.
Instant = AwareDatetime


def instant_field(**kwargs: Any) -> Any:
    """A timezone-aware instant column (stored UTC, see ``UTCDateTime``)."""
    return Field(sa_type=UTCDateTime, **kwargs)


class Timestamps(SQLModel):
    """Created/updated instants every record carries; ``updated_at`` drives ATS syncs."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )


class RequestModel(SQLModel):
    """Request bodies refuse unknown fields, so nobody can smuggle in ``owner_id`` or ``stage``."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class PublicModel(SQLModel):
    """Responses carry the id and the record's instants in UTC."""

    id: int
    created_at: datetime
    updated_at: datetime
