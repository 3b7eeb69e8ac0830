"""Candidates: job seekers the agency represents."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from app.core.models import (
    EmailAddress,
    ExternalId,
    Name,
    PublicModel,
    RefId,
    RequestModel,
    SingleLine,
    SyncedTimestamps,
    TimeZoneName,
    UpdateModel,
    not_null_columns,
    sync_order_index,
)


class CandidateBase(SQLModel):
    first_name: Name = Field(max_length=200)
    last_name: Name = Field(max_length=200)
    email: EmailAddress = Field(max_length=320, index=True)
    phone: SingleLine | None = Field(default=None, max_length=40)
    time_zone: TimeZoneName = Field(default="UTC", max_length=64)
    status_emails_opt_out: bool = Field(
        default=False, description="R-CAND-5: no automated status emails (tasks still fire)."
    )
    external_id: ExternalId | None = Field(default=None, max_length=128, unique=True)


class Candidate(CandidateBase, SyncedTimestamps, table=True):
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", index=True)


sync_order_index(Candidate)  # the keyset of updated_since syncs (app.core.pagination)


class CandidateCreate(CandidateBase, RequestModel):
    owner_id: RefId | None = Field(
        default=None,
        description="The owner recruiter's user id. Required for admins and integrations; "
        "a recruiter's candidates are always their own.",
    )


class CandidateUpdate(UpdateModel):
    not_null = not_null_columns(Candidate)

    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailAddress | None = Field(default=None, max_length=320)
    phone: SingleLine | None = Field(default=None, max_length=40)
    time_zone: TimeZoneName | None = None
    status_emails_opt_out: bool | None = None
    external_id: ExternalId | None = None
    owner_id: RefId | None = Field(default=None, description="Reassign (admins, integrations).")


class CandidatePublic(CandidateBase, PublicModel):
    owner_id: int
