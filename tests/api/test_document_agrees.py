"""R-IN: the classes of disagreement between the OpenAPI document and the service that the
contract test (tests/api/test_contract.py, schemathesis, SQLite) found, each proven here over
every operation or model it concerns, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.models import UpdateModel
from app.core.settings import Settings
from app.main import create_app
from tests.api.test_bad_input import _problem, admin_and_ids
from tests.support.database import row_counts
from tests.support.factories import Caller
from tests.support.routes import Operation, operations, request_schema, writes_with_body

__all__ = ["admin_and_ids"]  # the fixture, shared with the bad-input matrix

WRITES = writes_with_body()
DOCUMENT = create_app(Settings(environment="test", database_url="sqlite+aiosqlite://")).openapi()


def _update_models() -> list[type[UpdateModel]]:
    found: list[type[UpdateModel]] = []
    todo = list(UpdateModel.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return sorted(found, key=lambda m: m.__name__)


def _properties_of_type(model: str, json_type: str) -> list[str]:
    found = []
    for name, prop in request_schema(model)["properties"].items():
        options = prop.get("anyOf", [prop])
        if any(option.get("type") == json_type for option in options):
            found.append(name)
    return found


@pytest.mark.parametrize("op", WRITES, ids=str)
async def test_a_body_that_is_not_utf8_is_422_on_body_and_changes_nothing__R_IN(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_and_ids: tuple[Caller, dict[str, object]],
    op: Operation,
) -> None:
    """Not FastAPI's undocumented 400: the same answer as malformed JSON."""
    admin, ids = admin_and_ids
    before = await row_counts(session)
    response = await client.request(
        op.method,
        op.url(ids),
        content=b'{"name": "\xff\xfe"}',
        headers={**admin.headers, "content-type": "application/json"},
    )
    body = _problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["body"]
    assert await row_counts(session) == before


PATHS = sorted(DOCUMENT["paths"].items())


@pytest.mark.parametrize(("path", "methods"), PATHS, ids=[p for p, _ in PATHS])
async def test_405_names_every_method_the_path_serves__R_IN(
    client: httpx.AsyncClient, path: str, methods: dict[str, Any]
) -> None:
    url = path.replace("{", "").replace("}", "")  # any value fits a path parameter's slot
    response = await client.request("TRACE", url)
    _problem(response, 405)
    served = sorted(response.headers["allow"].split(", "))
    assert served == sorted(m.upper() for m in methods)


@pytest.mark.parametrize("model", _update_models(), ids=lambda m: m.__name__)
def test_patch_schemas_offer_no_null_the_server_refuses__R_IN(model: type[UpdateModel]) -> None:
    assert model.not_null & model.model_fields.keys(), f"{model.__name__} refuses no null"
    schema = DOCUMENT["components"]["schemas"][model.__name__]
    for name in model.not_null & model.model_fields.keys():
        prop = schema["properties"][name]
        options = prop.get("anyOf", [prop])
        assert all(option.get("type") != "null" for option in options), (model.__name__, name)
        assert "default" not in prop, (model.__name__, name)


BOOLEAN_WRITES = [
    (op, name) for op in WRITES for name in _properties_of_type(op.body_model or "", "boolean")
]
INTEGER_WRITES = [
    (op, name) for op in WRITES for name in _properties_of_type(op.body_model or "", "integer")
]


def test_there_are_typed_fields_to_check() -> None:
    assert len(BOOLEAN_WRITES) >= 10 and len(INTEGER_WRITES) >= 10


@pytest.mark.parametrize(
    ("op", "field", "value"),
    [(op, name, 0) for op, name in BOOLEAN_WRITES]
    + [(op, name, "1") for op, name in INTEGER_WRITES],
    ids=lambda v: str(v),
)
async def test_a_value_of_another_json_type_is_422_on_its_field__R_IN(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_and_ids: tuple[Caller, dict[str, object]],
    op: Operation,
    field: str,
    value: object,
) -> None:
    """A boolean is true or false and an integer a number without a fraction, as the document
    says: lax coercion would read 0 as false, "1" as 1, and true as 1."""
    admin, ids = admin_and_ids
    before = await row_counts(session)
    response = await client.request(
        op.method, op.url(ids), json={field: value}, headers=admin.headers
    )
    body = _problem(response, 422)
    assert f"body.{field}" in {e["field"] for e in body["errors"]}
    assert await row_counts(session) == before


@pytest.mark.parametrize("value", ["0.5", "1764579600", "2026-12-01"])
async def test_an_instant_filter_is_rfc3339_text__R_IN(
    client: httpx.AsyncClient, admin_and_ids: tuple[Caller, dict[str, object]], value: str
) -> None:
    """Numbers (read as seconds since 1970 by lax parsing) and bare dates are refused."""
    admin, _ = admin_and_ids
    for path in [op.path for op in operations() if op.method == "GET" and "{" not in op.path]:
        spec = DOCUMENT["paths"][path]["get"]
        if not any(p["name"] == "updated_since" for p in spec.get("parameters", [])):
            continue
        response = await client.get(path, params={"updated_since": value}, headers=admin.headers)
        body = _problem(response, 422)
        assert "query.updated_since" in {e["field"] for e in body["errors"]}, path


def test_upserts_document_created_and_updated__R_IN() -> None:
    upserts = [
        spec
        for path, methods in DOCUMENT["paths"].items()
        if "/by-external-id/" in path
        for spec in methods.values()
    ]
    assert len(upserts) >= 7
    for spec in upserts:
        assert {"200", "201"} <= spec["responses"].keys(), spec["operationId"]


def test_every_operation_on_the_database_documents_503_with_retry_after__R_AV() -> None:
    for path, methods in DOCUMENT["paths"].items():
        for spec in methods.values():
            if path == "/health":
                assert "503" not in spec["responses"]
                continue
            answer = spec["responses"]["503"]
            assert list(answer["content"]) == ["application/problem+json"], path
            if "webhooks" not in path:
                assert "Retry-After" in answer["headers"], path
