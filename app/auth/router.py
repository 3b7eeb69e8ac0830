"""Admin API for users, API clients and keys; ``/v1/me`` for any caller."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.auth import service
from app.auth.dependencies import AdminPrincipal, CurrentPrincipal
from app.auth.models import (
    ApiClient,
    ApiClientCreate,
    ApiClientPublic,
    ApiClientUpdate,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    User,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.core import crud
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import IdPath, Paging
from app.core.pagination import Page
from app.core.settings import SettingsDep

router = APIRouter(tags=["admin"], responses=problem_responses(401, 403, 422))
me_router = APIRouter(tags=["admin"], responses=problem_responses(401))


@me_router.get("/me", summary="Who am I")
async def who_am_i(principal: CurrentPrincipal) -> dict[str, str | int | None]:
    """The caller behind the key: its kind, id and role. Useful to check a new key works."""
    return {
        "actor_type": principal.actor_type,
        "actor_id": principal.actor_id,
        "role": principal.role.value,
    }


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    responses=problem_responses(409),
)
async def create_user(
    session: SessionDep, principal: AdminPrincipal, body: UserCreate
) -> UserPublic:
    """Add an admin or recruiter. Give them a key with `POST /v1/users/{id}/keys`."""
    return UserPublic.model_validate(await service.create_user(session, principal, body))


@router.get("/users", summary="List users")
async def list_users(session: SessionDep, _: AdminPrincipal, page: Paging) -> Page[UserPublic]:
    """Every user, in id order."""
    return await service.list_users(session, page)


@router.get("/users/{user_id}", summary="Get a user", responses=problem_responses(404))
async def get_user(session: SessionDep, _: AdminPrincipal, user_id: IdPath) -> UserPublic:
    """One user."""
    return UserPublic.model_validate(await crud.get_or_404(session, User, user_id))


@router.patch("/users/{user_id}", summary="Update a user", responses=problem_responses(404, 409))
async def update_user(
    session: SessionDep, principal: AdminPrincipal, user_id: IdPath, body: UserUpdate
) -> UserPublic:
    """Change a user; `active: false` stops all their keys at once."""
    user = await crud.get_or_404(session, User, user_id)
    return UserPublic.model_validate(await service.update_user(session, principal, user, body))


@router.post(
    "/users/{user_id}/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a key to a user",
    responses=problem_responses(404),
)
async def create_user_key(
    settings: SettingsDep,
    session: SessionDep,
    principal: AdminPrincipal,
    user_id: IdPath,
    body: ApiKeyCreate,
) -> ApiKeyCreated:
    """A new key for the user. The answer holds the key itself; it is never shown again."""
    user = await crud.get_or_404(session, User, user_id)
    return await service.issue_key(
        session, principal, secret=settings.secret_key.get_secret_value(), name=body.name, user=user
    )


@router.post(
    "/api-clients",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API client",
    responses=problem_responses(409),
)
async def create_api_client(
    session: SessionDep, principal: AdminPrincipal, body: ApiClientCreate
) -> ApiClientPublic:
    """Register a machine caller: an ATS integration or an admin tool."""
    client = await service.create_api_client(session, principal, body)
    return ApiClientPublic.model_validate(client)


@router.get("/api-clients", summary="List API clients")
async def list_api_clients(
    session: SessionDep, _: AdminPrincipal, page: Paging
) -> Page[ApiClientPublic]:
    """Every API client, in id order."""
    return await service.list_api_clients(session, page)


@router.get(
    "/api-clients/{api_client_id}", summary="Get an API client", responses=problem_responses(404)
)
async def get_api_client(
    session: SessionDep, _: AdminPrincipal, api_client_id: IdPath
) -> ApiClientPublic:
    """One API client."""
    return ApiClientPublic.model_validate(await crud.get_or_404(session, ApiClient, api_client_id))


@router.patch(
    "/api-clients/{api_client_id}",
    summary="Update an API client",
    responses=problem_responses(404, 409),
)
async def update_api_client(
    session: SessionDep, principal: AdminPrincipal, api_client_id: IdPath, body: ApiClientUpdate
) -> ApiClientPublic:
    """Rename or describe an API client. Its role is fixed: issue a new client instead."""
    client = await crud.get_or_404(session, ApiClient, api_client_id)
    updated = await service.update_api_client(session, principal, client, body)
    return ApiClientPublic.model_validate(updated)


@router.post(
    "/api-clients/{api_client_id}/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a key to an API client",
    responses=problem_responses(404),
)
async def create_api_client_key(
    settings: SettingsDep,
    session: SessionDep,
    principal: AdminPrincipal,
    api_client_id: IdPath,
    body: ApiKeyCreate,
) -> ApiKeyCreated:
    """A new key for the API client. The answer holds the key itself; it is never shown again."""
    client = await crud.get_or_404(session, ApiClient, api_client_id)
    return await service.issue_key(
        session,
        principal,
        secret=settings.secret_key.get_secret_value(),
        name=body.name,
        api_client=client,
    )


@router.get("/api-keys", summary="List API keys")
async def list_api_keys(session: SessionDep, _: AdminPrincipal, page: Paging) -> Page[ApiKeyPublic]:
    """Every key's prefix, owner and state; never the key itself (only its hash is stored)."""
    return await service.list_keys(session, page)


@router.post(
    "/api-keys/{api_key_id}/revoke", summary="Revoke an API key", responses=problem_responses(404)
)
async def revoke_api_key(
    session: SessionDep, principal: AdminPrincipal, api_key_id: IdPath
) -> ApiKeyPublic:
    """Stop a key: at once on the server that answers, and within `CANDOR_AUTH_CACHE_SECONDS`
    (5 s by default) on every other server process. Revoking twice is harmless; the key's
    record stays for the audit."""
    key = await crud.get_or_404(session, ApiKey, api_key_id)
    return ApiKeyPublic.model_validate(await service.revoke_key(session, principal, key))
