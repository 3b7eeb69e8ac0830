"""The committed OpenAPI document is the app's; every operation is documented (issue 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.openapi_export import document, render

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_document_equals_the_apps() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    )


OPERATIONS = [
    (path, method, spec)
    for path, methods in document()["paths"].items()
    for method, spec in methods.items()
]


@pytest.mark.parametrize(("path", "method", "spec"), OPERATIONS, ids=lambda v: str(v)[:60])
def test_every_operation_has_summary_description_and_errors(
    path: str, method: str, spec: dict[str, object]
) -> None:
    assert spec.get("summary"), f"{method} {path} has no summary"
    assert spec.get("description"), f"{method} {path} has no docstring"
    responses = spec["responses"]
    assert isinstance(responses, dict)
    if path != "/health" and not path.startswith(("/v1/opt-out/", "/v1/portal/")):
        assert "401" in responses  # the opt-out link's token is its credential (404 if wrong)
    if spec.get("parameters") or spec.get("requestBody"):
        assert "422" in responses
    if spec.get("requestBody"):
        assert "413" in responses
        for code, answer in responses.items():
            if code.startswith(("4", "5")):
                assert list(answer["content"]) == ["application/problem+json"], (path, code)


def test_committed_document_is_valid_json_with_every_path() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert set(committed["paths"]) == set(document()["paths"])
