"""电子证照 at the counter, over a database session and the object store.

The intake service (``states.intake.receipt.receive_case``) calls these in its own order — check,
fetch and verify, store, then ONE transaction — so a refused licence leaves nothing behind:

1. :func:`plan` — the form's e-licences against the checklist and the registered issuers (db);
2. :func:`fetch_and_verify` — each licence and its issuer's revocation list, verified (network);
3. :func:`store_licences` — the rendering (PDF page for the packet), the signed original and the
   verification record, each stored and hashed like every file (object store);
4. :func:`record` — rows for the files and the ``case_licences`` line, and the audit event (db).

Services take ``db_session`` and never commit.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from documents import ELicenceLine, render_e_licence
from licences.adapters import IssuerUnreachable, LicenceNotFound, adapter_for
from licences.signing import BadKey, fingerprint, load_public_key
from licences.verify import LicenceRejected, Refusal, Verified, verify_licence
from states.identifiers import mask_id
from states.intake.schemas import ELicenceIn, LicenceFallbackIn, ReceiveForm
from states.intake.uploads import StagedFile, Upload
from states.transition.errors import PayloadInvalid
from states.transition.rules import Actor
from storage.audit import service as audit
from storage.case.models import Case, StoredFile
from storage.catalog.models import Item, ItemMaterial
from storage.licence.models import CaseLicence, LicenceIssuer, LicenceType
from storage.objects import ObjectStore

#: What the clerk reads, per refusal; {m} the material, {t} the licence type, {n} its number.
MESSAGES_ZH: dict[Refusal, str] = {
    Refusal.not_allowed: "材料“{m}”不接受{t}电子证照，请上传扫描件。",
    Refusal.unknown_issuer: "材料“{m}”：{t}（{n}）的发证机关“{i}”未在本系统登记，无法核验，未附加。",
    Refusal.unreachable: "材料“{m}”：发证机关“{i}”的电子证照服务暂时无法访问，未能取得{t}（{n}）。"
                         "可勾选“改交扫描件”并上传扫描件，系统将记录原因。",
    Refusal.not_found: "材料“{m}”：发证机关“{i}”查无编号为 {n} 的{t}，请核对证照编号。",
    Refusal.bad_signature: "材料“{m}”：{t}（{n}）的签名与发证机关“{i}”登记的公钥不符，证照可能被篡改，未附加。",
    Refusal.malformed: "材料“{m}”：发证机关“{i}”返回的{t}（{n}）格式不正确，未附加。",
    Refusal.wrong_licence: "材料“{m}”：发证机关“{i}”返回的证照与所查{t}（{n}）不一致，未附加。",
    Refusal.revocations_invalid: "材料“{m}”：发证机关“{i}”的吊销清单签名无效，无法确认{t}（{n}）未被吊销，未附加。",
    Refusal.revoked: "材料“{m}”：{t}（{n}）已被发证机关“{i}”吊销或注销，不能使用，未附加。",
    Refusal.not_yet_valid: "材料“{m}”：{t}（{n}）尚未生效，未附加。",
    Refusal.expired: "材料“{m}”：{t}（{n}）已超过有效期，未附加。",
    Refusal.holder_mismatch: "材料“{m}”：{t}（{n}）的持证主体不是本申请人（证件号码不一致），未附加。",
}


def line_error(field: str, reason: str, *, reason_zh: str, item_material_id: int) -> PayloadInvalid:
    """A refusal about one checklist line's e-licence: the line travels with it (the page shows it there)."""
    exc = PayloadInvalid(field, reason, reason_zh=reason_zh)
    exc.detail.update(item_material_id=item_material_id, message_zh=reason_zh)
    return exc


class LicenceRefused(PayloadInvalid):
    """An e-licence not accepted: names the material, says why in Chinese; nothing was attached."""

    def __init__(self, index: int, *, item_material_id: int, material: str, refusal: Refusal, type_name: str,
                 number: str, issuer: str = "", detail: str = "") -> None:
        zh = MESSAGES_ZH[refusal].format(m=material, t=type_name, n=number, i=issuer or "—")
        super().__init__(f"e_licences[{index}]", f"e-licence refused ({refusal}) for material '{material}'"
                         + (f": {detail}" if detail else ""), reason_zh=zh)
        self.refusal = refusal
        self.item_material_id = item_material_id
        self.detail.update(refusal=str(refusal), item_material_id=item_material_id, message_zh=zh)


