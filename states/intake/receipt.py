"""Receiving a case and attaching files: check, store, then ONE transaction; undo the store on failure.

A receipt is confirmed only after every file is durably stored (put + read-back hash); when the
database refuses, the stored objects are removed again, so bad input leaves nothing behind. Not a
Prefect flow: the orchestration of one receipt around the plain functions of ``service.py`` (which
never commit), so these own their transactions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from documents.intake import ImageLimits
from licences import service as e_licence
from states.intake import service
from states.intake.schemas import ReceiveForm
from states.intake.uploads import Upload, check_uploads, discard, store_checked
from states.sla.clock import Clock
from states.transition.errors import Forbidden, PayloadInvalid
from states.transition.rules import Actor
from states.transition.service import get_case, visible_case
from storage.audit import service as audit
from storage.case.models import Case
from storage.db import transaction
from storage.objects import ObjectStore
from storage.zone.models import Zone

#: Upload staging directories start with this (the reconciler removes those a crash left behind).
SPOOL_PREFIX = "tongban-upload-"


def receive_case(*, session_factory: sessionmaker[Session], store: ObjectStore, clock: Clock, actor: Actor,
                 form: ReceiveForm, uploads: Sequence[Upload], now: datetime, max_bytes: int,
                 workdir: Path | None = None, limits: ImageLimits | None = None,
                 after_record: Callable[[Session, Case], None] | None = None) -> str:
    """收件: returns the new case number.

    ``after_record`` writes what a channel adds to the receipt in the same transaction (the kiosk's
    locker slot and signature): it refuses, and nothing of the receipt stays."""
    with transaction(session_factory) as s:  # refuse a bad form before spending time on files
        item, id_number = service.check_form(db_session=s, form=form, actor=actor)
        zone = s.get(Zone, actor.zone_id)
        assert zone is not None
        zone_code = zone.code
        e_licences = e_licence.prepare(db_session=s, item=item, form=form, uploads=uploads)
    # 电子证照: fetched and verified before any file is stored; a refusal leaves nothing behind.
    fallbacks = e_licence.check_fallbacks(form.licence_fallbacks, planned_for=e_licences.fallback_lines)
    fetched = e_licence.fetch_and_verify(e_licences.planned, issuers=e_licences.issuers, applicant_id=id_number,
                                         now=now, tz=clock.tz)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=SPOOL_PREFIX) as tmp:
        checked = check_uploads(uploads, Path(tmp), max_bytes=max_bytes, limits=limits)
        staged = store_checked(store, checked, zone_code=zone_code, now=now)
    try:
        licences = e_licence.store_licences(store, fetched, zone_code=zone_code, now=now, tz=clock.tz, actor=actor)
    except BaseException:
        discard(store, staged)
        raise
    try:
        with transaction(session_factory) as s:
            case = service.record_receipt(db_session=s, form=form, actor=actor, now=now, clock=clock,
                                          staged=staged + [x.rendering for x in licences])
            e_licence.record(db_session=s, case=case, stored=licences, fallbacks=fallbacks, actor=actor, now=now)
            if after_record is not None:
                after_record(s, case)
            return case.case_no
    except BaseException:
        discard(store, staged + e_licence.staged_files(licences))
        raise


#: Who may attach which kind of file, in which state.
ATTACH_RULES: dict[str, tuple[str, str, frozenset[str]]] = {
    # purpose: (role, side, states)
    "supplement": ("clerk", "receiving", frozenset({"received", "awaiting_supplement"})),
    "result": ("reviewer", "handling", frozenset({"under_review"})),
}


def check_may_receive(actor: Actor) -> None:
    """Refuse, from who is calling alone, someone who may never receive: called before the body is read."""
    if actor.role != "clerk" or actor.zone_id is None:
        raise Forbidden("only a window clerk (窗口人员) may receive a case")


def check_may_attach(*, session_factory: sessionmaker[Session], actor: Actor, case_no: str) -> None:
    """Refuse, from who is calling and the case number alone, someone who may attach no kind of file
    to this case (not party: as if it did not exist; party without the role: 403). Called before the
    body is read, so an upload nobody may make is not read at all; :func:`attach_files` checks again."""
    with transaction(session_factory) as s:
        case = visible_case(db_session=s, actor=actor, case_no=case_no)  # not party → 404 (transitions.require_party)
        for role, side, _states in ATTACH_RULES.values():
            zone_id = case.receiving_zone_id if side == "receiving" else case.handling_zone_id
            if actor.role == role and actor.zone_id == zone_id:
                return
    raise Forbidden("only the receiving zone's clerk (补正材料) or the handling zone's reviewer (结果文书) "
                    "may attach files to this case")


def attach_files(*, session_factory: sessionmaker[Session], store: ObjectStore, actor: Actor, case_no: str,
                 purpose: str, uploads: Sequence[Upload], now: datetime, max_bytes: int,
                 workdir: Path | None = None, limits: ImageLimits | None = None) -> list[int]:
    """补正材料 / 结果文书: returns the new file ids."""
    if purpose not in ATTACH_RULES:
        raise PayloadInvalid("purpose", f"must be one of {', '.join(ATTACH_RULES)}")
    if not uploads:
        raise PayloadInvalid("files", "no file was sent")
    role, side, states = ATTACH_RULES[purpose]
    with transaction(session_factory) as s:
        case = visible_case(db_session=s, actor=actor, case_no=case_no)  # not party → 404 (transitions.require_party)
        zone_id = case.receiving_zone_id if side == "receiving" else case.handling_zone_id
        if actor.role != role or actor.zone_id != zone_id:
            raise Forbidden(f"only a {role} of the {side} zone may attach {purpose} files")
        if case.state not in states:
            raise PayloadInvalid("purpose", f"{purpose} files cannot be attached in state '{case.state}'")
        zone_code = (case.receiving_zone if side == "receiving" else case.handling_zone).code
    with tempfile.TemporaryDirectory(dir=workdir, prefix=SPOOL_PREFIX) as tmp:
        checked = check_uploads(uploads, Path(tmp), max_bytes=max_bytes, limits=limits)
        staged = store_checked(store, checked, zone_code=zone_code, now=now)
    try:
        with transaction(session_factory) as s:
            case = get_case(db_session=s, case_no=case_no, for_update=True)
            if case.state not in states:  # changed while the files were being stored
                raise PayloadInvalid("purpose", f"{purpose} files cannot be attached in state '{case.state}'")
            rows = service.add_files(db_session=s, case=case, actor=actor, staged=staged, purpose=purpose,
                                     zone_code=zone_code, now=now)
            audit.append(db_session=s, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
                         actor_role=actor.role, event=f"attach_{purpose}", from_state=case.state,
                         to_state=case.state, version=case.version,
                         payload={"files": [{"id": r.id, "name": r.filename, "sha256": r.sha256} for r in rows]})
            return [r.id for r in rows]
    except BaseException:
        discard(store, staged)
        raise
