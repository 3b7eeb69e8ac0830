"""Writing many rows at once, in the caller's transaction, by the fastest path each database has.

PostgreSQL takes the rows through ``COPY`` (asyncpg's binary ``copy_records_to_table``) on the
session's own connection, so they are part of the same transaction; ids, where the caller needs
them, are drawn from the table's sequence first. Elsewhere (SQLite) a Core multi-row ``INSERT``.
Either way every value goes through its column type's bind processing first, exactly as
SQLAlchemy would send it (JSON serialised, UTC datetimes), and Python-side column defaults are
not applied: the rows carry every column the table requires.

The sweep uses this for the tasks, events and messages of a batch of fired checks. ``COPY``
skips SQLAlchemy's per-parameter compilation and processing and sends the rows in asyncpg's
binary format, so what a batch costs is mostly the database's own work: indexes and foreign-key
checks (measured in docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession


def is_postgresql(session: AsyncSession) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"


class Writer(Protocol):
    async def insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None: ...

    async def insert_returning_ids(self, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert ``rows``; answer their new ids, in the order of ``rows``."""
        ...


def writer(session: AsyncSession) -> Writer:
    return _Copy(session) if is_postgresql(session) else _MultiRowInsert(session)


class _MultiRowInsert:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self._session.execute(insert(table), list(rows))

    async def insert_returning_ids(self, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list((await self._session.execute(stmt, list(rows))).scalars())


class _Copy:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        await self._copy(table, rows, ids=None)

    async def insert_returning_ids(self, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        drawn = await self._session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": len(rows)},
        )
        ids = [int(i) for i in drawn.scalars()]
        await self._copy(table, rows, ids=ids)
        return ids

    async def _copy(
        self, table: Table, rows: Sequence[dict[str, Any]], *, ids: list[int] | None
    ) -> None:
        if not rows:
            return
        names = list(rows[0])
        connection = await self._session.connection()
        processors = [
            (index, process)
            for index, name in enumerate(names)
            if (process := table.c[name].type.bind_processor(connection.dialect)) is not None
        ]
        records: list[Any] = []
        for row in rows:
            values = [row[name] for name in names]
            for index, process in processors:
                values[index] = process(values[index])
            records.append(values)
        if ids is not None:
            names = ["id", *names]
            records = [[i, *values] for i, values in zip(ids, records, strict=True)]
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # the asyncpg connection of this transaction
        await driver.copy_records_to_table(table.name, columns=names, records=records)
