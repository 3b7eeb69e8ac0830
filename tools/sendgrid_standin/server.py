"""A local stand-in for SendGrid's v3 Mail Send API, served over real HTTP on loopback.

Tests and the demo point the real ``sendgrid`` library at it
(``SendGridAPIClient(key, host=standin.base_url)``), so every byte our delivery backend sends
goes through the same client code, the same JSON and the same HTTP status handling as in
production, and nothing leaves the machine.

It mirrors the documented contract of ``POST /v3/mail/send``: ``202 Accepted`` with an empty
body and an ``X-Message-Id`` header; ``200 OK`` without delivery in sandbox mode; ``401`` for a
missing or wrong ``Authorization: Bearer`` key; ``400`` naming the field at fault, in SendGrid's
``{"errors": [{"message", "field", "help"}]}`` shape, for the documented limits; ``413`` for a
body of 30 MB or more. Tests can also make it answer ``429``/``5xx`` or hang, to prove retries
and timeouts against a server that really behaves that way.

Sources for the rules, so a reader can check them: the Mail Send "Limitations" page and the
"Mail Send errors" table in SendGrid's documentation, the ``tsg_mail_v3`` OpenAPI document in
``twilio/sendgrid-oai``, and the "Sandbox Mode" and "Rate Limits" pages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from types import FrameType, TracebackType
from typing import Any, Literal, TypeGuard

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core.clock import utcnow

#: The environment variable ``main()`` reads the accepted API key from.
KEY_ENV = "CANDOR_SENDGRID_STANDIN_KEY"
#: The port ``main()`` listens on unless told otherwise.
DEFAULT_PORT = 8090

#: "The total size of your email, including attachments, must be less than 30MB." Measured
#: here as the request body in bytes; SendGrid does not say whether MB means 10^6 or 2^20, so
#: the larger reading is taken, which refuses nothing the real service would take.
MAX_MESSAGE_BYTES = 30 * 1024 * 1024
#: "The personalization block is limited to 1000 personalizations per API request."
MAX_PERSONALIZATIONS = 1000
#: "The total number of recipients must be no more than 1000", counted over to, cc and bcc
#: of every personalization of the request.
MAX_RECIPIENTS = 1000
#: "The combined size of both global and personalization custom arguments may not exceed
#: 10,000 bytes per personalization." Measured as compact UTF-8 JSON of the merged object.
MAX_CUSTOM_ARGS_BYTES = 10_000
#: "There is a limit of 10 categories for each email that is sent."
MAX_CATEGORIES = 10
#: "Each category must not be longer than 255 characters."
MAX_CATEGORY_CHARS = 255
#: "... exceeds the maximum total length of 320 characters" (to, cc, bcc, from, reply-to).
MAX_ADDRESS_CHARS = 320
#: "Scheduling more than 72 hours in advance is forbidden."
MAX_SCHEDULE_AHEAD = timedelta(hours=72)

#: Headers SendGrid will not let a sender set ("Header cannot be one of the reserved keys").
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)

_HELP_BASE = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message."
# A dot-atom local part and a dotted host name with an alphabetic top-level label: strict
# enough to catch what a template bug produces ("", "jane", "jane@", "a@@b"), loose enough to
# accept every address a candidate can really have.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
_RECIPIENT_KINDS = ("to", "cc", "bcc")
_KIND_LABELS = {"to": "To", "cc": "CC", "bcc": "BCC"}


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of SendGrid's ``errors`` array: what is wrong, and in which field."""

    message: str
    field: str | None = None

    @property
    def help(self) -> str | None:
        """The errors-table anchor SendGrid links, e.g. ``#message.personalizations.to``."""
        if self.field is None:
            return None
        parts = [part for part in self.field.split(".") if not part.isdigit()]
        if len(parts) > 1 and parts[-1] == "email":
            parts.pop()
        return _HELP_BASE + ".".join(parts)

    def as_json(self) -> dict[str, str | None]:
        """The entry exactly as SendGrid writes it (``field``/``help`` are ``null`` if none)."""
        return {"message": self.message, "field": self.field, "help": self.help}


