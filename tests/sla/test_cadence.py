"""The cadence of checks on a business-day clock (R-SLA 1-6, R-CALL), walked with worker steps.

The client's calendar is America/New_York with US holidays (Veterans Day, Wed 11 November 2026,
is a holiday); the hiring manager works in Chicago. Expected instants are worked out by hand.
"""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from app.events.models import Event
from tests.support.agency import schedule, submit, tasks, us_agency, worker_once

# Submitted Monday 2 November 2026, 10:00 EST.
SUBMITTED = "2026-11-02T15:00:00Z"
# 5 business days later: Mon 9 Nov 10:00 EST.
FIRST_DUE = "2026-11-09T15:00:00Z"
FIRST_BREACH = "2026-11-10T15:00:00Z"
# 3 business days after the first, skipping Veterans Day: Fri 13 Nov.
SECOND_DUE = "2026-11-13T15:00:00Z"
# Its breach a business day later: Monday 16 Nov.
SECOND_BREACH = "2026-11-16T15:00:00Z"
# 5 business days after the first: Tue 17 Nov.
SILENCE_DUE = "2026-11-17T15:00:00Z"
SILENCE_BREACH = "2026-11-18T15:00:00Z"


class TestOneSubmissionThroughItsChecks:
    async def test_checks_fire_on_their_due_instants_exactly_once__R_SLA_1_2_3_4_6(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)

        # R-SLA-6: the whole schedule is visible before anything fires.
        plan = await schedule(client, agency, sid)
        [clock] = plan["clocks"]
        assert [(c["kind"], c["due_at"], c["breach_at"], c["state"]) for c in clock["checks"]] == [
            ("first", FIRST_DUE, FIRST_BREACH, "scheduled"),
            ("second", SECOND_DUE, SECOND_BREACH, "scheduled"),
            ("silence", SILENCE_DUE, SILENCE_BREACH, "scheduled"),
        ]

        assert await worker_once(connection, "2026-11-09T14:59:59Z") == 0
        assert await worker_once(connection, FIRST_DUE) == 1
        assert await worker_once(connection, FIRST_DUE) == 0  # fires once

        [chase] = await tasks(client, agency.recruiter)
        assert chase["kind"] == "chase"
        assert (chase["due_at"], chase["breach_at"]) == (FIRST_DUE, FIRST_BREACH)
        assert chase["contact_id"] == agency.contact_id
        assert chase["assignee_id"] == agency.recruiter.user_id
        # R-CALL: due 09:00 in Chicago, so the next window is 10:00-11:00 CST that day.
        assert chase["call_window_start_at"] == "2026-11-09T16:00:00Z"
        assert chase["call_window_end_at"] == "2026-11-09T17:00:00Z"

        assert await worker_once(connection, "2026-11-12T23:00:00Z") == 0
        assert await worker_once(connection, SECOND_DUE) == 1
        second = [t for t in await tasks(client, agency.recruiter) if t["due_at"] == SECOND_DUE]
        assert [(t["kind"], t["breach_at"]) for t in second] == [("chase", SECOND_BREACH)]
        # Second check lands 3-4 business days after the first (R-SLA-3): breach Monday.

        assert await worker_once(connection, SILENCE_DUE) == 1
        decide = await tasks(client, agency.recruiter, kind="decide")
        assert [(t["due_at"], t["breach_at"], t["state"]) for t in decide] == [
            (SILENCE_DUE, SILENCE_BREACH, "open")
        ]

        fired = (await schedule(client, agency, sid))["clocks"][0]["checks"]
        assert [c["state"] for c in fired] == ["fired", "fired", "fired"]
        assert [c["fired_at"] for c in fired] == [FIRST_DUE, SECOND_DUE, SILENCE_DUE]
        events = (
            await session.execute(
                select(Event).where(
                    col(Event.action) == "sla.check_fired", col(Event.record_id) == sid
                )
            )
        ).scalars()
        assert sorted(e.data["kind"] for e in events) == ["first", "second", "silence"]

    async def test_a_late_worker_still_places_checks_on_their_due_instants__R_SLA_6(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        await submit(client, agency, SUBMITTED)
        # A worker that was down for two weeks catches up; nothing drifts to its run time.
        assert await worker_once(connection, "2026-11-30T12:00:00Z") == 3
        found = await tasks(client, agency.recruiter)
        assert sorted(t["due_at"] for t in found) == [FIRST_DUE, SECOND_DUE, SILENCE_DUE]
        assert all(t["overdue"] for t in found if t["kind"] == "chase")


class TestStatedDecisionDate:
    async def _to_interviewed(
        self, client: httpx.AsyncClient, agency: object, sid: int, decision_date: str
    ) -> int:
        from tests.support.agency import Agency

        assert isinstance(agency, Agency)
        h = agency.admin.headers
        moved = await client.post(
            f"/v1/submissions/{sid}/moves",
            json={"to_stage": "interview_scheduled", "occurred_at": "2026-11-02T16:00:00Z"},
            headers=h,
        )
        assert moved.status_code == 200, moved.text
        interview = await client.post(
            "/v1/interviews",
            json={
                "submission_id": sid,
                "kind": "video",
                "starts_at": "2026-11-03T14:00:00Z",
                "ends_at": "2026-11-03T15:00:00Z",
                "interviewer_ids": [agency.contact_id],
                "stated_decision_date": decision_date,
            },
            headers=h,
        )
        assert interview.status_code == 201, interview.text
        moved = await client.post(
            f"/v1/submissions/{sid}/moves",
            json={"to_stage": "interviewed", "occurred_at": "2026-11-03T15:00:00Z"},
            headers=h,
        )
        assert moved.status_code == 200, moved.text
        interview_id: int = interview.json()["id"]
        return interview_id

    async def test_first_check_is_a_week_after_a_later_stated_date__R_SLA_1(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        await self._to_interviewed(client, agency, sid, "2026-12-01")
        clocks = (await schedule(client, agency, sid))["clocks"]
        # The submitted clock stopped when the submission moved on (R-SLA-5).
        assert clocks[0]["stopped_at"] == "2026-11-02T16:00:00Z"
        assert {c["state"] for c in clocks[0]["checks"]} == {"cancelled"}
        running = clocks[-1]
        assert running["stage"] == "interviewed" and running["decision_date"] == "2026-12-01"
        first = running["checks"][0]
        # 5 business days after the opening of Tue 1 Dec (09:00 EST): Tue 8 Dec, 09:00 EST.
        # (5 business days after the interview alone would be Tue 10 Nov: earlier, so not used.)
        assert (first["kind"], first["due_at"]) == ("first", "2026-12-08T14:00:00Z")
        assert running["checks"][1]["due_at"] == "2026-12-11T14:00:00Z"  # +3 business days

    async def test_an_earlier_stated_date_does_not_pull_the_first_check_forward__R_SLA_1(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        await self._to_interviewed(client, agency, sid, "2026-11-03")
        first = (await schedule(client, agency, sid))["clocks"][-1]["checks"][0]
        # Interviewed Tue 3 Nov 10:00 EST + 5 business days (Veterans Day skipped) = Tue 10 Nov;
        # a week after the stated date (opening Tue 3 Nov) is Tue 10 Nov 09:00: the later wins.
        assert first["due_at"] == "2026-11-10T15:00:00Z"

    async def test_changing_the_stated_date_moves_the_first_check__R_SLA_1(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        interview_id = await self._to_interviewed(client, agency, sid, "2026-12-01")
        patched = await client.patch(
            f"/v1/interviews/{interview_id}",
            json={"stated_decision_date": "2026-11-20"},
            headers=agency.admin.headers,
        )
        assert patched.status_code == 200, patched.text
        running = (await schedule(client, agency, sid))["clocks"][-1]
        assert running["decision_date"] == "2026-11-20"
        assert running["started_at"] == "2026-11-03T15:00:00Z"  # the same waiting period
        # Opening of Fri 20 Nov + 5 business days = Fri 27 Nov? Thanksgiving (Thu 26 Nov) is
        # a holiday: Mon 23, Tue 24, Wed 25, Fri 27, Mon 30 Nov, 09:00 EST.
        assert running["checks"][0]["due_at"] == "2026-11-30T14:00:00Z"


class TestFeedbackStopsTheClock:
    async def test_feedback_cancels_pending_checks_and_open_chases__R_SLA_5(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        assert await worker_once(connection, FIRST_DUE) == 1
        given = await client.post(
            "/v1/feedback",
            json={
                "submission_id": sid,
                "decision": "advance",
                "received_at": "2026-11-10T18:00:00Z",
            },
            headers=agency.admin.headers,
        )
        assert given.status_code == 201, given.text
        [clock] = (await schedule(client, agency, sid))["clocks"]
        assert clock["stop_reason"] == "feedback"
        assert [c["state"] for c in clock["checks"]] == ["fired", "cancelled", "cancelled"]
        [chase] = await tasks(client, agency.admin, submission_id=sid)
        assert (chase["state"], chase["resolution"]) == ("cancelled", "feedback")
        assert await worker_once(connection, "2026-12-31T15:00:00Z") == 0

    async def test_hold_with_a_new_date_restarts_the_clock_by_rule_1__R_SLA_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        given = await client.post(
            "/v1/feedback",
            json={
                "submission_id": sid,
                "decision": "hold",
                "stated_decision_date": "2026-12-14",
                "received_at": "2026-11-05T18:00:00Z",
            },
            headers=agency.admin.headers,
        )
        assert given.status_code == 201, given.text
        old, new = (await schedule(client, agency, sid))["clocks"]
        assert old["stop_reason"] == "feedback"
        assert new["started_at"] == "2026-11-05T18:00:00Z"
        assert new["decision_date"] == "2026-12-14"
        # Opening of Mon 14 Dec + 5 business days = Mon 21 Dec, 09:00 EST.
        assert new["checks"][0]["due_at"] == "2026-12-21T14:00:00Z"

    async def test_a_move_to_a_non_waiting_stage_stops_the_clock__R_SLA_5(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        moved = await client.post(
            f"/v1/submissions/{sid}/moves",
            json={"to_stage": "withdrawn", "occurred_at": "2026-11-04T15:00:00Z"},
            headers=agency.admin.headers,
        )
        assert moved.status_code == 200
        [clock] = (await schedule(client, agency, sid))["clocks"]
        assert clock["stopped_at"] == "2026-11-04T15:00:00Z"
        assert await worker_once(connection, "2026-12-31T15:00:00Z") == 0


class TestSilence:
    async def test_keep_waiting_schedules_one_more_check_three_business_days_later__R_SLA_4(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        assert await worker_once(connection, SILENCE_DUE) == 3
        [decide] = await tasks(client, agency.recruiter, kind="decide")
        kept = await client.post(
            f"/v1/tasks/{decide['id']}/keep-waiting", headers=agency.recruiter.headers
        )
        assert kept.status_code == 200, kept.text
        assert (kept.json()["state"], kept.json()["resolution"]) == ("done", "kept_waiting")
        checks = (await schedule(client, agency, sid))["clocks"][0]["checks"]
        extra = [c for c in checks if c["kind"] == "extra"]
        assert len(extra) == 1 and extra[0]["state"] == "scheduled"
        # Three business days after the decision (made now, by the wall clock).
        from app.calendar import business_time as bt
        from tests.support.agency import at

        us = bt.Calendar(time_zone="America/New_York", country="US")
        decided = at(kept.json()["completed_at"])
        assert at(extra[0]["due_at"]) == bt.add_business_days(us, decided, 3)
        again = await client.post(
            f"/v1/tasks/{decide['id']}/keep-waiting", headers=agency.recruiter.headers
        )
        assert again.status_code == 409

    async def test_close_answers_the_decide_task_and_closes_the_submission__R_SLA_4(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, SUBMITTED)
        await worker_once(connection, SILENCE_DUE)
        [decide] = await tasks(client, agency.recruiter, kind="decide")
        closed = await client.post(
            f"/v1/tasks/{decide['id']}/close-submission", headers=agency.recruiter.headers
        )
        assert closed.status_code == 200, closed.text
        assert (closed.json()["state"], closed.json()["resolution"]) == ("done", "closed")
        sub = await client.get(f"/v1/submissions/{sid}", headers=agency.admin.headers)
        assert sub.json()["stage"] == "closed"
        moves = await client.get(f"/v1/submissions/{sid}/moves", headers=agency.admin.headers)
        assert moves.json()[-1]["actor_id"] == agency.recruiter.user_id

    async def test_completing_a_decide_task_without_a_decision_is_refused__R_SLA_4(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        await submit(client, agency, SUBMITTED)
        await worker_once(connection, SILENCE_DUE)
        [decide] = await tasks(client, agency.recruiter, kind="decide")
        response = await client.post(
            f"/v1/tasks/{decide['id']}/complete", json={}, headers=agency.recruiter.headers
        )
        assert response.status_code == 409

    async def test_auto_close_policy_closes_on_silence_instead__R_SLA_4_7(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session)
        policy = await client.patch(
            "/v1/policy", json={"auto_close_on_silence": True}, headers=agency.admin.headers
        )
        assert policy.status_code == 200 and policy.json()["auto_close_on_silence"] is True
        sid = await submit(client, agency, SUBMITTED)
        assert await worker_once(connection, SILENCE_DUE) == 3
        assert await tasks(client, agency.recruiter, kind="decide") == []
        sub = (await client.get(f"/v1/submissions/{sid}", headers=agency.admin.headers)).json()
        assert sub["stage"] == "closed"
        last = (
            await client.get(f"/v1/submissions/{sid}/moves", headers=agency.admin.headers)
        ).json()[-1]
        assert (last["actor_type"], last["reason"], last["occurred_at"]) == (
            "system",
            "silence",
            SILENCE_DUE,
        )


class TestPolicyNumbers:
    async def test_an_admin_changes_the_numbers_for_new_clocks__R_SLA_7(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        defaults = (await client.get("/v1/policy", headers=agency.recruiter.headers)).json()
        assert (defaults["first_check_days"], defaults["second_check_days"]) == (5, 3)
        assert (defaults["breach_days"], defaults["silence_days"]) == (1, 5)
        assert (defaults["review_due_hours"], defaults["review_breach_hours"]) == (2, 4)
        refused = await client.patch(
            "/v1/policy", json={"first_check_days": 3}, headers=agency.recruiter.headers
        )
        assert refused.status_code == 403
        changed = await client.patch(
            "/v1/policy", json={"first_check_days": 3}, headers=agency.admin.headers
        )
        assert changed.status_code == 200
        sid = await submit(client, agency, SUBMITTED)
        first = (await schedule(client, agency, sid))["clocks"][0]["checks"][0]
        assert first["due_at"] == "2026-11-05T15:00:00Z"  # Mon + 3 business days = Thu


class TestChaseRespectsTheContactPolicy:
    async def test_a_do_not_contact_primary_contact_is_never_named__R_CP_2(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session, contact_policy="do_not_contact")
        await submit(client, agency, SUBMITTED)
        await worker_once(connection, FIRST_DUE)
        [chase] = await tasks(client, agency.recruiter)
        assert chase["contact_id"] is None and chase["call_window_start_at"] is None
        assert "may not be chased" in chase["detail"]

    async def test_a_contact_who_asked_not_to_be_chased_is_not_named__R_CP_3(
        self, client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        agency = await us_agency(client, session, no_chase=True)
        await submit(client, agency, SUBMITTED)
        await worker_once(connection, FIRST_DUE)
        [chase] = await tasks(client, agency.recruiter)
        assert chase["contact_id"] is None
