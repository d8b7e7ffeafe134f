"""系统管理: users and roles, zones, the items catalog (edit, import), the 同事同标 report, notification routes.

Admins only. An admin manages their own zone: its users, its contact details, the items it publishes
(as handling zone). The other zones, their items and the disagreement report are shown read-only,
because 同事同标 is about comparing with them. The notification routes file is alliance-wide: a zone's
admin sees and edits the zone's own part of it, a platform admin the whole file.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile

from notifications.routes import (
    RoutesError,
    load_routes,
    merge_zone_view,
    parse_routes,
    platform_channel_names,
    read_raw,
    zone_view,
)
from states.reports import service as reports
from states.transition.errors import Forbidden
from storage.catalog import service as catalog
from storage.catalog.models import DEFAULT_STEP_TARGETS, Item, ItemMaterial
from storage.db import transaction
from storage.session import service as sessions
from storage.user import service as users
from storage.user.models import ROLES, User
from storage.zone.models import Zone
from web.ui import security_text, supervision_text  # noqa: F401 - registers the pages' strings
from web.ui.deps import FormDep, UserDep, require_role
from web.ui.i18n import translate
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.session import UiUser

router = APIRouter(prefix="/ui/admin", include_in_schema=False)

MIN_PASSWORD = 8
MAX_IMPORT_BYTES = 5 * 1024 * 1024
SECTIONS = [("adm.users", "/ui/admin"), ("adm.zones", "/ui/admin/zones"), ("adm.items", "/ui/admin/items"),
            ("adm.report", "/ui/admin/catalog-report"), ("adm.routes", "/ui/admin/routes"),
            ("adm.calendar", "/ui/admin/calendar"), ("lic.adm_title", "/ui/admin/licences"),
            ("adm.kiosks", "/ui/admin/kiosks"), ("adm.peers", "/ui/admin/peers")]


def _t(request: Request, key: str, **params: Any) -> str:
    return translate(lang_of(request), key, **params)


def _flash(request: Request, kind: str, key: str, **params: Any) -> None:
    session_of(request).flash(kind, _t(request, key, **params))


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _page(request: Request, name: str, **context: Any) -> Response:
    return render(request, name, sections=SECTIONS, **context)


# --- users -------------------------------------------------------------------------------------------


@router.get("")
def users_page(request: Request, user: UserDep) -> Response:
    require_role(user, "admin")
    runtime = runtime_of(request)
    with transaction(runtime.session_factory) as s:
        rows = list(s.scalars(select(User).where(User.zone_id == user.zone_id).order_by(User.role, User.username))
                    .unique())
        return _page(request, "admin/users.html", rows=rows, roles=ROLES)


def _own_user(s: Any, admin: UiUser, user_id: int) -> User:
    target = s.get(User, user_id)
    if target is None or target.zone_id != admin.zone_id:
        raise Forbidden("that user is not of your zone")
    return target


@router.post("/users")
def add_user(request: Request, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    runtime = runtime_of(request)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    if not users.USERNAME_RE.fullmatch(username):  # the form's own rule, also when the form is bypassed
        _flash(request, "error", "adm.username_invalid")
        return _back("/ui/admin")
    if len(password) < MIN_PASSWORD:
        _flash(request, "error", "adm.password_short")
        return _back("/ui/admin")
    try:
        with transaction(runtime.session_factory) as s:
            users.add(db_session=s, username=username, display_name=str(form.get("display_name") or username).strip(),
                      role=str(form.get("role") or ""), zone_code=user.zone_code, password=password,
                      email=str(form.get("email") or "").strip(), phone=str(form.get("phone") or "").strip())
    except users.UserError as exc:
        session_of(request).flash("error", str(exc))
    else:
        _flash(request, "ok", "adm.user_added", username=username)
    return _back("/ui/admin")


@router.post("/users/{user_id:int}/password")
def reset_password(request: Request, user_id: int, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    password = str(form.get("password") or "")
    if len(password) < MIN_PASSWORD:
        _flash(request, "error", "adm.password_short")
        return _back("/ui/admin")
    with transaction(runtime_of(request).session_factory) as s:
        target = _own_user(s, user, user_id)
        users.set_password(user=target, password=password)
        target.failed_logins, target.locked_until = 0, None
        sessions.end_all(db_session=s, user_id=target.id, now=runtime_of(request).now(), reason="password")
        name = target.username
    _flash(request, "ok", "adm.password_reset", username=name)
    return _back("/ui/admin")


@router.post("/users/{user_id:int}/active")
def set_active(request: Request, user_id: int, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    active = form.get("active") == "1"
    if user_id == user.id and not active:
        _flash(request, "error", "adm.not_self")
        return _back("/ui/admin")
    with transaction(runtime_of(request).session_factory) as s:
        target = _own_user(s, user, user_id)
        target.active = active
        if not active:
            sessions.end_all(db_session=s, user_id=target.id, now=runtime_of(request).now(), reason="deactivated")
        name = target.username
    _flash(request, "ok", "adm.reactivated" if active else "adm.deactivated", username=name)
    return _back("/ui/admin")


@router.post("/users/{user_id:int}/signout")
def sign_out_everywhere(request: Request, user_id: int, user: UserDep, form: FormDep) -> Response:
    """Ends every browser session of a user of the admin's zone at once (a lost or shared device)."""
    require_role(user, "admin")
    with transaction(runtime_of(request).session_factory) as s:
        target = _own_user(s, user, user_id)
        ended = sessions.end_all(db_session=s, user_id=target.id, now=runtime_of(request).now(),
                                 reason="signout_all")
        name = target.username
    _flash(request, "ok", "adm.signed_out", username=name, count=ended)
    return _back("/ui/admin")


