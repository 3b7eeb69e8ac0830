"""Verifying and applying SendGrid's event batches (R-CAND-5, R-IN).

A batch is verified before anything in it is parsed (``receive``): the ECDSA signature over the
timestamp header and the raw body, made within ``MAX_SKEW`` of now. Each event is read
defensively (a malformed field skips that event, never the batch), deduplicated by
``sg_event_id``, and applied to the email it names and every message merged into it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.errors import AppError, InvalidInput, Unauthorized
from app.core.models import SINGLE_LINE_PATTERN, TOKEN_PATTERN
from app.integrations.sendgrid.schemas import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EventBatchResult,
    EventRefusal,
)
from app.messaging.backends import CUSTOM_ARG
from app.messaging.models import Message, MessageEvent, MessageState, Suppression
from app.tasks.recruiter import open_fix_address_task

log = logging.getLogger("candor.integrations.sendgrid")

#: A signed request older (or newer) than this is refused, so a captured one cannot be replayed.
MAX_SKEW = timedelta(minutes=5)
#: Ids per ``IN (...)`` query: well under SQLite's and asyncpg's bound-parameter limits.
CHUNK = 1000
#: Our ids are 32-bit on PostgreSQL; a larger number cannot be one of our messages.
MAX_MESSAGE_ID = 2**31 - 1
#: Event instants outside this range are not real; the receipt instant is used instead.
MAX_EVENT_TS = 4_102_444_800  # 2100-01-01

DELIVERED = "delivered"
DEFERRED = "deferred"
BOUNCE = "bounce"
DROPPED = "dropped"
SPAM_REPORT = "spamreport"
#: The kinds Candor acts on; the rest (processed, open, click, unsubscribe …) are ignored.
HANDLED = frozenset({DELIVERED, DEFERRED, BOUNCE, DROPPED, SPAM_REPORT})
#: What a message may have been in for a provider event to move it.
DELIVERABLE_FROM = frozenset({MessageState.sent, MessageState.merged})
FAILABLE_FROM = frozenset({MessageState.sent, MessageState.merged, MessageState.delivered})

_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


# --- errors ----------------------------------------------------------------------------------


class SignatureRefused(Unauthorized):
    """The batch is not provably from SendGrid (missing, bad or stale signature)."""

    slug, title = "invalid-signature", "Unauthorized"

    def __init__(self, message: str) -> None:
        AppError.__init__(
            self, message, headers={"WWW-Authenticate": 'Signature realm="sendgrid-event-webhook"'}
        )


class WebhookNotConfigured(AppError):
    """No usable verification key: our fault, and SendGrid retries 5xx answers later, so the
    events are not lost while the setting is fixed."""

    status, slug, title = 503, "webhook-not-configured", "Service unavailable"


# --- verification ----------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _public_key(public_key: str) -> Any:
    from sendgrid.helpers.eventwebhook import EventWebhook

    return EventWebhook().convert_public_key_to_ecdsa(public_key)


def verify_request(
    *,
    public_key: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
) -> None:
    """Raise unless ``body`` is exactly what SendGrid signed, recently."""
    from cryptography.exceptions import InvalidSignature
    from sendgrid.helpers.eventwebhook import EventWebhook

    if not signature or not timestamp:
        raise SignatureRefused(f"Send the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers.")
    if not public_key:
        raise WebhookNotConfigured("The SendGrid event webhook verification key is not set.")
    if len(timestamp) > 12 or not (timestamp.isascii() and timestamp.isdigit()):
        raise SignatureRefused(f"{TIMESTAMP_HEADER} must be a Unix time in seconds.")
    if abs(now.timestamp() - int(timestamp)) > MAX_SKEW.total_seconds():
        raise SignatureRefused(f"{TIMESTAMP_HEADER} is more than 5 minutes from now.")
    if len(signature) > 512:
        raise SignatureRefused("The signature does not match the request.")
    try:
        key = _public_key(public_key)
    except (ValueError, TypeError):
        log.error("the SendGrid event webhook verification key cannot be loaded")
        raise WebhookNotConfigured(
            "The SendGrid event webhook verification key is not valid."
        ) from None
    try:
        # The helper takes text; strict UTF-8 decoding round-trips the exact bytes received.
        payload = body.decode("utf-8")
        valid = EventWebhook().verify_signature(payload, signature, timestamp, public_key=key)
    except (ValueError, TypeError, InvalidSignature):  # not UTF-8, not base64, not DER
        valid = False
    if valid is not True:
        raise SignatureRefused("The signature does not match the request.")


def parse_batch(body: bytes) -> list[dict[str, Any]]:
    """A batch is a JSON array of event objects; anything else is refused whole (R-IN)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput("body", "The body is not valid JSON.") from None
    if not isinstance(data, list):
        raise InvalidInput("body", "Expected a JSON array of SendGrid event objects.")
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InvalidInput(f"body.{index}", "Expected a SendGrid event object.")
    return data


