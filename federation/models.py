"""The federation's tables: peers and their keys, the message log, the case ↔ mirror links, refusals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base, utcnow


class Peer(Base):
    """对端: another tongban deployment, the zones it hosts, where it answers, the keys it signs with."""

    __tablename__ = "federation_peers"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    #: Zone codes whose cases that deployment decides or receives (``["TJ-TEDA"]``).
    zone_codes: Mapped[list[Any]] = mapped_column(default=list)
    base_url: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Last time a signed message, receipt or token of this peer verified.
    last_contact_at: Mapped[datetime | None]

    keys: Mapped[list[PeerKey]] = relationship(order_by="PeerKey.id", cascade="all, delete-orphan",
                                               lazy="selectin")


class PeerKey(Base):
    """One public key of a peer, with the period in which its signatures are accepted."""

    __tablename__ = "federation_peer_keys"
    __table_args__ = (UniqueConstraint("peer_id", "key_id", name="uq_federation_peer_keys_peer_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id", ondelete="CASCADE"), index=True)
    #: SHA-256 (hex) of the raw 32-byte public key.
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]


class CaseLink(Base):
    """A case that exists on two deployments: the origin's (receiving) and the mirror (deciding)."""

    __tablename__ = "federation_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    peer_id: Mapped[str] = mapped_column(String(64), index=True)
    #: ``origin`` (this side received the case) or ``mirror`` (this side decides it).
    role: Mapped[str] = mapped_column(String(10))
    #: The case reference both sides use: the origin's case number.
    case_ref: Mapped[str] = mapped_column(String(40), index=True)
    #: The other side's case number (the mirror's own number, or the origin's).
    remote_case_no: Mapped[str] = mapped_column(String(40), default="")
    #: Sequence numbers: the last this side sent, the last it applied from the peer.
    out_seq: Mapped[int] = mapped_column(default=0)
    in_seq: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FederationMessage(Base):
    """Every message sent or received, signed as it travelled, with the receipt that answered it."""

    __tablename__ = "federation_messages"
    __table_args__ = (
        UniqueConstraint("direction", "message_id", name="uq_federation_messages_direction_message"),
        Index("ix_federation_messages_peer_status", "peer_id", "direction", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))
    message_id: Mapped[str] = mapped_column(String(64))
    peer_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int]
    #: The event for ``event`` messages (accept, approve, …); ``transfer`` otherwise.
    event: Mapped[str] = mapped_column(String(30), default="")
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The signed envelope as last sent or as received (incoming: exactly what verified).
    envelope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    signature: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(14))
    #: The signed receipt (outgoing: the peer's; incoming: ours), ``{"signed": …, "signature": …}``.
    receipt: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]


class Refusal(Base):
    """A refused message, blob, receipt or token: the reason code, for the log and the admin page."""

    __tablename__ = "federation_refusals"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Who it claimed to come from (may be unknown or forged).
    peer_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    code: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
