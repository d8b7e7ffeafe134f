"""Verify a fetched e-licence: pure checks, no database, no network (the caller fetched both parts).

Order matters for the message the clerk reads: an unregistered issuer or a broken signature makes
every other field untrustworthy, so those come first; then the revocation list (itself signed),
validity on the day of receipt, and last that the holder is the applicant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from licences.signing import LICENCE_SCHEMA, fingerprint, signature_valid


class Refusal(StrEnum):
    """Why an e-licence was not accepted; each has one Chinese sentence (``licences.service``)."""

    not_allowed = "not_allowed"  # the material does not accept this licence type
    unknown_issuer = "unknown_issuer"
    unreachable = "unreachable"
    not_found = "not_found"
    bad_signature = "bad_signature"
    malformed = "malformed"
    wrong_licence = "wrong_licence"  # signed, but another type/number than asked for
    revocations_invalid = "revocations_invalid"
    revoked = "revoked"
    not_yet_valid = "not_yet_valid"
    expired = "expired"
    holder_mismatch = "holder_mismatch"


class LicenceRejected(Exception):
    def __init__(self, refusal: Refusal, detail: str = "") -> None:
        super().__init__(f"{refusal}: {detail}" if detail else str(refusal))
        self.refusal = refusal
        self.detail = detail


@dataclass(frozen=True)
class Verified:
    """What was checked and found good: kept with the case as its verification record."""

    issuer: str
    licence_type: str
    type_name: str
    number: str
    holder_name: str
    holder_id: str
    valid_from: str
    valid_until: str | None
    key_id: str
    revocations_issued_at: str
    fields: dict[str, Any]


def _day(value: Any, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise LicenceRejected(Refusal.malformed, f"{name} is not a date: {value!r}") from None


def _norm(id_number: str) -> str:
    return "".join(id_number.split()).upper()


def verify_licence(document: Any, *, registered_keys: dict[str, str], revocations: Any, licence_type: str,
                   number: str, applicant_id: str, today: date) -> Verified:
    """``registered_keys``: issuer code → its public key as registered in tongban."""
    if not isinstance(document, dict) or not isinstance(document.get("licence"), dict):
        raise LicenceRejected(Refusal.malformed, "no licence body")
    body = document["licence"]
    issuer = str(body.get("issuer", ""))
    key = registered_keys.get(issuer)
    if key is None:
        raise LicenceRejected(Refusal.unknown_issuer, issuer)
    if not signature_valid("licence", document, key):
        raise LicenceRejected(Refusal.bad_signature, issuer)
    if body.get("schema") != LICENCE_SCHEMA or not isinstance(body.get("holder"), dict):
        raise LicenceRejected(Refusal.malformed, f"schema {body.get('schema')!r}")
    if body.get("type") != licence_type or str(body.get("number", "")).strip() != number.strip():
        raise LicenceRejected(Refusal.wrong_licence, f"{body.get('type')} {body.get('number')}")
    if not signature_valid("revocations", revocations, key) or revocations["revocations"].get("issuer") != issuer:
        raise LicenceRejected(Refusal.revocations_invalid, issuer)
    for entry in revocations["revocations"].get("entries", []):
        if isinstance(entry, dict) and entry.get("type") == licence_type and entry.get("number") == body["number"]:
            raise LicenceRejected(Refusal.revoked, str(entry.get("revoked_on") or ""))
    start, end = _day(body.get("valid_from"), "valid_from"), _day(body.get("valid_until"), "valid_until")
    if start is not None and today < start:
        raise LicenceRejected(Refusal.not_yet_valid, str(start))
    if end is not None and today > end:
        raise LicenceRejected(Refusal.expired, str(end))
    holder = body["holder"]
    if _norm(str(holder.get("id_number", ""))) != _norm(applicant_id):
        raise LicenceRejected(Refusal.holder_mismatch)
    return Verified(
        issuer=issuer, licence_type=licence_type, type_name=str(body.get("type_name") or licence_type),
        number=str(body["number"]), holder_name=str(holder.get("name", "")),
        holder_id=_norm(str(holder.get("id_number", ""))), valid_from=str(start or ""),
        valid_until=str(end) if end else None, key_id=fingerprint(key),
        revocations_issued_at=str(revocations["revocations"].get("issued_at", "")),
        fields=body.get("fields") if isinstance(body.get("fields"), dict) else {},
    )
