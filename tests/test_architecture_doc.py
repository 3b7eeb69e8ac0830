"""docs/architecture.md names functions as ``module:function``; each must exist, so the page that
tells a new engineer where things are cannot drift from the code (issue 13, style rule 12)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
REFERENCE = re.compile(r"`(app(?:\.\w+)+):(\w+)`")


def references() -> list[tuple[str, str]]:
    return sorted(set(REFERENCE.findall(DOC.read_text(encoding="utf-8"))))


def test_the_page_names_functions_at_all() -> None:
    """Guards the test below against a regular expression that silently matches nothing."""
    assert len(references()) >= 10


@pytest.mark.parametrize(("module", "name"), references(), ids=lambda v: str(v))
def test_every_named_function_exists(module: str, name: str) -> None:
    imported = importlib.import_module(module)
    assert callable(getattr(imported, name, None)), f"{module}:{name} is named in {DOC.name}"
