"""What a chunk knows before the gate decides: its submissions' facts in one statement
(``load_context``), and what every chunk of a claimed batch shares (``load_batch``).

The context statement is the drain's tuned read (four joins, correlated subqueries on indexed
columns, built once so its cache key is computed once); the template preview reads through it
too, so a preview shows what the drain would send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.calendar import business_time as bt
from app.calendar import lookup as calendars
from app.candidates.models import Candidate
from app.clients.models import Client
from app.core import bulk
from app.core.prepared import Prepared
from app.interviews.models import Interview
from app.jobs.models import Job
from app.messaging import repository
from app.messaging.models import (
    Audience,
    Message,
    MessageState,
    Promise,
    PromiseState,
    Suppression,
)
from app.messaging.outbox import STATUS_KIND_VALUES
from app.sla.models import CheckKind, CheckState, Policy, SlaCheck
from app.submissions.models import Submission

#: A message in one of these states reached the provider (the caps count it, R-CAND-4).
SENT_STATES = (MessageState.sent.value, MessageState.merged.value, MessageState.delivered.value)


class Facts(NamedTuple):
    """One submission's row of the context query, its columns in order (a test holds them
    together). A tuple's fields are read without the attribute lookup a SQLAlchemy row makes
    first (the gate and the composer read about twenty per email)."""

    id: int
    stage: str
    candidate_id: int
    first_name: str
    email: str
    time_zone: str
    status_emails_opt_out: bool
    title: str
    name: str
    confidential: bool
    recruiter_name: str
    recruiter_email: str
    suppressed: bool
    last_sent: datetime | None
    next_check: datetime | None
    last_interview: datetime | None
    interview_end: datetime | None
    promised_day: date | None
    last_automated: datetime | None


@dataclass
class Context:
    """Everything a chunk needs about its submissions, loaded in one query."""

    rows: dict[int, Facts] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)
    last_sent: dict[int, datetime] = field(default_factory=dict)
    next_check: dict[int, datetime] = field(default_factory=dict)
    interview_day: dict[int, date] = field(default_factory=dict)
    interview_end: dict[int, datetime] = field(default_factory=dict)
    #: Per submission: the earliest day an open promise names (R-CAND-1).
    promised_day: dict[int, date] = field(default_factory=dict)
    #: Per candidate: when the last automated email reached them (R-CAND-4).
    last_automated: dict[int, datetime] = field(default_factory=dict)


def _per_submission(aggregate: Any, label: str, *where: Any) -> Any:
    """A correlated scalar subquery: one value per row of the outer query's submission."""
    return select(aggregate).where(*where).scalar_subquery().label(label)


