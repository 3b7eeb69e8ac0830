"""Calendars over REST: admins manage them; anyone may compute business days on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.dependencies import AdminPrincipal, CurrentPrincipal
from app.calendar import service
from app.calendar.models import (
    BusinessDaysAnswer,
    Calendar,
    CalendarCreate,
    CalendarPublic,
    CalendarUpdate,
)
from app.core import crud
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import IdPath, Paging
from app.core.models import Instant
from app.core.pagination import Page

router = APIRouter(prefix="/calendars", tags=["calendars"], responses=problem_responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a calendar",
    responses=problem_responses(403),
)
async def create_calendar(
    session: SessionDep, principal: AdminPrincipal, body: CalendarCreate
) -> CalendarPublic:
    """A business calendar (R-BT): zone, working weekdays, country/subdivision holidays, the
    agency's closures and removed holidays, business hours. `is_default: true` makes it the
    agency's default (recruiter tasks, and clients without their own)."""
    return CalendarPublic.model_validate(await service.create(session, principal, body))


@router.get("", summary="List calendars")
async def list_calendars(
    session: SessionDep, _: CurrentPrincipal, page: Paging
) -> Page[CalendarPublic]:
    """Every calendar, in id order."""
    return await service.list_page(session, page)


@router.get("/{calendar_id}", summary="Get a calendar", responses=problem_responses(404))
async def get_calendar(
    session: SessionDep, _: CurrentPrincipal, calendar_id: IdPath
) -> CalendarPublic:
    """One calendar."""
    return CalendarPublic.model_validate(await crud.get_or_404(session, Calendar, calendar_id))


@router.patch("/{calendar_id}", summary="Update a calendar", responses=problem_responses(403, 404))
async def update_calendar(
    session: SessionDep, principal: AdminPrincipal, calendar_id: IdPath, body: CalendarUpdate
) -> CalendarPublic:
    """Change the fields given. Clocks already running keep their planned instants."""
    calendar = await crud.get_or_404(session, Calendar, calendar_id)
    updated = await service.update_calendar(session, principal, calendar, body)
    return CalendarPublic.model_validate(updated)


@router.get(
    "/{calendar_id}/add-business-days",
    summary="Add business days",
    responses=problem_responses(404),
)
async def add_business_days(
    session: SessionDep,
    _: CurrentPrincipal,
    calendar_id: IdPath,
    start: Annotated[Instant, Query(description="RFC 3339 instant with offset.")],
    days: Annotated[int, Query(ge=0, le=service.MAX_DAYS)],
) -> BusinessDaysAnswer:
    """The instant `days` business days after `start` on this calendar (R-BT), in UTC."""
    calendar = await crud.get_or_404(session, Calendar, calendar_id)
    return service.add_business_days(calendar, start=start, days=days)