@dataclass(frozen=True)
class IssuerRef:
    code: str
    name: str
    public_key: str
    endpoint: str
    adapter: str


@dataclass(frozen=True)
class Planned:
    index: int
    item_material_id: int
    material: str
    licence_type: str
    type_name: str
    number: str
    issuer: IssuerRef | None

    def refuse(self, refusal: Refusal, detail: str = "", issuer: str = "") -> LicenceRefused:
        return LicenceRefused(self.index, item_material_id=self.item_material_id, material=self.material,
                              refusal=refusal, type_name=self.type_name, number=self.number,
                              issuer=issuer or (self.issuer.name if self.issuer else ""), detail=detail)


@dataclass(frozen=True)
class Fetched:
    planned: Planned
    document: dict[str, Any]
    revocations: dict[str, Any]
    verified: Verified
    issuer: IssuerRef  # the registered issuer the licence names (its key verified it)


@dataclass
class StoredLicence:
    fetched: Fetched
    rendering: StagedFile
    original: StagedFile
    record: StagedFile
    record_body: dict[str, Any] = field(default_factory=dict)


# --- catalog and registry ---------------------------------------------------------------------------

def list_types(*, db_session: Session) -> list[LicenceType]:
    return list(db_session.scalars(select(LicenceType).order_by(LicenceType.id)))


def list_issuers(*, db_session: Session) -> list[LicenceIssuer]:
    return list(db_session.scalars(select(LicenceIssuer).order_by(LicenceIssuer.code)))


def find_type(*, db_session: Session, text: str) -> LicenceType | None:
    text = text.strip()
    return db_session.scalars(select(LicenceType).where(
        (LicenceType.code == text) | (LicenceType.name == text))).first()


def register_issuer(*, db_session: Session, code: str, name: str, authority: str, public_key: str,
                    endpoint: str, types: list[str], adapter: str = "http") -> LicenceIssuer:
    """Register (or update) an issuer with the key its licences are verified against, and name the
    licence types it is asked for. The key is entered by an administrator, never taken on trust
    from the issuer at verification time."""
    code = code.strip()
    if not code or not name.strip():
        raise PayloadInvalid("code" if not code else "name", "is required", reason_zh="发证机关代码和名称必填")
    try:
        load_public_key(public_key)
    except BadKey as exc:
        raise PayloadInvalid("public_key", str(exc),
                             reason_zh=f"公钥无效：须为 32 字节 Ed25519 公钥的 base64（{exc}）") from exc
    if not endpoint.startswith(("http://", "https://")):
        raise PayloadInvalid("endpoint", "must be an http(s) URL", reason_zh="服务地址须以 http:// 或 https:// 开头")
    row = db_session.scalars(select(LicenceIssuer).where(LicenceIssuer.code == code)).first()
    if row is None:
        row = LicenceIssuer(code=code, name=name, public_key=public_key, endpoint=endpoint)
        db_session.add(row)
    row.name, row.authority, row.public_key = name.strip(), authority.strip(), public_key.strip()
    row.endpoint, row.adapter, row.active = endpoint.rstrip("/"), adapter, True
    for t in types:
        lt = find_type(db_session=db_session, text=t)
        if lt is None:
            raise PayloadInvalid("types", f"unknown licence type '{t}'", reason_zh=f"未知的证照类型“{t}”")
        lt.issuer_code = code
    db_session.flush()
    return row


def _ref(row: LicenceIssuer) -> IssuerRef:
    return IssuerRef(code=row.code, name=row.name, public_key=row.public_key, endpoint=row.endpoint,
                     adapter=row.adapter)


def registered(*, db_session: Session) -> dict[str, IssuerRef]:
    rows = db_session.scalars(select(LicenceIssuer).where(LicenceIssuer.active.is_(True)))
    return {r.code: _ref(r) for r in rows}


# --- 1. plan ---------------------------------------------------------------------------------------

