"""Calendars as records (admin): the agency default and each client's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.principal import Principal
from app.calendar import business_time as bt
from app.calendar.models import (
    BusinessDaysAnswer,
    Calendar,
    CalendarCreate,
    CalendarPublic,
    CalendarUpdate,
    to_business_calendar,
)
from app.core import crud
from app.core.errors import InvalidInput
from app.core.pagination import Page, PageParams
from app.events import service as events

MAX_DAYS = 3650


async def _unset_default(session: AsyncSession, keep_id: int | None) -> None:
    await session.execute(
        update(Calendar)
        .where(col(Calendar.is_default).is_(True), col(Calendar.id) != (keep_id or 0))
        .values(is_default=False)
    )


async def create(session: AsyncSession, principal: Principal, data: CalendarCreate) -> Calendar:
    if data.is_default:
        await _unset_default(session, None)
    calendar = Calendar.model_validate(data)
    session.add(calendar)
    await session.flush()
    assert calendar.id is not None
    await events.record(
        session, principal, action="calendar.created", record_type="calendar", record_id=calendar.id
    )
    return calendar


async def update_calendar(
    session: AsyncSession, principal: Principal, calendar: Calendar, data: CalendarUpdate
) -> Calendar:
    """Changes apply to clocks started afterwards; planned checks keep their instants."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    merged = CalendarPublic.model_validate(calendar).model_dump() | changes
    try:
        to_business_calendar(CalendarPublic.model_validate(merged))
    except ValueError as exc:
        raise InvalidInput("body", str(exc)) from None
    if changes.get("is_default"):
        await _unset_default(session, calendar.id)
    await events.record_update(
        session,
        principal,
        record_type="calendar",
        record_id=calendar.id,
        changed=crud.apply_changes(calendar, changes),
    )
    return calendar


async def list_page(session: AsyncSession, page: PageParams) -> Page[CalendarPublic]:
    return await crud.fetch_page(session, select(Calendar), Calendar, page, CalendarPublic)


def add_business_days(calendar: Calendar, *, start: datetime, days: int) -> BusinessDaysAnswer:
    """R-BT over the API, so an integration shows exactly the dates Candor uses."""
    if not 0 <= days <= MAX_DAYS:
        raise InvalidInput("query.days", f"days must be between 0 and {MAX_DAYS}.")
    try:
        result = bt.add_business_days(to_business_calendar(calendar), start, days)
    except ValueError as exc:
        raise InvalidInput("query.start", str(exc)) from None
    assert calendar.id is not None
    return BusinessDaysAnswer(calendar_id=calendar.id, start=start, days=days, result=result)
