"""The canonical JSON form every hash and signature is computed over: RFC 8785 (JCS).

JCS sorts object members by their UTF-16 code units, writes numbers as ECMAScript does and strings
with the minimal escaping, so two implementations in different languages produce the same bytes.
The ``rfc8785`` package (Trail of Bits) implements it; we only add the SHA-256 we use everywhere.
Floats are refused on purpose: amounts and times travel as strings or integers, never as binary
fractions whose shortest decimal form a peer's library might print differently.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


class CanonicalError(ValueError):
    """The value cannot be put in canonical form (a float, a non-string key, a NaN)."""


def _no_floats(value: Any, where: str = "$") -> None:
    if isinstance(value, float):
        raise CanonicalError(f"{where}: floats are not allowed in signed JSON (send a string or an integer)")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise CanonicalError(f"{where}: object keys must be strings, not {type(k).__name__}")
            _no_floats(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}[{i}]")


def canonical(value: Any) -> bytes:
    """RFC 8785 bytes of ``value`` (UTF-8)."""
    _no_floats(value)
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalError(str(exc)) from exc


def digest(value: Any) -> str:
    """Lower-case hex SHA-256 of the canonical form."""
    return hashlib.sha256(canonical(value)).hexdigest()
