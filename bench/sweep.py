"""Benchmark: the SLA sweep (R-SLA-6) on PostgreSQL, against a plain asyncpg baseline.

Run: ``python bench/sweep.py`` (from the repository root). Not a test: it prints figures.

For N = 100,000 and N = 1,000,000 active submissions it drops and recreates the bench database
(``--database-url``, loopback PostgreSQL only), builds the schema with Alembic, and loads a
realistic agency with COPY: recruiters, one default calendar (America/New_York, US holidays),
clients (half point at that calendar, half rely on it as the agency default), three contacts per
client (the hiring manager is the jobs' primary contact, with a time zone and a contact policy),
jobs, candidates, and N submissions in stage ``submitted``, each with a running ``sla_clock`` and
the three ``sla_check`` rows ``app.sla.service.start_clock`` writes (first, second, silence, due
instants from ``plan``). Exactly 10,000 first checks are due at the sweep instant ``T``; every
other check is due after it. Then, per N:

1. **baseline**: the minimum database work for the same 10,000 checks in plain asyncpg: one
   ``UPDATE … RETURNING`` of the due checks, one ``INSERT … SELECT unnest(…) RETURNING`` of
   10,000 tasks, one ``COPY`` each of 10,000 events and 10,000 status messages, one commit;
   and, interleaved with it, the **same-rows baseline** (issue 14): the same statements writing
   every row the sweep writes, i.e. also the contact a chase task names where it may and the
   client nudges (about 5,700 here) in the messages' ``COPY``;
2. **sweep**: ``app.sla.sweep.run_due(sessionmaker, now=T, batch=B)`` end to end (claim, fire,
   tasks, events, status messages and nudges, commits) for B in (1000, 2000), checked
   afterwards with SQL: 10,000 checks ``fired``, 10,000 tasks, 10,000 ``sla.check_fired``
   events, 10,000 ``no_news`` messages, and as many nudges and contact-naming tasks as the
   same-rows baseline wrote;
3. **idle poll**, once everything is fired: ``has_due`` and a ``run_due`` that finds nothing,
   median and p95 over 200 calls, against the same probe in plain asyncpg.

Between runs the fired checks go back to ``scheduled`` and their tasks, events and messages are
deleted, then ``VACUUM ANALYZE`` and ``CHECKPOINT``, so every run starts from the same state.
Each timing is repeated (``--repeats``) and reported as best and median; ratios use the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs in the dev extras
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import app.models  # noqa: F401 - registers every table, as the worker does
from app.calendar import business_time as bt
from app.cli import run_migrations
from app.core.database import make_engine, make_sessionmaker
from app.sla import sweep
from app.sla.models import Policy
from app.sla.service import plan

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/candor_bench"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SIZES = (100_000, 1_000_000)
BATCHES = (1000, 2000)
DUE = 10_000
IDLE_REPEATS = 200
IDLE_WARMUP = 20
GENERIC_REPEATS = 20
TARGET_SECONDS = 1.0
TARGET_SCALING = 1.5
#: Issue 14: the sweep at most twice the time of the baseline that writes the same rows.
TARGET_SAME_ROWS = 2.0

ZONE = "America/New_York"
CALENDAR = bt.Calendar(time_zone=ZONE, country="US")
# The sweep instant: Tuesday 8 December 2026, 10:00 in New York.
T = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
# Clocks started in [DUE_FROM, DUE_TO] have their first check due at or before T (5 business
# days later, at most Tuesday 8 December 10:00 New York); their second check (3 business days
# after the first) and silence point (5 after) fall after T. Clocks started in (DUE_TO, T] have
# every check after T.
DUE_FROM = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday 30 November, 09:00 New York
DUE_TO = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday 1 December, 10:00 New York
LOADED_AT = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)

CONTACT_ZONES = (
    "America/New_York",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
)
CANDIDATE_ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "UTC")

CHASE_DETAIL = "First check: no decision from the client yet."
DUE_PROBE = (
    "SELECT id FROM sla_check WHERE state IN ('scheduled', 'claimed') AND due_at <= $1 "
    "AND (state = 'scheduled' OR claim_expires_at <= $1) ORDER BY due_at LIMIT 1"
)


# --- machine ------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


async def print_machine(conn: asyncpg.Connection) -> None:
    version = await conn.fetchval("SHOW server_version")
    settings = await conn.fetch(
        "SELECT name, setting, unit FROM pg_settings WHERE name IN "
        "('shared_buffers', 'work_mem', 'synchronous_commit', 'fsync', 'jit') ORDER BY name"
    )
    shown = ", ".join(
        f"{r['name']}={r['setting']}{' x ' + r['unit'] if r['unit'] else ''}" for r in settings
    )
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, {ram_gib():.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}"
    )
    print(f"PostgreSQL {version} on loopback ({shown})")
    print(
        f"Python {platform.python_version()}, asyncpg {asyncpg.__version__}, "
        f"SQLAlchemy {__import__('sqlalchemy').__version__}"
    )


# --- connections --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    host: str
    port: int
    user: str
    password: str | None
    database: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql" or parsed.get_driver_name() != "asyncpg":
            raise SystemExit("--database-url must be postgresql+asyncpg://…")
        host = parsed.host or "127.0.0.1"
        if host not in LOOPBACK:
            raise SystemExit(f"refusing {host}: the bench drops its database, loopback only")
        if not parsed.database or parsed.database in ("postgres", "template0", "template1"):
            raise SystemExit("--database-url must name a database of its own (it is dropped)")
        return cls(
            url=url,
            host=host,
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            database=parsed.database,
        )

    async def connect(self, database: str | None = None) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database or self.database,
        )


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- data ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Shape:
    submissions: int
    recruiters: int = field(init=False)
    clients: int = field(init=False)
    jobs: int = field(init=False)
    candidates: int = field(init=False)

    def __post_init__(self) -> None:
        self.recruiters = max(20, self.submissions // 5_000)
        self.clients = max(50, self.submissions // 500)
        self.jobs = max(500, self.submissions // 20)
        self.candidates = self.submissions // 2

    def describe(self) -> str:
        return (
            f"{self.recruiters:,} recruiters, 1 default calendar, {self.clients:,} clients, "
            f"{3 * self.clients:,} contacts, {self.jobs:,} jobs, {self.candidates:,} candidates, "
            f"{self.submissions:,} submissions/clocks, {3 * self.submissions:,} checks"
        )


def clock_starts(n: int, rng: random.Random) -> list[datetime]:
    """Clock starts in creation order: the DUE oldest in the due window, the rest after it."""
    due_span = int((DUE_TO - DUE_FROM) / timedelta(microseconds=1))
    later_span = int((T - DUE_TO) / timedelta(microseconds=1))
    due = sorted(DUE_FROM + timedelta(microseconds=rng.randrange(due_span + 1)) for _ in range(DUE))
    later = sorted(
        DUE_TO + timedelta(microseconds=1 + rng.randrange(later_span)) for _ in range(n - DUE)
    )
    return due + later


@dataclass(frozen=True, slots=True)
class Schedule:
    first: list[datetime]
    second: list[datetime]
    silence: list[datetime]
    first_breach: list[datetime]
    second_breach: list[datetime]
    silence_breach: list[datetime]


def schedule_for(starts: list[datetime], rng: random.Random) -> Schedule:
    """The checks ``start_clock`` places (``plan`` with the default policy), computed with the
    vectorised business-day path and cross-checked against ``plan`` on a sample."""
    policy = Policy()
    many = bt.add_business_days_many
    first = many(CALENDAR, starts, policy.first_check_days)
    second = many(CALENDAR, first, policy.second_check_days)
    silence = many(CALENDAR, first, policy.silence_days)
    result = Schedule(
        first=first,
        second=second,
        silence=silence,
        first_breach=many(CALENDAR, first, policy.breach_days),
        second_breach=many(CALENDAR, second, policy.breach_days),
        silence_breach=many(CALENDAR, silence, policy.breach_days),
    )
    for i in [*range(DUE - 5, DUE + 5), *rng.sample(range(len(starts)), 2_000)]:
        planned = plan(CALENDAR, policy, starts[i], None)
        ours = [
            (first[i], result.first_breach[i]),
            (second[i], result.second_breach[i]),
            (silence[i], result.silence_breach[i]),
        ]
        if [(p.due_at, p.breach_at) for p in planned] != ours:
            raise RuntimeError(f"schedule of submission {i + 1} differs from plan()")
    due_checks = sum(1 for t in first if t <= T) + sum(1 for t in second + silence if t <= T)
    due_first = sum(1 for t in first[:DUE] if t <= T)
    if due_checks != DUE or due_first != DUE:
        raise RuntimeError(f"data shape: {due_checks} checks due at T, wanted {DUE}")
    return result


async def copy(conn: asyncpg.Connection, table: str, columns: list[str], rows: Any) -> None:
    await conn.copy_records_to_table(table, records=rows, columns=columns)


async def load(target: Target, shape: Shape, seed: int) -> dict[str, float]:
    """Load the agency with COPY; returns the seconds each step took."""
    rng = random.Random(seed)
    steps: dict[str, float] = {}
    began = time.perf_counter()
    starts = clock_starts(shape.submissions, rng)
    sched = schedule_for(starts, rng)
    steps["generate + plan"] = time.perf_counter() - began

    n, r, c, j, k = (
        shape.submissions,
        shape.recruiters,
        shape.clients,
        shape.jobs,
        shape.candidates,
    )
    conn = await target.connect()
    try:
        began = time.perf_counter()
        # The rows are consistent by construction: skip the per-row foreign-key triggers while
        # loading (superuser only; the schema and its constraints are Alembic's, untouched).
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET synchronous_commit = off")
        at = LOADED_AT
        await copy(
            conn,
            "user",
            ["id", "created_at", "updated_at", "email", "name", "role", "time_zone", "active"],
            (
                (i, at, at, f"recruiter{i}@agency.test", f"Recruiter {i}", "recruiter", ZONE, True)
                for i in range(1, r + 1)
            ),
        )
        await conn.execute(
            "INSERT INTO calendar (id, created_at, updated_at, name, time_zone, weekdays, "
            "country, subdivision, closures, removed_holidays, opens, closes, is_default) "
            "VALUES (1, $1, $1, 'Agency (US, New York)', $2, $3::json, 'US', NULL, '[]', '[]', "
            "$4, $5, TRUE)",
            at,
            ZONE,
            json.dumps(sorted(CALENDAR.weekdays)),
            CALENDAR.opens,
            CALENDAR.closes,
        )
        await copy(
            conn,
            "client",
            [
                "id",
                "created_at",
                "updated_at",
                "name",
                "confidential",
                "allow_automated_nudges",
                "calendar_id",
            ],
            (
                (i, at, at, f"Client {i}", i % 10 == 0, i % 3 != 0, 1 if i % 2 else None)
                for i in range(1, c + 1)
            ),
        )

        def contacts() -> Iterator[tuple[Any, ...]]:
            roles = ("hiring_manager", "corporate_recruiter", "interviewer")
            for client in range(1, c + 1):
                for offset, role in enumerate(roles):
                    cid = 3 * client - 2 + offset
                    policy, no_chase = "open", False
                    if role == "hiring_manager":
                        kind = client % 20
                        policy = {0: "do_not_contact", 1: "recruiter_only"}.get(kind, "open")
                        no_chase = kind == 2
                    yield (
                        cid,
                        at,
                        at,
                        f"Contact {cid}",
                        f"contact{cid}@client{client}.test",
                        role,
                        CONTACT_ZONES[cid % len(CONTACT_ZONES)],
                        policy,
                        False,
                        no_chase,
                        client,
                    )

        await copy(
            conn,
            "contact",
            [
                "id",
                "created_at",
                "updated_at",
                "name",
                "email",
                "role",
                "time_zone",
                "contact_policy",
                "candidate_may_email_directly",
                "no_chase",
                "client_id",
            ],
            contacts(),
        )
        await copy(
            conn,
            "job",
            [
                "id",
                "created_at",
                "updated_at",
                "title",
                "status",
                "client_id",
                "primary_contact_id",
                "owner_id",
            ],
            (
                (
                    i,
                    at,
                    at,
                    f"Engineer {i}",
                    "open",
                    (i - 1) % c + 1,
                    None if i % 50 == 0 else 3 * ((i - 1) % c + 1) - 2,
                    rng.randrange(r) + 1,
                )
                for i in range(1, j + 1)
            ),
        )
        await copy(
            conn,
            "candidate",
            [
                "id",
                "created_at",
                "updated_at",
                "first_name",
                "last_name",
                "email",
                "time_zone",
                "status_emails_opt_out",
                "owner_id",
            ],
            (
                (
                    i,
                    at,
                    at,
                    "Alex",
                    f"Candidate{i}",
                    f"candidate{i}@mail.test",
                    CANDIDATE_ZONES[i % len(CANDIDATE_ZONES)],
                    i % 25 == 0,
                    (i - 1) % r + 1,
                )
                for i in range(1, k + 1)
            ),
        )
        steps["load records"] = time.perf_counter() - began

        # Each candidate is put forward twice, to two different jobs, one after the other.
        began = time.perf_counter()
        jobs: list[int] = []
        for _ in range(k):
            first_job = rng.randrange(j)
            jobs += [first_job + 1, (first_job + 1 + rng.randrange(j - 1)) % j + 1]
        await copy(
            conn,
            "submission",
            [
                "id",
                "created_at",
                "updated_at",
                "candidate_id",
                "job_id",
                "owner_id",
                "stage",
                "stage_changed_at",
                "submitted_at",
            ],
            (
                (
                    s + 1,
                    starts[s],
                    starts[s],
                    s // 2 + 1,
                    jobs[s],
                    (s // 2) % r + 1,
                    "submitted",
                    starts[s],
                    starts[s],
                )
                for s in range(n)
            ),
        )
        await copy(
            conn,
            "sla_clock",
            ["id", "submission_id", "stage", "started_at"],
            ((s + 1, s + 1, "submitted", starts[s]) for s in range(n)),
        )

        def checks() -> Iterator[tuple[Any, ...]]:
            for s in range(n):
                base = 3 * s
                yield (base + 1, s + 1, s + 1, "first", sched.first[s], sched.first_breach[s])
                yield (base + 2, s + 1, s + 1, "second", sched.second[s], sched.second_breach[s])
                yield (
                    base + 3,
                    s + 1,
                    s + 1,
                    "silence",
                    sched.silence[s],
                    sched.silence_breach[s],
                )

        columns = ["id", "clock_id", "submission_id", "kind", "due_at", "breach_at"]
        await copy(
            conn,
            "sla_check",
            [*columns, "state", "claims"],
            ((*row, "scheduled", 0) for row in checks()),
        )
        steps["load submissions, clocks, checks"] = time.perf_counter() - began

        began = time.perf_counter()
        await conn.execute("SET session_replication_role = origin")
        for table in ("user", "calendar", "client", "contact", "job", "candidate"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{quote_ident(table)}', 'id'), "  # noqa: S608 - fixed table names
                f"(SELECT max(id) FROM {quote_ident(table)}))"
            )
        for table in ("submission", "sla_clock", "sla_check"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed table names
                f"(SELECT max(id) FROM {table}))"
            )
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
        steps["vacuum analyze + checkpoint"] = time.perf_counter() - began
    finally:
        await conn.close()
    return steps


async def rebuild(target: Target) -> None:
    admin = await target.connect("postgres")
    try:
        name = quote_ident(target.database)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    await asyncio.to_thread(run_migrations, target.url)


# --- resetting and verifying --------------------------------------------------------------------


async def reset(conn: asyncpg.Connection) -> None:
    """Back to the loaded state: the fired checks scheduled again, their tasks, events and
    messages (the candidates' status updates and the clients' nudges) gone."""
    async with conn.transaction():
        # The load writes no messages, nor anything that refers to one. (DELETE would check
        # message.digest_id, which has no index, once per deleted row: minutes at 1M.)
        await conn.execute("TRUNCATE message CASCADE")
        await conn.execute("DELETE FROM event WHERE action = 'sla.check_fired'")
        await conn.execute("DELETE FROM task WHERE check_id IS NOT NULL")
        await conn.execute(
            "UPDATE sla_check SET state = 'scheduled', fired_at = NULL, claim_token = NULL, "
            "claim_expires_at = NULL, claims = 0 WHERE state <> 'scheduled'"
        )
    await conn.execute("VACUUM ANALYZE sla_check, task, event, message")
    await conn.execute("CHECKPOINT")


async def verify(
    conn: asyncpg.Connection, same_rows: tuple[int, int] | None = None
) -> tuple[bool, str, tuple[int, int]]:
    """Every due check fired once, with a task, an event and a status message each, none left
    claimed. Also answers (nudges, tasks naming a contact); with ``same_rows`` (the same-rows
    baseline's pair) those must match it too."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM sla_check WHERE state = 'fired') AS fired, "
        "(SELECT count(*) FROM sla_check WHERE state = 'fired' AND due_at <= $1) AS fired_due, "
        "(SELECT count(*) FROM sla_check WHERE state = 'claimed') AS claimed, "
        "(SELECT count(*) FROM task WHERE check_id IS NOT NULL) AS tasks, "
        "(SELECT count(DISTINCT check_id) FROM task) AS task_checks, "
        "(SELECT count(*) FROM task WHERE check_id IS NOT NULL AND contact_id IS NOT NULL) "
        "AS named, "
        "(SELECT count(*) FROM event WHERE action = 'sla.check_fired') AS events, "
        "(SELECT count(*) FROM message WHERE kind = 'no_news') AS updates, "
        "(SELECT count(*) FROM message WHERE kind = 'client_nudge') AS nudges",
        T,
    )
    if row is None:
        raise RuntimeError("verification query returned nothing")
    extra = (int(row["nudges"]), int(row["named"]))
    ok = (
        row["fired"] == row["fired_due"] == row["tasks"] == row["task_checks"] == DUE
        and row["events"] == row["updates"] == DUE
        and row["claimed"] == 0
        and (same_rows is None or extra == same_rows)
    )
    detail = (
        f"fired={row['fired']:,} tasks={row['tasks']:,} events={row['events']:,} "
        f"updates={row['updates']:,} nudges={row['nudges']:,} named={row['named']:,} "
        f"claimed={row['claimed']:,}"
    )
    return ok, detail, extra


