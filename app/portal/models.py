"""The candidate's private link (R-TY-1, R-FB, R-CAND-5): no account, a random token.

Only a keyed hash of the token is stored (as API keys are), so a copy of the database opens no
portal. A link belongs to one candidate; a link for a thank-you note also names one interview,
and only such a link can write a note. Every link expires and can be revoked.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.models import instant_field


class CandidateLink(SQLModel, table=True):
    __tablename__ = "candidate_link"

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    interview_id: int | None = Field(default=None, foreign_key="interview.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    purpose: str = Field(max_length=16, description="`note` (one interview) or `status`.")
    created_at: datetime = instant_field(nullable=False)
    expires_at: datetime = instant_field(nullable=False)
    revoked_at: datetime | None = instant_field(default=None, nullable=True)
    last_used_at: datetime | None = instant_field(default=None, nullable=True)
