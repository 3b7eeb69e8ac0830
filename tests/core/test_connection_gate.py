"""Issue 14 / R-AV: requests wait for a database connection in arrival order
(``app.core.database:admitted``), so more requests in flight than pooled connections cannot leave
one waiting while newcomers go first. Deterministic: the order is read from events, never from
timing."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from starlette.requests import Request

from app.core.database import admitted
from app.core.settings import Settings
from app.main import create_app


def _request(gate: asyncio.Semaphore) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(connection_gate=gate))
    return Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})


class TestRequestsTakeConnectionsInArrivalOrder:
    async def test_a_newcomer_queues_behind_every_waiter__R_AV(self) -> None:
        gate = asyncio.Semaphore(1)
        order: list[str] = []
        release_first = asyncio.Event()

        async def request(name: str, hold: asyncio.Event | None = None) -> None:
            async with admitted(_request(gate)):
                order.append(name)
                if hold is not None:
                    await hold.wait()

        first = asyncio.create_task(request("first", release_first))
        await asyncio.sleep(0)  # let it take the only place
        waiters = [asyncio.create_task(request(f"waiter {i}")) for i in range(3)]
        await asyncio.sleep(0)  # all three queue
        assert order == ["first"]
        release_first.set()
        await first
        # A request arriving right as the place frees goes last, not first.
        newcomer = asyncio.create_task(request("newcomer"))
        await asyncio.gather(newcomer, *waiters)
        assert order == ["first", "waiter 0", "waiter 1", "waiter 2", "newcomer"]

    async def test_one_request_takes_one_place_however_many_sessions__R_AV(self) -> None:
        gate = asyncio.Semaphore(1)
        request = _request(gate)
        # A second session of the same request would otherwise wait for itself forever.
        async with admitted(request), asyncio.timeout(5), admitted(request):
            assert gate.locked()
        assert not gate.locked()

    async def test_the_gate_is_as_wide_as_the_pool__R_AV(self) -> None:
        settings = Settings(
            environment="test",
            database_url="sqlite+aiosqlite://",
            db_pool_size=7,
            db_max_overflow=3,
        )
        gate = create_app(settings).state.connection_gate
        assert isinstance(gate, asyncio.Semaphore)
        places = 0
        while not gate.locked():
            await gate.acquire()
            places += 1
        assert places == 10
