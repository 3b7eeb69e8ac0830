"""Promises that always hold and digests that say each thing once (R-CAND-1, R-CAND-4), one
test per finding of issue 10, on SQLite and PostgreSQL. Worker steps as `candor worker --once
--now`, delivered through the real `sendgrid` library to the local stand-in.

The client's calendar is America/New_York with US holidays (Wed 11 Nov 2026 is Veterans Day);
the candidate lives in New York, so automated emails go in the 16:00 EST slot (21:00Z). The
agency's default calendar (recruiter tasks, promise arithmetic in the drain) is UTC 09-17.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from app.core import clock
from app.core.database import make_sessionmaker
from app.messaging import gate, outbox
from app.messaging.delivery import drain
from app.messaging.models import Message, MessageKind, Promise
from app.sla.models import SlaCheck
from app.tasks.models import Task
from tests.support.agency import Agency, at, submit, submit_to_another_job, us_agency
from tests.support.mailing import Mailer
from tests.support.notes import held_interview
from tools.sendgrid_standin import AcceptedMail, SendGridStandIn

NY = "America/New_York"


async def promises_of(session: AsyncSession, sid: int) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(col(Promise.promised_date), col(Promise.state))
        .where(col(Promise.submission_id) == sid)
        .order_by(col(Promise.id))
    )
    return [(str(day), state) for day, state in rows.all()]


async def pending_promise_checks(session: AsyncSession, sid: int) -> list[Any]:
    rows = await session.execute(
        select(col(SlaCheck.due_at))
        .where(
            col(SlaCheck.submission_id) == sid,
            col(SlaCheck.kind) == "promise",
            col(SlaCheck.state) == "scheduled",
        )
        .order_by(col(SlaCheck.due_at))
    )
    return [due for (due,) in rows.all()]


async def assert_backed(session: AsyncSession, sid: int) -> date:
    """The one open promise of ``sid`` has a promise check on its day; answers the day."""
    open_days = [d for d, state in await promises_of(session, sid) if state == "open"]
    assert len(open_days) == 1, open_days
    day = date.fromisoformat(open_days[0])
    assert await pending_promise_checks(session, sid) == [gate.promise_check_at(day, NY)]
    return day


async def live(client: httpx.AsyncClient, agency: Agency, when: str) -> int:
    with clock.at(at(when)):
        return await submit(client, agency, when)


async def move(client: httpx.AsyncClient, agency: Agency, sid: int, to: str, when: str) -> None:
    with clock.at(at(when)):
        moved = await client.post(
            f"/v1/submissions/{sid}/moves", json={"to_stage": to}, headers=agency.admin.headers
        )
    assert moved.status_code == 200, moved.text


async def interview(
    client: httpx.AsyncClient, agency: Agency, sid: int, starts: str, ends: str
) -> int:
    made = await client.post(
        "/v1/interviews",
        json={
            "submission_id": sid,
            "kind": "video",
            "starts_at": starts,
            "ends_at": ends,
            "interviewer_ids": [agency.contact_id],
        },
        headers=agency.admin.headers,
    )
    assert made.status_code == 201, made.text
    interview_id: int = made.json()["id"]
    return interview_id


async def interviewed_on_thursday(
    client: httpx.AsyncClient, agency: Agency, mailer: Mailer
) -> tuple[int, int]:
    """Submitted and scheduled on Monday 9 Nov (that email goes Monday); interviewed on
    Thursday 12 Nov, marked held and moved at 10:30 EST: a status and an invitation due."""
    sid = await live(client, agency, "2026-11-09T14:00:00Z")
    await move(client, agency, sid, "interview_scheduled", "2026-11-09T14:30:00Z")
    await mailer.step("2026-11-09T21:00:00Z")
    iid = await held_interview(
        client,
        agency,
        sid,
        interviewer_ids=[agency.contact_id],
        starts="2026-11-12T14:00:00Z",
        ends="2026-11-12T15:00:00Z",
        held_at="2026-11-12T15:30:00Z",
    )
    await move(client, agency, sid, "interviewed", "2026-11-12T15:30:00Z")
    return sid, iid


def day_slot(day: date) -> str:
    return gate.promise_slot(day, NY).isoformat()


def texts(mails: list[AcceptedMail]) -> list[str]:
    return [m.text or "" for m in mails]


class TestBackfill:
    async def test_overdue_checks_of_one_submission_say_no_news_once_with_one_promise__R_CAND_4(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")  # a late sync: no email
        # The worker's first round: first (9 Nov), second (13 Nov) and silence (17 Nov) checks
        # are all due and fire together.
        [mail] = await mailer.step("2026-11-17T21:00:00Z")
        assert (mail.text or "").count("no decision yet") == 1
        assert mail.subject == "Update on the Data Engineer role"
        assert len([p for p in await promises_of(session, sid) if p[1] == "open"]) == 1
        news = (
            await session.execute(
                select(col(Message.state)).where(
                    col(Message.submission_id) == sid, col(Message.kind) == "no_news"
                )
            )
        ).all()
        assert [state for (state,) in news] == ["sent"]

    async def test_statuses_queued_side_by_side_go_once_per_application__R_CAND_4(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        """Whatever wrote them (concurrent writers, an older release), two unsent statuses of
        one application never reach the candidate together: the drain keeps the newest."""
        agency = await us_agency(client, session)
        first = await submit(client, agency, "2026-11-02T15:00:00Z")
        second = await submit_to_another_job(
            client, agency, title="Analyst", submitted_at="2026-11-02T15:00:00Z"
        )
        rows = [
            outbox.status_row(
                kind=kind,
                submission_id=sid,
                candidate_id=agency.candidate_id,
                due_at=at(due),
                reason="test: written side by side",
            )
            for kind, sid, due in [
                (MessageKind.submitted, first, "2026-11-03T14:00:00Z"),
                (MessageKind.no_news, first, "2026-11-03T15:00:00Z"),
                (MessageKind.no_news, first, "2026-11-03T16:00:00Z"),
                (MessageKind.submitted, second, "2026-11-03T14:00:00Z"),
            ]
        ]
        await session.execute(insert(Message), rows)
        await session.commit()
        [mail] = await mailer.step("2026-11-03T21:00:00Z")
        assert mail.subject == "Updates on 2 of your applications"
        body = mail.text or ""
        assert body.count("no decision yet") == 1
        assert body.count("I've put you forward") == 1  # the second job's submitted email
        assert len(await promises_of(session, first)) == 1
        assert len(await promises_of(session, second)) == 1
        states = (
            await session.execute(
                select(col(Message.kind), col(Message.state))
                .where(col(Message.submission_id) == first)
                .order_by(col(Message.due_at))
            )
        ).all()
        assert [(kind, state in ("sent", "merged")) for kind, state in states] == [
            ("submitted", False),
            ("no_news", False),
            ("no_news", True),
        ]
        assert [state for _, state in states][:2] == ["superseded", "superseded"]


class TestInterviewScheduled:
    async def test_promises_the_interviews_end_plus_policy_days_and_keeps_it__R_CAND_1(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live(client, agency, "2026-11-09T14:00:00Z")
        await mailer.step("2026-11-09T21:00:00Z")  # the submitted email
        await interview(client, agency, sid, "2026-11-18T15:00:00Z", "2026-11-18T16:00:00Z")
        await move(client, agency, sid, "interview_scheduled", "2026-11-12T14:00:00Z")
        [mail] = await mailer.step("2026-11-12T21:00:00Z")
        body = mail.text or ""
        assert "booked for Wednesday 18 November" in body
        # Ends Wed 16:00Z, 2 business days later (policy) is Friday 20 November.
        assert "You'll hear from me by Friday 20 November, after the interview." in body
        assert await assert_backed(session, sid) == date(2026, 11, 20)

        # Nothing happens (no held interview, no move): the promise check keeps the promise.
        [update] = await mailer.step("2026-11-20T21:00:00Z")
        assert (
            "As promised, a short update on the Data Engineer role with Acme: I don't have news"
            in (update.text or "")
        )
        states = await promises_of(session, sid)
        assert ("2026-11-20", "kept") in states
        await assert_backed(session, sid)  # the update's own date is backed again
        raised = (
            await session.execute(
                select(Task).where(col(Task.submission_id) == sid, col(Task.state) == "open")
            )
        ).scalars()
        assert [t.title for t in raised] == [f"Candidate promised news today on submission {sid}"]

    async def test_before_the_interview_is_synced_still_promises_a_backed_date__R_CAND_1(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live(client, agency, "2026-11-09T14:00:00Z")
        await mailer.step("2026-11-09T21:00:00Z")
        await move(client, agency, sid, "interview_scheduled", "2026-11-12T14:00:00Z")
        [mail] = await mailer.step("2026-11-12T21:00:00Z")
        body = mail.text or ""
        assert "after the interview" not in body
        day = await assert_backed(session, sid)
        from app.messaging.render import long_date

        assert (
            f"I'll confirm the details with you, and you'll hear from me by {long_date(day)}"
            in (body)
        )


class TestStoppedClock:
    async def test_a_queued_submitted_email_after_feedback_promises_only_a_backed_date__R_CAND_1(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live(client, agency, "2026-11-09T14:00:00Z")
        with clock.at(at("2026-11-09T15:00:00Z")):
            given = await client.post(
                "/v1/feedback",
                json={"submission_id": sid, "decision": "advance"},
                headers=agency.admin.headers,
            )
        assert given.status_code == 201, given.text  # the clock stops; no check is left
        [mail] = await mailer.step("2026-11-09T21:00:00Z")
        assert "You'll hear from me by" in (mail.text or "")
        day = await assert_backed(session, sid)
        # On the promised day's slot the promise check keeps it (no clock runs any more).
        await mailer.step(day_slot(day))
        assert (str(day), "kept") in await promises_of(session, sid)
        assert all(state != "broken" for _, state in await promises_of(session, sid))


class TestSilence:
    async def test_the_silence_emails_promise_is_backed_by_more_than_the_decide_task__R_CAND_1(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await submit(client, agency, "2026-11-02T15:00:00Z")
        for slot in ("2026-11-09T21:00:00Z", "2026-11-13T21:00:00Z", "2026-11-17T21:00:00Z"):
            await mailer.step(slot)
        assert len(standin.accepted) == 3  # first, second, silence
        day = await assert_backed(session, sid)
        decide = (
            await session.execute(
                select(Task).where(col(Task.submission_id) == sid, col(Task.kind) == "decide")
            )
        ).scalar_one()
        assert "promised" not in (decide.detail or "")
        before = len((await session.execute(select(col(Task.id)))).all())
        # The recruiter does not decide: on the promised day the candidate hears anyway, and
        # the decide task is raised (it says so), not duplicated.
        [update] = await mailer.step(day_slot(day))
        assert "I don't have news for you yet" in (update.text or "")
        assert (str(day), "kept") in await promises_of(session, sid)
        await session.refresh(decide)
        assert decide.state == "open"
        assert (decide.detail or "").endswith(
            "The candidate was promised news today; Candor sent a short update."
        )
        assert decide.due_at <= at(day_slot(day))
        assert len((await session.execute(select(col(Task.id)))).all()) == before  # none opened
        await assert_backed(session, sid)


class TestOneEmailPerDay:
    async def test_an_overdue_email_at_11_leaves_the_16_oclock_one_for_tomorrow__R_CAND_4(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        await live(client, agency, "2026-11-09T14:00:00Z")  # its slot: Mon 16:00 EST
        # The worker is down on Monday; it comes back on Tuesday at 11:00 EST.
        [overdue] = await mailer.step("2026-11-10T16:00:00Z")
        with clock.at(at("2026-11-10T17:00:00Z")):
            other = await submit_to_another_job(
                client, agency, title="Analyst", submitted_at="2026-11-10T17:00:00Z"
            )
        assert await mailer.step("2026-11-10T21:00:00Z") == []
        held = (
            await session.execute(select(Message).where(col(Message.submission_id) == other))
        ).scalar_one()
        assert held.gate_rule == "R-CAND-4 at most one automated email per candidate per local day"
        assert held.send_at == at("2026-11-11T21:00:00Z")
        [next_day] = await mailer.step("2026-11-11T21:00:00Z")
        assert "Analyst" in (next_day.text or "")
        assert "Data Engineer" in (overdue.text or "")


class TestFoldedIntoTheDaysEmail:
    async def test_what_fell_due_today_joins_the_overdue_email_instead_of_a_second__R_CAND_4(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        await live(client, agency, "2026-11-09T14:00:00Z")  # its slot: Mon 16:00 EST, missed
        with clock.at(at("2026-11-10T14:30:00Z")):  # Tue 09:30 EST: due today
            await submit_to_another_job(
                client, agency, title="Analyst", submitted_at="2026-11-10T14:30:00Z"
            )
        [mail] = await mailer.step("2026-11-10T16:00:00Z")  # the worker is back at 11:00
        assert mail.subject == "Updates on 2 of your applications"
        assert await mailer.step("2026-11-10T21:00:00Z") == []  # nothing left for the slot


class TestDigestSubject:
    async def test_an_interview_email_and_its_note_invitation_are_one_application__R_CAND_4(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid, _ = await interviewed_on_thursday(client, agency, mailer)
        [mail] = await mailer.step("2026-11-12T21:00:00Z")
        assert mail.subject == "Update on the Data Engineer role"
        body = mail.text or ""
        assert "Thank you for interviewing" in body and "short note" in body
        # One section: the status, then the invitation, with no other application between.
        assert body.index("Thank you for interviewing") < body.index("short note")
        # The interview-scheduled promise (kept), and this email's one.
        assert [state for _, state in await promises_of(session, sid)] == ["kept", "open"]


class TestNoteInvitation:
    async def test_an_invitation_whose_note_already_arrived_is_not_sent__R_TY_1_R_CAND_1(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid, iid = await interviewed_on_thursday(client, agency, mailer)
        # The candidate sent the note to the recruiter another way before the 16:00 slot.
        entered = await client.post(
            f"/v1/interviews/{iid}/notes",
            json={"text": "Thank you for your time today, I'm still very interested."},
            headers=agency.recruiter.headers,
        )
        assert entered.status_code == 201, entered.text
        [mail] = await mailer.step("2026-11-12T21:00:00Z")
        assert "short note" not in (mail.text or "")
        assert "Thank you for interviewing" in (mail.text or "")
        invitation = (
            await session.execute(
                select(Message).where(
                    col(Message.submission_id) == sid, col(Message.kind) == "note_invitation"
                )
            )
        ).scalar_one()
        assert invitation.state == "superseded"
        assert invitation.gate_rule == "R-TY-1 the note it invites has already arrived"


class TestOneEmailPerDayAcrossBatches:
    async def test_a_batch_limit_never_splits_ones_day_into_two_emails__R_CAND_4(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        connection: AsyncConnection,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        await live(client, agency, "2026-11-09T14:00:00Z")
        with clock.at(at("2026-11-09T15:00:00Z")):
            await submit_to_another_job(
                client, agency, title="Analyst", submitted_at="2026-11-09T15:00:00Z"
            )
        done = await drain.drain(
            make_sessionmaker(connection),
            now=at("2026-11-09T21:00:00Z"),
            backend=mailer.backend,
            settings=mailer.settings,
            batch=1,  # the first claim takes one message; the candidate's other one comes along
        )
        assert (done.sent_emails, done.messages_sent, done.held) == (1, 2, 0)
        [mail] = standin.accepted
        assert mail.subject == "Updates on 2 of your applications"
