"""R-ST over the API: every allowed move works and is recorded, every other move is refused with
the allowed ones named and nothing changed, and backdating never reaches the future (R-IN)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.events.models import Event
from tests.support.factories import Caller, make_caller, make_candidate, make_job, make_submission

PROBLEM_JSON = "application/problem+json"

ALL_STAGES: tuple[str, ...] = (
    "submitted",
    "interview_scheduled",
    "interviewed",
    "offer",
    "placed",
    "rejected",
    "withdrawn",
    "closed",
)
CLOSING: tuple[str, ...] = ("rejected", "withdrawn", "closed")
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "submitted": ("interview_scheduled", *CLOSING),
    "interview_scheduled": ("interviewed", *CLOSING),
    "interviewed": ("interview_scheduled", "offer", *CLOSING),
    "offer": ("placed", *CLOSING),
    "placed": (),
    "rejected": (),
    "withdrawn": (),
    "closed": (),
}
#: A valid way from ``submitted`` to each stage, one move at a time.
PATH_TO: dict[str, tuple[str, ...]] = {
    "submitted": (),
    "interview_scheduled": ("interview_scheduled",),
    "interviewed": ("interview_scheduled", "interviewed"),
    "offer": ("interview_scheduled", "interviewed", "offer"),
    "placed": ("interview_scheduled", "interviewed", "offer", "placed"),
    "rejected": ("rejected",),
    "withdrawn": ("withdrawn",),
    "closed": ("closed",),
}
ALLOWED_PAIRS: list[tuple[str, str]] = [
    (frm, to) for frm, targets in ALLOWED_FROM.items() for to in targets
]
REFUSED_PAIRS: list[tuple[str, str]] = [
    (frm, to)
    for frm, to in itertools.product(ALL_STAGES, ALL_STAGES)
    if to not in ALLOWED_FROM[frm]
]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _iso(instant: datetime) -> str:
    return instant.isoformat()


def _field_errors(response: httpx.Response) -> list[str]:
    body: dict[str, Any] = response.json()
    return [str(error["field"]) for error in body.get("errors") or []]


async def _move(
    client: httpx.AsyncClient, caller: Caller, submission_id: int, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/v1/submissions/{submission_id}/moves", json=body, headers=caller.headers
    )


async def _bring_to(
    client: httpx.AsyncClient, caller: Caller, submission_id: int, stage: str
) -> None:
    for step in PATH_TO[stage]:
        response = await _move(client, caller, submission_id, {"to_stage": step})
        assert response.status_code == 200, response.text
    current = await client.get(f"/v1/submissions/{submission_id}", headers=caller.headers)
    assert current.json()["stage"] == stage


async def _history(
    client: httpx.AsyncClient, caller: Caller, submission_id: int
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/submissions/{submission_id}/moves", headers=caller.headers)
    assert response.status_code == 200, response.text
    moves: list[dict[str, Any]] = response.json()
    return moves


async def _submission(
    client: httpx.AsyncClient, caller: Caller, submission_id: int
) -> dict[str, Any]:
    response = await client.get(f"/v1/submissions/{submission_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _stage_events(session: AsyncSession, submission_id: int) -> list[Event]:
    stmt = (
        select(Event)
        .where(
            col(Event.record_type) == "submission",
            col(Event.record_id) == submission_id,
            col(Event.action) == "submission.stage_changed",
        )
        .order_by(col(Event.id))
    )
    return list((await session.execute(stmt)).scalars())


async def _new_submission(session: AsyncSession, **overrides: Any) -> tuple[Caller, int]:
    admin = await make_caller(session, "admin")
    submission = await make_submission(session, **overrides)
    await session.commit()
    assert submission.id is not None
    return admin, submission.id


class TestEveryAllowedMoveOverTheApi:
    @pytest.mark.parametrize(("from_stage", "to_stage"), ALLOWED_PAIRS)
    async def test_allowed_move_changes_stage_and_is_recorded__R_ST(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        from_stage: str,
        to_stage: str,
    ) -> None:
        admin, sid = await _new_submission(session)
        await _bring_to(client, admin, sid, from_stage)
        before = datetime.now(UTC)

        response = await _move(client, admin, sid, {"to_stage": to_stage, "reason": "because"})

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["stage"] == to_stage
        assert body["allowed_moves"] == list(ALLOWED_FROM[to_stage])
        assert body["stage_changed_at"].endswith("Z")
        assert _instant(body["stage_changed_at"]) >= before
        assert (await _submission(client, admin, sid))["stage"] == to_stage

        history = await _history(client, admin, sid)
        chain = ["submitted", *PATH_TO[from_stage], to_stage]
        assert [m["to_stage"] for m in history] == chain
        assert [m["from_stage"] for m in history] == [None, *chain[:-1]]
        last = history[-1]
        assert last["from_stage"] == from_stage
        assert last["to_stage"] == to_stage
        assert last["actor_type"] == "user"
        assert last["actor_id"] == admin.user_id
        assert last["reason"] == "because"
        assert last["occurred_at"].endswith("Z")
        assert last["recorded_at"].endswith("Z")
        assert _instant(last["occurred_at"]) >= before
        assert _instant(last["recorded_at"]) >= before

        stage_events = await _stage_events(session, sid)
        assert len(stage_events) == len(chain) - 1
        event = stage_events[-1]
        assert event.data["from"] == from_stage
        assert event.data["to"] == to_stage
        assert event.actor_type == "user"
        assert event.actor_id == admin.user_id

    async def test_integration_move_records_the_api_client_as_actor__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        ats = await make_caller(session, "integration")
        submission = await make_submission(session)
        await session.commit()
        assert ats.api_client is not None and submission.id is not None

        response = await _move(client, ats, submission.id, {"to_stage": "interview_scheduled"})

        assert response.status_code == 200, response.text
        last = (await _history(client, ats, submission.id))[-1]
        assert last["actor_type"] == "api_client"
        assert last["actor_id"] == ats.api_client.id


class TestEveryRefusedMoveOverTheApi:
    @pytest.mark.parametrize(("from_stage", "to_stage"), REFUSED_PAIRS)
    async def test_refused_move_names_allowed_moves_and_changes_nothing__R_ST(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        from_stage: str,
        to_stage: str,
    ) -> None:
        admin, sid = await _new_submission(session)
        await _bring_to(client, admin, sid, from_stage)
        submission_before = await _submission(client, admin, sid)
        history_before = await _history(client, admin, sid)
        events_before = len(await _stage_events(session, sid))

        response = await _move(client, admin, sid, {"to_stage": to_stage})

        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        problem = response.json()
        assert problem["status"] == 409
        assert problem["allowed"] == list(ALLOWED_FROM[from_stage])
        detail: str = problem["detail"]
        assert from_stage in detail and to_stage in detail
        for allowed in ALLOWED_FROM[from_stage]:
            assert allowed in detail
        if not ALLOWED_FROM[from_stage]:
            assert "final" in detail

        assert await _submission(client, admin, sid) == submission_before
        assert await _history(client, admin, sid) == history_before
        assert len(await _stage_events(session, sid)) == events_before


class TestBackdatedMoves:
    async def test_past_occurred_at_is_kept_and_answered_in_utc__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        ten_days_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
        admin, sid = await _new_submission(session, submitted_at=ten_days_ago)
        given = (ten_days_ago + timedelta(days=7)).astimezone(timezone(timedelta(hours=2)))

        response = await _move(
            client, admin, sid, {"to_stage": "interview_scheduled", "occurred_at": _iso(given)}
        )

        assert response.status_code == 200, response.text
        body = response.json()
        expected = given.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert body["stage_changed_at"] == expected
        last = (await _history(client, admin, sid))[-1]
        assert last["occurred_at"] == expected
        assert _instant(last["recorded_at"]) > _instant(last["occurred_at"])
        event = (await _stage_events(session, sid))[-1]
        assert _instant(event.data["occurred_at"]) == given

    async def test_occurred_at_equal_to_stage_start_is_accepted__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        admin, sid = await _new_submission(session, submitted_at=started)

        response = await _move(
            client, admin, sid, {"to_stage": "withdrawn", "occurred_at": _iso(started)}
        )

        assert response.status_code == 200, response.text
        assert _instant(response.json()["stage_changed_at"]) == started


class TestRefusedMoveInstants:
    async def _assert_refused_unchanged(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        body: dict[str, Any],
        *,
        submitted_at: datetime | None = None,
    ) -> httpx.Response:
        overrides: dict[str, Any] = {} if submitted_at is None else {"submitted_at": submitted_at}
        admin, sid = await _new_submission(session, **overrides)
        submission_before = await _submission(client, admin, sid)
        history_before = await _history(client, admin, sid)

        response = await _move(client, admin, sid, body)

        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert await _submission(client, admin, sid) == submission_before
        assert await _history(client, admin, sid) == history_before
        assert await _stage_events(session, sid) == []
        return response

    async def test_future_occurred_at_is_refused__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        future = datetime.now(UTC) + timedelta(hours=1)
        response = await self._assert_refused_unchanged(
            client, session, {"to_stage": "interview_scheduled", "occurred_at": _iso(future)}
        )
        assert "body.occurred_at" in _field_errors(response)

    async def test_occurred_at_before_current_stage_began_is_refused__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        two_days_ago = datetime.now(UTC) - timedelta(days=2)
        response = await self._assert_refused_unchanged(
            client,
            session,
            {
                "to_stage": "interview_scheduled",
                "occurred_at": _iso(two_days_ago - timedelta(days=1)),
            },
            submitted_at=two_days_ago,
        )
        assert "body.occurred_at" in _field_errors(response)

    async def test_naive_occurred_at_is_refused__R_ST_R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        naive = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None)
        response = await self._assert_refused_unchanged(
            client, session, {"to_stage": "interview_scheduled", "occurred_at": _iso(naive)}
        )
        assert "body.occurred_at" in _field_errors(response)

    async def test_unknown_field_in_move_body_is_refused__R_ST_R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        response = await self._assert_refused_unchanged(
            client, session, {"to_stage": "interview_scheduled", "stage": "placed"}
        )
        assert "body.stage" in _field_errors(response)

    async def test_unknown_stage_name_is_refused__R_ST_R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        response = await self._assert_refused_unchanged(client, session, {"to_stage": "hired"})
        assert "body.to_stage" in _field_errors(response)


class TestStageOnlyMovesThroughMoves:
    async def test_patch_cannot_smuggle_a_stage__R_ST_R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin, sid = await _new_submission(session)
        before = await _submission(client, admin, sid)

        response = await client.patch(
            f"/v1/submissions/{sid}", json={"stage": "placed"}, headers=admin.headers
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert "body.stage" in _field_errors(response)
        assert await _submission(client, admin, sid) == before
        assert await _stage_events(session, sid) == []

    async def test_create_cannot_smuggle_a_stage__R_ST_R_IN(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        candidate = await make_candidate(session)
        job = await make_job(session)
        await session.commit()

        response = await client.post(
            "/v1/submissions",
            json={"candidate_id": candidate.id, "job_id": job.id, "stage": "offer"},
            headers=admin.headers,
        )

        assert response.status_code == 422, response.text
        assert "body.stage" in _field_errors(response)
        listed = await client.get(
            "/v1/submissions", params={"candidate_id": candidate.id}, headers=admin.headers
        )
        assert listed.json()["items"] == []


class TestBackdatedSubmission:
    async def test_past_submitted_at_with_offset_is_kept_and_answered_in_utc__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        candidate = await make_candidate(session)
        job = await make_job(session)
        await session.commit()
        given = (datetime.now(UTC).replace(microsecond=0) - timedelta(days=4)).astimezone(
            timezone(timedelta(hours=-5))
        )
        expected = given.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        response = await client.post(
            "/v1/submissions",
            json={"candidate_id": candidate.id, "job_id": job.id, "submitted_at": _iso(given)},
            headers=admin.headers,
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["submitted_at"] == expected
        assert body["stage_changed_at"] == expected
        read_back = await _submission(client, admin, body["id"])
        assert read_back["submitted_at"] == expected
        history = await _history(client, admin, body["id"])
        assert [(m["from_stage"], m["to_stage"]) for m in history] == [(None, "submitted")]
        assert _instant(history[0]["occurred_at"]) == given

    async def test_future_submitted_at_is_refused_and_creates_nothing__R_ST(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        admin = await make_caller(session, "admin")
        candidate = await make_candidate(session)
        job = await make_job(session)
        await session.commit()
        future = datetime.now(UTC) + timedelta(hours=1)

        response = await client.post(
            "/v1/submissions",
            json={"candidate_id": candidate.id, "job_id": job.id, "submitted_at": _iso(future)},
            headers=admin.headers,
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert "body.submitted_at" in _field_errors(response)
        listed = await client.get(
            "/v1/submissions", params={"candidate_id": candidate.id}, headers=admin.headers
        )
        assert listed.json()["items"] == []
        created_events = await session.scalar(
            select(func.count()).select_from(Event).where(col(Event.action) == "submission.created")
        )
        assert created_events == 0
