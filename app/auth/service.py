"""Users, API clients and their keys. Admin operations; never commit (the caller does)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository
from app.auth.keys import generate_key
from app.auth.models import (
    ApiClient,
    ApiClientCreate,
    ApiClientPublic,
    ApiClientUpdate,
    ApiKey,
    ApiKeyCreated,
    ApiKeyPublic,
    User,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.auth.principal import Principal
from app.core import crud
from app.core.clock import utcnow
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.pagination import Page, PageParams
from app.events import service as events


async def _check_user_unique(
    session: AsyncSession, *, email: str | None, external_id: str | None, own_id: int | None
) -> None:
    if email is not None:
        other = await repository.user_by_email(session, email)
        if other is not None and other.id != own_id:
            raise Conflict(f"Another user already has the email address given (id {other.id}).")
    if external_id is not None:
        other = await crud.find_by_external_id(session, User, external_id)
        if other is not None and other.id != own_id:
            raise Conflict(f"External id {external_id!r} already belongs to user {other.id}.")


async def create_user(session: AsyncSession, principal: Principal, data: UserCreate) -> User:
    await _check_user_unique(session, email=data.email, external_id=data.external_id, own_id=None)
    user = User.model_validate(data)
    session.add(user)
    await session.flush()
    assert user.id is not None
    await events.record(
        session, principal, action="user.created", record_type="user", record_id=user.id
    )
    return user


async def update_user(
    session: AsyncSession, principal: Principal, user: User, data: UserUpdate
) -> User:
    changes = data.model_dump(exclude_unset=True)
    await _check_user_unique(
        session,
        email=changes.get("email"),
        external_id=changes.get("external_id"),
        own_id=user.id,
    )
    await events.record_update(
        session,
        principal,
        record_type="user",
        record_id=user.id,
        changed=crud.apply_changes(user, changes),
    )
    return user


async def list_users(session: AsyncSession, page: PageParams) -> Page[UserPublic]:
    return await crud.fetch_page(session, select(User), User, page, UserPublic)


async def create_api_client(
    session: AsyncSession, principal: Principal, data: ApiClientCreate
) -> ApiClient:
    if await repository.api_client_by_name(session, data.name) is not None:
        raise Conflict(f"An API client named {data.name!r} already exists.")
    client = ApiClient.model_validate(data)
    session.add(client)
    await session.flush()
    assert client.id is not None
    await events.record(
        session,
        principal,
        action="api_client.created",
        record_type="api_client",
        record_id=client.id,
    )
    return client


async def update_api_client(
    session: AsyncSession, principal: Principal, client: ApiClient, data: ApiClientUpdate
) -> ApiClient:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes:
        other = await repository.api_client_by_name(session, changes["name"])
        if other is not None and other.id != client.id:
            raise Conflict(f"An API client named {changes['name']!r} already exists.")
    await events.record_update(
        session,
        principal,
        record_type="api_client",
        record_id=client.id,
        changed=crud.apply_changes(client, changes),
    )
    return client


async def list_api_clients(session: AsyncSession, page: PageParams) -> Page[ApiClientPublic]:
    return await crud.fetch_page(session, select(ApiClient), ApiClient, page, ApiClientPublic)


async def issue_key(
    session: AsyncSession,
    principal: Principal,
    *,
    secret: str,
    name: str,
    user: User | None = None,
    api_client: ApiClient | None = None,
) -> ApiKeyCreated:
    """A new key for a user or an API client; the only moment the key itself exists in clear."""
    new = generate_key(secret)
    key = ApiKey(
        name=name,
        prefix=new.prefix,
        key_hash=new.key_hash,
        user_id=user.id if user else None,
        api_client_id=api_client.id if api_client else None,
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    assert key.id is not None
    await events.record(
        session,
        principal,
        action="api_key.created",
        record_type="api_key",
        record_id=key.id,
        data={"user_id": key.user_id, "api_client_id": key.api_client_id},
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=new.key)


async def revoke_key(session: AsyncSession, principal: Principal, key: ApiKey) -> ApiKey:
    """Revoking is immediate and permanent; the row stays for the audit trail."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        assert key.id is not None
        await events.record(
            session, principal, action="api_key.revoked", record_type="api_key", record_id=key.id
        )
    return key


async def list_keys(session: AsyncSession, page: PageParams) -> Page[ApiKeyPublic]:
    return await crud.fetch_page(session, select(ApiKey), ApiKey, page, ApiKeyPublic)


async def resolve_owner(
    session: AsyncSession,
    principal: Principal,
    owner_id: int | None,
    *,
    default: int | None = None,
) -> int:
    """The owner recruiter of a new or reassigned record.

    A recruiter's records are always their own: naming anyone else is refused, so a recruiter key
    cannot hand work to a colleague behind their back. Admins and integrations name the owner (or
    inherit ``default``), and it must be an active user.
    """
    if principal.is_recruiter:
        if owner_id is not None and owner_id != principal.user_id:
            raise Forbidden("A recruiter cannot assign records to someone else.")
        assert principal.user_id is not None
        return principal.user_id
    owner = owner_id if owner_id is not None else default
    if owner is None:
        raise InvalidInput("body.owner_id", "owner_id is required: the owner recruiter's user id.")
    user = await session.get(User, owner)
    if user is None or not user.active:
        raise InvalidInput("body.owner_id", f"No active user with id {owner}.")
    return owner


async def reassign_owner(
    session: AsyncSession,
    principal: Principal,
    changes: dict[str, Any],
    *,
    current: int,
    label: str,
) -> None:
    """Vet an ``owner_id`` in an update's ``changes`` (in place): reassignment is for admins and
    integrations; an unchanged or absent owner is simply dropped from the changes."""
    owner_id = changes.pop("owner_id", None)
    if owner_id is None or owner_id == current:
        return
    if principal.is_recruiter:
        raise Forbidden(f"A recruiter cannot reassign a {label}; ask an admin.")
    changes["owner_id"] = await resolve_owner(session, principal, owner_id)
