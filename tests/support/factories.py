"""Plain factory functions: ``await make_submission(session, **overrides)``.

They go through the same services the API uses (as the system principal), so a factory-made
record obeys every rule a real one does, events included.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import ApiClient, ApiClientCreate, User, UserCreate
from app.auth.principal import SYSTEM
from app.candidates import service as candidates
from app.candidates.models import Candidate, CandidateCreate
from app.clients import service as clients
from app.clients.models import Client, ClientCreate, Contact, ContactCreate
from app.core.clock import utcnow
from app.feedback import service as feedback_service
from app.feedback.models import Feedback, FeedbackCreate
from app.interviews import service as interviews
from app.interviews.models import Interview, InterviewCreate
from app.jobs import service as jobs
from app.jobs.models import Job, JobCreate
from app.messaging.models import Message, MessageKind
from app.messaging.outbox import status_row
from app.submissions import service as submissions
from app.submissions.models import Submission, SubmissionCreate
from app.tasks.models import Task, TaskKind

TEST_SECRET = "candor-development-secret-change-me"  # the test Settings use the default secret
_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


async def make_user(session: AsyncSession, **overrides: Any) -> User:
    n = _n()
    data = {"email": f"recruiter{n}@agency.example", "name": f"Recruiter {n}", "role": "recruiter"}
    data.update(overrides)
    return await auth_service.create_user(session, SYSTEM, UserCreate.model_validate(data))


async def make_api_client(session: AsyncSession, **overrides: Any) -> ApiClient:
    data = {"name": f"ATS {_n()}", "role": "integration"}
    data.update(overrides)
    return await auth_service.create_api_client(
        session, SYSTEM, ApiClientCreate.model_validate(data)
    )


@dataclass
class Caller:
    """A principal with a live key, ready to put in an ``Authorization`` header."""

    key: str
    key_id: int
    user: User | None = None
    api_client: ApiClient | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def user_id(self) -> int:
        assert self.user is not None and self.user.id is not None
        return self.user.id


async def make_caller(session: AsyncSession, role: str, **overrides: Any) -> Caller:
    """``role`` is ``admin``/``recruiter`` (a user) or ``integration``/``admin-client``."""
    if role in ("integration", "admin-client"):
        api_client = await make_api_client(
            session, role="admin" if role == "admin-client" else "integration", **overrides
        )
        key = await auth_service.issue_key(
            session, SYSTEM, secret=TEST_SECRET, name="test", api_client=api_client
        )
        await session.flush()
        return Caller(key=key.key, key_id=key.id, api_client=api_client)
    user = await make_user(session, role=role, **overrides)
    key = await auth_service.issue_key(session, SYSTEM, secret=TEST_SECRET, name="test", user=user)
    await session.flush()
    return Caller(key=key.key, key_id=key.id, user=user)


async def make_candidate(session: AsyncSession, **overrides: Any) -> Candidate:
    n = _n()
    if "owner_id" not in overrides:
        overrides["owner_id"] = (await make_user(session)).id
    data = {
        "first_name": "Ada",
        "last_name": f"Lovelace{n}",
        "email": f"candidate{n}@mail.example",
        "time_zone": "America/New_York",
    }
    data.update(overrides)
    return await candidates.create(session, SYSTEM, CandidateCreate.model_validate(data))


async def make_client(session: AsyncSession, **overrides: Any) -> Client:
    data = {"name": f"Client {_n()}"}
    data.update(overrides)
    return await clients.create_client(session, SYSTEM, ClientCreate.model_validate(data))


async def make_contact(session: AsyncSession, **overrides: Any) -> Contact:
    n = _n()
    if "client_id" not in overrides:
        overrides["client_id"] = (await make_client(session)).id
    data = {
        "name": f"Contact {n}",
        "email": f"contact{n}@client.example",
        "role": "hiring_manager",
        "time_zone": "America/Chicago",
    }
    data.update(overrides)
    return await clients.create_contact(session, SYSTEM, ContactCreate.model_validate(data))


async def make_job(session: AsyncSession, **overrides: Any) -> Job:
    if "client_id" not in overrides:
        overrides["client_id"] = (await make_client(session)).id
    if "owner_id" not in overrides:
        overrides["owner_id"] = (await make_user(session)).id
    data = {"title": f"Backend Engineer {_n()}"}
    data.update(overrides)
    return await jobs.create(session, SYSTEM, JobCreate.model_validate(data))


async def make_submission(session: AsyncSession, **overrides: Any) -> Submission:
    owner_id = overrides.pop("owner_id", None)
    if "candidate_id" not in overrides:
        extra = {"owner_id": owner_id} if owner_id else {}
        overrides["candidate_id"] = (await make_candidate(session, **extra)).id
    if "job_id" not in overrides:
        extra = {"owner_id": owner_id} if owner_id else {}
        overrides["job_id"] = (await make_job(session, **extra)).id
    if owner_id:
        overrides["owner_id"] = owner_id
    return await submissions.create(session, SYSTEM, SubmissionCreate.model_validate(overrides))


async def make_interview(session: AsyncSession, **overrides: Any) -> Interview:
    if "submission_id" not in overrides:
        overrides["submission_id"] = (await make_submission(session)).id
    start = utcnow() + timedelta(days=2)
    data: dict[str, Any] = {
        "kind": "video",
        "starts_at": start,
        "ends_at": start + timedelta(hours=1),
    }
    data.update(overrides)
    return await interviews.create(session, SYSTEM, InterviewCreate.model_validate(data))


async def make_feedback(session: AsyncSession, **overrides: Any) -> Feedback:
    if "submission_id" not in overrides:
        overrides["submission_id"] = (await make_submission(session)).id
    data: dict[str, Any] = {"decision": "hold"}
    data.update(overrides)
    return await feedback_service.create(session, SYSTEM, FeedbackCreate.model_validate(data))


async def make_task(session: AsyncSession, **overrides: Any) -> Task:
    """A recruiter task as the sweep would create it (tests of the queue itself)."""
    now = utcnow()
    data: dict[str, Any] = {
        "kind": TaskKind.chase,
        "title": "Chase the client",
        "due_at": now,
        "breach_at": now + timedelta(days=1),
    }
    data.update(overrides)
    if "assignee_id" not in data:
        data["assignee_id"] = (await make_user(session)).id
    task = Task(**data)
    session.add(task)
    await session.flush()
    return task


@dataclass(frozen=True, slots=True)
class DueMessage:
    id: int
    candidate_id: int
    submission_id: int


async def make_due_status_messages(
    session: AsyncSession,
    *,
    candidates: int,
    jobs: int,
    submitted_at: datetime,
    due_at: datetime,
    reason: str,
    submissions_each: int = 1,
) -> list[DueMessage]:
    """``candidates`` candidates in UTC under one recruiter, each submitted ``submissions_each``
    times (through the services, backdated to ``submitted_at``) to ``jobs`` jobs of one client
    in turn, and one pending no-news status message per submission due at ``due_at`` (what the
    outbox tests and the drain benchmark deliver). Not committed."""
    client = await make_client(session)
    contact = await make_contact(session, client_id=client.id)
    first = await make_candidate(session, time_zone="UTC")
    openings = [
        await make_job(
            session, client_id=client.id, owner_id=first.owner_id, primary_contact_id=contact.id
        )
        for _ in range(jobs)
    ]
    rows: list[dict[str, Any]] = []
    for n in range(candidates):
        candidate = (
            first
            if n == 0
            else await make_candidate(session, owner_id=first.owner_id, time_zone="UTC")
        )
        assert candidate.id is not None
        for k in range(submissions_each):
            submission = await make_submission(
                session,
                candidate_id=candidate.id,
                job_id=openings[(n * submissions_each + k) % jobs].id,
                submitted_at=submitted_at,
            )
            assert submission.id is not None
            rows.append(
                status_row(
                    kind=MessageKind.no_news,
                    submission_id=submission.id,
                    candidate_id=candidate.id,
                    due_at=due_at,
                    reason=reason,
                )
            )
    table = Message.__table__  # type: ignore[attr-defined]
    inserted = await session.execute(
        insert(table).returning(table.c.id, table.c.candidate_id, table.c.submission_id), rows
    )
    return [DueMessage(*row) for row in inserted.tuples().all()]
