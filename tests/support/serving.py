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


#: The pid of the ``candor serve`` process listening on each port, while it serves.
SERVING_PIDS: dict[int, int] = {}


def children_of(pid: int) -> list[str]:
    """The command lines of the processes whose parent is ``pid`` (from /proc: Linux, as CI)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def process_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """A test process's environment: the test's database, emails to files (never printed)."""
    inherited = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}  # tests choose
    return {
        **inherited,
        "CANDOR_DATABASE_URL": database_url,
        "CANDOR_ENVIRONMENT": "test",
        "CANDOR_EMAIL_BACKEND": "file",
        "CANDOR_EMAIL_FOLDER": str(tmp_path / "mail"),
    }


@contextlib.asynccontextmanager
async def serving(
    database_url: str,
    tmp_path: Path,
    port: int,
    *options: str,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Path]:
    """``candor serve --port <port> [options]`` until the block ends (``env``: more variables
    of its environment); yields its log file."""
    log_path = process_log("serve")
    with log_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(CANDOR),
            "serve",
            "--port",
            str(port),
            *options,
            stdout=out,
            stderr=out,
            env={**process_env(database_url, tmp_path), **(env or {})},
            cwd=ROOT,
        )
        try:
            await _until_healthy(port, proc)
            SERVING_PIDS[port] = proc.pid
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
