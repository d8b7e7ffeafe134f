"""Refusals as a person at the counter reads them: a plain sentence in the page's language, for the
field it concerns, never a raw field name or the service's English (docs/architecture.md#people: Chinese is the working
language; English only when English is chosen).

The services speak English with a machine-readable field (``PayloadInvalid(field, reason)``,
pydantic's error types); this maps them onto the page's inputs and onto texts of ``web.ui.i18n``.
"""

from __future__ import annotations

import re
from typing import Any

from documents.errors import MaterialError
from states.identifiers import IdentifierError
from states.transition.errors import EventNotAllowed, PayloadInvalid, TransitionError
from web.ui.i18n import state_label, translate

#: (field pattern, start of the service's reason) → i18n key of the sentence; first match wins.
_REASONS: tuple[tuple[str, str, str], ...] = (
    (r"delivery_address", "a postal address", "ferr.delivery_address.needed"),
    (r"item_code", "unknown item", "ferr.item.unknown"),
    (r"handling_zone", "item", "ferr.item.several_zones"),
    (r"checklist.*", "", "ferr.checklist.unknown"),
    (r"files.*", "no file", "ferr.files.none"),
    (r"files.*", "not a material", "ferr.checklist.unknown"),
    (r"materials", "required materials not received", "ferr.materials.required"),
    (r"materials.*", "say what is defective", "ferr.materials.defective_note"),
    (r"materials.*", "", "ferr.materials.invalid"),
    (r"(originals\.)?carrier", "", "ferr.carrier.needed"),
    (r"(originals\.)?tracking_no", "", "ferr.tracking_no.invalid"),
    (r"reason", "a reason is required", "ferr.reason.needed"),
    (r"reason", "at most", "ferr.reason.too_long"),
    (r"signed_on", "the signing date is in the future", "ferr.signed_on.future"),
    (r"signed_on", "", "ferr.signed_on.invalid"),
    (r"signatory", "", "ferr.signatory.too_long"),
    (r"result_file_id", "", "decide.result_needed"),
    (r"purpose", "", "ferr.state_changed"),
)


def input_of(field: str) -> str:
    """A service field → the input on the pages (``applicant.name`` → ``applicant_name``)."""
    if field.startswith("applicant."):
        return "applicant_" + field.split(".", 1)[1]
    if field in ("item_code", "handling_zone"):
        return "item"
    if field.startswith("checklist") or field.startswith("files"):
        return "checklist"
    if field.startswith("originals."):
        return "originals_" + field.split(".", 1)[1]
    if field.startswith("materials") or field == "locker":  # the kiosk's paper: shown with the pre-check
        return "materials"
    return field


def payload_text(lang: str, field: str, reason: str) -> str:
    for pattern, start, key in _REASONS:
        if re.fullmatch(pattern, field) and reason.startswith(start):
            names = reason.split(": ", 1)[1] if key == "ferr.materials.required" and ": " in reason else ""
            return translate(lang, key, names=names)
    return translate(lang, "ferr.generic", label=field_label(lang, input_of(field)))


def field_label(lang: str, name: str) -> str:
    key = f"field.{name}"
    text = translate(lang, key)
    return translate(lang, "field.this") if text == key else text


def identifier_text(lang: str, exc: IdentifierError) -> str:
    return exc.reason_zh if lang == "zh" else exc.reason


def material_text(lang: str, exc: MaterialError) -> str:
    return exc.message_zh if lang == "zh" else exc.message


def pydantic_text(lang: str, error: dict[str, Any]) -> str:
    name = input_of(".".join(str(p) for p in error["loc"]))
    label = field_label(lang, name)
    kind = str(error.get("type", ""))
    if kind in ("missing", "string_too_short"):
        return translate(lang, "ferr.required", label=label)
    if kind == "string_too_long":
        return translate(lang, "ferr.too_long", label=label, n=(error.get("ctx") or {}).get("max_length", ""))
    if kind in ("literal_error", "enum"):
        return translate(lang, "ferr.choose", label=label)
    return translate(lang, "ferr.generic", label=label)


def refusal_text(lang: str, exc: TransitionError) -> str:
    """Any refusal of the transition service, whole, in the page's language."""
    if isinstance(exc, PayloadInvalid):
        if exc.field == "locker":  # the kiosk's paper still in the locker (states/kiosk/rules.py) names its slot
            return exc.reason_zh if lang == "zh" else exc.reason
        return payload_text(lang, exc.field, exc.reason)
    if isinstance(exc, EventNotAllowed):
        state = exc.detail.get("state")
        return translate(lang, "ferr.event_not_allowed", state=state_label(lang, str(state)) if state else "")
    head = translate(lang, f"error.{exc.code}")
    return head if head != f"error.{exc.code}" else translate(lang, "error.title")
