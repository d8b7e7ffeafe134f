"""Masking of personal data (脱敏): ID and phone numbers kept out of lists, pages, logs, exports and
notifications. Below every other package (it imports nothing of tongban), so that the domain
(``states``), messaging (``notifications``) and the web can all apply the same one rule.
"""

from __future__ import annotations

import re

__all__ = ["mask_id", "mask_payload", "mask_phone", "mask_text"]

#: A 居民身份证号's shape: 17 digits and a check digit or X.
_ID_SHAPE = re.compile(r"\d{17}[\dX]")


def _stars(n: int) -> str:
    return "*" * max(n, 0)


def mask_id(number: str) -> str:
    """Mask an ID number: a 居民身份证号 keeps its first 6 and last 4, a USCC its first 4 and last 4.

    Anything else keeps at most its last 4 characters (and nothing when it is shorter than 8): when
    unsure, show less.
    """
    value = (number or "").strip()
    if len(value) == 18 and _ID_SHAPE.fullmatch(value.upper()):
        return value[:6] + _stars(8) + value[-4:]
    if len(value) == 18:
        return value[:4] + _stars(10) + value[-4:]
    if len(value) < 8:
        return _stars(len(value))
    return _stars(len(value) - 4) + value[-4:]


_MOBILE_DIGITS = re.compile(r"(86)?(1[3-9]\d{9})")


def mask_phone(phone: str) -> str:
    """Mask a phone number: a mainland mobile becomes ``138****5678`` (a ``+86`` prefix is kept).

    Other numbers keep their separators and only their last 4 digits.
    """
    value = (phone or "").strip()
    # isdecimal() also takes full-width digits (１３８…) that an input method may produce.
    digits = "".join(str(int(ch)) for ch in value if ch.isdecimal())
    mobile = _MOBILE_DIGITS.fullmatch(digits)
    if mobile:
        prefix = "+86 " if mobile.group(1) else ""
        m = mobile.group(2)
        return f"{prefix}{m[:3]}****{m[-4:]}"
    keep_from = len(digits) - 4 if len(digits) > 4 else len(digits)
    out, seen = [], 0
    for ch in value:
        if ch.isdecimal():
            out.append(ch if seen >= keep_from else "*")
            seen += 1
        else:
            out.append(ch)
    return "".join(out)


#: 17 digits and a check digit or X, not part of a longer run of digits.
_ID_IN_TEXT = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
#: A mainland mobile (optionally +86, optionally grouped 3-4-4 by spaces or hyphens).
_MOBILE_IN_TEXT = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")


#: A SHA-256 (or other hex digest) standing alone: not PII, and a masked digest would be a wrong one.
_DIGEST = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")


def _mask_plain(text: str) -> str:
    masked = _ID_IN_TEXT.sub(lambda m: mask_id(m.group(0)), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), masked)


def mask_text(text: str) -> str:
    """THE free-text rule: mask every 18-character ID number and mainland mobile number inside a text a
    person typed (reasons, notes, remarks, file names, names) wherever it is shown back — API answers,
    pages, PDFs, exports, notifications, logs (docs/architecture.md, "Personal data"). Hex digests
    (32+ hex characters standing alone) are left whole.

    Matching is by shape, not by check digit: a mistyped ID number is still someone's PII.
    """
    if not text:
        return text
    out, last = [], 0
    for m in _DIGEST.finditer(text):
        out.append(_mask_plain(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_mask_plain(text[last:]))
    return "".join(out)


def mask_payload(value: object) -> object:
    """:func:`mask_text` applied to every text inside a JSON-like value (an audit event's payload)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_payload(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_payload(v) for v in value]
    return value
