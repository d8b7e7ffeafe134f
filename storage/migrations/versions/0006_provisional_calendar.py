"""Provisional deadlines for an unpublished calendar year; admin-entered holiday schedules (issue 12)

Revision ID: 0006_provisional_calendar
Revises: 0005_zone_routes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db

revision: str = "0006_provisional_calendar"
down_revision: str | None = "0005_zone_routes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (not a batch copy): on SQLite a table copy under foreign keys would cascade
    # into the rows that refer to the case (materials, files) and lose them.
    op.add_column("cases", sa.Column("due_provisional", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("cases", sa.Column("step_due_provisional", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("case_deadlines", sa.Column("provisional", sa.Boolean(), nullable=False,
                                              server_default=sa.false()))
    # The recompute reads only the provisional rows: a partial index keeps that a range, not a scan.
    op.create_index("ix_cases_due_provisional", "cases", ["due_provisional"],
                    postgresql_where=sa.text("due_provisional"), sqlite_where=sa.text("due_provisional"))
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=60), nullable=False),
        sa.Column("added_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )


def downgrade() -> None:
    op.drop_table("calendar_years")
    op.drop_index("ix_cases_due_provisional", table_name="cases")
    with op.batch_alter_table("case_deadlines") as batch:
        batch.drop_column("provisional")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("step_due_provisional")
        batch.drop_column("due_provisional")