def plan(*, db_session: Session, item: Item, requests: list[ELicenceIn]) -> list[Planned]:
    """Every request checked against the checklist and the registry before anything is fetched."""
    by_id: dict[int, ItemMaterial] = {m.id: m for m in item.materials}
    issuers = registered(db_session=db_session)
    seen: set[int] = set()
    out = []
    for i, req in enumerate(requests):
        mat = by_id.get(req.item_material_id)
        if mat is None:
            raise PayloadInvalid(f"e_licences[{i}].item_material_id", f"not a material of item {item.code}",
                                 reason_zh="不是本事项的材料")
        if req.item_material_id in seen:
            raise line_error(f"e_licences[{i}].item_material_id", "one e-licence per material",
                             reason_zh=f"材料“{mat.name}”只能附加一份电子证照", item_material_id=mat.id)
        seen.add(req.item_material_id)
        lt = find_type(db_session=db_session, text=req.licence_type)
        type_name = lt.name if lt else req.licence_type
        p = Planned(index=i, item_material_id=mat.id, material=mat.name, licence_type=lt.code if lt else "",
                    type_name=type_name, number=req.number.strip(),
                    issuer=issuers.get(lt.issuer_code or "") if lt else None)
        if lt is None or mat.e_licence != lt.code:
            raise p.refuse(Refusal.not_allowed)
        if p.issuer is None:
            raise p.refuse(Refusal.unknown_issuer, issuer=lt.issuer_code or "（未指定）")
        out.append(p)
    return out


@dataclass(frozen=True)
class Prepared:
    planned: list[Planned]
    issuers: dict[str, IssuerRef]
    #: item_material_id → the line the clerk falls back to a scan for (改交扫描件).
    fallback_lines: dict[int, Planned]


def prepare(*, db_session: Session, item: Item, form: ReceiveForm, uploads: Sequence[Upload]) -> Prepared:
    """The receipt's e-licences and fallbacks, checked against the checklist (called by the intake service)."""
    planned = plan(db_session=db_session, item=item, requests=form.e_licences)
    with_scans = {u.item_material_id for u in uploads}
    fallback_lines: dict[int, Planned] = {}
    if form.licence_fallbacks:
        asked = [ELicenceIn(item_material_id=f.item_material_id, licence_type=f.licence_type, number=f.number or "—")
                 for f in form.licence_fallbacks]
        for i, (fb, p) in enumerate(zip(form.licence_fallbacks, plan(db_session=db_session, item=item,
                                                                       requests=asked), strict=True)):
            if any(x.item_material_id == fb.item_material_id for x in planned):
                raise line_error(f"licence_fallbacks[{i}]", "the same material has an e-licence",
                                 reason_zh=f"材料“{p.material}”已附电子证照，无需改交扫描件",
                                 item_material_id=p.item_material_id)
            if fb.item_material_id not in with_scans:
                raise line_error(f"licence_fallbacks[{i}]", "a scan of the material is required",
                                 reason_zh=f"材料“{p.material}”改交扫描件：请上传该材料的扫描件",
                                 item_material_id=p.item_material_id)
            fallback_lines[fb.item_material_id] = p
    return Prepared(planned=planned, issuers=registered(db_session=db_session), fallback_lines=fallback_lines)


# --- 2. fetch and verify (no database) ---------------------------------------------------------------

def fetch_and_verify(planned: list[Planned], *, issuers: dict[str, IssuerRef], applicant_id: str,
                     now: datetime, tz: str, timeout: float = 5.0) -> list[Fetched]:
    today = now.astimezone(ZoneInfo(tz)).date()
    out = []
    for p in planned:
        assert p.issuer is not None
        source = adapter_for(p.issuer.adapter, p.issuer.endpoint, timeout=timeout)
        try:
            document = source.fetch(p.licence_type, p.number)
            body = document.get("licence") if isinstance(document, dict) else None
            named = str(body.get("issuer", "")) if isinstance(body, dict) else ""
            issuer = issuers.get(named)
            if issuer is None:  # signed by someone tongban has no key for: nothing else is worth checking
                raise p.refuse(Refusal.unknown_issuer, issuer=named or "（未注明）")
            if issuer.code != p.issuer.code:  # the named issuer's own list, from its own endpoint
                source = adapter_for(issuer.adapter, issuer.endpoint, timeout=timeout)
            revocations = source.revocations()
        except LicenceNotFound:
            raise p.refuse(Refusal.not_found) from None
        except IssuerUnreachable as exc:
            raise p.refuse(Refusal.unreachable, str(exc)) from None
        try:
            verified = verify_licence(document, registered_keys={issuer.code: issuer.public_key},
                                      revocations=revocations, licence_type=p.licence_type, number=p.number,
                                      applicant_id=applicant_id, today=today)
        except LicenceRejected as exc:
            raise p.refuse(exc.refusal, exc.detail, issuer=issuer.name) from None
        out.append(Fetched(planned=p, document=document, revocations=revocations, verified=verified, issuer=issuer))
    return out


