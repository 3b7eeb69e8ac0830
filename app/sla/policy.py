"""The agency policy (R-SLA-7, R-TY-4): one row of numbers read by the SLA cadence and by
thank-you review, changed by an admin through ``PATCH /v1/policy``. Import the module:
``from app.sla import policy``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import crud
from app.core.clock import utcnow
from app.sla.models import Policy, PolicyPublic, PolicyUpdate

#: Built once (issue 14, decision 0086): read by every stage move that starts a clock.
_THE_POLICY = select(Policy).where(col(Policy.id) == 1)


async def get_policy(session: AsyncSession) -> Policy:
    """The agency policy; the defaults of the domain until an admin changes them."""
    policy = (await session.execute(_THE_POLICY)).scalar_one_or_none()
    if policy is None:
        policy = Policy(id=1)
        session.add(policy)
        await session.flush()
    return policy


async def update_policy(session: AsyncSession, data: PolicyUpdate) -> PolicyPublic:
    """Applies to clocks started from now on; planned checks keep their instants (R-SLA-6)."""
    policy = await get_policy(session)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    changed = crud.apply_changes(policy, changes)
    if changed:
        policy.updated_at = utcnow()
    return PolicyPublic.model_validate(policy)
