"""A keyed hash of the applicant's 统一社会信用代码 / 身份证号, so 办件查询 finds a case by the full number
through an index instead of scanning (or exposing) the numbers themselves.

HMAC-SHA256 under a key derived from the app's ``secret_key``: without the secret the column says
nothing about the number (an unkeyed hash of an 18-character ID is brute-forced in minutes).
The session factory carries the key (``Session.info["id_key"]``); every flush fills the column of new
or changed applicants, whichever code path wrote them.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

INFO_KEY = "id_key"


def derive_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"tongban.applicant-id.v1", hashlib.sha256).digest()


def normalize(id_number: str) -> str:
    return "".join((id_number or "").split()).upper()


def is_full_number(text: str) -> bool:
    """A whole 统一社会信用代码 / 身份证号 (18 characters once spaces are dropped): what the index finds,
    and what the UI keeps out of URLs (a search by it is posted, never put in a query string)."""
    return len(normalize(text)) == 18


def digest(key: bytes, id_number: str) -> str:
    return hmac.new(key, normalize(id_number).encode(), hashlib.sha256).hexdigest()


def key_of(db_session: Session) -> bytes | None:
    key = db_session.info.get(INFO_KEY)
    return key if isinstance(key, bytes) else None


@event.listens_for(Session, "before_flush")
def _fill_id_hashes(db_session: Session, _ctx: Any, _instances: Any) -> None:
    from storage.case.models import Applicant

    key = key_of(db_session)
    if key is None:
        return
    for obj in list(db_session.new) + list(db_session.dirty):
        if isinstance(obj, Applicant) and obj.id_number:
            value = digest(key, obj.id_number)
            if obj.id_number_hash != value:
                obj.id_number_hash = value
