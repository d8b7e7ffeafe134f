"""协作机制: ad-hoc requests for items not on the list, their audit trail and answer alerts

Revision ID: 0013_adhoc
Revises: 0009_transition_floor
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.db import UTCDateTime

revision: str = "0013_adhoc"
down_revision: str | None = "0012_kiosk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("adhoc", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "adhoc_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("need", sa.String(200), nullable=False),
        sa.Column("urgency", sa.Text(), nullable=False),
        sa.Column("applicant_name", sa.String(200), nullable=False),
        sa.Column("requesting_zone_id", sa.Integer(), sa.ForeignKey("zones.id", name="fk_adhoc_requests_requesting_zone_id_zones"), nullable=False),
        sa.Column("handling_zone_id", sa.Integer(), sa.ForeignKey("zones.id", name="fk_adhoc_requests_handling_zone_id_zones"), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_role", sa.String(20), nullable=True),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=False),
        sa.Column("promised_days", sa.Integer(), nullable=True),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id", name="fk_adhoc_requests_item_id_items"), nullable=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", name="fk_adhoc_requests_case_id_cases"), nullable=True),
        sa.Column("promoted_item_id", sa.Integer(), sa.ForeignKey("items.id", name="fk_adhoc_requests_promoted_item_id_items"), nullable=True),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_level", sa.String(12), nullable=True),
        sa.Column("next_alert_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("case_id", name="uq_adhoc_requests_case_id"),
    )
    op.create_index("ix_adhoc_requests_next_alert_at", "adhoc_requests", ["next_alert_at"])
    op.create_index("ix_adhoc_requests_handling_state", "adhoc_requests", ["handling_zone_id", "state"])
    op.create_index("ix_adhoc_requests_requesting_state", "adhoc_requests", ["requesting_zone_id", "state"])
    op.create_table(
        "adhoc_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("adhoc_requests.id", name="fk_adhoc_events_request_id_adhoc_requests"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("request_id", "seq", name="uq_adhoc_events_request_seq"),
    )
    op.create_index("ix_adhoc_events_request_id", "adhoc_events", ["request_id"])
    op.create_table(
        "adhoc_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("adhoc_requests.id", name="fk_adhoc_alerts_request_id_adhoc_requests"), nullable=False),
        sa.Column("level", sa.String(12), nullable=False),
        sa.Column("zone_id", sa.Integer(), sa.ForeignKey("zones.id", name="fk_adhoc_alerts_zone_id_zones"), nullable=False),
        sa.Column("side", sa.String(12), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("raised_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("request_id", "level", "zone_id", name="uq_adhoc_alerts_once"),
    )
    op.create_index("ix_adhoc_alerts_request_id", "adhoc_alerts", ["request_id"])


def downgrade() -> None:
    op.drop_table("adhoc_alerts")
    op.drop_table("adhoc_events")
    op.drop_table("adhoc_requests")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("adhoc")
