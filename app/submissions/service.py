"""Submissions and their stage moves (R-ST). Never commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from app.auth import ownership
from app.auth import service as auth
from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.core import crud
from app.core.clock import utcnow
from app.core.errors import Conflict, InvalidInput, StageMoveRefused
from app.core.filters import UpdatedSince
from app.core.models import public_of
from app.core.pagination import Page, PageParams
from app.events import service as events
from app.jobs.models import Job
from app.messaging import outbox
from app.sla import service as sla
from app.submissions import states
from app.submissions.models import (
    StageMove,
    StageMoveCreate,
    StageMovePublic,
    Submission,
    SubmissionCreate,
    SubmissionPublic,
    SubmissionUpdate,
)
from app.submissions.states import Stage

#: Moves older than this when recorded are backfills: they change history, not the candidate's news.
STALE_AFTER = timedelta(days=3)

_SUBMISSIONS = Submission.__table__  # type: ignore[attr-defined]
_MOVES = StageMove.__table__  # type: ignore[attr-defined]
#: The stage move's statements, built once (issue 14, decision 0086). The update is
#: conditional on the stage the submission was read in (R-ST: two racing moves, one wins).
_MOVE = (
    update(_SUBMISSIONS)
    .where(
        _SUBMISSIONS.c.id == bindparam("submission_id"),
        _SUBMISSIONS.c.stage == bindparam("from_stage"),
    )
    .values(
        stage=bindparam("to_stage"),
        stage_changed_at=bindparam("occurred_at"),
        updated_at=bindparam("now"),
    )
)
_INSERT_MOVE = insert(_MOVES)


def public(submission: Submission) -> SubmissionPublic:
    found = public_of(SubmissionPublic, submission)
    found.allowed_moves = list(states.allowed_moves(found.stage))
    return found


async def get(session: AsyncSession, principal: Principal, submission_id: int) -> Submission:
    return await crud.get_or_404(
        session, Submission, submission_id, visible=ownership.submissions(principal)
    )


async def read(session: AsyncSession, principal: Principal, submission_id: int) -> SubmissionPublic:
    """One submission as answered, with the moves allowed from where it stands."""
    found = await crud.read_or_404(
        session,
        Submission,
        SubmissionPublic,
        submission_id,
        visible=ownership.submissions(principal),
    )
    found.allowed_moves = list(states.allowed_moves(found.stage))
    return found


async def create(session: AsyncSession, principal: Principal, data: SubmissionCreate) -> Submission:
    now = utcnow()
    candidate = await crud.require_ref(
        session,
        Candidate,
        data.candidate_id,
        field="body.candidate_id",
        visible=ownership.candidates(principal),
    )
    job = await crud.require_ref(
        session, Job, data.job_id, field="body.job_id", visible=ownership.jobs(principal)
    )
    if job.status == "closed":
        raise Conflict(f"Job {job.id} is closed; nobody can be submitted to it.")
    duplicate = await session.scalar(
        select(col(Submission.id)).where(
            col(Submission.candidate_id) == candidate.id, col(Submission.job_id) == job.id
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"Candidate {candidate.id} is already submitted to job {job.id} "
            f"(submission {duplicate})."
        )
    owner_id = await auth.resolve_owner(
        session, principal, data.owner_id, default=candidate.owner_id
    )
    await crud.ensure_external_id_free(session, Submission, data.external_id, own_id=None)
    submitted_at = data.submitted_at or now
    crud.not_in_future("body.submitted_at", submitted_at, now)
    submission = Submission(
        external_id=data.external_id,
        candidate_id=candidate.id,  # type: ignore[arg-type]
        job_id=job.id,  # type: ignore[arg-type]
        owner_id=owner_id,
        stage=Stage.submitted,
        stage_changed_at=submitted_at,
        submitted_at=submitted_at,
    )
    session.add(submission)
    await session.flush()
    assert submission.id is not None
    session.add(
        StageMove(
            submission_id=submission.id,
            from_stage=None,
            to_stage=Stage.submitted,
            occurred_at=submitted_at,
            recorded_at=now,
            actor_type=principal.actor_type,
            actor_id=principal.actor_id,
        )
    )
    await events.record(
        session,
        principal,
        action="submission.created",
        record_type="submission",
        record_id=submission.id,
        data={"stage": Stage.submitted.value, "occurred_at": submitted_at.isoformat()},
    )
    await sla.on_stage_entered(session, submission, stage=Stage.submitted, at=submitted_at)
    await _tell_candidate(session, submission, Stage.submitted, at=submitted_at, now=now)
    return submission


async def _tell_candidate(
    session: AsyncSession, submission: Submission, stage: Stage, *, at: datetime, now: datetime
) -> None:
    """R-CAND-2: the stage's status message, into the outbox with this change. A move an ATS
    backdates by days is history being synced, not news: nobody is emailed about it."""
    kind = outbox.STAGE_MESSAGES.get(stage)
    if kind is None or now - at > STALE_AFTER:
        return
    await outbox.enqueue_status(session, submission, kind, due_at=at, reason=f"moved to {stage}")


async def move(
    session: AsyncSession,
    principal: Principal,
    submission: Submission,
    data: StageMoveCreate,
    *,
    now: datetime | None = None,
) -> Submission:
    """Move to another stage if the transition table allows it (R-ST).

    The update is conditional on the stage it was read in, so two racing moves cannot both
    succeed: the loser gets 409 and changes nothing. Every move stops the running SLA clock and
    a waiting stage starts a new one (R-SLA-5).
    """
    now = now or utcnow()
    from_stage = Stage(submission.stage)
    if not states.can_move(from_stage, data.to_stage):
        allowed = [s.value for s in states.allowed_moves(from_stage)]
        listed = ", ".join(allowed) if allowed else f"none ({from_stage.value} is final)"
        raise StageMoveRefused(
            f"A submission cannot move from {from_stage.value} to {data.to_stage.value}. "
            f"Allowed moves: {listed}.",
            allowed=allowed,
        )
    occurred_at = data.occurred_at or now
    crud.not_in_future("body.occurred_at", occurred_at, now)
    if occurred_at < submission.stage_changed_at:
        raise InvalidInput(
            "body.occurred_at",
            f"The current stage began at {submission.stage_changed_at.isoformat()}; "
            "a move cannot be dated before that.",
        )
    result = await session.execute(
        _MOVE,
        {
            "submission_id": submission.id,
            "from_stage": from_stage.value,
            "to_stage": data.to_stage.value,
            "occurred_at": occurred_at,
            "now": now,
        },
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The submission changed stage meanwhile; read it again and retry.")
    # The row now holds exactly these values: set them as loaded, not as changes to flush, so
    # the object is current without reading the row back (issue 14).
    for name, value in (
        ("stage", data.to_stage.value),
        ("stage_changed_at", occurred_at),
        ("updated_at", now),
    ):
        set_committed_value(submission, name, value)
    assert submission.id is not None
    await session.execute(
        _INSERT_MOVE,
        {
            "submission_id": submission.id,
            "from_stage": from_stage.value,
            "to_stage": data.to_stage.value,
            "occurred_at": occurred_at,
            "recorded_at": now,
            "actor_type": principal.actor_type,
            "actor_id": principal.actor_id,
            "reason": data.reason,
        },
    )
    await events.record(
        session,
        principal,
        action="submission.stage_changed",
        record_type="submission",
        record_id=submission.id,
        data={
            "from": from_stage.value,
            "to": data.to_stage.value,
            "occurred_at": occurred_at.isoformat(),
        },
    )
    await sla.on_stage_entered(session, submission, stage=data.to_stage, at=occurred_at)
    await _tell_candidate(session, submission, data.to_stage, at=occurred_at, now=now)
    return submission


async def update_submission(
    session: AsyncSession, principal: Principal, submission: Submission, data: SubmissionUpdate
) -> Submission:
    changes = data.model_dump(exclude_unset=True)
    await auth.reassign_owner(
        session, principal, changes, current=submission.owner_id, label="submission"
    )
    await crud.ensure_external_id_free(
        session, Submission, changes.get("external_id"), own_id=submission.id
    )
    await events.record_update(
        session,
        principal,
        record_type="submission",
        record_id=submission.id,
        changed=crud.apply_changes(submission, changes),
    )
    return submission


async def upsert(
    session: AsyncSession, principal: Principal, external_id: str, data: SubmissionCreate
) -> tuple[Submission, bool]:
    crud.check_path_external_id(data, external_id)
    existing = await crud.find_by_external_id(session, Submission, external_id)
    if existing is None:
        return await create(session, principal, data), True
    if name := crud.create_only_mismatch(existing, data.model_dump(), ("candidate_id", "job_id")):
        raise Conflict(f"A submission's {name} cannot change; create a new submission.")
    fields = data.model_dump(exclude_unset=True, include={"external_id", "owner_id"})
    updated = await update_submission(
        session, principal, existing, SubmissionUpdate.from_upsert(fields)
    )
    return updated, False


async def list_page(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    updated_since: UpdatedSince,
    owner_id: int | None,
    stage: Stage | None,
    candidate_id: int | None,
    job_id: int | None,
    external_id: str | None,
) -> Page[SubmissionPublic]:
    stmt = crud.where_all(
        select(Submission),
        ownership.submissions(principal),
        col(Submission.owner_id) == owner_id if owner_id else None,
        col(Submission.stage) == stage.value if stage else None,
        col(Submission.candidate_id) == candidate_id if candidate_id else None,
        col(Submission.job_id) == job_id if job_id else None,
        col(Submission.external_id) == external_id if external_id else None,
    )
    result = await crud.fetch_page(
        session, stmt, Submission, page, SubmissionPublic, updated_since=updated_since
    )
    for item in result.items:
        item.allowed_moves = list(states.allowed_moves(item.stage))
    return result


async def moves(session: AsyncSession, submission: Submission) -> list[StageMovePublic]:
    """The whole history, oldest first (at most a handful of rows per submission)."""
    stmt = (
        select(StageMove)
        .where(col(StageMove.submission_id) == submission.id)
        .order_by(col(StageMove.occurred_at), col(StageMove.id))
    )
    return [StageMovePublic.model_validate(m) for m in (await session.execute(stmt)).scalars()]
