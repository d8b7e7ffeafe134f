"""counter: paper received apart from scans; keyed hash of the applicant's ID number for search

Revision ID: 0007_counter
Revises: 0006_provisional_calendar
Create Date: 2026-12-03 09:30:00

Backfill: ``materials.paper_received`` is set where the line was ticked and no scan was attached (a
tick and scans together cannot be told apart afterwards: those stay "not recorded", which is honest);
``applicants.id_number_hash`` is computed with the secret the app reads (``TONGBAN_SECRET_KEY``), so
run the migration with the same environment as the app.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db

revision: str = "0007_counter"
down_revision: str | None = "0006_provisional_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): SQLite can add these in place, and copying ``materials`` would
    # have to drop a table that stored files refer to, which foreign-key enforcement refuses.
    op.add_column("materials", sa.Column("paper_received", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("materials", sa.Column("paper_received_at", storage.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("applicants", sa.Column("id_number_hash", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_applicants_id_number_hash"), "applicants", ["id_number_hash"], unique=False)

    bind = op.get_bind()
    bind.execute(sa.text(
        "UPDATE materials SET paper_received = :yes WHERE provided = :yes AND NOT EXISTS "
        "(SELECT 1 FROM stored_files f WHERE f.material_id = materials.id)"
    ), {"yes": True})

    from config import Settings
    from storage.case.idhash import derive_key, digest

    key = derive_key(Settings().secret_key)
    rows = bind.execute(sa.text("SELECT id, id_number FROM applicants")).fetchall()
    for row_id, number in rows:
        bind.execute(sa.text("UPDATE applicants SET id_number_hash = :h WHERE id = :id"),
                     {"h": digest(key, number or ""), "id": row_id})


def downgrade() -> None:
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applicants_id_number_hash"))
        batch_op.drop_column("id_number_hash")
    with op.batch_alter_table("materials", schema=None) as batch_op:
        batch_op.drop_column("paper_received_at")
        batch_op.drop_column("paper_received")
