"""Issue 14: no request waits for a thread. FastAPI runs a plain ``def`` endpoint or dependency
in its thread pool, a thread hop per call for what is microseconds of work; generated over every
operation, so a new route or dependency is checked at once."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.main import api_routers, create_app

#: Every operation: the app's own (health) and every domain router's.
ROUTES = [
    route
    for route in [*create_app().routes, *(r for router in api_routers() for r in router.routes)]
    if isinstance(route, APIRoute)
]


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _runs_on_the_loop(call: Any) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    method = type(call).__call__  # an instance such as HTTPBearer()
    return not inspect.isclass(call) and (
        inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)
    )


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{sorted(r.methods)[0]} {r.path}")
def test_every_endpoint_and_dependency_runs_on_the_event_loop(route: APIRoute) -> None:
    assert inspect.iscoroutinefunction(route.endpoint), f"{route.endpoint.__name__} is not async"
    sync = [
        getattr(c, "__name__", repr(c)) for c in _calls(route.dependant) if not _runs_on_the_loop(c)
    ]
    assert sync == [], f"run in the thread pool on every request: {sync}"
