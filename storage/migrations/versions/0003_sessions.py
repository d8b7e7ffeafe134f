"""Security: server-side browser sessions (revocable), sign-in throttle, when a case was forwarded

``user_sessions`` lets logout, a password change, a deactivation or "sign out everywhere" end a
session at once. ``login_throttle`` counts failed sign-ins of names that are no account, so they
lock out like real ones. ``cases.forwarded_at`` is when the handling zone became party to the case
(docs/architecture.md#party); existing cases get it from their first ``forward`` audit event.

Revision ID: 0003_sessions
Revises: 0002
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db

revision: str = "0003_sessions"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_user_sessions_token_sha256")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
    op.create_table(
        "login_throttle",
        sa.Column("name_sha256", sa.String(length=64), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failed_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name_sha256", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_throttle_last_failed_at"), ["last_failed_at"], unique=False)
    # Plain ADD COLUMN (not a batch table copy, which on SQLite under foreign keys fails or cascades).
    op.add_column("cases", sa.Column("forwarded_at", storage.db.UTCDateTime(timezone=True), nullable=True))
    # Cases forwarded before this revision: the time of their first forward, from the audit trail.
    op.execute(
        "UPDATE cases SET forwarded_at = (SELECT MIN(a.at) FROM audit_events a "
        "WHERE a.case_id = cases.id AND a.event = 'forward') "
        "WHERE EXISTS (SELECT 1 FROM audit_events a WHERE a.case_id = cases.id AND a.event = 'forward')"
    )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("forwarded_at")
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_last_failed_at"))
    op.drop_table("login_throttle")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
