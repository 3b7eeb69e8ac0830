"""People at the agency, machine callers, and the keys both authenticate with."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlmodel import Field, SQLModel

from app.core.models import (
    EmailAddress,
    ExternalId,
    MultiLine,
    Name,
    PublicModel,
    RequestModel,
    Timestamps,
    TimeZoneName,
    UpdateModel,
    instant_field,
    not_null_columns,
)


class Role(StrEnum):
    """What a principal may do: ``admin`` everything, ``integration`` every record but no admin
    operation, ``recruiter`` only what they own."""

    admin = "admin"
    integration = "integration"
    recruiter = "recruiter"


class UserRole(StrEnum):
    admin = "admin"
    recruiter = "recruiter"


class ApiClientRole(StrEnum):
    admin = "admin"
    integration = "integration"


class UserBase(SQLModel):
    email: EmailAddress = Field(max_length=320, unique=True)
    name: Name = Field(max_length=200)
    role: UserRole = Field(sa_type=String(16))
    time_zone: TimeZoneName = Field(default="UTC", max_length=64)
    active: bool = True
    external_id: ExternalId | None = Field(default=None, max_length=128, unique=True)


class User(UserBase, Timestamps, table=True):
    id: int | None = Field(default=None, primary_key=True)


class UserCreate(UserBase, RequestModel):
    pass


class UserUpdate(UpdateModel):
    not_null = not_null_columns(User)

    email: EmailAddress | None = Field(default=None, max_length=320)
    name: Name | None = None
    role: UserRole | None = None
    time_zone: TimeZoneName | None = None
    active: bool | None = None
    external_id: ExternalId | None = None


class UserPublic(UserBase, PublicModel):
    pass


class ApiClientBase(SQLModel):
    name: Name = Field(max_length=200, unique=True)
    role: ApiClientRole = Field(sa_type=String(16))
    description: MultiLine | None = Field(default=None, max_length=2000)


class ApiClient(ApiClientBase, Timestamps, table=True):
    __tablename__ = "api_client"
    id: int | None = Field(default=None, primary_key=True)


class ApiClientCreate(ApiClientBase, RequestModel):
    pass


class ApiClientUpdate(UpdateModel):
    not_null = not_null_columns(ApiClient)

    name: Name | None = None
    description: MultiLine | None = Field(default=None, max_length=2000)


class ApiClientPublic(ApiClientBase, PublicModel):
    pass


class ApiKey(SQLModel, table=True):
    """A bearer key. Only its keyed hash is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (api_client_id IS NULL)", name="exactly_one_owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16, description="First characters, to recognise a key.")
    key_hash: str = Field(max_length=64, unique=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    api_client_id: int | None = Field(default=None, foreign_key="api_client.id", index=True)
    created_at: datetime = instant_field(nullable=False)
    revoked_at: datetime | None = instant_field(default=None, nullable=True)


class ApiKeyCreate(RequestModel):
    name: Name = Field(description="What the key is for, e.g. 'Bullhorn sync'.")


class ApiKeyPublic(SQLModel):
    id: int
    name: str
    prefix: str
    user_id: int | None
    api_client_id: int | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself. Shown this once; store it now.")
