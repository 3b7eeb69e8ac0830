"""The cadence (R-SLA): clocks start on waiting stages, checks are planned on their due instants,
feedback and moves stop clocks. The sweep that fires checks lives in ``app.sla.sweep``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.calendar import business_time as bt
from app.calendar import lookup as calendars
from app.calendar.business_time import Calendar as BusinessCalendar
from app.core.clock import utcnow
from app.messaging import gate
from app.sla import repository
from app.sla.models import (
    CheckKind,
    CheckPublic,
    ClockPublic,
    Policy,
    SchedulePublic,
    SlaCheck,
)
from app.sla.policy import get_policy
from app.submissions.models import Submission
from app.submissions.states import WAITING, Stage


@dataclass(frozen=True, slots=True)
class PlannedCheck:
    kind: CheckKind
    due_at: datetime
    breach_at: datetime


def opening_of(cal: BusinessCalendar, day: date) -> datetime:
    """The calendar's opening on ``day`` (local), as an instant; normalised if ``day`` is closed."""
    local = datetime.combine(day, cal.opens, tzinfo=ZoneInfo(cal.time_zone))
    return bt.normalize(cal, local)


def plan(
    cal: BusinessCalendar, policy: Policy, started_at: datetime, decision_date: date | None
) -> list[PlannedCheck]:
    """R-SLA 1-4: the whole schedule of one clock, computed from its start alone.

    Pure, so the preview (``GET /schedule``) and the sweep agree to the microsecond, and a check's
    instant never depends on when a worker happened to run.
    """
    first = bt.add_business_days(cal, started_at, policy.first_check_days)
    if decision_date is not None:
        # A week after the date the client gave, if that is later (R-SLA-1).
        first = max(first, bt.add_business_days(cal, opening_of(cal, decision_date), 5))
    second = bt.add_business_days(cal, first, policy.second_check_days)
    silence = bt.add_business_days(cal, first, policy.silence_days)

    def breach(due: datetime) -> datetime:
        return bt.add_business_days(cal, due, policy.breach_days)

    return [
        PlannedCheck(CheckKind.first, first, breach(first)),
        PlannedCheck(CheckKind.second, second, breach(second)),
        PlannedCheck(CheckKind.silence, silence, breach(silence)),
    ]


async def start_clock(
    session: AsyncSession,
    submission: Submission,
    *,
    started_at: datetime,
    decision_date: date | None = None,
    stopped: bool = False,
) -> int:
    """Start a clock and place its checks as rows (R-SLA-1..4, R-SLA-6); the clock's id. A clock
    still running is stopped first, unless the caller has just stopped it (``stopped``)."""
    if not stopped:
        await stop_clock(session, submission, reason="restarted", at=started_at)
    assert submission.id is not None
    cal = await calendars.for_submission(session, submission)
    policy = await get_policy(session)
    clock_id = await repository.insert_clock(
        session,
        submission_id=submission.id,
        stage=str(submission.stage),
        started_at=started_at,
        decision_date=decision_date,
    )
    await repository.insert_checks(
        session,
        [
            {
                "clock_id": clock_id,
                "submission_id": submission.id,
                "kind": p.kind.value,
                "due_at": p.due_at,
                "breach_at": p.breach_at,
            }
            for p in plan(cal, policy, started_at, decision_date)
        ],
    )
    return clock_id


async def stop_clock(
    session: AsyncSession, submission: Submission, *, reason: str, at: datetime
) -> bool:
    """Stop the running clock, cancel its pending checks and its open chase/decide tasks
    (R-SLA-5). A check being fired right now is cancelled too: the sweep's fenced update then
    finds it no longer claimed and fires nothing. Returns whether a clock was running."""
    assert submission.id is not None
    clock_id = await repository.stop_running_clock(session, submission.id, at=at, reason=reason)
    if clock_id is None:
        return False
    await repository.cancel_pending_cadence_checks(session, submission.id)
    await back_open_promises(session, submission)
    await repository.cancel_open_cadence_tasks(session, submission.id, reason=reason, now=utcnow())
    return True