# --- timings ------------------------------------------------------------------------------------


#: The job's primary contact of a fired check's submission, where a chase may name them (not
#: ``do_not_contact``, not ``no_chase``; R-CP-2/3) and where the client may be nudged (``open``
#: and nudges allowed): the facts the sweep's rows carry beyond issue 3's baseline.
_CONTACT_FACTS = (
    ", (SELECT ct.id FROM submission s JOIN job j ON j.id = s.job_id "
    "JOIN contact ct ON ct.id = j.primary_contact_id WHERE s.id = submission_id "
    "AND ct.contact_policy <> 'do_not_contact' AND NOT ct.no_chase) AS chased_id"
    ", (SELECT ct.id FROM submission s JOIN job j ON j.id = s.job_id "
    "JOIN client cl ON cl.id = j.client_id JOIN contact ct ON ct.id = j.primary_contact_id "
    "WHERE s.id = submission_id AND cl.allow_automated_nudges AND ct.contact_policy = 'open' "
    "AND NOT ct.no_chase) AS nudged_id"
)


_FIRE_RETURNING = (
    "UPDATE sla_check SET state = 'fired', fired_at = $1 "
    "WHERE state = 'scheduled' AND due_at <= $1 "
    "RETURNING id, kind, due_at, breach_at, submission_id, "
    "(SELECT candidate_id FROM submission WHERE id = submission_id) AS candidate_id"
)
_FIRE = _FIRE_RETURNING + ", NULL::int AS chased_id, NULL::int AS nudged_id"
_FIRE_SAME_ROWS = _FIRE_RETURNING + _CONTACT_FACTS


