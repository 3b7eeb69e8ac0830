"""Every operation but health refuses a missing, malformed or revoked key; recruiters see only
their own records (issue 2: auth; R-IN). The operations come from the app's routes, so a new
endpoint is covered the day it is added."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.clock import utcnow
from app.feedback.models import FeedbackRequest
from app.messaging import outbox
from app.messaging.models import Message, MessageKind
from app.portal.models import CandidateLink
from app.thank_you.models import NoteSource, NoteVersion, ThankYouNote, VersionAuthor
from tests.support.factories import (
    Caller,
    make_caller,
    make_contact,
    make_feedback,
    make_interview,
    make_submission,
    make_task,
)
from tests.support.routes import Operation, authenticated

OPERATIONS = authenticated()
#: Path parameters naming records a recruiter owns (directly or through a submission).
OWNED_PARAMS = {
    "candidate_id",
    "job_id",
    "submission_id",
    "interview_id",
    "feedback_id",
    "task_id",
    "note_id",
    "request_id",
    "link_id",
}
#: Shared agency directory (not any recruiter's): readable by every recruiter.
SHARED_PARAMS = {"client_id", "contact_id", "calendar_id"}
#: Bodies that let a request get past validation, so the answer shows the authorization.
VALID_BODIES: dict[str, dict[str, object]] = {
    "StageMoveCreate": {"to_stage": "withdrawn"},
    "CandidateUpdate": {},
    "JobUpdate": {},
    "SubmissionUpdate": {},
    "InterviewUpdate": {},
    "FeedbackUpdate": {},
    "TaskComplete": {},
    "LinkCreate": {},
    "NoteCreate": {"text": "Thank you for your time."},
    "NoteApprove": {},
    "NoteRequestChanges": {"comment": "Shorter, please."},
    "NoteWithhold": {"reason": "Not this one."},
    "FeedbackAnswer": {"summary": "Strong skills; less experience than the team needed."},
    "FeedbackDecline": {"reason": "The client gives no feedback."},
}


def _fill(op: Operation) -> dict[str, object]:
    return {name: ("ext-1" if name == "external_id" else 1) for name in op.params}


def test_the_route_list_is_not_empty() -> None:
    # Guards the generated tests below against passing vacuously.
    assert len(OPERATIONS) >= 50
    assert all(op.path.startswith("/v1/") for op in OPERATIONS)


@pytest.mark.parametrize("op", OPERATIONS, ids=str)
class TestEveryOperationNeedsALiveKey:
    async def test_missing_key_is_401_problem(
        self, client: httpx.AsyncClient, op: Operation
    ) -> None:
        response = await client.request(op.method, op.url(_fill(op)), json={})
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_unknown_key_is_401(self, client: httpx.AsyncClient, op: Operation) -> None:
        headers = {"Authorization": "Bearer cnd_not-a-real-key"}
        response = await client.request(op.method, op.url(_fill(op)), json={}, headers=headers)
        assert response.status_code == 401, response.text

    async def test_revoked_key_is_401(
        self, client: httpx.AsyncClient, session: AsyncSession, op: Operation
    ) -> None:
        admin = await make_caller(session, "admin")
        doomed = await make_caller(session, "admin")
        await session.commit()
        revoked = await client.post(f"/v1/api-keys/{doomed.key_id}/revoke", headers=admin.headers)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        response = await client.request(
            op.method, op.url(_fill(op)), json={}, headers=doomed.headers
        )
        assert response.status_code == 401, response.text


async def test_health_needs_no_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200


async def test_a_deactivated_users_key_stops_working(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_caller(session, "admin")
    recruiter = await make_caller(session, "recruiter")
    await session.commit()
    assert (await client.get("/v1/me", headers=recruiter.headers)).status_code == 200
    off = await client.patch(
        f"/v1/users/{recruiter.user_id}", json={"active": False}, headers=admin.headers
    )
    assert off.status_code == 200
    assert (await client.get("/v1/me", headers=recruiter.headers)).status_code == 401


@dataclass
class World:
    """Recruiter ``me`` and recruiter ``other``, with a full set of records owned by other."""

    me: Caller
    other: Caller
    ids: dict[str, object]


@pytest.fixture
async def world(session: AsyncSession) -> World:
    me = await make_caller(session, "recruiter")
    other = await make_caller(session, "recruiter")
    submission = await make_submission(session, owner_id=other.user_id)
    interview = await make_interview(session, submission_id=submission.id)
    feedback = await make_feedback(session, submission_id=submission.id)
    contact = await make_contact(session)
    task = await make_task(session, submission_id=submission.id, assignee_id=other.user_id)
    await outbox.enqueue_status(
        session, submission, MessageKind.no_news, due_at=utcnow(), reason="test"
    )
    message_id = await session.scalar(
        select(col(Message.id)).where(col(Message.submission_id) == submission.id)
    )
    assert submission.id is not None and interview.id is not None
    note = ThankYouNote(
        interview_id=interview.id,
        submission_id=submission.id,
        candidate_id=submission.candidate_id,
        reviewer_id=other.user_id,
        source=NoteSource.candidate,
        received_at=utcnow(),
    )
    request = FeedbackRequest(
        submission_id=submission.id, candidate_id=submission.candidate_id, requested_at=utcnow()
    )
    link = CandidateLink(
        candidate_id=submission.candidate_id,
        token_hash="0" * 64,
        purpose="status",
        created_at=utcnow(),
        expires_at=utcnow(),
    )
    session.add_all([note, request, link])
    await session.flush()
    assert note.id is not None
    session.add(
        NoteVersion(
            note_id=note.id,
            number=1,
            author=VersionAuthor.candidate,
            text="Thank you.",
            created_at=utcnow(),
        )
    )
    await session.commit()
    assert submission.id and interview.id and feedback.id and contact.id and task.id
    return World(
        me=me,
        other=other,
        ids={
            "candidate_id": submission.candidate_id,
            "job_id": submission.job_id,
            "submission_id": submission.id,
            "interview_id": interview.id,
            "feedback_id": feedback.id,
            "task_id": task.id,
            "message_id": message_id,
            "note_id": note.id,
            "request_id": request.id,
            "link_id": link.id,
            "kind": "no_news",
            "calendar_id": 1,
            "client_id": contact.client_id,
            "contact_id": contact.id,
            "user_id": other.user_id,
            "api_client_id": 1,
            "api_key_id": other.key_id,
            "external_id": "ext-1",
        },
    )


def _owned(op: Operation) -> bool:
    return bool(op.params) and set(op.params) <= OWNED_PARAMS


def _body(op: Operation) -> dict[str, object] | None:
    if op.body_model is None:
        return None
    assert op.body_model in VALID_BODIES, f"add a valid {op.body_model} body for {op}"
    return VALID_BODIES[op.body_model]


@pytest.mark.parametrize("op", [op for op in OPERATIONS if _owned(op)], ids=str)
async def test_another_recruiters_record_is_404(
    client: httpx.AsyncClient, session: AsyncSession, world: World, op: Operation
) -> None:
    url = op.url(world.ids)
    response = await client.request(op.method, url, json=_body(op), headers=world.me.headers)
    assert response.status_code == 404, f"{op}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS if _owned(op) and op.method == "GET"], ids=str
)
async def test_the_owner_reads_the_same_record(
    client: httpx.AsyncClient, world: World, op: Operation
) -> None:
    # The positive control: the ids above are real, and visible to their owner.
    response = await client.get(op.url(world.ids), headers=world.other.headers)
    assert response.status_code == 200, f"{op}: {response.text}"


LISTS = {
    "/v1/candidates": "candidate_id",
    "/v1/jobs": "job_id",
    "/v1/submissions": "submission_id",
    "/v1/interviews": "interview_id",
    "/v1/feedback": "feedback_id",
    "/v1/tasks": "task_id",
    "/v1/messages": "message_id",
    "/v1/notes": "note_id",
    "/v1/feedback-requests": "request_id",
}


#: Lists and creates every recruiter may use (shared directory, or their own records).
RECRUITER_LISTS = {
    *LISTS,
    "/v1/clients",
    "/v1/contacts",
    "/v1/me",
    "/v1/calendars",
    "/v1/policy",
    "/v1/templates",
    "/v1/notes/review-queue",
}
RECRUITER_CREATES = {*LISTS, "/v1/clients", "/v1/contacts"} - {
    "/v1/tasks",
    "/v1/messages",
}
#: Admin-only (writes, at least): users, API clients, keys, the audit trail, calendars, policy.
ADMIN_PREFIXES = (
    "/v1/users",
    "/v1/api-clients",
    "/v1/api-keys",
    "/v1/events",
    "/v1/calendars",
    "/v1/policy",
    "/v1/templates",
)


def test_every_owned_list_is_checked() -> None:
    lists = {op.path for op in OPERATIONS if op.method == "GET" and not op.params}
    assert lists - RECRUITER_LISTS == {p for p in lists if p.startswith(ADMIN_PREFIXES)} - (
        RECRUITER_LISTS
    )


@pytest.mark.parametrize(("path", "param"), sorted(LISTS.items()))
async def test_lists_leave_out_another_recruiters_records(
    client: httpx.AsyncClient, world: World, path: str, param: str
) -> None:
    mine = await client.get(path, headers=world.me.headers)
    theirs = await client.get(path, headers=world.other.headers)
    assert mine.status_code == theirs.status_code == 200
    assert world.ids[param] not in {item["id"] for item in mine.json()["items"]}
    assert world.ids[param] in {item["id"] for item in theirs.json()["items"]}


@pytest.mark.parametrize(
    "op",
    [op for op in OPERATIONS if not set(op.params) & (OWNED_PARAMS | SHARED_PARAMS)],
    ids=str,
)
async def test_recruiters_get_403_or_only_their_own_elsewhere(
    client: httpx.AsyncClient, world: World, op: Operation
) -> None:
    """Admin operations and ATS upserts are not for recruiters: 403, never another's data."""
    body = _body(op) if op.body_model in VALID_BODIES else {}
    response = await client.request(
        op.method, op.url(world.ids), json=body, headers=world.me.headers
    )
    if op.path == "/v1/templates/{kind}/preview":
        # Allowed, but only for one's own submissions: another's is 404 as everywhere.
        theirs = await client.post(
            op.url(world.ids),
            json={"submission_id": world.ids["submission_id"]},
            headers=world.me.headers,
        )
        assert (response.status_code, theirs.status_code) == (422, 404)
    elif op.method == "GET" and op.path in RECRUITER_LISTS:
        assert response.status_code == 200
    elif op.method == "POST" and op.path in RECRUITER_CREATES:
        assert response.status_code == 422  # allowed, but `{}` is not a valid record
    else:
        assert op.path.startswith(ADMIN_PREFIXES) or "by-external-id" in op.path, op
        assert response.status_code == 403, f"{op}: {response.status_code} {response.text}"
