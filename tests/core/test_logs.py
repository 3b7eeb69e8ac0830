"""R-PV: no personal data, message body, key, token or private-link path in any log line.

The suite keeps every log record of its run (tests/support/logcapture.py, installed by
conftest.py) and the output of every ``candor serve``/``candor worker`` process a test starts;
the last test of the run reads all of it and finds no email address, API key, private-link path,
nor any name, email or phone the suite wrote for a candidate, contact or user. It runs on both
databases like the rest of the suite; run alone it reads only what was logged in its own run. A
leak planted through the same scanner proves it would catch one."""

from __future__ import annotations

import logging
import secrets
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import make_engine
from app.core.logs import AccessLogRedaction, redact_path
from app.core.settings import Settings
from tests.support import logcapture
from tests.support.factories import make_candidate
from tests.support.serving import free_port, serving

TOKEN = "Tk" + uuid.uuid4().hex + "xyz"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/v1/portal/{TOKEN}", "/v1/portal/<token>"),
        (f"/v1/portal/{TOKEN}/note", "/v1/portal/<token>/note"),
        (f"/v1/portal/{TOKEN}/opt-out", "/v1/portal/<token>/opt-out"),
        (f"/v1/opt-out/{TOKEN}", "/v1/opt-out/<token>"),
        (
            "/v1/candidates?external_id=jane%40mail.example&limit=5",
            "/v1/candidates?external_id=…&limit=…",
        ),
        ("/v1/candidates/12", "/v1/candidates/12"),
    ],
)
def test_paths_in_log_lines_show_no_token_nor_query_value__R_PV(path: str, logged: str) -> None:
    assert redact_path(path) == logged


async def test_a_real_servers_access_log_redacts_private_links__R_PV(
    database_url: str, tmp_path: Path
) -> None:
    """uvicorn's own access log, from a real ``candor serve`` process on the suite's database."""
    port = free_port()
    async with (
        serving(database_url, tmp_path, port) as log_path,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        for path in (f"/v1/portal/{TOKEN}", f"/v1/opt-out/{TOKEN}", "/v1/candidates?email=x"):
            response = await http.get(path)
            assert response.status_code in (401, 404), response.text
    output = log_path.read_text()
    assert "/v1/portal/<token>" in output and "/v1/opt-out/<token>" in output, output
    assert TOKEN not in output
    assert "email=…" in output


def test_the_app_redacts_the_access_log_and_quiets_url_logging_clients__R_PV() -> None:
    from app.main import create_app

    create_app(Settings(environment="test", database_url="sqlite+aiosqlite://"))
    create_app(Settings(environment="test", database_url="sqlite+aiosqlite://"))
    filters = logging.getLogger("uvicorn.access").filters
    assert sum(isinstance(f, AccessLogRedaction) for f in filters) == 1
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)


async def test_database_errors_carry_no_parameter_values__R_PV(database_url: str) -> None:
    """``hide_parameters``: the text of a failed statement (what a traceback shows) has its
    placeholders, never the values bound to them."""
    engine = make_engine(database_url)
    secret = "ada.private@mail.example"
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(text("SELECT * FROM no_such_table WHERE x = :x"), {"x": secret})
    finally:
        await engine.dispose()
    assert secret not in str(failed.value)
    assert "no_such_table" in str(failed.value)


def test_the_console_backend_is_refused_in_production__R_PV() -> None:
    """It prints whole emails (names, private links) into the process output."""
    strong = secrets.token_urlsafe(48)
    with pytest.raises(ValueError, match="CANDOR_EMAIL_BACKEND=console"):
        Settings(environment="production", secret_key=strong, email_backend="console")  # type: ignore[arg-type]
    ok = Settings(environment="production", secret_key=strong, email_backend="file")  # type: ignore[arg-type]
    assert ok.email_backend == "file"


async def test_a_planted_leak_is_caught__R_PV(session: AsyncSession, tmp_path: Path) -> None:
    """The scanner of the last test, on a line planted through the real logging machinery."""
    candidate = await make_candidate(session)
    await session.flush()
    assert candidate.email in logcapture.PERSONAL and candidate.last_name in logcapture.PERSONAL
    handler = logcapture.SuiteLogHandler(tmp_path / "planted.log")
    planted = logging.getLogger(logcapture.PLANTED)
    planted.addHandler(handler)
    try:
        planted.warning("sent to %s", candidate.email)
        planted.warning("candidate %s opened the link", candidate.last_name)
        planted.warning("GET /v1/portal/%s", TOKEN)
        planted.warning("key cnd_%s", "A" * 20)
        planted.warning("candidate %d opened /v1/portal/<token>", candidate.id)
    finally:
        planted.removeHandler(handler)
        handler.close()
    lines = (tmp_path / "planted.log").read_text().splitlines()
    leaks = logcapture.find_leaks(lines, {candidate.last_name})
    kinds = [what.split(" ")[0] for what, _ in leaks]
    assert kinds == ["email", "personal", "link", "api"], leaks
    # The same lines reach neither the suite's file nor its verdict.
    suite, _ = logcapture.suite_lines()
    assert not any(TOKEN in line for line in suite)


@pytest.mark.reads_suite_logs
def test_no_log_line_of_the_suite_carries_personal_data__R_PV() -> None:
    lines, files = logcapture.suite_lines()
    leaks = logcapture.find_leaks(lines, logcapture.PERSONAL)
    print(
        f"\nR-PV logs: {len(lines)} lines in {len(files)} files scanned against "
        f"{len(logcapture.PERSONAL)} personal values; {len(leaks)} leaks"
    )
    assert lines, "nothing was logged: the capture is not installed"
    assert leaks == [], "\n".join(f"{what}: {line}" for what, line in leaks[:20])
