"""Writing events: every service change calls ``record`` in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.clock import utcnow
from app.events.models import Event


def record(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str,
    record_type: str,
    record_id: int,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    """Add an immutable event for a change; it commits or rolls back with the change itself."""
    event = Event(
        occurred_at=occurred_at or utcnow(),
        actor_type=principal.actor_type,
        actor_id=principal.actor_id,
        action=action,
        record_type=record_type,
        record_id=record_id,
        data=data or {},
    )
    session.add(event)
    return event


def record_update(
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
    record(
        session,
        principal,
        action=f"{record_type}.updated",
        record_type=record_type,
        record_id=record_id,
        data={"fields": changed},
    )
