"""R-PV: what one recruiter may read never includes another recruiter's candidates' business, not
even inside a digest's text.

One candidate is put forward by recruiter A (for a job whose title is a sentinel) and, for
another job, by recruiter B; both status emails fall due the same day and go out as one digest,
whose every message keeps the whole email's text. Recruiter B then reads every GET operation of
the API (read from the app's routes, with B's own ids in the path), and the sentinel appears in
none of it, while an admin reads it in the digest (the control that the digest carries it).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.messaging.models import Message
from app.messaging.service import DIGEST_WITHHELD
from tests.support.agency import Agency, submit, us_agency
from tests.support.factories import Caller, make_caller
from tests.support.mailing import Mailer
from tests.support.routes import authenticated, read_every_get
from tools.sendgrid_standin import SendGridStandIn


async def _b_submits(
    client: httpx.AsyncClient, agency: Agency, b: Caller, submitted_at: str
) -> tuple[int, int]:
    """Recruiter B's own job at the same client, and B's submission of A's candidate to it."""
    job = await client.post(
        "/v1/jobs",
        json={
            "client_id": agency.client_id,
            "title": "Platform Engineer",
            "primary_contact_id": agency.contact_id,
            "owner_id": b.user_id,
        },
        headers=agency.admin.headers,
    )
    assert job.status_code == 201, job.text
    submission = await client.post(
        "/v1/submissions",
        json={
            "candidate_id": agency.candidate_id,
            "job_id": job.json()["id"],
            "owner_id": b.user_id,
            "submitted_at": submitted_at,
        },
        headers=agency.admin.headers,
    )
    assert submission.status_code == 201, submission.text
    return job.json()["id"], submission.json()["id"]


@pytest.fixture
async def digest(
    client: httpx.AsyncClient,
    session: AsyncSession,
    mailer: Mailer,
    standin: SendGridStandIn,
) -> dict[str, Any]:
    agency = await us_agency(client, session)
    sentinel = f"Sentinel{uuid.uuid4().hex[:10]}"
    renamed = await client.patch(
        f"/v1/jobs/{agency.job_id}", json={"title": sentinel}, headers=agency.admin.headers
    )
    assert renamed.status_code == 200, renamed.text
    b = await make_caller(session, "recruiter")
    await session.commit()
    a_submission = await submit(client, agency, "2026-11-02T15:00:00Z")
    b_job, b_submission = await _b_submits(client, agency, b, "2026-11-02T18:30:00Z")
    for step in ("2026-11-09T15:00:00Z", "2026-11-09T18:30:00Z", "2026-11-09T21:00:00Z"):
        await mailer.step(step)
    [email] = standin.accepted
    assert sentinel in (email.text or "") and "Platform Engineer" in (email.text or "")
    states = {
        m.submission_id: m.state
        for m in (
            await session.scalars(
                select(Message).where(col(Message.candidate_id) == agency.candidate_id)
            )
        )
    }
    assert sorted(states.values()) == ["merged", "sent"]
    return {
        "agency": agency,
        "b": b,
        "sentinel": sentinel,
        "ids": {
            "candidate_id": agency.candidate_id,
            "job_id": b_job,
            "submission_id": b_submission,
            "client_id": agency.client_id,
            "contact_id": agency.contact_id,
            "user_id": b.user_id,
        },
        "a_submission": a_submission,
    }


GETS = [op for op in authenticated() if op.method == "GET"]


def test_every_get_is_read__R_PV() -> None:
    # Operations whose path needs an id B has none of (interviews, notes …) are left out; the
    # lists that would show them are read, and the messages list is among them.
    assert {"/v1/messages", "/v1/tasks", "/v1/submissions/{submission_id}/promises"} <= {
        op.path for op in GETS
    }


async def test_another_recruiters_job_title_never_reaches_recruiter_b__R_PV(
    client: httpx.AsyncClient, digest: dict[str, Any]
) -> None:
    b: Caller = digest["b"]
    sentinel: str = digest["sentinel"]
    ids: dict[str, object] = digest["ids"]
    read = await read_every_get(client, b.headers, ids, sentinel)
    assert read >= 15
    # B still sees their own message in the list, its text withheld with the reason.
    mine = (await client.get("/v1/messages", headers=b.headers)).json()["items"]
    [own] = [m for m in mine if m["submission_id"] == ids["submission_id"]]
    assert (own["subject"], own["body_text"], own["text_withheld"]) == (
        None,
        None,
        DIGEST_WITHHELD,
    )


async def test_the_digest_text_stays_for_whom_may_see_all_of_it__R_PV(
    client: httpx.AsyncClient, digest: dict[str, Any]
) -> None:
    """The control: the admin reads the whole digest, so the sentinel was there to leak; and
    recruiter A, who cannot see B's submission either, gets it withheld too."""
    agency: Agency = digest["agency"]
    admin = (await client.get("/v1/messages", headers=agency.admin.headers)).json()["items"]
    texts = [m["body_text"] or "" for m in admin]
    assert sum(digest["sentinel"] in t for t in texts) == 2  # the lead and the merged message
    a_view = (await client.get("/v1/messages", headers=agency.recruiter.headers)).json()["items"]
    [a_own] = [m for m in a_view if m["submission_id"] == digest["a_submission"]]
    assert a_own["text_withheld"] == DIGEST_WITHHELD and a_own["body_text"] is None
