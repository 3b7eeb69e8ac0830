"""Making and resolving the candidate's private links (R-TY-1).

A token is 256 random bits (``secrets.token_urlsafe(32)``); the database keeps only its keyed
hash, so the plain token exists only in the email or API answer that carries it. A note link is
scoped to one interview and lasts 72 hours; a status link (in every candidate email) lasts 30
days. Both can be revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.keys import generate_key, hash_key
from app.core.errors import NotFound, Unauthorized
from app.core.settings import Settings
from app.portal.models import CandidateLink

NOTE_LINK_TTL = timedelta(hours=72)
STATUS_LINK_TTL = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class IssuedLink:
    url: str
    token: str
    row: dict[str, Any]


def portal_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/v1/portal/{token}"


def issue(
    settings: Settings,
    *,
    candidate_id: int,
    interview_id: int | None,
    now: datetime,
    ttl: timedelta | None = None,
) -> IssuedLink:
    """A new link as a row to insert: the plain token is returned once and never stored."""
    new = generate_key(settings.secret_key.get_secret_value(), prefix="")
    lifetime = ttl or (NOTE_LINK_TTL if interview_id is not None else STATUS_LINK_TTL)
    row = {
        "candidate_id": candidate_id,
        "interview_id": interview_id,
        "token_hash": new.key_hash,
        "purpose": "note" if interview_id is not None else "status",
        "created_at": now,
        "expires_at": now + lifetime,
    }
    return IssuedLink(url=portal_url(settings, new.key), token=new.key, row=row)


async def resolve(
    session: AsyncSession, settings: Settings, token: str, *, now: datetime
) -> CandidateLink:
    """The link a token opens: 404 if no such link, 401 once expired or revoked."""
    digest = hash_key(settings.secret_key.get_secret_value(), token)
    link = (
        await session.execute(select(CandidateLink).where(col(CandidateLink.token_hash) == digest))
    ).scalar_one_or_none()
    if link is None:
        raise NotFound("This link is not valid.")
    if link.revoked_at is not None:
        raise Unauthorized("This link was withdrawn. Please ask your recruiter for a new one.")
    if link.expires_at <= now:
        raise Unauthorized("This link has expired. Please ask your recruiter for a new one.")
    link.last_used_at = now
    return link


async def revoke(session: AsyncSession, link: CandidateLink, *, now: datetime) -> None:
    if link.revoked_at is None:
        link.revoked_at = now
