"""R-IN at the command line too: `candor keys create --name` takes a name by the API's rule."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import cli


@pytest.mark.parametrize("name", ["ops\nlaptop", "ops\x00", "ops\u202elaptop", ""])
def test_keys_create_refuses_a_name_the_api_would_refuse__R_IN(name: str) -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--role", "admin", "--name", name])
    assert result.exit_code == 2, result.output
    assert "--name" in result.output
