"""The named queries of feedback requests (style rule 3): who may see a request, the requests
of some submissions, and whether anyone at the client may be asked."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import ownership
from app.auth.principal import Principal
from app.clients.models import Contact, ContactPolicy
from app.feedback.models import FeedbackRequest
from app.interviews.models import Interview, InterviewInterviewer
from app.jobs.models import Job
from app.submissions.models import Submission


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """The requests on submissions the principal may see (None: all of them)."""
    clause = ownership.submissions(principal)
    if clause is None:
        return None
    return col(FeedbackRequest.submission_id).in_(select(col(Submission.id)).where(clause))


async def for_submissions(
    session: AsyncSession, submission_ids: list[int]
) -> dict[int, FeedbackRequest]:
    """Each submission's request, if it has one (at most one per submission, R-FB)."""
    if not submission_ids:
        return {}
    stmt = select(FeedbackRequest).where(col(FeedbackRequest.submission_id).in_(submission_ids))
    return {r.submission_id: r for r in (await session.execute(stmt)).scalars()}


async def asked_already(session: AsyncSession, submission_id: int) -> bool:
    """R-FB: feedback is asked for once per application."""
    found = await session.scalar(
        select(col(FeedbackRequest.id)).where(col(FeedbackRequest.submission_id) == submission_id)
    )
    return found is not None


async def someone_to_ask(session: AsyncSession, submission: Submission) -> bool:
    """Is there a client contact the recruiter may ask? The job's primary contact or an
    interviewer who is not ``do_not_contact`` (R-CP-2)."""
    interviewers = (
        select(col(InterviewInterviewer.contact_id))
        .join(Interview, col(Interview.id) == col(InterviewInterviewer.interview_id))
        .where(col(Interview.submission_id) == submission.id)
    )
    primary = select(col(Job.primary_contact_id)).where(col(Job.id) == submission.job_id)
    found = await session.scalar(
        select(col(Contact.id))
        .where(
            or_(col(Contact.id).in_(primary.scalar_subquery()), col(Contact.id).in_(interviewers)),
            col(Contact.contact_policy) != ContactPolicy.do_not_contact.value,
        )
        .limit(1)
    )
    return found is not None
