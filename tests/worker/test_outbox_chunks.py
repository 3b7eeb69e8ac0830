"""The outbox records a run of several chunks set-wise (one statement per kind of change per
chunk, chunks pipelined on PostgreSQL) and every message, digest and promise still comes out as
one email at a time would leave it (R-CAND-1, R-CAND-4), over committed rows and a real engine.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.settings import Settings
from app.messaging.backends import CUSTOM_ARG, SendGridBackend
from app.messaging.delivery import claims, drain
from app.messaging.models import (
    Message,
    MessageEvent,
    MessageState,
    Promise,
    PromiseState,
)
from tests.support.factories import make_due_status_messages
from tests.support.mailing import KEY
from tools.sendgrid_standin import SendGridStandIn

Sessions = async_sessionmaker[AsyncSession]
#: A Tuesday, 16:00 UTC: the delivery slot of a candidate living in UTC (R-CAND-4).
T = datetime(2025, 3, 4, 16, 0, tzinfo=UTC)
DUE_AT = T - timedelta(hours=4)
SUBMITTED_AT = T - timedelta(hours=6)
#: More recipients than two chunks hold, so a third chunk follows a pipelined pair.
CANDIDATES = drain.CHUNK * 2 + 5


async def seed(sessions: Sessions) -> dict[int, list[int]]:
    """Each candidate submitted twice, a no-news message per submission (both due in one slot,
    so they go as one digest), and an open promise per submission still in time. Answers the
    submissions per candidate."""
    async with sessions() as session:
        due = await make_due_status_messages(
            session,
            candidates=CANDIDATES,
            jobs=2,
            submissions_each=2,
            submitted_at=SUBMITTED_AT,
            due_at=DUE_AT,
            reason="no news for a while",
        )
        promises = [
            {
                "submission_id": message.submission_id,
                "message_id": message.id,
                "promised_date": date(2025, 3, 4),
                "due_by_at": datetime(2025, 3, 5, tzinfo=UTC),
                "state": PromiseState.open.value,
            }
            for message in due
        ]
        await session.execute(insert(Promise), promises)
        await session.commit()
    by_candidate: dict[int, list[int]] = {}
    for message in due:
        by_candidate.setdefault(message.candidate_id, []).append(message.submission_id)
    return by_candidate


class TestChunkedDrainRecordsEveryEmail:
    async def test_digests_promises_and_events_over_several_chunks__R_CAND_1_R_CAND_4(
        self, worker_sessionmaker: Sessions
    ) -> None:
        by_candidate = await seed(worker_sessionmaker)
        async with SendGridStandIn(KEY) as standin:
            backend = SendGridBackend(
                api_key=KEY, base_url=standin.base_url, sandbox=False, timeout=5
            )
            try:
                result = await drain.drain(
                    worker_sessionmaker,
                    now=T,
                    backend=backend,
                    settings=Settings(environment="test"),
                )
            finally:
                await backend.aclose()
            accepted = standin.accepted
        assert (result.sent_emails, result.messages_sent) == (CANDIDATES, 2 * CANDIDATES)
        assert len(accepted) == CANDIDATES
        assert all(mail.subject == "Updates on 2 of your applications" for mail in accepted)

        async with worker_sessionmaker() as session:
            messages = {
                m.id: m for m in (await session.scalars(select(Message))).all() if m.id is not None
            }
            promises = (await session.scalars(select(Promise))).all()
            events = (await session.scalars(select(MessageEvent))).all()
        leads = {int(mail.custom_args[CUSTOM_ARG]) for mail in accepted}
        by_submission = {m.submission_id: m for m in messages.values()}
        for submissions in by_candidate.values():
            lead, merged = (by_submission[s] for s in submissions)
            assert lead.id in leads and lead.state == MessageState.sent
            assert merged.state == MessageState.merged and merged.digest_id == lead.id
            assert lead.claim_token is None and merged.claim_token is None
            assert lead.body_text == merged.body_text and lead.recipient_email
        # The earlier promise of each submission was kept by the email that went about it, and
        # the email's own date became the submission's one open promise.
        kept = [p for p in promises if p.state == PromiseState.kept]
        assert len(kept) == 2 * CANDIDATES
        for promise in kept:
            lead = by_submission[promise.submission_id]
            assert promise.settled_by_message_id == (lead.digest_id or lead.id)
        fresh = [p for p in promises if p.state == PromiseState.open]
        assert Counter(p.submission_id for p in fresh) == Counter(
            {s: 1 for s in by_submission if s is not None}
        )
        assert Counter(e.kind for e in events) == Counter({"sent": 2 * CANDIDATES})


class TestChunksKeepOnePersonTogether:
    def test_a_recipients_messages_are_never_split_across_chunks__R_CAND_4(self) -> None:
        claimed = [(n, n % 5) for n in range(1, 21)]  # 20 messages to 5 recipients
        split = claims.chunks(claimed, 2)
        assert [len(chunk) for chunk in split] == [8, 8, 4]
        owner = dict(claimed)
        for chunk in split:
            assert len({owner[i] for i in chunk}) <= 2
        assert sorted(i for chunk in split for i in chunk) == list(range(1, 21))
