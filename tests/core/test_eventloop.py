"""Every Candor process runs on one event loop, uvloop: the API under uvicorn (``loop="auto"``)
and the worker and the other commands through ``app.core.eventloop.run`` (issue 14, decision
0089: the worker's outbox drain is bound by CPU per email, a part of it the loop's own work).
Generated over the application's source, so a new command that calls ``asyncio.run`` directly
fails here."""

from __future__ import annotations

import ast
import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core import eventloop

APP = Path(__file__).resolve().parents[2] / "app"


async def _loop_and_frozen() -> tuple[str, int]:
    return type(asyncio.get_running_loop()).__module__, gc.get_freeze_count()


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """``run`` freezes the test process's objects too: they go back to the collector after."""
    gc.unfreeze()
    yield
    gc.unfreeze()


class TestTheServiceLoop:
    def test_run_answers_the_coroutines_result_on_uvloop(self, unfrozen: None) -> None:
        loop, _ = eventloop.run(_loop_and_frozen())
        assert loop.startswith("uvloop")

    def test_what_the_process_built_is_frozen_before_main_runs(self, unfrozen: None) -> None:
        """As the API's lifespan does (decision 0086): full collections skip the modules,
        classes and mappers a long-lived process holds (decision 0089)."""
        assert gc.get_freeze_count() == 0
        _, frozen = eventloop.run(_loop_and_frozen())
        assert frozen > 10_000

    def test_asyncio_loop_on_request(self, unfrozen: None) -> None:
        loop, _ = eventloop.run(_loop_and_frozen(), use_uvloop=False)
        assert loop.startswith("asyncio")

    def test_no_process_entry_point_runs_on_another_loop(self) -> None:
        direct = []
        for path in sorted(APP.rglob("*.py")):
            if path == APP / "core" / "eventloop.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "run"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "asyncio"
                ):
                    direct.append(f"{path.relative_to(APP)}:{node.lineno}")
        assert direct == [], f"asyncio.run outside app.core.eventloop: {direct}"
