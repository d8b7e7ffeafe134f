"""Messaging of a case (消息): each notice a case's life raises, queued for whoever the routes name.

The flows and the SLA sweep decide *that* something is to be told; this module decides *who* hears it
(:mod:`notifications.recipients` over the routes file), *what* it says (:mod:`notifications.templates`,
with the one :func:`notifications.links.case_link`) and puts it in the ledger
(:mod:`notifications.ledger`), in the caller's transaction, exactly once per dedupe key.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from notifications import ledger
from notifications.recipients import Recipients
from notifications.routes import RoutesError, load_routes
from notifications.templates import render_result_notice
from storage.case.models import Case

log = logging.getLogger("tongban.notifications")


def queue_result_notice(*, db_session: Session, case: Case, topic: str, now: datetime, routes_file: Path | None,
                        base_url: str) -> int:
    """结果通知 to the receiving zone (the routes' ``results:`` roles, clerks by default); how many were new.

    A broken routes file does not hold the result back: it is logged here (and by every SLA sweep)
    and nothing is queued.
    """
    try:
        routes = load_routes(routes_file)
    except RoutesError as exc:
        log.error("result notice for %s not queued: %s", case.case_no, exc)
        return 0
    zone = case.receiving_zone
    queued = 0
    for recipient in Recipients(db_session, routes).of(zone.id, zone.code, routes.results):
        lang = routes.lang_of(recipient)
        subject, body = render_result_notice(case, topic, lang=lang, base_url=base_url)
        queued += ledger.enqueue(db_session=db_session, kind="result", zone_id=zone.id, recipient=recipient,
                                 dedupe_key=f"{topic}:{case.case_no}:v{case.version}:{recipient}", lang=lang,
                                 subject=subject, body=body, now=now)
    return queued
