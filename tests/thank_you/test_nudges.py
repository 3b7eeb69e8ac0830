"""Client nudges (R-CP-2/3): a chase check also asks the job's contact for a decision by email,
where the client allows it and the contact is `open`; one digest per contact per day; at most
one nudge per submission per 2 business days. Delivered to the local SendGrid stand-in.

Hana (the hiring manager) works in Chicago: nudges go in her 10:00 slot (16:00Z in November).
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import clock
from app.messaging.models import Message
from tests.support.agency import Agency, at, us_agency
from tests.support.mailing import Mailer
from tests.support.notes import allow_nudges, post_ok
from tools.sendgrid_standin import AcceptedMail


def to_hana(mails: list[AcceptedMail]) -> list[AcceptedMail]:
    return [m for m in mails if m.to == ["hana@acme.example"]]


async def three_waiting(client: httpx.AsyncClient, agency: Agency) -> list[int]:
    """Three candidates, each on their own job with Hana as its contact, submitted Mon 2 Nov:
    their first checks all fall due Mon 9 Nov 10:00 EST."""
    ids = []
    for n, name in enumerate(["Ada", "Ben", "Cy"]):
        job = await post_ok(
            client,
            "/v1/jobs",
            {
                "client_id": agency.client_id,
                "title": f"Engineer {n}",
                "primary_contact_id": agency.contact_id,
                "owner_id": agency.recruiter.user_id,
            },
            agency.admin.headers,
        )
        candidate = await post_ok(
            client,
            "/v1/candidates",
            {
                "first_name": name,
                "last_name": "Lovelace",
                "email": f"{name.lower()}@mail.example",
                "time_zone": "America/New_York",
                "owner_id": agency.recruiter.user_id,
            },
            agency.admin.headers,
        )
        with clock.at(at("2026-11-02T15:00:00Z")):
            submission = await post_ok(
                client,
                "/v1/submissions",
                {
                    "candidate_id": candidate["id"],
                    "job_id": job["id"],
                    "submitted_at": "2026-11-02T15:00:00Z",
                },
                agency.admin.headers,
            )
        ids.append(submission["id"])
    return ids


async def nudges(session: AsyncSession) -> list[Message]:
    stmt = (
        select(Message)
        .where(col(Message.kind) == "client_nudge")
        .order_by(col(Message.id))
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars())


class TestDigest:
    async def test_three_submissions_awaiting_one_contact_make_one_digest_that_day__R_CP_3(
        self, client: httpx.AsyncClient, session: AsyncSession, mailer: Mailer
    ) -> None:
        agency = await us_agency(client, session)
        await allow_nudges(client, agency)
        await three_waiting(client, agency)
        assert to_hana(await mailer.step("2026-11-09T15:00:00Z")) == []  # checks fire; 09:00 CST
        [digest] = to_hana(await mailer.step("2026-11-09T16:00:00Z"))  # her 10:00 slot
        for name in ("Ada Lovelace", "Ben Lovelace", "Cy Lovelace"):
            assert name in (digest.text or "")
        assert digest.subject == "Your decision on 3 candidates"
        assert agency.recruiter.user is not None
        assert digest.cc == [agency.recruiter.user.email]
        assert [m.state for m in await nudges(session)] == ["sent", "merged", "merged"]
        assert to_hana(await mailer.step("2026-11-09T20:00:00Z")) == []  # once that day


class TestFrequency:
    async def test_no_contact_is_nudged_twice_for_one_submission_within_2_business_days__R_CP_3(
        self, client: httpx.AsyncClient, session: AsyncSession, mailer: Mailer
    ) -> None:
        agency = await us_agency(client, session)
        await allow_nudges(client, agency)
        policy = await client.patch(
            "/v1/policy", json={"second_check_days": 1}, headers=agency.admin.headers
        )
        assert policy.status_code == 200, policy.text
        [sid, *_] = await three_waiting(client, agency)
        await mailer.step("2026-11-09T15:00:00Z")
        assert len(to_hana(await mailer.step("2026-11-09T16:00:00Z"))) == 1  # Monday's digest
        # The second checks fall due Tue 10 Nov, one business day later: held to Wednesday.
        await mailer.step("2026-11-10T15:00:00Z")
        assert to_hana(await mailer.step("2026-11-10T16:00:00Z")) == []
        held = [m for m in await nudges(session) if m.state == "pending"]
        assert len(held) == 3
        assert {m.gate_rule for m in held} == {
            "R-CP-3 at most one nudge per submission per 2 business days"
        }
        [wednesday] = to_hana(await mailer.step("2026-11-11T16:00:00Z"))
        assert "Ada Lovelace" in (wednesday.text or "")
        per_submission = [m for m in await nudges(session) if m.submission_id == sid]
        sent_at = sorted(m.sent_at for m in per_submission if m.sent_at is not None)
        assert [str(s) for s in sent_at] == [
            "2026-11-09 16:00:00+00:00",
            "2026-11-11 16:00:00+00:00",
        ]


class TestWhoIsNudged:
    async def test_a_client_without_automated_nudges_gets_none__R_CP_2(
        self, client: httpx.AsyncClient, session: AsyncSession, mailer: Mailer
    ) -> None:
        agency = await us_agency(client, session)
        await three_waiting(client, agency)
        await mailer.step("2026-11-09T15:00:00Z")
        assert to_hana(await mailer.step("2026-11-09T16:00:00Z")) == []
        assert await nudges(session) == []

    @pytest.mark.parametrize("contact", [{"no_chase": True}, {"contact_policy": "recruiter_only"}])
    async def test_a_contact_who_asked_not_to_be_chased_or_is_recruiter_only_gets_none__R_CP_3(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        mailer: Mailer,
        contact: dict[str, object],
    ) -> None:
        agency = await us_agency(client, session, **contact)
        await allow_nudges(client, agency)
        await three_waiting(client, agency)
        await mailer.step("2026-11-09T15:00:00Z")
        assert to_hana(await mailer.step("2026-11-09T16:00:00Z")) == []
        assert await nudges(session) == []

    async def test_a_policy_change_after_the_nudge_was_written_is_still_obeyed__R_CP_5(
        self, client: httpx.AsyncClient, session: AsyncSession, mailer: Mailer
    ) -> None:
        agency = await us_agency(client, session)
        await allow_nudges(client, agency)
        await three_waiting(client, agency)
        await mailer.step("2026-11-09T15:00:00Z")  # nudges written, held for her slot
        changed = await client.patch(
            f"/v1/contacts/{agency.contact_id}",
            json={"contact_policy": "do_not_contact"},
            headers=agency.admin.headers,
        )
        assert changed.status_code == 200, changed.text
        assert to_hana(await mailer.step("2026-11-09T16:00:00Z")) == []
        assert {m.gate_rule for m in await nudges(session)} == {"R-CP-2 do_not_contact"}
