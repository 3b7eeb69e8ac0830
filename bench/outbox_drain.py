"""Benchmark: emails per second from the outbox to a local SendGrid stand-in, against a plain loop.

Run: ``python bench/outbox_drain.py`` (from the repository root). Not a test: it prints figures.

It drops and recreates the ``candor_bench_outbox`` database (loopback PostgreSQL only), builds
the schema with Alembic, and seeds N (2000) candidates in UTC, each submitted once through the
services, with one pending no-news status message per submission, due the morning of ``T`` (a
Tuesday, 16:00 UTC: the candidates' delivery slot, so the gate lets every message go, and each
goes to a different person, so no digest bundles two). Then, against one stand-in:

1. **ours**: ``app.messaging.outbox.drain(sessionmaker, now=T, backend=SendGridBackend(...))``
   end to end (claims, gate, render, send through the ``sendgrid`` library, records, commits);
2. **baseline**: the same N JSON payloads (built with ``SendGridBackend._mail(...).get()`` from
   the rows the drain recorded), posted by a plain ``httpx.AsyncClient`` loop with at most 10
   requests in flight. No database, no rendering: what the HTTP side alone costs.

Targets (the issue): at least 500 emails/s, and at least 0.7 times the plain loop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import app.models  # noqa: F401 - registers every table, as the worker does
from app.cli import run_migrations
from app.core.database import make_engine, make_sessionmaker
from app.core.settings import Settings
from app.messaging import outbox
from app.messaging.backends import OutgoingEmail, SendGridBackend
from app.messaging.models import Message, MessageKind, MessageState
from app.messaging.sendgrid_standin import KEY_ENV, SendGridStandIn
from tests.factories import make_candidate, make_client, make_contact, make_job, make_submission

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/candor_bench_outbox"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
API_KEY = "SG.bench-outbox-key"
T = datetime(2025, 3, 4, 16, 0, tzinfo=UTC)  # a Tuesday, 16:00 UTC: the UTC delivery slot
DUE_AT = T - timedelta(hours=4)
SUBMITTED_AT = T - timedelta(hours=6)  # backdated: no status email of its own, no check due
CONCURRENCY = 10
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
            client = await make_client(session)
            contact = await make_contact(session, client_id=client.id)
            first = await make_candidate(session, time_zone="UTC")
            jobs = [
                await make_job(
                    session,
                    client_id=client.id,
                    owner_id=first.owner_id,
                    primary_contact_id=contact.id,
                )
                for _ in range(20)
            ]
            rows: list[dict[str, Any]] = []
            for n in range(count):
                candidate = (
                    first
                    if n == 0
                    else await make_candidate(session, owner_id=first.owner_id, time_zone="UTC")
                )
                submission = await make_submission(
                    session,
                    candidate_id=candidate.id,
                    job_id=jobs[n % len(jobs)].id,
                    submitted_at=SUBMITTED_AT,
                )
                assert submission.id is not None and candidate.id is not None
                rows.append(
                    outbox.status_row(
                        kind=MessageKind.no_news,
                        submission_id=submission.id,
                        candidate_id=candidate.id,
                        due_at=DUE_AT,
                        reason="bench",
                    )
                )
            await session.execute(insert(Message), rows)
            await session.commit()
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()


async def run_ours(url: str, base_url: str, count: int) -> tuple[float, list[Any]]:
    """Time ``drain`` end to end; answer the seconds and the payloads it sent (from its rows)."""
    settings = Settings(database_url=url)
    backend = SendGridBackend(api_key=API_KEY, base_url=base_url, sandbox=False, timeout=10.0)
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        started = time.perf_counter()
        result = await outbox.drain(sessions, now=T, backend=backend, settings=settings)
        elapsed = time.perf_counter() - started
        assert result.sent_emails == count, result
        async with sessions() as session:
            messages = (
                await session.scalars(
                    select(Message).where(col(Message.state) == MessageState.sent.value)
                )
            ).all()
    finally:
        await engine.dispose()
    payloads = [
        backend._mail(
            OutgoingEmail(
                message_id=m.id or 0,
                to=m.recipient_email or "",
                subject=m.subject or "",
                text=m.body_text or "",
                html=m.body_html or "",
                from_email=settings.email_from,
                from_name=settings.email_from_name,
            )
        ).get()
        for m in messages
    ]
    return elapsed, payloads


class NullBackend:
    """Accepts every email at once: what the drain costs without any HTTP at all."""

    async def send(self, email: OutgoingEmail) -> str:
        return f"null-{email.message_id}"


async def run_without_http(url: str, count: int) -> float:
    """``drain`` with ``NullBackend``, after putting the sent messages back to pending."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM promise"))
            await conn.execute(text("DELETE FROM message_event"))
            await conn.execute(
                text(
                    "UPDATE message SET state = 'pending', sent_at = NULL, claim_token = NULL,"
                    " claim_expires_at = NULL, provider_message_id = NULL"
                )
            )
        started = time.perf_counter()
        result = await outbox.drain(
            make_sessionmaker(engine),
            now=T,
            backend=NullBackend(),
            settings=Settings(database_url=url),
        )
        elapsed = time.perf_counter() - started
        assert result.sent_emails == count, result
    finally:
        await engine.dispose()
    return elapsed


