"""Platform role for alliance-wide settings (notification routes of every zone)

Revision ID: 0005_zone_routes
Revises: 0003_sessions
Create Date: 2026-12-03 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_zone_routes"
down_revision: str | None = "0003_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN: a batch copy of ``users`` on SQLite would run into the rows that refer to it.
    op.add_column("users", sa.Column("platform_admin", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("platform_admin")
