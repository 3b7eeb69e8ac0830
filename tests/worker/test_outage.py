"""R-AV: the database goes away under load, and nothing is lost or dropped.

A TCP proxy in front of the suite's PostgreSQL (tests/support/tcp_proxy.py; the shared server
itself is never stopped) resets every connection through it and refuses new ones for a few seconds,
while a real ``candor serve`` process takes a bounded write load from keep-alive HTTP clients,
and, in the second test, while a real ``candor worker`` fires due checks. What must hold:

- the API answers every request: 201, or 503 problem+json with ``Retry-After`` while the
  database is gone; never a 500, never a connection closed with a request unanswered (each
  client keeps the one connection it opened), and it serves writes again by itself afterwards;
- every write answered 201 is in the database afterwards;
- the worker backs off, carries on once the database is back, and every due check fires exactly
  once.

PostgreSQL only by nature: an SQLite database is a file the process opens, with no connection
that can be lost (the SQLite run skips these and says so).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, make_url, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.candidates.models import Candidate
from app.sla.models import CheckKind, CheckState, SlaCheck
from tests.support.factories import TEST_SECRET, make_caller
from tests.support.logcapture import process_log
from tests.support.serving import CANDOR, ROOT, free_port, process_env, serving
from tests.support.tcp_proxy import TcpProxy
from tests.support.workers import (
    WorkerDatabase,
    assert_fired_once,
    due_instant,
    load_checks,
    on_postgresql,
    seed_submissions,
)

pytestmark = on_postgresql(
    "R-AV outages are lost database connections; SQLite has no connection to lose"
)

#: How long the database stays away: the length of a quick server restart.
OUTAGE_SECONDS = 3.0
CONCURRENCY = 8
#: 201s wanted before the outage and again after it (then the load stops).
WRITES_EACH_SIDE = 150
#: Bounds on the load whatever happens: it stops by itself.
MAX_REQUESTS = 6000
DEADLINE_SECONDS = 120.0

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def proxy(worker_database: WorkerDatabase) -> AsyncIterator[TcpProxy]:
    url = make_url(worker_database.url)
    proxy = TcpProxy(target_host=url.host or "127.0.0.1", target_port=url.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def _through(proxy: TcpProxy, database: WorkerDatabase) -> str:
    url = make_url(database.url).set(host=proxy.host, port=proxy.port)
    return url.render_as_string(hide_password=False)


@dataclass
class Load:
    """What the clients saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    #: Each created record read back at once (GET one record is run by the driver directly,
    #: app.core.prepared: its lost connections must be 503s too).
    read_statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    created: set[int] = field(default_factory=set)
    connects: int = 0
    requests: int = 0
    created_before: int = 0
    created_after: int = 0
    bad_503: list[str] = field(default_factory=list)
    phase: str = "before"  # before → down → after → done
    enough_before: asyncio.Event = field(default_factory=asyncio.Event)
    enough_after: asyncio.Event = field(default_factory=asyncio.Event)

    async def trace(self, event: str, _info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            self.connects += 1

    def record(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code == 201:
            self.created.add(int(response.json()["id"]))
            if self.phase == "before":
                self.created_before += 1
                if self.created_before >= WRITES_EACH_SIDE:
                    self.enough_before.set()
            elif self.phase == "after":
                self.created_after += 1
                if self.created_after >= WRITES_EACH_SIDE:
                    self.enough_after.set()
        elif response.status_code == 503:
            problem = response.json()
            if not (
                response.headers.get("content-type") == "application/problem+json"
                and int(response.headers.get("retry-after", "0")) >= 1
                and problem.get("status") == 503
            ):
                self.bad_503.append(response.text)


async def _client(http: httpx.AsyncClient, load: Load, owner_id: int, n: int) -> None:
    i = 0
    while load.phase != "done" and load.requests < MAX_REQUESTS:
        load.requests += 1
        i += 1
        body = {
            "first_name": "Load",
            "last_name": f"Writer{n}x{i}",
            "email": f"load{n}x{i}@example.com",
            "owner_id": owner_id,
        }
        try:
            response = await http.post(
                "/v1/candidates", json=body, extensions={"trace": load.trace}
            )
        except httpx.TransportError as exc:
            load.transport_errors[type(exc).__name__] += 1
            continue
        load.record(response)
        if response.status_code == 201:
            try:
                read = await http.get(
                    f"/v1/candidates/{response.json()['id']}", extensions={"trace": load.trace}
                )
            except httpx.TransportError as exc:
                load.transport_errors[type(exc).__name__] += 1
                continue
            load.read_statuses[read.status_code] += 1
            if read.status_code == 503 and read.headers.get("retry-after") is None:
                load.bad_503.append(read.text)


async def test_the_api_answers_503_through_an_outage_and_keeps_every_write__R_AV(
    worker_database: WorkerDatabase,
    worker_sessionmaker: Sessions,
    proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    async with worker_sessionmaker() as session:
        caller = await make_caller(session, "integration")
        owner = await make_caller(session, "recruiter")
        await session.commit()
    assert owner.user_id is not None
    assert TEST_SECRET  # the server runs on the same (default) secret the key was made with
    port = free_port()
    load = Load()
    async with (
        serving(_through(proxy, worker_database), tmp_path, port),
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers=caller.headers,
            limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
            timeout=60,
        ) as http,
    ):

        async def outage() -> None:
            await load.enough_before.wait()
            load.phase = "down"
            await proxy.cut()
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage's length, an input of the test
            await proxy.restore()
            load.phase = "after"
            await load.enough_after.wait()
            load.phase = "done"

        clients = [_client(http, load, owner.user_id, n) for n in range(CONCURRENCY)]
        await asyncio.wait_for(asyncio.gather(outage(), *clients), timeout=DEADLINE_SECONDS)

    async with worker_sessionmaker() as session:
        present = set(
            (
                await session.scalars(
                    select(col(Candidate.id)).where(col(Candidate.id).in_(load.created))
                )
            ).all()
        )
        total = await session.scalar(select(func.count()).select_from(Candidate))
    print(
        f"\nR-AV API outage: {load.requests} requests, statuses {dict(load.statuses)}, "
        f"reads back {dict(load.read_statuses)}, "
        f"transport errors {dict(load.transport_errors)}, client connections {load.connects}, "
        f"201s {len(load.created)} ({load.created_before} before, {load.created_after} after), "
        f"present afterwards {len(present)} of {len(load.created)} "
        f"({total} candidates in all), proxy {proxy.counts}"
    )
    assert set(load.statuses) <= {201, 503}, load.statuses
    assert set(load.read_statuses) <= {200, 503}, load.read_statuses
    assert load.read_statuses[200] > 0
    assert load.statuses[503] > 0, "the outage never reached a request"
    assert load.bad_503 == []
    assert not load.transport_errors
    assert load.connects == CONCURRENCY, "a connection was closed and had to be opened again"
    assert load.created_after >= WRITES_EACH_SIDE, "the service did not recover"
    assert present == load.created
    assert proxy.counts.dropped > 0


async def test_the_worker_backs_off_through_an_outage_and_fires_every_check_once__R_AV(
    worker_database: WorkerDatabase,
    worker_sessionmaker: Sessions,
    proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    await seed_submissions(worker_sessionmaker, 120)
    at = await due_instant(worker_sessionmaker, CheckKind.first)
    due = {i for i, c in (await load_checks(worker_sessionmaker)).items() if c.due_at <= at}
    assert len(due) == 120
    log_path = process_log("worker")
    with log_path.open("wb") as out:
        worker = await asyncio.create_subprocess_exec(
            str(CANDOR),
            "worker",
            "--once",
            "--now",
            at.isoformat(),
            "--batch",
            "2",
            stdout=out,
            stderr=out,
            env=process_env(_through(proxy, worker_database), tmp_path),
            cwd=ROOT,
        )
        try:
            fired_at_cut = await _when_some_fired(worker_sessionmaker, worker, at_least=10)
            await proxy.cut()
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage's length, an input of the test
            await proxy.restore()
            returncode = await asyncio.wait_for(worker.wait(), timeout=DEADLINE_SECONDS)
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    output = log_path.read_text()
    retries = output.count("database unavailable")
    print(
        f"\nR-AV worker outage: {len(due)} due checks, {fired_at_cut} fired when the database "
        f"went away, {retries} rounds retried, proxy {proxy.counts}, exit {returncode}"
    )
    assert returncode == 0, output[-3000:]
    assert fired_at_cut < len(due), "the worker finished before the outage"
    assert retries > 0, output[-3000:]
    assert "fired" in output
    await assert_fired_once(worker_sessionmaker, due, claims=1)


async def _when_some_fired(
    sessions: Sessions, worker: asyncio.subprocess.Process, *, at_least: int
) -> int:
    """Poll (bounded) until the worker has fired ``at_least`` checks; how many it had."""
    for _ in range(2000):
        async with sessions() as session:
            fired = int(
                await session.scalar(
                    select(func.count())
                    .select_from(SlaCheck)
                    .where(col(SlaCheck.state) == CheckState.fired.value)
                )
                or 0
            )
        if fired >= at_least:
            return fired
        assert worker.returncode is None, "the worker exited before firing anything"
        await asyncio.sleep(0.01)
    raise AssertionError("the worker fired nothing")
