"""Issue 14: the order of ``app.main:api_routers`` is free to choose for speed, because no
request path can be served by routes of two routers. Generated over every route of every router,
so a new route that would make the order matter fails here at once."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Match

from app.main import API_PREFIX, api_routers

PARAM = re.compile(r"{([^}:]+)(:[^}]+)?}")
#: Each parameter tried as a number and as a word, so an int-looking id and a token both count.
SAMPLES = ("7", "x7")


def _served(path: str, method: str) -> set[int]:
    """The routers whose routes match ``method path`` (index in ``api_routers()``)."""
    scope = {"type": "http", "path": path.removeprefix(API_PREFIX), "method": method}
    return {
        index
        for index, router in enumerate(api_routers())
        for route in router.routes
        if isinstance(route, APIRoute) and route.matches(scope)[0] is Match.FULL
    }


CASES = [
    (index, route, method, PARAM.sub(sample, API_PREFIX + route.path))
    for index, router in enumerate(api_routers())
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in sorted(route.methods or ())
    for sample in SAMPLES
]


@pytest.mark.parametrize(
    ("index", "route", "method", "path"), CASES, ids=[f"{c[2]} {c[3]}" for c in CASES]
)
def test_no_request_path_is_served_by_two_routers(
    index: int, route: APIRoute, method: str, path: str
) -> None:
    served = _served(path, method)
    assert served == {index}, (
        f"{method} {path} is matched by routes of routers {sorted(served)}: the order of "
        "api_routers() would decide which one answers"
    )


def test_every_router_is_included_once() -> None:
    routers = api_routers()
    assert len({id(r) for r in routers}) == len(routers)
