"""Shell bootstrap: the first admin key, before anyone can call the admin API."""

from __future__ import annotations

from app.auth import repository, service
from app.auth.models import ApiClientCreate, ApiClientRole
from app.auth.principal import SYSTEM
from app.core.database import make_engine, make_sessionmaker
from app.core.errors import Conflict
from app.core.settings import Settings


async def create_client_key(settings: Settings, *, role: str, name: str) -> str:
    """A new key for the API client ``name`` (created with ``role`` if it does not exist)."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            client = await repository.api_client_by_name(session, name)
            if client is None:
                client = await service.create_api_client(
                    session, SYSTEM, ApiClientCreate(name=name, role=ApiClientRole(role))
                )
            elif client.role != role:
                raise Conflict(f"API client {name!r} exists with role {client.role}.")
            key = await service.issue_key(
                session,
                SYSTEM,
                secret=settings.secret_key.get_secret_value(),
                name=f"{name} (shell)",
                api_client=client,
            )
            await session.commit()
            return key.key
    finally:
        await engine.dispose()
