"""The named queries of the cadence (style rule 3): clocks, checks and the cadence's tasks of
one submission. The sweep's tuned set-based statements stay beside it in ``app.sla.sweep``.

The statements a stage move runs are built once, at import, with ``bindparam`` for what varies
(issue 14, decision 0086): a statement object memoises its cache key, so running it again skips
building the expression and its key, and the writes go to the tables as Core statements, without
the ORM's bulk-update bookkeeping (no object here is loaded for them to synchronise)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
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


_LATEST_DECISION_DATE = (
    select(col(Interview.stated_decision_date))
    .where(
        col(Interview.submission_id) == bindparam("submission_id"),
        col(Interview.stated_decision_date).is_not(None),
        col(Interview.status) != "cancelled",
    )
    .order_by(col(Interview.starts_at).desc())
    .limit(1)
)


async def latest_decision_date(session: AsyncSession, submission_id: int) -> date | None:
    """The stated decision date of the latest interview that gave one (R-SLA-1)."""
    return await session.scalar(_LATEST_DECISION_DATE, {"submission_id": submission_id})


async def running_clock(session: AsyncSession, submission_id: int) -> SlaClock | None:
    """The submission's running clock (at most one runs)."""
    stmt = select(SlaClock).where(
        col(SlaClock.submission_id) == submission_id, col(SlaClock.stopped_at).is_(None)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


_CLOCKS = SlaClock.__table__  # type: ignore[attr-defined]
_CHECKS = SlaCheck.__table__  # type: ignore[attr-defined]
_TASKS = Task.__table__  # type: ignore[attr-defined]
_NEWEST_CLOCK_ID = select(func.max(_CLOCKS.c.id)).where(
    _CLOCKS.c.submission_id == bindparam("submission_id")
)
_STOP_RUNNING_CLOCK = (
    update(_CLOCKS)
    .where(_CLOCKS.c.submission_id == bindparam("of_submission"), _CLOCKS.c.stopped_at.is_(None))
    .values(stopped_at=bindparam("at"), stop_reason=bindparam("reason"))
    .returning(_CLOCKS.c.id)
)
_CANCEL_PENDING_CADENCE_CHECKS = (
    update(_CHECKS)
    .where(
        _CHECKS.c.submission_id == bindparam("of_submission"),
        _CHECKS.c.state.in_(PENDING),
        _CHECKS.c.kind != CheckKind.promise.value,
    )
    .values(state=CheckState.cancelled.value, claim_token=None)
)
_CANCEL_OPEN_CADENCE_TASKS = (
    update(_TASKS)
    .where(
        _TASKS.c.submission_id == bindparam("of_submission"),
        _TASKS.c.state == TaskState.open.value,
        _TASKS.c.kind.in_([TaskKind.chase.value, TaskKind.decide.value]),
    )
    .values(
        state=TaskState.cancelled.value, resolution=bindparam("reason"), updated_at=bindparam("now")
    )
)
_OPEN_PROMISE_DAYS = (
    select(col(Promise.promised_date), col(Candidate.time_zone))
    .join(Submission, col(Submission.id) == col(Promise.submission_id))
    .join(Candidate, col(Candidate.id) == col(Submission.candidate_id))
    .where(
        col(Promise.submission_id) == bindparam("submission_id"),
        col(Promise.state) == PromiseState.open.value,
    )
)
_PENDING_PROMISE_CHECK_DUES = select(_CHECKS.c.due_at).where(
    _CHECKS.c.submission_id == bindparam("submission_id"),
    _CHECKS.c.state.in_(PENDING),
    _CHECKS.c.kind == CheckKind.promise.value,
)

_INSERT_CLOCK = insert(_CLOCKS).returning(_CLOCKS.c.id)
_INSERT_CHECKS = insert(_CHECKS)


async def insert_clock(
    session: AsyncSession,
    *,
    submission_id: int,
    stage: str,
    started_at: datetime,
    decision_date: date | None,
) -> int:
    """A running clock; its id."""
    inserted = await session.execute(
        _INSERT_CLOCK,
        {
            "submission_id": submission_id,
            "stage": stage,
            "started_at": started_at,
            "decision_date": decision_date,
        },
    )
    return int(inserted.scalar_one())


async def insert_checks(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Scheduled checks (``clock_id``, ``submission_id``, ``kind``, ``due_at``, ``breach_at``),
    in one statement."""
    if rows:
        await session.execute(
            _INSERT_CHECKS,
            [row | {"state": CheckState.scheduled.value, "claims": 0} for row in rows],
        )


async def newest_clock_id(session: AsyncSession, submission_id: int) -> int | None:
    """The submission's latest clock, running or stopped."""
    clock_id: int | None = await session.scalar(_NEWEST_CLOCK_ID, {"submission_id": submission_id})
    return clock_id


async def stop_running_clock(
    session: AsyncSession, submission_id: int, *, at: datetime, reason: str
) -> int | None:
    """Stop the submission's running clock, if one runs; its id, or None. One statement: the
    conditional update finds the running clock and stops it (issue 14: no read first)."""
    stopped: int | None = await session.scalar(
        _STOP_RUNNING_CLOCK, {"of_submission": submission_id, "at": at, "reason": reason}
    )
    return stopped


async def cancel_pending_cadence_checks(session: AsyncSession, submission_id: int) -> None:
    """Cancel the submission's pending first, second, extra and silence checks. A promise check
    stays: it backs a date already given to the candidate, and only a newer message about the
    application cancels it (R-CAND-1)."""
    await session.execute(_CANCEL_PENDING_CADENCE_CHECKS, {"of_submission": submission_id})


async def cancel_open_cadence_tasks(
    session: AsyncSession, submission_id: int, *, reason: str, now: datetime
) -> None:
    """Cancel the submission's open chase and decide tasks. They all belong to the running
    clock (stopping a clock settles all of its own), so the submission finds them through
    indexes the sweep needs anyway."""
    await session.execute(
        _CANCEL_OPEN_CADENCE_TASKS, {"of_submission": submission_id, "reason": reason, "now": now}
    )


async def open_promise_days(session: AsyncSession, submission_id: int) -> list[tuple[date, str]]:
    """Each open promise's day with the candidate's time zone (R-CAND-1)."""
    rows = (await session.execute(_OPEN_PROMISE_DAYS, {"submission_id": submission_id})).all()
    return [(day, time_zone) for day, time_zone in rows]


async def pending_promise_check_dues(session: AsyncSession, submission_id: int) -> list[datetime]:
    """When the submission's pending promise checks are due."""
    rows = await session.execute(_PENDING_PROMISE_CHECK_DUES, {"submission_id": submission_id})
    return list(rows.scalars())


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
