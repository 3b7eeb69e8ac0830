"""The named queries of thank-you notes (style rule 3): who may see a note, a note's versions
and recipients, the review queue, and the names a note may rightly contain."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import ownership
from app.auth.models import User
from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.clients.models import Client, Contact
from app.core import crud
from app.interviews.models import InterviewInterviewer
from app.jobs.models import Job
from app.messaging.models import Message, MessageKind
from app.submissions.models import Submission
from app.thank_you.models import NoteRecipient, NoteState, NoteVersion, ThankYouNote


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """A recruiter sees the notes they review and those on submissions they can see."""
    clause = ownership.submissions(principal)
    if clause is None:
        return None
    return or_(
        col(ThankYouNote.reviewer_id) == principal.user_id,
        col(ThankYouNote.submission_id).in_(select(col(Submission.id)).where(clause)),
    )


async def invitation_sent(session: AsyncSession, interview_id: int) -> bool:
    """R-TY-1: the candidate is invited to write a note once per interview."""
    found = await session.scalar(
        select(col(Message.id))
        .where(
            col(Message.interview_id) == interview_id,
            col(Message.kind) == MessageKind.note_invitation.value,
        )
        .limit(1)
    )
    return found is not None


async def for_interview(session: AsyncSession, interview_id: int) -> ThankYouNote | None:
    """The interview's note (one per interview), if the candidate wrote one."""
    stmt = select(ThankYouNote).where(col(ThankYouNote.interview_id) == interview_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def versions(session: AsyncSession, note_ids: list[int]) -> dict[int, list[NoteVersion]]:
    """Every version of each note, oldest first (one query for any number of notes)."""
    found: dict[int, list[NoteVersion]] = defaultdict(list)
    if note_ids:
        stmt = (
            select(NoteVersion)
            .where(col(NoteVersion.note_id).in_(note_ids))
            .order_by(col(NoteVersion.number))
        )
        for version in (await session.execute(stmt)).scalars():
            found[version.note_id].append(version)
    return found


async def recipients(session: AsyncSession, note_ids: list[int]) -> dict[int, list[NoteRecipient]]:
    """What happened for each interviewer of each note (one query for any number of notes)."""
    found: dict[int, list[NoteRecipient]] = defaultdict(list)
    if note_ids:
        stmt = select(NoteRecipient).where(col(NoteRecipient.note_id).in_(note_ids))
        for row in (await session.execute(stmt)).scalars():
            found[row.note_id].append(row)
    return found


async def last_version_number(session: AsyncSession, note_id: int) -> int:
    """The number of the note's newest version (0 before the first)."""
    number = await session.scalar(
        select(func.max(col(NoteVersion.number))).where(col(NoteVersion.note_id) == note_id)
    )
    return int(number or 0)


async def awaiting_review(
    session: AsyncSession, *, reviewer_id: int | None, everyone: bool, limit: int
) -> list[ThankYouNote]:
    """R-TY-4: notes waiting for review, soonest deadline first: everyone's, or only those of
    ``reviewer_id`` (``None``, a caller who is no user, reviews none)."""
    stmt = crud.where_all(
        select(ThankYouNote),
        col(ThankYouNote.state) == NoteState.awaiting_review.value,
        None if everyone else col(ThankYouNote.reviewer_id) == reviewer_id,
    )
    stmt = stmt.order_by(col(ThankYouNote.review_due_at), col(ThankYouNote.id)).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def interviewers(session: AsyncSession, interview_id: int) -> list[Contact]:
    """The interview's interviewers, by id (the note's recipients)."""
    stmt = (
        select(Contact)
        .join(InterviewInterviewer, col(InterviewInterviewer.contact_id) == col(Contact.id))
        .where(col(InterviewInterviewer.interview_id) == interview_id)
        .order_by(col(Contact.id))
    )
    return list((await session.execute(stmt)).scalars())


async def names_around(session: AsyncSession, submission_id: int) -> list[str]:
    """Names a note may rightly contain besides the interviewers': the candidate's, the job
    title, the client's and the recruiter's."""
    row = (
        await session.execute(
            select(
                col(Candidate.first_name),
                col(Candidate.last_name),
                col(Job.title),
                col(Client.name),
                col(User.name),
            )
            .join(Submission, col(Submission.candidate_id) == col(Candidate.id))
            .join(Job, col(Job.id) == col(Submission.job_id))
            .join(Client, col(Client.id) == col(Job.client_id))
            .join(User, col(User.id) == col(Submission.owner_id))
            .where(col(Submission.id) == submission_id)
        )
    ).one()
    return [str(part) for part in row]
