"""Delivery backends, chosen by ``CANDOR_EMAIL_BACKEND``: console and file for development,
SendGrid (payloads built by the real ``sendgrid`` library, posted with ``aiohttp``) for
production and for tests against the local stand-in. Each email carries Candor's message id as
its only custom arg: it finds duplicates and joins provider events to messages, and it is not
personal data (R-PV)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from app.core.models import line_safe
from app.core.settings import Settings

log = logging.getLogger("candor.email")

CUSTOM_ARG = "candor_message_id"
#: Emails a backend may have in flight at once (the outbox sends a batch concurrently).
MAX_IN_FLIGHT = 16


#: The fields of an email that become header lines (everything but the bodies).
HEADER_FIELDS = ("to", "subject", "from_email", "from_name", "reply_to")


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One email as every backend gets it. Its header fields are made single-line here, the one
    place every email passes, whatever the backend: input is validated, but a name or a job title
    stored before that (or written by an import) must still never add a header line (R-IN)."""

    message_id: int
    to: str
    subject: str
    text: str
    html: str
    from_email: str
    from_name: str
    cc: tuple[str, ...] = ()
    reply_to: str | None = None

    def __post_init__(self) -> None:
        for name in HEADER_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, line_safe(value).strip())
        object.__setattr__(self, "cc", tuple(line_safe(a).strip() for a in self.cc))


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

    async def aclose(self) -> None:
        """Release connections (the worker calls it on the way out)."""
        ...


class ConsoleBackend:
    """Development: prints each email (the demo's default)."""

    async def send(self, email: OutgoingEmail) -> str:
        print(
            f"\n--- email {email.message_id} to {email.to}: {email.subject}\n{email.text}\n---",
            flush=True,
        )
        return f"console-{email.message_id}"

    async def aclose(self) -> None:
        return None


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


class SendGridBackend:
    """SendGrid's v3 Mail Send, to a configurable base URL: the payload is built by the
    ``sendgrid`` library's helpers (``Mail(...).get()``), and posted by an ``aiohttp`` client
    session on the worker's own event loop.

    Why not the library's own (blocking, urllib) client on a thread pool: every send then cost a
    thread hand-off and a new connection, and the drain benchmark spent more time there than in
    the database. Why not ``httpx.AsyncClient`` (already a dependency): on the drain benchmark
    (docs/performance.md) the same payloads to the same stand-in went about ten times slower
    through it than through ``aiohttp``.

    The session is opened on the first send (it belongs to the running loop) and closed by
    :meth:`aclose`; a backend that never sent needs no closing.
    """

    def __init__(self, *, api_key: str, base_url: str, sandbox: bool, timeout: float) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.sandbox = sandbox
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

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

    def payload(self, email: OutgoingEmail) -> bytes:
        """The request body of ``email`` (what the benchmark's plain loops post too)."""
        return json.dumps(self._mail(email).get()).encode()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={
                    "Authorization": f"Bearer {self.api_key}",
                    "Content-Type": "application/json",
                    "User-Agent": "candor",
                },
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                # Keep-alive connections, as many as the outbox has sends in flight.
                connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT),
                raise_for_status=False,
            )
        return self._session

    async def send(self, email: OutgoingEmail) -> str:
        body = self.payload(email)
        try:
            async with self._client().post(f"{self.base_url}/v3/mail/send", data=body) as response:
                status = response.status
                answer = await response.read()
                if status < 300:
                    return str(response.headers.get("X-Message-Id") or "")
                retry_after = response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # A timeout does not mean the provider refused it: retried (at-least-once).
            raise TransientFailure(f"network: {type(exc).__name__}") from None
        if status == 429:
            raise TransientFailure(
                "429 too many requests", retry_after=_seconds(retry_after)
            ) from None
        if status >= 500:
            raise TransientFailure(f"{status} from provider")
        raise PermanentFailure(f"{status}: {_first_error(answer)}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is not used by SendGrid): None if absent
    or unreadable, so the backoff alone decides."""
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


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
