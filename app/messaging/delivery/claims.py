"""Claims on due messages, and the set-based statements a chunk writes with.

A drain claims due rows under a lease (``claim``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the
single writer on SQLite), keeps each recipient's messages in one chunk (``chunks``), and in the
chunk's own transaction takes back only what it still holds (``take``, fenced on its claim
token): a worker whose lease was taken over writes nothing. What the chunk decided is written
set-wise (``save``): a chunk's database work is about ten statements whatever its size (decision
record 0008). Claims that are never saved expire and are taken up again, so a worker that dies
loses nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import bulk
from app.core.prepared import Prepared
from app.messaging.models import (
    Audience,
    Message,
    MessageState,
)

#: Recipients' due messages a drain claims per batch, and how long its claim holds.
DEFAULT_BATCH = 200
DEFAULT_LEASE = timedelta(minutes=5)


#: ix_message_pending_send's predicate as a literal, so a plan PostgreSQL caches for the claim
#: can use that partial index (with the states as bound values a generic plan cannot prove the
#: predicate and scans every message ever sent).
_PENDING_OR_SENDING = text("message.state IN ('pending', 'sending')")


def _due(table: Any, audience: Audience) -> Any:
    return and_(
        _PENDING_OR_SENDING,
        table.c.send_at <= bindparam("b_now"),
        table.c.audience == audience.value,
        or_(
            table.c.state == MessageState.pending.value,
            table.c.claim_expires_at <= bindparam("b_now"),
        ),
    )


def _recipient(table: Any, audience: Audience) -> Any:
    return table.c.candidate_id if audience == Audience.candidate else table.c.contact_id


def _take_up(table: Any, audience: Audience, ids: Any) -> Any:
    return (
        update(table)
        .where(table.c.id.in_(ids.scalar_subquery()))
        .values(
            state=MessageState.sending.value,
            claim_token=bindparam("b_token"),
            claim_expires_at=bindparam("b_expires"),
        )
        .returning(table.c.id, _recipient(table, audience))
    )


@cache
def _claim_statements(audience: Audience, postgresql: bool) -> tuple[Any, Any]:
    """The two claim statements of an audience, built once (parameters bound per call): the
    due messages, oldest first, and the other due messages of the same recipients."""
    table = _messages()
    due = (
        select(table.c.id)
        .where(_due(table, audience))
        .order_by(table.c.send_at)
        .limit(bindparam("b_limit"))
        .with_for_update(skip_locked=True)
    )
    rest = (
        select(table.c.id)
        .where(
            table.c.state == MessageState.pending.value,
            table.c.audience == audience.value,
            table.c.due_at <= bindparam("b_now"),
            bulk.one_of(_recipient(table, audience), "b_people", postgresql=postgresql),
        )
        .with_for_update(skip_locked=True)
    )
    return _take_up(table, audience, due), _take_up(table, audience, rest)


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    token: str,
    audience: Audience = Audience.candidate,
) -> list[tuple[int, int]]:
    """Take up to ``limit`` due messages to one audience (candidates or client contacts), and
    every other due message of the same recipients. Answers ``(message id, recipient id)``
    pairs: the candidate's, or the contact's, so the caller can keep one person's messages
    together (they may go as one digest)."""
    connection = await session.connection()
    first, rest = _claim_statements(audience, connection.dialect.name == "postgresql")
    values = {"b_now": now, "b_token": token, "b_expires": now + lease}
    taken = await connection.execute(first, values | {"b_limit": limit})
    claimed = [(message_id or 0, who or 0) for message_id, who in taken.tuples().all()]
    people = sorted({who for _, who in claimed})
    if people:
        # The rest of these people's due messages too: one person's day goes as one email
        # (R-CAND-4), never split by the batch limit into an email today and one tomorrow.
        # Held ones that already fell due come too: if one of them goes now, the rest of
        # today's go with it (``process`` folds them in) instead of at the slot.
        more = await connection.execute(rest, values | {"b_people": people})
        claimed += [(message_id or 0, who or 0) for message_id, who in more.tuples().all()]
    return claimed


def chunks(claimed: list[tuple[int, int]], size: int) -> list[list[int]]:
    """The claimed ids in chunks of at most ``size`` recipients, each recipient's messages in
    one chunk (they may go as one digest)."""
    by_recipient: dict[int, list[int]] = defaultdict(list)
    for message_id, who in claimed:
        by_recipient[who].append(message_id)
    groups = list(by_recipient.values())
    return [
        [i for group in groups[start : start + size] for i in group]
        for start in range(0, len(groups), size)
    ]


#: What the drain reads of a claimed message (``take``).
_TAKEN = (
    "id",
    "kind",
    "candidate_id",
    "submission_id",
    "contact_id",
    "interview_id",
    "note_id",
    "detail",
    "automated",
    "due_at",
    "attempts",
)


@dataclass(eq=False, slots=True)
class Taken:
    """A claimed message as a plain row (no ORM object, no identity map): what the drain reads,
    and in ``changes`` the columns it decided to write, saved set-wise by :func:`save`."""

    id: int
    kind: str
    candidate_id: int | None
    submission_id: int | None
    contact_id: int | None
    interview_id: int | None
    note_id: int | None
    detail: str | None
    automated: bool
    due_at: datetime
    attempts: int
    state: str = MessageState.sending.value
    failure_reason: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)

    def set(self, **values: Any) -> None:
        """Record new column values (``state``, ``attempts``, ``failure_reason`` are also
        kept on the row, since the drain reads them back)."""
        self.changes.update(values)
        for name in ("state", "attempts", "failure_reason"):
            if name in values:
                setattr(self, name, values[name])


@cache
def _take_statement(postgresql: bool) -> Prepared:
    table = _messages()
    return Prepared(
        update(table)
        .where(
            bulk.one_of(table.c.id, "ids", postgresql=postgresql),
            table.c.state == MessageState.sending.value,
            table.c.claim_token == bindparam("token"),
        )
        .values(updated_at=bindparam("now"))
        .returning(*(table.c[name] for name in _TAKEN))
    )


def _messages() -> Any:
    return Message.__table__  # type: ignore[attr-defined]


async def take(session: AsyncSession, *, ids: list[int], token: str, now: datetime) -> list[Taken]:
    """The claimed messages this worker still holds (its lease not taken over), fenced and read
    in one statement.

    Write first: the fenced UPDATE takes SQLite's write lock at the start of the transaction (a
    transaction that reads, then writes after another worker committed, is refused).
    """
    held = await _take_statement(bulk.is_postgresql(session)).rows(
        session, {"ids": ids, "token": token, "now": now}
    )
    return sorted((Taken(*row) for row in held), key=lambda m: m.id)


async def save(session: AsyncSession, messages: list[Taken]) -> None:
    """Write what the drain decided, one statement per set of changed columns (usually one:
    every message sent). Each message also gives its claim up."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        values = message.changes | {"claim_token": None}
        groups[tuple(sorted(values))].append({"id": message.id, **values})
    rows = bulk.writer(session)
    for group in groups.values():
        await rows.update_by_id(_messages(), group)


def event_row(
    message_id: int, now: datetime, kind: str, detail: str | None = None
) -> dict[str, Any]:
    """A ``message_event`` row of a message's delivery story (inserted many at once)."""
    return {"message_id": message_id, "occurred_at": now, "kind": kind, "detail": detail}
