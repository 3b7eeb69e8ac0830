"""Shared pieces of the model quartet: timestamps, request-model strictness, field types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from app.core.clock import utcnow
from app.core.database import UTCDateTime


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


#: Ids are PostgreSQL ``integer`` columns: anything larger is refused as input (R-IN), never
#: sent to the database to overflow there.
MAX_ID = 2_147_483_647
#: A reference to another record in a request body.
RefId = Annotated[int, PydanticField(ge=1, le=MAX_ID)]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


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
#: An instant given by a client: must carry an offset; normalised to UTC on the way in, so it is
#: stored and answered in UTC whatever offset it came with.
Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def instant_field(**kwargs: Any) -> Any:
    """A timezone-aware instant column (stored UTC, see ``UTCDateTime``)."""
    return Field(sa_type=UTCDateTime, **kwargs)


class Timestamps(SQLModel):
    """Created/updated instants every record carries; ``updated_at`` drives ATS syncs."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )


class WorkTimestamps(SQLModel):
    """Created/updated instants for high-volume work rows (tasks, messages): not indexed, since
    nothing syncs them by ``updated_since`` and every index costs the sweep a write per row."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RequestModel(SQLModel):
    """Request bodies refuse unknown fields, so nobody can smuggle in ``owner_id`` or ``stage``."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class UpdateModel(RequestModel):
    """PATCH bodies: every field optional; ``null`` clears a field only where clearing is allowed.

    ``not_null`` names the fields whose column is NOT NULL: leaving them out keeps the value,
    sending ``null`` is a 422 on that field (never a database error).
    """

    not_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value


def not_null_columns(table_model: type[SQLModel]) -> frozenset[str]:
    """The NOT NULL columns of a table model, for ``UpdateModel.not_null``."""
    table = table_model.__table__  # type: ignore[attr-defined]
    return frozenset(column.name for column in table.columns if not column.nullable)


class PublicModel(SQLModel):
    """Responses carry the id and the record's instants in UTC."""

    id: int
    created_at: datetime
    updated_at: datetime
