"""R-IN with R-SLA: the instants and dates that once answered 500 are refused with a 422 that
states the range, and the edges of the range are far enough inside what business time covers
that every later computation (a clock's checks, a move, the schedule) still answers.

Once, a stated decision date of 9999-12-31 accepted by PATCH made every later move of that
submission a 500; a `submitted_at` in year 1 answered 500 at once.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.models import DATE_RANGE, EARLIEST_INSTANT, INSTANT_RANGE, LATEST_DATE
from tests.support.agency import Agency, schedule, submit, us_agency, worker_once
from tests.support.database import row_counts

SUBMITTED = "2026-11-02T15:00:00Z"


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(response: httpx.Response, field: str, stated: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    messages = [e["message"] for e in response.json()["errors"] if e["field"] == field]
    assert any(stated in m for m in messages), response.text


async def interview(client: httpx.AsyncClient, agency: Agency, sid: int) -> int:
    h = agency.admin.headers
    await ok(
        await client.post(
            f"/v1/submissions/{sid}/moves",
            json={"to_stage": "interview_scheduled", "occurred_at": "2026-11-02T16:00:00Z"},
            headers=h,
        )
    )
    created = await ok(
        await client.post(
            "/v1/interviews",
            json={
                "submission_id": sid,
                "kind": "video",
                "starts_at": "2026-11-03T14:00:00Z",
                "ends_at": "2026-11-03T15:00:00Z",
                "interviewer_ids": [agency.contact_id],
                "stated_decision_date": "2026-12-01",
            },
            headers=h,
        ),
        201,
    )
    interview_id: int = created["id"]
    return interview_id


class TestDecisionDates:
    async def test_patch_to_9999_is_refused_and_the_latest_date_keeps_moves_working__R_IN_R_SLA_1(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        h = agency.admin.headers
        sid = await submit(client, agency, SUBMITTED)
        interview_id = await interview(client, agency, sid)
        before = await row_counts(session)
        response = await client.patch(
            f"/v1/interviews/{interview_id}", json={"stated_decision_date": "9999-12-31"}, headers=h
        )
        refused(response, "body.stated_decision_date", DATE_RANGE)
        assert await row_counts(session) == before
        got = await ok(await client.get(f"/v1/interviews/{interview_id}", headers=h))
        assert got["stated_decision_date"] == "2026-12-01"

        latest = LATEST_DATE.isoformat()
        await ok(
            await client.patch(
                f"/v1/interviews/{interview_id}", json={"stated_decision_date": latest}, headers=h
            )
        )
        moved = await ok(
            await client.post(
                f"/v1/submissions/{sid}/moves",
                json={"to_stage": "interviewed", "occurred_at": "2026-11-03T15:00:00Z"},
                headers=h,
            )
        )
        assert moved["stage"] == "interviewed"
        running = (await schedule(client, agency, sid))["clocks"][-1]
        assert running["decision_date"] == latest
        # A week of business days after the opening of 31 Dec 2099: in January 2100.
        assert running["checks"][0]["due_at"].startswith("2100-01-")
        await ok(
            await client.post(
                f"/v1/submissions/{sid}/moves", json={"to_stage": "rejected"}, headers=h
            )
        )

    async def test_feedback_on_hold_until_9999_is_refused__R_IN_R_SLA_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        body = {
            "submission_id": sid,
            "decision": "hold",
            "received_at": "2026-11-03T15:00:00Z",
            "stated_decision_date": "9999-12-31",
        }
        before = await row_counts(session)
        response = await client.post("/v1/feedback", json=body, headers=agency.admin.headers)
        refused(response, "body.stated_decision_date", DATE_RANGE)
        assert await row_counts(session) == before
        body["stated_decision_date"] = LATEST_DATE.isoformat()
        await ok(await client.post("/v1/feedback", json=body, headers=agency.admin.headers), 201)
        clocks = (await schedule(client, agency, sid))["clocks"]
        assert clocks[-1]["decision_date"] == LATEST_DATE.isoformat()


class TestSubmittedAt:
    async def test_year_1_is_refused_and_the_earliest_instant_still_runs_the_clock__R_IN_R_SLA_2(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        h = agency.admin.headers
        body = {"candidate_id": agency.candidate_id, "job_id": agency.job_id}
        before = await row_counts(session)
        for year_one in ("0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z"):
            response = await client.post(
                "/v1/submissions", json={**body, "submitted_at": year_one}, headers=h
            )
            refused(response, "body.submitted_at", INSTANT_RANGE)
        assert await row_counts(session) == before

        earliest = EARLIEST_INSTANT.isoformat().replace("+00:00", "Z")
        created = await ok(
            await client.post(
                "/v1/submissions", json={**body, "submitted_at": earliest}, headers=h
            ),
            201,
        )
        assert created["submitted_at"] == earliest
        [clock] = (await schedule(client, agency, created["id"]))["clocks"]
        assert clock["checks"][0]["due_at"].startswith("1970-01-")
        assert await worker_once(connection, "2026-11-09T15:00:00Z") >= 1  # fires, no error
        await ok(
            await client.post(
                f"/v1/submissions/{created['id']}/moves",
                json={"to_stage": "rejected"},
                headers=h,
            )
        )
