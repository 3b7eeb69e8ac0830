"""Promises an email makes, keeps and breaks (R-CAND-1).

When a status email goes, the date it states for each application (``promise_for``) becomes an
open promise, earlier promises about that application are settled by it (``settle``: kept if
in time), and each promise no cadence check backs gets a promise check on its day (``back``),
all in the chunk's transaction. A promise whose day ended with no email is recorded broken by
every drain round (``break_overdue``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, bindparam, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.calendar import business_time as bt
from app.core import bulk
from app.core.prepared import Prepared
from app.messaging import gate
from app.messaging.delivery.context import Batch, Context
from app.messaging.models import (
    MessageKind,
    Promise,
    PromiseState,
)
from app.messaging.outbox import PROMISING
from app.sla.models import CheckKind, CheckState, SlaCheck, SlaClock


@dataclass(frozen=True, slots=True)
class Promised:
    """A date an email promises for one application, and whether a cadence check backs it
    (if not, a promise check is scheduled on its slot when the email goes)."""

    submission_id: int
    day: date
    backed: bool


def promise_for(
    ctx: Context,
    kind: MessageKind,
    submission_id: int,
    *,
    now: datetime,
    tz: str,
    batch: Batch,
    digest_time: time = gate.DEFAULT_DIGEST_TIME,
) -> Promised | None:
    """R-CAND-1, from the submission's state at send time: the day the candidate will hear
    next. After a scheduled interview: its end plus the policy's business days. Otherwise the
    slot of the next cadence check; with none (a stopped clock, after silence), the policy's
    days ahead. Never today: the promise is of news still to come, and today's email is this
    one (R-CAND-4)."""
    if kind not in PROMISING:
        return None
    agency = batch.agency
    zone = ZoneInfo(tz)
    earliest = _days_after(agency, now, 1)
    next_check = ctx.next_check.get(submission_id)
    check_day = (
        gate.digest_slot(max(next_check, now), tz, digest_time).astimezone(zone).date()
        if next_check is not None
        else None
    )
    interview_end = ctx.interview_end.get(submission_id)
    if kind is MessageKind.interview_scheduled and interview_end is not None:
        target = max(
            bt.add_business_days(agency, interview_end, batch.after_interview_days), earliest
        )
    elif kind is not MessageKind.interview_scheduled and check_day is not None:
        # A check later today sends its news tomorrow (one email a day): still the promise.
        return Promised(submission_id, max(check_day, _after_today(now, tz)), backed=True)
    else:
        target = max(_days_after(agency, now, batch.promise_days), earliest)
    day = max(
        gate.digest_slot(target, tz, digest_time).astimezone(zone).date(), _after_today(now, tz)
    )
    if check_day is not None and check_day <= day:
        # A check already falls on or before the day: it is the promise, with its date.
        return Promised(submission_id, check_day, backed=True)
    return Promised(submission_id, day, backed=False)


@lru_cache(maxsize=256)
def _days_after(agency: bt.Calendar, now: datetime, days: int) -> datetime:
    """``days`` business days after the drain's ``now``: the same for every email of a drain."""
    return bt.add_business_days(agency, now, days)


@lru_cache(maxsize=256)
def _after_today(now: datetime, tz: str) -> date:
    """The first weekday after ``now``'s local day (the earliest day a promise may name)."""
    zone = ZoneInfo(tz)
    tomorrow = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(0), zone)
    return gate.digest_slot(tomorrow, tz).astimezone(zone).date()


def promise_date_for(
    ctx: Context,
    kind: MessageKind,
    submission_id: int,
    *,
    now: datetime,
    tz: str,
    agency: bt.Calendar,
    digest_time: time = gate.DEFAULT_DIGEST_TIME,
) -> date | None:
    """The promised day alone (the template preview), with the default policy numbers."""
    promised = promise_for(
        ctx,
        kind,
        submission_id,
        now=now,
        tz=tz,
        batch=Batch(agency=agency, overrides={}),
        digest_time=digest_time,
    )
    return promised.day if promised else None


