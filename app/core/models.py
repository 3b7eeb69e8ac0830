"""Shared pieces of the model quartet: timestamps, request-model strictness, field types."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from types import UnionType
from typing import Annotated, Any, ClassVar, Final, Self, TypeVar, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import email_validator
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic import Field as PydanticField
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from sqlalchemy import Index
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
_TOKEN_BAD = re.compile(rf"[\s\ufeff{_CONTROL}{_SINGLE_LINE_EXTRA}]")


def _escaped_class(chars: str) -> str:
    r"""A regex class body in ASCII escapes (``\x00``, ``\u2028``), valid in ECMA-262, Python and
    Rust regexes alike."""
    return "".join(
        c if c == "-" else f"\\x{ord(c):02X}" if ord(c) < 256 else f"\\u{ord(c):04X}" for c in chars
    )


MULTI_LINE_PATTERN = f"^[^{_escaped_class(_CONTROL)}]*$"
SINGLE_LINE_PATTERN = f"^[^{_escaped_class(_CONTROL + _SINGLE_LINE_EXTRA)}]*$"
TOKEN_PATTERN = f"^[^\\s\\uFEFF{_escaped_class(_CONTROL + _SINGLE_LINE_EXTRA)}]+$"


def _refuse(bad: re.Pattern[str], what: str, *, empty: bool = True) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not empty and not value:
            raise ValueError(f"{what} may not be empty")
        found = bad.search(value)
        if found is not None:
            raise ValueError(f"{what} may not contain the character U+{ord(found.group()):04X}")
        return value

    return check


_check_multi_line = _refuse(_MULTI_LINE_BAD, "text")
_check_single_line = _refuse(
    _SINGLE_LINE_BAD, "single-line text (no control characters, line breaks or bidi controls)"
)
_check_token = _refuse(
    _TOKEN_BAD, "an identifier (no whitespace or control characters)", empty=False
)


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


_RFC3339_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _rfc3339_text(value: Any) -> Any:
    """An instant is RFC 3339 text (``2026-12-01T09:00:00Z``), as the document's ``date-time``
    says: a number (``0.5``, read as seconds since 1970 by lax parsing) is refused."""
    if not isinstance(value, datetime) and not (
        isinstance(value, str) and _RFC3339_START.match(value)
    ):
        raise ValueError("must be an RFC 3339 instant such as 2026-12-01T09:00:00Z")
    return value


#: The OpenAPI ``format`` of a time zone name: only names of the IANA database are accepted,
#: which no pattern can say (a client or a fuzzer draws from that database).
TIME_ZONE_FORMAT = "iana-time-zone"
#: An IANA time zone name such as ``America/New_York``. Only the format is stated (a zone name
#: is an identifier, so the token rule holds too, but one schema keyword each is what readers
#: merge reliably).
TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_check_token),
    AfterValidator(_check_zone),
    PydanticField(json_schema_extra={"format": TIME_ZONE_FORMAT}),
]
#: A character that is not a space in any of the regex engines that read the document's
#: patterns: ECMA-262's ``\s`` (clients, fuzzers) has U+FEFF and not U+0085, Rust's (pydantic)
#: has U+0085, Python's ``str.strip`` also U+001C-U+001F; naming them all makes them agree.
NOT_SPACE = r"[^\s\x1c-\x1f\x85\ufeff]"
#: A single-line name that is not only spaces: single-line text with at least one character
#: that no engine counts as a space (the stripped value would be empty otherwise).
NAME_PATTERN = (
    f"^[^{_escaped_class(_CONTROL + _SINGLE_LINE_EXTRA)}]*"
    f"[^\\s\\uFEFF{_escaped_class(_CONTROL + _SINGLE_LINE_EXTRA)}]"
    f"[^{_escaped_class(_CONTROL + _SINGLE_LINE_EXTRA)}]*$"
)
#: A short single-line name or title; not only spaces (the pattern says so to the document's
#: readers).
Name = Annotated[
    SingleLine,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_SPACE),
    PydanticField(json_schema_extra={"pattern": NAME_PATTERN}),
]
#: An identifier owned by an external system (ATS), unique per record type. Not stripped: the
#: pattern refuses a space anywhere, as the document says, rather than quietly storing another
#: id than the one sent.
ExternalId = Annotated[Token, StringConstraints(min_length=1, max_length=128)]
#: Free text written by people (notes, summaries).
LongText = Annotated[MultiLine, StringConstraints(max_length=20_000)]
#: An instant given by a client: RFC 3339 text with an offset, in ``INSTANT_RANGE``; normalised
#: to UTC on the way in, so it is stored and answered in UTC whatever offset it came with.
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
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


class SyncedTimestamps(SQLModel):
    """Created/updated instants of a record an ATS syncs by ``updated_since``: its table gets
    the keyset index ``(updated_at, id)`` (``sync_order_index``) that pages of a sync walk,
    so a page costs the same however large the table (app.core.pagination)."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def sync_order_index(model: type[SQLModel]) -> Index:
    """The ``(updated_at, id)`` index of a synced table, attached to it on creation."""
    table: Any = model.__table__  # type: ignore[attr-defined]
    return Index(f"ix_{table.name}_updated_at_id", table.c.updated_at, table.c.id)


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

    Values have the JSON type the document states: a boolean is ``true``/``false`` (never
    ``0`` or ``"yes"``, which lax validation would turn into a flag nobody meant to set), an
    integer is a number (never ``"7"`` or ``true``), an instant, a date or a time is text (never
    a number read as seconds since 1970).
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

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or info.field_name is None:
            return value
        plain = _plain_type(cls.model_fields[info.field_name].annotation)
        if get_origin(plain) is list and isinstance(value, list):
            item = _plain_type(get_args(plain)[0])
            return [_json_typed(item, v) for v in value]
        return _json_typed(plain, value)


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

    @classmethod
    def from_upsert(cls, fields: Mapping[str, Any]) -> Self:
        """The update an upsert makes of its create body's ``fields``: there a ``null`` for a
        field that cannot be null means what it means at create (not given), so it keeps the
        stored value instead of being refused here, after the request was accepted."""
        return cls.model_validate(
            {k: v for k, v in fields.items() if v is not None or k not in cls.not_null}
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The document says what ``_refuse_null`` does: a ``not_null`` field may be left out,
        never sent as ``null``."""
        schema = handler(core_schema)
        properties = handler.resolve_ref_schema(schema).get("properties", {})
        for name in cls.not_null & properties.keys():
            prop = properties[name]
            prop.pop("default", None)
            options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"]
            if "anyOf" in prop and len(options) == 1:
                del prop["anyOf"]
                prop.update(options[0])
            elif "anyOf" in prop:
                prop["anyOf"] = options
        return schema


#: What a request field of each plain type may arrive as: its JSON type (an integer is any
#: number without a fraction, ``1.0`` included, as JSON Schema has it), or (from Python code such
#: as factories and the demo) the value itself.
_JSON_TYPES: dict[Any, tuple[type[Any], ...]] = {
    bool: (bool,),
    int: (int, float),
    datetime: (str, datetime),
    date: (str, date),
    time: (str, time),
}
_JSON_TYPE_MESSAGES: dict[tuple[type[Any], ...], str] = {
    (bool,): "must be true or false",
    (int, float): "must be an integer number",
    (str, datetime): "must be an RFC 3339 instant as text",
    (str, date): "must be a date as text (YYYY-MM-DD)",
    (str, time): "must be a time as text",
}


def _json_typed(plain: Any, value: Any) -> Any:
    allowed = _JSON_TYPES.get(plain)
    if (
        allowed is not None
        and value is not None
        and (
            isinstance(value, bool) is not (bool in allowed)
            or not isinstance(value, allowed)
            or (isinstance(value, float) and not value.is_integer())
        )
    ):
        raise ValueError(_JSON_TYPE_MESSAGES[allowed])
    return value


def _plain_type(annotation: Any) -> Any:
    """``int`` for ``int``, ``int | None`` and ``Annotated[int, …] | None``."""
    if get_origin(annotation) in (Union, UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else annotation
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def not_null_columns(table_model: type[SQLModel]) -> frozenset[str]:
    """The NOT NULL columns of a table model, for ``UpdateModel.not_null``."""
    table = table_model.__table__  # type: ignore[attr-defined]
    return frozenset(column.name for column in table.columns if not column.nullable)


_P = TypeVar("_P", bound=SQLModel)


class PublicModel(SQLModel):
    """Responses carry the id and the record's instants in UTC."""

    id: int
    created_at: datetime
    updated_at: datetime


def public_of(model: type[_P], record: object) -> _P:
    """A response model read from a record's attributes, by pydantic's validator itself: what
    ``SQLModel.model_validate`` does for a model that is no table, in about half the time (its
    wrapper is per call; a list converts up to 200 rows per request; issue 14). Give a row as
    ``row._mapping``: read by attribute, each field the row lacks (one computed afterwards) is a
    lookup the row fails by raising, which doubled the time per row."""
    found: _P = model.__pydantic_validator__.validate_python(record, from_attributes=True)
    return found


def _any_case(word: str) -> str:
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_SPECIAL_USE = "|".join(_any_case(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
#: What the document adds to ``format: email``: no special-use domain (``.test``, ``.local``,
#: ``.invalid`` …, RFC 6761), which the address validator refuses as undeliverable.
EMAIL_PATTERN = rf"^[^@]+@(?!(?:[^@]*\.)?(?:{_SPECIAL_USE})\.?$)[^@]+$"
#: An email address someone can receive mail at.
EmailAddress = Annotated[EmailStr, PydanticField(json_schema_extra={"pattern": EMAIL_PATTERN})]
