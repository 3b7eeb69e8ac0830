"""Delivery in scenario tests: `candor worker --once --now` steps that send through the real
`sendgrid` library to the local SendGrid stand-in (fixtures `standin` and `mailer` in
tests/conftest.py)."""

from __future__ import annotations

from typing import Any

from app.core.settings import Settings
from app.messaging.backends import SendGridBackend
from tests.support.agency import worker_once
from tools.sendgrid_standin import AcceptedMail, SendGridStandIn

KEY = "SG.test-key"


class Mailer:
    def __init__(self, connection: Any, standin: SendGridStandIn) -> None:
        self.connection = connection
        self.standin = standin
        self.settings = Settings(
            environment="test",
            email_backend="sendgrid",
            sendgrid_api_key=KEY,  # type: ignore[arg-type]
            sendgrid_base_url=standin.base_url,
        )
        self.backend = SendGridBackend(
            api_key=KEY, base_url=standin.base_url, sandbox=False, timeout=5
        )

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def step(self, now: str) -> list[AcceptedMail]:
        """One worker round at ``now``; answers the emails it delivered."""
        before = len(self.standin.accepted)
        await worker_once(self.connection, now, settings=self.settings, backend=self.backend)
        return list(self.standin.accepted[before:])
