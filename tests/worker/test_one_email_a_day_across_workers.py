"""One automated email per candidate per local day holds with several workers (R-CAND-4).

A claim skips rows another worker's claim is locking (``SKIP LOCKED``), so two workers can each
end up holding part of one candidate's due messages. This test builds exactly that state (two
due messages of one candidate, each claimed under its own worker's token, as the race leaves
them) and lets both workers' chunks run at once on their own connections. PostgreSQL only: on
SQLite one writer runs the chunks one after the other, so the state cannot race there.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.core.settings import Settings
from app.messaging.backends import SendGridBackend
from app.messaging.delivery import context, drain
from app.messaging.models import Message, MessageState
from tests.support.factories import make_due_status_messages
from tests.support.mailing import KEY
from tests.support.workers import on_postgresql
from tools.sendgrid_standin import SendGridStandIn

Sessions = async_sessionmaker[AsyncSession]
#: A Tuesday, 16:00 UTC: the delivery slot of a candidate living in UTC (R-CAND-4).
T = datetime(2025, 3, 4, 16, 0, tzinfo=UTC)


@on_postgresql("two chunks can only race where the database has more than one writer")
class TestTwoWorkersHoldingOneCandidatesDay:
    async def test_only_one_email_goes_and_the_rest_waits_for_tomorrow__R_CAND_4(
        self, worker_sessionmaker: Sessions
    ) -> None:
        async with worker_sessionmaker() as session:
            due = await make_due_status_messages(
                session,
                candidates=1,
                jobs=2,
                submissions_each=2,
                submitted_at=T - timedelta(hours=6),
                due_at=T - timedelta(hours=4),
                reason="no news for a while",
            )
            await session.commit()
        assert len({m.candidate_id for m in due}) == 1 and len(due) == 2
        tokens = [str(uuid.uuid4()), str(uuid.uuid4())]
        async with worker_sessionmaker() as session:
            for message, token in zip(due, tokens, strict=True):
                await session.execute(
                    update(Message)
                    .where(col(Message.id) == message.id)
                    .values(
                        state=MessageState.sending.value,
                        claim_token=token,
                        claim_expires_at=T + timedelta(minutes=5),
                    )
                )
            await session.commit()
            batch = await context.load_batch(session)

        async with SendGridStandIn(KEY) as standin:
            backend = SendGridBackend(
                api_key=KEY, base_url=standin.base_url, sandbox=False, timeout=5
            )

            async def worker(message_id: int, token: str) -> drain.DrainResult:
                async with worker_sessionmaker() as session:
                    done = await drain.process(
                        session,
                        ids=[message_id],
                        token=token,
                        now=T,
                        backend=backend,
                        settings=Settings(environment="test"),
                        batch=batch,
                    )
                    await session.commit()
                return done

            try:
                results = await asyncio.gather(
                    *(worker(m.id, t) for m, t in zip(due, tokens, strict=True))
                )
            finally:
                await backend.aclose()
            accepted = standin.accepted

        assert len(accepted) == 1, [mail.subject for mail in accepted]
        assert sum(r.sent_emails for r in results) == 1
        async with worker_sessionmaker() as session:
            states = {
                m.id: m for m in (await session.scalars(select(Message))).all() if m.id is not None
            }
        sent = [m for m in states.values() if m.state == MessageState.sent]
        waiting = [m for m in states.values() if m.state == MessageState.pending]
        assert len(sent) == 1 and len(waiting) == 1
        # The other message waits for the next local day's slot, not a second email today.
        assert waiting[0].send_at is not None and waiting[0].send_at.date() > T.date()
