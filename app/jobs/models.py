"""Jobs: a client's opening that the agency works on."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.core.models import (
    ExternalId,
    Name,
    PublicModel,
    RefId,
    RequestModel,
    SyncedTimestamps,
    UpdateModel,
    not_null_columns,
    sync_order_index,
)


class JobStatus(StrEnum):
    open = "open"
    on_hold = "on_hold"
    closed = "closed"


class JobBase(SQLModel):
    title: Name = Field(max_length=200)
    status: JobStatus = Field(default=JobStatus.open, sa_type=String(16))
    external_id: ExternalId | None = Field(default=None, max_length=128, unique=True)


class Job(JobBase, SyncedTimestamps, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    primary_contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    owner_id: int = Field(foreign_key="user.id", index=True)


sync_order_index(Job)  # the keyset of updated_since syncs (app.core.pagination)


class JobCreate(JobBase, RequestModel):
    client_id: RefId
    primary_contact_id: RefId | None = Field(
        default=None, description="A contact of the same client: who is chased for decisions."
    )
    owner_id: RefId | None = Field(
        default=None, description="Owner recruiter. Required for admins and integrations."
    )


class JobUpdate(UpdateModel):
    not_null = not_null_columns(Job)

    title: Name | None = None
    status: JobStatus | None = None
    external_id: ExternalId | None = None
    primary_contact_id: RefId | None = None
    owner_id: RefId | None = None


class JobPublic(JobBase, PublicModel):
    client_id: int
    primary_contact_id: int | None
    owner_id: int
