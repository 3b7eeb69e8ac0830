"""Opting out through the emailed link (R-CAND-5): the candidate gets no more automated status
emails; their recruiter's tasks still fire."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.keys import hash_key
from app.auth.principal import SYSTEM
from app.candidates.models import Candidate
from app.core import crud
from app.core.clock import utcnow
from app.core.errors import NotFound
from app.core.settings import Settings
from app.events import service as events
from app.messaging import repository
from app.messaging.models import OptOutToken

#: The candidate acting through their emailed link: recorded as the system on their behalf.
CANDIDATE_LINK = SYSTEM


async def link_or_404(session: AsyncSession, settings: Settings, token: str) -> OptOutToken:
    """The opt-out link of ``token`` (stored only as its hash), or 404."""
    digest = hash_key(settings.secret_key.get_secret_value(), token)
    found = await repository.opt_out_token_by_hash(session, digest)
    if found is None:
        raise NotFound("This link is not valid.")
    return found


async def opt_out(session: AsyncSession, settings: Settings, token: str) -> None:
    """Stop automated status emails for the link's candidate; repeating it is harmless (the
    event is recorded once, when something changed)."""
    link = await link_or_404(session, settings, token)
    candidate = await crud.get_or_404(session, Candidate, link.candidate_id)
    if link.used_at is None:
        link.used_at = utcnow()
    changed = crud.apply_changes(candidate, {"status_emails_opt_out": True})
    if changed:
        assert candidate.id is not None
        await events.record(
            session,
            CANDIDATE_LINK,
            action="candidate.opted_out",
            record_type="candidate",
            record_id=candidate.id,
            data={"via": "email link"},
        )
