"""Engine, sessions and the shared column types.

The constraint naming convention is set on the metadata here, before any model module is
imported, so Alembic names every constraint the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import JSON, DateTime, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from starlette.requests import Request

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: stored with time zone, always handed back aware in UTC.

    SQLite keeps no offset, so values are normalised to UTC on the way in and marked UTC on the
    way out; PostgreSQL's ``timestamptz`` does the same natively. Naive values are refused:
    an instant without an offset is a bug, not an input.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        if dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value  # timestamptz keeps the instant whatever the offset (the sweep's COPY path)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DateList(TypeDecorator[list[date]]):
    """A list of dates kept as JSON ISO strings (closures, removed holidays), dates in Python."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: list[date] | None, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        return sorted({(d if isinstance(d, str) else d.isoformat()) for d in value})

    def process_result_value(self, value: list[str] | None, dialect: Dialect) -> list[date] | None:
        if value is None:
            return None
        return [date.fromisoformat(d) for d in value]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets the worker and the API share a file.
    # isolation_level=None plus an explicit BEGIN (below) gives SQLite real SAVEPOINTs, which the
    # per-test rolled-back transaction relies on (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


#: asyncpg's connect timeout (seconds): a server that accepts but never answers fails the request
#: (503, R-AV) in bounded time instead of holding it for asyncpg's default minute.
CONNECT_TIMEOUT_SECONDS = 5
#: Connections a process keeps open, and how many more it may open under a burst (issue 14):
#: sized so that the load one process can serve never churns connections (SQLAlchemy's default
#: of 5 + 10 closed an overflow connection whenever five sat idle, and each new one cost a
#: connect and asyncpg's type introspection). ``CANDOR_DB_POOL_SIZE`` / ``CANDOR_DB_MAX_OVERFLOW``.
DEFAULT_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 10


