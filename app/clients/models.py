"""Clients (hiring companies) and their contacts, each contact with a contact policy (R-CP)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
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


class ClientBase(SQLModel):
    name: Name = Field(max_length=200)
    confidential: bool = Field(
        default=False, description="R-CAND-6: the name never appears to candidates."
    )
    allow_automated_nudges: bool = Field(
        default=False, description="R-CP-2: open contacts may get automated decision nudges."
    )
    external_id: ExternalId | None = Field(default=None, max_length=128, unique=True)
    calendar_id: RefId | None = Field(
        default=None,
        foreign_key="calendar.id",
        description="R-BT: the client's business calendar; the agency default when empty.",
    )


class Client(ClientBase, SyncedTimestamps, table=True):
    id: int | None = Field(default=None, primary_key=True)


sync_order_index(Client)  # the keyset of updated_since syncs (app.core.pagination)


class ClientCreate(ClientBase, RequestModel):
    pass


class ClientUpdate(UpdateModel):
    not_null = not_null_columns(Client)

    name: Name | None = None
    calendar_id: RefId | None = None
    confidential: bool | None = None
    allow_automated_nudges: bool | None = None
    external_id: ExternalId | None = None


class ClientPublic(ClientBase, PublicModel):
    pass


class ContactRole(StrEnum):
    hiring_manager = "hiring_manager"
    corporate_recruiter = "corporate_recruiter"
    interviewer = "interviewer"


class ContactPolicy(StrEnum):
    """R-CP-2: ``open`` may be emailed; ``recruiter_only`` only through a recruiter task;
    ``do_not_contact`` nothing at all, not even a task asking someone to contact them."""

    open = "open"
    recruiter_only = "recruiter_only"
    do_not_contact = "do_not_contact"


class ContactBase(SQLModel):
    name: Name = Field(max_length=200)
    email: EmailAddress | None = Field(default=None, max_length=320)
    phone: SingleLine | None = Field(default=None, max_length=40)
    title: SingleLine | None = Field(default=None, max_length=200)
    role: ContactRole = Field(sa_type=String(32))
    time_zone: TimeZoneName = Field(default="UTC", max_length=64)
    contact_policy: ContactPolicy = Field(default=ContactPolicy.open, sa_type=String(32))
    candidate_may_email_directly: bool = Field(
        default=False, description="R-CP-4: this contact invited candidates to email them."
    )
    no_chase: bool = Field(default=False, description="R-CP-3: asked not to be chased.")
    external_id: ExternalId | None = Field(default=None, max_length=128, unique=True)


class Contact(ContactBase, SyncedTimestamps, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)


sync_order_index(Contact)  # the keyset of updated_since syncs (app.core.pagination)


class ContactCreate(ContactBase, RequestModel):
    client_id: RefId


class ContactUpdate(UpdateModel):
    not_null = not_null_columns(Contact)

    name: Name | None = None
    email: EmailAddress | None = Field(default=None, max_length=320)
    phone: SingleLine | None = Field(default=None, max_length=40)
    title: SingleLine | None = Field(default=None, max_length=200)
    role: ContactRole | None = None
    time_zone: TimeZoneName | None = None
    contact_policy: ContactPolicy | None = None
    candidate_may_email_directly: bool | None = None
    no_chase: bool | None = None
    external_id: ExternalId | None = None


class ContactPublic(ContactBase, PublicModel):
    client_id: int
