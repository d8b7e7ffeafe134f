"""The items catalog (事项目录): what can be applied for, who decides it, what it needs, how long it may take."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base
from storage.zone.models import Zone

#: Per-step targets in working days (docs/architecture.md#deadlines), overridable per item.
DEFAULT_STEP_TARGETS: dict[str, int] = {"precheck": 1, "forward": 1, "accept": 1, "mailback": 1}


class Item(Base):
    """One catalog entry, published by the zone that handles (decides) it."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("zone_id", "code", name="uq_items_zone_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The competent zone (办理地): it accepts, reviews and decides.
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    #: 承诺时限, in working days, counted from the day after receipt.
    promised_days: Mapped[int]
    step_targets: Mapped[dict[str, Any]] = mapped_column(default=lambda: dict(DEFAULT_STEP_TARGETS))
    #: ``mail``, ``pickup`` or ``either`` (结果送达方式).
    result_delivery: Mapped[str] = mapped_column(String(10), default="either")
    #: Which side mails the result: ``handling`` or ``receiving``.
    mail_side: Mapped[str] = mapped_column(String(10), default="handling")
    #: 同事同标: same name, materials and time limit in every zone.
    same_standard: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: 一事一议: a one-off entry made when a zone accepted an ad-hoc request (storage/adhoc); never
    #: active, never offered at the counter; its one case is counted apart in reports.
    adhoc: Mapped[bool] = mapped_column(default=False, server_default=false())

    zone: Mapped[Zone] = relationship(lazy="joined")
    materials: Mapped[list[ItemMaterial]] = relationship(
        back_populates="item", order_by="ItemMaterial.position", cascade="all, delete-orphan"
    )


class ItemMaterial(Base):
    """One line of the required-materials checklist (材料清单)."""

    __tablename__ = "item_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    #: 原件 / 复印件 / 电子件
    form: Mapped[str] = mapped_column(String(20), default="原件")
    copies: Mapped[int] = mapped_column(default=1)
    required: Mapped[bool] = mapped_column(default=True)
    #: 电子证照: the licence type (licence_types.code) that may stand in for the scan; None: scans only.
    e_licence: Mapped[str | None] = mapped_column(String(40))

    item: Mapped[Item] = relationship(back_populates="materials")