async def baseline(conn: asyncpg.Connection, *, same_rows: bool = False) -> float:
    """The minimum database work for the same checks: fire, tasks, events, status messages,
    one commit (issue 3's baseline). ``same_rows`` writes every row the sweep writes (issue 14):
    each chase task names its contact where it may, and the client nudges go in with the
    status messages (two more foreign keys checked per task with a contact, three per nudge)."""
    began = time.perf_counter()
    async with conn.transaction():
        # No join in the UPDATE: joined to submission there, the planner hashes the whole
        # submission table (a seq scan of 1,000,000 rows); the owner is looked up per row instead.
        fired = await conn.fetch(_FIRE_SAME_ROWS if same_rows else _FIRE, T)
        inserted = await conn.fetch(
            "INSERT INTO task (created_at, updated_at, kind, state, assignee_id, submission_id, "
            "check_id, contact_id, title, detail, due_at, breach_at) "
            "SELECT $1, $1, 'chase', 'open', (SELECT owner_id FROM submission WHERE id = u.s), "
            "u.s, u.c, u.ct, 'Chase the client on submission ' || u.s, $2, u.d, u.b "
            "FROM unnest($3::int[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::int[]) "
            "AS u(s, c, d, b, ct) RETURNING id, check_id",
            T,
            CHASE_DETAIL,
            [r["submission_id"] for r in fired],
            [r["id"] for r in fired],
            [r["due_at"] for r in fired],
            [r["breach_at"] for r in fired],
            [r["chased_id"] for r in fired],
        )
        task_of = {r["check_id"]: r["id"] for r in inserted}
        await conn.copy_records_to_table(
            "event",
            columns=["occurred_at", "actor_type", "action", "record_type", "record_id", "data"],
            records=[
                (
                    T,
                    "system",
                    "sla.check_fired",
                    "submission",
                    r["submission_id"],
                    json.dumps(
                        {
                            "check_id": r["id"],
                            "kind": r["kind"],
                            "due_at": r["due_at"].isoformat(),
                            "task_id": task_of.get(r["id"]),
                        }
                    ),
                )
                for r in fired
            ],
        )
        # The candidate's status update per check (issue 4), the third row the sweep writes.
        statuses = [
            (
                "no_news",
                "candidate",
                r["candidate_id"],
                r["submission_id"],
                None,
                f"{r['kind']} check",
                True,
                r["due_at"],
                r["due_at"],
                "pending",
                0,
                r["due_at"],
                r["due_at"],
            )
            for r in fired
        ]
        nudges = [
            (
                "client_nudge",
                "contact",
                r["candidate_id"],
                r["submission_id"],
                r["nudged_id"],
                "chase check: decision nudge",
                True,
                r["due_at"],
                r["due_at"],
                "pending",
                0,
                T,
                T,
            )
            for r in fired
            if r["nudged_id"] is not None and r["kind"] != "silence"
        ]
        await conn.copy_records_to_table(
            "message", columns=list(MESSAGE_COLUMNS), records=statuses + nudges
        )
    return time.perf_counter() - began


