"""Every Candor process runs on one event loop, uvloop: the API under uvicorn (``loop="auto"``)
and the worker and the other commands through ``app.core.eventloop.run`` (issue 14, decision
0089: the worker's outbox drain is bound by CPU per email, a part of it the loop's own work).
Generated over the application's source, so a new command that calls ``asyncio.run`` directly
fails here."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

from app.core import eventloop

APP = Path(__file__).resolve().parents[2] / "app"


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


class TestTheServiceLoop:
    def test_run_answers_the_coroutines_result_on_uvloop(self) -> None:
        assert eventloop.run(_loop_module()).startswith("uvloop")

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
