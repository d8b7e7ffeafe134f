"""Federation: peers and their keys, the message log, case ↔ mirror links, refusals (new tables only)

Revision ID: 0010_federation
Revises: 0009_transition_floor
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.db import UTCDateTime

revision: str = "0010_federation"
down_revision: str | None = "0009_transition_floor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_peers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("peer_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("zone_codes", sa.JSON(), nullable=False),
        sa.Column("base_url", sa.String(400), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_contact_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peers")),
        sa.UniqueConstraint("peer_id", name=op.f("uq_federation_peers_peer_id")),
    )
    op.create_table(
        "federation_peer_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), sa.ForeignKey("federation_peers.id", ondelete="CASCADE",
                                                         name=op.f("fk_federation_peer_keys_peer_id_federation_peers")),
                  nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peer_keys")),
        sa.UniqueConstraint("peer_id", "key_id", name="uq_federation_peer_keys_peer_key"),
    )
    op.create_index(op.f("ix_federation_peer_keys_peer_id"), "federation_peer_keys", ["peer_id"])
    op.create_table(
        "federation_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE",
                                                         name=op.f("fk_federation_links_case_id_cases")),
                  nullable=False),
        sa.Column("peer_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("case_ref", sa.String(40), nullable=False),
        sa.Column("remote_case_no", sa.String(40), nullable=False),
        sa.Column("out_seq", sa.Integer(), nullable=False),
        sa.Column("in_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_links")),
        sa.UniqueConstraint("case_id", name=op.f("uq_federation_links_case_id")),
    )
    op.create_index(op.f("ix_federation_links_peer_id"), "federation_links", ["peer_id"])
    op.create_index(op.f("ix_federation_links_case_ref"), "federation_links", ["case_ref"])
    op.create_table(
        "federation_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("peer_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="SET NULL",
                                                         name=op.f("fk_federation_messages_case_id_cases")),
                  nullable=True),
        sa.Column("case_ref", sa.String(40), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("status", sa.String(14), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_messages")),
        sa.UniqueConstraint("direction", "message_id", name="uq_federation_messages_direction_message"),
    )
    op.create_index(op.f("ix_federation_messages_case_id"), "federation_messages", ["case_id"])
    op.create_index("ix_federation_messages_peer_status", "federation_messages", ["peer_id", "direction", "status"])
    op.create_table(
        "federation_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_refusals")),
    )
    op.create_index(op.f("ix_federation_refusals_peer_id"), "federation_refusals", ["peer_id"])


def downgrade() -> None:
    for table in ("federation_refusals", "federation_messages", "federation_links", "federation_peer_keys",
                  "federation_peers"):
        op.drop_table(table)
