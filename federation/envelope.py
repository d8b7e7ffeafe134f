"""Envelopes (报文封装): every message, receipt and request token is ``{<part>, signature}``.

A message is ``{"envelope": E, "body": B, "signature": S}`` where ``E.body_sha256`` is the SHA-256 of
the canonical form (RFC 8785) of ``B`` and ``S`` is the Ed25519 signature over the canonical form of
``E``, made with the key ``E.key_id`` names. Changing one character of the body changes its hash,
which is inside what was signed. Receipts and the small tokens that authenticate blob uploads and
queries are signed the same way (their own part instead of the envelope, no body).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from federation import keys
from federation.canonical import CanonicalError, canonical, digest
from federation.enums import Refusal

PROTOCOL = "tongban-federation/1"

#: Fields of an envelope, all required.
ENVELOPE_FIELDS = ("protocol", "message_id", "sender", "recipient", "case_ref", "type", "seq", "created_at",
                   "body_sha256", "key_id")


class Refused(Exception):
    """A message, blob, receipt or token is refused: ``code`` is machine-readable, ``detail`` says why."""

    def __init__(self, code: Refusal, detail: str, *, status: int = 422) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status

    def as_json(self) -> dict[str, Any]:
        from federation.enums import REFUSAL_ZH

        return {"refused": self.code.value, "detail": self.detail, "detail_zh": REFUSAL_ZH.get(self.code, "")}


def now_text(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_message_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Message:
    envelope: dict[str, Any]
    body: dict[str, Any]
    signature: str

    @property
    def message_id(self) -> str:
        return str(self.envelope["message_id"])

    def as_json(self) -> dict[str, Any]:
        return {"envelope": self.envelope, "body": self.body, "signature": self.signature}


def seal(identity: keys.Identity, *, message_id: str, recipient: str, case_ref: str, type: str, seq: int,
         body: dict[str, Any], created_at: datetime | None = None) -> Message:
    """Sign a message with the current key (``created_at``: now, unless a test wants another clock)."""
    env = {"protocol": PROTOCOL, "message_id": message_id, "sender": identity.deployment_id,
           "recipient": recipient, "case_ref": case_ref, "type": type, "seq": seq,
           "created_at": now_text(created_at), "body_sha256": digest(body), "key_id": identity.current.key_id}
    _, sig = identity.sign(canonical(env))
    return Message(env, body, sig)


def parse_message(raw: Any) -> Message:
    """The shape of a message, before anything is believed (``malformed`` otherwise)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("envelope"), dict) or not isinstance(raw.get("body"), dict) \
            or not isinstance(raw.get("signature"), str):
        raise Refused(Refusal.malformed, "a message is {envelope: {...}, body: {...}, signature: \"...\"}")
    env = raw["envelope"]
    missing = [f for f in ENVELOPE_FIELDS if f not in env]
    if missing:
        raise Refused(Refusal.malformed, f"envelope lacks {', '.join(missing)}")
    if env["protocol"] != PROTOCOL:
        raise Refused(Refusal.malformed, f"protocol must be {PROTOCOL!r}, not {env['protocol']!r}")
    if not isinstance(env["seq"], int) or env["seq"] < 1:
        raise Refused(Refusal.malformed, "envelope.seq must be a positive integer")
    try:
        keys.parse_time(str(env["created_at"]))
    except ValueError as exc:
        raise Refused(Refusal.malformed, f"envelope.created_at is not an RFC 3339 time: {exc}") from exc
    return Message(env, raw["body"], raw["signature"])


def signature_ok(public_key_b64: str, part: dict[str, Any], signature: str) -> bool:
    try:
        data = canonical(part)
    except CanonicalError:
        return False
    return keys.verify(public_key_b64, signature, data)


def body_ok(msg: Message) -> bool:
    try:
        return digest(msg.body) == msg.envelope["body_sha256"]
    except CanonicalError:
        return False


def sign_part(identity: keys.Identity, part: dict[str, Any]) -> dict[str, Any]:
    """``part`` with ``key_id`` set, and its signature: ``{"signed": part, "signature": S}``."""
    part = {**part, "key_id": identity.current.key_id}
    _, sig = identity.sign(canonical(part))
    return {"signed": part, "signature": sig}


def token(identity: keys.Identity, **claims: Any) -> str:
    """A request token (blob uploads, queries): ``<base64url(JCS(claims))>.<signature>``."""
    claims = {**claims, "sender": identity.deployment_id, "created_at": now_text(), "key_id": identity.current.key_id}
    data = canonical(claims)
    _, sig = identity.sign(data)
    return f"{keys.b64(data)}.{sig}"


def parse_token(text: str) -> tuple[dict[str, Any], bytes, str]:
    import json

    try:
        data_b64, sig = text.split(".", 1)
        data = keys.unb64(data_b64)
        claims = json.loads(data)
    except ValueError as exc:
        raise Refused(Refusal.malformed, "the X-Tongban-Token header is <base64url claims>.<signature>",
                      status=401) from exc
    if not isinstance(claims, dict):
        raise Refused(Refusal.malformed, "token claims must be an object", status=401)
    return claims, data, sig