def _drop_connection_the_server_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """R-AV without a ping per checkout: a server that restarts or drops a connection closes its
    socket, and asyncpg marks that connection closed as soon as the event loop sees it. Such a
    connection is refused at checkout and the pool opens a new one in its place (or the request
    gets 503 while the server is still away). A connection lost silently, with no close seen,
    fails its first statement instead: that request is answered 503 and SQLAlchemy invalidates
    the pool, so the next ones reconnect (decision 0086)."""
    driver_connection = getattr(dbapi_connection, "driver_connection", None)
    if driver_connection is not None and driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def make_engine(
    url: str,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
    **kwargs: Any,
) -> AsyncEngine:
    """An async engine for ``url`` with the per-dialect settings Candor depends on.

    ``hide_parameters``: a database error's text never carries the statement's values, so no log
    line or traceback can show a candidate's name, a note or a key hash (R-PV).
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT_SECONDS})
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, **kwargs)
    event.listen(engine.sync_engine, "checkout", _drop_connection_the_server_closed)
    return engine


def make_sessionmaker(bind: AsyncEngine | AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions keep loaded values after commit: responses are built from them afterwards.

    Sessions autoflush, so a query always sees the changes made before it in the same unit of
    work (a rule that reads the database must never miss the edit it is reacting to).

    Bound to a connection that is already in a transaction (the tests' rolled-back transaction),
    a session's commit only releases a SAVEPOINT, so each test leaves nothing behind.
    """
    if isinstance(bind, AsyncConnection):
        return async_sessionmaker(
            bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
    return async_sessionmaker(bind=bind, expire_on_commit=False)


#: Methods that change nothing (RFC 9110 safe methods we serve): their requests read without a
#: transaction to commit (issue 14, decision 0086).
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
#: ``session.info`` key of a read-only session: any write in it is a bug, refused before it runs.
READ_ONLY = "candor_read_only"


def make_read_sessionmaker(bind: AsyncEngine | AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read: ``make_sessionmaker``'s, marked read-only.

    On PostgreSQL they run in autocommit: each statement of a read-committed transaction takes a
    fresh snapshot anyway, so a read request sees exactly what it saw inside ``BEGIN`` …
    ``COMMIT``, minus those two round trips and the pool's rollback when the connection returns.
    SQLite (a file in this process) and the tests' rolled-back connection keep transactions.
    Either way a write in such a session raises before anything is sent
    (``_refuse_flushed_writes``, ``_refuse_statement_writes``).
    """
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        bind = bind.execution_options(isolation_level="AUTOCOMMIT")
    factory = make_sessionmaker(bind)
    factory.configure(info={READ_ONLY: True})
    return factory


class WriteInReadOnlyRequest(RuntimeError):
    """A GET tried to change something: a programming error, never sent to the database."""


@event.listens_for(Session, "before_flush")
def _refuse_flushed_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise WriteInReadOnlyRequest("a read-only request tried to write through the ORM")


@event.listens_for(Session, "do_orm_execute")
def _refuse_statement_writes(state: ORMExecuteState) -> None:
    writes = state.is_insert or state.is_update or state.is_delete
    if writes and state.session.info.get(READ_ONLY):
        raise WriteInReadOnlyRequest("a read-only request tried to run a write statement")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit on success, roll back on any error.

    Services never commit; this is the one place a request's changes become durable, so a
    request that fails part-way changes nothing (R-IN). A GET or HEAD changes nothing: its
    session has nothing to commit and refuses any write (``make_read_sessionmaker``); the few
    GETs that must record something declare ``WriteSessionDep`` instead.
    """
    gate = await _admit(request)  # not ``async with admitted``: one context manager fewer
    try:
        if request.method in READ_ONLY_METHODS:
            reader: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
            session = reader()
            try:
                yield session
            finally:
                await session.close()
            return
        async with _unit_of_work(request) as session:
            yield session
    finally:
        _leave(request, gate)


async def get_write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A unit of work that commits, whatever the method: for a GET that records something (a
    private link's last use)."""
    async with admitted(request), _unit_of_work(request) as session:
        yield session


#: ``request.scope`` key: this request already holds a place at the connection gate.
_ADMITTED = "candor.admitted"
#: As long as SQLAlchemy's pool waits for a connection by default (``pool_timeout``).
GATE_TIMEOUT_SECONDS = 30


@asynccontextmanager
async def admitted(request: Request) -> AsyncIterator[None]:
    """Wait for a place among the requests that may hold a pooled connection, in arrival order.

    SQLAlchemy's async pool queues its waiters on an ``asyncio.Queue``, which lets a newcomer
    take a connection just returned before a request that has waited for one: with more
    requests in flight than connections (c64 against 20 + 10), some waited seconds while the
    median was 40 ms (issue 14). ``asyncio.Semaphore`` admits in order (a newcomer queues behind
    every waiter), so a request never waits for more than the ones that came before it. The
    gate is as wide as the pool (``CANDOR_DB_POOL_SIZE`` + ``CANDOR_DB_MAX_OVERFLOW``) and is
    taken once per request, however many sessions it opens.
    """
    gate = await _admit(request)
    try:
        yield
    finally:
        _leave(request, gate)


async def _admit(request: Request) -> asyncio.Semaphore | None:
    """``admitted``'s entry: the gate this request took a place at, or None (no gate, or a
    place taken already)."""
    gate: asyncio.Semaphore | None = getattr(request.app.state, "connection_gate", None)
    if gate is None or request.scope.get(_ADMITTED):
        return None
    if gate.locked():  # no place free, or requests waiting: queue behind them, for so long
        try:
            async with asyncio.timeout(GATE_TIMEOUT_SECONDS):
                await gate.acquire()
        except TimeoutError:
            # As the pool's own timeout would: 503 with Retry-After (R-AV), nothing changed.
            raise PoolTimeout(f"no database connection within {GATE_TIMEOUT_SECONDS} s") from None
    else:  # a place free and nobody waiting: taken at once, no timer to arm and cancel
        await gate.acquire()
    request.scope[_ADMITTED] = True
    return gate


def _leave(request: Request, gate: asyncio.Semaphore | None) -> None:
    if gate is not None:
        request.scope[_ADMITTED] = False
        gate.release()


@asynccontextmanager
async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    session = factory()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        # Closed directly, not through ``async with session``: that runs ``close()`` in a new
        # task shielded from cancellation, and FastAPI already shields a dependency's exit
        # (``scope="function"``), so the task would only cost time (issue 14).
        await session.close()


#: The request's session. ``scope="function"`` closes the unit of work (commit or rollback)
#: when the endpoint returns, before the response is sent: a 2xx is only sent once committed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
#: A session that commits even on a GET (``get_write_session``); the same commit point.
WriteSessionDep = Annotated[AsyncSession, Depends(get_write_session, scope="function")]