@cache
def _context_query(postgresql: bool) -> Any:
    """Built once: a statement object reused across chunks keeps its cache key, which this one
    (four joins, four subqueries) is costly to compute per execution."""
    submission_id = col(Submission.id)
    suppressed = (
        select(col(Suppression.email))
        .where(col(Suppression.email) == col(Candidate.email))
        .exists()
        .label("suppressed")
    )
    last_sent = _per_submission(
        func.max(col(Message.sent_at)),
        "last_sent",
        col(Message.submission_id) == submission_id,
        col(Message.state).in_(SENT_STATES),
        col(Message.kind).in_(STATUS_KIND_VALUES),
    )
    next_check = _per_submission(
        func.min(col(SlaCheck.due_at)),
        "next_check",
        col(SlaCheck.submission_id) == submission_id,
        col(SlaCheck.state).in_((CheckState.scheduled.value, CheckState.claimed.value)),
        col(SlaCheck.kind) != CheckKind.promise.value,
    )
    interview_end = _per_submission(
        func.max(col(Interview.ends_at)),
        "interview_end",
        col(Interview.submission_id) == submission_id,
        col(Interview.status) != "cancelled",
    )

    # Grouped once per chunk and joined, not a subquery per row: it reads only the chunk's
    # submissions' open promises whatever plan PostgreSQL caches (a per-row subplan chosen while
    # the table looked empty walked every open promise for each row; issue 14).
    def wanted(column: Any) -> Any:
        return bulk.one_of(column, "submission_ids", postgresql=postgresql)

    open_promises = (
        select(
            col(Promise.submission_id).label("submission_id"),
            func.min(col(Promise.promised_date)).label("promised_day"),
        )
        .where(
            col(Promise.state) == literal_column(f"'{PromiseState.open.value}'"),
            wanted(col(Promise.submission_id)),
        )
        .group_by(col(Promise.submission_id))
        .subquery("open_promise")
    )
    last_automated = (
        select(func.max(col(Message.sent_at)))
        .where(
            col(Message.candidate_id) == col(Candidate.id),
            col(Message.audience) == Audience.candidate.value,
            col(Message.automated).is_(True),
            col(Message.state).in_(SENT_STATES),
        )
        .scalar_subquery()
        .label("last_automated")
    )
    last_interview = _per_submission(
        func.max(col(Interview.starts_at)),
        "last_interview",
        col(Interview.submission_id) == submission_id,
        col(Interview.status) != "cancelled",
    )
    return (
        select(
            submission_id,
            col(Submission.stage),
            col(Candidate.id).label("candidate_id"),
            col(Candidate.first_name),
            col(Candidate.email),
            col(Candidate.time_zone),
            col(Candidate.status_emails_opt_out),
            col(Job.title),
            col(Client.name),
            col(Client.confidential),
            col(User.name).label("recruiter_name"),
            col(User.email).label("recruiter_email"),
            suppressed,
            last_sent,
            next_check,
            last_interview,
            interview_end,
            open_promises.c.promised_day,
            last_automated,
        )
        .join(Candidate, col(Candidate.id) == col(Submission.candidate_id))
        .join(Job, col(Job.id) == col(Submission.job_id))
        .join(Client, col(Client.id) == col(Job.client_id))
        .join(User, col(User.id) == col(Submission.owner_id))
        .outerjoin(open_promises, open_promises.c.submission_id == submission_id)
        .where(wanted(submission_id))
    )


@cache
def _context(postgresql: bool) -> Prepared:
    """The context query as the drain runs it for every chunk (by the driver on PostgreSQL)."""
    return Prepared(_context_query(postgresql))


async def load_context(session: AsyncSession, submission_ids: set[int]) -> Context:
    """One round trip: the submission's people and job, and per submission (as correlated
    subqueries on indexed columns) whether the address is suppressed, the last status email
    sent, the next planned check and the latest interview."""
    ctx = Context()
    if not submission_ids:
        return ctx
    rows = await _context(bulk.is_postgresql(session)).rows(
        session, {"submission_ids": sorted(submission_ids)}
    )
    for row in map(Facts._make, rows):
        ctx.rows[row.id] = row
        if row.suppressed:
            ctx.suppressed.add(row.email)
        if row.last_sent is not None:
            ctx.last_sent[row.id] = row.last_sent
        if row.next_check is not None:
            ctx.next_check[row.id] = row.next_check
        if row.last_interview is not None:
            zone = ZoneInfo(row.time_zone)
            ctx.interview_day[row.id] = row.last_interview.astimezone(zone).date()
        if row.interview_end is not None:
            ctx.interview_end[row.id] = row.interview_end
        if row.promised_day is not None:
            ctx.promised_day[row.id] = row.promised_day
        if row.last_automated is not None:
            ctx.last_automated[row.candidate_id] = row.last_automated
    return ctx


@dataclass(frozen=True, slots=True)
class Batch:
    """What every chunk of one claimed batch shares (read once per batch, not per chunk)."""

    agency: bt.Calendar
    overrides: dict[str, str]
    #: R-CAND-1 policy numbers: news after an interview, and how far ahead a promise no
    #: cadence check backs is made.
    after_interview_days: int = 2
    promise_days: int = 3


#: The policy numbers a batch uses, built once (an ORM ``get`` builds its query on every call).
_POLICY_NUMBERS = select(col(Policy.after_interview_days), col(Policy.promise_days)).where(
    col(Policy.id) == 1
)


async def load_batch(session: AsyncSession) -> Batch:
    """What a claimed batch shares: the agency calendar, the admin's wording, the policy."""
    policy = (await session.execute(_POLICY_NUMBERS)).first()
    return Batch(
        agency=await calendars.default_calendar(session),
        overrides=await repository.template_overrides(session),
        after_interview_days=policy[0] if policy else 2,
        promise_days=policy[1] if policy else 3,
    )
