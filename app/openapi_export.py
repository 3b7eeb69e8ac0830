"""Write the app's OpenAPI document (``make openapi``); a test keeps the committed one equal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.core.settings import Settings
from app.main import create_app


def document() -> dict[str, Any]:
    # The document never depends on the environment: build it from default settings.
    app = create_app(Settings(environment="development", database_url="sqlite+aiosqlite://"))
    return app.openapi()


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "openapi/openapi.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