# --- applying --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    event_id: str
    kind: str
    message_id: int
    occurred_at: datetime
    email: str | None
    status: str | None


_TOKEN = re.compile(TOKEN_PATTERN)
_SINGLE_LINE = re.compile(SINGLE_LINE_PATTERN)


def _read(raw: dict[str, Any], now: datetime) -> _Event | EventRefusal | None:
    """The fields Candor uses; None when the event is not one of ours to act on (another kind,
    no message id of ours); a refusal when a field Candor would store or act on is malformed
    (R-IN: a NUL byte or a line break must not reach the database, nor fail the batch).
    ``EventRefusal.index`` is set by the caller."""

    def refuse(field: str, reason: str) -> EventRefusal:
        return EventRefusal(index=-1, field=field, reason=reason)

    kind, message_ref = raw.get("event"), raw.get(CUSTOM_ARG)
    if not isinstance(kind, str) or kind not in HANDLED or message_ref is None:
        return None
    event_id = raw.get("sg_event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100 or not _TOKEN.match(event_id):
        return refuse("sg_event_id", "must be 1-100 characters, no whitespace or controls")
    if isinstance(message_ref, str) and message_ref.isascii() and message_ref.isdigit():
        message_id = int(message_ref) if len(message_ref) <= 10 else 0
    elif isinstance(message_ref, int) and not isinstance(message_ref, bool):
        message_id = message_ref
    else:
        return refuse(CUSTOM_ARG, "must be a message id (digits)")
    if not 0 < message_id <= MAX_MESSAGE_ID:
        return None  # a number, but not one of our ids
    ts = raw.get("timestamp")
    occurred_at = now
    if ts is not None and (not isinstance(ts, int | float) or isinstance(ts, bool)):
        return refuse("timestamp", "must be a Unix time in seconds")
    if ts is not None and 0 < ts < MAX_EVENT_TS:
        occurred_at = datetime.fromtimestamp(ts, UTC)
    email = raw.get("email")
    if email is not None and (
        not isinstance(email, str)
        or not 3 <= len(email) <= 320
        or not _TOKEN.match(email)
        or "@" not in email
    ):
        return refuse("email", "must be an email address")
    status = raw.get("status")
    if status is not None and (not isinstance(status, str) or not _SINGLE_LINE.match(status)):
        return refuse("status", "must be an SMTP status such as 5.1.1")
    return _Event(
        event_id=event_id,
        kind=kind,
        message_id=message_id,
        occurred_at=occurred_at,
        email=email,
        status=status if isinstance(status, str) and _STATUS.fullmatch(status) else None,
    )


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


async def _known_event_ids(session: AsyncSession, event_ids: list[str]) -> set[str]:
    known: set[str] = set()
    for chunk in _chunks(event_ids):
        rows = await session.scalars(
            select(col(MessageEvent.provider_event_id)).where(
                col(MessageEvent.provider_event_id).in_(chunk)
            )
        )
        known.update(r for r in rows if r is not None)
    return known


async def _emails(session: AsyncSession, message_ids: list[int]) -> dict[int, list[Message]]:
    """Each email's messages, keyed by the id it carried: the lead first, then the messages
    that went out merged into it (a digest), which share its fate."""
    groups: dict[int, list[Message]] = {}
    for chunk in _chunks(message_ids):
        leads = await session.scalars(select(Message).where(col(Message.id).in_(chunk)))
        for lead in leads:
            assert lead.id is not None
            groups[lead.id] = [lead]
        merged = await session.scalars(
            select(Message).where(col(Message.digest_id).in_(chunk)).order_by(col(Message.id))
        )
        for message in merged:
            if message.digest_id in groups:
                groups[message.digest_id].append(message)
    return groups


def _what(event: _Event) -> str:
    # Only the kind and the SMTP status: a provider's free-text reason can quote the address.
    return event.kind + (f" ({event.status})" if event.status else "")


async def _suppress(
    session: AsyncSession, email: str | None, *, reason: str, now: datetime
) -> None:
    """R-CAND-5: the address is not emailed again (the gate consults this table)."""
    if email is None or await session.get(Suppression, email) is not None:
        return
    session.add(Suppression(email=email, reason=reason[:200], created_at=now))


async def _fix_address_task(
    session: AsyncSession, submission_id: int, *, lead_id: int, event: _Event, now: datetime
) -> None:
    """R-CAND-5: the submission's recruiter fixes the address; one open task per submission."""
    await open_fix_address_task(
        session,
        submission_id,
        title=f"A status email on submission {submission_id} bounced: fix the address",
        detail=(
            f"The provider reported {_what(event)} for email {lead_id}; the address is "
            "suppressed, so correct the candidate's email for updates to resume."
        ),
        now=now,
    )


async def _apply(
    session: AsyncSession, event: _Event, group: list[Message], *, now: datetime
) -> None:
    lead = group[0]
    assert lead.id is not None
    session.add(
        MessageEvent(
            message_id=lead.id,
            occurred_at=event.occurred_at,
            kind=event.kind,
            detail=f"status {event.status}" if event.status else None,
            provider_event_id=event.event_id,
        )
    )
    if event.kind == DELIVERED:
        for message in group:
            if message.state in DELIVERABLE_FROM:
                message.state = MessageState.delivered  # sent_at stays the hand-over instant
                message.updated_at = now
                if message is not lead:
                    session.add(_member_event(message, lead.id, event))
    elif event.kind in (BOUNCE, DROPPED):
        for message in group:
            if message.state in FAILABLE_FROM:
                message.state = MessageState.failed
                message.failure_reason = f"provider reported {_what(event)}"
                message.updated_at = now
                if message is not lead:
                    session.add(_member_event(message, lead.id, event))
        await _suppress(
            session,
            lead.recipient_email or event.email,
            reason=f"{event.kind} reported by the provider",
            now=now,
        )
        for submission_id in dict.fromkeys(m.submission_id for m in group):
            if submission_id is not None:
                await _fix_address_task(
                    session, submission_id, lead_id=lead.id, event=event, now=now
                )
    elif event.kind == SPAM_REPORT:
        await _suppress(session, lead.recipient_email or event.email, reason="spam report", now=now)
    # deferred: the event row is the whole story; the provider keeps retrying.


def _member_event(message: Message, lead_id: int, event: _Event) -> MessageEvent:
    assert message.id is not None
    return MessageEvent(
        message_id=message.id,
        occurred_at=event.occurred_at,
        kind=event.kind,
        detail=f"email {lead_id}",
    )


async def apply_events(
    session: AsyncSession, raw_events: list[dict[str, Any]], *, now: datetime
) -> EventBatchResult:
    """Record a verified batch; idempotent per ``sg_event_id`` and independent of order."""
    events: list[_Event] = []
    refusals: list[EventRefusal] = []
    ignored = 0
    for index, raw in enumerate(raw_events):
        event = _read(raw, now)
        if event is None:
            ignored += 1
        elif isinstance(event, EventRefusal):
            refusals.append(event.model_copy(update={"index": index}))
        else:
            events.append(event)
    seen = await _known_event_ids(session, list(dict.fromkeys(e.event_id for e in events)))
    groups = await _emails(session, list(dict.fromkeys(e.message_id for e in events)))
    applied = duplicates = 0
    for event in events:
        if event.event_id in seen:
            duplicates += 1
            continue
        group = groups.get(event.message_id)
        if group is None:
            ignored += 1
            continue
        seen.add(event.event_id)
        await _apply(session, event, group, now=now)
        applied += 1
    # Surfaces a concurrent delivery of the same events here, as the app's 409.
    await session.flush()
    result = EventBatchResult(
        received=len(raw_events),
        applied=applied,
        duplicates=duplicates,
        ignored=ignored,
        refused=len(refusals),
        refusals=refusals,
    )
    log.info(
        "sendgrid events: received=%d applied=%d duplicates=%d ignored=%d refused=%d",
        result.received,
        result.applied,
        result.duplicates,
        result.ignored,
        result.refused,
    )
    for refusal in refusals:  # where and which field, never the value (it may be an address)
        log.warning(
            "sendgrid event %d refused: %s %s", refusal.index, refusal.field, refusal.reason
        )
    return result


async def receive(
    session: AsyncSession,
    *,
    public_key: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
) -> EventBatchResult:
    """Verify, then parse, then apply: nothing in an unverified body is even parsed."""
    verify_request(
        public_key=public_key, body=body, signature=signature, timestamp=timestamp, now=now
    )
    return await apply_events(session, parse_batch(body), now=now)
