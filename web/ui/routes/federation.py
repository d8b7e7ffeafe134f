"""对端系统: the admin page of peer deployments with their health (last contact, messages waiting,
oldest unacknowledged, refusals by reason). The case page's transfer section is in cases.py."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from federation import keys
from federation import service as peers
from storage.db import transaction
from web.ui import federation_text  # noqa: F401 - registers the page's strings
from web.ui.deps import UserDep, require_role
from web.ui.render import render, runtime_of
from web.ui.routes.admin import SECTIONS

router = APIRouter(prefix="/ui/admin/peers")


@router.get("")
def peers_page(request: Request, user: UserDep) -> Response:
    require_role(user, "admin", "supervisor")
    runtime = runtime_of(request)
    identity_line = ""
    if runtime.settings.federation_id:
        from federation.transfer import identity

        ident = identity(runtime.settings)
        identity_line = f"{ident.deployment_id} · {keys.short(ident.current.key_id)}"
    with transaction(runtime.session_factory) as s:
        rows = peers.health(db_session=s)
    return render(request, "admin/peers.html", sections=SECTIONS, peers=rows, identity_line=identity_line,
                  federated=bool(runtime.settings.federation_id))
