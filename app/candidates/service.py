"""Candidate rules: ownership, unique external ids, events. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import ownership
from app.auth import service as auth
from app.auth.principal import Principal
from app.candidates.models import Candidate, CandidateCreate, CandidatePublic, CandidateUpdate
from app.core import crud
from app.core.filters import UpdatedSince
from app.core.pagination import Page, PageParams
from app.events import service as events


async def get(session: AsyncSession, principal: Principal, candidate_id: int) -> Candidate:
    return await crud.get_or_404(
        session, Candidate, candidate_id, visible=ownership.candidates(principal)
    )


async def read(session: AsyncSession, principal: Principal, candidate_id: int) -> CandidatePublic:
    """One candidate, as answered (no ORM object: issue 14)."""
    return await crud.read_or_404(
        session, Candidate, CandidatePublic, candidate_id, visible=ownership.candidates(principal)
    )


async def create(session: AsyncSession, principal: Principal, data: CandidateCreate) -> Candidate:
    owner_id = await auth.resolve_owner(session, principal, data.owner_id)
    await crud.ensure_external_id_free(session, Candidate, data.external_id, own_id=None)
    candidate = Candidate.model_validate(data, update={"owner_id": owner_id})
    session.add(candidate)
    await session.flush()
    assert candidate.id is not None
    await events.record(
        session,
        principal,
        action="candidate.created",
        record_type="candidate",
        record_id=candidate.id,
    )
    return candidate


async def update(
    session: AsyncSession, principal: Principal, candidate: Candidate, data: CandidateUpdate
) -> Candidate:
    changes = data.model_dump(exclude_unset=True)
    await auth.reassign_owner(
        session, principal, changes, current=candidate.owner_id, label="candidate"
    )
    await crud.ensure_external_id_free(
        session, Candidate, changes.get("external_id"), own_id=candidate.id
    )
    await events.record_update(
        session,
        principal,
        record_type="candidate",
        record_id=candidate.id,
        changed=crud.apply_changes(candidate, changes),
    )
    return candidate


async def upsert(
    session: AsyncSession, principal: Principal, external_id: str, data: CandidateCreate
) -> tuple[Candidate, bool]:
    """Create or update by the ATS's id. Returns the record and whether it was created."""
    crud.check_path_external_id(data, external_id)
    existing = await crud.find_by_external_id(session, Candidate, external_id)
    if existing is None:
        return await create(session, principal, data), True
    update_data = CandidateUpdate.from_upsert(data.model_dump(exclude_unset=True))
    return await update(session, principal, existing, update_data), False


async def list_page(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    updated_since: UpdatedSince,
    owner_id: int | None,
    external_id: str | None,
) -> Page[CandidatePublic]:
    stmt = crud.where_all(
        select(Candidate),
        ownership.candidates(principal),
        col(Candidate.owner_id) == owner_id if owner_id else None,
        col(Candidate.external_id) == external_id if external_id else None,
    )
    return await crud.fetch_page(
        session, stmt, Candidate, page, CandidatePublic, updated_since=updated_since
    )
