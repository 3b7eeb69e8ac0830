"""Which business calendar applies: a client's own, else the agency default (R-BT)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.calendar.business_time import Calendar as BusinessCalendar
from app.calendar.models import Calendar, to_business_calendar
from app.clients.models import Client
from app.jobs.models import Job
from app.submissions.models import Submission

#: Used only while an agency has not set a default calendar: Mon-Fri 09:00-17:00 UTC, no holidays.
FALLBACK = BusinessCalendar(time_zone="UTC")


#: Built once (issue 14, decision 0086): the statements of every stage move and check.
_DEFAULT = select(Calendar).where(col(Calendar.is_default).is_(True))
#: A submission's clocks use its client's calendar, else the agency's default: the client's
#: calendar sorts first (``is_default`` false before true).
_FOR_JOB = (
    select(Calendar)
    .where(
        or_(
            col(Calendar.id)
            == (
                select(col(Client.calendar_id))
                .join(Job, col(Job.client_id) == col(Client.id))
                .where(col(Job.id) == bindparam("job_id"))
                .scalar_subquery()
            ),
            col(Calendar.is_default).is_(True),
        )
    )
    .order_by(col(Calendar.is_default))
    .limit(1)
)


async def default_calendar(session: AsyncSession) -> BusinessCalendar:
    """The agency's default calendar: recruiter tasks run on it (R-BT)."""
    row = (await session.execute(_DEFAULT)).scalar_one_or_none()
    return to_business_calendar(row) if row is not None else FALLBACK


async def calendars_by_id(
    session: AsyncSession, ids: Iterable[int | None]
) -> dict[int | None, BusinessCalendar]:
    """Business calendars for the given ids in one query; ``None`` maps to the agency default."""
    wanted = {i for i in ids if i is not None}
    found: dict[int | None, BusinessCalendar] = {None: await default_calendar(session)}
    if wanted:
        rows = await session.execute(select(Calendar).where(col(Calendar.id).in_(wanted)))
        for row in rows.scalars():
            found[row.id] = to_business_calendar(row)
    return found


async def for_submission(session: AsyncSession, submission: Submission) -> BusinessCalendar:
    """A submission's clocks use its client's calendar, else the agency's default: one query."""
    row = (await session.execute(_FOR_JOB, {"job_id": submission.job_id})).scalar_one_or_none()
    return to_business_calendar(row) if row is not None else FALLBACK