def check_fallbacks(fallbacks: list[LicenceFallbackIn], *, planned_for: dict[int, Planned],
                    timeout: float = 3.0) -> list[dict[str, Any]]:
    """改交扫描件: accepted only while the issuer is STILL unreachable (asked again now), so the case's
    record of why is tongban's own finding, not the clerk's say-so."""
    out = []
    for i, fb in enumerate(fallbacks):
        p = planned_for.get(fb.item_material_id)
        if p is None or p.issuer is None:
            raise PayloadInvalid(f"licence_fallbacks[{i}]", "not an e-licence material with a registered issuer",
                                 reason_zh="该材料没有可核验的电子证照，无需改交说明")
        try:
            adapter_for(p.issuer.adapter, p.issuer.endpoint, timeout=timeout).revocations()
        except IssuerUnreachable as exc:
            out.append({"item_material_id": p.item_material_id, "material": p.material,
                        "licence_type": p.licence_type, "type_name": p.type_name, "number": p.number,
                        "issuer": p.issuer.code, "issuer_name": p.issuer.name, "reason": "issuer_unreachable",
                        "reason_zh": "发证机关电子证照服务不可达，改交扫描件", "error": str(exc)[:300]})
            continue
        raise line_error(f"licence_fallbacks[{i}]", "the issuer is reachable: verify the e-licence instead",
                         reason_zh=f"材料“{p.material}”：发证机关“{p.issuer.name}”现已可以访问，请填写证照编号直接核验",
                         item_material_id=p.item_material_id)
    return out


# --- 3. store ----------------------------------------------------------------------------------------

def _valid_text(v: Verified) -> str:
    return f"{v.valid_from or '—'} 至 {v.valid_until or '长期'}"


def line_of(*, material: str, verified: Verified, issuer_name: str, verified_at: str, sha256: str) -> ELicenceLine:
    return ELicenceLine(material=material, type_name=verified.type_name, number=verified.number, issuer=issuer_name,
                        holder=f"{verified.holder_name}（{mask_id(verified.holder_id)}）", valid=_valid_text(verified),
                        verified_at=verified_at, key_id=verified.key_id, sha256=sha256,
                        fields=[(str(k), str(v)) for k, v in verified.fields.items()])


def _put(store: ObjectStore, *, zone_code: str, now: datetime, name: str, kind: str, data: bytes, pages: int,
         item_material_id: int | None) -> StagedFile:
    suffix = ".pdf" if kind == "pdf" else ".json"
    key = f"{zone_code}/incoming/{now:%Y/%m/%d}/{uuid.uuid4().hex}{suffix}"
    obj = store.put_bytes(key, data)
    return StagedFile(filename=name, kind=kind, size=obj.size, sha256=obj.sha256, page_count=pages,
                      object_key=key, item_material_id=item_material_id)


