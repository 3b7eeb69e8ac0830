"""Writing events: every service change calls ``record`` in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core import bulk
from app.core.clock import utcnow
from app.events.models import Event

_EVENTS = Event.__table__  # type: ignore[attr-defined]
#: Built once (issue 14): a statement object caches its own cache key, so each event costs one
#: execution of an already compiled INSERT, with no ORM object or flush.
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event of ``record_many``: what changed, on which record (field names, never values
    or personal data)."""

    action: str
    record_type: str
    record_id: int
    data: dict[str, Any] = field(default_factory=dict)


def _columns(principal: Principal, event: NewEvent, occurred_at: datetime) -> dict[str, Any]:
    """An event's columns, for ``record`` and ``record_many`` alike (the one place an event
    hook, such as outgoing webhooks, hangs off)."""
    return {
        "occurred_at": occurred_at,
        "actor_type": principal.actor_type,
        "actor_id": principal.actor_id,
        "action": event.action,
        "record_type": event.record_type,
        "record_id": event.record_id,
        "data": event.data,
    }


async def record(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str,
    record_type: str,
    record_id: int,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> int:
    """Write an immutable event for a change, in the caller's transaction: it commits or rolls
    back with the change itself. Returns the event's id."""
    new = NewEvent(action=action, record_type=record_type, record_id=record_id, data=data or {})
    inserted = await session.execute(
        _INSERT_EVENT, _columns(principal, new, occurred_at or utcnow())
    )
    return int(inserted.scalar_one())


async def record_many(
    session: AsyncSession,
    principal: Principal,
    events: Sequence[NewEvent],
    *,
    occurred_at: datetime,
) -> None:
    """Many events at once, in the caller's transaction (``COPY`` on PostgreSQL,
    ``app.core.bulk``): the SLA sweep's ``sla.check_fired`` per batch. Nothing is loaded into
    the session."""
    rows = [_columns(principal, event, occurred_at) for event in events]
    await bulk.writer(session).insert(Event.__table__, rows)  # type: ignore[attr-defined]


async def record_update(
    session: AsyncSession,
    principal: Principal,
    *,
    record_type: str,
    record_id: int | None,
    changed: list[str],
) -> None:
    """``<type>.updated`` naming the changed fields, when anything changed (never the values)."""
    if not changed:
        return
    assert record_id is not None
    await record(
        session,
        principal,
        action=f"{record_type}.updated",
        record_type=record_type,
        record_id=record_id,
        data={"fields": changed},
    )
