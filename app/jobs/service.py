"""Jobs: owned by a recruiter, belonging to a client, chased through a primary contact."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import ownership
from app.auth import service as auth
from app.auth.principal import Principal
from app.clients.models import Client, Contact
from app.core import crud
from app.core.errors import Conflict, InvalidInput
from app.core.filters import UpdatedSince
from app.core.pagination import Page, PageParams
from app.events import service as events
from app.jobs.models import Job, JobCreate, JobPublic, JobUpdate
from app.submissions.models import Submission


async def get(session: AsyncSession, principal: Principal, job_id: int) -> Job:
    return await crud.get_or_404(session, Job, job_id, visible=ownership.jobs(principal))


async def read(session: AsyncSession, principal: Principal, job_id: int) -> JobPublic:
    """One job, as answered (no ORM object: issue 14)."""
    return await crud.read_or_404(
        session, Job, JobPublic, job_id, visible=ownership.jobs(principal)
    )


async def _check_primary_contact(
    session: AsyncSession, client_id: int, contact_id: int | None
) -> None:
    if contact_id is None:
        return
    contact = await crud.require_ref(session, Contact, contact_id, field="body.primary_contact_id")
    if contact.client_id != client_id:
        raise InvalidInput(
            "body.primary_contact_id",
            f"Contact {contact_id} does not belong to client {client_id}.",
        )


async def create(session: AsyncSession, principal: Principal, data: JobCreate) -> Job:
    await crud.require_ref(session, Client, data.client_id, field="body.client_id")
    await _check_primary_contact(session, data.client_id, data.primary_contact_id)
    owner_id = await auth.resolve_owner(session, principal, data.owner_id)
    await crud.ensure_external_id_free(session, Job, data.external_id, own_id=None)
    job = Job.model_validate(data, update={"owner_id": owner_id})
    session.add(job)
    await session.flush()
    assert job.id is not None
    await events.record(
        session, principal, action="job.created", record_type="job", record_id=job.id
    )
    return job


async def update(session: AsyncSession, principal: Principal, job: Job, data: JobUpdate) -> Job:
    changes = data.model_dump(exclude_unset=True)
    await auth.reassign_owner(session, principal, changes, current=job.owner_id, label="job")
    if "primary_contact_id" in changes:
        await _check_primary_contact(session, job.client_id, changes["primary_contact_id"])
    await crud.ensure_external_id_free(session, Job, changes.get("external_id"), own_id=job.id)
    await events.record_update(
        session,
        principal,
        record_type="job",
        record_id=job.id,
        changed=crud.apply_changes(job, changes),
    )
    return job


async def upsert(
    session: AsyncSession, principal: Principal, external_id: str, data: JobCreate
) -> tuple[Job, bool]:
    crud.check_path_external_id(data, external_id)
    existing = await crud.find_by_external_id(session, Job, external_id)
    if existing is None:
        return await create(session, principal, data), True
    if crud.create_only_mismatch(existing, data.model_dump(), ("client_id",)):
        raise Conflict("A job cannot move to another client; create a new job.")
    fields = data.model_dump(exclude_unset=True, exclude={"client_id"})
    return await update(session, principal, existing, JobUpdate.from_upsert(fields)), False


async def delete(session: AsyncSession, principal: Principal, job: Job) -> None:
    """Only a job nobody was submitted to; otherwise close it (status ``closed``)."""
    if await session.scalar(
        select(col(Submission.id)).where(col(Submission.job_id) == job.id).limit(1)
    ):
        raise Conflict("The job has submissions; set its status to 'closed' instead.")
    assert job.id is not None
    await events.record(
        session, principal, action="job.deleted", record_type="job", record_id=job.id
    )
    await session.delete(job)
    await session.flush()


async def list_page(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    updated_since: UpdatedSince,
    owner_id: int | None,
    client_id: int | None,
    external_id: str | None,
) -> Page[JobPublic]:
    stmt = crud.where_all(
        select(Job),
        ownership.jobs(principal),
        col(Job.owner_id) == owner_id if owner_id else None,
        col(Job.client_id) == client_id if client_id else None,
        col(Job.external_id) == external_id if external_id else None,
    )
    return await crud.fetch_page(session, stmt, Job, page, JobPublic, updated_since=updated_since)
