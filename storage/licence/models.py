"""电子证照 in tongban: the licence types a checklist line may accept, the issuers registered with their
keys, and each e-licence attached to a case with what was verified."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, utcnow


class LicenceType(Base):
    """证照类型: 营业执照, 不动产权证书, …; the issuer tongban asks for licences of this type."""

    __tablename__ = "licence_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short code (``yyzz``) that catalog files and issuers use; ``name`` is what people read.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Whose licence it is: ``enterprise`` (统一社会信用代码), ``person`` (身份证号) or ``any``.
    holder_kind: Mapped[str] = mapped_column(String(12), default="any")
    #: The registered issuer asked for this type (licence_issuers.code); None: none registered yet.
    issuer_code: Mapped[str | None] = mapped_column(String(40))


class LicenceIssuer(Base):
    """发证机关 registered in tongban: its licences are verified against THIS key, never one it sends."""

    __tablename__ = "licence_issuers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    authority: Mapped[str] = mapped_column(String(200), default="")
    #: Ed25519 public key, 32 raw bytes in base64.
    public_key: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(300))
    #: Which adapter speaks to it (``licences.adapters.ADAPTERS``).
    adapter: Mapped[str] = mapped_column(String(20), default="http")
    active: Mapped[bool] = mapped_column(default=True)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseLicence(Base):
    """An e-licence that stands in for one material of a case, as verified at the counter."""

    __tablename__ = "case_licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"))
    licence_type: Mapped[str] = mapped_column(String(40))
    type_name: Mapped[str] = mapped_column(String(100))
    number: Mapped[str] = mapped_column(String(100))
    issuer_code: Mapped[str] = mapped_column(String(40))
    issuer_name: Mapped[str] = mapped_column(String(200))
    #: Fingerprint of the registered key the signature was verified against.
    key_id: Mapped[str] = mapped_column(String(24))
    holder_name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[str] = mapped_column(String(10), default="")
    valid_until: Mapped[str | None] = mapped_column(String(10))
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_by: Mapped[str] = mapped_column(String(100), default="")
    #: The rendering in the packet, the signed original, the verification record (stored_files ids).
    rendering_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    original_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    record_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
