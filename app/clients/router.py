"""Clients and their contacts over REST."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.auth.dependencies import CurrentPrincipal, IntegrationPrincipal
from app.clients import service
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
from app.core.crud import upsert_responses
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import (
    ClientFilter,
    ExternalIdFilter,
    ExternalIdPath,
    IdPath,
    Paging,
    UpdatedSince,
)
from app.core.pagination import Page

router = APIRouter(tags=["clients"], responses=problem_responses(401, 422))


@router.post(
    "/clients",
    status_code=status.HTTP_201_CREATED,
    summary="Create a client",
    responses=problem_responses(409),
)
async def create_client(
    session: SessionDep, principal: CurrentPrincipal, body: ClientCreate
) -> ClientPublic:
    """Add a hiring company. `confidential` keeps its name out of anything a candidate sees."""
    return ClientPublic.model_validate(await service.create_client(session, principal, body))


@router.get("/clients", summary="List clients")
async def list_clients(
    session: SessionDep,
    _: CurrentPrincipal,
    page: Paging,
    updated_since: UpdatedSince = None,
    external_id: ExternalIdFilter = None,
) -> Page[ClientPublic]:
    """Every client, in id order (the client directory is shared by the whole agency)."""
    return await service.list_clients(
        session, page, updated_since=updated_since, external_id=external_id
    )


@router.get("/clients/{client_id}", summary="Get a client", responses=problem_responses(404))
async def get_client(session: SessionDep, _: CurrentPrincipal, client_id: IdPath) -> ClientPublic:
    """One client."""
    return ClientPublic.model_validate(await crud.get_or_404(session, Client, client_id))


@router.patch(
    "/clients/{client_id}",
    summary="Update a client",
    responses=problem_responses(403, 404, 409),
)
async def update_client(
    session: SessionDep, principal: CurrentPrincipal, client_id: IdPath, body: ClientUpdate
) -> ClientPublic:
    """Change the fields given. `confidential` is changed only by admins and integrations: a
    recruiter's change of it answers 403 (R-PV)."""
    client = await crud.get_or_404(session, Client, client_id)
    return ClientPublic.model_validate(
        await service.update_client(session, principal, client, body)
    )


@router.delete(
    "/clients/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a client",
    responses=problem_responses(403, 404, 409),
)
async def delete_client(
    session: SessionDep, principal: IntegrationPrincipal, client_id: IdPath
) -> None:
    """Only for a client entered by mistake: one with contacts or jobs answers 409."""
    client = await crud.get_or_404(session, Client, client_id)
    await service.delete_client(session, principal, client)


@router.put(
    "/clients/by-external-id/{external_id}",
    summary="Create or update a client by external id",
    responses={**problem_responses(403, 409), **upsert_responses(ClientPublic)},
)
async def upsert_client(
    session: SessionDep,
    principal: IntegrationPrincipal,
    external_id: ExternalIdPath,
    body: ClientCreate,
    response: Response,
) -> ClientPublic:
    """For ATS syncs: creates the client (201) or updates the fields given (200)."""
    client, created = await service.upsert_client(session, principal, external_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return ClientPublic.model_validate(client)


@router.post(
    "/contacts",
    status_code=status.HTTP_201_CREATED,
    summary="Create a contact",
    responses=problem_responses(409),
)
async def create_contact(
    session: SessionDep, principal: CurrentPrincipal, body: ContactCreate
) -> ContactPublic:
    """Add a person at a client, with their contact policy (R-CP-2)."""
    return ContactPublic.model_validate(await service.create_contact(session, principal, body))


@router.get("/contacts", summary="List contacts")
async def list_contacts(
    session: SessionDep,
    _: CurrentPrincipal,
    page: Paging,
    updated_since: UpdatedSince = None,
    client_id: ClientFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[ContactPublic]:
    """Contacts in id order, optionally of one client."""
    return await service.list_contacts(
        session, page, updated_since=updated_since, client_id=client_id, external_id=external_id
    )


@router.get("/contacts/{contact_id}", summary="Get a contact", responses=problem_responses(404))
async def get_contact(
    session: SessionDep, _: CurrentPrincipal, contact_id: IdPath
) -> ContactPublic:
    """One contact."""
    return ContactPublic.model_validate(await crud.get_or_404(session, Contact, contact_id))


@router.patch(
    "/contacts/{contact_id}",
    summary="Update a contact",
    responses=problem_responses(403, 404, 409),
)
async def update_contact(
    session: SessionDep, principal: CurrentPrincipal, contact_id: IdPath, body: ContactUpdate
) -> ContactPublic:
    """Change the fields given (a contact stays with its client). `contact_policy` and
    `no_chase` are changed only by admins and integrations: a recruiter's change of either
    answers 403 (R-PV)."""
    contact = await crud.get_or_404(session, Contact, contact_id)
    return ContactPublic.model_validate(
        await service.update_contact(session, principal, contact, body)
    )


@router.delete(
    "/contacts/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a contact",
    responses=problem_responses(403, 404, 409),
)
async def delete_contact(
    session: SessionDep, principal: IntegrationPrincipal, contact_id: IdPath
) -> None:
    """Only for a contact entered by mistake; one with history answers 409."""
    contact = await crud.get_or_404(session, Contact, contact_id)
    await service.delete_contact(session, principal, contact)


@router.put(
    "/contacts/by-external-id/{external_id}",
    summary="Create or update a contact by external id",
    responses={**problem_responses(403, 409), **upsert_responses(ContactPublic)},
)
async def upsert_contact(
    session: SessionDep,
    principal: IntegrationPrincipal,
    external_id: ExternalIdPath,
    body: ContactCreate,
    response: Response,
) -> ContactPublic:
    """For ATS syncs: creates the contact (201) or updates the fields given (200)."""
    contact, created = await service.upsert_contact(session, principal, external_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return ContactPublic.model_validate(contact)
