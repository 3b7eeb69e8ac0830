"""Shared pieces of the model quartet: timestamps, request-model strictness, field types."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Final, get_args, get_origin
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


# --- text (R-IN) -------------------------------------------------------------------------------
#
# Every string a request carries is refused (422 naming the field) if it holds a C0 or C1 control
# character or DEL: a NUL byte breaks PostgreSQL text, and a line break in a name ends up as a
# header line of an email. Multi-line text (notes, summaries, templates) may hold tab and line
# breaks; single-line text (names, titles, subjects, addresses, ids) may not, nor the Unicode
# line/paragraph separators, nor bidirectional embeddings, overrides and isolates, which make a
# name display as something else. Each rule is also a ``pattern`` in the OpenAPI document, so a
# client generated from it knows the rule.

#: Characters no string may hold: C0 but tab/LF/CR, DEL, C1.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
#: What single-line text may not hold on top: tab, line breaks, U+2028/9, bidi controls.
_SINGLE_LINE_EXTRA = "\t\n\r\u2028\u2029\u202a-\u202e\u2066-\u2069"
_MULTI_LINE_BAD = re.compile(f"[{_CONTROL}]")
_SINGLE_LINE_BAD = re.compile(f"[{_CONTROL}{_SINGLE_LINE_EXTRA}]")
_TOKEN_BAD = re.compile(rf"[\s{_CONTROL}{_SINGLE_LINE_EXTRA}]")


def _escaped_class(chars: str) -> str:
    r"""A regex class body in ASCII escapes (``\x00``, ``\u2028``), valid in ECMA-262, Python and
    Rust regexes alike."""
    return "".join(
        c if c == "-" else f"\\x{ord(c):02X}" if ord(c) < 256 else f"\\u{ord(c):04X}" for c in chars
    )


MULTI_LINE_PATTERN = f"^[^{_escaped_class(_CONTROL)}]*$"
SINGLE_LINE_PATTERN = f"^[^{_escaped_class(_CONTROL + _SINGLE_LINE_EXTRA)}]*$"
TOKEN_PATTERN = f"^[^\\s{_escaped_class(_CONTROL + _SINGLE_LINE_EXTRA)}]+$"


def _refuse(bad: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        found = bad.search(value)
        if found is not None:
            raise ValueError(f"{what} may not contain the character U+{ord(found.group()):04X}")
        return value

    return check


_check_multi_line = _refuse(_MULTI_LINE_BAD, "text")
_check_single_line = _refuse(
    _SINGLE_LINE_BAD, "single-line text (no control characters, line breaks or bidi controls)"
)
_check_token = _refuse(_TOKEN_BAD, "an identifier (no whitespace or control characters)")


class _MultiLine:
    """Marks a string field whose value may span lines (see ``RequestModel``)."""


MULTI_LINE_MARK = _MultiLine()

#: Single-line text: no control characters, line breaks or bidi controls (R-IN).
SingleLine = Annotated[
    str,
    AfterValidator(_check_single_line),
    PydanticField(json_schema_extra={"pattern": SINGLE_LINE_PATTERN}),
]
#: Multi-line text written by people: tab and line breaks allowed, other controls not (R-IN).
MultiLine = Annotated[
    str,
    AfterValidator(_check_multi_line),
    PydanticField(json_schema_extra={"pattern": MULTI_LINE_PATTERN}),
    MULTI_LINE_MARK,
]
#: An identifier: no whitespace at all, no control characters (R-IN).
Token = Annotated[
    str,
    AfterValidator(_check_token),
    PydanticField(json_schema_extra={"pattern": TOKEN_PATTERN}),
]


def line_safe(value: str) -> str:
    """``value`` on one line: every control character, line break and bidi control becomes a
    space. For text stored before input was validated, where it reaches a header or a log."""
    return _SINGLE_LINE_BAD.sub(" ", value)


# --- instants and dates (R-IN) ----------------------------------------------------------------
#
# Business time is computed for the years 1900-2199 (app/calendar/business_time.py). Inputs are
# bounded well inside that, so adding any policy offset (business days, a promise, retention) to
# an accepted instant or date never leaves what business time covers, nor Python's datetime.

EARLIEST_DATE: Final = date(1970, 1, 1)
LATEST_DATE: Final = date(2099, 12, 31)
EARLIEST_INSTANT: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT: Final = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
INSTANT_RANGE: Final = "from 1970-01-01T00:00:00Z to 2099-12-31T23:59:59Z"
DATE_RANGE: Final = "from 1970-01-01 to 2099-12-31"


def _to_utc(value: datetime) -> datetime:
    # The wall-clock year first: converting 0001-01-01T00:00:00+14:00 to UTC would overflow.
    if not EARLIEST_DATE.year <= value.year <= LATEST_DATE.year:
        raise ValueError(f"the instant must be {INSTANT_RANGE}")
    utc = value.astimezone(UTC)
    if not EARLIEST_INSTANT <= utc <= LATEST_INSTANT:
        raise ValueError(f"the instant must be {INSTANT_RANGE}")
    return utc


def _in_range(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"the date must be {DATE_RANGE}")
    return value


#: An IANA time zone name such as ``America/New_York``.
TimeZoneName = Annotated[
    Token, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_zone)
]
#: A short single-line name or title.
Name = Annotated[SingleLine, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: An identifier owned by an external system (ATS), unique per record type.
ExternalId = Annotated[
    Token, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)
]
#: Free text written by people (notes, summaries).
LongText = Annotated[MultiLine, StringConstraints(max_length=20_000)]
#: An instant given by a client: must carry an offset, must lie in ``INSTANT_RANGE``; normalised
#: to UTC on the way in, so it is stored and answered in UTC whatever offset it came with.
Instant = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PydanticField(description=f"RFC 3339 with offset, {INSTANT_RANGE}."),
]
#: A calendar date given by a client, in ``DATE_RANGE``.
Day = Annotated[date, AfterValidator(_in_range), PydanticField(description=f"A date {DATE_RANGE}.")]


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


def _marks_multi_line(annotation: Any) -> bool:
    """Whether a field's type is ``MultiLine`` (alone, optional, or in a list)."""
    if get_origin(annotation) is Annotated:
        if any(m is MULTI_LINE_MARK for m in annotation.__metadata__):
            return True
        return _marks_multi_line(annotation.__origin__)
    return any(_marks_multi_line(arg) for arg in get_args(annotation))


def _text_in(value: Any, check: Callable[[str], str]) -> None:
    if isinstance(value, str):
        check(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _text_in(item, check)
    elif isinstance(value, dict):
        for key, item in value.items():
            _text_in(key, check)
            _text_in(item, check)


class RequestModel(SQLModel):
    """Request bodies refuse unknown fields, so nobody can smuggle in ``owner_id`` or ``stage``.

    Every string in a body is also checked here, whatever its field's type says: single-line
    unless the field is ``MultiLine``. The field types carry the same rule into the OpenAPI
    document; this check makes a field typed plain ``str`` by mistake safe too (R-IN).
    """

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        multi_line = field is not None and (
            any(m is MULTI_LINE_MARK for m in field.metadata) or _marks_multi_line(field.annotation)
        )
        _text_in(value, _check_multi_line if multi_line else _check_single_line)
        return value


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
