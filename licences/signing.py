"""The wire format of an e-licence: Ed25519 over the RFC 8785 (JCS) canonical form of the body.

A signed document is ``{"<part>": body, "signature": {"alg", "key_id", "value"}}``. The signature
covers ``rfc8785.dumps(body)`` only, so a verifier needs no knowledge of how the issuer laid out its
JSON: key order, whitespace and number spelling are fixed by JCS. Keys travel as the 32 raw bytes of
the Ed25519 public key in base64 (no PEM, no ASN.1 to parse); ``key_id`` is a short fingerprint a
person can read aloud when registering an issuer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"
LICENCE_SCHEMA = "tongban.e-licence/1"
REVOCATIONS_SCHEMA = "tongban.e-licence-revocations/1"


class BadKey(ValueError):
    """A public key that is not 32 bytes of base64."""


def canonical(body: Any) -> bytes:
    """The bytes that are signed: RFC 8785 JSON Canonicalization Scheme."""
    return rfc8785.dumps(body)


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadKey("the public key is not base64") from exc
    if len(raw) != 32:
        raise BadKey(f"an Ed25519 public key is 32 bytes, this one is {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def fingerprint(public_key: str) -> str:
    """``SHA-256`` of the raw key, first 16 hex digits in groups of four: ``3f2a-91c0-…``."""
    raw = base64.b64decode(public_key.strip())
    h = hashlib.sha256(raw).hexdigest()[:16]
    return "-".join(h[i:i + 4] for i in range(0, 16, 4))


def sign(part: str, body: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    pub = public_key_text(key.public_key())
    value = base64.b64encode(key.sign(canonical(body))).decode("ascii")
    return {part: body, "signature": {"alg": ALGORITHM, "key_id": fingerprint(pub), "value": value}}


def signature_valid(part: str, document: Any, public_key: str) -> bool:
    """True only when ``document[part]`` is signed by ``public_key``; any malformed input is False."""
    if not isinstance(document, dict) or not isinstance(document.get(part), dict):
        return False
    sig = document.get("signature")
    if not isinstance(sig, dict) or sig.get("alg") != ALGORITHM or not isinstance(sig.get("value"), str):
        return False
    try:
        raw = base64.b64decode(sig["value"], validate=True)
        load_public_key(public_key).verify(raw, canonical(document[part]))
    except (InvalidSignature, BadKey, binascii.Error, ValueError, rfc8785.CanonicalizationError):
        return False
    return True
