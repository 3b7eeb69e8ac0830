"""SendGrid's v3 Mail Send (payloads built by the real ``sendgrid`` library, posted with
``aiohttp``): production, and tests against the local stand-in."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import orjson
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

from app.messaging.backends.base import (
    CUSTOM_ARG,
    MAX_IN_FLIGHT,
    OutgoingEmail,
    PermanentFailure,
    TransientFailure,
)


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
        mail = Mail(
            from_email=From(email.from_email, email.from_name), to_emails=_bare(To, email.to)
        )
        mail.subject = email.subject
        for address in email.cc:
            mail.add_cc(_bare(Cc, address))
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
        """The request body of ``email`` (what the benchmark's plain loops post too): the
        library's dict, serialised by orjson (UTF-8 JSON, a twentieth of ``json.dumps``'s CPU
        for a body of a few kilobytes: 0.4 against 6.8 us; decision record 0089)."""
        return orjson.dumps(self._mail(email).get())

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
                # The Mail Send API sets no cookies and answers tiny bodies: no cookie filtering
                # and no decompression on every request (and no Accept-Encoding, so an error's
                # body comes uncompressed, readable by ``_first_error``).
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
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


def _bare(kind: type[Any], address: str) -> Any:
    """A recipient of a bare address (no display name), set through the helper's ``email``
    property: the constructor would run ``email.utils.parseaddr`` on it to look for a name, a
    third of building the payload, for addresses Candor has already checked (R-IN)."""
    recipient = kind()
    recipient.email = address
    return recipient


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
