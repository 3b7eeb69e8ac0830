"""The audit trail: every change as an immutable event (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlmodel import col

from app.auth.dependencies import AdminPrincipal
from app.core import crud
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import Paging
from app.core.models import MAX_ID, Instant
from app.core.pagination import Page
from app.events.models import Event, EventPublic

router = APIRouter(prefix="/events", tags=["admin"], responses=problem_responses(401, 403, 422))


@router.get("", summary="List events")
async def list_events(
    session: SessionDep,
    _: AdminPrincipal,
    page: Paging,
    record_type: Annotated[str | None, Query(max_length=32)] = None,
    record_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[Instant | None, Query(description="Events at or after.")] = None,
) -> Page[EventPublic]:
    """Every change in order: who (actor), what (action), which record, when."""
    stmt = crud.where_all(
        select(Event),
        col(Event.record_type) == record_type if record_type else None,
        col(Event.record_id) == record_id if record_id else None,
        col(Event.action) == action if action else None,
        col(Event.occurred_at) >= since if since else None,
    )
    return await crud.fetch_page(session, stmt, Event, page, EventPublic)
