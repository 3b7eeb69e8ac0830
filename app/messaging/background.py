"""The messaging domain's background work (decision 0050): delivering the two outboxes.

Both run after the SLA sweep (``order``), which writes status messages and nudges: what a
round's checks say goes out in that round. Candidates' messages first (with the promises
their emails settle, and the round's check for promises broken overnight), then contacts'.
Each drain takes its own batch of recipients (``DEFAULT_BATCH``), not the sweep's.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.settings import Settings
from app.messaging.backends import EmailBackend
from app.messaging.delivery import contacts, drain
from app.worker.loop import EMAILS_SENT
from app.worker.registry import SweepContext, sweeper

log = logging.getLogger("candor.worker")

DELIVER = "messaging.deliver"
DELIVER_CONTACTS = "messaging.deliver_contacts"


class _Drain(Protocol):
    async def __call__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        now: datetime,
        backend: EmailBackend,
        settings: Settings,
        lease: timedelta,
    ) -> drain.DrainResult: ...


async def _deliver(ctx: SweepContext, drain_outbox: _Drain, audience: str) -> int:
    """One outbox drained with the worker's backend and settings; answers the emails sent."""
    if ctx.settings is None or ctx.backend is None:
        raise RuntimeError("the outbox sweepers need the worker's settings and email backend")
    mail = await drain_outbox(
        ctx.sessionmaker, now=ctx.now, backend=ctx.backend, settings=ctx.settings, lease=ctx.lease
    )
    if mail.sent_emails or mail.held or mail.refused or mail.retried or mail.failed:
        log.info(
            "emails to %s: %d sent (%d messages), %d held, %d refused, %d to retry, %d failed",
            audience,
            mail.sent_emails,
            mail.messages_sent,
            mail.held,
            mail.refused,
            mail.retried,
            mail.failed,
        )
    return mail.sent_emails


@sweeper(DELIVER, order=20, counts_as=EMAILS_SENT)
async def deliver(ctx: SweepContext) -> int:
    """Candidates' due messages (``app.messaging.delivery.drain:drain``)."""
    return await _deliver(ctx, drain.drain, "candidates")


@sweeper(DELIVER_CONTACTS, order=30, counts_as=EMAILS_SENT)
async def deliver_contacts(ctx: SweepContext) -> int:
    """Client contacts' due messages (``app.messaging.delivery.contacts:drain``)."""
    return await _deliver(ctx, contacts.drain, "contacts")
