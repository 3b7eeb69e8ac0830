"""``candor serve --workers N`` (issue 14): N server processes share the port and answer.

One database (the suite's) is enough: the processes share it the way production processes
do, and nothing here depends on which database it is."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.support.serving import SERVING_PIDS, children_of, free_port, serving


def _servers(parent: int) -> list[str]:
    """uvicorn's worker processes (multiprocessing spawns them; its resource tracker is not one)."""
    return [cmd for cmd in children_of(parent) if "spawn_main" in cmd]


async def _worker_processes(parent: int, expected: int) -> list[str]:
    """uvicorn's supervisor starts its workers one by one: poll until they all are there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        found = _servers(parent)
        if len(found) >= expected or loop.time() > deadline:
            return found
        await asyncio.sleep(0.1)  # a bounded readiness poll, not a timing assumption


async def test_serve_with_two_workers_runs_two_processes_that_answer__R_AV(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    async with serving(database_url, tmp_path, port, "--workers", "2"):
        children = await _worker_processes(SERVING_PIDS[port], 2)
        assert len(children) == 2, children
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            answers = [(await http.get("/health")).status_code for _ in range(20)]
    assert answers == [200] * 20


async def test_serve_without_workers_is_one_process(database_url: str, tmp_path: Path) -> None:
    """The control: without the flag (and no WEB_CONCURRENCY) uvicorn serves in-process."""
    port = free_port()
    async with serving(database_url, tmp_path, port):
        assert _servers(SERVING_PIDS[port]) == []
