"""R-PV for contact emails: a hiring manager's nudge digest may ask about candidates of several
recruiters, and each of its messages keeps the whole email's text; no recruiter reads, through
any GET of the API, the name of a candidate they cannot see.

Hana (Chicago) is the contact of recruiter A's job and of recruiter B's job. A's candidate, whose
last name is a sentinel, and B's candidate are submitted the same Monday; their first checks fire
a week later and Hana gets one nudge digest in her 10:00 slot naming both (R-CP-3). Recruiter B
then reads every GET operation it has ids for, and the sentinel is in none of them; the admin
reads it in the digest (the control that it was there to leak).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import clock
from app.messaging.models import Message
from app.messaging.service import DIGEST_WITHHELD
from tests.support.agency import Agency, at, us_agency
from tests.support.factories import Caller, make_caller
from tests.support.mailing import Mailer
from tests.support.notes import allow_nudges, post_ok
from tests.support.routes import read_every_get
from tools.sendgrid_standin import SendGridStandIn


async def _submitted(
    client: httpx.AsyncClient, agency: Agency, owner: Caller, *, last_name: str
) -> dict[str, int]:
    """A job of ``owner`` with Hana as its contact, and ``owner``'s candidate submitted to it on
    Monday 2 November, 10:00 New York."""
    h = agency.admin.headers
    job = await post_ok(
        client,
        "/v1/jobs",
        {
            "client_id": agency.client_id,
            "title": f"Engineer for {last_name}",
            "primary_contact_id": agency.contact_id,
            "owner_id": owner.user_id,
        },
        h,
    )
    candidate = await post_ok(
        client,
        "/v1/candidates",
        {
            "first_name": "Ada",
            "last_name": last_name,
            "email": f"{uuid.uuid4().hex[:8]}@mail.example",
            "time_zone": "America/New_York",
            "owner_id": owner.user_id,
        },
        h,
    )
    with clock.at(at("2026-11-02T15:00:00Z")):
        submission = await post_ok(
            client,
            "/v1/submissions",
            {
                "candidate_id": candidate["id"],
                "job_id": job["id"],
                "owner_id": owner.user_id,
                "submitted_at": "2026-11-02T15:00:00Z",
            },
            h,
        )
    return {"job_id": job["id"], "candidate_id": candidate["id"], "submission_id": submission["id"]}


@pytest.fixture
async def nudge_digest(
    client: httpx.AsyncClient,
    session: AsyncSession,
    mailer: Mailer,
    standin: SendGridStandIn,
) -> dict[str, Any]:
    agency = await us_agency(client, session)
    await allow_nudges(client, agency)
    b = await make_caller(session, "recruiter")
    await session.commit()
    sentinel = f"Sentinel{uuid.uuid4().hex[:10]}"
    a_side = await _submitted(client, agency, agency.recruiter, last_name=sentinel)
    b_side = await _submitted(client, agency, b, last_name="Brightwater")
    await mailer.step("2026-11-09T15:00:00Z")  # the first checks fire: nudges written
    await mailer.step("2026-11-09T16:00:00Z")  # Hana's 10:00 slot
    [digest] = [m for m in standin.accepted if m.to == ["hana@acme.example"]]
    assert digest.subject == "Your decision on 2 candidates"
    assert sentinel in (digest.text or "") and "Brightwater" in (digest.text or "")
    nudges = (
        await session.scalars(
            select(Message)
            .where(col(Message.kind) == "client_nudge")
            .execution_options(populate_existing=True)
        )
    ).all()
    assert sorted(m.state for m in nudges) == ["merged", "sent"]
    return {
        "agency": agency,
        "b": b,
        "sentinel": sentinel,
        "a_submission": a_side["submission_id"],
        "ids": {
            **b_side,
            "client_id": agency.client_id,
            "contact_id": agency.contact_id,
            "user_id": b.user_id,
        },
    }


async def test_a_nudge_digest_never_shows_recruiter_b_another_recruiters_candidate__R_PV(
    client: httpx.AsyncClient, nudge_digest: dict[str, Any]
) -> None:
    b: Caller = nudge_digest["b"]
    sentinel: str = nudge_digest["sentinel"]
    ids: dict[str, object] = nudge_digest["ids"]
    read = await read_every_get(client, b.headers, ids, sentinel)
    assert read >= 15
    # B still sees the nudge about their own submission, its text withheld with the reason.
    mine = (await client.get("/v1/messages", headers=b.headers)).json()["items"]
    [own] = [
        m for m in mine if m["submission_id"] == ids["submission_id"] and m["audience"] == "contact"
    ]
    assert (own["subject"], own["body_text"], own["text_withheld"]) == (
        None,
        None,
        DIGEST_WITHHELD,
    )


async def test_the_nudge_digest_text_stays_for_whom_may_see_all_of_it__R_PV(
    client: httpx.AsyncClient, nudge_digest: dict[str, Any]
) -> None:
    """The control: the admin reads the whole digest, so the sentinel was there to leak; and
    recruiter A, who cannot see B's submission either, gets it withheld too."""
    agency: Agency = nudge_digest["agency"]
    admin = (await client.get("/v1/messages", headers=agency.admin.headers)).json()["items"]
    nudges = [m for m in admin if m["audience"] == "contact"]
    assert sum(nudge_digest["sentinel"] in (m["body_text"] or "") for m in nudges) == 2
    a_view = (await client.get("/v1/messages", headers=agency.recruiter.headers)).json()["items"]
    [a_own] = [
        m
        for m in a_view
        if m["submission_id"] == nudge_digest["a_submission"] and m["audience"] == "contact"
    ]
    assert a_own["text_withheld"] == DIGEST_WITHHELD and a_own["body_text"] is None
