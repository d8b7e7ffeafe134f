"""Identifier check digits and PII masking.

A window clerk types an enterprise's 统一社会信用代码 (USCC), a person's 居民身份证号 or a courier
tracking number while the applicant waits; a typo caught here is a case that does not bounce back
from the other zone a week later. Each validator returns the normalized value or raises
:class:`IdentifierError`, whose messages name the field and the reason in English and Chinese and
never repeat the whole number (errors end up in logs, and those must stay free of PII).

The masking helpers keep ID and phone numbers out of lists, logs and notifications (DESIGN §5.6).
"""

from __future__ import annotations

import re
from datetime import date

__all__ = [
    "IdentifierError",
    "mask_id",
    "mask_payload",
    "mask_phone",
    "mask_text",
    "resident_id_check_char",
    "s10_check_digit",
    "uscc_check_char",
    "validate_resident_id",
    "validate_s10",
    "validate_uscc",
]


class IdentifierError(ValueError):
    """An identifier failed validation; ``message``/``message_zh`` are ready to show next to the field."""

    def __init__(self, field: str, reason: str, reason_zh: str) -> None:
        self.field = field
        self.reason = reason
        self.reason_zh = reason_zh
        self.message = f"{field}: {reason}"
        self.message_zh = f"{field}：{reason_zh}"
        super().__init__(self.message)


# --- 统一社会信用代码 GB 32100-2015 -------------------------------------------------------------

#: The 31 characters of GB 32100-2015 (no I, O, S, V, Z); a character's value is its index.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {ch: i for i, ch in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(body: str) -> str:
    """Check character for the first 17 characters of a USCC (GB 32100-2015, modulus 31)."""
    if len(body) != 17 or any(ch not in _USCC_VALUES for ch in body):
        raise ValueError("a USCC body is 17 characters from the GB 32100 character set")
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(code: str, field: str = "applicant.id_number") -> str:
    """Validate an enterprise's 统一社会信用代码; return it stripped and upper-cased."""
    value = (code or "").strip().upper()
    if not value:
        raise IdentifierError(field, "the unified social credit code is empty", "统一社会信用代码为空")
    if len(value) != 18:
        raise IdentifierError(
            field,
            f"a unified social credit code has 18 characters, got {len(value)}",
            f"统一社会信用代码应为 18 位，实际为 {len(value)} 位",
        )
    for pos, ch in enumerate(value, start=1):
        if ch not in _USCC_VALUES:
            raise IdentifierError(
                field,
                f"character {pos} {ch!r} is not allowed (only 0-9 and A-Z without I, O, S, V, Z)",
                f"第 {pos} 位字符 {ch!r} 不合法（只能是数字和除 I、O、S、V、Z 以外的大写字母）",
            )
    return _checked(value, field, 17, uscc_check_char(value[:17]))


# --- 居民身份证号 GB 11643-1999 --------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"\d{17}[\dX]")
#: The earliest birth year accepted: anyone born earlier has no living 18-digit ID holder.
_EARLIEST_BIRTH_YEAR = 1850


def resident_id_check_char(body: str) -> str:
    """Check character for the first 17 digits of a resident ID number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError("a resident ID body is 17 digits")
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_resident_id(
    number: str, field: str = "applicant.id_number", *, today: date | None = None
) -> str:
    """Validate a person's 18-digit 居民身份证号; return it with a lower-case 'x' made 'X'.

    Refuses the old 15-digit numbers, a wrong check character and a birth date (digits 7–14) that
    does not exist or lies after ``today``.
    """
    value = (number or "").strip().upper()
    if not value:
        raise IdentifierError(field, "the ID number is empty", "身份证号码为空")
    if len(value) == 15 and value.isascii() and value.isdigit():
        raise IdentifierError(
            field,
            "15-digit first-generation ID numbers are not accepted; enter the 18-digit number",
            "不接受 15 位第一代身份证号码，请录入 18 位号码",
        )
    if len(value) != 18:
        raise IdentifierError(
            field,
            f"an ID number has 18 characters, got {len(value)}",
            f"身份证号码应为 18 位，实际为 {len(value)} 位",
        )
    if not value.isascii() or not _ID_SHAPE.fullmatch(value):
        raise IdentifierError(
            field,
            "an ID number is 17 digits followed by a digit or X",
            "身份证号码应为 17 位数字加 1 位数字或 X",
        )
    year, month, day = int(value[6:10]), int(value[10:12]), int(value[12:14])
    try:
        born = date(year, month, day)
    except ValueError:
        born = None
    limit = today or date.today()
    if born is None or born.year < _EARLIEST_BIRTH_YEAR or born > limit:
        raise IdentifierError(
            field,
            f"the birth date {value[6:10]}-{value[10:12]}-{value[12:14]} is impossible",
            f"出生日期 {value[6:10]}-{value[10:12]}-{value[12:14]} 不存在",
        )
    return _checked(value, field, 17, resident_id_check_char(value[:17]))


# --- UPU S10 tracking numbers ---------------------------------------------------------------------

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10_SHAPE = re.compile(r"[A-Z]{2}\d{9}[A-Z]{2}")


def s10_check_digit(serial: str) -> str:
    """Check digit for the 8-digit serial number of a UPU S10 item identifier."""
    if len(serial) != 8 or not serial.isascii() or not serial.isdigit():
        raise ValueError("an S10 serial number is 8 digits")
    check = 11 - sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    return str({10: 0, 11: 5}.get(check, check))


def validate_s10(tracking: str, field: str = "tracking_no") -> str:
    """Validate a UPU S10 item identifier (e.g. ``RR473124829GB``); spaces allowed, result upper-case."""
    value = re.sub(r"\s+", "", tracking or "").upper()
    if not value:
        raise IdentifierError(field, "the tracking number is empty", "邮件号码为空")
    if len(value) != 13 or not value.isascii() or not _S10_SHAPE.fullmatch(value):
        raise IdentifierError(
            field,
            "a UPU S10 tracking number is 2 letters, 9 digits and 2 letters (e.g. RR473124829GB)",
            "UPU S10 邮件号码应为 2 位字母、9 位数字、2 位字母（如 RR473124829GB）",
        )
    return _checked(value, field, 10, s10_check_digit(value[2:10]))


# --- masking ------------------------------------------------------------------------------------


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
    pages, PDFs, exports, notifications, logs (DESIGN §5.6). Hex digests (32+ hex characters standing
    alone) are left whole.

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


def _checked(value: str, field: str, position: int, expected: str) -> str:
    """The one refusal all three identifiers share: the check character at ``position`` is wrong."""
    if value[position] != expected:
        raise IdentifierError(
            field,
            f"check digit is {value[position]}, expected {expected}",
            f"校验码为 {value[position]}，应为 {expected}",
        )
    return value