@dataclass(frozen=True, slots=True)
class AcceptedMail:
    """A request the stand-in accepted, as a test wants to read it back.

    ``payload`` is the JSON body as received; the accessors answer the questions tests ask
    ("who got it, with which subject and body, carrying which custom args?") the way SendGrid
    resolves them: a personalization's subject and custom args override the message's.
    """

    message_id: str
    payload: dict[str, Any]
    received_at: datetime
    sandboxed: bool

    @property
    def personalizations(self) -> list[dict[str, Any]]:
        """The envelopes of the request, one per separately delivered message."""
        return list(self.payload["personalizations"])

    @property
    def to(self) -> list[str]:
        """Every ``to`` address, over all personalizations, in request order."""
        return self._addresses("to")

    @property
    def cc(self) -> list[str]:
        """Every ``cc`` address, over all personalizations, in request order."""
        return self._addresses("cc")

    @property
    def bcc(self) -> list[str]:
        """Every ``bcc`` address, over all personalizations, in request order."""
        return self._addresses("bcc")

    @property
    def recipients(self) -> list[str]:
        """Everyone the request reaches (to, then cc, then bcc)."""
        return self.to + self.cc + self.bcc

    @property
    def from_email(self) -> str:
        """The sender address of the message."""
        return str(self.payload["from"]["email"])

    @property
    def subject(self) -> str | None:
        """The subject the first personalization's recipients see."""
        return self.subject_for(0)

    def subject_for(self, index: int) -> str | None:
        """The subject of personalization ``index``: its own, else the message's."""
        own = self.payload["personalizations"][index].get("subject")
        if own is not None:
            return str(own)
        top = self.payload.get("subject")
        return None if top is None else str(top)

    @property
    def text(self) -> str | None:
        """The ``text/plain`` body, if the message has one."""
        return self._content("text/plain")

    @property
    def html(self) -> str | None:
        """The ``text/html`` body, if the message has one."""
        return self._content("text/html")

    @property
    def custom_args(self) -> dict[str, str]:
        """The custom args the first personalization's events will carry."""
        return self.custom_args_for(0)

    def custom_args_for(self, index: int) -> dict[str, str]:
        """Message-level custom args merged with personalization ``index``'s, which win."""
        merged: dict[str, str] = dict(self.payload.get("custom_args") or {})
        merged.update(self.payload["personalizations"][index].get("custom_args") or {})
        return merged

    @property
    def categories(self) -> list[str]:
        """The categories the message is filed under."""
        return list(self.payload.get("categories") or [])

    def _addresses(self, kind: str) -> list[str]:
        return [
            str(entry["email"])
            for personalization in self.payload["personalizations"]
            for entry in personalization.get(kind) or []
        ]

    def _content(self, mime_type: str) -> str | None:
        for item in self.payload.get("content") or []:
            if str(item.get("type", "")).lower() == mime_type:
                return str(item["value"])
        return None


# --------------------------------------------------------------------------------------------
# Validation: the documented rules of POST /v3/mail/send, as a pure function.
# --------------------------------------------------------------------------------------------


def validate_mail_send(payload: object, *, now: datetime) -> list[ErrorDetail]:
    """Every documented reason SendGrid would refuse ``payload`` with a 400; empty if none.

    Like SendGrid, it reports all the problems it finds, not just the first, so one failed
    test shows everything wrong with a message. ``now`` bounds ``send_at`` (at most 72 hours
    ahead).
    """
    if not isinstance(payload, dict):
        return [ErrorDetail("Bad Request")]
    check = _Checker(now=now)
    check.mail(payload)
    return check.errors


