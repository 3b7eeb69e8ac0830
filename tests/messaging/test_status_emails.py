"""Status emails on the business-day clock, delivered through the real `sendgrid` library to the
local SendGrid stand-in (R-CAND-1..6, R-SLA). Worker steps as `candor worker --once --now`.

The client's calendar is America/New_York with US holidays; the candidate lives in New York, so
automated emails go out in the 16:00 EST slot (21:00Z) of the day they fall due.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from app.core import clock
from app.messaging.backends import CUSTOM_ARG, SendGridBackend
from app.messaging.models import Message, MessageEvent, Promise
from tests.support.agency import (
    Agency,
    at,
    submit,
    submit_to_another_job,
    tasks,
    us_agency,
)
from tests.support.mailing import Mailer
from tools.sendgrid_standin import SendGridStandIn

SENTINEL = "SENTINEL-internal-9f3b"


async def candidate_email(client: httpx.AsyncClient, agency: Agency) -> str:
    response = await client.get(
        f"/v1/candidates/{agency.candidate_id}", headers=agency.admin.headers
    )
    email: str = response.json()["email"]
    return email


class TestOneSubmissionsEmails:
    async def test_each_check_tells_the_candidate_in_the_days_slot_and_keeps_its_promise__R_CAND_1(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")  # a backfill: no email now
        await mailer.step("2026-11-08T12:00:00Z")
        assert standin.accepted == []

        await mailer.step("2026-11-09T15:00:00Z")  # first check fires at 10:00 EST
        assert standin.accepted == []  # held for the 16:00 slot
        await mailer.step("2026-11-09T21:00:00Z")
        [first] = standin.accepted
        assert first.to == [await candidate_email(client, agency)]
        assert "no decision yet" in (first.text or "")
        # The second check is due Fri 13 Nov: that is the promise.
        assert "by Friday 13 November" in (first.text or "")
        assert "by Friday 13 November" in (first.html or "")
        [message_id] = first.custom_args.values()
        assert list(first.custom_args) == [CUSTOM_ARG]  # no personal data in custom args

        await mailer.step("2026-11-13T15:00:00Z")
        await mailer.step("2026-11-13T21:00:00Z")
        second = standin.accepted[1]
        assert "by Tuesday 17 November" in (second.text or "")

        promises = (
            await session.execute(
                select(Promise).where(col(Promise.submission_id) == sid).order_by(col(Promise.id))
            )
        ).scalars()
        states = [(str(p.promised_date), p.state) for p in promises]
        assert states == [("2026-11-13", "kept"), ("2026-11-17", "open")]

        # Silence (Tue 17 Nov): the recruiter must decide, and the candidate hears that day, in
        # the 16:00 slot, as promised; nothing else was sent along the way.
        await mailer.step("2026-11-17T15:00:00Z")
        assert len(standin.accepted) == 2
        await mailer.step("2026-11-17T21:00:00Z")
        assert len(standin.accepted) == 3
        third = standin.accepted[2]
        assert "no decision yet" in (third.text or "")
        assert [t["kind"] for t in await tasks(client, agency.recruiter)] == [
            "chase",
            "chase",
            "decide",
        ]
        kept = (
            await session.execute(
                select(col(Promise.promised_date), col(Promise.state))
                .where(col(Promise.submission_id) == sid)
                .order_by(col(Promise.id))
            )
        ).all()
        assert [(str(day), state) for day, state in kept][:2] == [
            ("2026-11-13", "kept"),
            ("2026-11-17", "kept"),
        ]
        sent = await session.get(Message, int(message_id))
        assert sent is not None and sent.state == "sent"
        assert sent.reason == "first check"

        # What was said, over the API: why, to whom, the promise and the delivery story.
        listed = await client.get(
            "/v1/messages", params={"submission_id": sid}, headers=agency.recruiter.headers
        )
        assert listed.status_code == 200, listed.text
        first_listed = listed.json()["items"][0]
        assert first_listed["reason"] == "first check"
        assert first_listed["recipient_email"] == await candidate_email(client, agency)
        assert [e["kind"] for e in first_listed["story"]] == ["held", "sent"]
        assert first_listed["story"][0]["detail"].startswith("R-CAND-4 daily digest slot")
        assert [p["state"] for p in first_listed["promises"]] == ["kept"]
        promised = await client.get(
            f"/v1/submissions/{sid}/promises", headers=agency.recruiter.headers
        )
        assert [(p["promised_date"], p["state"]) for p in promised.json()] == [
            ("2026-11-13", "kept"),
            ("2026-11-17", "kept"),
            ("2026-11-23", "open"),  # the silence email's: the decision is the recruiter's now
        ]

    async def test_an_opted_out_candidate_gets_no_email_but_the_chase_task_appears__R_CAND_5(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        opted = await client.patch(
            f"/v1/candidates/{agency.candidate_id}",
            json={"status_emails_opt_out": True},
            headers=agency.admin.headers,
        )
        assert opted.status_code == 200
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")
        await mailer.step("2026-11-09T15:00:00Z")
        await mailer.step("2026-11-09T21:00:00Z")
        assert standin.accepted == []
        assert [t["kind"] for t in await tasks(client, agency.recruiter)] == ["chase"]
        [refused] = (
            await session.execute(select(Message).where(col(Message.submission_id) == sid))
        ).scalars()
        assert (refused.state, refused.gate_rule) == (
            "refused",
            "R-CAND-5 opted out of automated status emails",
        )


class TestDigest:
    async def test_two_submissions_due_the_same_day_arrive_as_one_email__R_CAND_4(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        await submit(client, agency, "2026-11-02T15:00:00Z")
        # 13:30 EST: its first check falls due at 13:30 on the 9th, the same day.
        await submit_to_another_job(
            client, agency, title="Platform Engineer", submitted_at="2026-11-02T18:30:00Z"
        )
        await mailer.step("2026-11-09T15:00:00Z")
        await mailer.step("2026-11-09T18:30:00Z")
        assert standin.accepted == [], [(m.subject, m.text) for m in standin.accepted]
        await mailer.step("2026-11-09T21:00:00Z")
        [digest] = standin.accepted
        assert digest.subject == "Updates on 2 of your applications"
        assert "Data Engineer" in (digest.text or "") and "Platform Engineer" in (digest.text or "")
        states = sorted(
            m.state
            for m in (
                await session.execute(
                    select(Message).where(col(Message.candidate_id) == agency.candidate_id)
                )
            ).scalars()
        )
        assert states == ["merged", "sent"]


class TestDeliveryFailures:
    async def test_a_429_and_500_storm_delays_and_loses_nothing__R_CAND(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        await submit(client, agency, "2026-11-02T15:00:00Z")
        await mailer.step("2026-11-09T15:00:00Z")
        standin.fail_next(2, status=500)
        standin.fail_next(1, status=429, retry_after=600)
        await mailer.step("2026-11-09T21:00:00Z")  # 500: retried with backoff (15-45 s)
        await mailer.step("2026-11-09T21:10:00Z")  # 500 again (next backoff 30-90 s)
        await mailer.step("2026-11-09T21:20:00Z")  # 429, Retry-After 10 minutes
        assert standin.accepted == [] and standin.requests == 3
        await mailer.step("2026-11-09T21:25:00Z")  # Retry-After is honoured
        assert standin.requests == 3
        await mailer.step("2026-11-09T21:40:00Z")
        assert len(standin.accepted) == 1
        [message] = (await session.execute(select(Message))).scalars()
        assert (message.state, message.attempts) == ("sent", 3)
        story = (
            await session.execute(
                select(col(MessageEvent.kind))
                .where(col(MessageEvent.message_id) == message.id)
                .order_by(col(MessageEvent.id))
            )
        ).scalars()
        assert list(story) == ["held", "retry", "retry", "retry", "sent"]

    async def test_a_permanent_refusal_fails_the_message_and_tells_the_recruiter__R_CAND_5(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        connection: AsyncConnection,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")
        wrong_key = Mailer(connection, standin)
        wrong_key.backend = SendGridBackend(
            api_key="SG.wrong", base_url=standin.base_url, sandbox=False, timeout=5
        )
        try:
            await wrong_key.step("2026-11-09T15:00:00Z")
            await wrong_key.step("2026-11-09T21:00:00Z")
        finally:
            await wrong_key.aclose()
        [message] = (
            await session.execute(select(Message).where(col(Message.submission_id) == sid))
        ).scalars()
        assert message.state == "failed" and (message.failure_reason or "").startswith("401")
        kinds = [t["kind"] for t in await tasks(client, agency.recruiter)]
        assert sorted(kinds) == ["chase", "fix_address"]


class TestNothingInternalReachesTheCandidate:
    async def test_a_sentinel_in_internal_notes_never_appears_in_an_email__R_CAND_6(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")
        body: dict[str, Any] = {
            "submission_id": sid,
            "decision": "hold",
            "internal_notes": f"Hiring manager unsure. {SENTINEL}",
            "shareable_summary": f"Pending approval {SENTINEL}",
            "received_at": "2026-11-03T15:00:00Z",
        }
        assert (
            await client.post("/v1/feedback", json=body, headers=agency.admin.headers)
        ).status_code == 201
        await submit_to_another_job(
            client, agency, title="Analyst", submitted_at="2026-11-02T15:00:00Z"
        )
        for now in ("2026-11-09T15:00:00Z", "2026-11-09T21:00:00Z", "2026-11-13T21:00:00Z"):
            await mailer.step(now)
        assert standin.accepted, "the other submission's status email went out"
        for mail in standin.accepted:
            assert SENTINEL not in str(mail.payload)
        stored = (await session.execute(select(Message))).scalars()
        assert all(SENTINEL not in (m.body_text or "") + (m.body_html or "") for m in stored)


class TestOptOutLink:
    async def test_the_link_in_every_email_stops_automated_emails__R_CAND_5(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        await submit(client, agency, "2026-11-02T15:00:00Z")
        await mailer.step("2026-11-09T15:00:00Z")
        await mailer.step("2026-11-09T21:00:00Z")
        [mail] = standin.accepted
        match = re.search(r"/v1/opt-out/([A-Za-z0-9_-]+)", mail.text or "")
        assert match, mail.text
        assert match.group(0) in (mail.html or "")
        path = match.group(0)

        page = await client.get(path)  # a mail scanner following the link changes nothing
        assert page.status_code == 200 and "<form method='post'" in page.text
        still = await client.get(
            f"/v1/candidates/{agency.candidate_id}", headers=agency.admin.headers
        )
        assert still.json()["status_emails_opt_out"] is False

        done = await client.post(path)
        assert done.status_code == 200
        now_out = await client.get(
            f"/v1/candidates/{agency.candidate_id}", headers=agency.admin.headers
        )
        assert now_out.json()["status_emails_opt_out"] is True
        assert (await client.post(path)).status_code == 200  # harmless twice

        await mailer.step("2026-11-13T15:00:00Z")
        await mailer.step("2026-11-13T21:00:00Z")
        assert len(standin.accepted) == 1  # no more automated emails
        kinds = sorted(t["kind"] for t in await tasks(client, agency.recruiter))
        assert kinds == ["chase", "chase"]  # the recruiter's tasks still fire

    @pytest.mark.parametrize("token", ["x" * 43, "short", "bad token with spaces x"])
    async def test_an_unknown_or_malformed_token_is_refused__R_IN(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        response = await client.post(f"/v1/opt-out/{token}")
        assert response.status_code in (404, 422)
        assert response.headers["content-type"] == "application/problem+json"


class TestFromALiveSubmission:
    async def test_submitted_then_checks_then_a_night_move_each_at_its_local_time__R_CAND_1_3(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        """Submitted live on Mon 2 Nov 10:00 EST: the candidate hears that afternoon, then at each
        check; a move recorded at 22:00 EST on the day of an email waits for the frequency cap
        (2 business days of the agency calendar, counted in the candidate's days: Monday's email
        allows the next on Wednesday) and goes on Wednesday at 16:00."""
        agency = await us_agency(client, session)
        with clock.at(at("2026-11-02T15:00:00Z")):
            sid = await submit(client, agency, "2026-11-02T15:00:00Z")
        await mailer.step("2026-11-02T15:00:00Z")
        assert standin.accepted == []
        await mailer.step("2026-11-02T21:00:00Z")  # 16:00 EST
        [submitted] = standin.accepted
        assert "put you forward for the Data Engineer role" in (submitted.text or "")
        assert "by Monday 9 November" in (submitted.text or "")  # the first check's day

        await mailer.step("2026-11-09T15:00:00Z")
        await mailer.step("2026-11-09T21:00:00Z")
        assert len(standin.accepted) == 2
        assert "by Friday 13 November" in (standin.accepted[1].text or "")

        with clock.at(at("2026-11-10T03:00:00Z")):  # Mon 22:00 EST
            moved = await client.post(
                f"/v1/submissions/{sid}/moves",
                json={"to_stage": "interview_scheduled"},
                headers=agency.admin.headers,
            )
        assert moved.status_code == 200, moved.text
        await mailer.step("2026-11-10T03:00:00Z")
        held = await only_message(session, sid, "interview_scheduled")
        # Due at night, and an email went yesterday: the later rule binds (R-CAND-4).
        assert held.gate_rule == (
            "R-CAND-4 at most one status email per submission per 2 business days"
        )
        assert held.send_at == at("2026-11-11T21:00:00Z")
        await mailer.step("2026-11-10T21:00:00Z")
        assert len(standin.accepted) == 2
        await mailer.step("2026-11-11T21:00:00Z")  # Wed 16:00 EST
        assert len(standin.accepted) == 3
        assert "interview" in (standin.accepted[2].text or "")
        promises = await client.get(f"/v1/submissions/{sid}/promises", headers=agency.admin.headers)
        assert [(p["promised_date"], p["state"]) for p in promises.json()] == [
            ("2026-11-09", "kept"),
            ("2026-11-13", "kept"),  # the interview email came before Friday ended
            # No interview record yet: the policy's 3 business days (R-BT: counted from
            # Thursday's opening, the email went after closing), backed by a promise check.
            ("2026-11-17", "open"),
        ]


async def only_message(session: AsyncSession, submission_id: int, kind: str) -> Message:
    session.expire_all()
    [message] = (
        await session.execute(
            select(Message).where(
                col(Message.submission_id) == submission_id, col(Message.kind) == kind
            )
        )
    ).scalars()
    return message


class TestQuietHours:
    async def test_an_email_due_at_night_waits_for_the_next_days_slot__R_CAND_3(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")  # a backfill: no email
        with clock.at(at("2026-11-04T02:30:00Z")):  # Tue 3 Nov, 21:30 EST
            moved = await client.post(
                f"/v1/submissions/{sid}/moves",
                json={"to_stage": "interview_scheduled"},
                headers=agency.admin.headers,
            )
        assert moved.status_code == 200, moved.text
        await mailer.step("2026-11-04T02:30:00Z")
        held = await only_message(session, sid, "interview_scheduled")
        assert (held.gate_rule, held.send_at) == (
            "R-CAND-3 quiet hours",
            at("2026-11-04T21:00:00Z"),  # Wed 16:00 EST
        )
        await mailer.step("2026-11-04T13:00:00Z")  # Wed 08:00 EST: not before the slot
        assert standin.accepted == []
        await mailer.step("2026-11-04T21:00:00Z")
        [mail] = standin.accepted
        assert "interview you for the Data Engineer role" in (mail.text or "")
