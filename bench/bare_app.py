"""The baseline of ``bench/api.py``: bare Starlette + asyncpg doing the same reads and writes.

Not part of Candor: the same five operations the bench drives, written the shortest honest way,
so that Candor's figures can be read as a ratio to what a framework and a driver allow on this
machine. It does the same work, row for row:

* **auth**: ``Authorization: Bearer`` hashed with HMAC-SHA256 and looked up in memory (the keys
  are read once at start; Candor's cache does the same for its TTL), 401 otherwise;
* **GET one submission**: one ``SELECT`` by id, the same JSON (with ``allowed_moves``);
* **lists**: 50 rows in id order, or in ``(updated_at, id)`` order from ``updated_since`` with
  a stage filter, one ``SELECT … LIMIT 51``, the same page envelope;
* **stage move**: in one transaction, the rows Candor writes for the same move: the submission
  read and conditionally updated (``RETURNING``), a ``stage_move`` and an ``event``, the running
  clock stopped with its pending cadence checks cancelled, open promises read and chase/decide
  tasks cancelled, or, entering ``interviewed``, the stated decision date, the client's calendar
  and the policy read and a clock with its three checks (``app.sla.service.plan``) written, then
  the pending status message superseded and the new one queued;
* **candidate create**: the owner checked, one ``INSERT … RETURNING`` and its ``event``.

Run by ``bench/api.py`` as ``uvicorn bare_app:app`` with the same server options as
``candor serve``; it reads ``CANDOR_DATABASE_URL`` and ``CANDOR_SECRET_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs in the dev extras
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.calendar.business_time import Calendar as BusinessCalendar
from app.messaging.outbox import STATUS_KIND_VALUES
from app.sla.models import Policy
from app.sla.service import plan
from app.submissions import states
from app.submissions.states import Stage

POOL_SIZE = int(os.environ.get("BARE_POOL_SIZE", "20"))
SUBMISSION_COLUMNS = (
    "id, created_at, updated_at, external_id, candidate_id, job_id, owner_id, stage, "
    "stage_changed_at, submitted_at"
)
STAGE_MESSAGES = {
    "submitted": "submitted",
    "interview_scheduled": "interview_scheduled",
    "interviewed": "interview_held",
    "offer": "offer",
    "rejected": "rejected",
    "closed": "closed",
}
WAITING = {"submitted", "interviewed"}
NOT_NUMBERS = ("id", "updated_at", "auto_close_on_silence")
POLICY_COLUMNS = ", ".join(name for name in Policy.model_fields if name not in NOT_NUMBERS)


def instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def submission_json(row: asyncpg.Record) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    for name in ("created_at", "updated_at", "stage_changed_at", "submitted_at"):
        out[name] = instant(out[name])
    out["allowed_moves"] = [s.value for s in states.allowed_moves(Stage(row["stage"]))]
    return out


def problem(status: int, title: str, detail: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json")


class Keys:
    """HMAC(secret, key) → (actor type, actor id), read once when the app starts."""

    def __init__(self) -> None:
        self.secret = os.environ["CANDOR_SECRET_KEY"].encode()
        self.by_hash: dict[str, tuple[str, int]] = {}

    async def load(self, pool: asyncpg.Pool) -> None:
        rows = await pool.fetch(
            "SELECT key_hash, api_client_id, user_id FROM api_key WHERE revoked_at IS NULL"
        )
        for row in rows:
            if row["api_client_id"] is not None:
                self.by_hash[row["key_hash"]] = ("api_client", row["api_client_id"])
            else:
                self.by_hash[row["key_hash"]] = ("user", row["user_id"])

    def actor(self, request: Request) -> tuple[str, int] | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        digest = hmac.new(self.secret, header[7:].encode(), hashlib.sha256).hexdigest()
        return self.by_hash.get(digest)


KEYS = Keys()
STATE: dict[str, asyncpg.Pool] = {}


def pool() -> asyncpg.Pool:
    return STATE["pool"]


def unauthorized() -> Response:
    return problem(401, "Unauthorized", "The API key is unknown or has been revoked.")


async def get_submission(request: Request) -> Response:
    if KEYS.actor(request) is None:
        return unauthorized()
    row = await pool().fetchrow(
        f"SELECT {SUBMISSION_COLUMNS} FROM submission WHERE id = $1",  # noqa: S608 - constant
        int(request.path_params["id"]),
    )
    if row is None:
        return problem(404, "Not Found", "No such submission.")
    return JSONResponse(submission_json(row))


async def list_submissions(request: Request) -> Response:
    if KEYS.actor(request) is None:
        return unauthorized()
    limit = int(request.query_params.get("limit", "50"))
    since = request.query_params.get("updated_since")
    stage = request.query_params.get("stage")
    if since is None:
        rows = await pool().fetch(
            f"SELECT {SUBMISSION_COLUMNS} FROM submission "  # noqa: S608 - constant
            "WHERE ($1::text IS NULL OR stage = $1) ORDER BY id LIMIT $2",
            stage,
            limit + 1,
        )
    else:
        rows = await pool().fetch(
            f"SELECT {SUBMISSION_COLUMNS} FROM submission "  # noqa: S608 - constant
            "WHERE updated_at >= $1 AND ($2::text IS NULL OR stage = $2) "
            "ORDER BY updated_at, id LIMIT $3",
            datetime.fromisoformat(since),
            stage,
            limit + 1,
        )
    items = [submission_json(r) for r in rows[:limit]]
    more = len(rows) > limit
    cursor = f"{rows[limit - 1]['id']}" if more else None
    return JSONResponse({"items": items, "limit": limit, "next_cursor": cursor})


async def calendar_of_job(conn: asyncpg.Connection, job_id: int) -> BusinessCalendar:
    """The client's calendar, else the agency default: one query."""
    row = await conn.fetchrow(
        "SELECT c.time_zone, c.weekdays, c.country, c.subdivision, c.closures, "
        "c.removed_holidays, c.opens, c.closes FROM calendar c "
        "WHERE c.id = (SELECT client.calendar_id FROM job JOIN client ON client.id = job.client_id "
        "WHERE job.id = $1) OR c.is_default ORDER BY c.is_default LIMIT 1",
        job_id,
    )
    if row is None:
        return BusinessCalendar(time_zone="UTC")
    return BusinessCalendar(
        time_zone=row["time_zone"],
        weekdays=frozenset(json.loads(row["weekdays"])),
        country=row["country"],
        subdivision=row["subdivision"],
        closures=frozenset(date.fromisoformat(d) for d in json.loads(row["closures"])),
        removed_holidays=frozenset(
            date.fromisoformat(d) for d in json.loads(row["removed_holidays"])
        ),
        opens=row["opens"] if isinstance(row["opens"], time) else time.fromisoformat(row["opens"]),
        closes=row["closes"]
        if isinstance(row["closes"], time)
        else time.fromisoformat(row["closes"]),
    )


