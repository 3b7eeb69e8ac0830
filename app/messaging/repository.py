"""Queries of the messaging domain, named for what they answer (style rule 3).

The drains' tuned set-based statements stay beside them in ``app/messaging/delivery/``; these
are the reads of the message list, the promises, the template overrides and the opt-out link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import crud
from app.messaging.models import (
    Message,
    MessageEvent,
    MessageKind,
    MessageState,
    MessageTemplate,
    OptOutToken,
    Promise,
)
from app.submissions.models import Submission


def messages_matching(
    visible: ColumnElement[bool] | None,
    *,
    candidate_id: int | None,
    submission_id: int | None,
    kind: MessageKind | None,
    state: MessageState | None,
) -> Select[tuple[Message]]:
    """The message list's statement (paged by the caller): messages about submissions the
    principal may see (``visible``, None for all), narrowed by the filters given."""
    return crud.where_all(
        select(Message),
        col(Message.submission_id).in_(select(col(Submission.id)).where(visible))
        if visible is not None
        else None,
        col(Message.candidate_id) == candidate_id if candidate_id else None,
        col(Message.submission_id) == submission_id if submission_id else None,
        col(Message.kind) == kind.value if kind else None,
        col(Message.state) == state.value if state else None,
    )


async def events_of_messages(
    session: AsyncSession, message_ids: Sequence[int]
) -> Sequence[MessageEvent]:
    """The delivery story of these messages, in the order it happened."""
    return (
        await session.scalars(
            select(MessageEvent)
            .where(col(MessageEvent.message_id).in_(message_ids))
            .order_by(col(MessageEvent.id))
        )
    ).all()


async def promises_made_by(session: AsyncSession, message_ids: Sequence[int]) -> Sequence[Promise]:
    """The promises these messages' emails made (R-CAND-1)."""
    return (
        await session.scalars(select(Promise).where(col(Promise.message_id).in_(message_ids)))
    ).all()


async def promises_about(session: AsyncSession, submission_id: int) -> Sequence[Promise]:
    """Every promise made about one submission, oldest first (R-CAND-1)."""
    return (
        await session.scalars(
            select(Promise)
            .where(col(Promise.submission_id) == submission_id)
            .order_by(col(Promise.id))
        )
    ).all()


async def digest_members(
    session: AsyncSession, leads: Iterable[int]
) -> Sequence[tuple[int, int | None, int | None]]:
    """``(message id, digest id, submission id)`` of the emails led by ``leads``: each lead and
    the messages merged into it (one email's parts)."""
    lead_ids = list(leads)
    rows = await session.execute(
        select(col(Message.id), col(Message.digest_id), col(Message.submission_id)).where(
            or_(col(Message.id).in_(lead_ids), col(Message.digest_id).in_(lead_ids))
        )
    )
    return [
        (message_id, digest_id, submission_id)
        for message_id, digest_id, submission_id in rows.tuples()
        if message_id is not None
    ]


async def visible_submission_ids(
    session: AsyncSession, submission_ids: Iterable[int], visible: ColumnElement[bool]
) -> set[int]:
    """Which of ``submission_ids`` the principal whose visibility is ``visible`` may see."""
    found = await session.scalars(
        select(col(Submission.id)).where(col(Submission.id).in_(list(submission_ids)), visible)
    )
    return {submission_id for submission_id in found if submission_id is not None}


async def template_overrides(session: AsyncSession) -> dict[str, str]:
    """The admin's wording per section kind (a handful of rows, read once per batch)."""
    rows = await session.execute(select(col(MessageTemplate.kind), col(MessageTemplate.body)))
    return {kind: body for kind, body in rows.all()}


async def opt_out_token_by_hash(session: AsyncSession, token_hash: str) -> OptOutToken | None:
    """The opt-out link whose token hashes to ``token_hash`` (tokens are stored only hashed)."""
    return (
        await session.execute(select(OptOutToken).where(col(OptOutToken.token_hash) == token_hash))
    ).scalar_one_or_none()
