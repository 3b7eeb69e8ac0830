"""Admins reword the status sections; anyone who can see a submission can preview its email.

Overrides are Jinja2 text run in a sandbox, checked before they are stored: they must compile,
render with every field a section gets, and — for the kinds that promise a date — say when the
candidate will hear next (R-CAND-1). The HTML part is derived from the text and autoescaped.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, status
from jinja2 import TemplateError
from pydantic import Field
from sqlmodel import SQLModel

from app.auth.dependencies import AdminPrincipal, CurrentPrincipal
from app.calendar import lookup as calendars
from app.core.clock import utcnow
from app.core.database import SessionDep
from app.core.errors import InvalidInput, NotFound, problem_responses
from app.core.models import MultiLine, RefId, RequestModel
from app.core.settings import SettingsDep
from app.events import service as events
from app.messaging import outbox
from app.messaging.models import MessageKind, MessageTemplate, SectionKind
from app.messaging.render import CONFIDENTIAL_CLIENT, Section, default_source, render_email
from app.submissions import service as submissions

router = APIRouter(prefix="/templates", tags=["messages"], responses=problem_responses(401, 422))

Kind = Annotated[SectionKind, Path(description="The section kind (what a candidate email says).")]


class TemplatePublic(SQLModel):
    kind: SectionKind
    body: str
    overridden: bool


class TemplateUpdate(RequestModel):
    body: MultiLine = Field(
        min_length=1, max_length=5000, description="Jinja2 text of the section."
    )


class PreviewRequest(RequestModel):
    submission_id: RefId


class PreviewPublic(SQLModel):
    subject: str
    text: str
    html: str


#: Private links are made when an email goes; a preview shows where they go.
PREVIEW_LINK = "(your private link, made when the email goes)"
_WITH_DETAIL = {SectionKind.note_changes_requested.value, SectionKind.feedback_shared.value}


def _check(kind: SectionKind, body: str) -> None:
    sample = Section(
        kind=kind.value,
        job_title="Data Engineer",
        client_name="Acme",
        next_date=date(2026, 12, 3),
        interview_date=date(2026, 12, 1),
        detail="A comment from the recruiter.",
        link="https://agency.example/portal/(private link)",
        portal_url="https://agency.example/portal/(private link)",
    )
    try:
        text = sample.render_strictly(body)
    except TemplateError as exc:
        raise InvalidInput("body.body", f"The template does not render: {exc}") from None
    if MessageKind(kind.value) in outbox.PROMISING and "3 December" not in text:
        raise InvalidInput(
            "body.body",
            "This message must say when the candidate will hear next: use {{ next_date }}.",
        )


@router.get("", summary="List status templates")
async def list_templates(session: SessionDep, _: CurrentPrincipal) -> list[TemplatePublic]:
    """Every section kind with its current wording (an admin's override, or the default)."""
    overrides = await outbox.template_overrides(session)
    return [
        TemplatePublic(
            kind=kind,
            body=overrides.get(kind.value, default_source(kind.value)),
            overridden=kind.value in overrides,
        )
        for kind in SectionKind
    ]


@router.put("/{kind}", summary="Reword a status template", responses=problem_responses(403))
async def put_template(
    session: SessionDep, principal: AdminPrincipal, kind: Kind, body: TemplateUpdate
) -> TemplatePublic:
    """Replace the wording of one section kind. Checked first: it must render, and promising
    kinds must state the date ({{ next_date }})."""
    _check(kind, body.body)
    row = await session.get(MessageTemplate, kind.value)
    if row is None:
        session.add(MessageTemplate(kind=kind.value, body=body.body, updated_at=utcnow()))
    else:
        row.body, row.updated_at = body.body, utcnow()
    events.record(
        session,
        principal,
        action="template.updated",
        record_type="template",
        record_id=1,
        data={"kind": kind.value},
    )
    return TemplatePublic(kind=kind, body=body.body, overridden=True)


@router.delete(
    "/{kind}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Restore a default template",
    responses=problem_responses(403, 404),
)
async def delete_template(session: SessionDep, principal: AdminPrincipal, kind: Kind) -> None:
    """Back to the packaged wording."""
    row = await session.get(MessageTemplate, kind.value)
    if row is None:
        raise NotFound(f"The {kind.value} template is not overridden.")
    await session.delete(row)
    events.record(
        session,
        principal,
        action="template.restored",
        record_type="template",
        record_id=1,
        data={"kind": kind.value},
    )


@router.post("/{kind}/preview", summary="Preview a status email", responses=problem_responses(404))
async def preview(
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    kind: Kind,
    body: PreviewRequest,
) -> PreviewPublic:
    """What the candidate of this submission would receive for this kind now; nothing is sent
    or recorded. Only candidate-safe facts appear (R-CAND-6)."""
    submission = await submissions.get(session, principal, body.submission_id)
    assert submission.id is not None
    ctx = await outbox.load_context(session, {submission.id})
    row = ctx.rows[submission.id]
    now = utcnow()
    agency = await calendars.default_calendar(session)
    promised = outbox.promise_date_for(
        ctx, MessageKind(kind.value), submission.id, now=now, tz=row.time_zone, agency=agency
    )
    rendered = render_email(
        first_name=row.first_name,
        sections=[
            Section(
                kind=kind.value,
                job_title=row.title,
                client_name=CONFIDENTIAL_CLIENT if row.confidential else row.name,
                next_date=promised,
                interview_date=ctx.interview_day.get(submission.id),
                detail="(the recruiter's words)" if kind.value in _WITH_DETAIL else "",
                link=PREVIEW_LINK,
                portal_url=PREVIEW_LINK,
            )
        ],
        overrides=await outbox.template_overrides(session),
        recruiter_name=row.recruiter_name,
        recruiter_email=row.recruiter_email,
        agency_name=settings.email_from_name,
        opt_out_url=f"{settings.public_base_url.rstrip('/')}/v1/opt-out/(link in the email)",
        portal_url=PREVIEW_LINK,
    )
    return PreviewPublic(subject=rendered.subject, text=rendered.text, html=rendered.html)
