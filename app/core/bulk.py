"""Writing many rows at once, in the caller's transaction, by the fastest path each database has.

PostgreSQL takes the rows through ``COPY`` (asyncpg's binary ``copy_records_to_table``) on the
session's own connection, so they are part of the same transaction; ids, where the caller needs
them, are drawn from the table's sequence first. Elsewhere (SQLite) a Core multi-row ``INSERT``.
Either way every value goes through its column type's bind processing first, exactly as
SQLAlchemy would send it (JSON serialised, UTC datetimes), and Python-side column defaults are
not applied: the rows carry every column the table requires.

Updates of many rows by id go as one ``UPDATE … FROM unnest(…)`` on PostgreSQL (each column's
values as one array), elsewhere as one UPDATE per row.

The sweep uses this for the tasks, events and messages of a batch of fired checks. ``COPY``
skips SQLAlchemy's per-parameter compilation and processing and sends the rows in asyncpg's
binary format, so what a batch costs is mostly the database's own work: indexes and foreign-key
checks (measured in docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Table, any_, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.prepared import Prepared


def one_of(column: Any, name: str, *, postgresql: bool) -> Any:
    """``column IN (:name)`` for a list parameter ``name``. On PostgreSQL one array parameter
    (``= ANY(:name)``): one statement text, and one prepared statement, whatever the list's
    length, and no expansion of the list into parameters on every call. Elsewhere SQLAlchemy's
    expanding ``IN``."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def is_postgresql(session: AsyncSession) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"


class Writer(Protocol):
    async def insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None: ...

    async def update_by_id(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Set, in each row of ``table`` whose id is a row's ``id``, that row's other values.
        Every row names the same columns."""
        ...

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

    async def update_by_id(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            names = _columns_of(rows)
            params = [{f"b_{name}": row[name] for name in ("id", *names)} for row in rows]
            await self._session.execute(_update_each(table, names), params)

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

    async def update_by_id(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """One ``UPDATE … FROM unnest(…)``: each column's values as one array parameter."""
        if rows:
            names = _columns_of(rows)
            params = {f"b_{name}": [row[name] for row in rows] for name in ("id", *names)}
            await _update_from_arrays(table, names).run(self._session, params)

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


def _columns_of(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    keys = rows[0].keys()
    names = tuple(sorted(name for name in keys if name != "id"))
    if "id" not in keys or any(row.keys() != keys for row in rows):
        raise ValueError("every row of one update names the same columns and its id")
    return names


@lru_cache(maxsize=64)
def _update_each(table: Table, names: tuple[str, ...]) -> Any:
    """One UPDATE by primary key, executed once per row (built once per set of columns)."""
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in names})
    )


@lru_cache(maxsize=64)
def _update_from_arrays(table: Table, names: tuple[str, ...]) -> Prepared:
    """``UPDATE table SET c = v.c … FROM (SELECT unnest(:b_id), unnest(:b_c) …) v WHERE id = v.id``
    (PostgreSQL zips the arrays row by row), run by the driver (``app.core.prepared``)."""
    given = select(
        *(
            func.unnest(bindparam(f"b_{name}", type_=ARRAY(table.c[name].type))).label(name)
            for name in ("id", *names)
        )
    ).subquery("given")
    return Prepared(
        update(table)
        .where(table.c.id == given.c.id)
        .values({name: given.c[name] for name in names})
    )
