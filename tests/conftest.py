"""Test fixtures: a database built by Alembic, one rolled-back transaction per test.

The suite runs on SQLite by default and on PostgreSQL when ``CANDOR_TEST_DATABASE_URL`` names a
server (``make test`` runs both). With ``CANDOR_REQUIRE_POSTGRES=1`` (CI) a missing or
non-PostgreSQL URL fails the run instead of quietly testing SQLite twice.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from alembic.config import Config
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from alembic import command
from app.core.database import make_engine, make_sessionmaker
from app.core.settings import Settings
from app.main import create_app
from tests.support import logcapture
from tests.support.mailing import KEY, Mailer
from tools.sendgrid_standin import SendGridStandIn

ROOT = Path(__file__).resolve().parent.parent


def _database_line() -> str:
    url = os.environ.get("CANDOR_TEST_DATABASE_URL")
    if url:
        return f"candor database: PostgreSQL ({make_url(url).render_as_string(hide_password=True)})"
    return "candor database: SQLite (temporary file)"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Say which database the run uses, even with -q, so a CI log shows it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(_database_line())


def pytest_configure(config: pytest.Config) -> None:
    """R-PV: every log record of the run is kept for the log test (tests/core/test_logs.py),
    at the level production logs at, from before the first test to after the last."""
    logcapture.start_capture()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The log test reads what every other test logged, so it runs last."""
    last = [item for item in items if item.get_closest_marker("reads_suite_logs")]
    items[:] = [item for item in items if item not in last] + last


def migrate(url: str) -> None:
    """Build the schema exactly as production does: ``alembic upgrade head``."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logging"] = False
    command.upgrade(cfg, "head")


async def _admin(url: str, sql: str) -> None:
    engine = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with engine.connect() as conn:
        await conn.exec_driver_sql(sql)
    await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("CANDOR_TEST_DATABASE_URL")
    if os.environ.get("CANDOR_REQUIRE_POSTGRES") == "1" and not (
        server and server.startswith("postgresql")
    ):
        pytest.exit("CANDOR_REQUIRE_POSTGRES=1 but CANDOR_TEST_DATABASE_URL names no PostgreSQL", 3)
    if not server:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'candor-test.db'}"
        migrate(url)
        yield url
        return
    # A fresh database per run, so a run never sees a previous run's rows or schema.
    name = f"candor_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(environment="test", database_url=database_url, max_body_bytes=65_536)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Everything a test does happens inside this transaction, rolled back at the end."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session for factories and assertions, sharing the test's transaction."""
    async with make_sessionmaker(connection)() as session:
        yield session


@pytest.fixture
async def client(
    settings: Settings, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, bind=connection)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://candor.test") as http:
        yield http


@pytest.fixture
def standin() -> Iterator[SendGridStandIn]:
    """The local SendGrid stand-in on loopback (a real HTTP server)."""
    with SendGridStandIn(KEY) as server:
        yield server


@pytest.fixture
async def mailer(connection: AsyncConnection, standin: SendGridStandIn) -> AsyncIterator[Mailer]:
    mailer = Mailer(connection, standin)
    try:
        yield mailer
    finally:
        await mailer.aclose()
