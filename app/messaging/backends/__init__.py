"""Delivery backends, chosen by ``CANDOR_EMAIL_BACKEND``: console and file for development,
SendGrid (payloads built by the real ``sendgrid`` library, posted with ``aiohttp``) for
production and for tests against the local stand-in. Each email carries Candor's message id as
its only custom arg: it finds duplicates and joins provider events to messages, and it is not
personal data (R-PV)."""

from __future__ import annotations

from pathlib import Path

from app.core.settings import Settings
from app.messaging.backends.base import (
    CUSTOM_ARG,
    HEADER_FIELDS,
    MAX_IN_FLIGHT,
    EmailBackend,
    OutgoingEmail,
    PermanentFailure,
    TransientFailure,
)
from app.messaging.backends.console import ConsoleBackend
from app.messaging.backends.file import FileBackend
from app.messaging.backends.sendgrid import SendGridBackend

__all__ = [
    "CUSTOM_ARG",
    "HEADER_FIELDS",
    "MAX_IN_FLIGHT",
    "ConsoleBackend",
    "EmailBackend",
    "FileBackend",
    "OutgoingEmail",
    "PermanentFailure",
    "SendGridBackend",
    "TransientFailure",
    "make_backend",
]


def make_backend(settings: Settings) -> EmailBackend:
    if settings.email_backend == "file":
        return FileBackend(Path(settings.email_folder))
    if settings.email_backend == "sendgrid":
        return SendGridBackend(
            api_key=settings.sendgrid_api_key.get_secret_value(),
            base_url=settings.sendgrid_base_url,
            sandbox=settings.sendgrid_sandbox,
            timeout=settings.sendgrid_timeout_seconds,
        )
    return ConsoleBackend()
