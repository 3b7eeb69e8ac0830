"""Queries for users, API clients and keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiClient, ApiKey, Role, User
from app.auth.principal import Principal


async def principal_for_key_hash(session: AsyncSession, key_hash: str) -> Principal | None:
    """One indexed lookup: the live key, its owner's role, and whether the owner is active."""
    stmt = (
        select(ApiKey.user_id, ApiKey.api_client_id, User.role, User.active, ApiClient.role)
        .outerjoin(User, User.id == ApiKey.user_id)  # type: ignore[arg-type]
        .outerjoin(ApiClient, ApiClient.id == ApiKey.api_client_id)  # type: ignore[arg-type]
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    user_id, client_id, user_role, user_active, client_role = row
    if user_id is not None:
        if not user_active:
            return None
        return Principal(actor_type="user", actor_id=user_id, role=Role(user_role))
    return Principal(actor_type="api_client", actor_id=client_id, role=Role(client_role))


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def api_client_by_name(session: AsyncSession, name: str) -> ApiClient | None:
    stmt = select(ApiClient).where(ApiClient.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()
