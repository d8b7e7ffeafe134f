"""The items catalog: look up, import from a file (JSON), and compare zones' 同事同标 entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.case.models import Material
from storage.catalog.models import DEFAULT_STEP_TARGETS, Item, ItemMaterial
from storage.zone.models import Zone


class MaterialSpec(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    form: str = "原件"
    copies: int = Field(default=1, ge=1, le=20)
    required: bool = True
    #: 电子证照: a licence type (code or name, e.g. ``yyzz`` / ``营业执照``) that may stand in for the scan.
    e_licence: str | None = Field(default=None, max_length=100)


class ItemSpec(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    zone: str
    promised_days: int = Field(ge=1, le=365)
    step_targets: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_STEP_TARGETS))
    result_delivery: str = Field(default="either", pattern="^(mail|pickup|either)$")
    mail_side: str = Field(default="handling", pattern="^(handling|receiving)$")
    same_standard: bool = False
    materials: list[MaterialSpec] = Field(min_length=1)


class CatalogError(ValueError):
    pass


def list_items(*, db_session: Session, exclude_zone_id: int | None = None) -> list[Item]:
    stmt = select(Item).where(Item.active.is_(True)).order_by(Item.code)
    if exclude_zone_id is not None:
        stmt = stmt.where(Item.zone_id != exclude_zone_id)
    return list(db_session.scalars(stmt).unique())


def upsert_item(*, db_session: Session, spec: ItemSpec) -> Item:
    zone = db_session.scalars(select(Zone).where(Zone.code == spec.zone)).first()
    if zone is None:
        raise CatalogError(f"item {spec.code}: unknown zone '{spec.zone}'")
    item = db_session.scalars(select(Item).where(Item.zone_id == zone.id, Item.code == spec.code)).first()
    if item is None:
        item = Item(code=spec.code, zone_id=zone.id, name=spec.name, promised_days=spec.promised_days)
        db_session.add(item)
    item.name, item.promised_days = spec.name, spec.promised_days
    item.step_targets = {**DEFAULT_STEP_TARGETS, **spec.step_targets}
    item.result_delivery, item.mail_side, item.same_standard = spec.result_delivery, spec.mail_side, spec.same_standard
    # Update the checklist in place: cases point at its lines (materials.item_material_id).
    existing = {m.name: m for m in item.materials}
    wanted = {m.name for m in spec.materials}
    for gone in [m for name, m in existing.items() if name not in wanted]:
        # Cases keep their own copy of the line (name, required); only the link to the catalog goes.
        db_session.execute(update(Material).where(Material.item_material_id == gone.id)
                           .values(item_material_id=None))
        item.materials.remove(gone)
    for pos, m in enumerate(spec.materials, start=1):
        row = existing.get(m.name)
        if row is None:
            row = ItemMaterial(name=m.name)
            item.materials.append(row)
        row.position, row.form, row.copies, row.required = pos, m.form, m.copies, m.required
        row.e_licence = licence_type_code(db_session=db_session, text=m.e_licence, where=f"item {spec.code}: {m.name}")
    item.materials.sort(key=lambda r: r.position)
    db_session.flush()
    return item


def licence_type_code(*, db_session: Session, text: str | None, where: str) -> str | None:
    """A material's e-licence type, by code or name, as its code; an unknown one names the line."""
    from storage.licence.models import LicenceType

    if text is None or not text.strip():
        return None
    text = text.strip()
    row = db_session.scalars(select(LicenceType).where((LicenceType.code == text) | (LicenceType.name == text))).first()
    if row is None:
        raise CatalogError(f"{where}：未知的电子证照类型“{text}”（unknown e-licence type）")
    return row.code


def load_specs(path: Path) -> list[ItemSpec]:
    """A JSON list of items (or {"items": [...]}); every error names the entry and the field."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except RecursionError as exc:
        raise CatalogError(f"{path}: nested too deeply to be a catalog") from exc
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    entries = raw.get("items") if isinstance(raw, dict) else raw
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: expected a list of items")
    specs = []
    for i, entry in enumerate(entries):
        try:
            specs.append(ItemSpec.model_validate(entry))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise CatalogError(f"{path}: item #{i + 1} field '{where}': {err['msg']}") from exc
    return specs


def import_file(*, db_session: Session, path: Path) -> list[Item]:
    return [upsert_item(db_session=db_session, spec=s) for s in load_specs(path)]