async def run_baseline(base_url: str, payloads: list[Any]) -> float:
    """The same payloads, posted by a plain async loop with ``CONCURRENCY`` in flight."""
    limit = asyncio.Semaphore(CONCURRENCY)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:

        async def post(payload: Any) -> None:
            async with limit:
                response = await client.post("/v3/mail/send", json=payload)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(p) for p in payloads))
        elapsed = time.perf_counter() - started
    return elapsed


async def in_own_process(url: str, count: int) -> tuple[float, float]:
    """Both runs against ``python -m app.messaging.sendgrid_standin`` in a process of its own."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.messaging.sendgrid_standin",
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
        ours, payloads = await run_ours(url, base_url, count)
        baseline = await run_baseline(base_url, payloads)
    finally:
        proc.terminate()
        await proc.wait()
    return ours, baseline


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
    parser.add_argument(
        "--standin-process",
        action="store_true",
        help="serve the stand-in from its own process (no GIL shared with the bench)",
    )
    args = parser.parse_args()
    url: str = args.database_url
    count: int = args.count
    print(f"machine: {machine()}")
    await recreate(url)
    await asyncio.to_thread(run_migrations, url)
    started = time.perf_counter()
    await seed(url, count)
    print(f"seeded {count} messages in {time.perf_counter() - started:.1f} s")
    if args.standin_process:
        ours, baseline = await in_own_process(url, count)
    else:
        async with SendGridStandIn(API_KEY) as standin:
            ours, payloads = await run_ours(url, standin.base_url, count)
            assert len(standin.accepted) == count
            standin.reset()
            baseline = await run_baseline(standin.base_url, payloads)
            assert len(standin.accepted) == count
    no_http = await run_without_http(url, count)
    where = "own process" if args.standin_process else "in this process"
    print(f"stand-in: {where}")
    ours_rate, base_rate = count / ours, count / baseline
    ratio = ours_rate / base_rate
    print(f"ours     outbox.drain + SendGridBackend: {ours:7.2f} s  {ours_rate:8.1f} emails/s")
    print(
        f"baseline httpx loop, {CONCURRENCY} in flight:     "
        f"{baseline:7.2f} s  {base_rate:8.1f} emails/s"
    )
    print(
        f"ours, no HTTP (NullBackend):               {no_http:7.2f} s  "
        f"{count / no_http:8.1f} emails/s"
    )
    print(f"ratio ours/baseline: {ratio:.2f}x")
    print(
        f"target >= {TARGET_RATE:.0f} emails/s: {'met' if ours_rate >= TARGET_RATE else 'MISSED'};"
        f" target >= {TARGET_RATIO}x baseline: {'met' if ratio >= TARGET_RATIO else 'MISSED'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
