"""``app.core.bulk``: many rows written at once in the caller's transaction, by COPY and
``UPDATE … FROM unnest(…)`` on PostgreSQL and by one statement per row elsewhere (issue 14: the
outbox drain records a chunk's decisions with it). Run on both databases by the two suites: each
path must write exactly what the rows say, NULLs, instants and booleans included, and nothing
else (R-CAND-1: a message's recorded state is what the drain decided)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.core import bulk
from app.messaging.models import OptOutToken
from tests.support.factories import make_candidate

T = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
CANDIDATES: Any = Candidate.__table__  # type: ignore[attr-defined]
TOKENS: Any = OptOutToken.__table__  # type: ignore[attr-defined]


async def rows_of(session: AsyncSession, ids: list[int]) -> dict[int, tuple[Any, ...]]:
    found = await session.execute(
        select(
            CANDIDATES.c.id,
            CANDIDATES.c.first_name,
            CANDIDATES.c.phone,
            CANDIDATES.c.status_emails_opt_out,
            CANDIDATES.c.updated_at,
        ).where(CANDIDATES.c.id.in_(ids))
    )
    return {row[0]: tuple(row[1:]) for row in found}


class TestUpdateById:
    async def test_each_row_gets_its_own_values_and_no_other_row_changes(
        self, session: AsyncSession
    ) -> None:
        made = [await make_candidate(session, phone="+1 555 0100") for _ in range(4)]
        ids = [c.id or 0 for c in made]
        before = await rows_of(session, ids)
        await bulk.writer(session).update_by_id(
            CANDIDATES,
            [
                {
                    "id": ids[i],
                    "first_name": f"Name {i}",
                    "phone": None if i == 0 else f"+1 555 010{i}",
                    "status_emails_opt_out": i % 2 == 1,
                    "updated_at": T + timedelta(minutes=i),
                }
                for i in range(3)
            ],
        )
        after = await rows_of(session, ids)
        for i in range(3):
            name, phone, opted_out, updated_at = after[ids[i]]
            assert name == f"Name {i}"
            assert phone == (None if i == 0 else f"+1 555 010{i}")
            assert opted_out is (i % 2 == 1)
            assert updated_at.astimezone(UTC) == T + timedelta(minutes=i)
        assert after[ids[3]] == before[ids[3]]

    async def test_no_rows_is_no_statement(self, session: AsyncSession) -> None:
        await bulk.writer(session).update_by_id(CANDIDATES, [])

    async def test_rows_naming_different_columns_are_refused(self, session: AsyncSession) -> None:
        made = await make_candidate(session)
        with pytest.raises(ValueError, match="same columns"):
            await bulk.writer(session).update_by_id(
                CANDIDATES,
                [{"id": made.id, "first_name": "A"}, {"id": made.id, "phone": None}],
            )


class TestInsert:
    async def test_every_row_is_written_as_given(self, session: AsyncSession) -> None:
        candidate = await make_candidate(session)
        rows = [
            {"candidate_id": candidate.id, "token_hash": f"{i:064x}", "created_at": T}
            for i in range(5)
        ]
        await bulk.writer(session).insert(TOKENS, rows)
        stored = await session.execute(
            select(TOKENS.c.token_hash, TOKENS.c.created_at)
            .where(TOKENS.c.candidate_id == candidate.id)
            .order_by(TOKENS.c.token_hash)
        )
        assert [(h, at.astimezone(UTC)) for h, at in stored] == [
            (row["token_hash"], T) for row in rows
        ]
