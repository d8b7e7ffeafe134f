"""自助机: terminal registry, kiosk receipts (locker slot, pickup code), the kiosk's visit

Revision ID: 0012_kiosk
Revises: 0009_transition_floor
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_kiosk"
down_revision: str | None = "0011_licences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kiosk_terminals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("terminal_id", sa.String(40), nullable=False, unique=True),
        sa.Column("zone_id", sa.Integer(), sa.ForeignKey("zones.id"), nullable=False, index=True),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, unique=True),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("locker_slots", sa.Integer(), nullable=False, server_default="12"),
        sa.Column("reader_url", sa.String(200), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(60), nullable=False, server_default=""),
    )
    op.create_table(
        "kiosk_receipts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("terminal_pk", sa.Integer(), sa.ForeignKey("kiosk_terminals.id"), nullable=False, index=True),
        sa.Column("slot", sa.String(10), nullable=False),
        sa.Column("pickup_code_sha256", sa.String(64), nullable=False),
        sa.Column("signature_file_id", sa.Integer(), sa.ForeignKey("stored_files.id"), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(60), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("uq_kiosk_receipts_open_slot", "kiosk_receipts", ["terminal_pk", "slot"], unique=True,
                    sqlite_where=sa.text("confirmed_at IS NULL"), postgresql_where=sa.text("confirmed_at IS NULL"))
    op.create_table(
        "kiosk_visits",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("terminal_pk", sa.Integer(), sa.ForeignKey("kiosk_terminals.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("case_no", sa.String(40), nullable=False),
        sa.Column("pickup_code", sa.String(10), nullable=False),
        sa.Column("slot", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kiosk_visits")
    op.drop_index("uq_kiosk_receipts_open_slot", table_name="kiosk_receipts")
    op.drop_table("kiosk_receipts")
    op.drop_table("kiosk_terminals")
