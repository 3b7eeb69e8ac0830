"""The agency policy: every number of the cadence and of thank-you review, one row (id 1)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.models import UpdateModel, instant_field, not_null_columns


class Policy(SQLModel, table=True):
    """R-SLA-7 / R-TY-4: every number of the cadence, one row (id 1), changeable by an admin."""

    id: int = Field(default=1, primary_key=True)
    first_check_days: int = Field(default=5, ge=1, le=60)
    second_check_days: int = Field(default=3, ge=1, le=60)
    breach_days: int = Field(default=1, ge=1, le=30)
    silence_days: int = Field(default=5, ge=1, le=90)
    keep_waiting_days: int = Field(default=3, ge=1, le=60)
    auto_close_on_silence: bool = False
    review_due_hours: int = Field(default=2, ge=1, le=80)
    review_breach_hours: int = Field(default=4, ge=1, le=160)
    updated_at: datetime | None = instant_field(default=None, nullable=True)


class PolicyPublic(SQLModel):
    first_check_days: int = Field(description="R-SLA-1: first check after the clock start.")
    second_check_days: int = Field(description="R-SLA-2: second check after the first's due.")
    breach_days: int = Field(description="R-SLA-3: a check's task breaches this much later.")
    silence_days: int = Field(description="R-SLA-4: decide task after the first check's due.")
    keep_waiting_days: int = Field(description="R-SLA-4: the extra check after 'keep waiting'.")
    auto_close_on_silence: bool = Field(description="R-SLA-4: close instead of a decide task.")
    review_due_hours: int = Field(description="R-TY-4: thank-you review due (business hours).")
    review_breach_hours: int = Field(description="R-TY-4: thank-you review breached.")
    updated_at: datetime | None


class PolicyUpdate(UpdateModel):
    not_null = not_null_columns(Policy)

    first_check_days: int | None = Field(default=None, ge=1, le=60)
    second_check_days: int | None = Field(default=None, ge=1, le=60)
    breach_days: int | None = Field(default=None, ge=1, le=30)
    silence_days: int | None = Field(default=None, ge=1, le=90)
    keep_waiting_days: int | None = Field(default=None, ge=1, le=60)
    auto_close_on_silence: bool | None = None
    review_due_hours: int | None = Field(default=None, ge=1, le=80)
    review_breach_hours: int | None = Field(default=None, ge=1, le=160)
