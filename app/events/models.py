"""Immutable events: every change, who made it, to which record, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.core.models import instant_field


class Event(SQLModel, table=True):
    """Append-only. ``data`` names what changed, never personal data (R-PV): the feed may be
    copied to integrations, and erasure must not have to rewrite history."""

    __table_args__ = (Index("ix_event_record", "record_type", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = instant_field(nullable=False, index=True)
    actor_type: str = Field(max_length=16)
    actor_id: int | None = None
    action: str = Field(max_length=64)
    record_type: str = Field(max_length=32)
    record_id: int
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class EventPublic(SQLModel):
    id: int
    occurred_at: datetime
    actor_type: str
    actor_id: int | None
    action: str
    record_type: str
    record_id: int
    data: dict[str, Any]
