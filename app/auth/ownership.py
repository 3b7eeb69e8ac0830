"""Which records a principal may see (R-ST / issue 2): recruiters see only what they own.

A recruiter sees the submissions they own or whose job they own, the candidates they own or that
have such a submission, the jobs they own or hold a submission on, and everything hanging off a
visible submission. Anything else answers 404, exactly as if it did not exist. Admins and
integrations see everything (``None`` means "no restriction").

Each clause is a correlated ``EXISTS``/``IN`` over indexed foreign keys, so list endpoints stay one
query however many records a recruiter owns.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlmodel import col

from app.auth.principal import Principal
from app.candidates.models import Candidate
from app.feedback.models import Feedback
from app.interviews.models import Interview
from app.jobs.models import Job
from app.submissions.models import Submission


def _recruiter(principal: Principal) -> int | None:
    return principal.user_id if principal.is_recruiter else None


def submissions(principal: Principal) -> ColumnElement[bool] | None:
    uid = _recruiter(principal)
    if uid is None:
        return None
    own_jobs = select(col(Job.id)).where(col(Job.owner_id) == uid)
    return or_(col(Submission.owner_id) == uid, col(Submission.job_id).in_(own_jobs))


def candidates(principal: Principal) -> ColumnElement[bool] | None:
    uid = _recruiter(principal)
    if uid is None:
        return None
    via_job = exists().where(
        and_(
            col(Submission.candidate_id) == col(Candidate.id),
            col(Submission.job_id) == col(Job.id),
            col(Job.owner_id) == uid,
        )
    )
    return or_(col(Candidate.owner_id) == uid, via_job)


def jobs(principal: Principal) -> ColumnElement[bool] | None:
    uid = _recruiter(principal)
    if uid is None:
        return None
    via_submission = exists().where(
        and_(col(Submission.job_id) == col(Job.id), col(Submission.owner_id) == uid)
    )
    return or_(col(Job.owner_id) == uid, via_submission)


def interviews(principal: Principal) -> ColumnElement[bool] | None:
    clause = submissions(principal)
    if clause is None:
        return None
    return col(Interview.submission_id).in_(select(col(Submission.id)).where(clause))


def feedback(principal: Principal) -> ColumnElement[bool] | None:
    clause = submissions(principal)
    if clause is None:
        return None
    return col(Feedback.submission_id).in_(select(col(Submission.id)).where(clause))
