"""Identifier check digits and PII masking.

A window clerk types an enterprise's 统一社会信用代码 (USCC), a person's 居民身份证号 or a courier
tracking number while the applicant waits; a typo caught here is a case that does not bounce back
from the other zone a week later. Each validator returns the normalized value or raises
:class:`IdentifierError`, whose messages name the field and the reason in English and Chinese and
never repeat the whole number (errors end up in logs, and those must stay free of PII).

The check characters of the USCC and the 身份证号 are python-stdnum's (``stdnum.cn.uscc``,
``stdnum.cn.ric``); what stays here is what no library has: the checks in the order a clerk needs
them, with a message in Chinese for each, and the UPU S10 check digit. (stdnum's own ``validate``
is not used: it refuses a USCC whose first 8 places are not digits and an ID number whose region
code its table lacks, and says why only in English.)

The masking rules live in :mod:`privacy` (below the domain, so that notifications can use them
without importing ``states``); they are re-exported here for the callers that check and mask together.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from privacy import mask_id, mask_payload, mask_phone, mask_text

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
_USCC_VALUES = frozenset(USCC_CHARSET)


def uscc_check_char(body: str) -> str:
    """Check character for the first 17 characters of a USCC (GB 32100-2015, modulus 31): python-stdnum's."""
    if len(body) != 17 or any(ch not in _USCC_VALUES for ch in body):
        raise ValueError("a USCC body is 17 characters from the GB 32100 character set")
    return str(stdnum_uscc.calc_check_digit(body))


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

_ID_SHAPE = re.compile(r"\d{17}[\dX]")
#: The earliest birth year accepted: anyone born earlier has no living 18-digit ID holder.
_EARLIEST_BIRTH_YEAR = 1850


def resident_id_check_char(body: str) -> str:
    """Check character for the first 17 digits of a resident ID number (GB 11643-1999, ISO 7064 MOD 11-2):
    python-stdnum's (which takes the whole number, check place included)."""
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError("a resident ID body is 17 digits")
    return str(stdnum_ric.calc_check_digit(body + "0"))


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
# Hand-written: python-stdnum has no S10 module (checked in 2.2), and no other kept library does it.

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


def _checked(value: str, field: str, position: int, expected: str) -> str:
    """The one refusal all three identifiers share: the check character at ``position`` is wrong."""
    if value[position] != expected:
        raise IdentifierError(
            field,
            f"check digit is {value[position]}, expected {expected}",
            f"校验码为 {value[position]}，应为 {expected}",
        )
    return value
