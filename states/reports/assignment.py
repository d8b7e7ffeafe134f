"""Reassign a case (改派): a supervisor of the handling zone hands it to another reviewer of that zone.

Not a lifecycle event — the state does not change — but it changes who works on the case, so it is
audited like one: the same transaction bumps the case version (optimistic lock) and appends a
``reassign`` event to the case's hash chain with ``from_state == to_state``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from states.queue.service import HANDLING_WORK
from states.transition.errors import EventNotAllowed, Forbidden, PayloadInvalid, VersionConflict
from states.transition.rules import Actor
from states.transition.service import visible_case
from storage.audit import service as audit
from storage.case.models import Case
from storage.user.models import User

REASSIGN_EVENT = "reassign"
REASSIGN_LABEL = "改派"
#: The states in which the handling zone's reviewers work on a case, so an assignee matters.
REASSIGNABLE_STATES = frozenset(HANDLING_WORK)


def reviewers_of(*, db_session: Session, zone_id: int) -> list[User]:
    """Active reviewers a supervisor may hand a case to."""
    stmt = (select(User).where(User.zone_id == zone_id, User.role == "reviewer", User.active.is_(True))
            .order_by(User.username))
    return list(db_session.scalars(stmt).unique())


def reassign(*, db_session: Session, case_no: str, actor: Actor, assignee: str, version: int | None,
             now: datetime, reason: str = "") -> Case:
    """Set the case's assignee to the reviewer named ``assignee``; the caller commits."""
    case = visible_case(db_session=db_session, actor=actor, case_no=case_no, for_update=True)
    if actor.role != "supervisor" or actor.zone_id != case.handling_zone_id:
        raise Forbidden(f"only a supervisor of the handling zone may reassign case {case_no}")
    if case.state not in REASSIGNABLE_STATES:
        raise EventNotAllowed(
            f"case {case_no} cannot be reassigned in state '{case.state}' (only while the handling zone works "
            f"on it: {', '.join(sorted(REASSIGNABLE_STATES))})", state=case.state, allowed=[], event=REASSIGN_EVENT)
    if version is not None and version != case.version:
        raise VersionConflict(
            f"case {case_no} changed meanwhile (you sent version {version}, it is now {case.version}); "
            "reload and try again", expected=version, actual=case.version)
    new = db_session.scalars(select(User).where(User.username == assignee)).first()
    if new is None or not new.active or new.role != "reviewer" or new.zone_id != case.handling_zone_id:
        raise PayloadInvalid("assignee", f"'{assignee}' is not an active reviewer of the handling zone")
    if new.id == case.assignee_id:
        raise PayloadInvalid("assignee", f"case {case_no} is already assigned to '{assignee}'")
    reason = reason.strip()
    if len(reason) > 2000:
        raise PayloadInvalid("reason", "at most 2000 characters")
    previous = db_session.get(User, case.assignee_id) if case.assignee_id is not None else None
    case.assignee_id = new.id
    try:
        db_session.flush()  # bumps the version (version_id_col) or finds someone else was faster
    except StaleDataError as exc:
        raise VersionConflict(f"case {case_no} changed meanwhile; reload and try again") from exc
    payload = {"from": previous.username if previous else None, "to": new.username}
    if reason:
        payload["reason"] = reason
    audit.append(db_session=db_session, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
                 actor_role=actor.role, event=REASSIGN_EVENT, from_state=case.state, to_state=case.state,
                 version=case.version, payload=payload)
    return case
