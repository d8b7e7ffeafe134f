"""电子证照: licence types, registered issuers, e-licences attached to cases; which checklist line accepts one

Revision ID: 0011_licences
Revises: 0009_transition_floor

Plain CREATE TABLE / ADD COLUMN only (no batch copy of an existing table). The five licence types are
reference data and are inserted here; which issuer serves each is set when an issuer is registered.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db

revision: str = "0011_licences"
down_revision: str | None = "0010_federation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TYPES = [
    ("yyzz", "营业执照", "enterprise"),
    ("bdcqzs", "不动产权证书", "any"),
    ("tzsbzyry", "特种设备作业人员证", "person"),
    ("spjyxkz", "食品经营许可证", "enterprise"),
    ("jmsfz", "居民身份证", "person"),  # the reference type: a person's own ID, for person applicants
]


def upgrade() -> None:
    types = op.create_table(
        "licence_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder_kind", sa.String(length=12), nullable=False),
        sa.Column("issuer_code", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_types")),
        sa.UniqueConstraint("code", name=op.f("uq_licence_types_code")),
    )
    op.create_table(
        "licence_issuers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("authority", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=300), nullable=False),
        sa.Column("adapter", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("registered_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_issuers")),
        sa.UniqueConstraint("code", name=op.f("uq_licence_issuers_code")),
    )
    op.create_table(
        "case_licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("licence_type", sa.String(length=40), nullable=False),
        sa.Column("type_name", sa.String(length=100), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("issuer_code", sa.String(length=40), nullable=False),
        sa.Column("issuer_name", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=24), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.String(length=10), nullable=False),
        sa.Column("valid_until", sa.String(length=10), nullable=True),
        sa.Column("verified_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_by", sa.String(length=100), nullable=False),
        sa.Column("rendering_file_id", sa.Integer(), nullable=False),
        sa.Column("original_file_id", sa.Integer(), nullable=False),
        sa.Column("record_file_id", sa.Integer(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_licences_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["material_id"], ["materials.id"], name=op.f("fk_case_licences_material_id_materials")),
        sa.ForeignKeyConstraint(["rendering_file_id"], ["stored_files.id"],
                                name=op.f("fk_case_licences_rendering_file_id_stored_files")),
        sa.ForeignKeyConstraint(["original_file_id"], ["stored_files.id"],
                                name=op.f("fk_case_licences_original_file_id_stored_files")),
        sa.ForeignKeyConstraint(["record_file_id"], ["stored_files.id"],
                                name=op.f("fk_case_licences_record_file_id_stored_files")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_licences")),
    )
    op.create_index(op.f("ix_case_licences_case_id"), "case_licences", ["case_id"], unique=False)
    op.add_column("item_materials", sa.Column("e_licence", sa.String(length=40), nullable=True))
    op.bulk_insert(types, [{"code": c, "name": n, "holder_kind": k, "issuer_code": None}
                           for c, n, k in TYPES])


def downgrade() -> None:
    op.drop_column("item_materials", "e_licence")
    op.drop_index(op.f("ix_case_licences_case_id"), table_name="case_licences")
    op.drop_table("case_licences")
    op.drop_table("licence_issuers")
    op.drop_table("licence_types")