def store_licences(store: ObjectStore, fetched: list[Fetched], *, zone_code: str, now: datetime, tz: str,
                   actor: Actor) -> list[StoredLicence]:
    """The three files of each licence; on any failure the ones written are removed again."""
    from states.intake.uploads import discard

    done: list[StoredLicence] = []
    written: list[StagedFile] = []
    at = now.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    try:
        for f in fetched:
            p, v = f.planned, f.verified
            original_bytes = json.dumps(f.document, ensure_ascii=False, indent=1).encode("utf-8")
            original = _put(store, zone_code=zone_code, now=now, name=f"电子证照-{v.type_name}-{v.number}.json",
                            kind="json", data=original_bytes, pages=0, item_material_id=None)
            written.append(original)
            record_body = {
                "schema": "tongban.e-licence-verification/1", "result": "verified",
                "checks": ["issuer_registered", "signature", "licence_matches_request", "revocation_list_signature",
                           "not_revoked", "validity_period", "holder_is_applicant"],
                "material": p.material, "item_material_id": p.item_material_id,
                "issuer": {"code": f.issuer.code, "name": f.issuer.name, "endpoint": f.issuer.endpoint,
                           "public_key": f.issuer.public_key, "key_id": fingerprint(f.issuer.public_key)},
                "licence": asdict(v), "original_sha256": original.sha256,
                "revocations": f.revocations, "verified_at": now.isoformat(), "verified_by": actor.username,
            }
            record = _put(store, zone_code=zone_code, now=now, name=f"电子证照核验记录-{v.number}.json", kind="json",
                          data=json.dumps(record_body, ensure_ascii=False, indent=1).encode("utf-8"), pages=0,
                          item_material_id=None)
            written.append(record)
            pdf = render_e_licence(line_of(material=p.material, verified=v, issuer_name=f.issuer.name,
                                           verified_at=at, sha256=original.sha256))
            rendering = _put(store, zone_code=zone_code, now=now, name=f"电子证照-{v.type_name}.pdf", kind="pdf",
                             data=pdf, pages=len(PdfReader(io.BytesIO(pdf)).pages),
                             item_material_id=p.item_material_id)
            written.append(rendering)
            done.append(StoredLicence(fetched=f, rendering=rendering, original=original, record=record,
                                      record_body=record_body))
    except BaseException:
        discard(store, written)
        raise
    return done


def staged_files(stored: list[StoredLicence]) -> list[StagedFile]:
    return [x for s in stored for x in (s.rendering, s.original, s.record)]


# --- 4. record (in the receipt's transaction) -------------------------------------------------------

def record(*, db_session: Session, case: Case, stored: list[StoredLicence], fallbacks: list[dict[str, Any]],
           actor: Actor, now: datetime) -> list[CaseLicence]:
    """The renderings are already the material's files (the receipt recorded them with the scans);
    add the signed originals and records (purpose ``licence``: kept and verified, not put in the packet)."""
    by_key = {f.object_key: f for f in case.files}
    by_item_material = {m.item_material_id: m for m in case.materials}
    rows = []
    for s in stored:
        p, v = s.fetched.planned, s.fetched.verified
        mat = by_item_material[p.item_material_id]
        extra = []
        for staged in (s.original, s.record):
            row = StoredFile(material_id=mat.id, purpose="licence", zone_code=case.receiving_zone.code,
                             filename=staged.filename, kind="json", size=staged.size, sha256=staged.sha256,
                             page_count=0, object_key=staged.object_key, created_at=now, created_by=actor.username)
            case.files.append(row)
            extra.append(row)
        db_session.flush()
        rows.append(CaseLicence(
            case_id=case.id, material_id=mat.id, licence_type=v.licence_type, type_name=v.type_name,
            number=v.number, issuer_code=s.fetched.issuer.code, issuer_name=s.fetched.issuer.name, key_id=v.key_id,
            holder_name=v.holder_name, valid_from=v.valid_from, valid_until=v.valid_until, verified_at=now,
            verified_by=actor.username, rendering_file_id=by_key[s.rendering.object_key].id,
            original_file_id=extra[0].id, record_file_id=extra[1].id,
            record={"checks": s.record_body["checks"], "revocations_issued_at": v.revocations_issued_at},
        ))
    db_session.add_all(rows)
    db_session.flush()
    if rows:
        audit.append(db_session=db_session, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
                     actor_role=actor.role, event="verify_e_licence", from_state=case.state, to_state=case.state,
                     version=case.version,
                     payload={"licences": [{"material": by_id_name(case, r.material_id),
                                            "type": r.licence_type, "number": r.number, "issuer": r.issuer_code,
                                            "key_id": r.key_id, "original_sha256": s.original.sha256,
                                            "record_sha256": s.record.sha256}
                                           for r, s in zip(rows, stored, strict=True)]})
    if fallbacks:
        audit.append(db_session=db_session, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
                     actor_role=actor.role, event="e_licence_fallback", from_state=case.state, to_state=case.state,
                     version=case.version, payload={"fallbacks": fallbacks})
    return rows


def by_id_name(case: Case, material_id: int) -> str:
    return next((m.name for m in case.materials if m.id == material_id), "")


def licences_of(*, db_session: Session, case_id: int) -> list[CaseLicence]:
    return list(db_session.scalars(select(CaseLicence).where(CaseLicence.case_id == case_id)
                                   .order_by(CaseLicence.id)))