# --- zones -------------------------------------------------------------------------------------------

ZONE_FIELDS = ("name", "name_en", "contact_name", "contact_phone", "address")


@router.get("/zones")
def zones_page(request: Request, user: UserDep) -> Response:
    require_role(user, "admin")
    with transaction(runtime_of(request).session_factory) as s:
        zones = list(s.scalars(select(Zone).order_by(Zone.code)))
        return _page(request, "admin/zones.html", zones=zones, fields=ZONE_FIELDS)


@router.post("/zones/{code}")
def save_zone(request: Request, code: str, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    if code != user.zone_code:
        raise Forbidden("you may edit your own zone only")
    with transaction(runtime_of(request).session_factory) as s:
        zone = s.scalars(select(Zone).where(Zone.code == code)).one()
        for name in ZONE_FIELDS:
            value = str(form.get(name) or "").strip()
            if name == "name" and not value:
                continue  # a zone keeps a name
            setattr(zone, name, value[:200])
    _flash(request, "ok", "adm.zone_saved", zone=code)
    return _back("/ui/admin/zones")


# --- items catalog -----------------------------------------------------------------------------------


@router.get("/items")
def items_page(request: Request, user: UserDep) -> Response:
    require_role(user, "admin")
    with transaction(runtime_of(request).session_factory) as s:
        # one-off 一事一议 items are managed from their request (/ui/adhoc), not in the catalog
        items = list(s.scalars(select(Item).where(Item.adhoc.is_(False)).order_by(Item.code, Item.zone_id)).unique())
        return _page(request, "admin/items.html", items=items)


def _materials_text(item: Item) -> str:
    return "\n".join(f"{m.name} | {m.form} | {m.copies} | {'必交' if m.required else '选交'}"
                     + (f" | {m.e_licence}" if m.e_licence else "") for m in item.materials)


def _parse_materials(text: str) -> list[dict[str, Any]]:
    """``name | form | copies | 必交/选交 | 电子证照类型`` per line; only the name is required."""
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if not parts[0]:
            continue
        entry: dict[str, Any] = {"name": parts[0]}
        if len(parts) > 1 and parts[1]:
            entry["form"] = parts[1]
        if len(parts) > 2 and parts[2]:
            entry["copies"] = parts[2]
        if len(parts) > 3 and parts[3]:
            entry["required"] = parts[3] not in ("选交", "optional", "否", "no")
        if len(parts) > 4 and parts[4]:
            entry["e_licence"] = parts[4]
        out.append(entry)
    return out


def _own_item(s: Any, admin: UiUser, item_id: int) -> Item:
    item = s.get(Item, item_id)
    if item is None or item.zone_id != admin.zone_id:
        raise Forbidden("that item is published by another zone")
    return item


@router.get("/items/{item_id:int}")
def item_page(request: Request, item_id: int, user: UserDep) -> Response:
    require_role(user, "admin")
    with transaction(runtime_of(request).session_factory) as s:
        item = _own_item(s, user, item_id)
        return _page(request, "admin/item.html", item=item, materials=_materials_text(item), error="")


def _update_item(db_session: Any, item: Item, spec: catalog.ItemSpec) -> None:
    """Change one catalog entry in place. Checklist lines keep their rows (cases refer to them by id);
    a line removed from the list is deleted, which the database refuses while cases still refer to it.
    (``catalog.upsert_item`` re-adds rows it has just deleted when a line keeps its name, so it cannot
    edit an existing item: reported, and not used here.)"""
    item.name, item.promised_days, item.same_standard = spec.name, spec.promised_days, spec.same_standard
    item.result_delivery, item.mail_side = spec.result_delivery, spec.mail_side
    by_name = {m.name: m for m in item.materials}
    rows = []
    for pos, m in enumerate(spec.materials, start=1):
        row = by_name.pop(m.name, None) or ItemMaterial(name=m.name)
        row.position, row.form, row.copies, row.required = pos, m.form, m.copies, m.required
        row.e_licence = catalog.licence_type_code(db_session=db_session, text=m.e_licence,
                                                  where=f"{item.code} · {m.name}")
        rows.append(row)
    item.materials = rows
    db_session.flush()


@router.post("/items/{item_id:int}")
def save_item(request: Request, item_id: int, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    materials_text = str(form.get("materials") or "")
    try:
        with transaction(runtime_of(request).session_factory) as s:
            item = _own_item(s, user, item_id)
            code = item.code
            raw = {"code": item.code, "zone": user.zone_code, "name": str(form.get("name") or "").strip(),
                   "promised_days": str(form.get("promised_days") or ""),
                   "result_delivery": str(form.get("result_delivery") or item.result_delivery),
                   "mail_side": str(form.get("mail_side") or item.mail_side),
                   "same_standard": form.get("same_standard") == "1",
                   "materials": _parse_materials(materials_text)}
            try:
                spec = catalog.ItemSpec.model_validate(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                message = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                return _page(request, "admin/item.html", status_code=422, item=item, materials=materials_text,
                             error=message)
            _update_item(s, item, spec)
    except catalog.CatalogError as exc:  # an unknown e-licence type: the transaction is gone, nothing kept
        with transaction(runtime_of(request).session_factory) as s:
            return _page(request, "admin/item.html", status_code=422, item=_own_item(s, user, item_id),
                         materials=materials_text, error=str(exc))
    except IntegrityError:
        with transaction(runtime_of(request).session_factory) as s:
            item = _own_item(s, user, item_id)
            return _page(request, "admin/item.html", status_code=409, item=item, materials=materials_text,
                         error=_t(request, "adm.material_in_use"))
    _flash(request, "ok", "adm.item_saved", code=code)
    return _back("/ui/admin/items")


@router.post("/items/import")
async def import_items(request: Request, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        session_of(request).flash("error", "file: choose a JSON file")
        return _back("/ui/admin/items")
    data = await upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        session_of(request).flash("error", f"file: larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
        return _back("/ui/admin/items")
    return _import_bytes(request, user, data, upload.filename or "catalog.json")


def _display_name(filename: str) -> str:
    """The uploaded file's name as the admin is told it (the last path part, printable, at most 80)."""
    name = "".join(ch for ch in filename.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable()).strip()
    return (name if name not in ("", ".", "..") else "catalog.json")[:80]


def _import_bytes(request: Request, user: UiUser, data: bytes, filename: str) -> Response:
    runtime = runtime_of(request)
    shown = _display_name(filename)
    with tempfile.TemporaryDirectory() as tmp:
        # Never the client's name on disk: '..', '.', 300 characters or a path would not be a file here.
        path = Path(tmp) / "catalog.json"
        path.write_bytes(data)
        try:
            specs = catalog.load_specs(path)
        except catalog.CatalogError as exc:
            session_of(request).flash("error", str(exc).replace(str(path), shown))
            return _back("/ui/admin/items")
    for n, spec in enumerate(specs, start=1):
        if spec.zone != user.zone_code:
            _flash(request, "error", "adm.import_other_zone", n=n, code=spec.code, zone=spec.zone, mine=user.zone_code)
            return _back("/ui/admin/items")
    try:
        with transaction(runtime.session_factory) as s:
            for spec in specs:
                item = s.scalars(select(Item).where(Item.zone_id == user.zone_id, Item.code == spec.code)).first()
                if item is None:
                    catalog.upsert_item(db_session=s, spec=spec)
                else:
                    _update_item(s, item, spec)
                    item.step_targets = {**DEFAULT_STEP_TARGETS, **spec.step_targets}
    except catalog.CatalogError as exc:
        session_of(request).flash("error", str(exc))
        return _back("/ui/admin/items")
    except IntegrityError:
        _flash(request, "error", "adm.material_in_use")
        return _back("/ui/admin/items")
    _flash(request, "ok", "adm.imported", n=len(specs))
    return _back("/ui/admin/items")


@router.get("/catalog-report")
def catalog_report(request: Request, user: UserDep) -> Response:
    require_role(user, "admin")
    with transaction(runtime_of(request).session_factory) as s:
        found = reports.catalog_disagreements(db_session=s)
    return _page(request, "admin/catalog_report.html", ev={"disagreements": found})


# --- notification routes -----------------------------------------------------------------------------
# A zone's admin reads and rewrites only the zone's own part (its channels with their URLs, zones.<CODE>);
# a platform admin (users.platform_admin, granted on the command line) the whole alliance-wide file.


def _is_platform_admin(request: Request, user: UiUser) -> bool:
    with transaction(runtime_of(request).session_factory) as s:
        row = s.get(User, user.id)
        return bool(row is not None and row.role == "admin" and row.platform_admin)


def _zone_users(request: Request, user: UiUser) -> set[str]:
    with transaction(runtime_of(request).session_factory) as s:
        return set(s.scalars(select(User.username).where(User.zone_id == user.zone_id)))


def _dump(data: Any, suffix: str) -> str:
    if suffix.lower() in (".yaml", ".yml"):
        import yaml

        return str(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _parse(text: str, suffix: str, shown_name: str) -> Any:
    try:
        if suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text) or {}
        return json.loads(text) if text.strip() else {}
    except Exception as exc:  # noqa: BLE001 - any parse error is the same refusal
        raise RoutesError(f"{shown_name} is not valid {suffix or 'JSON'}: {exc}") from None


def _routes_page(request: Request, user: UiUser, path: Path | None, *, text: str | None = None, error: str = "",
                 status_code: int = 200) -> Response:
    platform = _is_platform_admin(request, user)
    exists = path is not None and Path(path).is_file()
    shared: list[str] = []
    if path is not None and text is None:
        raw: dict[str, Any] = {}
        if exists:
            try:
                raw = read_raw(Path(path))
                load_routes(Path(path))
            except RoutesError as exc:
                error = str(exc)
        if platform:
            text = Path(path).read_text(encoding="utf-8") if exists else ""
        else:
            text = _dump(zone_view(raw, user.zone_code), Path(path).suffix)
            shared = platform_channel_names(raw)
    elif path is not None and not platform and exists:
        try:
            shared = platform_channel_names(read_raw(Path(path)))
        except RoutesError:
            shared = []
    return _page(request, "admin/routes.html", status_code=status_code, routes_path=path, text=text or "",
                 exists=exists, error=error, platform=platform, shared=shared)


@router.get("/routes")
def routes_page(request: Request, user: UserDep) -> Response:
    require_role(user, "admin")
    return _routes_page(request, user, runtime_of(request).settings.notification_routes)


@router.post("/routes")
def save_routes(request: Request, user: UserDep, form: FormDep) -> Response:
    """Validate with the notifications engine's own parser before anything is written; a zone's admin's
    text is their zone's part, merged into the file (refused when it reaches outside the zone)."""
    require_role(user, "admin")
    path = runtime_of(request).settings.notification_routes
    if path is None:
        raise Forbidden("no notification routes file is configured")
    path = Path(path)
    text = str(form.get("routes") or "").replace("\r\n", "\n")
    try:
        if _is_platform_admin(request, user):
            new_text = text
            parse_routes(_parse(text, path.suffix, path.name), where=path.name)
        else:
            raw = read_raw(path) if path.is_file() else {}
            merged = merge_zone_view(raw, user.zone_code, _parse(text, path.suffix, path.name),
                                     zone_users=_zone_users(request, user), where=path.name)
            parse_routes(merged, where=path.name)
            new_text = _dump(merged, path.suffix)
    except RoutesError as exc:
        return _routes_page(request, user, path, text=text, error=str(exc), status_code=422)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(path.name + ".tmp")
    tmp_path.write_text(new_text, encoding="utf-8")
    tmp_path.replace(path)  # atomic: a reader sees the old file or the new one
    _flash(request, "ok", "adm.routes_saved")
    return _back("/ui/admin/routes")