async def move_submission(request: Request) -> Response:
    actor = KEYS.actor(request)
    if actor is None:
        return unauthorized()
    submission_id = int(request.path_params["id"])
    to_stage = Stage((await request.json())["to_stage"])
    now = datetime.now(UTC)
    async with pool().acquire() as conn, conn.transaction():
        current = await conn.fetchrow(
            "SELECT stage, stage_changed_at, candidate_id, job_id FROM submission WHERE id = $1",
            submission_id,
        )
        if current is None:
            return problem(404, "Not Found", "No such submission.")
        from_stage = Stage(current["stage"])
        if not states.can_move(from_stage, to_stage):
            return problem(409, "Conflict", f"Cannot move from {from_stage} to {to_stage}.")
        row = await conn.fetchrow(
            "UPDATE submission SET stage = $2, stage_changed_at = $3, updated_at = $3 "  # noqa: S608
            f"WHERE id = $1 AND stage = $4 RETURNING {SUBMISSION_COLUMNS}",
            submission_id,
            to_stage.value,
            now,
            from_stage.value,
        )
        if row is None:
            return problem(409, "Conflict", "The submission changed stage meanwhile.")
        await conn.execute(
            "INSERT INTO stage_move (submission_id, from_stage, to_stage, occurred_at, "
            "recorded_at, actor_type, actor_id) VALUES ($1, $2, $3, $4, $4, $5, $6)",
            submission_id,
            from_stage.value,
            to_stage.value,
            now,
            *actor,
        )
        data = {"from": from_stage.value, "to": to_stage.value, "occurred_at": now.isoformat()}
        await conn.execute(
            "INSERT INTO event (occurred_at, actor_type, actor_id, action, record_type, "
            "record_id, data) VALUES ($1, $2, $3, 'submission.stage_changed', 'submission', $4, "
            "$5::json)",
            now,
            *actor,
            submission_id,
            json.dumps(data),
        )
        reason = f"moved to {to_stage.value}"
        stopped = await conn.fetchval(
            "UPDATE sla_clock SET stopped_at = $2, stop_reason = $3 "
            "WHERE submission_id = $1 AND stopped_at IS NULL RETURNING id",
            submission_id,
            now,
            reason,
        )
        if stopped is not None:
            await conn.execute(
                "UPDATE sla_check SET state = 'cancelled', claim_token = NULL "
                "WHERE submission_id = $1 AND state IN ('scheduled', 'claimed') "
                "AND kind <> 'promise'",
                submission_id,
            )
            await conn.fetch(
                "SELECT promise.promised_date, candidate.time_zone FROM promise "
                "JOIN submission ON submission.id = promise.submission_id "
                "JOIN candidate ON candidate.id = submission.candidate_id "
                "WHERE promise.submission_id = $1 AND promise.state = 'open'",
                submission_id,
            )
            await conn.execute(
                "UPDATE task SET updated_at = $2, state = 'cancelled', resolution = $3 "
                "WHERE submission_id = $1 AND state = 'open' AND kind IN ('chase', 'decide')",
                submission_id,
                now,
                reason,
            )
        if to_stage.value in WAITING:
            decision = None
            if to_stage is Stage.interviewed:
                decision = await conn.fetchval(
                    "SELECT stated_decision_date FROM interview WHERE submission_id = $1 "
                    "AND stated_decision_date IS NOT NULL AND status <> 'cancelled' "
                    "ORDER BY starts_at DESC LIMIT 1",
                    submission_id,
                )
            cal = await calendar_of_job(conn, current["job_id"])
            numbers = await conn.fetchrow(
                f"SELECT {POLICY_COLUMNS} FROM policy WHERE id = 1"  # noqa: S608 - constant
            )
            policy = Policy(**dict(numbers)) if numbers is not None else Policy()
            clock_id = await conn.fetchval(
                "INSERT INTO sla_clock (submission_id, stage, started_at, decision_date) "
                "VALUES ($1, $2, $3, $4) RETURNING id",
                submission_id,
                to_stage.value,
                now,
                decision,
            )
            checks = plan(cal, policy, now, decision)
            await conn.execute(
                "INSERT INTO sla_check (clock_id, submission_id, kind, due_at, breach_at, state, "
                "claims) SELECT $1, $2, k, d, b, 'scheduled', 0 "
                "FROM unnest($3::text[], $4::timestamptz[], $5::timestamptz[]) AS t(k, d, b)",
                clock_id,
                submission_id,
                [c.kind.value for c in checks],
                [c.due_at for c in checks],
                [c.breach_at for c in checks],
            )
        kind = STAGE_MESSAGES.get(to_stage.value)
        if kind is not None:
            await conn.execute(
                "UPDATE message SET state = 'superseded' WHERE submission_id = $1 "
                "AND state = 'pending' AND audience = 'candidate' AND kind = ANY($2::text[])",
                submission_id,
                STATUS_KIND_VALUES,
            )
            await conn.execute(
                "INSERT INTO message (created_at, updated_at, kind, audience, candidate_id, "
                "submission_id, reason, automated, due_at, send_at, state, attempts) "
                "VALUES ($1, $1, $2, 'candidate', $3, $4, $5, true, $1, $1, 'pending', 0)",
                now,
                kind,
                current["candidate_id"],
                submission_id,
                reason,
            )
    return JSONResponse(submission_json(row))


