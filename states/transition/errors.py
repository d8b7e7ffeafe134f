"""Refusals of the transition service, each mapped to one HTTP status by the web layer."""

from __future__ import annotations


class TransitionError(Exception):
    status: int = 400
    code: str = "error"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class CaseNotFound(TransitionError):
    status = 404
    code = "not_found"


class Forbidden(TransitionError):
    """Wrong role, or a zone that is not party to the case."""

    status = 403
    code = "forbidden"


class EventNotAllowed(TransitionError):
    """The lifecycle does not allow this event from the case's state."""

    status = 409
    code = "event_not_allowed"


class VersionConflict(TransitionError):
    """Someone else changed the case first (optimistic locking)."""

    status = 409
    code = "version_conflict"


class PayloadInvalid(TransitionError):
    """A field of the request is missing or wrong; ``field`` names it."""

    status = 422
    code = "invalid"

    def __init__(self, field: str, reason: str, *, reason_zh: str = "") -> None:
        super().__init__(f"{field}: {reason}", field=field, reason=reason)
        self.field = field
        self.reason = reason
        #: The reason in Chinese, for the case page (the API answers in English, as always).
        self.reason_zh = reason_zh or reason
