"""Benchmark: emails per second from the outbox to a local SendGrid stand-in, against a plain loop.

Run: ``python bench/outbox_drain.py`` (from the repository root). Not a test: it prints figures.

It drops and recreates the ``candor_bench_outbox`` database (loopback PostgreSQL only), builds
the schema with Alembic, and seeds N (2000) candidates in UTC, each submitted once through the
services, with one pending no-news status message per submission, due the morning of ``T`` (a
Tuesday, 16:00 UTC: the candidates' delivery slot, so the gate lets every message go, and each
goes to a different person, so no digest bundles two). Then, against one stand-in:

Then, ``--repeats`` times (3 by default), against one stand-in (in a thread of this process, or
with ``--standin-process`` in a process of its own), each from a freshly reset outbox:

1. **ours**: ``app.messaging.delivery.drain:drain`` (``drain(sessionmaker, now=T,
   backend=SendGridBackend(...))``) end to end (claims, gate, render, payloads built by the
   ``sendgrid`` helpers and posted with ``aiohttp``, records, commits);
2. **baselines**: the same N request bodies (``SendGridBackend.payload``, rebuilt from the rows
   the drain recorded), posted by a plain ``httpx.AsyncClient`` loop and by a plain ``aiohttp``
   loop (the client ours uses), each with ``MAX_IN_FLIGHT`` requests in flight, the most ours
   has. No database, no rendering: what the HTTP side alone costs with each client;
3. **no HTTP**: the drain again with a backend that accepts every email at once: the cost of
   the database, gate and render work alone.

Everything runs as the worker runs (``app.core.eventloop.run``: on uvloop, with what is
imported by then frozen out of the garbage collector), so the figures are the worker's;
``--asyncio-loop`` runs the same on asyncio's own loop instead (what the worker ran on before
decision record 0089), to tell the loop's share from the code's.

It prints the best and the median rate of each, and the ratio of ours to each plain loop.
Targets (the issue): at least 500 emails/s, and at least 0.7 times the plain loop. The verdict
line asks the ratio of both loops, so the faster one decides.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import app.models  # noqa: F401 - registers every table, as the worker does
from app.cli import run_migrations
from app.core import eventloop
from app.core.database import make_engine, make_sessionmaker
from app.core.settings import Settings
from app.messaging.backends import MAX_IN_FLIGHT, EmailBackend, OutgoingEmail, SendGridBackend
from app.messaging.delivery import drain
from app.messaging.models import Message, MessageState
from tests.support.factories import make_due_status_messages
from tools.sendgrid_standin import KEY_ENV, SendGridStandIn

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/candor_bench_outbox"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
API_KEY = "SG.bench-outbox-key"
T = datetime(2025, 3, 4, 16, 0, tzinfo=UTC)  # a Tuesday, 16:00 UTC: the UTC delivery slot
DUE_AT = T - timedelta(hours=4)
SUBMITTED_AT = T - timedelta(hours=6)  # backdated: no status email of its own, no check due
STANDIN_PORT = 8091
TARGET_RATE = 500.0
TARGET_RATIO = 0.7


async def recreate(url: str) -> None:
    target = make_url(url)
    if target.host not in LOOPBACK or target.database in (None, "postgres", "template0"):
        raise SystemExit(f"refusing to recreate {target.database!r} on {target.host!r}")
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
            await conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    finally:
        await admin.dispose()


async def seed(url: str, count: int) -> None:
    """``count`` candidates and submissions through the services, one message each."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await make_due_status_messages(
                session,
                candidates=count,
                jobs=20,
                submitted_at=SUBMITTED_AT,
                due_at=DUE_AT,
                reason="bench",
            )
            await session.commit()
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()


