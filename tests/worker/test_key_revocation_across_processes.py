"""A revoked key stops working within the stated bound on every server process (issue 14,
``app.auth.cache``): at once on the process that revoked it, within
``CANDOR_AUTH_CACHE_SECONDS`` on the others, which had remembered it.

Two real ``candor serve`` processes share one committed database. Run on SQLite only: the
bound is each process's memory, not the database's, so PostgreSQL would prove the same thing
with two more server processes in a run that already has many.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.cache import PrincipalCache
from app.auth.models import Role
from app.auth.principal import Principal
from tests.support.factories import make_caller
from tests.support.serving import free_port, serving
from tests.support.workers import WorkerDatabase, postgres_server_url

TTL = 3.0
#: Room for a loaded machine between the entry's expiry and the poll that sees it.
MARGIN = 2.0


async def _me(http: httpx.AsyncClient, key: str) -> int:
    return (await http.get("/v1/me", headers={"Authorization": f"Bearer {key}"})).status_code


@pytest.mark.skipif(
    postgres_server_url() is not None,
    reason="the bound is per server process; one database (SQLite) proves it for both",
)
async def test_a_revoked_key_stops_on_every_process_within_the_cache_bound__R_PV(
    worker_database: WorkerDatabase,
    worker_sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    async with worker_sessionmaker() as session:
        admin = await make_caller(session, "admin")
        doomed = await make_caller(session, "recruiter")
        await session.commit()
    env = {"CANDOR_AUTH_CACHE_SECONDS": str(TTL)}
    port_a, port_b = free_port(), free_port()
    loop = asyncio.get_running_loop()
    async with (
        serving(worker_database.url, tmp_path / "a", port_a, env=env),
        serving(worker_database.url, tmp_path / "b", port_b, env=env),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_a}") as a,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_b}") as b,
    ):
        assert (await _me(a, doomed.key), await _me(b, doomed.key)) == (200, 200)
        remembered_at = loop.time()  # both processes now remember the key

        revoked = await a.post(
            f"/v1/api-keys/{doomed.key_id}/revoke",
            headers={"Authorization": f"Bearer {admin.key}"},
        )
        assert revoked.status_code == 200, revoked.text
        revoked_at = loop.time()
        assert await _me(a, doomed.key) == 401  # at once where it was revoked

        first_b = await _me(b, doomed.key)
        if loop.time() - remembered_at < TTL * 0.8:
            # The other process still answers from memory: the cache this test bounds is real.
            assert first_b == 200
        status = first_b
        while status != 401 and loop.time() - revoked_at < TTL + MARGIN:
            await asyncio.sleep(0.1)  # polling a real condition, bounded by the deadline
            status = await _me(b, doomed.key)
        refused_after = loop.time() - revoked_at

    assert status == 401, f"still accepted {refused_after:.1f} s after revocation"
    assert refused_after <= TTL + MARGIN


class TestThePrincipalCache:
    """The memory itself, on an explicit clock (issue 14, R-PV bound)."""

    who = Principal(actor_type="user", actor_id=7, role=Role.recruiter)

    def test_an_entry_lives_for_the_ttl_then_is_looked_up_again(self) -> None:
        cache = PrincipalCache(ttl_seconds=5)
        cache.put("h", self.who, now=100.0)
        assert cache.get("h", now=104.9) == self.who
        assert cache.get("h", now=105.0) is None
        assert len(cache) == 0

    def test_a_ttl_of_zero_remembers_nothing(self) -> None:
        cache = PrincipalCache(ttl_seconds=0)
        cache.put("h", self.who, now=100.0)
        assert cache.get("h", now=100.0) is None

    def test_it_holds_at_most_max_entries_dropping_the_least_recently_used(self) -> None:
        cache = PrincipalCache(ttl_seconds=60, max_entries=2)
        cache.put("a", self.who, now=1.0)
        cache.put("b", self.who, now=1.0)
        assert cache.get("a", now=2.0) == self.who  # "a" is now the most recent
        cache.put("c", self.who, now=3.0)
        assert (cache.get("a", now=3.0), cache.get("b", now=3.0)) == (self.who, None)
        assert len(cache) == 2
