"""Request and response models of the template endpoints."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import SQLModel

from app.core.models import MultiLine, RefId, RequestModel
from app.messaging.models import SectionKind


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
