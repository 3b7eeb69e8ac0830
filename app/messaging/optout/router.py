"""The opt-out link in every status email (R-CAND-5): no account, no key, one click to confirm.

``GET`` only shows a confirmation page (mail scanners follow links; a GET must change nothing);
``POST`` opts the candidate out of automated status emails. Their recruiter's tasks still fire.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.settings import SettingsDep
from app.messaging.optout import service

router = APIRouter(prefix="/opt-out", tags=["candidates"], responses=problem_responses(404, 422))

Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{escape(title)}</title></head><body style='font-family: sans-serif; max-width: 36em'>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )


@router.get("/{token}", summary="Opt-out confirmation page", response_class=HTMLResponse)
async def confirm_page(
    request: Request, session: SessionDep, settings: SettingsDep, token: Token
) -> HTMLResponse:
    """Shows a button that stops automated status emails; changes nothing by itself."""
    await service.link_or_404(session, settings, token)
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
    await service.opt_out(session, settings, token)
    return _page(
        "Done",
        "<p>You will get no more automated status updates. Your recruiter will still be in "
        "touch personally.</p>",
    )
