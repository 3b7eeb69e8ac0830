"""Each stage calls for its own status message (R-CAND-2); backfilled history calls for none."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import clock
from app.messaging.models import Message
from tests.support.agency import at, submit, us_agency

NOW = "2026-11-03T15:00:00Z"

PATHS = [
    (["interview_scheduled"], "interview_scheduled"),
    (["interview_scheduled", "interviewed"], "interview_held"),
    (["interview_scheduled", "interviewed", "offer"], "offer"),
    (["rejected"], "rejected"),
    (["closed"], "closed"),
    (["withdrawn"], None),  # the candidate's own decision: nothing automated to say
    (["interview_scheduled", "interviewed", "offer", "placed"], "offer"),  # placed: by phone
]


@pytest.mark.parametrize(("moves", "expected"), PATHS, ids=lambda v: str(v))
async def test_the_last_move_writes_its_stage_message__R_CAND_2(
    client: httpx.AsyncClient, session: AsyncSession, moves: list[str], expected: str | None
) -> None:
    agency = await us_agency(client, session)
    with clock.at(at(NOW)):
        sid = await submit(client, agency, NOW)
        for stage in moves:
            moved = await client.post(
                f"/v1/submissions/{sid}/moves",
                json={"to_stage": stage},
                headers=agency.admin.headers,
            )
            assert moved.status_code == 200, moved.text
    pending = (
        await session.execute(
            select(col(Message.kind)).where(
                col(Message.submission_id) == sid, col(Message.state) == "pending"
            )
        )
    ).scalars()
    # Only the newest status is worth sending: earlier ones are superseded.
    assert list(pending) == ([expected] if expected else ["submitted"])


async def test_a_backfilled_move_writes_no_message__R_CAND_2(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    agency = await us_agency(client, session)
    with clock.at(at(NOW)):
        sid = await submit(client, agency, "2026-10-01T15:00:00Z")  # a month ago: history
    messages = (
        await session.execute(select(Message).where(col(Message.submission_id) == sid))
    ).scalars()
    assert list(messages) == []
