"""Reading what was said: messages with their promises and delivery story, and promises."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import ownership
from app.auth.principal import Principal
from app.core import crud
from app.core.pagination import Page, PageParams
from app.messaging.models import Message, MessageEvent, MessageKind, MessageState, Promise
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
    stmt = crud.where_all(
        select(Message),
        col(Message.submission_id).in_(select(col(Submission.id)).where(visible))
        if visible is not None
        else None,
        col(Message.candidate_id) == candidate_id if candidate_id else None,
        col(Message.submission_id) == submission_id if submission_id else None,
        col(Message.kind) == kind.value if kind else None,
        col(Message.state) == state.value if state else None,
    )
    result = await crud.fetch_page(session, stmt, Message, page, MessagePublic)
    ids = [item.id for item in result.items]
    if not ids:
        return result
    story: dict[int, list[MessageEventPublic]] = defaultdict(list)
    for event in (
        await session.execute(
            select(MessageEvent)
            .where(col(MessageEvent.message_id).in_(ids))
            .order_by(col(MessageEvent.id))
        )
    ).scalars():
        story[event.message_id].append(MessageEventPublic.model_validate(event))
    promised: dict[int, list[PromisePublic]] = defaultdict(list)
    for promise in (
        await session.execute(select(Promise).where(col(Promise.message_id).in_(ids)))
    ).scalars():
        promised[promise.message_id].append(PromisePublic.model_validate(promise))
    for item in result.items:
        item.story = story[item.id]
        item.promises = promised[item.id]
    return result


async def promises(session: AsyncSession, submission: Submission) -> list[PromisePublic]:
    """R-CAND-1: every date the candidate was promised for this submission, and its fate."""
    stmt = (
        select(Promise).where(col(Promise.submission_id) == submission.id).order_by(col(Promise.id))
    )
    return [PromisePublic.model_validate(p) for p in (await session.execute(stmt)).scalars()]
