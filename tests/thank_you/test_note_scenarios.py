"""Thank-you notes end to end (R-TY, R-CP): real HTTP through the candidate's private link, the
recruiter's review over the API, and delivery through the real `sendgrid` library to the local
SendGrid stand-in, with `worker --once --now` steps.

The candidate lives in New York (status emails in the 16:00 EST slot, 21:00Z in November); the
agency has no default calendar, so recruiter tasks run on the fallback (UTC, 09:00-17:00).
"""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import clock
from app.messaging.models import Message
from tests.support.agency import Agency, at, submit, tasks, us_agency
from tests.support.mailing import Mailer
from tests.support.notes import (
    GOOD_NOTE,
    NOTE_LINK,
    add_contact,
    held_interview,
    note_link,
    post_ok,
    review,
    the_note,
    write,
)
from tools.sendgrid_standin import AcceptedMail, SendGridStandIn

CHANGE_LINK = re.compile(r"same link as before \(\S*/v1/portal/([A-Za-z0-9_-]+)\)")
EDITED = (
    "Dear Hana,\n\nThank you for meeting me on Tuesday. I enjoyed hearing about the data "
    "platform, and I remain very interested in the role.\n\nKind regards,\nSam"
)


def invitations(mails: list[AcceptedMail]) -> list[AcceptedMail]:
    return [m for m in mails if "short note" in (m.text or "")]


def notes_sent(mails: list[AcceptedMail]) -> list[AcceptedMail]:
    return [m for m in mails if (m.subject or "").startswith("A thank-you note from")]


async def live_submission(client: httpx.AsyncClient, agency: Agency) -> int:
    with clock.at(at("2026-11-09T14:00:00Z")):
        return await submit(client, agency, "2026-11-09T14:00:00Z")


def recruiter_email(agency: Agency) -> str:
    assert agency.recruiter.user is not None
    return agency.recruiter.user.email


class TestApprovedWithAnEdit:
    async def test_held_interview_invites_then_the_edited_note_reaches_exactly_the_interviewers__R_TY_1_R_TY_3_R_TY_5_R_CP_2(  # noqa: E501
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)  # Hana Hiring: open, in Chicago
        ivan = await add_contact(client, agency, "Ivan Interviewer")
        rita = await add_contact(client, agency, "Rita Reserved", contact_policy="recruiter_only")
        dora = await add_contact(client, agency, "Dora Distant", contact_policy="do_not_contact")
        bystander = await add_contact(client, agency, "Bea Bystander")  # not in the interview
        sid = await live_submission(client, agency)
        # The submitted email goes in Monday's slot (R-CAND-4: one automated email a day, so a
        # worker first running on Tuesday would have left the invitation for Wednesday).
        await mailer.step("2026-11-09T21:00:00Z")
        interview_id = await held_interview(
            client, agency, sid, interviewer_ids=[agency.contact_id, ivan, rita, dora]
        )

        # R-TY-1: the invitation goes through the gate: the candidate's 16:00 slot.
        assert invitations(await mailer.step("2026-11-10T16:30:00Z")) == []
        [invitation] = invitations(await mailer.step("2026-11-10T21:00:00Z"))
        assert invitation.to == ["sam@mail.example"]
        assert "within a day of the interview" in (invitation.text or "")
        match = NOTE_LINK.search(invitation.text or "")
        assert match is not None
        token = match.group(1)
        assert len(token) >= 22  # >= 128 bits, URL-safe base64
        stored = (await session.execute(select(col(Message.body_text)))).scalars().all()
        assert stored and all(token not in (body or "") for body in stored)  # only hashes kept

        typo = GOOD_NOTE.replace("platform", "platfrom")
        written = await write(client, token, typo, "2026-11-10T22:00:00Z")
        assert written.status_code == 201, written.text
        assert written.json()["note"]["state"] == "awaiting_review"

        note = await the_note(client, agency, interview_id)
        assert note["late"] is False and note["source"] == "candidate"
        [first] = note["versions"]
        assert [f["code"] for f in first["findings"]] == ["spelling"]
        span = first["findings"][0]
        assert typo[span["start"] : span["end"]] == "platfrom"
        # R-TY-4: due 2 business hours after arrival, breached at 4 (22:00Z is after closing:
        # counted from Wednesday's 09:00 opening).
        assert at(note["review_due_at"]) == at("2026-11-11T11:00:00Z")
        assert at(note["review_breach_at"]) == at("2026-11-11T13:00:00Z")
        queue = await client.get("/v1/notes/review-queue", headers=agency.recruiter.headers)
        assert [n["id"] for n in queue.json()] == [note["id"]]
        [review_task] = await tasks(client, agency.recruiter, kind="review")
        assert review_task["id"] == note["review_task_id"]

        approved = await review(
            client, agency, note["id"], "approve", {"text": EDITED}, "2026-11-11T14:00:00Z"
        )
        assert approved["state"] == "approved" and approved["approved_version"] == 2
        assert [(v["number"], v["author"]) for v in approved["versions"]] == [
            (1, "candidate"),
            (2, "recruiter_edit"),
        ]
        assert approved["versions"][0]["text"] == typo  # both versions kept
        outcomes = {r["contact_id"]: r["outcome"] for r in approved["recipients"]}
        assert outcomes == {
            agency.contact_id: "emailed",
            ivan: "emailed",
            rita: "pass_on",
            dora: "withheld",
        }
        [(dora_reason)] = [r["reason"] for r in approved["recipients"] if r["contact_id"] == dora]
        assert dora_reason.startswith("R-CP-2 do_not_contact")

        delivered = notes_sent(await mailer.step("2026-11-11T14:00:00Z"))
        assert sorted(m.to[0] for m in delivered) == ["hana@acme.example", "ivan@acme.example"]
        for mail in delivered:
            assert len(mail.to) == 1  # each interviewer their own email
            assert mail.cc == [recruiter_email(agency)]
            assert mail.payload["reply_to"]["email"] == recruiter_email(agency)
            assert "Kind regards" in (mail.text or "") and "platfrom" not in (mail.text or "")
            assert "sam@mail.example" not in (mail.text or "")  # R-CP-1: through the recruiter
        everyone = {address for mail in standin.accepted for address in mail.recipients}
        assert not everyone & {"rita@acme.example", "dora@acme.example", "bea@acme.example"}
        assert bystander not in outcomes

        pass_on = await tasks(client, agency.recruiter, kind="pass_on")
        assert [t["contact_id"] for t in pass_on] == [rita]
        every_task = await tasks(client, agency.recruiter)
        assert all(t["contact_id"] != dora for t in every_task)  # nobody asked to contact her
        assert [t["state"] for t in await tasks(client, agency.recruiter, kind="review")] == [
            "done"
        ]

        with clock.at(at("2026-11-11T15:00:00Z")):
            seen = await client.get(f"/v1/portal/{token}/note")
        assert seen.status_code == 200, seen.text
        assert seen.json()["note"]["sent_text"] == EDITED
        assert seen.json()["can_write"] is False