class _Checker:
    """Collects the errors of one payload; each method checks one part of the request."""

    def __init__(self, *, now: datetime) -> None:
        self.now = now
        self.errors: list[ErrorDetail] = []

    def fail(self, message: str, field: str | None) -> None:
        self.errors.append(ErrorDetail(message, field))

    def mail(self, payload: dict[str, Any]) -> None:
        uses_template = payload.get("template_id") is not None
        self.template_id(payload)
        self.sender(payload.get("from"))
        self.reply_to(payload)
        self.subject(payload, uses_template=uses_template)
        self.content(payload.get("content"), uses_template=uses_template)
        top_args_ok = self.custom_args(payload.get("custom_args"), "custom_args")
        self.personalizations(payload, top_args_ok=top_args_ok)
        self.categories(payload.get("categories"))
        self.headers(payload.get("headers"), "headers")
        self.send_at(payload.get("send_at"), "send_at")
        self.sandbox_flag(payload.get("mail_settings"))

    def template_id(self, payload: dict[str, Any]) -> None:
        value = payload.get("template_id")
        if value is not None and not isinstance(value, str):
            self.fail(f"The template ID must be a string, you provided {value!r}.", "template_id")

    def sender(self, value: object) -> None:
        if value is None:
            self.fail(
                "The from object must be provided for every email send. It is an object that "
                'requires the email parameter, but may also contain a name parameter. e.g. {"email"'
                ' : "example@example.com"} or {"email" : "example@example.com", "name" : '
                '"Example Recipient"}.',
                "from",
            )
        elif not _is_address_object(value):
            self.fail(
                "The from object must at least have an email parameter with a valid email "
                "address and may also contain a name parameter.",
                "from",
            )
        elif len(value["email"]) > MAX_ADDRESS_CHARS:
            self.fail("The From email exceeds the maximum total length of 320 characters", "from")

    def reply_to(self, payload: dict[str, Any]) -> None:
        reply_to = payload.get("reply_to")
        reply_to_list = payload.get("reply_to_list")
        if reply_to is not None and reply_to_list is not None:
            self.fail(
                "The reply_to and reply_to_list properties are mutually exclusive.",
                "reply_to_list",
            )
        if reply_to is not None and not _is_address_object(reply_to):
            self.fail(
                "The reply_to object, when used, must at least have an email parameter with a "
                "valid email address and it may also contain a name parameter.",
                "reply_to",
            )
        if reply_to_list is not None:
            if not isinstance(reply_to_list, list) or not reply_to_list:
                self.fail("The reply_to_list must be a non-empty array.", "reply_to_list")
                return
            for index, entry in enumerate(reply_to_list):
                if not _is_address_object(entry):
                    self.fail("Does not contain a valid address.", f"reply_to_list.{index}.email")

    def subject(self, payload: dict[str, Any], *, uses_template: bool) -> None:
        top = payload.get("subject")
        if top is not None and not _is_text(top):
            self.fail(
                "The subject of your email must be a string at least one character in length.",
                "subject",
            )
            return
        personalizations = payload.get("personalizations")
        if top is not None or uses_template or not isinstance(personalizations, list):
            return
        if not personalizations or any(
            not isinstance(p, dict) or p.get("subject") is None for p in personalizations
        ):
            self.fail(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
            )

    def content(self, value: object, *, uses_template: bool) -> None:
        if value is None:
            if not uses_template:
                self.fail(
                    "The content param is required unless you are using a transactional "
                    "template and have defined a template_ID.",
                    "content",
                )
            return
        if not isinstance(value, list) or not value:
            self.fail(
                "There must be at least one defined content block. We typically suggest both "
                "text/plain and text/html blocks are included, but only one block is required.",
                "content",
            )
            return
        types: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.fail("Each content block must be an object.", f"content.{index}")
                continue
            mime_type = item.get("type")
            if not _is_text(mime_type):
                self.fail(
                    "Your content type must be a string with length of at least one character.",
                    f"content.{index}.type",
                )
            elif any(char in mime_type for char in ";\r\n"):
                self.fail("Cannot contain ';', or CRLF characters.", f"content.{index}.type")
            else:
                types.append(mime_type.lower())
            if not _is_text(item.get("value")):
                self.fail(
                    "The content value must be a string at least one character in length.",
                    f"content.{index}.value",
                )
        if types.count("text/plain") > 1 or types.count("text/html") > 1:
            self.fail("If present, text/plain and text/html may only be provided once.", "content")
        elif not _plain_then_html(types):
            self.fail(
                "Following RFC 1341, section 7.2, if either text/html or text/plain are to be "
                "sent in your email: text/plain needs to be first, followed by text/html, "
                "followed by any other content.",
                "content",
            )

    def personalizations(self, payload: dict[str, Any], *, top_args_ok: bool) -> None:
        value = payload.get("personalizations")
        if not isinstance(value, list) or not value:
            self.fail("You must have at least one personalization.", "personalizations")
            return
        if len(value) > MAX_PERSONALIZATIONS:
            self.fail(
                f"The personalization block is limited to {MAX_PERSONALIZATIONS} "
                f"personalizations per API request. You have provided {len(value)} "
                "personalizations. Please consider splitting this into multiple requests and "
                "resending your request.",
                "personalizations",
            )
        top_args = payload.get("custom_args") if top_args_ok else None
        recipients = 0
        for index, personalization in enumerate(value):
            where = f"personalizations.{index}"
            if not isinstance(personalization, dict):
                self.fail("Each personalization must be an object.", where)
                continue
            recipients += self.recipients(personalization, where)
            subject = personalization.get("subject")
            if subject is not None and not _is_text(subject):
                self.fail(
                    "The subject of your email must be a string at least one character in length.",
                    f"{where}.subject",
                )
            own_args = personalization.get("custom_args")
            if self.custom_args(own_args, f"{where}.custom_args") and top_args_ok:
                merged = {**(top_args or {}), **(own_args or {})}
                if _json_bytes(merged) > MAX_CUSTOM_ARGS_BYTES:
                    self.fail(
                        "The combined size of both global and personalization custom arguments "
                        "may not exceed 10,000 bytes per personalization.",
                        f"{where}.custom_args",
                    )
            self.headers(personalization.get("headers"), f"{where}.headers")
            self.send_at(personalization.get("send_at"), f"{where}.send_at")
        if recipients > MAX_RECIPIENTS:
            self.fail(
                f"There is a limit of {MAX_RECIPIENTS} total recipients (to + cc + bcc) per "
                "request.",
                "personalizations",
            )

    def recipients(self, personalization: dict[str, Any], where: str) -> int:
        """Checks to/cc/bcc of one personalization; answers how many recipients it names."""
        to = personalization.get("to")
        if not isinstance(to, list) or not to:
            self.fail(
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                f"{where}.to",
            )
        seen: set[str] = set()
        duplicate_reported = False
        count = 0
        for kind in _RECIPIENT_KINDS:
            entries = personalization.get(kind)
            if entries is None or (kind == "to" and (not isinstance(entries, list) or not entries)):
                continue  # absent cc/bcc is fine; a missing or empty to was reported above
            if not isinstance(entries, list) or not entries:
                self.fail(
                    f"The {kind} array, when used, must at least have an email parameter with a "
                    "valid email address and it may also contain a name parameter.",
                    f"{where}.{kind}",
                )
                continue
            for position, entry in enumerate(entries):
                count += 1
                field = f"{where}.{kind}.{position}"
                if not _is_address_object(entry):
                    self.fail("Does not contain a valid address.", f"{field}.email")
                    continue
                address = entry["email"]
                if len(address) > MAX_ADDRESS_CHARS:
                    self.fail(
                        f"The {_KIND_LABELS[kind]} email exceeds the maximum total length of 320 "
                        "characters",
                        f"{field}.email",
                    )
                name = entry.get("name")
                if isinstance(name, str) and (";" in name or "," in name):
                    self.fail("The name cannot contain the ';' or ',' characters.", f"{field}.name")
                key = address.lower()
                if key in seen and not duplicate_reported:
                    duplicate_reported = True
                    self.fail(
                        "Each email address in the personalization block should be unique "
                        "between to, cc, and bcc. We found the first duplicate instance of "
                        f"[{address}] in the {where}.{kind} field.",
                        where,
                    )
                seen.add(key)
        return count

    def custom_args(self, value: object, field: str) -> bool:
        """Checks one custom_args object on its own; False if it is unusable or too large."""
        if value is None:
            return True
        if not isinstance(value, dict):
            self.fail("The custom_args must be an object of key/value pairs.", field)
            return False
        if not value:
            self.fail("custom_args cannot be empty.", field)
            return False
        if not all(isinstance(item, str) for item in value.values()):
            self.fail("All values of custom arguments object must be strings", field)
            return False
        if _json_bytes(value) > MAX_CUSTOM_ARGS_BYTES:
            self.fail("Total custom_args size may not exceed 10,000 bytes.", field)
            return False
        return True

    def categories(self, value: object) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail("Categories must be an array of strings.", "categories")
            return
        if len(value) > MAX_CATEGORIES:
            self.fail(
                f"There is a limit of {MAX_CATEGORIES} categories for each email that is sent. "
                f"You provided {len(value)} categories.",
                "categories",
            )
        seen: set[str] = set()
        for category in value:
            if len(category) > MAX_CATEGORY_CHARS:
                self.fail(
                    f"Each category must not be longer than {MAX_CATEGORY_CHARS} characters. "
                    f"{category[:40]}... exceeds this limit",
                    "categories",
                )
            if not category.isascii():
                self.fail("Categories can not contain non-ASCII characters.", "categories")
            if category in seen:
                self.fail(
                    "The categories must be a unique list, and you have included "
                    f"{category} more than once.",
                    "categories",
                )
            seen.add(category)

    def headers(self, value: object, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.fail("The headers must be an object of key/value pairs.", field)
            return
        for name, item in value.items():
            if not isinstance(item, str):
                self.fail("The header values must be strings.", field)
            elif not name.isascii() or " " in name or not name:
                self.fail(
                    "Header keys cannot contain non-ASCII characters and empty spaces.", field
                )
            elif name.lower() in RESERVED_HEADERS:
                self.fail("Header can not be one of the reserved keys.", field)

    def send_at(self, value: object, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(
                "The send_at parameter is expecting a Unix timestamp as an integer. We will send "
                "immediately if you include a send_at timestamp that is in the past.",
                field,
            )
        elif value > (self.now + MAX_SCHEDULE_AHEAD).timestamp():
            self.fail("Scheduling more than 72 hours in advance is forbidden.", field)

    def sandbox_flag(self, mail_settings: object) -> None:
        if mail_settings is None:
            return
        if not isinstance(mail_settings, dict):
            self.fail("The mail_settings must be an object.", "mail_settings")
            return
        sandbox = mail_settings.get("sandbox_mode")
        if sandbox is None:
            return
        if not isinstance(sandbox, dict) or not isinstance(sandbox.get("enable"), bool):
            self.fail(
                "The sandbox mode enable param should be a boolean value.",
                "mail_settings.sandbox_mode.enable",
            )


def _is_text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) > 0


def _is_address_object(value: object) -> TypeGuard[dict[str, Any]]:
    if not isinstance(value, dict):
        return False
    address = value.get("email")
    return isinstance(address, str) and _EMAIL.fullmatch(address) is not None


def _plain_then_html(types: Sequence[str]) -> bool:
    """text/plain first if present, then text/html (AMP may sit between, as the SDK puts it)."""
    order = [mime for mime in types if mime != "text/x-amp-html"]
    expected = [mime for mime in ("text/plain", "text/html") if mime in order]
    return order[: len(expected)] == expected


def _json_bytes(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _is_sandboxed(payload: dict[str, Any]) -> bool:
    settings = payload.get("mail_settings") or {}
    return (settings.get("sandbox_mode") or {}).get("enable") is True


# --------------------------------------------------------------------------------------------
# The server.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fault:
    """One planned misbehaviour, used up by the next request to the mail send endpoint."""

    kind: Literal["fail", "hang"]
    status: int = 500
    retry_after: int | None = None
    seconds: float = 0.0


class _Server(uvicorn.Server):
    """uvicorn's server, telling its owner the moment it listens, from inside its loop."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[_Server], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_listening(self)


class SendGridStandIn:
    """A real HTTP server on loopback that answers like SendGrid's ``POST /v3/mail/send``.

    It runs uvicorn in a background thread, so sync tests, async tests and the demo can all
    call it; everything it records or is told is guarded by one lock, since the server thread
    and the test thread touch it at once.
    """

    def __init__(
        self,
        api_key: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        if not api_key:
            raise ValueError("the stand-in needs the API key its clients must present")
        self._api_key = api_key.encode()
        self._host = host
        self._port = port
        self._log_level = log_level
        self._cond = threading.Condition()
        self._accepted: list[AcceptedMail] = []
        self._requests = 0
        self._generation = 0  # bumped by reset(), so requests from before it record nothing
        self._faults: deque[_Fault] = deque()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._bound_port: int | None = None
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, *, timeout: float = 10.0) -> SendGridStandIn:
        """Start serving; returns once the socket listens, so a request sent next is answered."""
        if self._thread is not None:
            raise RuntimeError("a SendGridStandIn starts once; make a new one to serve again")
        access_log = self._log_level.lower() in {"info", "debug", "trace"}
        config = uvicorn.Config(
            self.app(),
            host=self._host,
            port=self._port,
            # uvloop and httptools (both in uvicorn[standard]): the stand-in's own speed caps
            # what a delivery benchmark can show. uvicorn >= 0.36 gives the loop to this
            # server's thread only (a loop factory), never to the process's other loops.
            loop="uvloop",
            http="httptools",
            ws="none",
            lifespan="off",
            log_config=None,
            log_level=self._log_level,
            access_log=access_log,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._server = _Server(config, self._on_listening)
        self._thread = threading.Thread(target=self._serve, name="sendgrid-standin", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"the SendGrid stand-in did not listen within {timeout} s")
        if self._bound_port is None:
            self._thread.join()
            raise RuntimeError(
                f"the SendGrid stand-in could not listen on {self._host}:{self._port}"
            )
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop serving: a hanging answer is cut short (503), then the thread is joined."""
        server, thread = self._server, self._thread
        if server is None or thread is None or self._stopped:
            return
        self._stopped = True
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed: nothing hangs
                self._loop.call_soon_threadsafe(self._stopping.set)
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the SendGrid stand-in did not stop within {timeout} s")

    def __enter__(self) -> SendGridStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> SendGridStandIn:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    @property
    def base_url(self) -> str:
        """Where to point ``SendGridAPIClient(host=...)``, e.g. ``http://127.0.0.1:54321``."""
        if self._bound_port is None:
            raise RuntimeError("the SendGrid stand-in is not listening; call start() first")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port}"

    def _serve(self) -> None:
        assert self._server is not None
        try:
            self._server.run()
        finally:
            self._ready.set()  # wakes start() even when uvicorn gave up before listening

    def _on_listening(self, server: _Server) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._bound_port = int(server.servers[0].sockets[0].getsockname()[1])
        self._ready.set()

    # -- what tests read -----------------------------------------------------------------------

    @property
    def accepted(self) -> list[AcceptedMail]:
        """Every accepted request (202, and 200 in sandbox mode), oldest first."""
        with self._cond:
            return list(self._accepted)

    @property
    def delivered(self) -> list[AcceptedMail]:
        """The accepted requests SendGrid would really deliver: sandboxed ones are not."""
        return [mail for mail in self.accepted if not mail.sandboxed]

    @property
    def requests(self) -> int:
        """How many requests reached the mail send endpoint, refused ones included."""
        with self._cond:
            return self._requests

    def wait_for(self, count: int, timeout: float = 5.0) -> list[AcceptedMail]:
        """Block until at least ``count`` mails are accepted; TimeoutError if they are not."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._accepted) >= count, timeout):
                raise TimeoutError(
                    f"{len(self._accepted)} mail(s) accepted within {timeout} s, wanted {count}"
                )
            return list(self._accepted)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> int:
        """Block until at least ``count`` requests arrived (refused or not); TimeoutError if not.

        For tests that must know a request is in flight (a hanging one) before acting.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._requests >= count, timeout):
                raise TimeoutError(
                    f"{self._requests} request(s) arrived within {timeout} s, wanted {count}"
                )
            return self._requests

    # -- what tests tell it --------------------------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 429, retry_after: int | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` before looking at them.

        A ``429`` carries SendGrid's documented ``X-RateLimit-*`` headers; ``retry_after``
        adds a ``Retry-After`` header (seconds), which SendGrid itself does not document.
        Planned faults queue up in the order they were planned.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        if not 400 <= status <= 599:
            raise ValueError("fail_next plans an error answer: status must be 4xx or 5xx")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after is a number of seconds and must not be negative")
        self._plan(_Fault("fail", status=status, retry_after=retry_after) for _ in range(n))

    def hang_next(self, n: int = 1, seconds: float = 5.0) -> None:
        """Delay the answer to the next ``n`` requests by ``seconds``, then answer normally.

        The request is still processed after the delay, even if the client gave up: as with
        the real service, a client-side timeout does not mean the mail was not sent.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        self._plan(_Fault("hang", seconds=seconds) for _ in range(n))

    def reset(self) -> None:
        """Forget what was accepted and counted, and drop the faults not yet used.

        A request in flight across the reset (a hanging one) is answered but not recorded.
        """
        with self._cond:
            self._accepted.clear()
            self._requests = 0
            self._generation += 1
            self._faults.clear()
            self._cond.notify_all()

    def _plan(self, faults: Iterable[_Fault]) -> None:
        with self._cond:
            self._faults.extend(faults)

    # -- the HTTP side -------------------------------------------------------------------------

    def app(self) -> Starlette:
        """The ASGI app alone, for mounting it under another server or an in-process client."""
        return Starlette(
            routes=[Route("/v3/mail/send", self._mail_send, methods=["POST"])],
            exception_handlers={HTTPException: _http_error},
        )

    async def _mail_send(self, request: Request) -> Response:
        with self._cond:
            self._requests += 1
            generation = self._generation
            fault = self._faults.popleft() if self._faults else None
            self._cond.notify_all()
        # Read the whole body before answering anything, so even an early refusal reaches a
        # client that is still writing instead of breaking its connection.
        body, too_large = await _read_body(request, limit=MAX_MESSAGE_BYTES)
        if fault is not None and fault.kind == "fail":
            return _fault_response(fault)
        if fault is not None and fault.kind == "hang" and not await self._hang(fault.seconds):
            return _errors(HTTPStatus.SERVICE_UNAVAILABLE, [ErrorDetail("service unavailable")])
        refusal = self._check_key(request.headers.get("authorization"))
        if refusal is not None:
            return refusal
        if too_large:
            return _errors(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, [ErrorDetail("content too large")])
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _errors(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, [ErrorDetail("Invalid UTF8 in request")]
            )
        try:
            payload: object = json.loads(text)
        except ValueError:
            return _errors(HTTPStatus.BAD_REQUEST, [ErrorDetail("Bad Request")])
        now = utcnow()
        problems = validate_mail_send(payload, now=now)
        if problems:
            return _errors(HTTPStatus.BAD_REQUEST, problems)
        assert isinstance(payload, dict)  # validate_mail_send refuses anything else
        mail = AcceptedMail(
            message_id=secrets.token_urlsafe(16),
            payload=payload,
            received_at=now,
            sandboxed=_is_sandboxed(payload),
        )
        with self._cond:
            # A request still hanging when a test reset the stand-in must not leak into the
            # next test's records; it is answered as usual all the same.
            if generation == self._generation:
                self._accepted.append(mail)
                self._cond.notify_all()
        # Sandbox mode: "you will receive a 200 OK response (as opposed to the 202 ACCEPTED
        # response that is returned for successful non-sandbox requests)".
        status = HTTPStatus.OK if mail.sandboxed else HTTPStatus.ACCEPTED
        return Response(status_code=status, headers={"X-Message-Id": mail.message_id})

    async def _hang(self, seconds: float) -> bool:
        """Sit on the request for ``seconds``; False if the stand-in is stopping meanwhile."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    def _check_key(self, authorization: str | None) -> Response | None:
        if not authorization:
            return _errors(HTTPStatus.UNAUTHORIZED, [ErrorDetail("authorization required")])
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            key.strip().encode(), self._api_key
        ):
            return _errors(
                HTTPStatus.UNAUTHORIZED,
                [ErrorDetail("The provided authorization grant is invalid, expired, or revoked")],
            )
        return None


