"""policy numbers for promises (after an interview; where no check backs a promise), and the
index that lets every worker round settle open promises whose day ended

Revision ID: 5e0c1d2a9f10
Revises: 3794d5106987
Create Date: 2026-12-02 04:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "5e0c1d2a9f10"
down_revision: str | None = "3794d5106987"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("policy") as batch_op:
        batch_op.add_column(
            sa.Column("after_interview_days", sa.Integer(), nullable=False, server_default="2")
        )
        batch_op.add_column(
            sa.Column("promise_days", sa.Integer(), nullable=False, server_default="3")
        )
    op.create_index(
        "ix_promise_open_due",
        "promise",
        ["due_by_at"],
        unique=False,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_promise_open_due",
        table_name="promise",
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )
    with op.batch_alter_table("policy") as batch_op:
        batch_op.drop_column("promise_days")
        batch_op.drop_column("after_interview_days")
