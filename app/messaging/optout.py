"""The opt-out link in every status email (R-CAND-5): no account, no key, one click to confirm.

``GET`` only shows a confirmation page (mail scanners follow links; a GET must change nothing);
``POST`` opts the candidate out of automated status emails. Their recruiter's tasks still fire.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlmodel import col

from app.auth.keys import hash_key
from app.auth.principal import SYSTEM
from app.candidates.models import Candidate
from app.core import crud
from app.core.clock import utcnow
from app.core.database import SessionDep
from app.core.errors import NotFound, problem_responses
from app.core.settings import Settings, SettingsDep
from app.events import service as events
from app.messaging.models import OptOutToken

router = APIRouter(prefix="/opt-out", tags=["candidates"], responses=problem_responses(404, 422))

Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]

#: The candidate acting through their emailed link: recorded as the system on their behalf.
CANDIDATE_LINK = SYSTEM


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{escape(title)}</title></head><body style='font-family: sans-serif; max-width: 36em'>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )


async def _token(session: SessionDep, settings: Settings, token: str) -> OptOutToken:
    digest = hash_key(settings.secret_key.get_secret_value(), token)
    found = (
        await session.execute(select(OptOutToken).where(col(OptOutToken.token_hash) == digest))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("This link is not valid.")
    return found


@router.get("/{token}", summary="Opt-out confirmation page", response_class=HTMLResponse)
async def confirm_page(
    request: Request, session: SessionDep, settings: SettingsDep, token: Token
) -> HTMLResponse:
    """Shows a button that stops automated status emails; changes nothing by itself."""
    await _token(session, settings, token)
    return _page(
        "Stop automated status updates?",
        "<p>You will no longer get automatic emails about where your applications stand. "
        "Your recruiter will still contact you personally.</p>"
        f"<form method='post' action='{escape(str(request.url.path))}'>"
        "<button type='submit'>Stop automated updates</button></form>",
    )


@router.post("/{token}", summary="Opt out of automated status emails", response_class=HTMLResponse)
async def opt_out(session: SessionDep, settings: SettingsDep, token: Token) -> HTMLResponse:
    """R-CAND-5: the candidate gets no more automated status emails (their recruiter's tasks
    still fire). Repeating it is harmless."""
    link = await _token(session, settings, token)
    candidate = await crud.get_or_404(session, Candidate, link.candidate_id)
    if link.used_at is None:
        link.used_at = utcnow()
    changed = crud.apply_changes(candidate, {"status_emails_opt_out": True})
    if changed:
        assert candidate.id is not None
        events.record(
            session,
            CANDIDATE_LINK,
            action="candidate.opted_out",
            record_type="candidate",
            record_id=candidate.id,
            data={"via": "email link"},
        )
    return _page(
        "Done",
        "<p>You will get no more automated status updates. Your recruiter will still be in "
        "touch personally.</p>",
    )
