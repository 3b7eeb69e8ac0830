"""The agency's SLA policy, submission clocks and their checks (R-SLA)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String, text
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
    after_interview_days: int = Field(default=2, ge=1, le=30)
    promise_days: int = Field(default=3, ge=1, le=30)
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
    after_interview_days: int = Field(
        description="R-CAND-1: an interview-scheduled email promises news this many business "
        "days after the interview's end."
    )
    promise_days: int = Field(
        description="R-CAND-1: where no check falls before it, a promise is made this many "
        "business days ahead and backed by a promise check on that day."
    )
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
    after_interview_days: int | None = Field(default=None, ge=1, le=30)
    promise_days: int | None = Field(default=None, ge=1, le=30)
    review_due_hours: int | None = Field(default=None, ge=1, le=80)
    review_breach_hours: int | None = Field(default=None, ge=1, le=160)


class CheckKind(StrEnum):
    first = "first"
    second = "second"
    silence = "silence"
    extra = "extra"
    #: R-CAND-1: backs a promise no cadence check backs; fires on the promised day (08:00 local)
    #: unless a newer message about the application was sent first.
    promise = "promise"


class CheckState(StrEnum):
    scheduled = "scheduled"
    claimed = "claimed"
    fired = "fired"
    cancelled = "cancelled"


class SlaClock(SQLModel, table=True):
    """One waiting period of a submission: started by entering a waiting stage, stopped by
    feedback or a move (R-SLA-5)."""

    __tablename__ = "sla_clock"
    __table_args__ = (
        # At most one running clock per submission.
        Index(
            "uq_sla_clock_running",
            "submission_id",
            unique=True,
            sqlite_where=text("stopped_at IS NULL"),
            postgresql_where=text("stopped_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    stage: str = Field(max_length=32)
    started_at: datetime = instant_field(nullable=False)
    decision_date: date | None = None
    stopped_at: datetime | None = instant_field(default=None, nullable=True)
    stop_reason: str | None = Field(default=None, max_length=64)


class SlaCheck(SQLModel, table=True):
    """A planned check, placed on its due instant when the clock starts (R-SLA-6).

    The worker claims due checks with a lease (``claim_token``/``claim_expires_at``) and fires them
    in a second transaction fenced on the token, so each check fires exactly once however many
    workers run, and a check whose worker died is claimed again once the lease has expired.
    """

    __tablename__ = "sla_check"
    __table_args__ = (
        # The sweep's only query: due, not yet fired. Partial, so fired history costs nothing.
        Index(
            "ix_sla_check_pending_due",
            "due_at",
            sqlite_where=text("state IN ('scheduled', 'claimed')"),
            postgresql_where=text("state IN ('scheduled', 'claimed')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Not indexed: every query goes by submission or by due instant, and each index on this hot
    # table is one more write per state change (docs/performance.md).
    clock_id: int = Field(foreign_key="sla_clock.id")
    submission_id: int = Field(foreign_key="submission.id", index=True)
    kind: CheckKind = Field(sa_type=String(16))
    due_at: datetime = instant_field(nullable=False)
    breach_at: datetime = instant_field(nullable=False)
    state: CheckState = Field(default=CheckState.scheduled, sa_type=String(16))
    claim_token: str | None = Field(default=None, max_length=36)
    claim_expires_at: datetime | None = instant_field(default=None, nullable=True)
    claims: int = Field(default=0, description="How often it was claimed (>1: a lease expired).")
    fired_at: datetime | None = instant_field(default=None, nullable=True)


class CheckPublic(SQLModel):
    id: int
    clock_id: int
    kind: CheckKind
    due_at: datetime
    breach_at: datetime
    state: CheckState
    fired_at: datetime | None


class ClockPublic(SQLModel):
    id: int
    stage: str
    started_at: datetime
    decision_date: date | None
    stopped_at: datetime | None
    stop_reason: str | None
    checks: list[CheckPublic]


class SchedulePublic(SQLModel):
    """Every clock of a submission with its planned and past checks, before anything fires."""

    submission_id: int
    clocks: list[ClockPublic]
