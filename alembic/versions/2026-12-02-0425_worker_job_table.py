"""worker_job: the one durable-work table (decision 0050)

Revision ID: 3794d5106987
Revises: 67ad2fdf2ba7
Create Date: 2026-12-02 04:25:12.723085+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "3794d5106987"
down_revision: str | None = "67ad2fdf2ba7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_job",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ids", sa.JSON(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("claim_token", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_job")),
    )
    with op.batch_alter_table("worker_job", schema=None) as batch_op:
        batch_op.create_index(
            "ix_worker_job_due",
            ["kind", "run_at"],
            unique=False,
            sqlite_where=sa.text("state = 'queued'"),
            postgresql_where=sa.text("state = 'queued'"),
        )
        batch_op.create_index(
            "ix_worker_job_lease",
            ["kind", "lease_expires_at"],
            unique=False,
            sqlite_where=sa.text("state = 'running'"),
            postgresql_where=sa.text("state = 'running'"),
        )
        batch_op.create_index(
            "uq_worker_job_live_dedupe",
            ["kind", "dedupe_key"],
            unique=True,
            sqlite_where=sa.text("dedupe_key IS NOT NULL AND state IN ('queued', 'running')"),
            postgresql_where=sa.text("dedupe_key IS NOT NULL AND state IN ('queued', 'running')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("worker_job", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_worker_job_live_dedupe",
            sqlite_where=sa.text("dedupe_key IS NOT NULL AND state IN ('queued', 'running')"),
            postgresql_where=sa.text("dedupe_key IS NOT NULL AND state IN ('queued', 'running')"),
        )
        batch_op.drop_index(
            "ix_worker_job_lease",
            sqlite_where=sa.text("state = 'running'"),
            postgresql_where=sa.text("state = 'running'"),
        )
        batch_op.drop_index(
            "ix_worker_job_due",
            sqlite_where=sa.text("state = 'queued'"),
            postgresql_where=sa.text("state = 'queued'"),
        )

    op.drop_table("worker_job")
