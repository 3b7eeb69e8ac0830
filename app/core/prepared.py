"""Hot statements, compiled once per process and run by the driver on PostgreSQL.

A statement the outbox drain runs for every chunk (its context read, its fenced updates, its
locks) is a SQLAlchemy Core statement, built once. Executing one through SQLAlchemy still costs
about 0.1-0.25 ms of CPU per call on top of asyncpg's own work (an execution context, bind and
result processing in Python, the greenlet hop, a result object); the drain's process is bound by
CPU per email, and a chunk runs seven such statements (decision record 0089 has the figures).

:class:`Prepared` keeps the statement as the one definition and, on PostgreSQL, compiles it once
per process for the server's dialect (``$n`` placeholders with their casts), then runs it with
asyncpg on the session's own connection, inside the transaction SQLAlchemy began: the same SQL,
the same bind processing (each column type's processor), the same result processing (each
result column type's processor), in the same transaction, without the per-call machinery. The
driver keeps the prepared statement in its own cache. A SELECT of a read-only request's
session (a GET: autocommit on PostgreSQL, decision 0086) runs by the driver too, with no
transaction to be inside: ``app.core.crud.read_or_404`` reads one record so. Elsewhere (SQLite),
and for a session that has not begun its transaction yet (the driver path never begins or ends
a transaction: that stays SQLAlchemy's), the statement runs through SQLAlchemy as any other.

What it does not do: lists as expanding ``IN`` parameters (on PostgreSQL the drain passes lists
as one array, ``app.core.bulk.one_of``; a statement given one is refused), ORM statements (no
identity map is involved: these are Core statements on tables), and SQLAlchemy's wrapping of
driver errors: an error arrives as asyncpg raised it, as from ``app.core.bulk``'s ``COPY``, and
``app.core.errors.is_unavailable`` reads both forms (R-AV).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

from app.core.database import READ_ONLY

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Form:
    """A statement as the driver runs it: its SQL, where each positional argument comes from
    (a caller's parameter, or a value fixed in the statement), and how values are processed."""

    sql: str
    #: Per position: the caller's parameter name, or None for a value fixed at compile time.
    names: tuple[str | None, ...]
    fixed: tuple[Any, ...]
    binds: tuple[Processor | None, ...]
    results: tuple[Processor | None, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, fixed, process in zip(self.names, self.fixed, self.binds, strict=True):
            value = fixed if name is None else params[name]
            values.append(value if process is None or value is None else process(value))
        return values

    def decode(self, records: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not any(self.results):
            return [tuple(record) for record in records]
        processors = self.results
        return [
            tuple(
                value if process is None or value is None else process(value)
                for process, value in zip(processors, record, strict=True)
            )
            for record in records
        ]


class Prepared:
    """One Core statement, run through the driver on PostgreSQL (see the module's docstring)."""

    __slots__ = ("_forms", "_select", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._select = bool(getattr(statement, "is_select", False))
        self._forms: dict[tuple[Any, ...], _Form] = {}

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The statement's rows as tuples (its selected or returned columns, in order)."""
        connection = await session.connection()
        driver = await _driver_for(connection, read=self._select and _read_only(session))
        if driver is None:
            result = await connection.execute(self.statement, dict(params))
            return [tuple(row) for row in result.all()] if result.returns_rows else []
        form = self._form(connection.dialect, params)
        return form.decode(await driver.fetch(form.sql, *form.arguments(params)))

    async def run(self, session: AsyncSession, params: Mapping[str, Any]) -> None:
        """Execute the statement for its effect (its rows, if any, are not read)."""
        connection = await session.connection()
        driver = await _driver_for(connection, read=False)
        if driver is None:
            await connection.execute(self.statement, dict(params))
            return
        form = self._form(connection.dialect, params)
        await driver.execute(form.sql, *form.arguments(params))

    def _form(self, dialect: Dialect, params: Mapping[str, Any]) -> _Form:
        # Per server dialect and set of parameter names (the compiled SQL depends on both), not
        # per engine: a new engine on the same server reuses what was compiled.
        key = (type(dialect), dialect.server_version_info, frozenset(params))
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _compile(self.statement, dialect, params)
        return form


def _read_only(session: AsyncSession) -> bool:
    return bool(session.info.get(READ_ONLY))


async def _driver_for(connection: AsyncConnection, *, read: bool) -> Any | None:
    """The asyncpg connection under ``connection`` when SQLAlchemy has begun its transaction
    there, or for a SELECT of a read-only request's session (autocommit on PostgreSQL: there is
    no transaction to be inside, and its writes are refused before they are sent); None where
    SQLAlchemy should run the statement (SQLite, or no transaction yet: the statement then
    begins it)."""
    if connection.dialect.name != "postgresql":
        return None
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    return driver if read or driver.is_in_transaction() else None


def _compile(statement: Executable, dialect: Dialect, params: Mapping[str, Any]) -> _Form:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    # Literal lists in the statement (``state IN ('sent', 'merged')``) are expanded once here;
    # a list the caller passes would change the SQL per call, so it is refused.
    state = compiled.construct_expanded_state(dict(params))
    runtime = set(params)
    if any(original in runtime for original in state.parameter_expansion):
        raise ValueError("pass lists as arrays on PostgreSQL (app.core.bulk.one_of)")
    positions = state.positiontup or []
    original = {
        expanded: name for name, names in state.parameter_expansion.items() for expanded in names
    }

    def processor(name: str) -> Processor | None:
        bind = compiled.binds[original.get(name, name)]
        process: Processor | None = bind.type.dialect_impl(dialect).bind_processor(dialect)
        return process

    names = tuple(name if name in runtime else None for name in positions)
    binds = tuple(processor(name) if name in runtime else None for name in positions)
    # A value fixed in the statement is processed once, here.
    fixed = tuple(
        None if name in runtime else _processed(processor(name), state.parameters[name])
        for name in positions
    )
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        # A plain text() names no columns: its values come back as the driver decodes them.
        for column in getattr(statement, "exported_columns", ())
    )
    return _Form(state.statement, names, fixed, binds, results)


def _processed(process: Processor | None, value: Any) -> Any:
    return value if process is None or value is None else process(value)