MESSAGE_COLUMNS = (
    "kind",
    "audience",
    "candidate_id",
    "submission_id",
    "contact_id",
    "reason",
    "automated",
    "due_at",
    "send_at",
    "state",
    "attempts",
    "created_at",
    "updated_at",
)


def summary(values: list[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def median_p95(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=100, method="inclusive")[94]


async def time_calls(call: Callable[[], Awaitable[object]], repeats: int) -> list[float]:
    out: list[float] = []
    for _ in range(repeats):
        began = time.perf_counter()
        await call()
        out.append(time.perf_counter() - began)
    return out


@dataclass(slots=True)
class SizeResult:
    n: int
    baseline: tuple[float, float] = (0.0, 0.0)
    same_rows: tuple[float, float] = (0.0, 0.0)
    sweep: dict[int, tuple[float, float]] = field(default_factory=dict)
    ok: dict[int, bool] = field(default_factory=dict)


async def run_size(target: Target, n: int, repeats: int, seed: int) -> SizeResult:
    shape = Shape(n)
    print()
    print(f"=== N = {n:,} active submissions ===")
    print(f"data: {shape.describe()}; {DUE:,} first checks due at T = {T.isoformat()}")
    began = time.perf_counter()
    await rebuild(target)
    migrate_s = time.perf_counter() - began
    steps = await load(target, shape, seed)
    timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())
    print(
        f"built in {migrate_s + sum(steps.values()):.1f} s (migrate {migrate_s:.1f} s, {timings})"
    )

    result = SizeResult(n)
    conn = await target.connect()
    engine = make_engine(target.url)
    sessionmaker = make_sessionmaker(engine)
    try:
        pending = await conn.fetchval("SELECT count(*) FROM sla_check WHERE state = 'scheduled'")
        due = await conn.fetchval(
            "SELECT count(*) FROM sla_check WHERE state = 'scheduled' AND due_at <= $1", T
        )
        print(f"pending checks {pending:,}, due at T {due:,}")

        # Warm up outside the timings: connections, statement caches, the calendar's day table.
        await sweep.run_due(sessionmaker, now=T, batch=100, max_batches=1)
        await baseline(conn)
        await reset(conn)

        print()
        print(
            f"{'firing 10,000 due checks':<38}{'best s':>9}{'median s':>10}{'checks/s':>11}"
            f"{'x base':>8}  check"
        )
        base_runs: list[float] = []
        same_runs: list[float] = []
        base_ok = True
        same_rows: tuple[int, int] | None = None
        for _ in range(repeats):  # interleaved, so both baselines see the same machine
            base_runs.append(await baseline(conn))
            ok, _detail, _rows = await verify(conn)
            base_ok = base_ok and ok
            await reset(conn)
            same_runs.append(await baseline(conn, same_rows=True))
            ok, same_detail, rows = await verify(conn, same_rows)
            base_ok = base_ok and ok
            same_rows = rows
            await reset(conn)
        result.baseline = summary(base_runs)
        result.same_rows = summary(same_runs)
        best, median = result.baseline
        print(
            f"{'baseline (plain asyncpg, 1 txn)':<38}{best:>9.3f}{median:>10.3f}"
            f"{DUE / median:>11,.0f}{1.0:>8.2f}  {'OK' if base_ok else 'MISMATCH'}"
        )
        best, median = result.same_rows
        print(
            f"{'same-rows baseline (+ nudges, contacts)':<38}{best:>9.3f}{median:>10.3f}"
            f"{DUE / median:>11,.0f}{median / result.baseline[1]:>8.2f}  ({same_detail})"
        )
        for batch in BATCHES:
            runs: list[float] = []
            all_ok = True
            details = ""
            for rep in range(repeats):
                began = time.perf_counter()
                swept = await sweep.run_due(sessionmaker, now=T, batch=batch)
                runs.append(time.perf_counter() - began)
                ok, details, _rows = await verify(conn, same_rows)
                all_ok = all_ok and ok and swept.fired == swept.claimed == DUE
                if rep < repeats - 1 or batch != BATCHES[-1]:
                    await reset(conn)
            result.sweep[batch] = summary(runs)
            result.ok[batch] = all_ok
            best, median = result.sweep[batch]
            print(
                f"{f'run_due(batch={batch})':<38}{best:>9.3f}{median:>10.3f}"
                f"{DUE / median:>11,.0f}{median / result.baseline[1]:>8.2f}  "
                f"{median / result.same_rows[1]:.2f}x same-rows  "
                f"{'OK' if all_ok else 'MISMATCH'} ({details})"
            )

        await idle_poll(target, conn, engine, sessionmaker)
    finally:
        await engine.dispose()
        await conn.close()
    return result


def sql_literal(value: Any) -> str:
    """A literal for EXECUTE's arguments (which take no bind parameters)."""
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


async def captured_has_due_sql(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[str, tuple[Any, ...]]:
    """The exact SQL and parameters ``has_due`` sends, to replay it under a generic plan."""
    seen: list[tuple[str, tuple[Any, ...]]] = []

    def capture(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if "sla_check" in statement:
            seen.append((statement, tuple(parameters)))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with sessionmaker() as session:
            await sweep.has_due(session, now=T)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    return seen[0]


async def idle_poll(
    target: Target,
    conn: asyncpg.Connection,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Everything due is fired; the worker polls and finds nothing."""

    async def probe_raw() -> None:
        await conn.fetchval(DUE_PROBE, T)

    async def probe_has_due() -> None:
        async with sessionmaker() as session:
            await sweep.has_due(session, now=T)

    async def probe_run_due() -> None:
        await sweep.run_due(sessionmaker, now=T)

    found = await conn.fetchval(DUE_PROBE, T)
    async with sessionmaker() as session:
        has = await sweep.has_due(session, now=T)
    rows: list[tuple[str, tuple[float, float]]] = []
    for label, probe in [
        ("baseline (asyncpg probe, autocommit)", probe_raw),
        ("has_due (new session + probe)", probe_has_due),
        ("run_due finding nothing", probe_run_due),
    ]:
        await time_calls(probe, IDLE_WARMUP)
        rows.append((label, median_p95(await time_calls(probe, IDLE_REPEATS))))

    # A prepared statement (asyncpg caches them) may switch to a generic plan, one made without
    # knowing the instant: replay has_due's own SQL under one, and show the plan it gets.
    statement, parameters = await captured_has_due_sql(engine, sessionmaker)
    generic = await target.connect()
    try:
        await generic.execute("SET plan_cache_mode = force_generic_plan")
        prepared = await generic.prepare(statement)
        await prepared.fetchval(*parameters)

        async def probe_generic() -> None:
            await prepared.fetchval(*parameters)

        rows.append(
            (
                "has_due SQL, generic plan",
                median_p95(await time_calls(probe_generic, GENERIC_REPEATS)),
            )
        )
        await generic.execute(f"PREPARE has_due_probe AS {statement}")
        literals = ", ".join(sql_literal(p) for p in parameters)
        plan = await generic.fetch(f"EXPLAIN (COSTS OFF) EXECUTE has_due_probe({literals})")
        scan = next((str(r[0]).strip("-> ").strip() for r in plan if "Scan" in r[0]), "?")
    finally:
        await generic.close()

    print()
    print(
        f"{f'idle poll, {IDLE_REPEATS} calls':<38}{'median ms':>10}{'p95 ms':>9}{'x base':>8}"
        f"  (due found: raw {found is not None}, has_due {has})"
    )
    base = rows[0][1][0]
    for label, (med, p95) in rows:
        print(f"{label:<38}{med * 1e3:>10.3f}{p95 * 1e3:>9.3f}{med / base:>8.1f}")
    print(f"  (generic plan of has_due's SQL, {GENERIC_REPEATS} calls: {scan})")


async def main_async(target: Target, sizes: tuple[int, ...], repeats: int, seed: int) -> None:
    admin = await target.connect("postgres")
    try:
        await print_machine(admin)
    finally:
        await admin.close()
    print(
        f"sweep bench: {DUE:,} due checks, batches {', '.join(map(str, BATCHES))}, "
        f"{repeats} runs each (best and median), database {target.database} (recreated)"
    )
    results = [await run_size(target, n, repeats, seed) for n in sizes]

    print()
    print("=== summary (medians) ===")
    largest = results[-1]
    for batch in BATCHES:
        if not all(batch in r.sweep for r in results):
            continue
        line = ", ".join(
            f"N={r.n:,}: {r.sweep[batch][1]:.3f} s ({r.sweep[batch][1] / r.baseline[1]:.1f}x "
            "baseline)"
            for r in results
        )
        print(f"batch {batch}: {line}")
        seconds = largest.sweep[batch][1]
        same = seconds / largest.same_rows[1]
        verdict = "MET" if same <= TARGET_SAME_ROWS else "NOT met"
        print(
            f"  with {largest.n:,} active: {same:.2f}x the same-rows baseline: {verdict} "
            f"(issue 14: at most {TARGET_SAME_ROWS:g}x)"
        )
        verdict = "MET" if seconds < TARGET_SECONDS else "NOT met"
        print(
            f"  10,000 due checks fired with {largest.n:,} active in {seconds:.3f} s: "
            f"{verdict} (target < {TARGET_SECONDS:g} s)"
        )
        if len(results) > 1:
            ratio = largest.sweep[batch][1] / results[0].sweep[batch][1]
            verdict = "MET" if ratio <= TARGET_SCALING else "NOT met"
            print(
                f"  {largest.n:,} vs {results[0].n:,}: {ratio:.2f}x: {verdict} "
                f"(target <= {TARGET_SCALING:g}x)"
            )
    if len(results) > 1:
        base_ratio = largest.baseline[1] / results[0].baseline[1]
        print(f"baseline {largest.n:,} vs {results[0].n:,}: {base_ratio:.2f}x")
    checks_ok = all(all(r.ok.values()) for r in results)
    print(f"verification: {'OK' if checks_ok else 'MISMATCH'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated")
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="comma-separated active submission counts (default: %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing")
    parser.add_argument("--seed", type=int, default=20261208)
    args = parser.parse_args()
    sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(","))
    if any(n <= DUE for n in sizes):
        raise SystemExit(f"every size must exceed the {DUE:,} due checks")
    started = time.perf_counter()
    asyncio.run(main_async(Target.parse(args.database_url), sizes, args.repeats, args.seed))
    print(f"total bench time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
