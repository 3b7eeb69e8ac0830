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
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from app.messaging.models import (
    Audience,
    Message,
    MessageState,
)

#: Recipients' due messages a drain claims per batch, and how long its claim holds.
DEFAULT_BATCH = 200
DEFAULT_LEASE = timedelta(minutes=5)


def _due(now: datetime, audience: Audience) -> Any:
    return and_(
        col(Message.state).in_((MessageState.pending.value, MessageState.sending.value)),
        col(Message.send_at) <= now,
        col(Message.audience) == audience.value,
        or_(
            col(Message.state) == MessageState.pending.value,
            col(Message.claim_expires_at) <= now,
        ),
    )


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
    candidates = (
        select(col(Message.id))
        .where(_due(now, audience))
        .order_by(col(Message.send_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    recipient = col(Message.candidate_id if audience == Audience.candidate else Message.contact_id)

    async def take_up(ids: Any) -> list[tuple[int, int]]:
        result = await session.execute(
            update(Message)
            .where(col(Message.id).in_(ids.scalar_subquery()))
            .values(
                state=MessageState.sending.value, claim_token=token, claim_expires_at=now + lease
            )
            .returning(col(Message.id), recipient)
            .execution_options(synchronize_session=False)
        )
        return [(message_id or 0, who or 0) for message_id, who in result.tuples().all()]

    claimed = await take_up(candidates)
    people = sorted({who for _, who in claimed})
    if people:
        # The rest of these people's due messages too: one person's day goes as one email
        # (R-CAND-4), never split by the batch limit into an email today and one tomorrow.
        # Held ones that already fell due come too: if one of them goes now, the rest of
        # today's go with it (``process`` folds them in) instead of at the slot.
        claimed += await take_up(
            select(col(Message.id))
            .where(
                col(Message.state) == MessageState.pending.value,
                col(Message.audience) == audience.value,
                col(Message.due_at) <= now,
                recipient.in_(people),
            )
            .with_for_update(skip_locked=True)
        )
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
def _take_statement() -> Any:
    table = _messages()
    return (
        update(table)
        .where(
            table.c.id.in_(bindparam("ids", expanding=True)),
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
    connection = await session.connection()
    held = await connection.execute(_take_statement(), {"ids": ids, "token": token, "now": now})
    return sorted((Taken(*row) for row in held.tuples().all()), key=lambda m: m.id)


async def save(session: AsyncSession, messages: list[Taken]) -> None:
    """Write what the drain decided, one executemany per set of changed columns (usually one:
    every message sent). Each message also gives its claim up."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        values = message.changes | {"claim_token": None}
        groups[tuple(sorted(values))].append({"b_id": message.id, **values})
    connection = await session.connection()
    for names, params in groups.items():
        await connection.execute(_save_statement(names), params)


@lru_cache(maxsize=32)
def _save_statement(names: tuple[str, ...]) -> Any:
    """One UPDATE by primary key per set of changed columns (a handful of sets exist)."""
    table = _messages()
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(name) for name in names})
    )


def event_row(
    message_id: int, now: datetime, kind: str, detail: str | None = None
) -> dict[str, Any]:
    """A ``message_event`` row of a message's delivery story (inserted many at once)."""
    return {"message_id": message_id, "occurred_at": now, "kind": kind, "detail": detail}


@cache
def insert_of(model: type[SQLModel]) -> Any:
    """A Core multi-row INSERT of ``model``'s table (no ORM bulk machinery per row)."""
    return insert(model.__table__)  # type: ignore[attr-defined]
