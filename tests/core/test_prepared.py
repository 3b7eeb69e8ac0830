"""``app.core.prepared``: the drain's hot statements run by the driver on PostgreSQL (issue 14,
decision 0089) answer exactly what SQLAlchemy answers for the same statement, write in the
session's own transaction, and leave beginning a transaction to SQLAlchemy. Run on both
databases by the two suites; on SQLite every statement goes through SQLAlchemy, so there these
tests hold the fallback to the same contract. R-CAND-1 and R-CAND-4 rest on the context read
(what was sent, what was promised, when the next check is) being read right."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.candidates.models import Candidate
from app.core import bulk
from app.core.database import make_read_sessionmaker, make_sessionmaker
from app.core.prepared import Prepared
from app.messaging.delivery import context
from app.messaging.models import Message, Promise
from tests.support.factories import make_candidate, make_due_status_messages
from tests.support.workers import on_postgresql

T = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
CANDIDATES: Any = Candidate.__table__  # type: ignore[attr-defined]
MESSAGES: Any = Message.__table__  # type: ignore[attr-defined]
PROMISES: Any = Promise.__table__  # type: ignore[attr-defined]


def by_id(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda row: row[0])


def driven(prepared: Prepared) -> bool:
    """Whether ``prepared`` went through the driver (it compiled its driver form)."""
    return bool(prepared._forms)


class TestSameRowsAsSQLAlchemy:
    async def test_the_drains_context_read__R_CAND_1_R_CAND_4(self, session: AsyncSession) -> None:
        """Every kind of value the context carries: text, booleans, instants (aware, in UTC),
        dates, NULLs, literal lists in the SQL, the submissions as one list parameter."""
        due = await make_due_status_messages(
            session,
            candidates=3,
            jobs=2,
            submitted_at=T - timedelta(hours=6),
            due_at=T - timedelta(hours=1),
            reason="prepared test",
        )
        sent, promised = due[0], due[1]
        await session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == sent.id)
            .values(state="sent", sent_at=T - timedelta(minutes=5))
        )
        await session.execute(
            insert(PROMISES).values(
                submission_id=promised.submission_id,
                message_id=promised.id,
                promised_date=date(2026, 12, 10),
                due_by_at=datetime(2026, 12, 11, tzinfo=UTC),
                state="open",
            )
        )
        statement = context._context_query(bulk.is_postgresql(session))
        params = {"submission_ids": sorted(m.submission_id for m in due)}
        expected = [tuple(row) for row in (await session.execute(statement, params)).all()]
        prepared = Prepared(statement)

        got = await prepared.rows(session, params)

        assert by_id(got) == by_id(expected)
        facts = {row[0]: context.Facts._make(row) for row in got}
        assert len(facts) == 3
        assert facts[sent.submission_id].last_sent == T - timedelta(minutes=5)
        assert facts[sent.submission_id].last_sent.tzinfo is UTC  # type: ignore[union-attr]
        assert facts[promised.submission_id].promised_day == date(2026, 12, 10)
        assert facts[due[2].submission_id].last_sent is None
        assert driven(prepared) == bulk.is_postgresql(session)

    async def test_an_update_returning_rows_in_a_savepoint(self, session: AsyncSession) -> None:
        made = [await make_candidate(session, phone=None if i else "+1 555 0100") for i in range(3)]
        ids = sorted(c.id or 0 for c in made)
        statement = (
            update(CANDIDATES)
            .where(bulk.one_of(CANDIDATES.c.id, "ids", postgresql=bulk.is_postgresql(session)))
            .values(updated_at=bindparam("now"), status_emails_opt_out=True)
            .returning(
                CANDIDATES.c.id,
                CANDIDATES.c.updated_at,
                CANDIDATES.c.status_emails_opt_out,
                CANDIDATES.c.phone,
            )
        )
        params = {"ids": ids, "now": T}
        async with session.begin_nested() as savepoint:
            expected = [tuple(r) for r in (await session.execute(statement, params)).all()]
            await savepoint.rollback()
        prepared = Prepared(statement)

        got = await prepared.rows(session, params)

        assert by_id(got) == by_id(expected)
        assert [row[1] for row in got] == [T, T, T]
        assert driven(prepared) == bulk.is_postgresql(session)


class TestTransactions:
    async def test_a_write_belongs_to_the_sessions_transaction(self, session: AsyncSession) -> None:
        """Rolled back with the session's (savepoint's) transaction: the driver path never runs
        a statement outside it, so a chunk that fails records nothing (R-CAND-1)."""
        candidate = await make_candidate(session)
        statement = Prepared(
            update(CANDIDATES)
            .where(CANDIDATES.c.id == bindparam("b_id"))
            .values(first_name=bindparam("b_name"))
        )
        read = select(CANDIDATES.c.first_name).where(CANDIDATES.c.id == candidate.id)
        async with session.begin_nested() as savepoint:
            await statement.run(session, {"b_id": candidate.id, "b_name": "Renamed"})
            assert await session.scalar(read) == "Renamed"
            await savepoint.rollback()

        assert await session.scalar(read) == candidate.first_name

    async def test_a_session_with_no_transaction_is_begun_by_sqlalchemy(
        self, engine: AsyncEngine
    ) -> None:
        """The first statement of a session goes through SQLAlchemy, which begins the
        transaction; later ones may go through the driver, inside it."""
        one = Prepared(select(literal(1).label("one")))
        async with make_sessionmaker(engine)() as session:
            assert not session.in_transaction()
            assert await one.rows(session, {}) == [(1,)]
            assert session.in_transaction()
            assert not driven(one)
            assert await one.rows(session, {}) == [(1,)]
            assert driven(one) == bulk.is_postgresql(session)
            await session.rollback()

    async def test_a_read_only_requests_select_needs_no_transaction(
        self, engine: AsyncEngine
    ) -> None:
        """A GET's session runs in autocommit on PostgreSQL (decision 0086): its SELECTs go
        through the driver with no transaction begun for them (issue 14: GET one record)."""
        one = Prepared(select(literal(1).label("one")))
        async with make_read_sessionmaker(engine)() as session:
            assert await one.rows(session, {}) == [(1,)]
            assert driven(one) == bulk.is_postgresql(session)
            if bulk.is_postgresql(session):
                raw = await (await session.connection()).get_raw_connection()
                driver: Any = raw.driver_connection
                assert not driver.is_in_transaction()


@on_postgresql("about the driver path, which only PostgreSQL takes")
class TestRefusals:
    async def test_a_list_as_an_expanding_parameter_is_refused(self, session: AsyncSession) -> None:
        """An expanding list changes the SQL on every call; on PostgreSQL lists go as one array
        (``bulk.one_of``), so the compiled form is the same for every call."""
        await make_candidate(session)
        statement = Prepared(
            select(CANDIDATES.c.id).where(CANDIDATES.c.id.in_(bindparam("ids", expanding=True)))
        )
        with pytest.raises(ValueError, match="arrays"):
            await statement.rows(session, {"ids": [1, 2]})
