"""Template overrides: checked, stored, restored, and previewed on a real submission.

Overrides are Jinja2 text run in a sandbox, checked before they are stored: they must compile,
render with every field a section gets, and — for the kinds that promise a date — say when the
candidate will hear next (R-CAND-1). The HTML part is derived from the text and autoescaped.
"""

from __future__ import annotations

from datetime import date

from jinja2 import TemplateError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.calendar import lookup as calendars
from app.core.clock import utcnow
from app.core.errors import InvalidInput, NotFound
from app.core.settings import Settings
from app.events import service as events
from app.messaging import repository
from app.messaging.delivery import context, promises
from app.messaging.models import MessageKind, MessageTemplate, SectionKind
from app.messaging.outbox import PROMISING
from app.messaging.render import CONFIDENTIAL_CLIENT, Section, default_source, render_email
from app.messaging.template_admin.schemas import PreviewPublic, TemplatePublic
from app.submissions.models import Submission

#: Private links are made when an email goes; a preview shows where they go.
PREVIEW_LINK = "(your private link, made when the email goes)"
_WITH_DETAIL = {SectionKind.note_changes_requested.value, SectionKind.feedback_shared.value}


def check(kind: SectionKind, body: str) -> None:
    """Refuse wording that does not render, or a promising kind that states no date."""
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
    if MessageKind(kind.value) in PROMISING and "3 December" not in text:
        raise InvalidInput(
            "body.body",
            "This message must say when the candidate will hear next: use {{ next_date }}.",
        )


async def list_templates(session: AsyncSession) -> list[TemplatePublic]:
    """Every section kind with its current wording (an override, or the default)."""
    overrides = await repository.template_overrides(session)
    return [
        TemplatePublic(
            kind=kind,
            body=overrides.get(kind.value, default_source(kind.value)),
            overridden=kind.value in overrides,
        )
        for kind in SectionKind
    ]


async def reword(
    session: AsyncSession, principal: Principal, kind: SectionKind, body: str
) -> TemplatePublic:
    """Store the admin's wording of one kind, once it passes ``check``."""
    check(kind, body)
    row = await session.get(MessageTemplate, kind.value)
    if row is None:
        session.add(MessageTemplate(kind=kind.value, body=body, updated_at=utcnow()))
    else:
        row.body, row.updated_at = body, utcnow()
    await events.record(
        session,
        principal,
        action="template.updated",
        record_type="template",
        record_id=1,
        data={"kind": kind.value},
    )
    return TemplatePublic(kind=kind, body=body, overridden=True)


async def restore(session: AsyncSession, principal: Principal, kind: SectionKind) -> None:
    """Back to the packaged wording; 404 when the kind is not overridden."""
    row = await session.get(MessageTemplate, kind.value)
    if row is None:
        raise NotFound(f"The {kind.value} template is not overridden.")
    await session.delete(row)
    await events.record(
        session,
        principal,
        action="template.restored",
        record_type="template",
        record_id=1,
        data={"kind": kind.value},
    )


async def preview(
    session: AsyncSession, submission: Submission, kind: SectionKind, *, settings: Settings
) -> PreviewPublic:
    """The email the drain would compose for ``submission`` now, from the drain's own context
    and promise rules; nothing is sent or recorded. Only candidate-safe facts (R-CAND-6)."""
    assert submission.id is not None
    ctx = await context.load_context(session, {submission.id})
    row = ctx.rows[submission.id]
    now = utcnow()
    agency = await calendars.default_calendar(session)
    promised = promises.promise_date_for(
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
        overrides=await repository.template_overrides(session),
        recruiter_name=row.recruiter_name,
        recruiter_email=row.recruiter_email,
        agency_name=settings.email_from_name,
        opt_out_url=f"{settings.public_base_url.rstrip('/')}/v1/opt-out/(link in the email)",
        portal_url=PREVIEW_LINK,
    )
    return PreviewPublic(subject=rendered.subject, text=rendered.text, html=rendered.html)
