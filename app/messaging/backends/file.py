"""Development and tests: each email as one JSON file in a folder."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

from app.messaging.backends.base import OutgoingEmail


class FileBackend:
    """Development and tests: each email as one JSON file in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, email: OutgoingEmail) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"message-{email.message_id}.json"
        await asyncio.to_thread(path.write_text, json.dumps(asdict(email), indent=2), "utf-8")
        return f"file-{email.message_id}"

    async def aclose(self) -> None:
        return None
