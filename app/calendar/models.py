"""Calendars as records: what a client's (or the agency's) business time is made of (R-BT)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Index, text
from sqlmodel import Field, SQLModel

from app.calendar.business_time import Calendar as BusinessCalendar
from app.core.database import DateList
from app.core.models import (
    Day,
    Name,
    PublicModel,
    RequestModel,
    Timestamps,
    TimeZoneName,
    Token,
    UpdateModel,
    not_null_columns,
)

_LOCAL_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")


def _local_time(value: Any) -> Any:
    """Opening hours are wall-clock times in the calendar's zone: ``HH:MM`` or ``HH:MM:SS``, as
    text, without an offset (an offset would contradict the zone) and not a number of seconds."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _LOCAL_TIME.fullmatch(value):
        raise ValueError("a local time HH:MM or HH:MM:SS, without an offset")
    return value


#: A local wall-clock time. Not the OpenAPI ``time`` format: that is RFC 3339's, which requires
#: an offset, and these times have none (the calendar's zone says where they are).
LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    WithJsonSchema(
        {"type": "string", "pattern": "^" + _LOCAL_TIME.pattern + "$", "examples": ["09:00"]}
    ),
]


#: 0 = Monday … 6 = Sunday.
Weekday = Annotated[int, PydanticField(ge=0, le=6)]


class CalendarBase(SQLModel):
    name: Name = Field(max_length=200)
    time_zone: TimeZoneName = Field(max_length=64)
    weekdays: list[Weekday] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        sa_type=JSON,
        description="Working weekdays, 0 = Monday … 6 = Sunday.",
        min_length=1,
        max_length=7,
    )
    country: Token | None = Field(
        default=None,
        max_length=8,
        description="Holiday country as the `holidays` package names it.",
    )
    subdivision: Token | None = Field(default=None, max_length=16)
    closures: list[Day] = Field(
        default_factory=list, sa_type=DateList, max_length=500, description="Agency closure dates."
    )
    removed_holidays: list[Day] = Field(
        default_factory=list,
        sa_type=DateList,
        max_length=500,
        description="Country holidays that are working days after all.",
    )
    opens: LocalTime = Field(default=time(9), description="Local opening time.")
    closes: LocalTime = Field(default=time(17), description="Local closing time.")


class Calendar(CalendarBase, Timestamps, table=True):
    __table_args__ = (
        # At most one agency default calendar.
        Index(
            "uq_calendar_is_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    is_default: bool = Field(default=False)


def _validate(data: CalendarBase) -> None:
    """Build the business calendar once: any inconsistency is a 422, never a later 500."""
    try:
        to_business_calendar(data)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


class CalendarCreate(CalendarBase, RequestModel):
    is_default: bool = Field(default=False, description="Make this the agency's default.")

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays must be 1-7 numbers from 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @model_validator(mode="after")
    def _consistent(self) -> CalendarCreate:
        _validate(self)
        return self


class CalendarUpdate(UpdateModel):
    not_null = not_null_columns(Calendar)

    name: Name | None = None
    time_zone: TimeZoneName | None = None
    weekdays: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    country: Token | None = Field(default=None, max_length=8)
    subdivision: Token | None = Field(default=None, max_length=16)
    closures: list[Day] | None = Field(default=None, max_length=500)
    removed_holidays: list[Day] | None = Field(default=None, max_length=500)
    opens: LocalTime | None = None
    closes: LocalTime | None = None
    is_default: bool | None = None


class CalendarPublic(CalendarBase, PublicModel):
    is_default: bool


class BusinessDaysAnswer(SQLModel):
    calendar_id: int
    start: datetime
    days: int
    result: datetime = Field(description="R-BT: `days` business days after `start`, in UTC.")


def to_business_calendar(data: CalendarBase) -> BusinessCalendar:
    """The pure calendar the business-time functions take. Raises ValueError when inconsistent."""
    return BusinessCalendar(
        time_zone=data.time_zone,
        weekdays=frozenset(data.weekdays),
        country=data.country,
        subdivision=data.subdivision,
        closures=frozenset(_as_date(d) for d in data.closures),
        removed_holidays=frozenset(_as_date(d) for d in data.removed_holidays),
        opens=_as_time(data.opens),
        closes=_as_time(data.closes),
    )


def _as_date(value: date | str) -> date:
    # JSON columns hand dates back as ISO strings.
    return value if isinstance(value, date) else date.fromisoformat(value)


def _as_time(value: time | str) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)
