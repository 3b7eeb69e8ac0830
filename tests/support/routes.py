"""The app's operations, read from its routes, so API-wide tests cover every new endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from app.core.settings import Settings
from app.main import create_app

PARAM = re.compile(r"{([a-z_]+)}")
WRITE_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str
    body_model: str | None

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    def url(self, values: Mapping[str, object]) -> str:
        return PARAM.sub(lambda m: str(values[m.group(1)]), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@cache
def _document() -> dict[str, Any]:
    app = create_app(Settings(environment="test", database_url="sqlite+aiosqlite://"))
    return app.openapi()


def operations() -> list[Operation]:
    """Every operation the app serves, read from the OpenAPI document FastAPI builds from its
    routes (so nothing included in the API can be missed)."""
    found = []
    for path, methods in _document()["paths"].items():
        for method, spec in methods.items():
            ref = (
                spec.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
                .get("$ref")
            )
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    name=spec["operationId"],
                    body_model=ref.rsplit("/", 1)[-1] if ref else None,
                )
            )
    return sorted(found, key=lambda op: (op.path, op.method))


def request_schema(model: str) -> dict[str, Any]:
    schema: dict[str, Any] = _document()["components"]["schemas"][model]
    return schema


def authenticated() -> list[Operation]:
    """Everything but health, provider webhooks (signed, not keyed: tests/integrations) and
    the candidate's links, opt-out and portal (the token is the credential: tests/messaging,
    tests/portal)."""
    return [
        op
        for op in operations()
        if op.path != "/health"
        and not op.path.startswith(("/v1/webhooks/", "/v1/opt-out/", "/v1/portal/"))
    ]


def writes_with_body() -> list[Operation]:
    return [op for op in operations() if op.method in WRITE_METHODS and op.body_model]


@dataclass(frozen=True)
class Field:
    """A string property of a request body, or of an array in it, as the schema declares it."""

    name: str
    format: str | None
    pattern: str | None
    in_array: bool


def _string_options(prop: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    found = []
    for option in prop.get("anyOf", [prop]):
        items = option.get("items", {})
        if option.get("type") == "string" and "enum" not in option:
            found.append((option, False))
        elif (
            option.get("type") == "array" and items.get("type") == "string" and "enum" not in items
        ):
            found.append((items, True))
    return found


def string_fields(model: str) -> list[Field]:
    """Every string property of a request body (enums aside): its format and pattern."""
    return [
        Field(name, option.get("format"), option.get("pattern"), in_array)
        for name, prop in request_schema(model)["properties"].items()
        for option, in_array in _string_options(prop)
    ]


@dataclass(frozen=True)
class Param:
    """A string parameter of an operation (query or path), enums aside."""

    op: Operation
    location: str
    name: str
    format: str | None
    pattern: str | None


def string_params() -> list[Param]:
    """Every string query or path parameter of every operation, read from the document."""
    document = _document()
    found = []
    for op in operations():
        spec = document["paths"][op.path][op.method.lower()]
        for parameter in spec.get("parameters", []):
            if parameter["in"] not in ("query", "path"):
                continue
            for option, in_array in _string_options(parameter.get("schema", {})):
                if not in_array:
                    found.append(
                        Param(
                            op,
                            parameter["in"],
                            parameter["name"],
                            option.get("format"),
                            option.get("pattern"),
                        )
                    )
    return found


async def read_every_get(
    client: httpx.AsyncClient, headers: Mapping[str, str], ids: Mapping[str, object], secret: str
) -> int:
    """R-PV: every GET operation whose path ``ids`` can fill, read with ``headers``; none may show
    ``secret``. Answers how many answered 200 (a caller may be refused some, never shown it)."""
    read = 0
    for op in authenticated():
        if op.method != "GET" or not set(op.params) <= set(ids):
            continue
        response = await client.get(op.url(ids), headers=headers)
        assert response.status_code in (200, 403), f"{op}: {response.status_code}"
        assert secret not in response.text, f"{op} shows what this caller may not see"
        read += response.status_code == 200
    return read
