"""Refusals of the 协作机制 service: the transition service's kinds, each with the Chinese sentence the
page shows (``message_zh``, also in the API's JSON beside the English ``message``)."""

from __future__ import annotations

from states.transition.errors import CaseNotFound, Forbidden, PayloadInvalid, TransitionError


class RequestForbidden(Forbidden):
    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message, message_zh=zh)
        self.zh = zh


class RequestNotFound(CaseNotFound):
    def __init__(self, request_id: int) -> None:
        super().__init__(f"no ad-hoc request {request_id}", message_zh="没有这个一事一议申请（或不属于本区）")
        self.zh = "没有这个一事一议申请（或不属于本区）"


class RequestStateConflict(TransitionError):
    """The request is no longer (or not yet) in the state the action needs: someone answered first."""

    status = 409
    code = "adhoc_state"

    def __init__(self, message: str, zh: str, state: str) -> None:
        super().__init__(message, message_zh=zh, state=state)
        self.zh = zh


def invalid(field: str, reason: str, zh: str) -> PayloadInvalid:
    exc = PayloadInvalid(field, reason, reason_zh=zh)
    exc.detail["message_zh"] = zh
    return exc


def zh_of(exc: TransitionError) -> str:
    """The Chinese sentence of a refusal raised here (or by the intake it hands to)."""
    if isinstance(exc, PayloadInvalid) and exc.reason_zh != exc.reason:
        return exc.reason_zh
    return str(exc.detail.get("message_zh") or getattr(exc, "zh", "") or "")
