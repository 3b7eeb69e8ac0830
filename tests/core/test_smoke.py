import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_caller, make_submission


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
