"""R-AV in one process: a database that cannot be reached answers 503 problem+json with
``Retry-After`` on every route that needs it, and an unexpected error is a 500 that does not
escape the app (a server closes the connection on an escaping error). The outage under load,
through real sockets, is tests/worker/test_outage.py (PostgreSQL only); these run everywhere:
the refused database is a PostgreSQL URL on a loopback port nothing listens on.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.core.database import make_engine
from app.core.errors import is_unavailable
from app.core.settings import Settings
from app.main import create_app
from tests.support.routes import authenticated


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: connecting is refused


@pytest.fixture
async def refused() -> AsyncIterator[httpx.AsyncClient]:
    url = f"postgresql+asyncpg://candor@127.0.0.1:{_closed_port()}/candor"
    engine = make_engine(url)
    app = create_app(Settings(environment="test", database_url=url), bind=engine)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=True),
            base_url="http://candor.test",
        ) as http:
            yield http
    finally:
        await engine.dispose()


GETS = [op for op in authenticated() if op.method == "GET" and not op.params]


@pytest.mark.parametrize("path", [op.path for op in GETS])
async def test_an_unreachable_database_answers_503_with_retry_after__R_AV(
    refused: httpx.AsyncClient, path: str
) -> None:
    response = await refused.get(path, headers={"Authorization": "Bearer cnd_whatever"})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["type"] == "urn:candor:problem:unavailable"


async def test_a_private_link_route_answers_503_too__R_AV(refused: httpx.AsyncClient) -> None:
    response = await refused.get("/v1/portal/abcdefghijklmnopqrstuvwxyz012345")
    assert (response.status_code, response.json()["instance"]) == (
        503,
        "/v1/portal/abcdefghijklmnopqrstuvwxyz012345",
    )


async def test_health_needs_no_database(refused: httpx.AsyncClient) -> None:
    assert (await refused.get("/health")).status_code == 200


def _wrapped(orig: BaseException, *, invalidated: bool = False) -> DBAPIError:
    return OperationalError("SELECT 1", None, orig, connection_invalidated=invalidated)


class Sqlstate(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.sqlstate = code


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (OSError("Multiple exceptions: ..."), True),
        (TimeoutError(), True),
        (PoolTimeout("QueuePool limit reached"), True),
        (_wrapped(Exception("gone"), invalidated=True), True),
        (_wrapped(Sqlstate("08006")), True),  # connection failure
        (_wrapped(Sqlstate("57P01")), True),  # admin shutdown (a restart)
        (_wrapped(Sqlstate("57P03")), True),  # cannot connect now (starting up)
        (_wrapped(Sqlstate("53300")), True),  # too many connections
        (_wrapped(Sqlstate("23505")), False),  # unique violation: a conflict, not an outage
        (_wrapped(Sqlstate("42P01")), False),  # undefined table: a bug, a 500
        (IntegrityError("INSERT", None, Exception("dup")), False),
        (ValueError("bad"), False),
    ],
    ids=repr,
)
def test_what_counts_as_the_database_being_away__R_AV(exc: BaseException, expected: bool) -> None:
    assert is_unavailable(exc) is expected


async def test_an_unexpected_error_is_a_500_problem_that_does_not_escape__R_AV(
    settings: Settings,
) -> None:
    """``raise_app_exceptions=True``: an error escaping the app (Starlette's own last net
    re-raises after its 500, and uvicorn then closes the connection) would fail this test."""
    app: FastAPI = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("jane.doe" + "@example.com")  # a message that must not reach the log

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=True),
        base_url="http://candor.test",
    ) as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "jane.doe" not in response.text
