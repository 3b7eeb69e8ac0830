"""The drain claims its next batch while the last chunk of one is still sending (issue 14,
decision 0088), and a candidate's day still goes as one email (R-CAND-4).

Each batch here is one candidate (the claim takes one due message, and the rest of that
candidate's come along), so one chunk per batch. The backend (the real SendGrid backend behind
a gate) holds the first email until a second recipient's email starts: that can only happen if
the second batch was claimed and sent while the first chunk was in flight. A drain that waited
for each batch before claiming the next would leave the gate shut and fail here. PostgreSQL
only: on SQLite one writer takes one transaction at a time, so nothing may overlap there.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.core.settings import Settings
from app.messaging.backends import OutgoingEmail, SendGridBackend
from app.messaging.delivery import drain
from app.messaging.models import Message, MessageState
from tests.support.factories import make_due_status_messages
from tests.support.mailing import KEY
from tests.support.workers import on_postgresql
from tools.sendgrid_standin import SendGridStandIn

Sessions = async_sessionmaker[AsyncSession]
#: A Tuesday, 16:00 UTC: the delivery slot of a candidate living in UTC (R-CAND-4).
T = datetime(2025, 3, 4, 16, 0, tzinfo=UTC)
CANDIDATES = 5


class GatedBackend:
    """Sends through ``inner``; the first email waits until another recipient's starts."""

    def __init__(self, inner: SendGridBackend) -> None:
        self.inner = inner
        self.recipients: list[str] = []
        self.other_started = asyncio.Event()
        self.overlapped = False

    async def send(self, email: OutgoingEmail) -> str:
        self.recipients.append(email.to)
        if len(set(self.recipients)) > 1:
            self.other_started.set()
        if len(self.recipients) == 1:
            try:
                await asyncio.wait_for(self.other_started.wait(), timeout=10)
                self.overlapped = True
            except TimeoutError:
                pass  # sent anyway; the test then fails on ``overlapped``
        return await self.inner.send(email)

    async def aclose(self) -> None:
        await self.inner.aclose()


@on_postgresql("chunks of two batches only overlap where the database has more than one writer")
class TestBatchesOverlap:
    async def test_next_batch_sends_while_the_last_chunk_is_in_flight__R_CAND_4(
        self, worker_sessionmaker: Sessions
    ) -> None:
        async with worker_sessionmaker() as session:
            due = await make_due_status_messages(
                session,
                candidates=CANDIDATES,
                jobs=2,
                submissions_each=2,
                submitted_at=T - timedelta(hours=6),
                due_at=T - timedelta(hours=4),
                reason="no news for a while",
            )
            await session.commit()
        async with SendGridStandIn(KEY) as standin:
            backend = GatedBackend(
                SendGridBackend(api_key=KEY, base_url=standin.base_url, sandbox=False, timeout=5)
            )
            try:
                done = await drain.drain(
                    worker_sessionmaker,
                    now=T,
                    backend=backend,
                    settings=Settings(environment="test"),
                    batch=1,
                )
            finally:
                await backend.aclose()
            accepted = standin.accepted

        assert backend.overlapped, "the second batch did not start while the first was sending"
        # One email per candidate, each with both applications (R-CAND-4), nothing left claimed.
        assert (done.sent_emails, done.messages_sent) == (CANDIDATES, 2 * CANDIDATES)
        assert len(accepted) == CANDIDATES
        assert len({tuple(mail.to) for mail in accepted}) == CANDIDATES
        assert {mail.subject for mail in accepted} == {"Updates on 2 of your applications"}
        async with worker_sessionmaker() as session:
            states = (
                await session.scalars(
                    select(col(Message.state)).where(col(Message.id).in_([m.id for m in due]))
                )
            ).all()
        assert sorted(states) == sorted(
            [MessageState.sent.value] * CANDIDATES + [MessageState.merged.value] * CANDIDATES
        )