async def settle(
    session: AsyncSession,
    settled: list[dict[str, Any]],
    promises: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """Earlier promises of the submissions an email went about are settled by it (kept if in
    time), and the dates it states become the new promises (R-CAND-1). One executemany and one
    multi-row insert for the chunk; a submission is in at most one email of a chunk (one
    recipient's messages are never split), so the order per email is kept."""
    connection = await session.connection()
    if settled and connection.dialect.name == "postgresql":
        # One statement for the chunk (its submissions as arrays), not one per submission.
        await _keep_all_statement().run(
            session,
            {
                "b_submissions": [p["b_submission"] for p in settled],
                "b_leads": [p["b_lead"] for p in settled],
                "b_now": now,
            },
        )
    elif settled:
        await connection.execute(_keep_statement(), [p | {"b_now": now} for p in settled])
    await bulk.writer(session).insert(Promise.__table__, promises)  # type: ignore[attr-defined]


async def back(
    session: AsyncSession,
    spoken_of: list[int],
    unbacked: list[dict[str, Any]],
    *,
    agency: bt.Calendar,
    digest_time: time,
    now: datetime,
) -> None:
    """R-CAND-1: a status just sent about an application cancels its pending promise checks
    (the promise they backed is settled), and each promise no cadence check backs gets one on
    its day (``gate.promise_check_at``), written in the same transaction as the promise."""
    postgresql = bulk.is_postgresql(session)
    if spoken_of:
        await _cancel_statement(postgresql).run(session, {"b_submissions": sorted(set(spoken_of))})
    if not unbacked:
        return
    held = await _clocks_statement(postgresql).rows(
        session, {"b_submissions": sorted({p["submission_id"] for p in unbacked})}
    )
    clocks: dict[int, int] = dict(held)
    rows = []
    for promise in unbacked:
        clock_id = clocks.get(promise["submission_id"])
        if clock_id is None:  # every submission starts with a clock; none: it is gone
            continue
        due = gate.promise_check_at(promise["day"], promise["time_zone"])
        rows.append(
            {
                # The clock of the period that made the promise (the latest, maybe stopped).
                "clock_id": clock_id,
                "submission_id": promise["submission_id"],
                "kind": CheckKind.promise.value,
                "due_at": due,
                "breach_at": bt.add_business_days(agency, due, 1),
                "state": CheckState.scheduled.value,
                "claims": 0,
            }
        )
    await bulk.writer(session).insert(SlaCheck.__table__, rows)  # type: ignore[attr-defined]


@cache
def _cancel_statement(postgresql: bool) -> Prepared:
    """Pending promise checks of the submissions an email spoke of (built once, run by the
    driver on PostgreSQL: ``app.core.prepared``)."""
    table = SlaCheck.__table__  # type: ignore[attr-defined]
    return Prepared(
        update(table)
        .where(
            bulk.one_of(table.c.submission_id, "b_submissions", postgresql=postgresql),
            table.c.kind == CheckKind.promise.value,
            table.c.state.in_((CheckState.scheduled.value, CheckState.claimed.value)),
        )
        .values(state=CheckState.cancelled.value, claim_token=None)
    )


@cache
def _clocks_statement(postgresql: bool) -> Prepared:
    """Each submission's latest clock (the period that made a promise)."""
    table = SlaClock.__table__  # type: ignore[attr-defined]
    return Prepared(
        select(table.c.submission_id, func.max(table.c.id))
        .where(bulk.one_of(table.c.submission_id, "b_submissions", postgresql=postgresql))
        .group_by(table.c.submission_id)
    )


#: Open, as a literal in the SQL (see ``_keep_statement``).
_OPEN: ColumnElement[str] = literal_column(f"'{PromiseState.open.value}'")


@cache
def _keep_statement() -> Any:
    table = Promise.__table__  # type: ignore[attr-defined]
    return (
        update(table)
        .where(
            table.c.submission_id == bindparam("b_submission"),
            # The partial index's predicate as a literal, so a cached PostgreSQL plan can use
            # ix_promise_open_submission (a bound value would make it walk the open promises).
            table.c.state == _OPEN,
            table.c.due_by_at >= bindparam("b_now"),
        )
        .values(
            state=PromiseState.kept.value,
            settled_at=bindparam("b_now"),
            settled_by_message_id=bindparam("b_lead"),
        )
    )


@cache
def _keep_all_statement() -> Prepared:
    """``_keep_statement`` for a whole chunk on PostgreSQL: the submissions and the emails that
    settle them as two arrays, joined to the open promises (one scan or index probe per chunk,
    whatever plan is cached)."""
    table = Promise.__table__  # type: ignore[attr-defined]
    spoken = select(
        func.unnest(bindparam("b_submissions", type_=ARRAY(Integer))).label("b_submission"),
        func.unnest(bindparam("b_leads", type_=ARRAY(Integer))).label("b_lead"),
    ).subquery("spoken")
    return Prepared(
        update(table)
        .where(
            table.c.submission_id == spoken.c.b_submission,
            table.c.state == _OPEN,
            table.c.due_by_at >= bindparam("b_now"),
        )
        .values(
            state=PromiseState.kept.value,
            settled_at=bindparam("b_now"),
            settled_by_message_id=spoken.c.b_lead,
        )
    )


async def break_overdue(session: AsyncSession, *, now: datetime) -> None:
    """A promise whose day ended with no email about its submission was broken (R-CAND-1).
    Probed first (a read of the partial index), so an idle round takes no write lock."""
    overdue = await session.scalar(
        # The partial index's predicate as a literal, so a cached PostgreSQL plan can use it.
        select(col(Promise.id))
        .where(text("promise.state = 'open'"), col(Promise.due_by_at) < now)
        .limit(1)
    )
    if overdue is None:
        return
    await session.execute(
        update(Promise)
        .where(col(Promise.state) == PromiseState.open.value, col(Promise.due_by_at) < now)
        .values(state=PromiseState.broken.value, settled_at=now)
        .execution_options(synchronize_session=False)
    )


def end_of_day(day: date, time_zone: str) -> datetime:
    """A promise "by Thursday" holds until that Thursday ends where the candidate lives."""
    zone = ZoneInfo(time_zone)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
