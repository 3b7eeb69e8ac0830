"""A real ``candor serve`` process on loopback, for tests that need real sockets and real HTTP
keep-alive (R-AV) or the real uvicorn access log (R-PV); its output goes to a log file that the
suite's log test reads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.support.logcapture import process_log

ROOT = Path(__file__).resolve().parents[2]
#: The console script installed next to the interpreter running the tests (the project's venv).
CANDOR = Path(sys.executable).with_name("candor")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def process_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """A test process's environment: the test's database, emails to files (never printed)."""
    return {
        **os.environ,
        "CANDOR_DATABASE_URL": database_url,
        "CANDOR_ENVIRONMENT": "test",
        "CANDOR_EMAIL_BACKEND": "file",
        "CANDOR_EMAIL_FOLDER": str(tmp_path / "mail"),
    }


@contextlib.asynccontextmanager
async def serving(database_url: str, tmp_path: Path, port: int) -> AsyncIterator[Path]:
    """``candor serve --port <port>`` until the block ends; yields its log file."""
    log_path = process_log("serve")
    with log_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(CANDOR),
            "serve",
            "--port",
            str(port),
            stdout=out,
            stderr=out,
            env=process_env(database_url, tmp_path),
            cwd=ROOT,
        )
        try:
            await _until_healthy(port, proc)
            yield log_path
        finally:
            if proc.returncode is None:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), timeout=30)


async def _until_healthy(port: int, proc: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(300):
            assert proc.returncode is None, "candor serve exited"
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)  # a bounded readiness poll, not a timing assumption
    raise AssertionError("candor serve did not start")
