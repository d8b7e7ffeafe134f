"""电子证照 in 系统管理: the licence types and the issuers registered with the key their licences are
verified against. Issuers are alliance-wide (any zone's cases may carry their licences), so any zone's
admin may register one; the key is entered after its fingerprint was checked with the authority."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from licences import service as e_licence
from licences.signing import fingerprint
from states.transition.errors import PayloadInvalid
from storage.db import transaction
from web.ui.deps import FormDep, UserDep, require_role
from web.ui.i18n import translate
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.routes.admin import SECTIONS

router = APIRouter(prefix="/ui/admin/licences", include_in_schema=False)
FIELDS = ("code", "name", "authority", "endpoint", "public_key", "types")


def _page(request: Request, *, status: int = 200, form: dict[str, str] | None = None, error: str = "") -> Response:
    with transaction(runtime_of(request).session_factory) as s:
        types = e_licence.list_types(db_session=s)
        issuers = [(i, fingerprint(i.public_key)) for i in e_licence.list_issuers(db_session=s)]
        response = render(request, "admin/licences.html", sections=SECTIONS, types=types, issuers=issuers,
                          form=form or {}, error=error)
    response.status_code = status
    return response


@router.get("")
def licences_page(request: Request, user: UserDep) -> Response:
    require_role(user, "admin")
    return _page(request)


@router.post("/issuers")
def register_issuer(request: Request, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    values = {f: str(form.get(f) or "").strip()[:400] for f in FIELDS}
    try:
        with transaction(runtime_of(request).session_factory) as s:
            row = e_licence.register_issuer(
                db_session=s, code=values["code"], name=values["name"], authority=values["authority"],
                public_key=values["public_key"], endpoint=values["endpoint"],
                types=[t.strip() for t in values["types"].replace("，", ",").split(",") if t.strip()])
            code, key_id = row.code, fingerprint(row.public_key)
    except PayloadInvalid as exc:  # nothing was kept: the transaction rolled back
        message: Any = exc.reason_zh if lang_of(request) == "zh" else f"{exc.field}: {exc.reason}"
        return _page(request, status=422, form=values, error=str(message))
    session_of(request).flash("ok", translate(lang_of(request), "lic.adm_saved", code=code, key_id=key_id))
    return RedirectResponse("/ui/admin/licences", status_code=303)
