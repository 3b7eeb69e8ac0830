"""The named queries of the cadence (style rule 3): clocks, checks and the cadence's tasks of
one submission. The sweep's tuned set-based statements stay beside it in ``app.sla.sweep``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.candidates.models import Candidate
from app.interviews.models import Interview
from app.messaging.models import Promise, PromiseState
from app.sla.models import CheckKind, CheckState, SlaCheck, SlaClock
from app.submissions.models import Submission
from app.tasks.models import Task, TaskKind, TaskState

#: A check not yet fired or cancelled (a claimed one may still be cancelled, R-SLA-5).
PENDING = (CheckState.scheduled.value, CheckState.claimed.value)


async def latest_decision_date(session: AsyncSession, submission_id: int) -> date | None:
    """The stated decision date of the latest interview that gave one (R-SLA-1)."""
    stmt = (
        select(col(Interview.stated_decision_date))
        .where(
            col(Interview.submission_id) == submission_id,
            col(Interview.stated_decision_date).is_not(None),
            col(Interview.status) != "cancelled",
        )
        .order_by(col(Interview.starts_at).desc())
        .limit(1)
    )
    return await session.scalar(stmt)


async def running_clock(session: AsyncSession, submission_id: int) -> SlaClock | None:
    """The submission's running clock (at most one runs)."""
    stmt = select(SlaClock).where(
        col(SlaClock.submission_id) == submission_id, col(SlaClock.stopped_at).is_(None)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def newest_clock_id(session: AsyncSession, submission_id: int) -> int | None:
    """The submission's latest clock, running or stopped."""
    clock_id: int | None = await session.scalar(
        select(func.max(col(SlaClock.id))).where(col(SlaClock.submission_id) == submission_id)
    )
    return clock_id


async def stop_running_clock(
    session: AsyncSession, submission_id: int, *, at: datetime, reason: str
) -> int | None:
    """Stop the submission's running clock, if one runs; its id, or None. One statement: the
    conditional update finds the running clock and stops it (issue 14: no read first)."""
    stopped: int | None = await session.scalar(
        update(SlaClock)
        .where(col(SlaClock.submission_id) == submission_id, col(SlaClock.stopped_at).is_(None))
        .values(stopped_at=at, stop_reason=reason)
        .returning(col(SlaClock.id))
        .execution_options(synchronize_session=False)
    )
    return stopped


async def cancel_pending_cadence_checks(session: AsyncSession, submission_id: int) -> None:
    """Cancel the submission's pending first, second, extra and silence checks. A promise check
    stays: it backs a date already given to the candidate, and only a newer message about the
    application cancels it (R-CAND-1)."""
    await session.execute(
        update(SlaCheck)
        .where(
            col(SlaCheck.submission_id) == submission_id,
            col(SlaCheck.state).in_(PENDING),
            col(SlaCheck.kind) != CheckKind.promise.value,
        )
        .values(state=CheckState.cancelled.value, claim_token=None)
        .execution_options(synchronize_session=False)
    )


async def cancel_open_cadence_tasks(
    session: AsyncSession, submission_id: int, *, reason: str, now: datetime
) -> None:
    """Cancel the submission's open chase and decide tasks. They all belong to the running
    clock (stopping a clock settles all of its own), so the submission finds them through
    indexes the sweep needs anyway."""
    await session.execute(
        update(Task)
        .where(
            col(Task.submission_id) == submission_id,
            col(Task.state) == TaskState.open.value,
            col(Task.kind).in_([TaskKind.chase.value, TaskKind.decide.value]),
        )
        .values(state=TaskState.cancelled.value, resolution=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def open_promise_days(session: AsyncSession, submission_id: int) -> list[tuple[date, str]]:
    """Each open promise's day with the candidate's time zone (R-CAND-1)."""
    rows = (
        await session.execute(
            select(col(Promise.promised_date), col(Candidate.time_zone))
            .join(Submission, col(Submission.id) == col(Promise.submission_id))
            .join(Candidate, col(Candidate.id) == col(Submission.candidate_id))
            .where(
                col(Promise.submission_id) == submission_id,
                col(Promise.state) == PromiseState.open.value,
            )
        )
    ).all()
    return [(day, time_zone) for day, time_zone in rows]


async def pending_promise_check_dues(session: AsyncSession, submission_id: int) -> list[datetime]:
    """When the submission's pending promise checks are due."""
    stmt = select(col(SlaCheck.due_at)).where(
        col(SlaCheck.submission_id) == submission_id,
        col(SlaCheck.state).in_(PENDING),
        col(SlaCheck.kind) == CheckKind.promise.value,
    )
    return list((await session.execute(stmt)).scalars())


async def scheduled_first_check_id(session: AsyncSession, submission_id: int) -> int | None:
    """The submission's first check, while it is still ahead."""
    return await session.scalar(
        select(col(SlaCheck.id)).where(
            col(SlaCheck.submission_id) == submission_id,
            col(SlaCheck.kind) == CheckKind.first.value,
            col(SlaCheck.state) == CheckState.scheduled.value,
        )
    )


async def clocks_of(session: AsyncSession, submission_id: int) -> list[SlaClock]:
    stmt = select(SlaClock).where(col(SlaClock.submission_id) == submission_id)
    return list((await session.execute(stmt.order_by(col(SlaClock.id)))).scalars())


async def checks_of(session: AsyncSession, submission_id: int) -> list[SlaCheck]:
    """Every check of the submission, planned and past, by due instant."""
    stmt = (
        select(SlaCheck)
        .where(col(SlaCheck.submission_id) == submission_id)
        .order_by(col(SlaCheck.due_at), col(SlaCheck.id))
    )
    return list((await session.execute(stmt)).scalars())
