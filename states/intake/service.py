"""Record a receipt (收件) in the database: the case, its applicant, checklist and files."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from states import identifiers
from states.adhoc import service as adhoc
from states.intake.schemas import ReceiveForm
from states.intake.uploads import StagedFile
from states.sla.clock import Clock
from states.transition.errors import Forbidden, PayloadInvalid
from states.transition.rules import Actor
from storage.audit import service as audit
from storage.case.models import Applicant, Case, CaseSequence, Material, StoredFile
from storage.catalog.models import Item
from storage.zone.models import Zone

#: Who may start a receipt: the window clerk, and a registered self-service terminal (states/kiosk).
RECEIVING_ROLES = frozenset({"clerk", "kiosk"})


def find_item(*, db_session: Session, code: str, handling_zone: str | None = None) -> Item:
    stmt = select(Item).where(Item.code == code.strip(), Item.active.is_(True))
    if handling_zone:
        stmt = stmt.join(Zone, Item.zone_id == Zone.id).where(Zone.code == handling_zone)
    items = list(db_session.scalars(stmt).unique())
    if not items:
        raise PayloadInvalid("item_code", f"unknown item '{code}'")
    if len(items) > 1:
        zones = ", ".join(sorted(i.zone.code for i in items))
        raise PayloadInvalid("handling_zone", f"item '{code}' is handled by several zones ({zones}); name one")
    return items[0]


def validate_applicant_id(kind: str, id_number: str) -> str:
    try:
        if kind == "enterprise":
            return identifiers.validate_uscc(id_number, field="applicant.id_number")
        return identifiers.validate_resident_id(id_number, field="applicant.id_number")
    except identifiers.IdentifierError as exc:  # its message already names the field
        raise PayloadInvalid(exc.field, exc.reason) from exc


def next_case_no(*, db_session: Session, zone: Zone, now: datetime, tz: str) -> str:
    """``BJETOWN-20261124-00042``: zone, local day, counter; atomic under concurrent intake."""
    day = now.astimezone(ZoneInfo(tz)).date()
    dialect = db_session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(CaseSequence)
        .values(zone_id=zone.id, day=day, last=1)
        .on_conflict_do_update(index_elements=["zone_id", "day"], set_={"last": CaseSequence.last + 1})
        .returning(CaseSequence.last)
    )
    last = db_session.execute(stmt).scalar_one()
    return f"{zone.case_prefix}-{day:%Y%m%d}-{last:05d}"


def check_form(*, db_session: Session, form: ReceiveForm, actor: Actor) -> tuple[Item, str]:
    """Everything about the form that can be refused before a file is stored."""
    if actor.role not in RECEIVING_ROLES or actor.zone_id is None:
        raise Forbidden("only a window clerk (窗口人员) or a registered kiosk (自助机) may receive a case")
    if form.adhoc_request_id is not None:  # 一事一议: the request's one-off item, not a catalog entry
        item = adhoc.item_for_receipt(db_session=db_session, actor=actor, request_id=form.adhoc_request_id)
    else:
        item = find_item(db_session=db_session, code=form.item_code, handling_zone=form.handling_zone)
    id_number = validate_applicant_id(form.applicant.kind, form.applicant.id_number)
    known = {m.id for m in item.materials}
    for i, tick in enumerate(form.checklist):
        if tick.item_material_id not in known:
            raise PayloadInvalid(f"checklist[{i}].item_material_id", f"not a material of item {item.code}")
    if form.delivery_method == "mail" and not (form.delivery_address or form.applicant.address).strip():
        raise PayloadInvalid("delivery_address", "a postal address is needed to mail the result")
    return item, id_number


def record_receipt(*, db_session: Session, form: ReceiveForm, actor: Actor, staged: list[StagedFile],
                   now: datetime, clock: Clock, case_no: str | None = None) -> Case:
    """``case_no``: given by the caller (a mirrored case of a peer deployment gets the deciding zone's own
    number, federation/receive.py); otherwise the receiving zone's next one."""
    item, id_number = check_form(db_session=db_session, form=form, actor=actor)
    receiving = db_session.get(Zone, actor.zone_id)
    assert receiving is not None
    for f in staged:
        if f.item_material_id is not None and f.item_material_id not in {m.id for m in item.materials}:
            raise PayloadInvalid(f"files[{f.filename}]", f"not a material of item {item.code}")
    applicant = Applicant(kind=form.applicant.kind, name=form.applicant.name.strip(), id_number=id_number,
                          phone=form.applicant.phone.strip(), address=form.applicant.address.strip())
    ticked = {t.item_material_id for t in form.checklist if t.provided}
    with_files = {f.item_material_id for f in staged if f.item_material_id is not None}
    case = Case(
        case_no=case_no or next_case_no(db_session=db_session, zone=receiving, now=now, tz=clock.tz),
        item=item, receiving_zone_id=receiving.id, handling_zone_id=item.zone_id, applicant=applicant,
        state="received", received_at=now, received_by_id=actor.user_id,
        delivery_method=form.delivery_method,
        delivery_address=(form.delivery_address or form.applicant.address).strip(),
    )
    materials = {
        im.id: Material(item_material_id=im.id, position=im.position, name=im.name, required=im.required,
                        provided=im.id in ticked or im.id in with_files, paper_received=im.id in ticked,
                        paper_received_at=now if im.id in ticked else None)
        for im in item.materials
    }
    case.materials = list(materials.values())
    db_session.add(case)
    clock.on_receipt(case, now)
    db_session.flush()
    for f in staged:
        mat = materials.get(f.item_material_id) if f.item_material_id is not None else None
        case.files.append(StoredFile(
            material_id=mat.id if mat else None, purpose="material", zone_code=receiving.code,
            filename=f.filename, kind=f.kind, size=f.size, sha256=f.sha256, page_count=f.page_count,
            object_key=f.object_key, created_at=now, created_by=actor.username,
        ))
    db_session.flush()
    audit.append(
        db_session=db_session, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
        actor_role=actor.role, event="receive", from_state=None, to_state=case.state, version=case.version,
        payload={"item": item.code, "files": [{"name": f.filename, "sha256": f.sha256, "size": f.size}
                                              for f in staged]},
    )
    if form.adhoc_request_id is not None:
        adhoc.bind_case(db_session=db_session, actor=actor, request_id=form.adhoc_request_id, case=case, now=now)
    return case


def add_files(*, db_session: Session, case: Case, actor: Actor, staged: list[StagedFile], purpose: str,
              zone_code: str, now: datetime) -> list[StoredFile]:
    """Supplements (补正材料) and result documents (结果文书) added to an existing case."""
    by_item_material = {m.item_material_id: m for m in case.materials}
    rows = []
    for f in staged:
        mat = by_item_material.get(f.item_material_id) if f.item_material_id is not None else None
        if f.item_material_id is not None and mat is None:
            raise PayloadInvalid(f"files[{f.filename}]", "not a material of this case")
        row = StoredFile(material_id=mat.id if mat else None, purpose=purpose, zone_code=zone_code,
                         filename=f.filename, kind=f.kind, size=f.size, sha256=f.sha256,
                         page_count=f.page_count, object_key=f.object_key, created_at=now,
                         created_by=actor.username)
        case.files.append(row)
        rows.append(row)
    db_session.flush()
    return rows