async def _read_body(request: Request, *, limit: int) -> tuple[bytes, bool]:
    """The body, and whether it reached ``limit`` (then the rest is drained, not kept)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size < limit:
            chunks.append(chunk)
        else:
            chunks.clear()
    return b"".join(chunks), size >= limit


def _errors(
    status: int, details: Sequence[ErrorDetail], *, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"errors": [detail.as_json() for detail in details]}, status_code=status, headers=headers
    )


def _fault_response(fault: _Fault) -> Response:
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if fault.status == HTTPStatus.TOO_MANY_REQUESTS:
        # The "Rate Limits" page: a 429 says, in X-RateLimit-Reset, when the period resets.
        reset = int(utcnow().timestamp()) + (fault.retry_after or 1)
        headers |= {
            "X-RateLimit-Limit": "600",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        }
    try:
        message = HTTPStatus(fault.status).phrase.lower()
    except ValueError:
        message = "error"
    return _errors(fault.status, [ErrorDetail(message)], headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in SendGrid's error shape too, not Starlette's text."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"errors": [ErrorDetail(exc.detail.lower()).as_json()]},
        status_code=exc.status_code,
        headers=exc.headers,
    )


# --------------------------------------------------------------------------------------------
# Foreground entry point, for the demo.
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until SIGINT/SIGTERM, accepting the key in ``KEY_ENV``."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.sendgrid_standin",
        description="A local stand-in for SendGrid's v3 Mail Send API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free one)")
    args = parser.parse_args(argv)
    api_key = os.environ.get(KEY_ENV, "")
    if not api_key:
        print(f"{KEY_ENV} must hold the API key the stand-in accepts", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SendGridStandIn(api_key, host=args.host, port=args.port, log_level="info") as standin:
            print(f"SendGrid stand-in listening on {standin.base_url}", flush=True)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