async def reset(url: str) -> None:
    """Put every message back to pending, as seeded (promises, events, links and tokens go)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for table in ("promise", "message_event", "opt_out_token", "candidate_link"):
                await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
            await conn.execute(
                text(
                    "UPDATE message SET state = 'pending', sent_at = NULL, claim_token = NULL,"
                    " claim_expires_at = NULL, provider_message_id = NULL, digest_id = NULL,"
                    " recipient_email = NULL, subject = NULL, body_text = NULL, body_html = NULL"
                )
            )
        async with engine.connect() as conn:
            # Every run starts from the same table state (no dead rows of the last run).
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


async def run_drain(url: str, backend: EmailBackend, count: int) -> float:
    """Time ``drain`` end to end from a freshly reset outbox."""
    await reset(url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        result = await drain.drain(
            make_sessionmaker(engine), now=T, backend=backend, settings=Settings(database_url=url)
        )
        elapsed = time.perf_counter() - started
        assert result.sent_emails == count, result
    finally:
        await engine.dispose()
    return elapsed


async def sent_payloads(url: str, backend: SendGridBackend) -> list[bytes]:
    """The request bodies the drain sent, rebuilt from the rows it recorded."""
    settings = Settings(database_url=url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            messages = (
                await session.scalars(
                    select(Message).where(col(Message.state) == MessageState.sent.value)
                )
            ).all()
    finally:
        await engine.dispose()
    return [
        backend.payload(
            OutgoingEmail(
                message_id=m.id or 0,
                to=m.recipient_email or "",
                subject=m.subject or "",
                text=m.body_text or "",
                html=m.body_html or "",
                from_email=settings.email_from,
                from_name=settings.email_from_name,
            )
        )
        for m in messages
    ]


class NullBackend:
    """Accepts every email at once: what the drain costs without any HTTP at all."""

    async def send(self, email: OutgoingEmail) -> str:
        return f"null-{email.message_id}"

    async def aclose(self) -> None:
        return None


HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


async def loop_httpx(base_url: str, payloads: list[bytes]) -> float:
    """The same bodies, posted by a plain ``httpx.AsyncClient`` loop, ``MAX_IN_FLIGHT`` at once."""
    limit = asyncio.Semaphore(MAX_IN_FLIGHT)
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS) as client:

        async def post(payload: bytes) -> None:
            async with limit:
                response = await client.post("/v3/mail/send", content=payload)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(p) for p in payloads))
        return time.perf_counter() - started


async def loop_aiohttp(base_url: str, payloads: list[bytes]) -> float:
    """The same bodies, posted by a plain ``aiohttp`` loop, ``MAX_IN_FLIGHT`` at once (the
    client our backend uses)."""
    limit = asyncio.Semaphore(MAX_IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
    async with aiohttp.ClientSession(headers=HEADERS, connector=connector) as client:

        async def post(payload: bytes) -> None:
            async with limit, client.post(f"{base_url}/v3/mail/send", data=payload) as response:
                await response.read()
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(p) for p in payloads))
        return time.perf_counter() - started


@dataclass
class Timings:
    ours: list[float] = field(default_factory=list)
    httpx_loop: list[float] = field(default_factory=list)
    aiohttp_loop: list[float] = field(default_factory=list)
    no_http: list[float] = field(default_factory=list)


async def one_round(url: str, base_url: str, count: int, timings: Timings) -> None:
    """ours, then both plain loops with the payloads ours sent, then ours without HTTP."""
    backend = SendGridBackend(api_key=API_KEY, base_url=base_url, sandbox=False, timeout=10.0)
    try:
        timings.ours.append(await run_drain(url, backend, count))
    finally:
        await backend.aclose()
    payloads = await sent_payloads(url, backend)
    assert len(payloads) == count
    timings.httpx_loop.append(await loop_httpx(base_url, payloads))
    timings.aiohttp_loop.append(await loop_aiohttp(base_url, payloads))
    timings.no_http.append(await run_drain(url, NullBackend(), count))


@contextlib.asynccontextmanager
async def standin_process() -> AsyncIterator[str]:
    """``python -m tools.sendgrid_standin`` in a process of its own; yields its URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tools.sendgrid_standin",
        "--port",
        str(STANDIN_PORT),
        env={**os.environ, KEY_ENV: API_KEY},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
        base_url = line.rsplit(" ", 1)[-1].strip()
        assert base_url.startswith("http://"), line
        yield base_url
    finally:
        proc.terminate()
        await proc.wait()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {load:.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--standin-process",
        action="store_true",
        help="serve the stand-in from its own process (no GIL shared with the bench)",
    )
    parser.add_argument(
        "--asyncio-loop",
        action="store_true",
        help="run on asyncio's own event loop instead of the worker's (uvloop)",
    )
    args = parser.parse_args()
    url: str = args.database_url
    count: int = args.count
    print(f"machine: {machine()}")
    print(f"event loop: {type(asyncio.get_running_loop()).__module__}")
    await recreate(url)
    await asyncio.to_thread(run_migrations, url)
    started = time.perf_counter()
    await seed(url, count)
    print(f"seeded {count} messages in {time.perf_counter() - started:.1f} s")
    timings = Timings()
    if args.standin_process:
        async with standin_process() as base_url:
            for _ in range(args.repeats):
                await one_round(url, base_url, count, timings)
    else:
        async with SendGridStandIn(API_KEY) as standin:
            for _ in range(args.repeats):
                standin.reset()
                await one_round(url, standin.base_url, count, timings)
    print(f"stand-in: {'own process' if args.standin_process else 'in this process'}")
    print(f"after the runs: {machine()}")
    report(count, timings)


def report(count: int, timings: Timings) -> None:
    """Best and median of each mode; ratios of ours to each plain loop, run by run and over
    the medians."""
    rows = [
        ("ours     outbox.drain + SendGridBackend", timings.ours),
        (f"baseline httpx loop, {MAX_IN_FLIGHT} in flight", timings.httpx_loop),
        (f"baseline aiohttp loop, {MAX_IN_FLIGHT} in flight", timings.aiohttp_loop),
        ("ours, no HTTP (NullBackend)", timings.no_http),
    ]
    for label, runs in rows:
        rates = sorted(count / s for s in runs)
        print(
            f"{label:<42} best {rates[-1]:7.1f}  median {statistics.median(rates):7.1f} emails/s"
            f"  (runs: {', '.join(f'{r:.0f}' for r in (count / s for s in runs))})"
        )
    ours = statistics.median(count / s for s in timings.ours)
    for name, runs in (("httpx", timings.httpx_loop), ("aiohttp", timings.aiohttp_loop)):
        per_run = [b / o for o, b in zip(timings.ours, runs, strict=True)]
        print(
            f"ratio ours/{name} loop: median of runs {statistics.median(per_run):.2f}x"
            f" (runs: {', '.join(f'{r:.2f}' for r in per_run)})"
        )
    worst_ratio = min(
        statistics.median(b / o for o, b in zip(timings.ours, runs, strict=True))
        for runs in (timings.httpx_loop, timings.aiohttp_loop)
    )
    rate_met = "met" if ours >= TARGET_RATE else "MISSED"
    ratio_met = "met" if worst_ratio >= TARGET_RATIO else "MISSED"
    print(
        f"target >= {TARGET_RATE:.0f} emails/s (median): {rate_met};"
        f" target >= {TARGET_RATIO}x each plain loop (median of runs): {ratio_met}"
    )


if __name__ == "__main__":
    # As the worker runs: its event loop, and what is imported by now frozen out of the
    # collector (app.core.eventloop.run).
    eventloop.run(main(), use_uvloop="--asyncio-loop" not in sys.argv)
