"""R-IN: control characters in any string, and instants or dates outside the supported range,
are refused at the boundary with a 422 problem+json naming the field, and change no row.

Generated from the app's own OpenAPI document: every string field of every write operation's
body (and of the arrays in it), every string query and path parameter of every operation. One
representative value per class keeps the matrix fast: NUL, another C0 control, DEL, C1 controls,
and — where a field is single-line — tab, CR, LF, U+2028 and bidi controls. Instants and dates
get the edges that once answered 500 (+14:00 in year 1, -14:00 in year 9999) and the first
values outside the stated range.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.models import DATE_RANGE, INSTANT_RANGE, MULTI_LINE_PATTERN, TIME_ZONE_FORMAT
from tests.api.test_bad_input import _problem
from tests.support.database import row_counts
from tests.support.factories import Caller
from tests.support.routes import Operation, Param, string_fields, string_params, writes_with_body

WRITES = writes_with_body()
PARAMS = string_params()

#: Refused in every string.
ANY_TEXT = {
    "nul": "a\x00b",
    "c0-escape": "a\x1bb",
    "del": "a\x7fb",
    "c1-csi": "a\x9bb",
    "c1-next-line": "a\x85b",
}
#: Refused in single-line text (names, titles, subjects, addresses, ids) on top.
SINGLE_LINE_ONLY = {
    "tab": "a\tb",
    "lf": "a\nb",
    "crlf": "a\r\nb",
    "line-separator": "a\u2028b",
    "right-to-left-override": "a\u202eb",
    "right-to-left-isolate": "a\u2067b",
}
#: Each outside "from 1970-01-01T00:00:00Z to 2099-12-31T23:59:59Z".
EDGE_INSTANTS = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T20:00:00-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:30:00+01:00",  # 1969 in UTC
    "2100-01-01T00:00:00Z",
    "2099-12-31T23:30:00-01:00",  # 2100 in UTC
]
EDGE_DATES = ["0001-01-01", "9999-12-31", "1969-12-31", "2100-01-01"]


def bad_text(pattern: str | None) -> dict[str, str]:
    multi_line = pattern == MULTI_LINE_PATTERN
    return ANY_TEXT if multi_line else {**ANY_TEXT, **SINGLE_LINE_ONLY}


def edges(fmt: str | None) -> tuple[list[str], str]:
    """The edge values for a format, and the range the refusal must state."""
    if fmt == "date-time":
        return EDGE_INSTANTS, INSTANT_RANGE
    if fmt == "date":
        return EDGE_DATES, DATE_RANGE
    return [], ""


def named(body: dict[str, Any], field: str) -> list[str]:
    """The messages of the errors at ``field`` (or inside it: an array's items)."""
    return [
        e["message"]
        for e in body["errors"]
        if e["field"] == field or e["field"].startswith(field + ".")
    ]


def test_the_matrix_covers_the_fields_that_once_answered_500() -> None:
    fields = {(op.body_model, f.name) for op in WRITES for f in string_fields(op.body_model or "")}
    for expected in [
        ("CandidateCreate", "first_name"),
        ("JobUpdate", "title"),
        ("FeedbackCreate", "internal_notes"),
        ("ApiKeyCreate", "name"),
        ("SubmissionCreate", "submitted_at"),
        ("InterviewUpdate", "stated_decision_date"),
        ("FeedbackCreate", "stated_decision_date"),
        ("CalendarCreate", "closures"),
    ]:
        assert expected in fields
    params = {(p.location, p.name) for p in PARAMS}
    assert {("query", "external_id"), ("query", "updated_since"), ("query", "start")} <= params


@pytest.mark.parametrize("op", WRITES, ids=str)
def test_every_string_field_declares_its_rule_in_the_schema__R_IN(op: Operation) -> None:
    """A field typed plain ``str`` is refused here: it must say what it accepts (a pattern from
    app/core/models.py, or a format), so clients and fuzzers know the rule too."""
    assert op.body_model is not None
    for field in string_fields(op.body_model):
        assert field.pattern or field.format in {
            "email",
            "date",
            "date-time",
            "time",
            TIME_ZONE_FORMAT,
        }, field


@pytest.mark.parametrize("op", WRITES, ids=str)
class TestEveryWriteRefusesBadTextAndInstants:
    async def test_control_characters_are_422_naming_the_field__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        op: Operation,
    ) -> None:
        admin, ids = admin_and_ids
        assert op.body_model is not None
        before = await row_counts(session)
        for field in string_fields(op.body_model):
            for value in bad_text(field.pattern).values():
                sent = [value] if field.in_array else value
                response = await client.request(
                    op.method, op.url(ids), json={field.name: sent}, headers=admin.headers
                )
                body = _problem(response, 422)
                assert named(body, f"body.{field.name}"), (field, repr(value), body)
        assert await row_counts(session) == before

    async def test_instants_and_dates_out_of_range_are_422_saying_the_range__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        op: Operation,
    ) -> None:
        admin, ids = admin_and_ids
        assert op.body_model is not None
        before = await row_counts(session)
        for field in string_fields(op.body_model):
            values, stated = edges(field.format)
            for value in values:
                sent = [value] if field.in_array else value
                response = await client.request(
                    op.method, op.url(ids), json={field.name: sent}, headers=admin.headers
                )
                body = _problem(response, 422)
                messages = named(body, f"body.{field.name}")
                assert any(stated in m for m in messages), (field, value, body)
        assert await row_counts(session) == before


def _request(op: Operation, param: Param, ids: dict[str, object], value: str) -> dict[str, Any]:
    if param.location == "path":
        url = op.url({**ids, param.name: quote(value, safe="")})
        return {"url": url, "params": {}}
    return {"url": op.url(ids), "params": {param.name: value}}


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: f"{p.op} {p.location}.{p.name}")
class TestEveryParameterRefusesBadTextAndInstants:
    async def test_control_characters_are_422_naming_the_parameter__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        param: Param,
    ) -> None:
        admin, ids = admin_and_ids
        before = await row_counts(session)
        body_json: dict[str, Any] | None = (
            {} if param.op.method in {"POST", "PUT", "PATCH"} else None
        )
        for value in bad_text(param.pattern).values():
            response = await client.request(
                param.op.method,
                **_request(param.op, param, ids, value),
                json=body_json,
                headers=admin.headers,
            )
            body = _problem(response, 422)
            assert named(body, f"{param.location}.{param.name}"), (repr(value), body)
        assert await row_counts(session) == before

    async def test_instants_out_of_range_are_422_saying_the_range__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        param: Param,
    ) -> None:
        admin, ids = admin_and_ids
        values, stated = edges(param.format)
        for value in values:
            response = await client.request(
                param.op.method, **_request(param.op, param, ids, value), headers=admin.headers
            )
            body = _problem(response, 422)
            messages = named(body, f"{param.location}.{param.name}")
            assert any(stated in m for m in messages), (value, body)
