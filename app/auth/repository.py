"""Queries for users, API clients and keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import ApiClient, ApiKey, Role, User
from app.auth.principal import Principal


async def principal_for_key_hash(session: AsyncSession, key_hash: str) -> Principal | None:
    """One indexed lookup: the live key, its owner's role, and whether the owner is active."""
    stmt = (
        select(
            col(ApiKey.user_id),
            col(ApiKey.api_client_id),
            col(User.role),
            col(User.active),
            col(ApiClient.role),
        )
        .outerjoin(User, col(User.id) == col(ApiKey.user_id))
        .outerjoin(ApiClient, col(ApiClient.id) == col(ApiKey.api_client_id))
        .where(col(ApiKey.key_hash) == key_hash, col(ApiKey.revoked_at).is_(None))
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
    return (
        await session.execute(select(User).where(col(User.email) == email))
    ).scalar_one_or_none()


async def api_client_by_name(session: AsyncSession, name: str) -> ApiClient | None:
    stmt = select(ApiClient).where(col(ApiClient.name) == name)
    return (await session.execute(stmt)).scalar_one_or_none()