async def back_open_promises(session: AsyncSession, submission: Submission) -> None:
    """R-CAND-1: the checks a stopped clock cancelled may have been what backed a date the
    candidate was given; each open promise left without a check on or before its day gets a
    promise check on that day (``gate.promise_check_at``)."""
    assert submission.id is not None
    rows = await repository.open_promise_days(session, submission.id)
    if not rows:
        return
    pending = await repository.pending_promise_check_dues(session, submission.id)
    clock_id = await repository.newest_clock_id(session, submission.id)
    if clock_id is None:
        return
    agency = await calendars.default_calendar(session)
    checks = []
    for day, time_zone in rows:
        due = gate.promise_check_at(day, time_zone)
        if any(p <= due for p in pending):
            continue
        pending.append(due)
        checks.append(
            {
                "clock_id": clock_id,
                "submission_id": submission.id,
                "kind": CheckKind.promise.value,
                "due_at": due,
                "breach_at": bt.add_business_days(agency, due, 1),
            }
        )
    await repository.insert_checks(session, checks)


async def on_stage_entered(
    session: AsyncSession, submission: Submission, *, stage: Stage, at: datetime
) -> None:
    """Any move stops the running clock; entering a waiting stage starts a new one (R-SLA-5)."""
    await stop_clock(session, submission, reason=f"moved to {stage.value}", at=at)
    if stage in WAITING:
        decision = (
            await repository.latest_decision_date(session, submission.id)
            if stage is Stage.interviewed and submission.id is not None
            else None
        )
        await start_clock(session, submission, started_at=at, decision_date=decision, stopped=True)


async def on_feedback(
    session: AsyncSession,
    submission: Submission,
    *,
    decision: str,
    stated_decision_date: date | None,
    at: datetime,
) -> None:
    """Feedback stops the clock; ``hold`` with a new date restarts it by rule 1 (R-SLA-5)."""
    await stop_clock(session, submission, reason="feedback", at=at)
    if decision == "hold" and stated_decision_date is not None:
        await start_clock(
            session, submission, started_at=at, decision_date=stated_decision_date, stopped=True
        )


async def on_decision_date_changed(session: AsyncSession, submission: Submission) -> None:
    """A new stated decision date moves the first check, while the first check is still ahead."""
    if Stage(submission.stage) is not Stage.interviewed:
        return
    assert submission.id is not None
    clock = await repository.running_clock(session, submission.id)
    if clock is None:
        return
    first_pending = await repository.scheduled_first_check_id(session, submission.id)
    decision = await repository.latest_decision_date(session, submission.id)
    if first_pending is None or decision == clock.decision_date:
        return
    await start_clock(session, submission, started_at=clock.started_at, decision_date=decision)


async def keep_waiting(session: AsyncSession, submission: Submission, *, now: datetime) -> None:
    """R-SLA-4 "keep waiting": one more check 3 business days later (policy), and — so silence
    can never go unnoticed — a new decide point the same distance after that check."""
    assert submission.id is not None
    clock = await repository.running_clock(session, submission.id)
    if clock is None:
        await start_clock(session, submission, started_at=now)
        return
    assert clock.id is not None and submission.id is not None
    cal = await calendars.for_submission(session, submission)
    policy = await get_policy(session)
    extra = bt.add_business_days(cal, now, policy.keep_waiting_days)
    silence = bt.add_business_days(cal, extra, policy.keep_waiting_days)
    session.add_all(
        [
            SlaCheck(
                clock_id=clock.id,
                submission_id=submission.id,
                kind=CheckKind.extra,
                due_at=extra,
                breach_at=bt.add_business_days(cal, extra, policy.breach_days),
            ),
            SlaCheck(
                clock_id=clock.id,
                submission_id=submission.id,
                kind=CheckKind.silence,
                due_at=silence,
                breach_at=bt.add_business_days(cal, silence, policy.breach_days),
            ),
        ]
    )
    await session.flush()


async def schedule(session: AsyncSession, submission: Submission) -> SchedulePublic:
    """Every clock and check of a submission, planned and past, in two queries."""
    assert submission.id is not None
    clocks = await repository.clocks_of(session, submission.id)
    checks = await repository.checks_of(session, submission.id)
    assert submission.id is not None
    return SchedulePublic(
        submission_id=submission.id,
        clocks=[
            ClockPublic(
                id=clock.id or 0,
                stage=clock.stage,
                started_at=clock.started_at,
                decision_date=clock.decision_date,
                stopped_at=clock.stopped_at,
                stop_reason=clock.stop_reason,
                checks=[CheckPublic.model_validate(c) for c in checks if c.clock_id == clock.id],
            )
            for clock in clocks
        ],
    )
