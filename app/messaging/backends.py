"""Delivery backends, chosen by ``CANDOR_EMAIL_BACKEND``: console and file for development,
SendGrid (through the real ``sendgrid`` library) for production and for tests against the local
stand-in. Each email carries Candor's message id as its only custom arg: it finds duplicates and
joins provider events to messages, and it is not personal data (R-PV)."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from app.core.settings import Settings

log = logging.getLogger("candor.email")

CUSTOM_ARG = "candor_message_id"
#: Emails a backend may have in flight at once (the outbox sends a batch concurrently).
MAX_IN_FLIGHT = 16


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    message_id: int
    to: str
    subject: str
    text: str
    html: str
    from_email: str
    from_name: str
    cc: tuple[str, ...] = ()
    reply_to: str | None = None


class TransientFailure(Exception):
    """Worth retrying later (429, 5xx, timeouts); ``retry_after`` in seconds if the provider
    said so."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The provider will never accept this email as it is (4xx other than 429)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EmailBackend(Protocol):
    async def send(self, email: OutgoingEmail) -> str:
        """Deliver; answer the provider's message id, or raise a Transient/PermanentFailure."""
        ...


class ConsoleBackend:
    """Development: prints each email (the demo's default)."""

    async def send(self, email: OutgoingEmail) -> str:
        print(
            f"\n--- email {email.message_id} to {email.to}: {email.subject}\n{email.text}\n---",
            flush=True,
        )
        return f"console-{email.message_id}"


class FileBackend:
    """Development and tests: each email as one JSON file in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, email: OutgoingEmail) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"message-{email.message_id}.json"
        await asyncio.to_thread(path.write_text, json.dumps(asdict(email), indent=2), "utf-8")
        return f"file-{email.message_id}"


class SendGridBackend:
    """SendGrid's v3 Mail Send through the ``sendgrid`` library, to a configurable base URL."""

    def __init__(self, *, api_key: str, base_url: str, sandbox: bool, timeout: float) -> None:
        from sendgrid import SendGridAPIClient

        self.client = SendGridAPIClient(api_key=api_key, host=base_url)
        self.client.client.timeout = timeout
        self.sandbox = sandbox
        # The library is blocking: its calls run on a pool sized for the outbox's concurrency
        # (the default executor has only a handful of threads on a small machine).
        self._pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="sendgrid")

    def _mail(self, email: OutgoingEmail) -> Any:
        from sendgrid.helpers.mail import (
            Cc,
            Content,
            CustomArg,
            From,
            Mail,
            MailSettings,
            ReplyTo,
            SandBoxMode,
            To,
        )

        mail = Mail(from_email=From(email.from_email, email.from_name), to_emails=To(email.to))
        mail.subject = email.subject
        for address in email.cc:
            mail.add_cc(Cc(address))
        if email.reply_to:
            mail.reply_to = ReplyTo(email.reply_to)
        mail.add_content(Content("text/plain", email.text))
        mail.add_content(Content("text/html", email.html))
        mail.add_custom_arg(CustomArg(CUSTOM_ARG, str(email.message_id)))
        if self.sandbox:
            settings = MailSettings()
            settings.sandbox_mode = SandBoxMode(True)
            mail.mail_settings = settings
        return mail

    def _send_sync(self, email: OutgoingEmail) -> str:
        from python_http_client import exceptions

        try:
            response = self.client.send(self._mail(email))
        except exceptions.HTTPError as exc:
            status = int(exc.status_code)
            if status == 429:
                after = (exc.headers or {}).get("Retry-After")
                raise TransientFailure(
                    "429 too many requests", retry_after=float(after) if after else None
                ) from None
            if status >= 500:
                raise TransientFailure(f"{status} from provider") from None
            raise PermanentFailure(f"{status}: {_first_error(exc.body)}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransientFailure(f"network: {type(exc).__name__}") from None
        headers = response.headers
        return str(headers.get("X-Message-Id") or headers.get("x-message-id") or "")

    async def send(self, email: OutgoingEmail) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._send_sync, email)


def _first_error(body: bytes | str | None) -> str:
    try:
        data = json.loads(body or b"{}")
        return str(data["errors"][0]["message"])[:300]
    except (ValueError, KeyError, IndexError, TypeError):
        return "refused"


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
