"""Reading what was said: messages with their promises and delivery story, and promises."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import ownership
from app.auth.principal import Principal
from app.core import crud
from app.core.pagination import Page, PageParams
from app.messaging import repository
from app.messaging.models import Message, MessageKind, MessageState
from app.messaging.schemas import MessageEventPublic, MessagePublic, PromisePublic
from app.submissions.models import Submission


async def list_messages(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    candidate_id: int | None,
    submission_id: int | None,
    kind: MessageKind | None,
    state: MessageState | None,
) -> Page[MessagePublic]:
    """Every message, sent or held, with why it exists and what became of it (three queries)."""
    visible = ownership.submissions(principal)
    stmt = repository.messages_matching(
        visible, candidate_id=candidate_id, submission_id=submission_id, kind=kind, state=state
    )
    result = await crud.fetch_page(session, stmt, Message, page, MessagePublic)
    ids = [item.id for item in result.items]
    if not ids:
        return result
    story: dict[int, list[MessageEventPublic]] = defaultdict(list)
    for event in await repository.events_of_messages(session, ids):
        story[event.message_id].append(MessageEventPublic.model_validate(event))
    promised: dict[int, list[PromisePublic]] = defaultdict(list)
    for promise in await repository.promises_made_by(session, ids):
        promised[promise.message_id].append(PromisePublic.model_validate(promise))
    for item in result.items:
        item.story = story[item.id]
        item.promises = promised[item.id]
    if visible is not None:
        await _withhold_shared_digests(session, visible, result.items)
    return result


#: What a recruiter reads instead of a digest's text that also speaks of others' submissions.
DIGEST_WITHHELD = (
    "This message went out in one email with messages about submissions you cannot see; the "
    "email's subject and text are shown only to whom may see every part of it (R-PV)."
)


async def _withhold_shared_digests(
    session: AsyncSession, visible: ColumnElement[bool], items: list[MessagePublic]
) -> None:
    """R-PV: one email (a digest) may carry sections about several submissions, and each of its
    messages keeps the whole email's subject and text. A recruiter sees that text only when they
    may see every submission the email spoke of; otherwise it is withheld, with the reason, and
    the rest of the record (kind, reason, state, promises, story) stays."""
    leads = {item.digest_id or item.id for item in items if item.subject or item.body_text}
    if not leads:
        return
    members = await repository.digest_members(session, leads)
    spoken_of: dict[int, set[int | None]] = defaultdict(set)
    for message_id, digest_id, submission_id in members:
        spoken_of[digest_id or message_id].add(submission_id)
    mentioned = {sid for sids in spoken_of.values() for sid in sids if sid is not None}
    seeable = await repository.visible_submission_ids(session, mentioned, visible)
    for item in items:
        lead = item.digest_id or item.id
        if lead in leads and not spoken_of[lead] <= seeable:
            item.subject = item.body_text = None
            item.text_withheld = DIGEST_WITHHELD


async def promises(session: AsyncSession, submission: Submission) -> list[PromisePublic]:
    """R-CAND-1: every date the candidate was promised for this submission, and its fate."""
    assert submission.id is not None
    return [
        PromisePublic.model_validate(p)
        for p in await repository.promises_about(session, submission.id)
    ]
