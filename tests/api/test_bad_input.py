"""R-IN: every write operation answers malformed, oversized, mistyped and unknown-field bodies
with a 4xx problem+json that names what was wrong, and changes no row. The operations and their
field limits are read from the app's own OpenAPI document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.database import row_counts
from tests.support.factories import Caller, make_caller, make_feedback, make_interview
from tests.support.routes import Operation, request_schema, writes_with_body

WRITES = writes_with_body()


@pytest.fixture
async def admin_and_ids(session: AsyncSession) -> tuple[Caller, dict[str, object]]:
    admin = await make_caller(session, "admin")
    interview = await make_interview(session)
    feedback = await make_feedback(session, submission_id=interview.submission_id)
    await session.commit()
    from app.submissions.models import Submission

    submission = await session.get(Submission, interview.submission_id)
    assert submission is not None and admin.user is not None
    return admin, {
        "candidate_id": submission.candidate_id,
        "job_id": submission.job_id,
        "submission_id": submission.id,
        "interview_id": interview.id,
        "feedback_id": feedback.id,
        "client_id": 1,
        "contact_id": 1,
        "calendar_id": 1,
        "task_id": 1,
        "kind": "no_news",
        "user_id": admin.user.id,
        "api_client_id": 1,
        "api_key_id": admin.key_id,
        "external_id": "ext-bad-input",
        "token": "x" * 43,
        "note_id": 1,
        "request_id": 1,
        "link_id": 1,
    }


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def test_there_are_write_operations_to_check() -> None:
    assert len(WRITES) >= 25


def _long_fields(model: str) -> list[tuple[str, int]]:
    """Every bounded string property of a request body: (name, maxLength)."""
    found = []
    for name, prop in request_schema(model)["properties"].items():
        options = prop.get("anyOf", [prop])
        for option in options:
            if option.get("type") == "string" and "maxLength" in option:
                found.append((name, int(option["maxLength"])))
    return found


@pytest.mark.parametrize("op", WRITES, ids=str)
class TestEveryWriteRefusesBadBodies:
    async def test_malformed_json_is_422_and_changes_nothing__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        op: Operation,
    ) -> None:
        admin, ids = admin_and_ids
        before = await row_counts(session)
        response = await client.request(
            op.method,
            op.url(ids),
            content=b'{"name": "unterminated',
            headers={**admin.headers, "content-type": "application/json"},
        )
        body = _problem(response, 422)
        assert body["errors"][0]["field"].startswith("body")
        assert await row_counts(session) == before

    async def test_wrong_json_type_is_422__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        op: Operation,
    ) -> None:
        admin, ids = admin_and_ids
        before = await row_counts(session)
        response = await client.request(op.method, op.url(ids), json=[1, 2], headers=admin.headers)
        _problem(response, 422)
        assert await row_counts(session) == before

    async def test_unknown_field_is_refused_by_name__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        op: Operation,
    ) -> None:
        admin, ids = admin_and_ids
        before = await row_counts(session)
        response = await client.request(
            op.method, op.url(ids), json={"smuggled_field": 1}, headers=admin.headers
        )
        body = _problem(response, 422)
        assert "body.smuggled_field" in {e["field"] for e in body["errors"]}
        assert await row_counts(session) == before

    async def test_oversized_body_is_413__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        op: Operation,
    ) -> None:
        admin, ids = admin_and_ids
        before = await row_counts(session)
        huge = {"name": "x" * 70_000}  # the test settings bound bodies at 64 KiB
        response = await client.request(op.method, op.url(ids), json=huge, headers=admin.headers)
        _problem(response, 413)
        assert await row_counts(session) == before

    async def test_every_string_field_is_bounded__R_IN(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        admin_and_ids: tuple[Caller, dict[str, object]],
        op: Operation,
    ) -> None:
        admin, ids = admin_and_ids
        assert op.body_model is not None
        before = await row_counts(session)
        for name, limit in _long_fields(op.body_model):
            response = await client.request(
                op.method, op.url(ids), json={name: "x" * (limit + 1)}, headers=admin.headers
            )
            body = _problem(response, 422)
            assert f"body.{name}" in {e["field"] for e in body["errors"]}, (name, body)
        assert await row_counts(session) == before


async def test_streamed_body_over_the_limit_is_413__R_IN(
    client: httpx.AsyncClient, admin_and_ids: tuple[Caller, dict[str, object]]
) -> None:
    """A chunked upload without Content-Length cannot slip past the bound either."""
    admin, _ = admin_and_ids

    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 8192

    response = await client.post("/v1/candidates", content=chunks(), headers=admin.headers)
    _problem(response, 413)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/candidates?limit=0", "query.limit"),
        ("/v1/candidates?limit=201", "query.limit"),
        ("/v1/candidates?cursor=%%%", "query.cursor"),
        ("/v1/candidates?updated_since=2026-01-01T00:00:00", "query.updated_since"),
        ("/v1/submissions?stage=nowhere", "query.stage"),
    ],
)
async def test_bad_query_parameters_are_named__R_IN(
    client: httpx.AsyncClient,
    admin_and_ids: tuple[Caller, dict[str, object]],
    path: str,
    field: str,
) -> None:
    admin, _ = admin_and_ids
    body = _problem(await client.get(path, headers=admin.headers), 422)
    assert field in {e["field"] for e in body["errors"]}


async def test_unknown_path_and_method_are_problem_json(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_caller(session, "admin")
    await session.commit()
    _problem(await client.get("/v1/nowhere", headers=admin.headers), 404)
    _problem(await client.delete("/v1/candidates", headers=admin.headers), 405)
    _problem(await client.get("/v1/candidates/not-a-number", headers=admin.headers), 422)
