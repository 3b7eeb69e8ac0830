"""updated_since syncs page by keyset: an (updated_at, id) index on each synced table replaces
its updated_at index (issue 14)

Revision ID: 8b1f0c2d7e41
Revises: 5e0c1d2a9f10
Create Date: 2026-12-02 13:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8b1f0c2d7e41"
down_revision: str | None = "5e0c1d2a9f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The tables an ATS walks with ``updated_since`` (app.core.models.SyncedTimestamps).
SYNCED = ("candidate", "client", "contact", "job", "submission", "interview", "feedback")


def upgrade() -> None:
    for table in SYNCED:
        op.create_index(f"ix_{table}_updated_at_id", table, ["updated_at", "id"], unique=False)
        op.drop_index(f"ix_{table}_updated_at", table_name=table)


def downgrade() -> None:
    for table in SYNCED:
        op.create_index(f"ix_{table}_updated_at", table, ["updated_at"], unique=False)
        op.drop_index(f"ix_{table}_updated_at_id", table_name=table)
