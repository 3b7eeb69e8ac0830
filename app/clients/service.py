"""Clients and contacts: the agency's shared directory (not owned by one recruiter)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.principal import Principal
from app.calendar.models import Calendar
from app.clients.models import (
    Client,
    ClientCreate,
    ClientPublic,
    ClientUpdate,
    Contact,
    ContactCreate,
    ContactPublic,
    ContactUpdate,
)
from app.core import crud
from app.core.errors import Conflict, FieldError, Forbidden
from app.core.filters import UpdatedSince
from app.core.pagination import Page, PageParams
from app.events import service as events
from app.interviews.models import InterviewInterviewer
from app.jobs.models import Job

#: R-PV: the shared directory's protections. Every recruiter reads the directory, but lifting a
#: protection (a confidential client's name, a contact's policy or wish not to be chased)
#: affects every recruiter's candidates and contacts, so only admins and integrations change them.
CLIENT_PROTECTIONS = ("confidential",)
CONTACT_PROTECTIONS = ("contact_policy", "no_chase")


def _guard_protections(
    principal: Principal,
    record: Client | Contact,
    changes: dict[str, object],
    fields: tuple[str, ...],
) -> None:
    """403 naming each protection a recruiter's change would alter; sending the current value
    again changes nothing and passes."""
    if not principal.is_recruiter:
        return
    touched = [f for f in fields if f in changes and changes[f] != getattr(record, f)]
    if touched:
        raise Forbidden(
            f"Only an admin or an integration may change {', '.join(touched)}: the shared "
            "directory's protections are not a recruiter's to change (R-PV).",
            errors=[
                FieldError(
                    field=f"body.{f}", message="only an admin or an integration may change this"
                )
                for f in touched
            ],
        )


async def create_client(session: AsyncSession, principal: Principal, data: ClientCreate) -> Client:
    if data.calendar_id is not None:
        await crud.require_ref(session, Calendar, data.calendar_id, field="body.calendar_id")
    await crud.ensure_external_id_free(session, Client, data.external_id, own_id=None)
    client = Client.model_validate(data)
    session.add(client)
    await session.flush()
    assert client.id is not None
    await events.record(
        session, principal, action="client.created", record_type="client", record_id=client.id
    )
    return client


async def update_client(
    session: AsyncSession, principal: Principal, client: Client, data: ClientUpdate
) -> Client:
    changes = data.model_dump(exclude_unset=True)
    _guard_protections(principal, client, changes, CLIENT_PROTECTIONS)
    await crud.ensure_external_id_free(
        session, Client, changes.get("external_id"), own_id=client.id
    )
    await events.record_update(
        session,
        principal,
        record_type="client",
        record_id=client.id,
        changed=crud.apply_changes(client, changes),
    )
    return client


async def upsert_client(
    session: AsyncSession, principal: Principal, external_id: str, data: ClientCreate
) -> tuple[Client, bool]:
    crud.check_path_external_id(data, external_id)
    existing = await crud.find_by_external_id(session, Client, external_id)
    if existing is None:
        return await create_client(session, principal, data), True
    update = ClientUpdate.from_upsert(data.model_dump(exclude_unset=True))
    return await update_client(session, principal, existing, update), False


async def delete_client(session: AsyncSession, principal: Principal, client: Client) -> None:
    """Only a client nothing refers to yet (no contacts, no jobs) may be deleted."""
    if await session.scalar(
        select(col(Contact.id)).where(col(Contact.client_id) == client.id).limit(1)
    ):
        raise Conflict("The client still has contacts; delete or move them first.")
    if await session.scalar(select(col(Job.id)).where(col(Job.client_id) == client.id).limit(1)):
        raise Conflict("The client has jobs; a client with history cannot be deleted.")
    assert client.id is not None
    await events.record(
        session, principal, action="client.deleted", record_type="client", record_id=client.id
    )
    await session.delete(client)
    await session.flush()


async def list_clients(
    session: AsyncSession, page: PageParams, *, updated_since: UpdatedSince, external_id: str | None
) -> Page[ClientPublic]:
    stmt = crud.where_all(
        select(Client),
        col(Client.external_id) == external_id if external_id else None,
    )
    return await crud.fetch_page(
        session, stmt, Client, page, ClientPublic, updated_since=updated_since
    )


async def create_contact(
    session: AsyncSession, principal: Principal, data: ContactCreate
) -> Contact:
    await crud.require_ref(session, Client, data.client_id, field="body.client_id")
    await crud.ensure_external_id_free(session, Contact, data.external_id, own_id=None)
    contact = Contact.model_validate(data)
    session.add(contact)
    await session.flush()
    assert contact.id is not None
    await events.record(
        session, principal, action="contact.created", record_type="contact", record_id=contact.id
    )
    return contact


async def update_contact(
    session: AsyncSession, principal: Principal, contact: Contact, data: ContactUpdate
) -> Contact:
    changes = data.model_dump(exclude_unset=True)
    _guard_protections(principal, contact, changes, CONTACT_PROTECTIONS)
    await crud.ensure_external_id_free(
        session, Contact, changes.get("external_id"), own_id=contact.id
    )
    await events.record_update(
        session,
        principal,
        record_type="contact",
        record_id=contact.id,
        changed=crud.apply_changes(contact, changes),
    )
    return contact


async def upsert_contact(
    session: AsyncSession, principal: Principal, external_id: str, data: ContactCreate
) -> tuple[Contact, bool]:
    crud.check_path_external_id(data, external_id)
    existing = await crud.find_by_external_id(session, Contact, external_id)
    if existing is None:
        return await create_contact(session, principal, data), True
    if crud.create_only_mismatch(existing, data.model_dump(), ("client_id",)):
        raise Conflict("A contact cannot move to another client; create a new contact.")
    fields = data.model_dump(exclude_unset=True, exclude={"client_id"})
    return await update_contact(
        session, principal, existing, ContactUpdate.from_upsert(fields)
    ), False


async def delete_contact(session: AsyncSession, principal: Principal, contact: Contact) -> None:
    """A contact who interviewed or is a job's primary contact is history: refuse (409)."""
    used = await session.scalar(
        select(col(Job.id)).where(col(Job.primary_contact_id) == contact.id).limit(1)
    ) or await session.scalar(
        select(col(InterviewInterviewer.interview_id))
        .where(col(InterviewInterviewer.contact_id) == contact.id)
        .limit(1)
    )
    if used:
        raise Conflict(
            "The contact is a job's primary contact or interviewed a candidate; "
            "set their contact policy instead of deleting them."
        )
    assert contact.id is not None
    await events.record(
        session, principal, action="contact.deleted", record_type="contact", record_id=contact.id
    )
    await session.delete(contact)
    await session.flush()


async def list_contacts(
    session: AsyncSession,
    page: PageParams,
    *,
    updated_since: UpdatedSince,
    client_id: int | None,
    external_id: str | None,
) -> Page[ContactPublic]:
    stmt = crud.where_all(
        select(Contact),
        col(Contact.client_id) == client_id if client_id else None,
        col(Contact.external_id) == external_id if external_id else None,
    )
    return await crud.fetch_page(
        session, stmt, Contact, page, ContactPublic, updated_since=updated_since
    )