async def create_candidate(request: Request) -> Response:
    actor = KEYS.actor(request)
    if actor is None:
        return unauthorized()
    body = await request.json()
    now = datetime.now(UTC)
    async with pool().acquire() as conn, conn.transaction():
        owner = await conn.fetchval(
            "SELECT id FROM \"user\" WHERE id = $1 AND active AND role = 'recruiter'",
            body["owner_id"],
        )
        if owner is None:
            return problem(422, "Unprocessable Content", "body.owner_id: no such recruiter")
        row = await conn.fetchrow(
            "INSERT INTO candidate (created_at, updated_at, first_name, last_name, email, phone, "
            "time_zone, status_emails_opt_out, external_id, owner_id) "
            "VALUES ($1, $1, $2, $3, $4, $5, $6, false, $7, $8) RETURNING *",
            now,
            body["first_name"],
            body["last_name"],
            body["email"],
            body.get("phone"),
            body.get("time_zone", "UTC"),
            body.get("external_id"),
            owner,
        )
        await conn.execute(
            "INSERT INTO event (occurred_at, actor_type, actor_id, action, record_type, "
            "record_id, data) VALUES ($1, $2, $3, 'candidate.created', 'candidate', $4, '{}')",
            now,
            *actor,
            row["id"],
        )
    out = dict(row)
    out["created_at"] = instant(out["created_at"])
    out["updated_at"] = instant(out["updated_at"])
    return JSONResponse(out, status_code=201)


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    url = os.environ["CANDOR_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    STATE["pool"] = await asyncpg.create_pool(url, min_size=POOL_SIZE, max_size=POOL_SIZE)
    await KEYS.load(STATE["pool"])
    yield
    await STATE["pool"].close()


app = Starlette(
    routes=[
        Route("/v1/submissions/{id:int}", get_submission),
        Route("/v1/submissions", list_submissions),
        Route("/v1/submissions/{id:int}/moves", move_submission, methods=["POST"]),
        Route("/v1/candidates", create_candidate, methods=["POST"]),
    ],
    lifespan=lifespan,
)
