"""The head of each case's audit chain on the case row (a transition reads it in its one SELECT)

Revision ID: 0009_transition_floor
Revises: 0007_counter
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_transition_floor"
down_revision: str | None = "0007_counter"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("audit_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("audit_head", sa.String(length=64), nullable=False, server_default=GENESIS))
    # Existing trails: the head is the last event of each case.
    op.execute(
        "UPDATE cases SET"
        " audit_seq = COALESCE((SELECT MAX(a.seq) FROM audit_events a WHERE a.case_id = cases.id), 0),"
        f" audit_head = COALESCE((SELECT a.hash FROM audit_events a WHERE a.case_id = cases.id"
        f" ORDER BY a.seq DESC LIMIT 1), '{GENESIS}')"
    )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("audit_head")
        batch.drop_column("audit_seq")