class TestChangesRequested:
    async def test_a_change_request_reaches_the_candidate_and_the_new_version_is_approved__R_TY_3(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live_submission(client, agency)
        interview_id = await held_interview(
            client, agency, sid, interviewer_ids=[agency.contact_id]
        )
        token = await note_link(client, agency, interview_id, "2026-11-10T17:00:00Z")
        pushy = GOOD_NOTE + "\n\nWhen will I hear back? I need an answer ASAP!!"
        assert (await write(client, token, pushy, "2026-11-10T17:05:00Z")).status_code == 201
        again = await write(client, token, GOOD_NOTE, "2026-11-10T17:06:00Z")
        assert again.status_code == 409  # with the recruiter already
        note = await the_note(client, agency, interview_id)
        codes = [f["code"] for f in note["versions"][0]["findings"]]
        assert codes == ["pressure", "pressure", "pressure", "pressure"]

        comment = "Lovely note. Could you leave out the last paragraph? It can read as pressure."
        await review(
            client,
            agency,
            note["id"],
            "request-changes",
            {"comment": comment},
            "2026-11-10T18:00:00Z",
        )
        # A recruiter's own message: no waiting for the daily slot, only for quiet hours.
        [told] = await mailer.step("2026-11-10T18:00:00Z")
        assert told.to == ["sam@mail.example"]
        assert comment in (told.text or "")
        # The email carries a fresh note link (the first may expire before they answer).
        fresh = CHANGE_LINK.search(told.text or "")
        assert fresh is not None and fresh.group(1) != token
        with clock.at(at("2026-11-10T18:30:00Z")):
            view = (await client.get(f"/v1/portal/{token}/note")).json()
        assert view["note"]["state"] == "changes_requested"
        assert view["note"]["comment"] == comment and view["can_write"] is True

        second = await write(client, fresh.group(1), GOOD_NOTE, "2026-11-10T19:00:00Z")
        assert second.status_code == 201, second.text
        note = await the_note(client, agency, interview_id)
        assert [v["number"] for v in note["versions"]] == [1, 2]
        assert note["versions"][1]["findings"] == []
        reviews = await tasks(client, agency.recruiter, kind="review")
        assert sorted(t["state"] for t in reviews) == ["done", "open"]  # a new review task

        await review(client, agency, note["id"], "approve", {}, "2026-11-10T20:00:00Z")
        [sent] = notes_sent(await mailer.step("2026-11-10T20:00:00Z"))  # 14:00 in Chicago
        assert sent.to == ["hana@acme.example"]
        assert "I need an answer" not in (sent.text or "")
        assert "very interested in the role" in (sent.text or "")


class TestWithheldLateAndAfterRejection:
    async def test_a_withheld_note_tells_the_candidate_kindly_and_reaches_nobody__R_TY_3(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live_submission(client, agency)
        interview_id = await held_interview(
            client, agency, sid, interviewer_ids=[agency.contact_id]
        )
        token = await note_link(client, agency, interview_id, "2026-11-10T17:00:00Z")
        await write(client, token, GOOD_NOTE, "2026-11-10T17:05:00Z")
        note = await the_note(client, agency, interview_id)
        reason = "Mentions a salary figure the client asked us to keep private"
        done = await review(
            client, agency, note["id"], "withhold", {"reason": reason}, "2026-11-10T18:00:00Z"
        )
        assert done["state"] == "withheld" and done["recipients"] == []
        sent = await mailer.step("2026-11-10T18:00:00Z")
        [told] = [m for m in sent if "decided not to pass it on" in (m.text or "")]
        assert told.to == ["sam@mail.example"]
        assert "salary" not in (told.text or "")  # the reason stays internal
        assert all(m.to != ["hana@acme.example"] for m in standin.accepted)
        with clock.at(at("2026-11-10T18:30:00Z")):
            view = (await client.get(f"/v1/portal/{token}/note")).json()
        assert view["note"]["state"] == "withheld" and "salary" not in str(view)

    async def test_a_note_after_the_24_hour_window_is_accepted_and_marked_late__R_TY_4(
        self, client: httpx.AsyncClient, session: AsyncSession, mailer: Mailer
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live_submission(client, agency)
        interview_id = await held_interview(
            client, agency, sid, interviewer_ids=[agency.contact_id]
        )
        token = await note_link(client, agency, interview_id, "2026-11-11T15:00:00Z")
        written = await write(client, token, GOOD_NOTE, "2026-11-11T16:30:00Z")  # 24.5 h after
        assert written.status_code == 201, written.text
        assert written.json()["note"]["late"] is True
        note = await the_note(client, agency, interview_id)
        assert note["late"] is True and note["state"] == "awaiting_review"
        [task] = await tasks(client, agency.recruiter, kind="review")
        assert "late" in task["detail"]

    async def test_a_note_after_a_rejection_goes_through_the_same_review__R_TY_6(
        self, client: httpx.AsyncClient, session: AsyncSession, mailer: Mailer
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live_submission(client, agency)
        interview_id = await held_interview(
            client, agency, sid, interviewer_ids=[agency.contact_id]
        )
        with clock.at(at("2026-11-10T17:00:00Z")):
            rejected = await client.post(
                f"/v1/submissions/{sid}/moves",
                json={"to_stage": "rejected"},
                headers=agency.recruiter.headers,
            )
        assert rejected.status_code == 200, rejected.text
        token = await note_link(client, agency, interview_id, "2026-11-10T17:30:00Z")
        written = await write(client, token, GOOD_NOTE, "2026-11-10T18:00:00Z")
        assert written.status_code == 201, written.text
        note = await the_note(client, agency, interview_id)
        assert note["after_rejection"] is True and note["state"] == "awaiting_review"
        assert len(await tasks(client, agency.recruiter, kind="review")) == 1
        await review(client, agency, note["id"], "approve", {}, "2026-11-10T19:00:00Z")
        [sent] = notes_sent(await mailer.step("2026-11-10T19:00:00Z"))
        assert sent.to == ["hana@acme.example"]


class TestOnBehalfAndNoInterviewers:
    async def test_a_recruiter_enters_a_note_for_the_candidate_and_it_is_reviewed_the_same__R_TY_1(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live_submission(client, agency)
        interview_id = await held_interview(
            client, agency, sid, interviewer_ids=[agency.contact_id]
        )
        with clock.at(at("2026-11-10T17:00:00Z")):
            created = await post_ok(
                client,
                f"/v1/interviews/{interview_id}/notes",
                {"text": "Dear [Name], thanks!"},
                agency.recruiter.headers,
            )
        assert created["source"] == "recruiter" and created["state"] == "awaiting_review"
        codes = {f["code"] for f in created["versions"][0]["findings"]}
        assert {"placeholder", "no_interest"} <= codes

    async def test_approval_needs_the_interviewers_recorded__R_TY_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid = await live_submission(client, agency)
        interview_id = await held_interview(client, agency, sid, interviewer_ids=[])
        token = await note_link(client, agency, interview_id, "2026-11-10T17:00:00Z")
        await write(client, token, GOOD_NOTE, "2026-11-10T17:05:00Z")
        note = await the_note(client, agency, interview_id)
        with clock.at(at("2026-11-10T18:00:00Z")):
            refused = await client.post(
                f"/v1/notes/{note['id']}/approve", json={}, headers=agency.recruiter.headers
            )
        assert refused.status_code == 409
        assert "no interviewers" in refused.json()["detail"]
        assert (await the_note(client, agency, interview_id))["state"] == "awaiting_review"
