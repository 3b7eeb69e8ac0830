"""What one email says: the messages of one recipient that go together, and the email made of
them (a digest when several), with its fresh private links and opt-out link.

Composed at send time, from the chunk's context: of one application's statuses only the newest
goes, a note invitation whose note arrived is dropped (``newest_per_application``); each section
states the promise the email makes (``app.messaging.delivery.promises``). Tokens in the links
are kept only as hashes, and the text stored of the email has them redacted (``redact``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.keys import generate_key
from app.core.settings import Settings
from app.messaging.backends import (
    OutgoingEmail,
)
from app.messaging.delivery.claims import Taken, event_row
from app.messaging.delivery.context import Batch, Context
from app.messaging.delivery.promises import Promised, promise_for
from app.messaging.models import (
    STATUS_KINDS,
    MessageKind,
    MessageState,
)
from app.messaging.render import CONFIDENTIAL_CLIENT, Rendered, Section, render_email
from app.portal import links
from app.thank_you.models import ThankYouNote

#: Kinds whose section carries a fresh private link for their interview (R-TY-1).
LINKED_KINDS = {MessageKind.note_invitation, MessageKind.note_changes_requested}


def newest_per_application(
    group: list[Taken], noted: set[int], *, now: datetime, events: list[dict[str, Any]]
) -> list[Taken]:
    """Compose at send time (R-CAND-1, R-CAND-4): of the statuses of one application only the
    newest goes (a backfill that fired several checks at once says "no news" once), and a note
    invitation whose note has already arrived is dropped. The others are ``superseded``."""
    newest: dict[int, Taken] = {}
    for message in group:
        if MessageKind(message.kind) in STATUS_KINDS and message.submission_id is not None:
            current = newest.get(message.submission_id)
            if current is None or (message.due_at, message.id) > (current.due_at, current.id):
                newest[message.submission_id] = message
    kept: list[Taken] = []
    for message in group:
        status = MessageKind(message.kind) in STATUS_KINDS and message.submission_id is not None
        if status and newest[message.submission_id or 0] is not message:
            why = f"superseded by message {newest[message.submission_id or 0].id}"
        elif message.kind == MessageKind.note_invitation and message.interview_id in noted:
            why = "R-TY-1 the note it invites has already arrived"
        else:
            kept.append(message)
            continue
        message.set(state=MessageState.superseded.value, gate_rule=why[:120])
        events.append(event_row(message.id, now, "superseded", why))
    return kept


async def interviews_with_notes(session: AsyncSession, messages: list[Taken]) -> set[int]:
    """The interviews among ``messages``' note invitations that already have a note."""
    invited = {
        m.interview_id
        for m in messages
        if m.kind == MessageKind.note_invitation and m.interview_id is not None
    }
    if not invited:
        return set()
    rows = await session.execute(
        select(col(ThankYouNote.interview_id)).where(col(ThankYouNote.interview_id).in_(invited))
    )
    return {interview_id for (interview_id,) in rows.all()}


@dataclass
class Outgoing:
    """One email about to go: the messages it carries and what it says."""

    group: list[Taken]
    email: OutgoingEmail
    rendered: Rendered
    promises: list[Promised]
    time_zone: str
    opt_out: dict[str, Any]
    links: list[dict[str, Any]]


def email_for(
    group: list[Taken],
    ctx: Context,
    *,
    now: datetime,
    settings: Settings,
    batch: Batch,
    digest_time: time,
) -> Outgoing:
    """One email to one person for everything in ``group`` (a digest when several)."""
    # Statuses first, so each application's section opens with where it stands; applications
    # in the order their news fell due.
    if len(group) > 1:
        group.sort(key=lambda m: (m.due_at, m.id))
        first_due: dict[int | None, int] = {}
        for message in group:
            first_due.setdefault(message.submission_id, len(first_due))
        group.sort(
            key=lambda m: (
                first_due[m.submission_id],
                MessageKind(m.kind) not in STATUS_KINDS,
                m.due_at,
                m.id,
            )
        )
    lead = group[0]
    first = ctx.rows[lead.submission_id or 0]
    sections: list[Section] = []
    promises: list[Promised] = []
    portal = links.issue(settings, candidate_id=lead.candidate_id or 0, interview_id=None, now=now)
    link_rows = [portal.row]
    tokens = [portal.token]
    for message in group:
        link = ""
        if MessageKind(message.kind) in LINKED_KINDS and message.interview_id is not None:
            # R-TY-1: this interview's own link, 72 hours from the moment it is sent.
            invitation = links.issue(
                settings,
                candidate_id=lead.candidate_id or 0,
                interview_id=message.interview_id,
                now=now,
            )
            link_rows.append(invitation.row)
            tokens.append(invitation.token)
            link = invitation.url
        row = ctx.rows[message.submission_id or 0]
        promised = promise_for(
            ctx,
            MessageKind(message.kind),
            message.submission_id or 0,
            now=now,
            tz=row.time_zone,
            batch=batch,
            digest_time=digest_time,
        )
        sections.append(
            Section(
                kind=str(message.kind),
                job_title=row.title,
                client_name=CONFIDENTIAL_CLIENT if row.confidential else row.name,
                next_date=promised.day if promised else None,
                interview_date=ctx.interview_day.get(message.submission_id or 0),
                detail=message.detail or "",
                link=link,
                portal_url=portal.url,
                application=message.submission_id or 0,
            )
        )
        if promised is not None and message.submission_id is not None:
            promises.append(promised)
    token = generate_key(settings.secret_key.get_secret_value(), prefix="")
    rendered = render_email(
        first_name=first.first_name,
        sections=sections,
        recruiter_name=first.recruiter_name,
        recruiter_email=first.recruiter_email,
        agency_name=settings.email_from_name,
        overrides=batch.overrides,
        opt_out_url=f"{settings.public_base_url.rstrip('/')}/v1/opt-out/{token.key}",
        portal_url=portal.url,
    )
    email = OutgoingEmail(
        message_id=lead.id,
        to=first.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        from_email=settings.email_from,
        from_name=settings.email_from_name,
    )
    opt_out = {
        "candidate_id": lead.candidate_id,
        "token_hash": token.key_hash,
        "created_at": now,
    }
    tokens.append(token.key)
    # What is kept of the email must not open anything: tokens are stored only as hashes.
    kept = Rendered(
        subject=rendered.subject,
        text=redact(rendered.text, tokens),
        html=redact(rendered.html, tokens),
    )
    return Outgoing(group, email, kept, promises, first.time_zone, opt_out, link_rows)


def redact(text: str, tokens: list[str]) -> str:
    for secret in tokens:
        text = text.replace(secret, "(private link)")
    return text
