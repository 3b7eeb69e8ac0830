"""The candidate's private link (R-TY-1, R-FB, R-CP-4, R-CAND-6): who may use a token, what it
shows, feedback requests through it, and that nothing internal is ever reachable."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import clock
from app.messaging.models import Message
from app.portal.models import CandidateLink
from tests.support.agency import Agency, at, submit, tasks, us_agency
from tests.support.factories import make_caller
from tests.support.mailing import Mailer
from tests.support.notes import (
    ANY_LINK,
    GOOD_NOTE,
    SENTINEL,
    held_interview,
    note_link,
    post_ok,
    the_note,
    write,
)
from tools.sendgrid_standin import SendGridStandIn

UNAPPROVED = "UNAPPROVED-summary-4e1a"


async def status_link(
    client: httpx.AsyncClient, agency: Agency, candidate_id: int, now: str
) -> str:
    with clock.at(at(now)):
        made = await post_ok(
            client, f"/v1/candidates/{candidate_id}/links", {}, agency.recruiter.headers
        )
    match = ANY_LINK.search(made["url"])
    assert match is not None
    return match.group(1)


async def interviewed(client: httpx.AsyncClient, agency: Agency) -> tuple[int, int]:
    with clock.at(at("2026-11-09T14:00:00Z")):
        sid = await submit(client, agency, "2026-11-09T14:00:00Z")
    interview_id = await held_interview(client, agency, sid, interviewer_ids=[agency.contact_id])
    return sid, interview_id


async def reject(client: httpx.AsyncClient, agency: Agency, sid: int, now: str) -> None:
    with clock.at(at(now)):
        moved = await client.post(
            f"/v1/submissions/{sid}/moves",
            json={"to_stage": "rejected"},
            headers=agency.recruiter.headers,
        )
    assert moved.status_code == 200, moved.text


class TestWhoMayUseALink:
    async def test_an_unknown_token_is_404_and_an_expired_or_revoked_one_401__R_TY_1(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        _, interview_id = await interviewed(client, agency)
        assert (await client.get("/v1/portal/" + "A" * 43)).status_code == 404
        token = await note_link(client, agency, interview_id, "2026-11-10T17:00:00Z")
        with clock.at(at("2026-11-13T16:59:00Z")):  # 71 h 59 min later: still open
            assert (await client.get(f"/v1/portal/{token}/note")).status_code == 200
        with clock.at(at("2026-11-13T17:00:00Z")):  # 72 hours: expired
            expired = await client.get(f"/v1/portal/{token}/note")
            refused = await client.post(f"/v1/portal/{token}/note", json={"text": GOOD_NOTE})
        assert expired.status_code == refused.status_code == 401
        assert expired.headers["content-type"] == "application/problem+json"

        again = await note_link(client, agency, interview_id, "2026-11-10T17:00:00Z")
        links = await client.get(
            f"/v1/notes?interview_id={interview_id}", headers=agency.recruiter.headers
        )
        assert links.json()["items"] == []  # nothing written through either link
        from app.portal.models import CandidateLink

        newest = (
            (await session.execute(select(CandidateLink).order_by(col(CandidateLink.id).desc())))
            .scalars()
            .first()
        )
        assert newest is not None
        with clock.at(at("2026-11-10T18:00:00Z")):
            revoked = await client.post(
                f"/v1/candidate-links/{newest.id}/revoke", headers=agency.recruiter.headers
            )
            assert revoked.status_code == 204, revoked.text
            assert (await client.get(f"/v1/portal/{again}")).status_code == 401
            assert (await client.get(f"/v1/portal/{token}")).status_code == 200  # the other one

    async def test_another_candidates_link_shows_only_their_own_and_writes_no_note__R_TY_1(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        sid, interview_id = await interviewed(client, agency)
        other = await post_ok(
            client,
            "/v1/candidates",
            {
                "first_name": "Oli",
                "last_name": "Other",
                "email": "oli@mail.example",
                "owner_id": agency.recruiter.user_id,
            },
            agency.admin.headers,
        )
        token = await status_link(client, agency, other["id"], "2026-11-10T17:00:00Z")
        with clock.at(at("2026-11-10T17:30:00Z")):
            mine = await client.get(f"/v1/portal/{token}")
            note = await client.post(f"/v1/portal/{token}/note", json={"text": GOOD_NOTE})
            ask = await client.post(
                f"/v1/portal/{token}/feedback-requests", json={"submission_id": sid}
            )
        assert mine.status_code == 200 and mine.json()["applications"] == []
        assert mine.json()["first_name"] == "Oli"
        assert note.status_code == 404  # a status link writes no note
        assert ask.status_code == 404  # not their application
        with clock.at(at("2026-11-10T17:30:00Z")):
            made = await client.post(
                f"/v1/candidates/{other['id']}/links",
                json={"interview_id": interview_id},
                headers=agency.recruiter.headers,
            )
        assert made.status_code == 409  # a note link only for the candidate's own interview

    async def test_a_recruiter_cannot_see_or_review_another_recruiters_notes__R_TY_3(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        _, interview_id = await interviewed(client, agency)
        token = await note_link(client, agency, interview_id, "2026-11-10T17:00:00Z")
        await write(client, token, GOOD_NOTE, "2026-11-10T17:05:00Z")
        note = await the_note(client, agency, interview_id)
        stranger = await make_caller(session, "recruiter")
        await session.commit()
        h = stranger.headers
        assert (await client.get(f"/v1/notes/{note['id']}", headers=h)).status_code == 404
        assert (await client.get("/v1/notes", headers=h)).json()["items"] == []
        assert (await client.get("/v1/notes/review-queue", headers=h)).json() == []
        for action, body in [
            ("approve", {}),
            ("request-changes", {"comment": "x"}),
            ("withhold", {"reason": "x"}),
        ]:
            answer = await client.post(f"/v1/notes/{note['id']}/{action}", json=body, headers=h)
            assert answer.status_code == 404, action
        assert (await the_note(client, agency, interview_id))["state"] == "awaiting_review"


class TestWhatTheCandidateSees:
    async def test_status_in_plain_words_with_the_promise_and_who_they_may_email__R_CP_4(
        self, client: httpx.AsyncClient, session: AsyncSession, mailer: Mailer
    ) -> None:
        agency = await us_agency(client, session, candidate_may_email_directly=True)
        sid, _ = await interviewed(client, agency)
        await mailer.step("2026-11-09T21:00:00Z")  # the "submitted" email: a promise
        token = await status_link(client, agency, agency.candidate_id, "2026-11-10T17:00:00Z")
        with clock.at(at("2026-11-10T17:30:00Z")):
            view = (await client.get(f"/v1/portal/{token}")).json()
        [application] = view["applications"]
        assert application["id"] == sid and application["job_title"] == "Data Engineer"
        assert application["where_you_stand"] == "Your profile is with the client."
        assert (
            application["hear_from_us_by"] == "2026-11-17"
        )  # 5 business days (11 Nov: Veterans Day)
        assert application["may_email_directly"] == [
            {"name": "Hana Hiring", "email": "hana@acme.example"}
        ]
        assert agency.recruiter.user is not None
        assert agency.recruiter.user.email in application["copy_your_recruiter"]

    async def test_a_confidential_client_is_never_named__R_CAND_6(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        patched = await client.patch(
            f"/v1/clients/{agency.client_id}",
            json={"confidential": True},
            headers=agency.admin.headers,
        )
        assert patched.status_code == 200
        await interviewed(client, agency)
        token = await status_link(client, agency, agency.candidate_id, "2026-11-10T17:00:00Z")
        with clock.at(at("2026-11-10T17:30:00Z")):
            view = await client.get(f"/v1/portal/{token}")
        assert "Acme" not in view.text and view.json()["applications"][0]["client"] == "our client"

    async def test_opting_out_through_the_link_stops_automated_emails__R_CAND_5(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        agency = await us_agency(client, session)
        token = await status_link(client, agency, agency.candidate_id, "2026-11-10T17:00:00Z")
        with clock.at(at("2026-11-10T17:30:00Z")):
            done = await client.post(f"/v1/portal/{token}/opt-out")
        assert done.status_code == 200, done.text
        candidate = await client.get(
            f"/v1/candidates/{agency.candidate_id}", headers=agency.admin.headers
        )
        assert candidate.json()["status_emails_opt_out"] is True


class TestFeedbackRequests:
    async def test_asked_once_after_rejection_answered_with_an_approved_summary__R_FB(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        standin: SendGridStandIn,
    ) -> None:
        agency = await us_agency(client, session)
        sid, _ = await interviewed(client, agency)
        feedback = await post_ok(
            client,
            "/v1/feedback",
            {
                "submission_id": sid,
                "decision": "reject",
                "internal_notes": SENTINEL,
                "shareable_summary": UNAPPROVED,
            },
            agency.recruiter.headers,
        )
        token = await status_link(client, agency, agency.candidate_id, "2026-11-10T17:00:00Z")
        with clock.at(at("2026-11-10T17:30:00Z")):
            early = await client.post(
                f"/v1/portal/{token}/feedback-requests", json={"submission_id": sid}
            )
        assert early.status_code == 409  # not rejected yet
        await reject(client, agency, sid, "2026-11-10T18:00:00Z")
        with clock.at(at("2026-11-10T18:30:00Z")):
            view = (await client.get(f"/v1/portal/{token}")).json()
            asked = await client.post(
                f"/v1/portal/{token}/feedback-requests", json={"submission_id": sid}
            )
            twice = await client.post(
                f"/v1/portal/{token}/feedback-requests", json={"submission_id": sid}
            )
        assert view["applications"][0]["feedback"]["can_ask"] is True
        assert asked.status_code == 201, asked.text
        assert twice.status_code == 409  # once per submission
        [task] = await tasks(client, agency.recruiter, kind="feedback_request")
        requests = await client.get("/v1/feedback-requests", headers=agency.recruiter.headers)
        [request] = requests.json()["items"]
        assert request["task_id"] == task["id"] and request["state"] == "open"

        with clock.at(at("2026-11-11T15:00:00Z")):
            unapproved = await client.post(
                f"/v1/feedback-requests/{request['id']}/answer",
                json={"feedback_id": feedback["id"]},
                headers=agency.recruiter.headers,
            )
        assert unapproved.status_code == 409  # the client's summary is not approved
        summary = "They valued your SQL depth; the team needed more streaming experience."
        with clock.at(at("2026-11-11T15:00:00Z")):
            await post_ok(
                client,
                f"/v1/feedback-requests/{request['id']}/answer",
                {"summary": summary},
                agency.recruiter.headers,
            )
        sent = await mailer.step("2026-11-11T15:00:00Z")
        [shared] = [m for m in sent if summary in (m.text or "")]
        assert shared.to == ["sam@mail.example"]
        [done] = await tasks(client, agency.recruiter, kind="feedback_request")
        assert done["state"] == "done"
        with clock.at(at("2026-11-11T16:00:00Z")):
            after = (await client.get(f"/v1/portal/{token}")).json()
        assert after["applications"][0]["feedback"] == {
            "can_ask": False,
            "state": "answered",
            "summary": summary,
        }

        # R-CAND-6: nothing internal or unapproved anywhere the candidate can see.
        await mailer.step("2026-11-11T21:00:00Z")
        seen = [m.text or "" for m in standin.accepted] + [m.html or "" for m in standin.accepted]
        seen += [view.__repr__(), after.__repr__()]
        stored = (await session.execute(select(col(Message.body_text)))).scalars().all()
        for text in [*seen, *[s or "" for s in stored]]:
            assert SENTINEL not in text and UNAPPROVED not in text

    async def test_a_do_not_contact_client_contact_means_the_candidate_is_told_kindly__R_FB(
        self, client: httpx.AsyncClient, session: AsyncSession, mailer: Mailer
    ) -> None:
        agency = await us_agency(client, session, contact_policy="do_not_contact")
        sid, _ = await interviewed(client, agency)
        await reject(client, agency, sid, "2026-11-10T18:00:00Z")
        token = await status_link(client, agency, agency.candidate_id, "2026-11-10T18:10:00Z")
        with clock.at(at("2026-11-10T18:30:00Z")):
            asked = await client.post(
                f"/v1/portal/{token}/feedback-requests", json={"submission_id": sid}
            )
        assert asked.status_code == 201, asked.text
        assert await tasks(client, agency.recruiter, kind="feedback_request") == []
        sent = await mailer.step("2026-11-10T18:30:00Z")
        [told] = [m for m in sent if "not able to get feedback" in (m.text or "")]
        assert told.to == ["sam@mail.example"]


class TestALinkRemembersItsLastUse:
    async def test_opening_a_link_records_when_it_was_last_used__R_TY_1(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        """A GET that writes (decision 0086): the portal's session commits even on GET."""
        agency = await us_agency(client, session)
        _, interview_id = await interviewed(client, agency)
        token = await note_link(client, agency, interview_id, "2026-11-10T17:00:00Z")
        with clock.at(at("2026-11-11T09:30:00Z")):
            assert (await client.get(f"/v1/portal/{token}/note")).status_code == 200
        used = (
            await session.execute(
                select(col(CandidateLink.last_used_at)).where(
                    col(CandidateLink.interview_id) == interview_id
                )
            )
        ).scalar_one()
        assert used == at("2026-11-11T09:30:00Z")
