"""Shared set-up for cadence tests: a US client on a New York calendar, and the worker step."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.database import make_sessionmaker
from app.core.settings import Settings
from app.messaging.backends import EmailBackend, FileBackend
from app.worker.loop import WorkerOptions, run_round
from tests.support.factories import Caller, make_caller


def at(text: str) -> datetime:
    """An instant written in the test as RFC 3339 (always with an offset)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None
    return value


async def worker_once(
    connection: AsyncConnection,
    now: str,
    *,
    settings: Settings | None = None,
    backend: EmailBackend | None = None,
) -> int:
    """What `candor worker --once --now <now>` does, inside the test's transaction; answers how
    many checks fired (emails go to ``backend``, by default a file backend in a temp folder)."""
    done = await run_round(
        make_sessionmaker(connection),
        now=at(now),
        options=WorkerOptions(),
        settings=settings or Settings(environment="test"),
        backend=backend or FileBackend(Path(tempfile.mkdtemp(prefix="candor-mail-"))),
    )
    return done.checks_fired


@dataclass
class Agency:
    admin: Caller
    recruiter: Caller
    client_id: int
    contact_id: int
    job_id: int
    candidate_id: int


async def us_agency(client: httpx.AsyncClient, session: AsyncSession, **contact: Any) -> Agency:
    """A client on America/New_York with US holidays; its hiring manager works in Chicago."""
    admin = await make_caller(session, "admin")
    recruiter = await make_caller(session, "recruiter")
    await session.commit()
    h = admin.headers

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=h)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    calendar = await post(
        "/v1/calendars",
        {"name": "US East", "time_zone": "America/New_York", "country": "US"},
    )
    client_row = await post("/v1/clients", {"name": "Acme", "calendar_id": calendar["id"]})
    contact_row = await post(
        "/v1/contacts",
        {
            "client_id": client_row["id"],
            "name": "Hana Hiring",
            "email": "hana@acme.example",
            "role": "hiring_manager",
            "time_zone": "America/Chicago",
            **contact,
        },
    )
    job = await post(
        "/v1/jobs",
        {
            "client_id": client_row["id"],
            "title": "Data Engineer",
            "primary_contact_id": contact_row["id"],
            "owner_id": recruiter.user_id,
        },
    )
    candidate = await post(
        "/v1/candidates",
        {
            "first_name": "Sam",
            "last_name": "Rivera",
            "email": "sam@mail.example",
            "time_zone": "America/New_York",
            "owner_id": recruiter.user_id,
        },
    )
    return Agency(
        admin=admin,
        recruiter=recruiter,
        client_id=client_row["id"],
        contact_id=contact_row["id"],
        job_id=job["id"],
        candidate_id=candidate["id"],
    )


async def submit(client: httpx.AsyncClient, agency: Agency, submitted_at: str) -> int:
    response = await client.post(
        "/v1/submissions",
        json={
            "candidate_id": agency.candidate_id,
            "job_id": agency.job_id,
            "submitted_at": submitted_at,
        },
        headers=agency.admin.headers,
    )
    assert response.status_code == 201, response.text
    submission_id: int = response.json()["id"]
    return submission_id


async def submit_to_another_job(
    client: httpx.AsyncClient, agency: Agency, *, title: str, submitted_at: str
) -> int:
    """The same candidate put forward for a second job of the same client."""
    job = await client.post(
        "/v1/jobs",
        json={
            "client_id": agency.client_id,
            "title": title,
            "primary_contact_id": agency.contact_id,
            "owner_id": agency.recruiter.user_id,
        },
        headers=agency.admin.headers,
    )
    assert job.status_code == 201, job.text
    response = await client.post(
        "/v1/submissions",
        json={
            "candidate_id": agency.candidate_id,
            "job_id": job.json()["id"],
            "submitted_at": submitted_at,
        },
        headers=agency.admin.headers,
    )
    assert response.status_code == 201, response.text
    submission_id: int = response.json()["id"]
    return submission_id


async def schedule(client: httpx.AsyncClient, agency: Agency, submission_id: int) -> Any:
    response = await client.get(
        f"/v1/submissions/{submission_id}/schedule", headers=agency.admin.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def tasks(client: httpx.AsyncClient, caller: Caller, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/tasks", params=params, headers=caller.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
