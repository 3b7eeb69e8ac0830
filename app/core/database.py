"""Engine, sessions and the shared column types.

The constraint naming convention is set on the metadata here, before any model module is
imported, so Alembic names every constraint the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import JSON, DateTime, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
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


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
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
    # A restarted server leaves dead connections in the pool: each is tested on checkout and
    # replaced, so the pool recovers by itself (R-AV).
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT_SECONDS})
    return create_async_engine(url, **kwargs)


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


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit on success, roll back on any error.

    Services never commit; this is the one place a request's changes become durable, so a
    request that fails part-way changes nothing (R-IN).
    """
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


#: The request's session. ``scope="function"`` closes the unit of work (commit or rollback)
#: when the endpoint returns, before the response is sent: a 2xx is only sent once committed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
