"""The SLA policy (admin) and a submission's schedule of checks."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth.dependencies import AdminPrincipal, CurrentPrincipal
from app.core.database import SessionDep
from app.core.errors import problem_responses
from app.core.filters import IdPath
from app.events import service as events
from app.sla import policy, service
from app.sla.models import PolicyPublic, PolicyUpdate, SchedulePublic
from app.submissions import service as submissions

router = APIRouter(tags=["sla"], responses=problem_responses(401))


@router.get("/policy", summary="Get the SLA policy")
async def get_policy(session: SessionDep, _: CurrentPrincipal) -> PolicyPublic:
    """Every number of the cadence (R-SLA-7) and of thank-you review (R-TY-4)."""
    return PolicyPublic.model_validate(await policy.get_policy(session))


@router.patch("/policy", summary="Update the SLA policy", responses=problem_responses(403, 422))
async def update_policy(
    session: SessionDep, principal: AdminPrincipal, body: PolicyUpdate
) -> PolicyPublic:
    """Change the numbers given. Applies to clocks started from now on."""
    updated = await policy.update_policy(session, body)
    await events.record(
        session,
        principal,
        action="policy.updated",
        record_type="policy",
        record_id=1,
        data={"fields": sorted(body.model_dump(exclude_unset=True))},
    )
    return updated


@router.get(
    "/submissions/{submission_id}/schedule",
    summary="Schedule of a submission's checks",
    responses=problem_responses(404, 422),
)
async def get_schedule(
    session: SessionDep, principal: CurrentPrincipal, submission_id: IdPath
) -> SchedulePublic:
    """Every clock and its checks — planned, fired, cancelled — with due and breach instants
    (R-SLA-6: the whole schedule is visible before anything fires)."""
    submission = await submissions.get(session, principal, submission_id)
    return await service.schedule(session, submission)
