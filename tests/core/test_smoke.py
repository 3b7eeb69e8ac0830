import os

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.support.factories import make_caller, make_submission


async def test_health_answers_without_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_factories_and_a_keyed_read(client: httpx.AsyncClient, session: AsyncSession) -> None:
    admin = await make_caller(session, "admin")
    sub = await make_submission(session)
    await session.commit()
    response = await client.get(f"/v1/submissions/{sub.id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "submitted"
    assert response.json()["submitted_at"].endswith("Z")


async def test_the_suite_runs_on_the_database_it_names(engine: AsyncEngine) -> None:
    """CI sets CANDOR_TEST_DATABASE_URL: the PostgreSQL run must really be on PostgreSQL."""
    expected = "postgresql" if os.environ.get("CANDOR_TEST_DATABASE_URL") else "sqlite"
    assert engine.dialect.name == expected
