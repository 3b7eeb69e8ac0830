"""The open promises of a submission by index: each email settles them and the drain's context
reads the earliest (issue 14)

Revision ID: 3c7d9e2f4a18
Revises: 8b1f0c2d7e41
Create Date: 2026-12-06 21:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "3c7d9e2f4a18"
down_revision: str | None = "8b1f0c2d7e41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_promise_open_submission",
        "promise",
        ["submission_id"],
        unique=False,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_promise_open_submission",
        table_name="promise",
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )
