"""The items catalog as clerks look it up at the counter (by code or name)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import or_, select

from storage.catalog.models import Item
from storage.db import transaction
from web.auth import ActorDep, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class MaterialSpecOut(BaseModel):
    id: int
    position: int
    name: str
    form: str
    copies: int
    required: bool


class ItemOut(BaseModel):
    id: int
    code: str
    name: str
    handling_zone: str
    promised_days: int
    step_targets: dict[str, int]
    result_delivery: str
    same_standard: bool
    materials: list[MaterialSpecOut]


@router.get("/items", response_model=list[ItemOut])
def list_items(actor: ActorDep, runtime: RuntimeDep, q: str | None = None) -> list[ItemOut]:
    stmt = select(Item).where(Item.active.is_(True)).order_by(Item.code, Item.zone_id)
    if q:
        stmt = stmt.where(or_(Item.code.ilike(f"%{q}%"), Item.name.ilike(f"%{q}%")))
    with transaction(runtime.session_factory) as s:
        return [
            ItemOut(id=i.id, code=i.code, name=i.name, handling_zone=i.zone.code, promised_days=i.promised_days,
                    step_targets=i.step_targets, result_delivery=i.result_delivery, same_standard=i.same_standard,
                    materials=[MaterialSpecOut(id=m.id, position=m.position, name=m.name, form=m.form,
                                               copies=m.copies, required=m.required) for m in i.materials])
            for i in s.scalars(stmt).unique()
        ]
